"""Observation rules end to end: lab values with units, ``x ULN``, ordinal scales, unitless
scores, qualitative results, aggregates and derived scores (MELD, Child-Pugh, ALBI, eGFR,
Cockcroft-Gault, FIB-4, APRI, BMI, QTcF).

Each test compiles a small protocol whose tested criterion is ``X1`` (an inclusion unless
the test says otherwise), screens a patient built in the test and checks the truth value
and the explanation: the reason names the value, its unit, its date and the converted
canonical value where one was converted; the evidence cites the observation's id and the
LOINC code it was found by. The status-only and verdict-only fast paths of
:class:`eligo.Screener` are checked against the explained result on every screening.

The last part is the issue's "Done when" property: writing a lab value in another unit
never changes any verdict.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eligo import Patient, Screener, ScreeningResult, Status, Verdict, scores
from eligo import observations as obs
from eligo.compiler import compile_text
from eligo.errors import ProtocolError
from eligo.result import CriterionResult, Evidence, ToResolve

AS_OF = date(2026, 1, 15)

# LOINC codes of the library entries used here.
BILIRUBIN = "1975-2"
BILIRUBIN_MOLAR = "14631-6"
ALBUMIN = "1751-7"
ALT = "1742-6"
AST = "1920-8"
INR = "6301-6"
CREATININE = "2160-0"
SODIUM = "2951-2"
GLUCOSE = "2345-7"
PLATELETS = "777-3"
WEIGHT = "29463-7"
HEIGHT = "8302-2"
BMI = "39156-5"
QT = "8634-8"
QTCF = "76634-5"
HEART_RATE = "8867-4"
ECOG = "89247-1"
NYHA = "88020-3"
KARNOFSKY = "89243-0"
HBSAG = "5196-1"
HCV_AB = "13955-0"
HCV_RNA = "11259-9"
HIV_AB = "56888-1"
SERUM_HCG = "2118-8"

# A companion exclusion that always passes, so the verdict follows the tested criterion.
COMPANION = '  E0 "companion" [closed world]: has condition [icd10cm Z99.89]'
COMPANION_INCLUSION = '  I0 "companion" [closed world]: not has condition [icd10cm Z99.89]'
VERDICT_FOR = {Status.PASS: Verdict.ELIGIBLE, Status.FAIL: Verdict.INELIGIBLE,
               Status.UNKNOWN: Verdict.NEEDS_REVIEW}
TRUTH_STATUS = {True: Status.PASS, False: Status.FAIL, None: Status.UNKNOWN}
WORD = {True: "true", False: "false", None: "unknown"}


def days_ago(n: int) -> str:
    return (AS_OF - timedelta(days=n)).isoformat()


def ob(code: str, value: Any, unit: str | None = None, *, days: int = 5,
       id: str | None = None, **extra: Any) -> dict[str, Any]:
    """One observation coded ``loinc code``, dated ``days`` before the as-of date."""
    found: dict[str, Any] = {"codes": [{"system": "loinc", "code": code}], "value": value,
                             "date": days_ago(days)}
    if unit is not None:
        found["unit"] = unit
    if id is not None:
        found["id"] = id
    found.update(extra)
    return found


def person(*observations: dict[str, Any], **fields: Any) -> Patient:
    return Patient.model_validate({"id": "P1", "observations": list(observations), **fields})


def screen(rule: str, patient: Patient, *, exclusion: bool = False,
           as_of: date = AS_OF) -> ScreeningResult:
    tested = f'  X1 "tested": {rule}'
    text = ("trial T-OBS\ninclusion\n" + (COMPANION_INCLUSION if exclusion else tested)
            + "\nexclusion\n" + (tested if exclusion else COMPANION) + "\n")
    screener = Screener(compile_text(text))
    result = screener.screen(patient, as_of)
    # The fast paths agree with the explained result.
    assert screener.statuses(patient, as_of) == tuple(c.status for c in result.criteria)
    assert screener.verdict(patient, as_of) is result.verdict
    tested_result = result.criterion("X1")
    assert result.verdict is VERDICT_FOR[tested_result.status]
    if tested_result.status is Status.UNKNOWN:
        assert tested_result.missing, "an unknown criterion must say what would decide it"
        assert result.to_resolve == tuple(ToResolve("X1", m) for m in tested_result.missing)
    else:
        assert tested_result.missing == ()
    return result


def check(rule: str, patient: Patient, truth: bool | None, *, exclusion: bool = False,
          as_of: date = AS_OF) -> CriterionResult:
    """Screen and check the truth value of ``X1``; return its result for the explanation."""
    result = screen(rule, patient, exclusion=exclusion, as_of=as_of).criterion("X1")
    assert result.truth == WORD[truth], result.reason
    return result


def cites(result: CriterionResult, code: str, record_id: str | None = None,
          value: str | None = None) -> Evidence:
    """The evidence item citing LOINC ``code`` (and the record id and value, if given)."""
    for e in result.evidence:
        if e.record_type == "observation" and e.system == "loinc" and e.code == code and (
                record_id is None or e.record_id == record_id):
            if value is not None:
                assert e.value == value
            return e
    raise AssertionError(f"no evidence cites loinc {code} {record_id or ''}: {result.evidence}")


# =========================================================================================
# Quantities: units, freshness, the most recent result
# =========================================================================================


def test_bilirubin_in_canonical_units() -> None:
    patient = person(ob(BILIRUBIN, 2.5, "mg/dL", id="bili-1"))
    result = check("bilirubin < 3 mg/dL", patient, True)
    assert result.reason == f"Bilirubin, total 2.5 mg/dL on {days_ago(5)} is < 3 mg/dL"
    e = cites(result, BILIRUBIN, "bili-1", "2.5 mg/dL")
    assert e.date == AS_OF - timedelta(days=5)
    check("bilirubin < 2 mg/dL", patient, False)
    check("bilirubin <= 2.5 mg/dL", patient, True)
    check("bilirubin between 2 and 3 mg/dL", patient, True)


def test_bilirubin_converted_from_si_units_names_the_canonical_value() -> None:
    patient = person(ob(BILIRUBIN_MOLAR, 42.8, "umol/L", id="bili-si"))
    result = check("bilirubin < 3 mg/dL", patient, True)
    assert result.reason == (f"Bilirubin, total 42.8 umol/L on {days_ago(5)} (= 2.5 mg/dL) "
                             "is < 3 mg/dL")
    cites(result, BILIRUBIN_MOLAR, "bili-si", "42.8 umol/L")
    # The protocol may state its limit in SI units too.
    check("bilirubin < 40 umol/L", patient, False)
    check("bilirubin between 40 and 50 umol/L", patient, True)


def test_lab_spellings_of_units_are_read() -> None:
    for unit in ("mg/dl", "MG/DL", "mg%"):
        check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, 2.9, unit)), True)
        check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, 3.1, unit)), False)
    check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, 50, "µmol/L")), True)


def test_the_most_recent_result_decides_and_an_older_normal_one_never_rescues_it() -> None:
    older_normal = ob(BILIRUBIN, 1.0, "mg/dL", days=10, id="old")
    newer_high = ob(BILIRUBIN, 4.0, "mg/dL", days=2, id="new")
    for order in ((older_normal, newer_high), (newer_high, older_normal)):
        result = check("bilirubin < 3 mg/dL", person(*order), False)
        assert result.reason == f"Bilirubin, total 4 mg/dL on {days_ago(2)} is not < 3 mg/dL"
        assert [e.record_id for e in result.evidence] == ["new"]
    # ... and the other way round: a newer normal result decides over an older high one.
    check("bilirubin < 3 mg/dL",
          person(ob(BILIRUBIN, 4.0, "mg/dL", days=10), ob(BILIRUBIN, 1.0, "mg/dL", days=2)),
          True)
    # Across the entry's codes (serum mass, blood mass, serum molar) too.
    check("bilirubin < 3 mg/dL",
          person(ob(BILIRUBIN, 1.0, "mg/dL", days=10), ob("42719-5", 4.0, "mg/dL", days=3)),
          False)


def test_stale_result_is_unknown_and_names_its_date() -> None:
    patient = person(ob(BILIRUBIN, 2.0, "mg/dL", days=45, id="stale"))
    result = check("bilirubin < 3 mg/dL", patient, None)
    assert result.reason == (f"The last Bilirubin, total (2 mg/dL on {days_ago(45)}) is "
                             "older than 30 days")
    assert result.missing == ("Bilirubin, total result in the last 30 days",)
    cites(result, BILIRUBIN, "stale")
    # The entry's freshness window ends exactly 30 days back.
    check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, 2.0, "mg/dL", days=30)), True)
    check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, 2.0, "mg/dL", days=31)), None)


def test_no_result_at_all_is_unknown() -> None:
    result = check("bilirubin < 3 mg/dL", person(), None)
    assert result.reason == "No Bilirubin, total result in the last 30 days"
    assert result.missing == ("Bilirubin, total result in the last 30 days",)
    assert result.evidence == ()


def test_within_overrides_the_freshness_window() -> None:
    twenty_days = person(ob(BILIRUBIN, 2.0, "mg/dL", days=20, id="b20"))
    check("bilirubin < 3 mg/dL", twenty_days, True)  # fresh by the default 30 days
    result = check("bilirubin < 3 mg/dL within 14 days", twenty_days, None)
    assert result.reason == (f"The last Bilirubin, total (2 mg/dL on {days_ago(20)}) is "
                             "older than 14 days")
    assert result.missing == ("Bilirubin, total result within the last 14 days",)
    check("bilirubin < 3 mg/dL within 14 days", person(ob(BILIRUBIN, 2.0, "mg/dL", days=10)),
          True)
    # A longer window reaches results the default window would call stale.
    check("bilirubin < 3 mg/dL within 3 months", person(ob(BILIRUBIN, 2.0, "mg/dL", days=60)),
          True)


def test_between_months_ago_looks_only_in_that_period() -> None:
    rule = "bilirubin < 3 mg/dL between 1 and 3 months ago"
    check(rule, person(ob(BILIRUBIN, 2.0, "mg/dL", days=60)), True)
    check(rule, person(ob(BILIRUBIN, 4.0, "mg/dL", days=60)), False)
    # A result of last week is outside the period: it neither decides nor counts as stale.
    recent = check(rule, person(ob(BILIRUBIN, 2.0, "mg/dL", days=7)), None)
    assert recent.reason == "No Bilirubin, total result between 1 and 3 months ago"
    old = check(rule, person(ob(BILIRUBIN, 2.0, "mg/dL", days=120)), None)
    assert old.reason == (f"The last Bilirubin, total (2 mg/dL on {days_ago(120)}) is older "
                          "than 3 months")
    # The most recent result inside the period decides, not the newest one overall.
    check(rule, person(ob(BILIRUBIN, 4.0, "mg/dL", days=50),
                       ob(BILIRUBIN, 1.0, "mg/dL", days=70),
                       ob(BILIRUBIN, 1.0, "mg/dL", days=3)), False)


def test_since_the_first_event() -> None:
    cirrhosis = [{"codes": [{"system": "icd10cm", "code": "K74.60"}], "onset": days_ago(40)}]
    rule = "bilirubin < 3 mg/dL since first condition [icd10cm K74.6*]"
    # 35 days old: stale by the default 30 days, but inside the period the rule asks for.
    check(rule, person(ob(BILIRUBIN, 2.0, "mg/dL", days=35), conditions=cirrhosis), True)
    stale = check(rule, person(ob(BILIRUBIN, 2.0, "mg/dL", days=50), conditions=cirrhosis),
                  None)
    assert stale.reason.endswith("is older than the first condition in [icd10cm K74.6*]")
    no_anchor = check(rule, person(ob(BILIRUBIN, 2.0, "mg/dL", days=35)), None)
    assert no_anchor.reason == ("No Bilirubin, total result can be placed since the first "
                                "condition in [icd10cm K74.6*]: there is no event to count from")
    # A score takes the rule's time for every input.
    meld_rule = "meld >= 15 since first condition [icd10cm K74.6*]"
    check(meld_rule, person(*LIVER_LABS, conditions=cirrhosis, **MAN_65), True)
    check(meld_rule, person(*LIVER_LABS, **MAN_65), None)


def test_a_result_in_a_unit_that_does_not_convert_is_unknown_not_skipped() -> None:
    patient = person(ob(BILIRUBIN, 1.0, "mg/dL", days=20, id="good"),
                     ob(BILIRUBIN, 1.9, "mg", days=2, id="bad-unit"))
    result = check("bilirubin < 3 mg/dL", patient, None)
    assert result.reason == (f"The Bilirubin, total result 1.9 mg on {days_ago(2)} is in a "
                             "unit that does not convert to mg/dL")
    assert result.missing == ("Bilirubin, total result in a unit convertible to mg/dL",)
    assert [e.record_id for e in result.evidence] == ["bad-unit"]
    # An unreadable unit is no better.
    check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, 1.0, "mg/dL", days=20),
                                        ob(BILIRUBIN, 1.0, "furlongs", days=2)), None)


def test_a_lab_value_without_its_unit_is_unknown() -> None:
    # 51 could be mg/dL or umol/L: it is not read as the canonical unit.
    result = check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, 51, id="no-unit")), None)
    assert result.reason == f"The Bilirubin, total result 51 on {days_ago(5)} has no unit"
    assert result.missing == ("Bilirubin, total result with its unit",)
    # A pure number needs none (the INR), nor does a unit a bare number customarily means.
    check("inr <= 1.5", person(ob(INR, 1.2)), True)
    check("heart_rate < 50", person(ob(HEART_RATE, 45)), True)
    check("bmi >= 30", person(ob(BMI, 31)), True)


def test_a_result_that_is_not_a_number_is_unknown() -> None:
    result = check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, "see comment", "mg/dL")), None)
    assert "is not a number" in result.reason
    result = check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, None, "mg/dL")), None)
    assert "has no value" in result.reason


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error"])
def test_cancelled_and_entered_in_error_results_are_ignored(status: str) -> None:
    patient = person(ob(BILIRUBIN, 1.0, "mg/dL", days=10, id="kept"),
                     ob(BILIRUBIN, 9.0, "mg/dL", days=1, id="void", status=status))
    result = check("bilirubin < 3 mg/dL", patient, True)
    assert [e.record_id for e in result.evidence] == ["kept"]
    # With only the void result there is none.
    only = person(ob(BILIRUBIN, 9.0, "mg/dL", days=1, status=status))
    assert check("bilirubin < 3 mg/dL", only, None).reason.startswith("No Bilirubin")


def test_amended_and_preliminary_results_count() -> None:
    for status in ("final", "amended", "corrected", "preliminary"):
        check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN, 9.0, "mg/dL", status=status)), False)


def test_results_after_the_as_of_date_are_ignored() -> None:
    patient = person(ob(BILIRUBIN, 1.0, "mg/dL", days=10, id="before"),
                     ob(BILIRUBIN, 9.0, "mg/dL", days=-3, id="after"))
    result = check("bilirubin < 3 mg/dL", patient, True)
    assert [e.record_id for e in result.evidence] == ["before"]
    # Screening later sees it.
    check("bilirubin < 3 mg/dL", patient, False, as_of=AS_OF + timedelta(days=3))
    only_future = person(ob(BILIRUBIN, 1.0, "mg/dL", days=-1))
    check("bilirubin < 3 mg/dL", only_future, None)


def test_evidence_cites_the_loinc_code_the_result_was_found_by() -> None:
    o = ob(BILIRUBIN, 2.0, "mg/dL", id="multi")
    o["codes"] = [{"system": "http://hospital.example/lab", "code": "TBIL"},
                  {"system": "http://loinc.org", "code": BILIRUBIN, "display": "Bilirubin"}]
    result = check("bilirubin < 3 mg/dL", person(o), True)
    (e,) = result.evidence
    assert (e.record_id, e.system, e.code, e.display) == ("multi", "loinc", BILIRUBIN,
                                                          "Bilirubin")


# =========================================================================================
# Multiples of the upper limit of normal
# =========================================================================================


def test_uln_from_the_laboratory_reference_range() -> None:
    at_limit = person(ob(ALT, 200, "U/L", reference_high=40, id="alt"))
    result = check("alt <= 5 x ULN", at_limit, True)
    assert result.reason == (f"Alanine aminotransferase (ALT, SGPT) 200 U/L on {days_ago(5)} "
                             "is <= 5 x ULN (ULN 40 U/L)")
    cites(result, ALT, "alt", "200 U/L")
    check("alt <= 5 x ULN", person(ob(ALT, 201, "U/L", reference_high=40)), False)
    check("alt < 5 x ULN", at_limit, False)
    # IU/L is read as U/L for enzyme activities.
    check("alt <= 5 x ULN", person(ob(ALT, 200, "IU/L", reference_high=40)), True)


def test_uln_in_the_result_unit_is_converted() -> None:
    # 30 umol/L with a laboratory ULN of 20 umol/L: 1.5 x ULN, in mg/dL 1.75 against 1.17.
    patient = person(ob(BILIRUBIN_MOLAR, 30, "umol/L", reference_high=20, id="b"))
    result = check("bilirubin <= 1.5 x ULN", patient, True)
    assert "(= 1.75 mg/dL)" in result.reason
    assert "(ULN 1.17 mg/dL)" in result.reason
    check("bilirubin <= 1.5 x ULN",
          person(ob(BILIRUBIN_MOLAR, 31, "umol/L", reference_high=20)), False)


def test_uln_falls_back_to_the_library_reference_range() -> None:
    entry = obs.lookup("alt")
    assert entry is not None
    assert entry.reference_range is not None
    assert entry.reference_range.high == 45
    result = check("alt <= 5 x ULN", person(ob(ALT, 210, "U/L")), True)
    assert "(ULN 45 U/L)" in result.reason
    check("alt <= 5 x ULN", person(ob(ALT, 230, "U/L")), False)


def test_inr_is_a_bare_ratio() -> None:
    for rule in ("inr <= 1.5", "inr <= 1.5 {INR}", "inr <= 1.5 INR"):
        check(rule, person(ob(INR, 1.5)), True)
        check(rule, person(ob(INR, 1.6, "{INR}")), False)


def test_no_uln_anywhere_is_unknown_naming_the_reference_range() -> None:
    entry = obs.lookup("inr")
    assert entry is not None
    assert entry.reference_range is None
    result = check("inr <= 1.5 x ULN", person(ob(INR, 1.2, id="inr")), None)
    assert "no upper limit of normal is known" in result.reason
    assert result.missing == ("the laboratory's reference range for International normalised "
                              "ratio (INR)",)
    cites(result, INR, "inr")
    # A laboratory range on the result decides it.
    check("inr <= 1.5 x ULN", person(ob(INR, 1.2, reference_high=1.1)), True)


# =========================================================================================
# Platelets: counts per volume in many spellings
# =========================================================================================


@pytest.mark.parametrize(("value", "unit", "truth"), [
    (50, "10*9/L", True),
    (50, "10^9/L", True),
    (50, "x10^9/L", True),
    (50, "K/uL", True),
    (50, "10*3/uL", True),
    (50000, "/uL", True),
    (50000, "/mm3", True),
    (49, "K/uL", False),
    (49000, "/uL", False),
    (49.9, "10^9/L", False),
])
def test_platelets_in_any_count_unit(value: float, unit: str, truth: bool) -> None:
    result = check("platelets >= 50 10*9/L", person(ob(PLATELETS, value, unit, id="plt")), truth)
    assert f"{value:g} {unit} on {days_ago(5)}" in result.reason
    if unit != "10*9/L":
        per_litre = value / 1000 if unit in ("/uL", "/mm3") else value
        assert f"(= {per_litre:g} 10*9/L)" in result.reason
    cites(result, PLATELETS, "plt", f"{value:g} {unit}")


def test_platelet_limit_written_per_microlitre() -> None:
    check("platelets >= 100000 /uL", person(ob(PLATELETS, 100, "10*9/L")), True)
    check("platelets >= 100000 /uL", person(ob(PLATELETS, 99, "K/uL")), False)


# =========================================================================================
# Ordinal scales and unitless scores
# =========================================================================================


@pytest.mark.parametrize(("value", "truth"), [
    (0, True), (1, True), ("1", True), ("ECOG 1", True), ("ecog ps 0", True), (1.0, True),
    (2, False), ("2", False), ("ECOG 2", False), (5, False),
])
def test_ecog_as_recorded(value: Any, truth: bool) -> None:
    result = check("ecog <= 1", person(ob(ECOG, value, id="ecog")), truth)
    assert result.reason.startswith(f"ECOG performance status {value:g}" if isinstance(
        value, float) else f"ECOG performance status {value}")
    cites(result, ECOG, "ecog")


@pytest.mark.parametrize("value", ["x", 1.5, 6, "grade 7"])
def test_ecog_value_off_the_scale_is_unknown(value: Any) -> None:
    result = check("ecog <= 1", person(ob(ECOG, value)), None)
    assert "is not a level of the scale" in result.reason


@pytest.mark.parametrize(("value", "truth"), [
    ("III", True), ("IV", True), ("class IV", True), ("NYHA class 3", True), ("3", True),
    (4, True), ("nyha III", True),
    ("I", False), ("class II", False), ("2", False), ("NYHA class 1", False),
])
def test_nyha_labels_as_recorded(value: Any, truth: bool) -> None:
    result = check("nyha in [III, IV]", person(ob(NYHA, value, id="nyha")), truth)
    assert f"NYHA functional class {value} on {days_ago(5)}" in result.reason
    cites(result, NYHA, "nyha")


def test_nyha_order_and_range() -> None:
    patient = person(ob(NYHA, "NYHA class 3"))
    check("nyha >= III", patient, True)
    check("nyha > III", patient, False)
    check("nyha < IV", patient, True)
    check("nyha = 3", patient, True)
    check("nyha between 2 and 3", patient, True)
    check("nyha != III", patient, False)


def test_nyha_unknown_label_is_unknown() -> None:
    check("nyha in [III, IV]", person(ob(NYHA, "V")), None)


@pytest.mark.parametrize(("label", "index"), [
    ("I", 0), ("II", 1), ("class II", 1), ("ASA 2", 1), ("2", 1), (2, 1), ("IIE", 1),
    ("ASA IIIE", 2), ("asa class iv", 3), ("VII", None), ("0", None),
])
def test_asa_labels_are_read(label: Any, index: int | None) -> None:
    entry = obs.lookup("asa_class")
    assert entry is not None
    assert obs.ordinal_index(entry, label) == index


def eligo_coded(name: str, value: Any, *, days: int = 5, id: str | None = None
                ) -> dict[str, Any]:
    """A result of a scale with no standard code, coded with the library's own name."""
    found = ob("-", value, days=days, id=id)
    found["codes"] = [{"system": "eligo", "code": name}]
    return found


