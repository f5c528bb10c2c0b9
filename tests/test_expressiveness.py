"""Reproductive status, allergies, research participation, oncology, adverse events and
patient attributes: each construct's TRUE / FALSE / UNKNOWN cases, its missing-data case,
its compile errors, and a print -> parse round trip of generated rule objects.

Each test compiles a tiny protocol whose criterion X1 is the rule under test, screens a
patient, and checks the explained truth against the verdict-only and status-only paths.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eligo import Patient, ProtocolError, Screener
from eligo import rules as r
from eligo.compiler import compile_text
from eligo.parse import parse_protocol
from eligo.printer import expr_text, protocol_text
from eligo.result import CriterionResult, Status
from eligo.source import Source

AS_OF = date(2025, 6, 15)

DECLARATIONS = """
use sterilisation_procedures
valueset nsclc "Non-small cell lung cancer" = icd10cm C34*
valueset adenocarcinoma "Adenocarcinoma" = icdo3 8140/3
valueset penicillins "Penicillins" = atc J01C*
valueset anaphylaxis "Anaphylaxis" = snomed 39579001
valueset neuropathy "Peripheral neuropathy" = icd10cm G62.9
"""


def source(rule: str, *, settings: str = "", world: str = "", extra: str = "",
           trial: str = "NCT00000001") -> str:
    return (f'trial {trial} "Test"\n{settings}\n{DECLARATIONS}{extra}\ninclusion\n'
            f'  X1 "tested"{world}: {rule}\nexclusion\n'
            '  E0 "companion" [closed world]: has condition [icd10cm Z99.89]\n')


def check(rule: str, fields: dict[str, Any], truth: str, *, as_of: date = AS_OF,
          **options: Any) -> CriterionResult:
    """X1's explained result, after checking its truth and that the fast paths agree."""
    screener = Screener(compile_text(source(rule, **options)))
    patient = Patient.model_validate({"id": "p1", **fields})
    result = screener.screen(patient, as_of)
    c = result.criterion("X1")
    assert c.truth == truth, c.reason
    assert screener.statuses(patient, as_of)[0] is c.status
    assert screener.verdict(patient, as_of) is result.verdict
    if truth == "unknown":
        assert c.status is Status.UNKNOWN
        assert c.missing, "an UNKNOWN must say what would resolve it"
    else:
        assert c.missing == ()
    # Results capitalise the reason as a sentence; tests quote it mid-sentence.
    if c.reason[1:2].islower():
        return replace(c, reason=c.reason[:1].lower() + c.reason[1:])
    return c


def ago(days: int) -> str:
    return (AS_OF - timedelta(days=days)).isoformat()


def coded(code: str, system: str = "icd10cm", **fields: Any) -> dict[str, Any]:
    return {"codes": [{"system": system, "code": code}], **fields}


WOMAN = {"sex": "female", "birth_date": "1990-03-01"}
MAN = {"sex": "male", "birth_date": "1990-03-01"}


def compile_error(rule: str, **options: Any) -> str:
    with pytest.raises(ProtocolError) as caught:
        compile_text(source(rule, **options))
    return str(caught.value)


# ---- breastfeeding -------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "truth", "said"), [
    ({**WOMAN, "conditions": [coded("Z39.1", onset=ago(40))]}, "true", "lactation condition"),
    ({**WOMAN, "breastfeeding": {"status": "breastfeeding", "date": ago(100)}}, "true",
     "recorded as breastfeeding"),
    ({**WOMAN, "breastfeeding": {"status": "not_breastfeeding", "date": ago(10)}}, "false",
     "recorded as not breastfeeding"),
    ({**WOMAN, "breastfeeding": {"status": "not_breastfeeding", "date": ago(45)}}, "unknown",
     "older than 30 days"),
    ({**WOMAN, "breastfeeding": {"status": "breastfeeding"}}, "unknown", "has no date"),
    (MAN, "false", "does not apply"),
    ({"sex": "female", "birth_date": "1950-01-01"}, "false", "outside child-bearing age"),
    (WOMAN, "unknown", "not recorded"),
    ({}, "unknown", "not recorded"),
])
def test_breastfeeding(fields: dict[str, Any], truth: str, said: str) -> None:
    assert said in check("breastfeeding", fields, truth).reason


# ---- childbearing potential -----------------------------------------------------------------


@pytest.mark.parametrize(("fields", "truth", "said"), [
    (WOMAN, "true", "no sterilising procedure or documented menopause"),
    (MAN, "false", "does not apply"),
    ({**WOMAN, "procedures": [coded("58150", "cpt", date=ago(900))]}, "false",
     "permanently sterile"),
    ({**WOMAN, "conditions": [coded("Z90.710")]}, "false", "permanently sterile"),
    ({**WOMAN, "conditions": [coded("Z78.0", onset=ago(800))]}, "false", "postmenopausal"),
    ({**WOMAN, "conditions": [coded("Z78.0", onset=ago(100))]}, "unknown",
     "less than 12 months"),
    ({**WOMAN, "conditions": [coded("Z78.0", onset=ago(800),
                                    verification_status="refuted")]}, "true", "no sterilising"),
    ({**WOMAN, "procedures": [coded("58150", "cpt", status="not-done")]}, "true",
     "no sterilising"),
    ({"sex": "female", "birth_date": "1960-01-01"}, "false", "outside child-bearing age"),
    ({"sex": "female"}, "unknown", "no valid birth date"),
    ({"birth_date": "1990-03-01"}, "unknown", "sex is not recorded"),
])
def test_childbearing_potential(fields: dict[str, Any], truth: str, said: str) -> None:
    assert said in check("childbearing potential", fields, truth).reason


