"""Details asked of records and results beyond stage and severity: daily doses per kg of body
weight and as prednisolone equivalents, regular use, age at onset, body sites, cytological
and pathological confirmation, allergy reaction severity, and viral loads read as detected or
not. Each: TRUE / FALSE / UNKNOWN with its missing-data case, compile errors, FHIR mapping,
and a print -> parse round trip of generated rule objects.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from eligo import rules as r
from eligo.dose_equivalents import GLUCOCORTICOIDS, REFERENCES
from eligo.fhir import patient_from_fhir
from eligo.parse import parse_protocol
from eligo.printer import expr_text
from eligo.source import Source
from test_expressiveness import ago, check, coded, compile_error

STEROIDS = "[atc H02AB*]"


def steroid(atc: str, dose: float | None, unit: str = "mg", **fields: Any) -> dict[str, Any]:
    record = coded(atc, "atc", start=ago(30), status="active", **fields)
    if dose is not None:
        record.update(daily_dose=dose, dose_unit=unit)
    return record


def weight(kg: float, days_ago: int = 3) -> dict[str, Any]:
    return coded("29463-7", "loinc", value=kg, unit="kg", date=ago(days_ago))


# ---- equivalent doses -----------------------------------------------------------------------

def test_equivalence_table_is_the_bnf_one() -> None:
    """BNF "Equivalent anti-inflammatory doses of corticosteroids": each equals 5 mg of
    prednisolone (prednisone mg for mg, Meikle & Tyler 1977)."""
    assert dict(GLUCOCORTICOIDS.values()) == {
        "betamethasone": 0.75, "dexamethasone": 0.75, "methylprednisolone": 4.0,
        "prednisolone": 5.0, "prednisone": 5.0, "triamcinolone": 4.0, "hydrocortisone": 20.0,
        "cortisone": 25.0, "deflazacort": 6.0}
    assert all(code.startswith("H02AB") for code in GLUCOCORTICOIDS)
    assert REFERENCES["prednisolone"] == 5.0


@pytest.mark.parametrize(("atc", "dose", "truth"), [
    ("H02AB06", 20, "true"),     # prednisolone 20 mg
    ("H02AB06", 19.5, "false"),
    ("H02AB02", 3, "true"),      # dexamethasone 3 mg = 20 mg prednisolone
    ("H02AB02", 2.9, "false"),   # = 19.3 mg
    ("H02AB09", 80, "true"),     # hydrocortisone 80 mg = 20 mg
    ("H02AB09", 60, "false"),    # = 15 mg
    ("H02AB04", 16, "true"),     # methylprednisolone 16 mg = 20 mg
])
def test_prednisolone_equivalent_dose(atc: str, dose: float, truth: str) -> None:
    c = check(f"taking medication {STEROIDS} with daily dose >= 20 mg prednisolone equivalent",
              {"medications": [steroid(atc, dose)]}, truth)
    assert "prednisolone" in c.reason


def test_equivalent_of_a_drug_without_one_is_unknown() -> None:
    """Budesonide (H02AB16) is in H02AB but its systemic equivalence is not tabulated."""
    c = check(f"taking medication {STEROIDS} with daily dose >= 20 mg prednisolone equivalent",
              {"medications": [steroid("H02AB16", 9)]}, "unknown")
    assert "no prednisolone-equivalent dose is known" in c.reason
    assert c.missing == ("the medication's prednisolone-equivalent dose",)


def test_dose_per_kg_uses_latest_body_weight() -> None:
    rule = (f"taking medication {STEROIDS} with daily dose >= 0.5 mg/kg prednisolone "
            "equivalent")
    c = check(rule, {"medications": [steroid("H02AB07", 40)],
                     "observations": [weight(90, 200), weight(70)]}, "true")
    assert "/ 70 kg" in c.reason
    check(rule, {"medications": [steroid("H02AB07", 30)], "observations": [weight(70)]},
          "false")
    # Dexamethasone 6 mg = 40 mg prednisolone; at 100 kg 0.4 mg/kg.
    check(rule, {"medications": [steroid("H02AB02", 6)], "observations": [weight(100)]},
          "false")


def test_dose_per_kg_without_weight_is_unknown() -> None:
    rule = f"taking medication {STEROIDS} with daily dose >= 0.5 mg/kg"
    c = check(rule, {"medications": [steroid("H02AB06", 40)]}, "unknown")
    assert c.missing
    assert "weight" in c.missing[0].lower()
    stale = check(rule, {"medications": [steroid("H02AB06", 40)],
                         "observations": [weight(70, 400)]}, "unknown")
    assert "weight" in stale.reason.lower()


def test_dose_not_recorded_is_unknown_and_other_drugs_do_not_count() -> None:
    rule = f"taking medication {STEROIDS} with daily dose >= 20 mg prednisolone equivalent"
    check(rule, {"medications": [steroid("H02AB06", None)]}, "unknown")
    check(rule, {"medications": [steroid("C09AA05", 20)]}, "false")


def test_dose_in_units_is_not_compared_with_mass() -> None:
    c = check("taking medication [atc A11CC05] with daily dose > 25 ug",
              {"medications": [coded("A11CC05", "atc", start=ago(5), daily_dose=2000,
                                     dose_unit="[IU]")]}, "unknown")
    assert "cannot be compared" in c.reason


# ---- regular use ----------------------------------------------------------------------------

@pytest.mark.parametrize(("as_needed", "truth"), [(False, "true"), (True, "false"),
                                                  (None, "unknown")])
def test_regularly(as_needed: bool | None, truth: str) -> None:
    fields = {} if as_needed is None else {"as_needed": as_needed}
    c = check(f"taking medication {STEROIDS} regularly",
              {"medications": [steroid("H02AB06", 10, **fields)]}, truth)
    if truth == "unknown":
        assert c.missing == ("whether the medication is taken regularly",)


def test_regularly_with_dose_needs_both() -> None:
    rule = f"taking medication {STEROIDS} regularly with daily dose >= 10 mg"
    check(rule, {"medications": [steroid("H02AB06", 5, as_needed=False),
                                 steroid("H02AB07", 20, as_needed=True)]}, "false")
    check(rule, {"medications": [steroid("H02AB06", 15, as_needed=False)]}, "true")


# ---- age at onset ---------------------------------------------------------------------------

@pytest.mark.parametrize(("onset", "truth"), [
    ("2008-03-01", "true"),    # 18th birthday
    ("2008-02-29", "false"),   # the day before: 17
    ("2020-01-01", "true"),
])
def test_onset_at_age(onset: str, truth: str) -> None:
    patient = {"birth_date": "1990-03-01",
               "conditions": [coded("M45.9", onset=onset)]}
    c = check("has condition [icd10cm M45*] with onset at age >= 18 years", patient, truth)
    assert "age at onset" in c.reason


def test_onset_at_age_in_months_and_missing_data() -> None:
    check("has condition [icd10cm M45*] with onset at age < 6 months",
          {"birth_date": "2024-01-10", "conditions": [coded("M45.9", onset="2024-05-01")]},
          "true")
    c = check("has condition [icd10cm M45*] with onset at age >= 18 years",
              {"birth_date": "1990-03-01", "conditions": [coded("M45.9")]}, "unknown")
    assert c.missing == ("the condition's onset date",)
    c = check("has condition [icd10cm M45*] with onset at age >= 18 years",
              {"conditions": [coded("M45.9", onset="2010-01-01")]}, "unknown")
    assert c.missing == ("birth date",)


# ---- body site ------------------------------------------------------------------------------

SHOULDER_ELBOW_WRIST = "[snomed 16982005, 127949000, 8205005]"


def test_procedure_body_site() -> None:
    rule = f"had procedure [cpt 97110] within 6 months with body site {SHOULDER_ELBOW_WRIST}"
    physio = coded("97110", "cpt", date=ago(30))
    check(rule, {"procedures": [{**physio, "body_sites": [
        {"system": "snomed", "code": "127949000"}]}]}, "true")
    c = check(rule, {"procedures": [{**physio, "body_sites": [
        {"system": "snomed", "code": "344001"}]}]}, "false")  # ankle region
    assert "not in" in c.reason
    c = check(rule, {"procedures": [physio]}, "unknown")
    assert c.missing == ("the body site",)
    check(rule, {"procedures": [{**coded("97110", "cpt", date=ago(300)), "body_sites": [
        {"system": "snomed", "code": "127949000"}]}]}, "false")


def test_condition_body_site() -> None:
    check("has condition [icd10cm M75*] with body site [snomed 16982005]",
          {"conditions": [{**coded("M75.10"), "body_sites": [
              {"system": "snomed", "code": "16982005"}]}]}, "true")


# ---- confirmation ---------------------------------------------------------------------------

@pytest.mark.parametrize(("rule", "basis", "truth"), [
    ("confirmed by cytology", "cytology", "true"),
    ("confirmed by cytology", "histology", "false"),
    ("confirmed by pathology", "histology", "true"),
    ("confirmed by pathology", "cytology", "true"),
    ("confirmed by pathology", "imaging", "false"),
    ("confirmed by pathology", None, "unknown"),
    ("confirmed by histology", "cytology", "false"),
])
def test_confirmation(rule: str, basis: str | None, truth: str) -> None:
    condition = coded("C34.90", onset=ago(60))
    if basis is not None:
        condition["diagnosis_basis"] = basis
    c = check(f"has condition [icd10cm C34*] {rule}", {"conditions": [condition]}, truth)
    if truth == "unknown":
        assert c.missing == ("whether the diagnosis was confirmed by histology or cytology",)


# ---- allergy severity -----------------------------------------------------------------------

VACCINES = "[atc J07BN01, J07AL*]"


def vaccine_allergy(**fields: Any) -> dict[str, Any]:
    return {**coded("J07AL02", "atc", clinical_status="active", type="allergy"), **fields}


@pytest.mark.parametrize(("severity", "truth"), [("severe", "true"), ("moderate", "false"),
                                                 (None, "unknown")])
def test_allergy_severity(severity: str | None, truth: str) -> None:
    allergy = vaccine_allergy(**({"severity": severity} if severity else {}))
    c = check(f"allergic to {VACCINES} with severity = severe", {"allergies": [allergy]},
              truth)
    if truth == "unknown":
        assert "severity" in c.reason
        assert c.missing == ("the reaction's severity of the allergy to ATC J07AL02",)


def test_allergy_reaction_or_severity() -> None:
    """A severe reaction, e.g. anaphylaxis: either one is enough."""
    rule = (f"allergic to {VACCINES} with severity = severe or allergic to {VACCINES} with "
            "reaction [snomed 39579001]")
    anaphylaxis = [{"system": "snomed", "code": "39579001"}]
    check(rule, {"allergies": [vaccine_allergy(reactions=anaphylaxis, severity="moderate")]},
          "true")
    check(rule, {"allergies": [vaccine_allergy(severity="mild", reactions=[
        {"system": "snomed", "code": "271807003"}])]}, "false")


def test_allergy_reaction_and_severity_both_asked() -> None:
    rule = f"allergic to {VACCINES} with reaction [snomed 39579001] with severity >= moderate"
    anaphylaxis = [{"system": "snomed", "code": "39579001"}]
    check(rule, {"allergies": [vaccine_allergy(reactions=anaphylaxis, severity="severe")]},
          "true")
    c = check(rule, {"allergies": [vaccine_allergy(severity="severe")]}, "unknown")
    assert "reaction" in c.reason
    check(rule, {"allergies": [vaccine_allergy(reactions=anaphylaxis, severity="mild")]},
          "false")


# ---- viral loads read as detected -----------------------------------------------------------

def hbv(value: object, days_ago: int = 10, **fields: Any) -> dict[str, Any]:
    return coded("11258-1", "loinc", value=value, unit="[IU]/mL", date=ago(days_ago), **fields)


@pytest.mark.parametrize(("result", "truth"), [
    (hbv(1200.0), "true"),
    (hbv(0.0), "false"),
    (hbv("Not detected"), "false"),
    (hbv("Detected"), "true"),
    (hbv("<20", interpretation="positive"), "true"),     # detected below quantitation
    (hbv("<20", interpretation="negative"), "false"),
    (hbv("<20"), "unknown"),
    (hbv("<20", interpretation="indeterminate"), "unknown"),
])
def test_viral_load_is_positive(result: dict[str, Any], truth: str) -> None:
    c = check("hbv_dna is positive", {"observations": [result]}, truth)
    if truth == "unknown":
        assert c.missing


def test_viral_load_negative_and_windows() -> None:
    check("hbv_dna is negative", {"observations": [hbv("Not detected")]}, "true")
    check("hbv_dna is detected between 6 and 1200 months ago",
          {"observations": [hbv(300.0, days_ago=400), hbv("Not detected")]}, "true")
    c = check("hbv_dna is positive", {"observations": [hbv(300.0, days_ago=400)]}, "unknown")
    assert c.missing


def test_other_quantities_are_not_positive_or_negative() -> None:
    assert "not a positive/negative result" in compile_error("bilirubin is positive")


# ---- compile errors -------------------------------------------------------------------------

@pytest.mark.parametrize(("rule", "said"), [
    (f"taking medication {STEROIDS} with daily dose >= 1 mg predisolone equivalent",
     "did you mean `prednisolone`?"),
    (f"taking medication {STEROIDS} with daily dose >= 1 mL/kg", "not a unit of mass"),
    ("has condition [icd10cm C34*] regularly", "regular use describes a medication"),
    (f"taking medication {STEROIDS} with body site [snomed 16982005]",
     "a body site describes a procedure or a condition"),
    ("had procedure [cpt 97110] with onset at age >= 18 years", "describe a condition"),
    ("has condition [icd10cm M45*] with onset at age >= 18 weeks", "years or months"),
])
def test_compile_errors(rule: str, said: str) -> None:
    assert said in compile_error(rule)


# ---- FHIR -----------------------------------------------------------------------------------

def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female",
               "birthDate": "1980-01-01"}
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": res} for res in (patient, *resources)]}


def test_fhir_details() -> None:
    patient_ref = {"reference": "Patient/p1"}
    snomed = "http://snomed.info/sct"
    bundle = _bundle(
        {"resourceType": "MedicationStatement", "id": "m1", "status": "active",
         "subject": patient_ref, "effectiveDateTime": "2025-01-01",
         "medicationCodeableConcept": {"coding": [
             {"system": "http://www.whocc.no/atc", "code": "H02AB06"}]},
         "dosage": [{"asNeededBoolean": False, "timing": {"repeat": {
             "frequency": 1, "period": 1, "periodUnit": "d"}},
             "doseAndRate": [{"doseQuantity": {"value": 20, "unit": "mg",
                                               "system": "http://unitsofmeasure.org",
                                               "code": "mg"}}]}]},
        {"resourceType": "Procedure", "id": "pr1", "status": "completed",
         "subject": patient_ref, "performedDateTime": "2025-03-01",
         "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "97110"}]},
         "bodySite": [{"coding": [{"system": snomed, "code": "16982005"}]}]},
        {"resourceType": "AllergyIntolerance", "id": "a1", "patient": patient_ref,
         "clinicalStatus": {"coding": [{
             "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
             "code": "active"}]},
         "code": {"coding": [{"system": snomed, "code": "2309006"}]},
         "reaction": [{"manifestation": [{"coding": [{"system": snomed, "code": "39579001"}]}],
                       "severity": "moderate"},
                      {"manifestation": [{"coding": [{"system": snomed,
                                                      "code": "271807003"}]}],
                       "severity": "severe"}]},
        {"resourceType": "Observation", "id": "o1", "status": "final",
         "subject": patient_ref, "effectiveDateTime": "2025-05-01",
         "code": {"coding": [{"system": "http://loinc.org", "code": "11258-1"}]},
         "valueQuantity": {"value": 20, "comparator": "<", "unit": "IU/mL",
                           "system": "http://unitsofmeasure.org", "code": "[IU]/mL"},
         "interpretation": [{"coding": [{
             "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
             "code": "DET"}]}]},
    )
    patient = patient_from_fhir(json.loads(json.dumps(bundle)))
    assert patient.medications[0].as_needed is False
    assert patient.procedures[0].body_sites[0].code == "16982005"
    assert patient.allergies[0].severity == "severe"
    assert patient.observations[0].interpretation == "positive"
    assert patient.observations[0].value == "<20"


# ---- print -> parse round trip ----------------------------------------------------------------

targets = st.sampled_from([r.ValueSetRef("steroids"),
                           r.InlineCodes((r.CodeRef("snomed", "16982005"),))])
comparators = st.sampled_from(["<", "<=", ">", ">=", "=", "!="])
condition_details = st.lists(st.one_of(
    st.sampled_from(["histology", "cytology", "pathology"]).map(r.HistologyConfirmed),
    st.builds(r.OnsetAgeTest, comparators, st.integers(0, 90),
              st.sampled_from(["years", "months"])),
    targets.map(r.BodySiteTest)), min_size=1, max_size=3)
medication_details = st.lists(st.one_of(
    st.builds(r.DoseTest, comparators, st.decimals(0, 100, places=2),
              st.sampled_from(["mg", "mg/kg", "ug", "g/kg/d"]),
              st.sampled_from([None, "prednisolone", "dexamethasone"])),
    st.just(r.RegularUse())), min_size=1, max_size=3)
rules_with_details = st.one_of(
    st.builds(r.ResearchQuery, st.just("enrolled"), st.sampled_from(
        [None, r.Window(30, "days"), r.Ever()]), st.booleans()),
    st.builds(lambda d: r.RecordQuery("condition", r.ValueSetRef("nsclc"), details=tuple(d)),
              condition_details),
    st.builds(lambda d: r.RecordQuery("medication", r.ValueSetRef("steroids"),
                                      details=tuple(d)), medication_details),
    st.builds(lambda t: r.RecordQuery("procedure", r.ValueSetRef("physio"),
                                      details=(r.BodySiteTest(t),)), targets),
    st.builds(r.AllergyQuery, st.sampled_from(["allergic", "intolerant"]), targets, st.none(),
              st.one_of(st.none(), targets),
              st.one_of(st.none(), st.builds(r.SeverityTest, comparators, st.sampled_from(
                  ["mild", "moderate", "severe"]).map(lambda x: (x,))))),
)


@given(rules_with_details)
def test_round_trip(rule: r.Expr) -> None:
    text = expr_text(rule)
    parsed, diagnostics = parse_protocol(Source(
        f'trial T\ninclusion\n  X1 "x": {text}\nexclusion\n  E1 "y": pregnant\n',
        "generated.elig"))
    assert not diagnostics, text
    assert parsed.inclusion[0].expr == rule, text
    assert expr_text(parsed.inclusion[0].expr) == text


# ---- alcohol in grams a day ------------------------------------------------------------------

@pytest.mark.parametrize(("drinks", "truth"), [(4, "false"), (4.3, "true"), (5, "true")])
def test_alcohol_grams_per_day_from_standard_drinks(drinks: float, truth: str) -> None:
    """LOINC 74013-4 counts 14 g standard drinks: 60 g/d is 4.29 drinks a day."""
    record = coded("74013-4", "loinc", value=drinks, unit="{drinks}/d", date=ago(20))
    c = check("alcohol_drinks_per_day >= 60 g/d", {"observations": [record]}, truth)
    assert "60 g/d" in c.reason


def test_rxnorm_prednisone_tablets_have_equivalents() -> None:
    rule = ("taking medication systemic_corticosteroids with daily dose >= 20 mg prednisolone "
            "equivalent")
    tablets = coded("312617", "rxnorm", start=ago(10), daily_dose=20, dose_unit="mg")
    c = check(rule, {"medications": [tablets]}, "true", extra="use systemic_corticosteroids\n")
    assert "prednisone" in c.reason


# ---- interventional studies -------------------------------------------------------------------

def study(study_type: str | None, **fields: Any) -> dict[str, Any]:
    record = {"study": "NCT09999999", "status": "on-study", "start": ago(40), **fields}
    if study_type is not None:
        record["study_type"] = study_type
    return record


@pytest.mark.parametrize(("record", "truth"), [
    (study("interventional"), "true"),
    (study(None, status="on-study-intervention"), "true"),
    (study("observational"), "unknown"),   # open world: another study may be unrecorded
    (study(None), "unknown"),
])
def test_enrolled_in_another_interventional_study(record: dict[str, Any], truth: str) -> None:
    c = check("enrolled in another interventional study", {"research": [record]}, truth)
    if truth == "unknown":
        assert c.missing == (
            "ask the patient whether they took part in another interventional study",)


def test_interventional_study_closed_world() -> None:
    rule = "enrolled in another interventional study within 30 days"
    check(rule, {"research": [study("observational")]}, "false", world=" [closed world]")
    check(rule, {"research": [study(None)]}, "unknown", world=" [closed world]")
    check(rule, {"research": [study("interventional", end=ago(35), status="off-study")]},
          "false", world=" [closed world]")


def test_fhir_study_type_from_category() -> None:
    bundle = _bundle(
        {"resourceType": "ResearchStudy", "id": "s1", "status": "active",
         "identifier": [{"system": "https://clinicaltrials.gov", "value": "NCT01234567"}],
         "category": [{"text": "Interventional"}]},
        {"resourceType": "ResearchSubject", "id": "rs1", "status": "on-study",
         "study": {"reference": "ResearchStudy/s1"},
         "individual": {"reference": "Patient/p1"}})
    patient = patient_from_fhir(bundle)
    assert patient.research[0].study_type == "interventional"


# ---- library entries for specimen and eye ------------------------------------------------------

def test_upper_respiratory_pcr_is_its_own_entry() -> None:
    nasopharynx = coded("94759-8", "loinc", value="Detected", date=ago(2))
    check("sars_cov_2_rna_upper_respiratory is positive", {"observations": [nasopharynx]},
          "true")
    check("sars_cov_2_rna is positive", {"observations": [nasopharynx]}, "unknown")
    check("any of [sars_cov_2_rna, sars_cov_2_rna_upper_respiratory] is positive",
          {"observations": [nasopharynx]}, "true")


@pytest.mark.parametrize(("right", "left", "truth"), [
    (0.05, 1.0, "true"), (0.1, 0.8, "false"), (None, 0.5, "unknown"), (None, 0.05, "true")])
def test_best_corrected_visual_acuity_either_eye(right: float | None, left: float,
                                                 truth: str) -> None:
    results = [coded("65897-1", "loinc", value=left, date=ago(10))]
    if right is not None:
        results.append(coded("65893-0", "loinc", value=right, date=ago(10)))
    check("bcva_right_eye < 0.1 or bcva_left_eye < 0.1", {"observations": results}, truth)


# ---- unit changes never change a verdict -------------------------------------------------------

@settings(deadline=None, max_examples=40)  # each example compiles and screens four times
@example(45, ("g", 1000), 60, ("g", 0.001))  # 4.5 mg dexamethasone at 60 kg: exactly 0.5 mg/kg
@example(45, ("ug", 0.001), 60, ("kg", 1.0))
@given(st.integers(1, 4000), st.sampled_from([("mg", 1), ("g", 1000), ("ug", 0.001)]),
       st.integers(30, 150), st.sampled_from([("kg", 1.0), ("g", 0.001)]))
def test_dose_per_kg_is_unit_free(dose_mg_tenths: int, dose_unit: tuple[str, float],
                                  kg: int, weight_unit: tuple[str, float]) -> None:
    """The same dose and weight in other units of mass give the same truth."""
    rule = (f"taking medication {STEROIDS} with daily dose >= 0.5 mg/kg prednisolone "
            "equivalent")
    dose = dose_mg_tenths / 10
    truths = set()
    for unit, per_mg in (("mg", 1), dose_unit):
        for w_unit, per_kg in (("kg", 1.0), weight_unit):
            fields = {"medications": [steroid("H02AB02", dose / per_mg, unit)],
                      "observations": [coded("29463-7", "loinc", value=kg / per_kg,
                                             unit=w_unit, date=ago(3))]}
            expected = "true" if dose * 5 / 0.75 / kg >= 0.5 - 1e-9 else "false"
            truths.add(check(rule, fields, expected).truth)
    assert len(truths) == 1