@pytest.mark.parametrize(("value", "truth"), [
    ("I", True), ("class II", True), ("ASA 2", True), ("IIE", True), (2, True),
    ("III", False), ("ASA IIIE", False), ("asa class iv", False),
])
def test_asa_class_as_recorded(value: Any, truth: bool) -> None:
    result = check("asa_class in [I, II]", person(eligo_coded("asa_class", value, id="asa")),
                   truth)
    (e,) = result.evidence
    assert (e.record_id, e.system, e.code) == ("asa", "eligo", "asa_class")
    # Aliases name it too.
    check("asa_class in [I, II]", person(eligo_coded("asa", value)), truth)


def test_karnofsky_is_a_unitless_score() -> None:
    result = check("karnofsky >= 70", person(ob(KARNOFSKY, 70, id="kps")), True)
    assert result.reason == f"Karnofsky performance status 70 on {days_ago(5)} is >= 70"
    cites(result, KARNOFSKY, "kps", "70")
    check("karnofsky >= 70", person(ob(KARNOFSKY, 60)), False)
    check("karnofsky >= 70", person(ob(KARNOFSKY, 80, "%")), True)
    check("karnofsky >= 70", person(ob(KARNOFSKY, 80, days=40)), None)
    check("karnofsky between 60 and 80", person(ob(KARNOFSKY, 60)), True)