def test_childbearing_potential_open_world_does_not_infer_from_absence() -> None:
    c = check("childbearing potential", WOMAN, "unknown", world=" [open world]")
    assert "absence is not proof" in c.reason


def test_childbearing_potential_definition_is_overridable() -> None:
    own = "define childbearing_potential = sex = female and age between 12 and 30 years\n"
    check("childbearing potential", WOMAN, "true")  # aged 35: in the built-in 10-55 band
    assert "`childbearing_potential`" in check("childbearing potential", WOMAN, "false",
                                               extra=own).reason
    check("childbearing potential", {"sex": "female", "birth_date": "2000-01-01"}, "true",
          extra=own)


# ---- gestational age ----------------------------------------------------------------------


def ga(weeks: float, days_ago: int, unit: str = "wk") -> dict[str, Any]:
    return {"codes": [{"system": "loinc", "code": "11884-4"}], "value": weeks, "unit": unit,
            "date": ago(days_ago)}


def edd(day: date) -> dict[str, Any]:
    return {"codes": [{"system": "loinc", "code": "11778-8"}], "value": day.isoformat(),
            "date": ago(30)}


@pytest.mark.parametrize(("rule", "observations", "truth", "said"), [
    ("gestational age >= 22 weeks", [ga(20, 14)], "true", "22 weeks 0 days"),
    ("gestational age > 22 weeks", [ga(20, 14)], "false", "22 weeks 0 days"),
    ("gestational age >= 22 weeks", [ga(140, 14, "d")], "true", "22 weeks 0 days"),
    ("gestational age >= 20 weeks", [edd(AS_OF + timedelta(days=140))], "true",
     "20 weeks 0 days"),
    ("gestational age < 20 weeks", [edd(AS_OF + timedelta(days=141))], "true", "19 weeks 6 days"),
    ("gestational age >= 20 weeks", [ga(30, 200)], "unknown", "outdated"),
    ("gestational age >= 20 weeks", [ga(20, 10, "mo")], "unknown", "not weeks or days"),
    ("gestational age >= 20 weeks", [ga(12, 300), ga(20, 1)], "true", "from the record of"),
])
def test_gestational_age(rule: str, observations: list[dict[str, Any]], truth: str,
                         said: str) -> None:
    assert said in check(rule, {**WOMAN, "observations": observations}, truth).reason


def test_gestational_age_missing_is_unknown_and_not_pregnant_is_false() -> None:
    check("gestational age >= 20 weeks", WOMAN, "unknown")
    not_pregnant = {**WOMAN, "pregnancy": {"status": "not_pregnant", "date": ago(3)}}
    assert "does not apply" in check("gestational age >= 20 weeks", not_pregnant,
                                     "false").reason
    check("gestational age >= 20 weeks", MAN, "false")


def test_gestational_age_in_months_is_a_compile_error() -> None:
    assert "weeks or days" in compile_error("gestational age >= 5 months")


# ---- allergies ----------------------------------------------------------------------------

AMOXICILLIN = coded("J01CA04", "atc", category="medication", clinical_status="active")
NKA = coded("716186003", "snomed", clinical_status="active")
NKDA = coded("409137002", "snomed", clinical_status="active")


@pytest.mark.parametrize(("rule", "allergies", "truth", "said"), [
    ("allergic to penicillins", [AMOXICILLIN], "true", "is in value set `penicillins`"),
    ("allergic to penicillins", [{**AMOXICILLIN, "clinical_status": "resolved"}], "false",
     "no active allergy"),
    ("allergic to penicillins", [{**AMOXICILLIN, "verification_status": "refuted"}], "unknown",
     "no allergy information"),
    ("allergic to penicillins", [NKA], "false", "716186003"),
    ("allergic to penicillins", [], "unknown", "no allergy information"),
    ("allergic to penicillins", [{**AMOXICILLIN, "type": "intolerance"}], "false",
     "no active allergy"),
    ("intolerant to penicillins", [{**AMOXICILLIN, "type": "intolerance"}], "true",
     "intolerance to"),
    ("allergic to any drug", [AMOXICILLIN], "true", "any drug"),
    ("allergic to any drug", [NKDA], "false", "409137002"),
    ("allergic to any food", [NKA], "false", "716186003"),
    ("allergic to any food", [AMOXICILLIN], "false", "among 1 recorded allergy"),
    ("allergic to penicillins with reaction anaphylaxis",
     [{**AMOXICILLIN, "reactions": [{"system": "snomed", "code": "39579001"}]}], "true",
     "reaction SNOMED CT 39579001"),
    ("allergic to penicillins with reaction anaphylaxis",
     [{**AMOXICILLIN, "reactions": [{"system": "snomed", "code": "271807003"}]}], "false",
     "with a reaction in"),
    ("allergic to penicillins with reaction anaphylaxis", [AMOXICILLIN], "unknown",
     "reaction is not recorded"),
])
def test_allergies(rule: str, allergies: list[dict[str, Any]], truth: str, said: str) -> None:
    assert said in check(rule, {"allergies": allergies}, truth).reason


def test_allergy_absence_is_not_proof_in_an_open_world_criterion() -> None:
    check("allergic to penicillins", {"allergies": [NKDA]}, "false", world=" [open world]")
    c = check("allergic to any food", {"allergies": [AMOXICILLIN]}, "unknown",
              world=" [open world]")
    assert "absence is not proof" in c.reason