# =========================================================================================
# Qualitative results
# =========================================================================================


@pytest.mark.parametrize(("value", "polarity"), [
    ("POS", "positive"), ("Positive", "positive"), ("Reactive", "positive"),
    ("Detected", "positive"), ("LA6576-8", "positive"), (True, "positive"),
    ("+", "positive"),
    ("NEG", "negative"), ("Non-reactive", "negative"), ("Nonreactive", "negative"),
    ("Not detected", "negative"), ("LA6577-6", "negative"), (False, "negative"),
    ("Negative (qualifier value)", "negative"),
])
def test_qualitative_answers_are_normalised(value: Any, polarity: str) -> None:
    patient = person(ob(HBSAG, value, id="hbsag"))
    result = check("hbsag is positive", patient, polarity == "positive")
    assert result.reason == f"Hepatitis B surface antigen {value} on {days_ago(5)} reads {polarity}"
    cites(result, HBSAG, "hbsag")
    check("hbsag is negative", patient, polarity == "negative")
    check("hbsag is reactive", patient, polarity == "positive")
    check("hbsag is nonreactive", patient, polarity == "negative")
    check("hbsag is detected", patient, polarity == "positive")
    check("hbsag is undetected", patient, polarity == "negative")


@pytest.mark.parametrize("value", ["Indeterminate", "Equivocal", "LA11884-6", "grey zone"])
def test_indeterminate_is_unknown(value: str) -> None:
    patient = person(ob(HBSAG, value))
    for rule in ("hbsag is positive", "hbsag is negative"):
        result = check(rule, patient, None)
        assert result.reason.endswith("is indeterminate")
        assert result.missing == ("a repeat Hepatitis B surface antigen test",)
    check("hbsag is indeterminate", patient, True)


@pytest.mark.parametrize("value", ["see report", 1.0, "maybe"])
def test_unreadable_answer_is_unknown(value: Any) -> None:
    result = check("hbsag is positive", person(ob(HBSAG, value)), None)
    assert "cannot be read as positive or negative" in result.reason


def test_detected_within_months() -> None:
    five_months = person(ob(HCV_RNA, "Detected", days=150, id="rna"))
    result = check("hcv_rna is detected within 6 months", five_months, True)
    cites(result, HCV_RNA, "rna")
    check("hcv_rna is detected within 6 months", person(ob(HCV_RNA, "Not detected", days=150)),
          False)
    stale = check("hcv_rna is detected within 6 months",
                  person(ob(HCV_RNA, "Detected", days=200)), None)
    assert stale.reason.endswith("is older than 6 months")
    # Without `within` the serology default of 90 days applies.
    assert check("hcv_rna is detected", five_months, None).reason.endswith(
        "is older than 90 days")


def test_any_of_several_tests() -> None:
    rule = "any of [hiv_ab, hbsag, hcv_ab] is positive"
    negatives = [ob(HIV_AB, "Non-reactive", id="hiv"), ob(HBSAG, "NEG", id="hbs"),
                 ob(HCV_AB, "Negative", id="hcv")]
    result = check(rule, person(*negatives), False)
    assert {e.record_id for e in result.evidence} == {"hiv", "hbs", "hcv"}
    positive = check(rule, person(negatives[0], negatives[1], ob(HCV_AB, "Reactive", id="hcv+")),
                     True)
    assert [e.record_id for e in positive.evidence] == ["hcv+"]
    assert "reads positive" in positive.reason
    # A missing test keeps it open, and names that test only.
    missing = check(rule, person(*negatives[1:]), None)
    assert missing.missing == ("HIV-1/2 antibody / antigen screen result in the last 90 days",)
    # ... unless another test is positive.
    check(rule, person(ob(HBSAG, "POS")), True)
    # An indeterminate one keeps it open too.
    check(rule, person(*negatives[:2], ob(HCV_AB, "Indeterminate")), None)


def test_negative_pregnancy_test_never_passes_by_absence() -> None:
    rule = "serum_hcg is negative within 14 days"
    absent = check(rule, person(), None)
    assert absent.missing == ("Pregnancy test, serum hCG (qualitative) result within the last "
                              "14 days",)
    stale = check(rule, person(ob(SERUM_HCG, "Negative", days=20)), None)
    assert stale.reason.endswith("is older than 14 days")
    check(rule, person(ob(SERUM_HCG, "Negative", days=14)), True)
    check(rule, person(ob(SERUM_HCG, "Positive", days=3)), False)
    # As an exclusion ("positive pregnancy test"), absence is unknown, never a pass.
    result = screen("serum_hcg is positive within 14 days", person(), exclusion=True)
    assert result.criterion("X1").status is Status.UNKNOWN
    assert result.verdict is Verdict.NEEDS_REVIEW
    negative = screen("serum_hcg is positive within 14 days",
                      person(ob(SERUM_HCG, "LA6577-6", days=2)), exclusion=True)
    assert negative.criterion("X1").status is Status.PASS


# =========================================================================================
# Aggregates
# =========================================================================================

MEAN_QTCF = "mean of last 3 qtcf within 28 days > 470 ms"