# ---- research participation -----------------------------------------------------------------


def study(nct: str = "NCT09999999", **fields: Any) -> dict[str, Any]:
    return {"study": nct, **fields}


@pytest.mark.parametrize(("rule", "research", "options", "truth", "said"), [
    ("enrolled in another study", [], {}, "unknown", "rarely recorded"),
    ("enrolled in another study", [], {"world": " [closed world]"}, "false", "no record of"),
    ("enrolled in another study", [],
     {"settings": "assume research participation recorded"}, "false", "no record of"),
    ("enrolled in another study", [study(status="on-study", start=ago(100))], {}, "true",
     "enrolled in NCT09999999"),
    ("enrolled in another study", [study("NCT00000001", status="on-study", start=ago(10))],
     {"world": " [closed world]"}, "false", "0 other studies"),
    ("enrolled in another study within 30 days",
     [study(status="off-study", start=ago(200), end=ago(60))], {"world": " [closed world]"},
     "false", "no record of"),
    ("enrolled in another study within 90 days",
     [study(status="off-study", start=ago(200), end=ago(60))], {}, "true", "enrolled in"),
    ("enrolled in another study within 90 days",
     [study(status="off-study", start=ago(200))], {}, "unknown", "do not show"),
    ("enrolled in another study", [study(status="screening", start=ago(5))],
     {"world": " [closed world]"}, "false", "no record of"),
    ("taking investigational product within 4 weeks",
     [study(status="on-study-intervention", start=ago(20), investigational_product=True)], {},
     "true", "received an investigational product"),
    ("taking investigational product within 4 weeks",
     [study(status="on-study", start=ago(20))], {}, "unknown", "do not show"),
    ("taking investigational product within 4 weeks",
     [study(status="off-study", start=ago(200), end=ago(100), investigational_product=True)],
     {"world": " [closed world]"}, "false", "no record of"),
])
def test_research_participation(rule: str, research: list[dict[str, Any]],
                                options: dict[str, Any], truth: str, said: str) -> None:
    assert said in check(rule, {"research": research}, truth, **options).reason


# ---- oncology: stage, TNM, histology ---------------------------------------------------------


def tumour(**fields: Any) -> dict[str, Any]:
    return {"conditions": [coded("C34.11", **{"onset": ago(100), "id": "c1", **fields})]}


@pytest.mark.parametrize(("rule", "fields", "truth", "said"), [
    ("has condition nsclc with stage >= III", tumour(stages=[{"group": "IIIA"}]), "true",
     "IIIA is >= III"),
    ("has condition nsclc with stage > III", tumour(stages=[{"group": "IIIC"}]), "false",
     "is not > III"),
    ("has condition nsclc with stage >= III", tumour(stages=[{"group": "Stage IIb"}]),
     "false", "is not >= III"),
    ("has condition nsclc with stage >= IIIB", tumour(stages=[{"group": "III"}]), "unknown",
     "may or may not be"),
    ("has condition nsclc with stage in [IIIB, IIIC, IV]", tumour(stages=[{"group": "IVA"}]),
     "true", "in [IIIB, IIIC, IV]"),
    ("has condition nsclc with stage >= III", tumour(), "unknown", "no stage recorded"),
    ("has condition nsclc with stage >= III", {"conditions": []}, "false", "no condition in"),
    ("has condition nsclc with stage >= III",
     tumour(stages=[{"group": "II", "date": ago(90)}, {"group": "IV", "date": ago(10)}]),
     "true", "IV"),
    ("has condition nsclc with clinical T in [T3, T4]",
     tumour(stages=[{"t": "cT3", "n": "cN0"}]), "true", "clinical T cT3"),
    ("has condition nsclc with pathological N >= N2",
     tumour(stages=[{"t": "cT3", "n": "cN2"}]), "unknown", "no pathological N recorded"),
    ("has condition nsclc with pathological N >= N2",
     tumour(stages=[{"basis": "pathological", "n": "N1mi"}]), "false", "is not >= N2"),
    ("has condition nsclc with M = M1", tumour(stages=[{"m": "pM1b"}]), "true", "is = M1"),
    ("has condition nsclc with T < T2", tumour(stages=[{"t": "TX"}]), "unknown",
     "cannot be compared"),
    ("has condition nsclc with histology adenocarcinoma",
     tumour(morphology=[{"system": "icdo3", "code": "8140/3"}]), "true", "histology 8140/3"),
    ("has condition nsclc with histology adenocarcinoma",
     tumour(morphology=[{"system": "icdo3", "code": "8070/3"}]), "false", "is not in"),
    ("has condition nsclc with histology adenocarcinoma", tumour(), "unknown",
     "histology not recorded"),
    ("has condition nsclc confirmed by histology", tumour(diagnosis_basis="histology"), "true",
     "confirmed by histology"),
    ("has condition nsclc confirmed by histology", tumour(diagnosis_basis="imaging"), "false",
     "diagnosed by imaging"),
    ("has condition nsclc confirmed by histology", tumour(), "unknown", "not recorded"),
    ("has condition nsclc with stage >= III confirmed by histology",
     tumour(stages=[{"group": "IIIB"}], diagnosis_basis="cytology"), "false", "cytology"),
    ("has condition nsclc with stage >= III",
     tumour(stages=[{"group": "IV"}], abatement=ago(5)), "false", "no condition in"),
    ("has history of condition nsclc with stage >= III",
     tumour(stages=[{"group": "IV"}], abatement=ago(5)), "true", "IV is >= III"),
])
def test_tumour_qualifiers(rule: str, fields: dict[str, Any], truth: str, said: str) -> None:
    assert said in check(rule, fields, truth).reason