def test_mean_of_the_last_three() -> None:
    patient = person(ob(QTCF, 480, "ms", days=1, id="q1"), ob(QTCF, 470, "ms", days=5, id="q2"),
                     ob(QTCF, 466, "ms", days=9, id="q3"), ob(QTCF, 300, "ms", days=12, id="q4"))
    result = check(MEAN_QTCF, patient, True)  # (480 + 470 + 466) / 3 = 472; q4 not counted
    assert "472 ms" in result.reason
    assert [e.record_id for e in result.evidence] == ["q1", "q2", "q3"]
    assert all(e.code == QTCF for e in result.evidence)
    check(MEAN_QTCF, person(ob(QTCF, 480, "ms", days=1), ob(QTCF, 470, "ms", days=5),
                            ob(QTCF, 460, "ms", days=9)), False)  # exactly 470


def test_mean_with_fewer_results_than_asked_is_unknown() -> None:
    two = person(ob(QTCF, 520, "ms", days=1), ob(QTCF, 530, "ms", days=5),
                 ob(QTCF, 540, "ms", days=40))  # the third is outside the 28 days
    result = check(MEAN_QTCF, two, None)
    assert result.reason.startswith("Only 2 of 3 QT interval corrected")
    assert result.missing == ("3 QT interval corrected by Fridericia's formula results within "
                              "the last 28 days",)


def test_mean_converts_units_and_refuses_unreadable_ones() -> None:
    check(MEAN_QTCF, person(ob(QTCF, 0.48, "s", days=1), ob(QTCF, 470, "ms", days=5),
                            ob(QTCF, 475, "ms", days=9)), True)
    result = check(MEAN_QTCF, person(ob(QTCF, 480, "kg", days=1, id="bad"),
                                     ob(QTCF, 470, "ms", days=5), ob(QTCF, 475, "ms", days=9)),
                   None)
    assert "does not convert to ms" in result.reason
    assert next(e.record_id for e in result.evidence) == "bad"


def test_other_aggregates() -> None:
    patient = person(ob(QTCF, 480, "ms", days=1), ob(QTCF, 440, "ms", days=5),
                     ob(QTCF, 450, "ms", days=9))
    check("max of last 3 qtcf > 470 ms", patient, True)
    check("min of last 3 qtcf > 445 ms", patient, False)
    check("median of last 3 qtcf >= 450 ms", patient, True)
    result = check("mean of last 2 karnofsky >= 70",
                   person(ob(KARNOFSKY, 80, days=1), ob(KARNOFSKY, 60, days=3)), True)
    assert "is 70, which is >= 70" in result.reason


# =========================================================================================
# Derived scores
# =========================================================================================

LIVER_LABS = (
    ob(BILIRUBIN, 2.5, "mg/dL", id="bili"), ob(INR, 1.8, id="inr"),
    ob(CREATININE, 1.5, "mg/dL", id="creat"), ob(SODIUM, 130, "mmol/L", id="na"),
    ob(ALBUMIN, 3.0, "g/dL", id="alb"),
)
MAN_65 = {"birth_date": "1960-05-01", "sex": "male"}


def test_meld_family() -> None:
    patient = person(*LIVER_LABS, **MAN_65)
    # HAND: 10 x (0.957 ln 1.5 + 0.378 ln 2.5 + 1.120 ln 1.8 + 0.643) = 20.36 -> 20.
    assert scores.meld(2.5, 1.8, 1.5) == 20
    result = check("meld >= 15", patient, True)
    assert result.reason.startswith("`meld` 20 is >= 15 (from Bilirubin, total 2.5 mg/dL on ")
    for code, rid in ((BILIRUBIN, "bili"), (INR, "inr"), (CREATININE, "creat")):
        cites(result, code, rid)
    check("meld >= 21", patient, False)
    meld_na = scores.meld_na(2.5, 1.8, 1.5, 130)
    check(f"meld_na >= {meld_na}", patient, True)
    check(f"meld_na > {meld_na}", patient, False)
    meld_3 = scores.meld_3(2.5, 1.8, 1.5, 130, 3.0, female=False)
    assert check(f"meld_3 = {meld_3}", patient, True).reason.startswith(f"`meld_3` {meld_3} ")
    cites(check("meld_3 >= 15", patient, True), ALBUMIN, "alb")


def test_meld_with_dialysis_twice_in_the_last_week() -> None:
    dialysis = [{"codes": [{"system": "cpt", "code": "90935"}], "date": days_ago(d)}
                for d in (2, 5)]
    patient = person(*LIVER_LABS, procedures=dialysis, **MAN_65)
    expected = scores.meld(2.5, 1.8, 1.5, dialysis_twice_last_week=True)
    assert expected > scores.meld(2.5, 1.8, 1.5)
    assert "2 dialysis sessions in the last week" in check(f"meld = {expected}", patient,
                                                           True).reason


def test_score_inputs_in_si_units() -> None:
    si = person(ob(BILIRUBIN_MOLAR, 42.8, "umol/L"), ob(INR, 1.8),
                ob("14682-9", 132.6, "umol/L"), **MAN_65)
    result = check("meld = 20", si, True)
    assert f"Bilirubin, total 42.8 umol/L on {days_ago(5)} (= 2.5 mg/dL)" in result.reason
    assert f"Creatinine, serum 132.6 umol/L on {days_ago(5)} (= 1.5 mg/dL)" in result.reason


def test_child_pugh() -> None:
    patient = person(*LIVER_LABS, **MAN_65)
    # bilirubin 2.5 -> 2, albumin 3.0 -> 2, INR 1.8 -> 2, no ascites 1, no HE 1 = 8, class B.
    assert scores.child_pugh(2.5, 3.0, 1.8, "none", "none") == scores.ChildPugh(8, "B")
    result = check("child_pugh >= 7", patient, True)
    assert "no ascites on record" in result.reason
    check("child_pugh >= 9", patient, False)
    check("child_pugh_class = C", patient, False)
    check("child_pugh_class = B", patient, True)
    check("child_pugh_class in [A, B]", patient, True)
    check("child_pugh_class >= B", patient, True)
    check("child_pugh_class > B", patient, False)


def test_child_pugh_with_ungraded_ascites_is_decided_when_every_grade_agrees() -> None:
    ascites = [{"id": "asc", "codes": [{"system": "icd10cm", "code": "R18.8"}],
                "onset": "2025-06-01"}]
    patient = person(*LIVER_LABS, conditions=ascites, **MAN_65)
    # 8 - 1 + (2 or 3) = 9 or 10: class B or C.
    result = check("child_pugh >= 9", patient, True)
    assert "`child_pugh` 9, 10 is >= 9" in result.reason
    assert "ascites on record, grade not recorded" in result.reason
    assert any(e.record_type == "condition" and e.record_id == "asc" for e in result.evidence)
    check("child_pugh_class in [B, C]", patient, True)
    check("child_pugh_class = A", patient, False)
    open_ = check("child_pugh_class = C", patient, None)
    assert open_.reason.startswith("`child_pugh_class` could be B, C")
    assert open_.missing == ("the grade of ascites (mild or moderate-severe)",)
    assert screen("child_pugh_class = C", patient).to_resolve == (
        ToResolve("X1", "the grade of ascites (mild or moderate-severe)"),)


def test_child_pugh_reads_ascites_as_has_condition_does() -> None:
    # Abated only after the as-of date: the ascites still counts at the screening date,
    # whatever its clinical status says -- for `has condition` and for Child-Pugh alike.
    ongoing = {"id": "asc", "codes": [{"system": "icd10cm", "code": "R18.8"}],
               "onset": "2025-06-01", "abatement": "2026-03-01", "clinical_status": "resolved"}
    patient = person(*LIVER_LABS, conditions=[ongoing], **MAN_65)
    check("has condition [icd10cm R18.8]", patient, True)
    result = check("child_pugh >= 9", patient, True)  # 8 - 1 + (2 or 3)
    assert "ascites on record, grade not recorded" in result.reason
    assert any(e.record_type == "condition" and e.record_id == "asc" for e in result.evidence)
    check("child_pugh_class = A", patient, False)
    # Abated on or before the as-of date: over, for both.
    for abatement in ("2026-01-15", "2025-12-01"):
        over = person(*LIVER_LABS, conditions=[{**ongoing, "abatement": abatement}], **MAN_65)
        check("has condition [icd10cm R18.8]", over, False)
        assert "no ascites on record" in check("child_pugh >= 9", over, False).reason


def test_child_pugh_with_coded_encephalopathy_without_grade() -> None:
    he = [{"codes": [{"system": "icd10cm", "code": "K76.82"}], "onset": "2025-06-01"}]
    patient = person(*LIVER_LABS, conditions=he, **MAN_65)
    result = check("child_pugh_class = C", patient, None)  # 9 (B) or 10 (C)
    assert result.missing == ("the West Haven grade of hepatic encephalopathy",)
    check("child_pugh >= 9", patient, True)


def test_child_pugh_with_a_recorded_west_haven_grade() -> None:
    he = [{"codes": [{"system": "icd10cm", "code": "K76.82"}], "onset": "2025-06-01"}]
    grade_3 = person(*LIVER_LABS, eligo_coded("west_haven", "3", id="wh"), conditions=he,
                     **MAN_65)
    result = check("child_pugh_class = C", grade_3, True)  # 7 + 3 = 10
    assert "West Haven grade 3" in result.reason
    assert any(e.record_id == "wh" for e in result.evidence)
    grade_1 = person(*LIVER_LABS, eligo_coded("west_haven", "grade 1"), conditions=he,
                     **MAN_65)
    check("child_pugh_class = B", grade_1, True)  # 7 + 2 = 9
    # A stale grade is not used: the coded condition leaves the grade open again.
    stale = person(*LIVER_LABS, eligo_coded("west_haven", "3", days=60), conditions=he,
                   **MAN_65)
    check("child_pugh_class = C", stale, None)


def test_albi_grade() -> None:
    good = person(ob(BILIRUBIN, 0.5, "mg/dL"), ob(ALBUMIN, 4.5, "g/dL"))
    assert scores.albi(0.5 * 17.1, 45).grade == 1
    check("albi_grade = 1", good, True)
    check("albi_grade in [2, 3]", good, False)
    poor = person(*LIVER_LABS)
    check("albi_grade = 1", poor, False)
    check("albi_grade = 2", poor, True)


def test_egfr_and_cockcroft_gault() -> None:
    patient = person(*LIVER_LABS, ob(WEIGHT, 80, "kg", id="wt"), **MAN_65)
    egfr = scores.egfr_ckd_epi_2021(1.5, 65, female=False)
    assert 51 < egfr < 52
    result = check("egfr_ckd_epi_2021 < 60", patient, True)
    assert "age 65" in result.reason
    assert "sex male" in result.reason
    check("egfr_ckd_epi_2021 < 50", patient, False)
    crcl = scores.creatinine_clearance_cockcroft_gault(1.5, 65, 80, female=False)
    assert 55 < crcl < 56
    result = check("crcl_cockcroft_gault < 50 mL/min", patient, False)
    cites(result, WEIGHT, "wt")
    check("crcl_cockcroft_gault < 60 mL/min", patient, True)


def test_fib4_and_apri() -> None:
    labs = (ob(AST, 90, "U/L", reference_high=40, id="ast"), ob(ALT, 64, "U/L", id="alt"),
            ob(PLATELETS, 100, "K/uL", id="plt"))
    patient = person(*labs, **MAN_65)
    # FIB-4 = 65 x 90 / (100 x sqrt 64) = 7.31; APRI = (90 / 40) x 100 / 100 = 2.25.
    assert scores.fib4(65, 90, 64, 100) == pytest.approx(7.3125)
    result = check("fib4 > 3.25", patient, True)
    for code, rid in ((AST, "ast"), (ALT, "alt"), (PLATELETS, "plt")):
        cites(result, code, rid)
    check("fib4 > 7.5", patient, False)
    apri = check("apri > 1.5", patient, True)
    assert "upper limit of normal for Aspartate aminotransferase (AST, SGOT) 40 U/L (the " \
           "laboratory's range)" in apri.reason
    assert [e.record_id for e in apri.evidence].count("ast") == 1
    check("apri > 2.25", patient, False)
    # Without a laboratory range the library's ULN (41 U/L) is used: 90/41 x 100/100 = 2.195.
    library_uln = person(ob(AST, 90, "U/L"), *labs[1:], **MAN_65)
    assert "the library's typical range" in check("apri > 2.25", library_uln, False).reason
    check("apri > 2.19", library_uln, True)


def test_bmi_recorded_value_is_used_first() -> None:
    # Recorded 29; weight and height would give 100 / 1.8^2 = 30.9.
    patient = person(ob(BMI, 29, "kg/m2", id="bmi"), ob(WEIGHT, 100, "kg"),
                     ob(HEIGHT, 180, "cm"))
    result = check("bmi >= 30 kg/m2", patient, False)
    assert [e.record_id for e in result.evidence] == ["bmi"]


def test_bmi_computed_from_weight_and_height_when_none_is_recorded() -> None:
    patient = person(ob(WEIGHT, 100, "kg", id="wt"), ob(HEIGHT, 180, "cm", id="ht"))
    result = check("bmi >= 30 kg/m2", patient, True)
    assert result.reason.startswith("`bmi` 30.9 is >= 30 kg/m2 (from Body weight 100 kg on ")
    cites(result, WEIGHT, "wt")
    cites(result, HEIGHT, "ht")
    # In other units too.
    check("bmi >= 30 kg/m2", person(ob(WEIGHT, 220, "[lb_av]"), ob(HEIGHT, 70, "[in_i]")), True)
    # A stale recorded BMI does not stop the computation from current measurements.
    stale = person(ob(BMI, 25, "kg/m2", days=200), ob(WEIGHT, 100, "kg"), ob(HEIGHT, 180, "cm"))
    check("bmi >= 30 kg/m2", stale, True)
    # Without height it cannot be computed.
    no_height = check("bmi >= 30 kg/m2", person(ob(WEIGHT, 100, "kg")), None)
    assert no_height.missing == ("Body height result in the last 1825 days",)
    both_stale = check("bmi >= 30 kg/m2", person(ob(BMI, 31, "kg/m2", days=200),
                                                 ob(WEIGHT, 100, "kg")), None)
    assert both_stale.reason.startswith("The last Body mass index (31 kg/m2 on ")
    assert "Body height result in the last 1825 days" in both_stale.missing


def test_bmi_recorded_in_a_unit_that_does_not_convert_is_unknown() -> None:
    patient = person(ob(BMI, 31, "kg", id="bmi"), ob(WEIGHT, 100, "kg"), ob(HEIGHT, 180, "cm"))
    result = check("bmi >= 30 kg/m2", patient, None)
    assert "does not convert to kg/m2" in result.reason