@pytest.mark.parametrize(("rule", "said"), [
    ("has condition nsclc with stage >= IIIE", "`IIIE` is not a stage group"),
    ("has condition nsclc with T in [T5]", "`T5` is not a T category"),
    ("has condition nsclc with N = NX", "cannot be assessed"),
    ("taking medication penicillins with stage >= II", "stage, histology, severity and onset "
     "describe a condition"),
])
def test_tumour_qualifier_compile_errors(rule: str, said: str) -> None:
    assert said in compile_error(rule)


# ---- biomarkers ------------------------------------------------------------------------------


def marker(gene: str, alteration: str | None = None, result: str | None = "positive",
           days_ago: int = 30, **fields: Any) -> dict[str, Any]:
    return {"gene": gene, "alteration": alteration, "result": result, "date": ago(days_ago),
            **fields}


@pytest.mark.parametrize(("rule", "markers", "truth", "said"), [
    ("biomarker EGFR is positive", [marker("EGFR", "L858R")], "true", "EGFR L858R"),
    ("biomarker EGFR is negative", [marker("EGFR", "L858R")], "false", "EGFR L858R"),
    ("biomarker EGFR is positive", [marker("EGFR", None, "negative")], "false", "negative"),
    ("biomarker EGFR is negative", [marker("EGFR", None, "negative")], "true", "negative"),
    ("biomarker EGFR is positive", [marker("EGFR", "T790M", "negative")], "unknown",
     "only some EGFR alterations"),
    ("biomarker EGFR \"exon 19 deletion\" is positive", [marker("EGFR", "Exon-19 deletion")],
     "true", "is positive"),
    ("biomarker EGFR \"exon 19 deletion\" is positive", [marker("EGFR", "L858R")], "unknown",
     "was not tested"),
    ("biomarker EGFR \"exon 19 deletion\" is positive", [marker("EGFR", None, "negative")],
     "false", "negative for the gene as a whole"),
    ("biomarker EGFR \"exon 19 deletion\" is positive", [marker("EGFR", None, "positive")],
     "unknown", "was not tested"),
    ("biomarker ALK rearrangement is positive",
     [marker("ALK", "rearrangement", "positive", 100),
      marker("ALK", "rearrangement", "negative", 10)], "false", "is negative"),
    ("biomarker ALK is positive", [marker("ALK", None, "indeterminate")], "unknown",
     "indeterminate"),
    ("biomarker HER2 is positive", [marker("ERBB2", None, "positive")], "true", "ERBB2"),
    ("biomarker EGFR is positive", [], "unknown", "no EGFR result"),
    ("biomarker EGFR is positive within 30 days", [marker("EGFR", "L858R", days_ago=60)],
     "unknown", "no EGFR result within the last 30 days"),
    ("biomarker PD-L1 TPS >= 50 %", [marker("CD274", None, None, measure="TPS", value=60,
                                            unit="%")], "true", "meets"),
    ("biomarker PD-L1 TPS >= 50 %", [marker("PD-L1", None, None, measure="TPS", value=49,
                                            unit="%")], "false", "does not meet"),
    ("biomarker PD-L1 CPS >= 10", [marker("PD-L1", None, None, measure="TPS", value=60,
                                          unit="%")], "unknown", "no PD-L1 CPS result"),
    ("biomarker PD-L1 TPS >= 50 %", [marker("PD-L1", None, None, measure="TPS", value=60,
                                            unit="{score}")], "unknown", "not %"),
])
def test_biomarkers(rule: str, markers: list[dict[str, Any]], truth: str, said: str) -> None:
    assert said in check(rule, {"biomarkers": markers}, truth).reason


def test_biomarker_compile_errors() -> None:
    assert "positive or negative, not `detected`" in compile_error(
        "biomarker EGFR is detected")
    assert "compared with a number" in compile_error("biomarker PD-L1 TPS >= high")


# ---- adverse events --------------------------------------------------------------------------


def event(grade: int | None, days_ago: int = 40, **fields: Any) -> dict[str, Any]:
    return {"id": "ae1", **coded("G62.9", onset=ago(days_ago), grade=grade, **fields)}


@pytest.mark.parametrize(("rule", "events", "truth", "said"), [
    ("has adverse event neuropathy with grade >= 3", [event(3)], "true", "grade 3"),
    ("has adverse event neuropathy with grade >= 3", [event(2)], "false", "no adverse event"),
    ("has adverse event neuropathy with grade >= 3", [event(None)], "unknown",
     "grade is not recorded"),
    ("has adverse event neuropathy", [event(None)], "true", "G62.9"),
    ("has adverse event with grade >= 3 within 30 days", [event(4, 40, resolved=ago(35))],
     "false", "within the last 30 days"),
    ("has adverse event with grade >= 3 within 30 days", [event(4, 40)], "true", "grade 4"),
    ("has adverse event neuropathy", [], "false", "among 0 adverse events"),
    ("adverse events recovered to grade <= 1", [event(3, current_grade=1, assessed=ago(5))],
     "true", "now at grade <= 1"),
    ("adverse events recovered to grade <= 1", [event(3, current_grade=2)], "false",
     "at grade 2"),
    ("adverse events recovered to grade <= 1", [event(3, resolved=ago(3))], "true",
     "now at grade <= 1"),
    ("adverse events recovered to grade <= 1", [event(3)], "unknown",
     "current grade of ICD-10-CM G62.9 is not recorded"),
    ("adverse events recovered to grade <= 1", [event(1)], "true", "now at grade <= 1"),
    ("adverse events recovered to grade <= 1", [], "true", "no adverse event on record"),
    ("adverse events neuropathy recovered to grade <= 1",
     [{**event(3, current_grade=3), "codes": [{"system": "icd10cm", "code": "R11.0"}]}],
     "true", "no adverse event in"),
])
def test_adverse_events(rule: str, events: list[dict[str, Any]], truth: str, said: str) -> None:
    assert said in check(rule, {"adverse_events": events}, truth).reason