def test_bmi_written_bare_means_kg_per_square_metre() -> None:
    recorded = person(ob(BMI, 30, "kg/m2"))
    check("bmi >= 30", recorded, True)
    check("bmi > 30", recorded, False)
    computed = person(ob(WEIGHT, 100, "kg"), ob(HEIGHT, 180, "cm"))
    assert check("bmi >= 30", computed, True).reason.startswith("`bmi` 30.9 is >= 30 ")


def test_egfr_with_its_unit() -> None:
    patient = person(*LIVER_LABS, **MAN_65)
    check("egfr_ckd_epi_2021 < 60 mL/min/{1.73_m2}", patient, True)


@pytest.mark.parametrize("rule", ["egfr_ckd_epi_2021 < 60 mL/min/1.73m2",
                                  "crcl_cockcroft_gault < 0.05 L/min"])
def test_score_units_in_other_spellings_compile(rule: str) -> None:
    compile_text(f'trial T\ninclusion\n  I1 "kidney": {rule}\n'
                 'exclusion\n  E1 "Pregnant": pregnant\n')


@pytest.mark.parametrize(("creatinine", "truth"), [(2.0, True), (1.0, False)])
def test_a_score_bound_in_another_unit_converts(creatinine: float, truth: bool) -> None:
    # Cockcroft-Gault, male, 70 y, 70 kg: (140-70) x 70 / (72 x Cr) = 34.0 (Cr 2.0) or 68.1.
    patient = person(ob(CREATININE, creatinine, "mg/dL"), ob(WEIGHT, 70, "kg"),
                     birth_date="1955-06-01", sex="male")
    for rule in ("crcl_cockcroft_gault < 50 mL/min", "crcl_cockcroft_gault < 0.05 L/min"):
        check(rule, patient, truth)


def test_a_score_unit_of_another_dimension_is_an_error() -> None:
    with pytest.raises(ProtocolError) as err:
        compile_text('trial T\ninclusion\n  I1 "kidney": crcl_cockcroft_gault < 50 mg/dL\n'
                     'exclusion\n  E1 "Pregnant": pregnant\n')
    assert [d.code for d in err.value.diagnostics] == ["unit-mismatch"]


def test_qtcf_recorded_or_computed() -> None:
    recorded = check("qtcf > 450 ms", person(ob(QTCF, 460, "ms", id="qtcf")), True)
    cites(recorded, QTCF, "qtcf")
    # Fridericia: 400 / (60/90)^(1/3) = 457.9.
    assert scores.qtcf(400, heart_rate_bpm=90) == pytest.approx(457.9, abs=0.05)
    computed = check("qtcf > 450 ms", person(ob(QT, 400, "ms", id="qt"),
                                             ob(HEART_RATE, 90, "/min", id="hr")), True)
    cites(computed, QT, "qt")
    cites(computed, HEART_RATE, "hr")
    no_rate = check("qtcf > 450 ms", person(ob(QT, 400, "ms")), None)
    assert no_rate.missing == ("Heart rate result in the last 30 days",)


def test_a_missing_score_input_is_named() -> None:
    patient = person(*(o for o in LIVER_LABS if o["id"] != "creat"), **MAN_65)
    result = check("meld >= 15", patient, None)
    assert "no Creatinine, serum result in the last 30 days" in result.reason
    assert result.missing == ("Creatinine, serum result in the last 30 days",)
    assert screen("meld >= 15", patient).to_resolve == (
        ToResolve("X1", "Creatinine, serum result in the last 30 days"),)
    no_birth = check("egfr_ckd_epi_2021 < 60", person(*LIVER_LABS, sex="male"), None)
    assert no_birth.missing == ("birth date",)


def test_a_stale_score_input_names_its_date_and_the_rule_window() -> None:
    patient = person(ob(BILIRUBIN, 2.5, "mg/dL", days=10, id="bili"),
                     *LIVER_LABS[1:3], **MAN_65)
    check("meld >= 15", patient, True)
    result = check("meld >= 15 within 7 days", patient, None)
    assert (f"the last Bilirubin, total (2.5 mg/dL on {days_ago(10)}) is older than 7 days"
            in result.reason)
    assert result.missing == ("Bilirubin, total result within the last 7 days",)
    cites(result, BILIRUBIN, "bili")


def test_an_impossible_score_input_is_unknown_with_the_reason() -> None:
    result = check("meld >= 15", person(ob(BILIRUBIN, 0, "mg/dL"), *LIVER_LABS[1:3]), None)
    assert "bilirubin_mg_dl must be greater than 0" in result.reason


def test_sex_not_recorded_decides_when_both_sexes_agree() -> None:
    patient = person(*LIVER_LABS, birth_date="1960-05-01")  # no sex
    low, high = sorted(scores.meld_3(2.5, 1.8, 1.5, 130, 3.0, female=f) for f in (False, True))
    assert low < high
    check(f"meld_3 >= {low}", patient, True)
    check(f"meld_3 > {high}", patient, False)
    result = check(f"meld_3 >= {high}", patient, None)
    assert result.reason.startswith(f"`meld_3` could be {low}, {high}")
    assert result.missing == ("the patient's sex (female or male)",)
    check("egfr_ckd_epi_2021 < 60", patient, True)  # 38.4 or 51.3
    assert check("egfr_ckd_epi_2021 < 45", patient, None).missing == (
        "the patient's sex (female or male)",)
    other = person(*LIVER_LABS, birth_date="1960-05-01", sex="other")
    check(f"meld_3 >= {high}", other, None)


# =========================================================================================
# Expressing a value in another unit never changes a verdict
# =========================================================================================


@pytest.mark.parametrize(("si", "conventional", "rules"), [
    # AMA Manual of Style SI conversion factors: bilirubin 17.1, creatinine 88.4,
    # glucose 0.0555 (18.0), albumin 10. The library converts with molar masses (bilirubin
    # 584.66 g/mol: 51.3 umol/L = 2.9993 mg/dL); a converted value keeps the significant
    # digits it was written with, so the tables' pairs are equal.
    (ob(BILIRUBIN_MOLAR, 51.3, "umol/L"), ob(BILIRUBIN, 3.0, "mg/dL"),
     {"bilirubin < 3 mg/dL": False, "bilirubin <= 3 mg/dL": True,
      "bilirubin < 51.3 umol/L": False, "bilirubin <= 51.3 umol/L": True,
      "bilirubin > 2.99 mg/dL": True}),
    (ob(BILIRUBIN_MOLAR, 34.2, "umol/L"), ob(BILIRUBIN, 2.0, "mg/dL"),
     {"bilirubin < 2 mg/dL": False, "bilirubin >= 2 mg/dL": True}),
    (ob("14682-9", 88.4, "umol/L"), ob(CREATININE, 1.0, "mg/dL"),
     {"creatinine < 1 mg/dL": False, "creatinine <= 1 mg/dL": True,
      "creatinine <= 88.4 umol/L": True}),
    (ob("14682-9", 132.6, "umol/L"), ob(CREATININE, 1.5, "mg/dL"),
     {"creatinine > 1.5 mg/dL": False, "creatinine >= 1.5 mg/dL": True}),
    (ob("14749-6", 7.0, "mmol/L"), ob(GLUCOSE, 126, "mg/dL"),
     {"glucose >= 126 mg/dL": True, "glucose > 126 mg/dL": False,
      "glucose >= 7 mmol/L": True}),
    (ob("14749-6", 11.1, "mmol/L"), ob(GLUCOSE, 200, "mg/dL"),
     {"glucose >= 200 mg/dL": True, "glucose < 200 mg/dL": False}),
    (ob(ALBUMIN, 35, "g/L"), ob(ALBUMIN, 3.5, "g/dL"),
     {"albumin < 3.5 g/dL": False, "albumin >= 3.5 g/dL": True, "albumin > 35 g/L": False}),
    (ob(PLATELETS, 100, "K/uL"), ob(PLATELETS, 100, "10*9/L"),
     {"platelets >= 100 10*9/L": True, "platelets < 100000 /uL": False}),
])
def test_conversion_table_pairs_get_the_same_verdict(
        si: dict[str, Any], conventional: dict[str, Any], rules: dict[str, bool]) -> None:
    for rule, truth in rules.items():
        a = check(rule, person(si), truth)
        b = check(rule, person(conventional), truth)
        assert a.status is b.status is TRUTH_STATUS[truth]