def test_adverse_event_grade_out_of_range_is_a_compile_error() -> None:
    assert "CTCAE grades run from 1 to 5, not 6" in compile_error(
        "has adverse event with grade >= 6")
    assert "from 0 to 5, not 7" in compile_error("adverse events recovered to grade <= 7")


# ---- languages and places ---------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "languages", "truth"), [
    ("speaks english", ["en-US"], "true"),
    ("speaks en", ["eng"], "true"),
    ("speaks spanish", ["en", "es-MX"], "true"),
    ("speaks spanish", ["en"], "false"),
    ("speaks spanish", [], "unknown"),
])
def test_speaks(rule: str, languages: list[str], truth: str) -> None:
    check(rule, {"languages": languages}, truth)


@pytest.mark.parametrize(("rule", "addresses", "truth", "said"), [
    ('resides in country "US"', [{"country": "US", "region": "US-CA"}], "true", "United States"),
    ('resides in country "US"', [{"country": "GB"}], "false", "not United States"),
    ('resides in region "US-CA"', [{"country": "US", "region": "US-CA"}], "true", "California"),
    ('resides in region "US-CA"', [{"country": "US", "region": "US-NY"}], "false",
     "lives in US-NY"),
    ('resides in region "US-CA"', [{"country": "US"}], "unknown", "not the region"),
    ('resides in region "US-CA"', [{"country": "GB"}], "false", "not California"),
    ('resides in country "US"', [], "unknown", "no address"),
    ('resides in country "US"', [{"country": "US", "end": "2020-01-01"},
                                 {"country": "GH", "start": "2020-01-02"}], "false",
     "lives in GH"),
    ('resides in country "US"', [{"country": "US", "end": "2020-01-01"}], "unknown",
     "no recorded address is valid"),
])
def test_resides_in(rule: str, addresses: list[dict[str, Any]], truth: str, said: str) -> None:
    assert said in check(rule, {"addresses": addresses}, truth).reason


@pytest.mark.parametrize(("rule", "said"), [
    ("speaks englsh", "did you mean `english`?"),
    ("speaks klingonese", "unknown language"),
    ('resides in country "Ghana"', 'Ghana is \\"GH\\"'),
    ('resides in country "XX"', "not an ISO 3166-1"),
    ('resides in region "GH-XX"', "not an ISO 3166-2 region code"),
])
def test_attribute_compile_errors(rule: str, said: str) -> None:
    assert said.replace("\\", "") in compile_error(rule)


# ---- encounters -------------------------------------------------------------------------------


def stay(setting: str, start: int, end: int | None = None, **fields: Any) -> dict[str, Any]:
    return {"id": "enc1", "setting": setting, "start": ago(start),
            **({"end": ago(end)} if end is not None else {}), **fields}


@pytest.mark.parametrize(("rule", "encounters", "truth", "said"), [
    ("encounter inpatient", [stay("inpatient", 3)], "true", "hospital stay from"),
    ("encounter inpatient", [stay("intensive_care", 3)], "true", "ongoing"),
    ("encounter inpatient", [stay("inpatient", 30, 20)], "false", "going on at the as-of date"),
    ("encounter inpatient within 30 days", [stay("inpatient", 40, 20)], "true", "to 20"),
    ("encounter inpatient", [stay("inpatient", 3, status="planned")], "false", "no hospital"),
    ("encounter intensive_care", [stay("inpatient", 3)], "false", "no intensive-care stay"),
    ("encounter inpatient for [icd10cm U07.1] within 4 days",
     [stay("inpatient", 2, reasons=[{"system": "icd10cm", "code": "U07.1"}])], "true",
     "for [icd10cm U07.1]"),
    ("encounter inpatient for [icd10cm U07.1] within 4 days",
     [stay("inpatient", 2, reasons=[{"system": "icd10cm", "code": "J18.9"}])], "false",
     "no hospital stay"),
    ("encounter inpatient for [icd10cm U07.1] within 4 days", [stay("inpatient", 2)],
     "unknown", "its reason is not recorded"),
    ("encounter long_term_care", [], "false", "among 0 encounters"),
])
def test_encounters(rule: str, encounters: list[dict[str, Any]], truth: str, said: str) -> None:
    assert said in check(rule, {"encounters": encounters}, truth).reason


def test_encounter_absence_in_an_open_world_criterion_is_unknown() -> None:
    c = check("encounter inpatient", {}, "unknown", world=" [open world]")
    assert "absence is not proof" in c.reason


# ---- immunizations --------------------------------------------------------------------------


def dose(code: str = "208", days_ago: int | None = 100, **fields: Any) -> dict[str, Any]:
    return {"codes": [{"system": "cvx", "code": code}],
            **({"date": ago(days_ago)} if days_ago is not None else {}), **fields}


COVID_VACCINES = "[cvx 207, 208, 213]"


@pytest.mark.parametrize(("rule", "doses", "truth", "said"), [
    (f"vaccinated with {COVID_VACCINES}", [dose()], "true", "1 dose"),
    (f"vaccinated with {COVID_VACCINES}", [], "false", "0 doses"),
    (f"vaccinated with {COVID_VACCINES}", [dose(status="not-done")], "false", "0 doses"),
    (f"vaccinated with {COVID_VACCINES} at least 3 times",
     [dose(days_ago=300), dose(days_ago=200), dose("207", 100)], "true", "3 doses"),
    (f"vaccinated with {COVID_VACCINES} at least 3 times", [dose(), dose()], "false",
     "needed at least 3"),
    (f"vaccinated with {COVID_VACCINES} at least 3 times",
     [dose(), dose(), dose(days_ago=None)], "true", "3 doses"),
    (f"vaccinated with {COVID_VACCINES} within 12 months", [dose(days_ago=500)], "false",
     "0 doses"),
    (f"vaccinated with {COVID_VACCINES} within 12 months", [dose(days_ago=None)], "unknown",
     "undated"),
    ("vaccinated with [cvx 33]", [dose()], "false", "0 doses"),
])
def test_immunizations(rule: str, doses: list[dict[str, Any]], truth: str, said: str) -> None:
    assert said in check(rule, {"immunizations": doses}, truth).reason


def test_immunization_compile_errors() -> None:
    assert "not a CVX vaccine code" in compile_error("vaccinated with [cvx 2081]")
    assert "a vaccination is given on a day" in compile_error(
        "vaccinated with [cvx 208] for at least 2 weeks")


# ---- severity, onset and daily dose -------------------------------------------------------------


@pytest.mark.parametrize(("rule", "fields", "truth", "said"), [
    ("has condition nsclc with severity >= moderate", tumour(severity="severe"), "true",
     "severity severe is >= moderate"),
    ("has condition nsclc with severity >= moderate", tumour(severity="mild"), "false",
     "severity mild is not >= moderate"),
    ("has condition nsclc with severity in [mild, moderate]", tumour(severity="mild"), "true",
     "in [mild, moderate]"),
    ("has condition nsclc with severity = severe", tumour(), "unknown",
     "severity not recorded"),
    ("has condition nsclc with onset within 10 days", tumour(onset=ago(4)), "true",
     "is within 10 days"),
    ("has condition nsclc with onset within 10 days", tumour(onset=ago(40)), "false",
     "is not within 10 days"),
    ("has condition nsclc with onset between 5 and 30 days ago", tumour(onset=ago(40)),
     "false", "is not between 5 and 30 days ago"),
    ("has condition nsclc with onset within 10 days",
     {"conditions": [coded("C34.11", id="c1")]}, "unknown", "onset date not recorded"),
])
def test_condition_severity_and_onset(rule: str, fields: dict[str, Any], truth: str,
                                      said: str) -> None:
    assert said in check(rule, fields, truth).reason


def steroid(**fields: Any) -> dict[str, Any]:
    return {"medications": [coded("H02AB06", "atc", id="m1", start=ago(60), **fields)]}


@pytest.mark.parametrize(("rule", "fields", "truth", "said"), [
    ("taking medication [atc H02AB*] with daily dose >= 10 mg",
     steroid(daily_dose=20, dose_unit="mg"), "true", "daily dose 20 mg is >= 10 mg"),
    ("taking medication [atc H02AB*] with daily dose >= 10 mg",
     steroid(daily_dose=5, dose_unit="mg"), "false", "is not >= 10 mg"),
    ("taking medication [atc H02AB*] with daily dose > 0.5 g",
     steroid(daily_dose=600, dose_unit="mg"), "true", "600 mg is > 0.5 g"),
    ("taking medication [atc H02AB*] with daily dose >= 10 mg", steroid(), "unknown",
     "daily dose not recorded"),
    ("taking medication [atc H02AB*] with daily dose >= 10 mg",
     steroid(daily_dose=20, dose_unit="mg", end=ago(30)), "false", "no medication in"),
    ("taking medication [atc H02AB*] with daily dose >= 10 mg",
     steroid(daily_dose=2, dose_unit="mL"), "unknown", "cannot be compared"),
])
def test_medication_daily_dose(rule: str, fields: dict[str, Any], truth: str,
                               said: str) -> None:
    assert said in check(rule, fields, truth).reason


@pytest.mark.parametrize(("rule", "said"), [
    ("taking medication penicillins with daily dose >= 5 mL", "not a unit of mass"),
    ("has condition nsclc with daily dose >= 5 mg", "a daily dose describes a medication"),
    ("taking medication penicillins with severity = severe", "describe a condition"),
    ("has condition nsclc with severity >= severe at least 2 times", "cannot be combined"),
])
def test_detail_compile_errors(rule: str, said: str) -> None:
    assert said in compile_error(rule)


# ---- race and ethnicity ---------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "fields", "truth"), [
    ("race = black_or_african_american", {"race": ["black_or_african_american"]}, "true"),
    ("race = black_or_african_american", {"race": ["white", "black_or_african_american"]},
     "true"),
    ("race != black_or_african_american", {"race": ["white"]}, "true"),
    ("race in [asian, white]", {"race": ["black_or_african_american"]}, "false"),
    ("race = asian", {}, "unknown"),
    ("ethnicity = hispanic_or_latino", {"ethnicity": "hispanic_or_latino"}, "true"),
    ("ethnicity = hispanic_or_latino", {"ethnicity": "not_hispanic_or_latino"}, "false"),
    ("ethnicity = hispanic_or_latino", {}, "unknown"),
])
def test_race_and_ethnicity(rule: str, fields: dict[str, Any], truth: str) -> None:
    check(rule, fields, truth)