def test_bilirubin_51_3_umol_l_reads_as_3_mg_dl() -> None:
    result = check("bilirubin < 3 mg/dL", person(ob(BILIRUBIN_MOLAR, 51.3, "umol/L", id="b")),
                   False)
    assert result.reason == (f"Bilirubin, total 51.3 umol/L on {days_ago(5)} (= 3 mg/dL) is "
                             "not < 3 mg/dL")
    cites(result, BILIRUBIN_MOLAR, "b", "51.3 umol/L")


# The property: a protocol comparing each analyte near its limits and computing scores, a
# patient written once in canonical units and once with every lab value converted (with the
# library's own factors: molar mass for mass <-> amount of substance). Every status must be
# identical. (With the 3-digit factors of the conversion tables -- 17.1, 88.4, 18.0 -- only
# values of 3 significant digits agree exactly, as pinned above: 29.9 mg/dL is 511.3 umol/L
# by the table and 29.89 mg/dL by the molar mass.)

_SCALE = float(os.environ.get("ELIGO_PROPERTY_SCALE", "1"))
PROPERTY = settings(deadline=None, database=None, max_examples=round(120 * _SCALE),
                    suppress_health_check=[HealthCheck.too_slow])

PROPERTY_RULES = (
    "bilirubin < 2 mg/dL", "bilirubin <= 3 mg/dL", "bilirubin < 51.3 umol/L",
    "bilirubin <= 1.5 x ULN", "bilirubin between 17.1 and 34.2 umol/L",
    "creatinine <= 1.5 mg/dL", "creatinine < 132.6 umol/L", "creatinine > 1 mg/dL",
    "albumin >= 3.5 g/dL", "albumin > 28 g/L", "albumin < 2.8 g/dL",
    "glucose < 126 mg/dL", "glucose >= 7 mmol/L", "glucose between 70 and 99 mg/dL",
    "platelets >= 100 10*9/L", "platelets < 50000 /uL", "platelets > 75 K/uL",
    "meld >= 15", "meld_na >= 20", "meld_3 >= 18", "child_pugh >= 7", "child_pugh_class = C",
    "child_pugh_class in [A, B]", "albi_grade = 2", "egfr_ckd_epi_2021 < 60",
    "crcl_cockcroft_gault < 50 mL/min", "fib4 > 3.25", "apri > 1.5",
)


def _property_screener() -> Screener:
    lines = "\n".join(f'  P{i} "rule {i}": {rule}' for i, rule in enumerate(PROPERTY_RULES))
    return Screener(compile_text(f"trial T-UNITS\ninclusion\n{lines}\nexclusion\n{COMPANION}\n"))


SCREENER = _property_screener()

ENTRY = {name: obs.lookup(name) for name in ("bilirubin", "creatinine", "glucose")}
MOLAR = {name: entry.molar_mass for name, entry in ENTRY.items() if entry is not None}


def _grid(low: int, high: int, scale: int, edges: tuple[float, ...]) -> st.SearchStrategy[float]:
    """Values on a laboratory's grid (``k / scale``), often exactly at or next to an edge."""
    near = [round(e + d / scale, 6) for e in edges for d in (-1, 0, 1)]
    return st.one_of(st.sampled_from(near), st.integers(low, high).map(lambda k: k / scale))


bilirubins = _grid(1, 3000, 100, (1.17, 1.755, 2.0, 3.0, 51.3 / 17.10396, 1.0))
creatinines = _grid(20, 1200, 100, (1.0, 1.5, 132.6 / 88.40170))
albumins = _grid(100, 600, 100, (2.8, 3.5))
glucoses = _grid(300, 6000, 10, (70.0, 99.0, 126.0, 126.112))
platelets = _grid(10, 8000, 10, (50.0, 75.0, 100.0))
inrs = _grid(8, 60, 10, (1.7, 2.3))


def _canonical_patient(bili: float, creat: float, alb: float, glu: float, plt: float,
                       inr: float, plt_unit: str) -> Patient:
    return person(
        ob(BILIRUBIN, bili, "mg/dL"), ob(CREATININE, creat, "mg/dL"), ob(ALBUMIN, alb, "g/dL"),
        ob(GLUCOSE, glu, "mg/dL"), ob(PLATELETS, plt, "10*9/L"), ob(INR, inr),
        ob(SODIUM, 131, "mmol/L"), ob(AST, 80, "U/L"), ob(ALT, 50, "U/L"),
        ob(WEIGHT, 70, "kg"), **MAN_65)


def _converted_patient(bili: float, creat: float, alb: float, glu: float, plt: float,
                       inr: float, plt_unit: str) -> Patient:
    per_microlitre = {"K/uL": 1.0, "10*3/uL": 1.0, "/uL": 1000.0, "/mm3": 1000.0}[plt_unit]
    return person(
        ob(BILIRUBIN_MOLAR, bili * 10_000 / MOLAR["bilirubin"], "umol/L"),
        ob("14682-9", creat * 10_000 / MOLAR["creatinine"], "umol/L"),
        ob(ALBUMIN, alb * 10, "g/L"),
        ob("14749-6", glu * 10 / MOLAR["glucose"], "mmol/L"),
        ob(PLATELETS, plt * per_microlitre, plt_unit), ob(INR, inr),
        ob(SODIUM, 131, "mmol/L"), ob(AST, 80, "U/L"), ob(ALT, 50, "U/L"),
        ob(WEIGHT, 70, "kg"), **MAN_65)


@PROPERTY
@given(bilirubins, creatinines, albumins, glucoses, platelets, inrs,
       st.sampled_from(["K/uL", "10*3/uL", "/uL", "/mm3"]))
@example(3.0, 1.5, 3.5, 126.0, 50.0, 1.7, "K/uL")
@example(2.0, 1.0, 2.8, 70.0, 100.0, 2.3, "/uL")
@example(1.75, 1.5, 3.5, 99.0, 75.0, 1.7, "/mm3")
def test_a_lab_value_in_another_unit_never_changes_a_verdict(
        bili: float, creat: float, alb: float, glu: float, plt: float, inr: float,
        plt_unit: str) -> None:
    values = (bili, creat, alb, glu, plt, inr, plt_unit)
    canonical, converted = _canonical_patient(*values), _converted_patient(*values)
    expected = SCREENER.statuses(canonical, AS_OF)
    assert SCREENER.statuses(converted, AS_OF) == expected
    assert SCREENER.verdict(converted, AS_OF) is SCREENER.verdict(canonical, AS_OF)
    explained = SCREENER.screen(converted, AS_OF)
    assert tuple(c.status for c in explained.criteria) == expected