def test_race_values_are_checked() -> None:
    assert "`african_american` is not a value of race" in compile_error(
        "race = african_american")
    assert "race has no order" in compile_error("race > asian")


# ---- edge cases -------------------------------------------------------------------------------


def test_an_override_that_uses_the_built_in_rule_is_a_cycle() -> None:
    own = "define childbearing_potential = childbearing potential and age < 40 years\n"
    assert "define-cycle" in compile_error("childbearing potential", extra=own)


@pytest.mark.parametrize(("rule", "record", "truth"), [
    ("allergic to penicillins", NKDA, "false"),  # a drug-coded target: answered
    ("allergic to [snomed 39579001]", NKDA, "unknown"),  # not a drug: not answered
    ("allergic to any food", NKDA, "unknown"),
    ("allergic to penicillins", coded("716184000", "snomed", clinical_status="active"),
     "unknown"),  # no known latex allergy answers nothing else
])
def test_no_known_allergy_records_answer_only_what_they_say(rule: str, record: dict[str, Any],
                                                             truth: str) -> None:
    check(rule, {"allergies": [record]}, truth, world=" [open world]")


def test_undated_biomarkers_do_not_count_inside_a_time_window() -> None:
    undated = [{"gene": "EGFR", "alteration": "L858R", "result": "positive"}]
    assert "undated" in check("biomarker EGFR is positive within 90 days",
                              {"biomarkers": undated}, "unknown").reason
    check("biomarker EGFR is positive", {"biomarkers": undated}, "true")


def test_a_newer_gene_level_negative_supersedes_older_alteration_results() -> None:
    markers = [marker("EGFR", "L858R", "positive", 300), marker("EGFR", None, "negative", 10)]
    check("biomarker EGFR is positive", {"biomarkers": markers}, "false")
    check("biomarker EGFR L858R is positive", {"biomarkers": markers}, "false")
    newer = [marker("EGFR", None, "negative", 300), marker("EGFR", "L858R", "positive", 10)]
    check("biomarker EGFR is positive", {"biomarkers": newer}, "true")


def test_gestational_age_records_after_the_as_of_date_are_not_known_yet() -> None:
    later = {**ga(30, 0), "date": (AS_OF + timedelta(days=3)).isoformat()}
    c = check("gestational age >= 20 weeks", {**WOMAN, "observations": [ga(20, 7), later]},
              "true")
    assert "21 weeks 0 days" in c.reason
    assert "out-of-range" in compile_error("gestational age > -5 weeks")
    check("gestational age >= 20 weeks", {**WOMAN, "observations": [ga(20, 7, "WKS")]}, "true")


def test_stage_labels_follow_ajcc() -> None:
    assert "`T0a` is not a T category" in compile_error("has condition nsclc with T = T0a")
    assert "`M0a` is not an M category" in compile_error("has condition nsclc with M = M0a")
    check("has condition nsclc with stage = 0", tumour(stages=[{"group": "0IS"}]), "true")


def test_places_are_written_in_capitals_and_records_are_normalised() -> None:
    assert "in capitals" in compile_error('resides in country "us"')
    check('resides in region "US-CA"', {"addresses": [{"country": "us", "region": "us-ca"}]},
          "true")


@pytest.mark.parametrize(("rule", "tag"), [("speaks greek", "el"), ("speaks punjabi", "pa"),
                                           ("speaks chinese", "cmn"), ("speaks arabic", "arz")])
def test_common_language_names_and_macrolanguages(rule: str, tag: str) -> None:
    check(rule, {"languages": [tag]}, "true")


def test_a_study_that_ended_long_ago_says_nothing_about_a_recent_product() -> None:
    ended = [study(status="off-study", start=ago(900), end=ago(700))]
    check("taking investigational product within 4 weeks", {"research": ended}, "false",
          world=" [closed world]")


# ---- print -> parse round trip of generated rule objects ------------------------------------

targets = st.one_of(
    st.sampled_from(["nsclc", "penicillins", "neuropathy"]).map(r.ValueSetRef),
    st.just(r.InlineCodes((r.CodeRef("icd10cm", "C34", "descendants"),))),
)
comparators = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
windows = st.one_of(st.none(), st.integers(1, 400).map(lambda n: r.Window(n, "days")),
                    st.just(r.Ever()))
stage_labels = {"stage": ["0", "I", "IA", "IIIB", "IIIC1", "IV", "IVA"],
                "T": ["T0", "Tis", "T1mi", "T1a", "T2", "T4b"], "N": ["N0", "N1mi", "N2a", "N3"],
                "M": ["M0", "M1", "M1c"]}


@st.composite
def stage_tests(draw: st.DrawFn) -> r.StageTest:
    axis = draw(st.sampled_from(["stage", "T", "N", "M"]))
    basis = draw(st.sampled_from([None, "clinical", "pathological"]))
    labels = draw(st.lists(st.sampled_from(stage_labels[axis]), min_size=1, max_size=3))
    if draw(st.booleans()):
        return r.StageTest(axis, basis, "in", tuple(labels))
    return r.StageTest(axis, basis, draw(comparators), (labels[0],))


tumour_qualifiers = st.lists(st.one_of(
    stage_tests(), targets.map(r.HistologyTest), st.just(r.HistologyConfirmed()),
    st.builds(r.SeverityTest, st.just(">="), st.sampled_from(["mild", "moderate", "severe"]).map(
        lambda label: (label,))),
    st.builds(r.SeverityTest, st.just("in"), st.lists(
        st.sampled_from(["mild", "moderate", "severe"]), min_size=1, max_size=3).map(tuple)),
    st.integers(1, 60).map(lambda n: r.OnsetTest(r.Window(n, "days"))),
    st.integers(1, 60).map(lambda n: r.OnsetTest(r.AgoWindow(n, n + 5, "weeks")))),
    max_size=3)
words = st.from_regex(r"[A-Z][A-Z0-9]{0,4}(-[A-Z0-9]{1,3})?", fullmatch=True)

new_constructs = st.one_of(
    st.just(r.Breastfeeding()),
    st.just(r.ChildbearingPotential()),
    st.builds(r.GestationalAge, comparators, st.decimals(0, 44, places=1),
              st.sampled_from(["weeks", "days"])),
    st.builds(r.AllergyQuery, st.sampled_from(["allergic", "intolerant"]), targets, st.none(),
              st.one_of(st.none(), targets)),
    st.builds(r.AllergyQuery, st.sampled_from(["allergic", "intolerant"]), st.none(),
              st.sampled_from(["drug", "food", "environment"]), st.one_of(st.none(), targets)),
    st.builds(r.ResearchQuery, st.sampled_from(["enrolled", "investigational product"]),
              windows),
    st.builds(r.BiomarkerResult, words,
              st.one_of(st.none(), words, st.sampled_from(["exon 19 deletion", "is", "V600E"])),
              st.sampled_from(["positive", "negative"]), windows),
    st.builds(r.BiomarkerMeasure, words, st.sampled_from(["TPS", "CPS"]), comparators,
              st.integers(0, 100).map(lambda n: r.Quantity(Decimal(n), "%")), windows),
    st.builds(r.AdverseEventQuery, st.one_of(st.none(), targets),
              st.one_of(st.none(), comparators), st.integers(1, 5), windows).map(
        lambda q: q if q.op is not None else r.AdverseEventQuery(q.target, None, None,
                                                                 q.window)),
    st.builds(r.AdverseEventsRecovered, st.one_of(st.none(), targets), comparators,
              st.integers(0, 5)),
    st.builds(r.Speaks, st.sampled_from(["english", "es", "haitian", "swahili"])),
    st.builds(r.ResidesIn, st.just("country"), st.sampled_from(["US", "GH", "FR"])),
    st.builds(r.ResidesIn, st.just("region"), st.sampled_from(["US-CA", "GH-AA"])),
    st.builds(r.EncounterQuery, st.sampled_from(["inpatient", "intensive_care", "outpatient",
                                                 "long_term_care"]),
              st.one_of(st.none(), targets), windows),
    st.builds(r.ImmunizationQuery, st.just(r.InlineCodes((r.CodeRef("cvx", "208"),))), windows,
              st.one_of(st.none(), st.integers(1, 4))),
    st.builds(lambda op, n, unit: r.RecordQuery("medication", r.ValueSetRef("penicillins"),
                                                details=(r.DoseTest(op, Decimal(n), unit),)),
              comparators, st.integers(0, 2000), st.sampled_from(["mg", "g", "ug"])),
    st.builds(lambda kind, target, window, details: r.RecordQuery(
        kind, target, window, details=tuple(details)), st.sampled_from(["condition", "history"]),
        targets, windows, tumour_qualifiers),
)


@given(st.lists(new_constructs, min_size=1, max_size=3))
def test_new_constructs_print_then_parse_to_equal_rule_objects(exprs: list[r.Expr]) -> None:
    expr = exprs[0] if len(exprs) == 1 else r.And(tuple(exprs))
    text = source(expr_text(expr))
    protocol, diagnostics = parse_protocol(Source(text, "generated.elig"))
    assert diagnostics == []
    assert protocol.inclusion[0].expr == expr
    compiled = compile_text(text)  # and the compiler accepts what the printer wrote
    assert parse_protocol(Source(protocol_text(compiled), "again.elig"))[0] == compiled


def test_undated_records_before_an_anchor_are_unknown() -> None:
    anchor = "before first condition [icd10cm J18.9]"
    fields = {"conditions": [coded("J18.9", onset=ago(30))],
              "immunizations": [dose(days_ago=None)],
              "encounters": [{"setting": "inpatient", "status": "finished"}]}
    check(f"vaccinated with [cvx 208] {anchor}", fields, "unknown")
    check(f"encounter inpatient {anchor}", fields, "unknown")
    check("vaccinated with [cvx 208] ever", fields, "true")


def test_daily_doses_may_say_per_day_and_cvx_codes_their_leading_zero() -> None:
    check("taking medication [atc H02AB*] with daily dose >= 10 mg/d",
          steroid(daily_dose=20, dose_unit="mg/day"), "true")
    check("vaccinated with [cvx 08]", {"immunizations": [dose("8")]}, "true")


def test_vaccinations_are_not_searched_with_a_condition_set() -> None:
    assert "`sepsis` is a value set of conditions" in compile_error(
        "vaccinated with sepsis", extra="use sepsis\n")


def test_receptor_status_names_read_hgnc_symbols() -> None:
    check("biomarker ESR1 is positive", {"biomarkers": [marker("ER", None, "positive")]}, "true")
    check("biomarker PR is negative", {"biomarkers": [marker("PGR", None, "negative")]}, "true")
