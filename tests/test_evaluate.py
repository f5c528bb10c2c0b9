"""Unit tests of the evaluation semantics (DESIGN.md "Evaluation semantics").

Each test compiles a tiny protocol with one tested criterion, ``X1``, screens a small
patient built in the test, and checks the truth value, the criterion status, the verdict
and the explanation (reason, evidence, missing). The verdict-only and status-only fast
paths of :class:`eligo.Screener` are checked against the explained result every time.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

import eligo
from eligo import Patient, PatientDataError, Screener, ScreeningResult, Status, Verdict
from eligo.compiler import compile_text
from eligo.patient import load_patient, patient_from_data
from eligo.result import CriterionResult, ToResolve

AS_OF = date(2024, 6, 15)

HEADER = 'trial T-1 "Tiny test protocol"\nversion "v1"\n'

VALUESETS = """
valueset cirrhosis "Liver cirrhosis" = icd10cm K70.3*, K74.6*; snomed 19943007
valueset malignancy "Malignancy" = icd10cm C00-C96
valueset sepsis "Sepsis" = icd10cm A41*
valueset statin "Statin" = atc C10AA05; rxnorm 83367
valueset transplant "Liver transplant" = cpt 47135; snomed 18027006
"""

# Companion criteria that always pass, so the verdict follows the tested criterion X1.
DUMMY_INCLUSION = '  I0 "companion" [closed world]: not has condition [icd10cm Z99.89]'
DUMMY_EXCLUSION = '  E0 "companion" [closed world]: has condition [icd10cm Z99.89]'

VERDICT_FOR = {
    Status.PASS: Verdict.ELIGIBLE,
    Status.FAIL: Verdict.INELIGIBLE,
    Status.UNKNOWN: Verdict.NEEDS_REVIEW,
}


def protocol_text(rule: str, *, exclusion: bool = False, settings: str = "", world: str = "",
                  extra: str = "") -> str:
    tested = f'  X1 "tested"{world}: {rule}'
    inclusion_part = DUMMY_INCLUSION if exclusion else tested
    exclusion_part = tested if exclusion else DUMMY_EXCLUSION
    return (HEADER + settings + VALUESETS + extra
            + f"\ninclusion\n{inclusion_part}\nexclusion\n{exclusion_part}\n")


def screen(rule: str, patient: Patient, as_of: date = AS_OF, *, exclusion: bool = False,
           settings: str = "", world: str = "", extra: str = "",
           fast_paths: bool = True) -> ScreeningResult:
    """Screen ``patient`` against a protocol whose only real criterion is ``X1: rule``."""
    text = protocol_text(rule, exclusion=exclusion, settings=settings, world=world, extra=extra)
    screener = Screener(compile_text(text))
    result = screener.screen(patient, as_of)
    if fast_paths:
        assert screener.verdict(patient, as_of) is result.verdict
        assert screener.statuses(patient, as_of) == tuple(c.status for c in result.criteria)
    return result


def expect(result: ScreeningResult, truth: str, *, exclusion: bool = False) -> CriterionResult:
    """Check X1's truth, its status, the verdict and ``missing``/``to_resolve``; return X1."""
    c = result.criterion("X1")
    assert c.truth == truth, c.reason
    if truth == "unknown":
        status = Status.UNKNOWN
    elif (truth == "true") != exclusion:
        status = Status.PASS
    else:
        status = Status.FAIL
    assert c.status is status
    assert c.kind == ("exclusion" if exclusion else "inclusion")
    assert result.verdict is VERDICT_FOR[status]
    for other in result.criteria:
        if other.id != "X1":
            assert other.status is Status.PASS
    if truth == "unknown":
        assert c.missing, "an UNKNOWN must say what would resolve it"
        assert result.to_resolve == tuple(ToResolve(criterion="X1", item=m) for m in c.missing)
    else:
        assert c.missing == ()
        assert result.to_resolve == ()
    return c


def patient(**fields: Any) -> Patient:
    return Patient.model_validate({"id": "p1", **fields})


def cond(code: str, system: str = "icd10cm", *, id: str = "c1", **fields: Any) -> dict[str, Any]:
    return {"id": id, "codes": [{"system": system, "code": code}], **fields}


def med(code: str, system: str = "atc", *, id: str = "m1", **fields: Any) -> dict[str, Any]:
    return {"id": id, "codes": [{"system": system, "code": code}], **fields}


def proc(code: str, system: str = "cpt", *, id: str = "pr1", **fields: Any) -> dict[str, Any]:
    return {"id": id, "codes": [{"system": system, "code": code}], **fields}


def attest(criterion: str, answer: bool, at: str = "2024-06-10", by: str = "coordinator",
           **fields: Any) -> dict[str, Any]:
    return {"criterion": criterion, "answer": answer, "by": by, "at": at, **fields}


def days_before(n: int, as_of: date = AS_OF) -> str:
    return (as_of - timedelta(days=n)).isoformat()


# ---- age ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "age", "truth"),
    [
        (date(2024, 6, 14), 17, "false"),  # the day before the 18th birthday
        (date(2024, 6, 15), 18, "true"),   # on the birthday
        (date(2024, 6, 16), 18, "true"),   # the day after
    ],
)
def test_age_is_completed_years_at_the_as_of_date(as_of: date, age: int, truth: str) -> None:
    result = screen("age >= 18 years", patient(birth_date="2006-06-15"), as_of)
    c = expect(result, truth)
    assert f"age {age} " in c.reason.lower()
    assert "18 years" in c.reason
    (ev,) = c.evidence
    assert ev.record_type == "patient"
    assert ev.date == date(2006, 6, 15)
    assert ev.date == date(2006, 6, 15)
    assert ev.note == f"age {age} years at {as_of}"


@pytest.mark.parametrize(
    ("as_of", "truth"),
    [
        (date(2006, 6, 14), "false"),  # 17 the day before the 18th birthday
        (date(2006, 6, 15), "true"),   # 18: lower bound inclusive
        (date(2059, 6, 14), "true"),   # 70, the day before the 71st birthday
        (date(2058, 6, 15), "true"),   # 70 on the birthday: upper bound inclusive
        (date(2059, 6, 15), "false"),  # 71
    ],
)
def test_age_between_is_inclusive(as_of: date, truth: str) -> None:
    result = screen("age between 18 and 70 years", patient(birth_date="1988-06-15"), as_of)
    c = expect(result, truth)
    assert "18–70 years" in c.reason
    assert ("within" if truth == "true" else "outside") in c.reason


@pytest.mark.parametrize(
    ("rule", "birth", "as_of", "shown", "truth"),
    [
        ("age < 6 months", "2024-01-15", date(2024, 7, 14), "age 5 ", "true"),
        ("age < 6 months", "2024-01-15", date(2024, 7, 15), "age 6 ", "false"),
        ("age between 6 and 24 months", "2022-06-15", date(2024, 6, 15), "age 24 ", "true"),
        ("age between 6 and 24 months", "2022-06-15", date(2024, 7, 15), "age 25 ", "false"),
        ("age >= 6 weeks", "2024-05-01", date(2024, 6, 12), "age 6 ", "true"),   # day 42
        ("age >= 6 weeks", "2024-05-01", date(2024, 6, 11), "age 5 ", "false"),  # day 41
        ("age <= 28 days", "2024-06-01", date(2024, 6, 29), "age 28 ", "true"),
        ("age <= 28 days", "2024-06-01", date(2024, 6, 30), "age 29 ", "false"),
    ],
)
def test_age_units(rule: str, birth: str, as_of: date, shown: str, truth: str) -> None:
    c = expect(screen(rule, patient(birth_date=birth), as_of), truth)
    assert shown in c.reason.lower()
    unit = rule.split()[-1]
    assert c.evidence[0].note is not None
    assert unit in c.evidence[0].note


def test_age_in_list() -> None:
    c = expect(screen("age in [17, 18]", patient(birth_date="2006-06-15")), "true")
    assert "one of 17, 18" in c.reason
    expect(screen("age in [17, 18]", patient(birth_date="2000-06-15")), "false")


@pytest.mark.parametrize("rule", ["age >= 18", "age between 18 and 70 years", "age in [18]"])
def test_missing_birth_date_is_unknown(rule: str) -> None:
    c = expect(screen(rule, patient(sex="female")), "unknown")
    assert c.missing == ("birth date",)
    assert "no birth date" in c.reason
    assert c.evidence == ()


def test_birth_date_after_as_of_is_unknown() -> None:
    result = screen("age >= 18", patient(birth_date="2030-01-01"), fast_paths=False)
    c = expect(result, "unknown")
    assert "after the as-of date" in c.reason
    assert c.missing == ("a valid birth date",)


@pytest.mark.parametrize("rule", ["age >= 18", "age < 18"])
def test_birth_date_after_as_of_fast_paths_agree(rule: str) -> None:
    screen(rule, patient(birth_date="2030-01-01"))  # asserts the fast paths agree


# ---- sex ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "sex", "truth"),
    [
        ("sex = female", "female", "true"),
        ("sex = female", "male", "false"),
        ("sex != male", "female", "true"),
        ("sex != male", "other", "true"),
        ("sex != male", "male", "false"),
        ("sex in [female, other]", "other", "true"),
        ("sex in [female, other]", "male", "false"),
    ],
)
def test_sex(rule: str, sex: str, truth: str) -> None:
    c = expect(screen(rule, patient(sex=sex)), truth)
    assert f"sex is {sex}" in c.reason.lower()
    (ev,) = c.evidence
    assert ev.record_type == "patient"
    assert ev.value == sex


@pytest.mark.parametrize("sex", [None, "unknown"])
@pytest.mark.parametrize("rule", ["sex = female", "sex != male", "sex in [female, male]"])
def test_missing_or_unknown_sex_is_unknown(rule: str, sex: str | None) -> None:
    c = expect(screen(rule, patient(sex=sex)), "unknown")
    assert c.missing == ("sex",)
    assert "not recorded" in c.reason


# ---- has condition -------------------------------------------------------------------------


def test_active_condition_matches_with_evidence() -> None:
    p = patient(conditions=[cond("K74.60", id="dx-7", onset="2020-03-01",
                                 clinical_status="active")])
    result = screen("has condition cirrhosis", p)
    c = expect(result, "true")
    assert c.expression == "has condition cirrhosis"
    assert "K74.60" in c.reason
    assert "`cirrhosis`" in c.reason
    assert "Liver cirrhosis" in c.reason
    (ev,) = c.evidence
    assert (ev.record_type, ev.record_id, ev.system, ev.code) == (
        "condition", "dx-7", "icd10cm", "K74.60")
    assert ev.date == date(2020, 3, 1)
    assert ev.note == "active"


@pytest.mark.parametrize(
    ("status", "truth"),
    [
        ("active", "true"), ("recurrence", "true"), ("relapse", "true"), (None, "true"),
        ("resolved", "false"), ("inactive", "false"), ("remission", "false"),
    ],
)
def test_condition_clinical_status(status: str | None, truth: str) -> None:
    p = patient(conditions=[cond("K74.60", onset="2020-01-01", clinical_status=status)])
    c = expect(screen("has condition cirrhosis", p), truth)
    if truth == "false":
        assert "no active condition in value set `cirrhosis`" in c.reason.lower()
        assert "1 matching record not counted" in c.reason
        assert [e.record_id for e in c.evidence] == ["c1"]


@pytest.mark.parametrize(
    ("abatement", "truth"),
    [
        ("2024-06-14", "false"),  # resolved the day before the as-of date
        ("2020-01-01", "false"),
        ("2024-06-16", "true"),   # resolved only after the as-of date: active then
    ],
)
def test_condition_abatement_relative_to_as_of(abatement: str, truth: str) -> None:
    p = patient(conditions=[cond("K74.60", onset="2019-01-01", abatement=abatement,
                                 clinical_status="resolved")])
    c = expect(screen("has condition cirrhosis", p), truth)
    assert c.evidence[0].record_id == "c1"
    assert f"abated {abatement}" in (c.evidence[0].note or "")


@pytest.mark.parametrize("verification", ["refuted", "entered-in-error"])
@pytest.mark.parametrize("query", ["has condition", "has history of condition"])
def test_refuted_and_entered_in_error_never_count(query: str, verification: str) -> None:
    p = patient(conditions=[cond("K74.60", onset="2020-01-01", clinical_status="active",
                                 verification_status=verification)])
    c = expect(screen(f"{query} cirrhosis", p), "false")
    assert "among 1 condition on record" in c.reason


@pytest.mark.parametrize("verification", ["confirmed", "unconfirmed", "provisional"])
def test_other_verification_statuses_count(verification: str) -> None:
    p = patient(conditions=[cond("K74.60", verification_status=verification)])
    expect(screen("has condition cirrhosis", p), "true")


def test_refuted_record_explanation_says_refuted() -> None:
    p = patient(conditions=[cond("K74.60", onset="2020-01-01", clinical_status="active",
                                 verification_status="refuted")])
    c = expect(screen("has condition cirrhosis", p), "false")
    shown = c.reason + " ".join(e.note or "" for e in c.evidence)
    assert "refuted" in shown


@pytest.mark.parametrize(("onset", "truth"), [("2024-06-16", "false"), ("2024-06-15", "true")])
@pytest.mark.parametrize("query", ["has condition", "has history of condition"])
def test_onset_after_as_of_does_not_count(query: str, onset: str, truth: str) -> None:
    p = patient(conditions=[cond("K74.60", onset=onset, clinical_status="active")])
    expect(screen(f"{query} cirrhosis", p), truth)


@pytest.mark.parametrize(
    ("system", "code", "shown"),
    [
        ("http://hl7.org/fhir/sid/icd-10-cm", "K74.60", "K74.60"),
        ("http://hl7.org/fhir/sid/icd-10-cm/", "k7460", "K74.60"),
        ("icd10cm", "k7460", "K74.60"),
        ("ICD10CM", " K74.60 ", "K74.60"),
        ("icd10cm", "K7030", "K70.30"),
        ("http://snomed.info/sct", "19943007", "19943007"),
        ("snomed", "19943007", "19943007"),
    ],
)
def test_code_spellings_are_normalised(system: str, code: str, shown: str) -> None:
    p = patient(conditions=[cond(code, system)])
    c = expect(screen("has condition cirrhosis", p), "true")
    assert c.evidence[0].code == shown
    assert c.evidence[0].system in ("icd10cm", "snomed")
    assert shown in c.reason


@pytest.mark.parametrize(
    ("code", "truth"),
    [
        ("K74.6", "true"), ("K74.60", "true"), ("K74.69", "true"),  # K74.6* and descendants
        ("K70.30", "true"), ("K70.31", "true"),                       # K70.3*
        ("K74.5", "false"), ("K74.0", "false"), ("K70.4", "false"), ("K70.2", "false"),
    ],
)
def test_icd10cm_descendants(code: str, truth: str) -> None:
    expect(screen("has condition cirrhosis", patient(conditions=[cond(code)])), truth)


@pytest.mark.parametrize(
    ("code", "truth"),
    [
        ("C00.0", "true"), ("C22.0", "true"), ("C4A.9", "true"), ("C7A.00", "true"),
        ("C7B.8", "true"), ("C96", "true"), ("C96.9", "true"), ("C96.Z", "true"),
        ("D00.0", "false"), ("D49.9", "false"), ("B99.9", "false"), ("Z85.3", "false"),
    ],
)
def test_icd10cm_ranges(code: str, truth: str) -> None:
    c = expect(screen("has condition malignancy", patient(conditions=[cond(code)])), truth)
    if truth == "true":
        assert c.evidence[0].code == code


@pytest.mark.parametrize(
    ("system", "code", "truth"),
    [
        ("snomed", "19943007", "true"),
        ("snomed", "199430071", "false"),   # not a descendant match: SNOMED is exact
        ("snomed", "1994300", "false"),
        ("icd10cm", "19943007", "false"),   # right code, wrong system
        ("http://hl7.org/fhir/sid/icd-10", "K74.60", "false"),  # WHO ICD-10 is not ICD-10-CM
        ("http://example.org/local", "K74.60", "false"),
    ],
)
def test_snomed_exact_and_systems_kept_apart(system: str, code: str, truth: str) -> None:
    expect(screen("has condition cirrhosis", patient(conditions=[cond(code, system)])), truth)


def test_inline_codes() -> None:
    p = patient(conditions=[cond("C22.0", id="hcc")])
    c = expect(screen("has condition [icd10cm C22.0, K74.6*]", p), "true")
    assert "[icd10cm C22.0, K74.6*]" in c.reason
    assert c.evidence[0].record_id == "hcc"
    c = expect(screen("has condition [snomed 19943007]", p), "false")
    assert "[snomed 19943007]" in c.reason


def test_first_matching_active_record_wins_over_resolved_ones() -> None:
    p = patient(conditions=[
        cond("K74.60", id="old", clinical_status="resolved"),
        cond("E11.9", id="diabetes"),
        cond("K74.69", id="current", clinical_status="active"),
    ])
    c = expect(screen("has condition cirrhosis", p), "true")
    assert [e.record_id for e in c.evidence] == ["current"]


# ---- has history of condition ------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"clinical_status": "resolved", "onset": "2001-01-01", "abatement": "2002-01-01"},
        {"clinical_status": "remission"},
        {"clinical_status": "inactive", "abatement": "2024-06-14"},
        {"clinical_status": "active"},
    ],
)
def test_history_counts_resolved_records(fields: dict[str, Any]) -> None:
    p = patient(conditions=[cond("C22.0", id="hcc", **fields)])
    c = expect(screen("has history of condition malignancy", p), "true")
    assert c.evidence[0].record_id == "hcc"
    assert "C22.0" in c.reason


def test_history_with_no_record_is_false() -> None:
    p = patient(conditions=[cond("K74.60")])
    c = expect(screen("has history of condition malignancy", p), "false")
    assert "no condition in value set `malignancy`" in c.reason.lower()
    assert "among 1 condition on record" in c.reason


# ---- time windows --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("abatement", "truth"),
    [
        ("2024-05-16", "true"),   # 30 days before 2024-06-15: first day of the window
        ("2024-05-15", "false"),  # 31 days before: just outside
        ("2024-06-15", "true"),
        ("2024-01-01", "false"),
    ],
)
def test_window_overlap_by_abatement(abatement: str, truth: str) -> None:
    p = patient(conditions=[cond("A41.9", id="sep", onset="2024-01-01", abatement=abatement,
                                 clinical_status="resolved")])
    c = expect(screen("has condition sepsis within 30 days", p), truth)
    assert "within the last 30 days" in c.reason
    assert c.evidence[0].record_id == "sep"
    if truth == "false":
        assert "outside the time asked" in c.reason


def test_window_still_active_condition_with_old_onset() -> None:
    p = patient(conditions=[cond("A41.9", onset="2010-01-01", clinical_status="active")])
    c = expect(screen("has condition sepsis within 30 days", p), "true")
    assert "counts within the last 30 days" in c.reason


def test_window_resolved_on_unknown_date_onset_inside() -> None:
    p = patient(conditions=[cond("A41.9", onset="2024-06-01", clinical_status="resolved")])
    expect(screen("has condition sepsis within 30 days", p), "true")


@pytest.mark.parametrize("onset", ["2024-01-01", None])
def test_window_resolved_on_unknown_date_onset_before_is_unknown(onset: str | None) -> None:
    p = patient(conditions=[cond("A41.9", id="sep", onset=onset, clinical_status="resolved")])
    c = expect(screen("has condition sepsis within 30 days", p), "unknown")
    assert "A41.9" in c.reason
    assert "dates do not show whether it counts within the last 30 days" in c.reason
    assert c.missing == ("abatement (end) date of condition A41.9",)
    assert [e.record_id for e in c.evidence] == ["sep"]


def test_window_onset_after_as_of_does_not_count() -> None:
    p = patient(conditions=[cond("A41.9", onset="2024-06-20", clinical_status="active")])
    expect(screen("has condition sepsis within 30 days", p), "false")


@pytest.mark.parametrize(
    ("as_of", "rule", "abatement", "truth"),
    [
        # 2024-03-31 minus 1 month is clamped to the end of February (leap year)
        (date(2024, 3, 31), "within 1 months", "2024-02-29", "true"),
        (date(2024, 3, 31), "within 1 months", "2024-02-28", "false"),
        (date(2023, 3, 31), "within 1 months", "2023-02-28", "true"),
        (date(2023, 3, 31), "within 1 months", "2023-02-27", "false"),
        (date(2024, 5, 31), "within 3 months", "2024-02-29", "true"),
        (date(2024, 5, 31), "within 3 months", "2024-02-28", "false"),
        (date(2024, 2, 29), "within 1 years", "2023-02-28", "true"),
        (date(2024, 2, 29), "within 1 years", "2023-02-27", "false"),
        (date(2024, 6, 15), "within 2 weeks", "2024-06-01", "true"),
        (date(2024, 6, 15), "within 2 weeks", "2024-05-31", "false"),
        (date(2024, 6, 15), "within 5 years", "2019-06-15", "true"),
        (date(2024, 6, 15), "within 5 years", "2019-06-14", "false"),
    ],
)
def test_window_arithmetic(as_of: date, rule: str, abatement: str, truth: str) -> None:
    p = patient(conditions=[cond("A41.9", onset="2015-01-01", abatement=abatement)])
    expect(screen(f"has condition sepsis {rule}", p, as_of), truth)


def test_history_with_window_uses_overlap() -> None:
    rule = "has history of condition malignancy within 5 years"
    old = patient(conditions=[cond("C22.0", onset="2010-01-01", abatement="2015-01-01")])
    recent = patient(conditions=[cond("C22.0", onset="2010-01-01", abatement="2020-01-01")])
    c = expect(screen(rule, old), "false")
    assert "no condition in value set `malignancy`" in c.reason.lower()
    assert "within the last 5 years" in c.reason
    expect(screen(rule, recent), "true")


# ---- taking medication -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "truth"),
    [
        ({"status": "active", "start": "2020-01-01"}, "true"),
        ({"status": None}, "true"),
        ({"status": "on-hold"}, "true"),
        ({"status": "active", "end": "2024-06-14"}, "false"),   # ended the day before
        ({"status": "active", "end": "2024-06-15"}, "true"),    # last dose on the as-of date
        ({"status": "completed", "end": "2024-07-01"}, "true"),  # still taking then
        ({"status": "stopped"}, "false"),
        ({"status": "completed"}, "false"),
        ({"status": "intended"}, "false"),
        ({"status": "not-taken"}, "false"),
        ({"status": "entered-in-error"}, "false"),
        ({"status": "intended", "start": "2024-01-01", "end": "2025-01-01"}, "false"),
        ({"status": "active", "start": "2024-06-16"}, "false"),  # starts after the as-of date
    ],
)
def test_taking_medication(fields: dict[str, Any], truth: str) -> None:
    p = patient(medications=[med("C10AA05", id="rx-1", **fields)])
    c = expect(screen("taking medication statin", p), truth)
    if truth == "true":
        (ev,) = c.evidence
        assert (ev.record_type, ev.record_id, ev.system, ev.code) == (
            "medication", "rx-1", "atc", "C10AA05")
        assert "C10AA05" in c.reason
    else:
        assert "no current medication in value set `statin`" in c.reason.lower()
        assert "among 1 medication on record" in c.reason


@pytest.mark.parametrize(
    ("system", "code"),
    [("atc", "c10aa05"), ("http://www.whocc.no/atc", "C10AA05"),
     ("http://www.nlm.nih.gov/research/umls/rxnorm", "83367")],
)
def test_medication_code_spellings(system: str, code: str) -> None:
    p = patient(medications=[med(code, system, status="active")])
    expect(screen("taking medication statin", p), "true")


@pytest.mark.parametrize(
    ("fields", "truth"),
    [
        ({"start": "2023-01-01", "end": "2024-03-15"}, "true"),   # first day of the window
        ({"start": "2023-01-01", "end": "2024-03-14"}, "false"),
        ({"start": "2010-01-01", "status": "active"}, "true"),
        ({"start": "2024-04-01", "status": "stopped"}, "true"),   # began inside the window
        ({"start": "2024-06-20", "status": "active"}, "false"),
        ({"start": "2024-04-01", "status": "not-taken"}, "false"),
    ],
)
def test_medication_window_overlap(fields: dict[str, Any], truth: str) -> None:
    p = patient(medications=[med("C10AA05", **fields)])
    c = expect(screen("taking medication statin within 3 months", p), truth)
    assert "within the last 3 months" in c.reason


def test_medication_stopped_on_unknown_date_before_window_is_unknown() -> None:
    p = patient(medications=[med("C10AA05", id="rx-9", start="2023-01-01", status="stopped")])
    c = expect(screen("taking medication statin within 3 months", p), "unknown")
    assert c.missing == ("end date of medication C10AA05",)
    assert c.evidence[0].record_id == "rx-9"


# ---- had procedure -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "truth"),
    [
        ({"date": "2001-01-01", "status": "completed"}, "true"),
        ({"date": "2024-06-15"}, "true"),
        ({}, "true"),  # no date, no window: it happened
        ({"date": "2020-01-01", "status": "not-done"}, "false"),
        ({"date": "2020-01-01", "status": "entered-in-error"}, "false"),
        ({"date": "2020-01-01", "status": "preparation"}, "false"),
        ({"date": "2024-06-16", "status": "completed"}, "false"),  # after the as-of date
    ],
)
def test_had_procedure(fields: dict[str, Any], truth: str) -> None:
    p = patient(procedures=[proc("47135", id="op-1", **fields)])
    c = expect(screen("had procedure transplant", p), truth)
    if truth == "true":
        (ev,) = c.evidence
        assert (ev.record_type, ev.record_id, ev.code) == ("procedure", "op-1", "47135")
    else:
        assert "no procedure in value set `transplant`" in c.reason.lower()


@pytest.mark.parametrize("status", ["stopped", "in-progress"])
def test_unfinished_procedures_do_not_count(status: str) -> None:
    p = patient(procedures=[proc("47135", date="2024-01-01", status=status)])
    expect(screen("had procedure transplant", p), "false")


@pytest.mark.parametrize(
    ("day", "truth"),
    [("2023-06-15", "true"), ("2023-06-14", "false"), ("2024-06-15", "true"),
     ("2024-06-16", "false")],
)
def test_procedure_window_is_a_point_in_time(day: str, truth: str) -> None:
    p = patient(procedures=[proc("18027006", "snomed", date=day, status="completed")])
    c = expect(screen("had procedure transplant within 12 months", p), truth)
    assert "within the last 12 months" in c.reason


def test_procedure_without_date_in_a_window_is_unknown() -> None:
    p = patient(procedures=[proc("47135", id="op-2", status="completed")])
    c = expect(screen("had procedure transplant within 12 months", p), "unknown")
    assert "47135" in c.reason
    assert len(c.missing) == 1
    assert "47135" in c.missing[0]
    assert c.evidence[0].record_id == "op-2"


def test_procedure_without_date_asks_for_its_date() -> None:
    p = patient(procedures=[proc("47135", status="completed")])
    c = expect(screen("had procedure transplant within 12 months", p), "unknown")
    assert "end date" not in c.missing[0]
    assert "date" in c.missing[0]


# ---- closed and open world ---------------------------------------------------------------


def test_closed_world_no_record_is_false_and_says_what_was_searched() -> None:
    p = patient(conditions=[cond("K74.60", id="a"), cond("E11.9", id="b")])
    c = expect(screen("has condition malignancy", p, exclusion=True), "false", exclusion=True)
    assert c.reason == ("No active condition in value set `malignancy` (Malignancy) "
                        "among 2 conditions on record")
    assert c.evidence == ()


def test_closed_world_with_no_records_at_all() -> None:
    c = expect(screen("taking medication statin", patient()), "false")
    assert "among 0 medications" in c.reason
    c = expect(screen("had procedure transplant", patient()), "false")
    assert "among 0 procedures" in c.reason


OPEN_MISSING = ("whether the patient has active condition in value set `malignancy` "
                "(Malignancy)",)


def test_assume_open_world_makes_absence_unknown() -> None:
    p = patient(conditions=[cond("K74.60")])
    result = screen("has condition malignancy", p, exclusion=True,
                    settings="assume open world\n")
    c = expect(result, "unknown", exclusion=True)
    assert "absence is not proof" in c.reason
    assert "among 1 condition on record" in c.reason
    assert c.missing == OPEN_MISSING


def test_open_world_criterion_override() -> None:
    result = screen("has condition malignancy", patient(), exclusion=True, world=" [open world]")
    c = expect(result, "unknown", exclusion=True)
    assert c.missing == OPEN_MISSING


def test_closed_world_criterion_override_in_open_world_file() -> None:
    result = screen("has condition malignancy", patient(), exclusion=True,
                    settings="assume open world\n", world=" [closed world]")
    c = expect(result, "false", exclusion=True)
    assert "absence is not proof" not in c.reason


def test_open_world_record_present_is_true() -> None:
    p = patient(conditions=[cond("C22.0", id="hcc")])
    c = expect(screen("has condition malignancy", p, exclusion=True,
                      settings="assume open world\n"), "true", exclusion=True)
    assert c.evidence[0].record_id == "hcc"


def test_open_world_only_resolved_record_is_unknown() -> None:
    p = patient(conditions=[cond("C22.0", id="hcc", clinical_status="resolved")])
    c = expect(screen("has condition malignancy", p, exclusion=True, world=" [open world]"),
               "unknown", exclusion=True)
    assert c.missing == OPEN_MISSING
    assert [e.record_id for e in c.evidence] == ["hcc"]


def test_open_world_applies_to_medications_and_procedures() -> None:
    c = expect(screen("taking medication statin", patient(), world=" [open world]"), "unknown")
    assert c.missing == ("whether the patient has current medication in value set `statin` "
                         "(Statin)",)
    c = expect(screen("had procedure transplant within 12 months", patient(),
                      world=" [open world]"), "unknown")
    assert "procedure" in c.missing[0]
    assert "within the last 12 months" in c.missing[0]


# ---- pregnancy ---------------------------------------------------------------------------

WOMAN_30 = {"sex": "female", "birth_date": "1994-01-01"}


@pytest.mark.parametrize(
    ("status", "age_days", "truth"),
    [
        ("pregnant", 10, "true"),
        ("pregnant", 280, "true"),
        ("pregnant", 281, "unknown"),
        ("not_pregnant", 0, "false"),
        ("not_pregnant", 30, "false"),
        ("not_pregnant", 31, "unknown"),
        ("unknown", 1, "unknown"),
    ],
)
def test_recorded_pregnancy_status_and_staleness(status: str, age_days: int, truth: str) -> None:
    p = patient(**WOMAN_30, pregnancy={"status": status, "date": days_before(age_days)})
    c = expect(screen("pregnant", p, exclusion=True), truth, exclusion=True)
    if truth == "unknown":
        assert c.missing == ("current pregnancy status (e.g. a pregnancy test)",)
        if status != "unknown":
            limit = 280 if status == "pregnant" else 30
            assert f"older than {limit} days" in c.reason
    else:
        said = status.replace("_", " ")
        assert f"recorded as {said} on {days_before(age_days)}" in c.reason
        (ev,) = c.evidence
        assert (ev.record_type, ev.value) == ("pregnancy", said)


@pytest.mark.parametrize("birth_date", ["1994-01-01", None])
def test_pregnancy_male_is_false_not_applicable(birth_date: str | None) -> None:
    p = patient(sex="male", birth_date=birth_date)
    c = expect(screen("pregnant", p, exclusion=True), "false", exclusion=True)
    assert "male" in c.reason.lower()
    assert "does not apply" in c.reason
    assert c.evidence[0].value == "male"


@pytest.mark.parametrize(
    ("birth_date", "truth"),
    [
        ("1968-06-15", "false"),  # 56
        ("1969-06-15", "unknown"),  # 55: inside the band
        ("2014-06-15", "unknown"),  # 10: inside the band
        ("2014-06-16", "false"),  # 9
    ],
)
def test_pregnancy_female_outside_childbearing_age(birth_date: str, truth: str) -> None:
    p = patient(sex="female", birth_date=birth_date)
    c = expect(screen("pregnant", p, exclusion=True), truth, exclusion=True)
    if truth == "false":
        assert "outside child-bearing age 10–55" in c.reason
        assert c.evidence[0].date == date.fromisoformat(birth_date)


@pytest.mark.parametrize(
    "fields",
    [WOMAN_30, {"sex": "female"}, {"sex": "unknown", "birth_date": "1994-01-01"}, {}],
)
def test_pregnancy_status_missing_is_unknown(fields: dict[str, Any]) -> None:
    c = expect(screen("pregnant", patient(**fields), exclusion=True), "unknown", exclusion=True)
    assert "pregnancy status is not recorded" in c.reason.lower()
    assert c.missing == ("current pregnancy status (e.g. a pregnancy test)",)


def test_stale_status_still_false_for_a_male() -> None:
    p = patient(sex="male", pregnancy={"status": "not_pregnant", "date": "2020-01-01"})
    expect(screen("pregnant", p, exclusion=True), "false", exclusion=True)


@pytest.mark.parametrize(
    ("system", "code"),
    [("icd10cm", "Z33.1"), ("icd10cm", "Z34.00"), ("icd10cm", "O09.511"),
     ("snomed", "77386006")],
)
def test_active_pregnancy_condition_is_true(system: str, code: str) -> None:
    p = patient(**WOMAN_30, conditions=[cond(code, system, id="preg", onset=days_before(60))],
                pregnancy={"status": "not_pregnant", "date": days_before(200)})
    c = expect(screen("pregnant", p, exclusion=True), "true", exclusion=True)
    assert "active pregnancy condition" in c.reason.lower()
    assert code in c.reason
    assert c.evidence[0].record_id == "preg"
    assert c.evidence[0].code == code


@pytest.mark.parametrize(
    "fields",
    [{"clinical_status": "resolved"}, {"verification_status": "refuted"},
     {"abatement": "2024-06-01"}, {"onset": "2024-06-20"}],
)
def test_pregnancy_condition_that_does_not_count(fields: dict[str, Any]) -> None:
    p = patient(**WOMAN_30, conditions=[cond("Z33.1", **fields)])
    expect(screen("pregnant", p, exclusion=True), "unknown", exclusion=True)


@pytest.mark.parametrize("status", ["pregnant", "not_pregnant"])
def test_pregnancy_status_dated_after_as_of_is_ignored(status: str) -> None:
    p = patient(**WOMAN_30, pregnancy={"status": status, "date": "2024-09-01"})
    c = expect(screen("pregnant", p, exclusion=True), "unknown", exclusion=True)
    assert c.missing == ("current pregnancy status (e.g. a pregnancy test)",)


def test_undated_not_pregnant_status_does_not_rule_pregnancy_out() -> None:
    p = patient(**WOMAN_30, pregnancy={"status": "not_pregnant"})
    expect(screen("pregnant", p, exclusion=True), "unknown", exclusion=True)


def test_pregnancy_condition_older_than_a_term_is_not_proof() -> None:
    p = patient(**WOMAN_30, conditions=[cond("Z33.1", onset="2022-06-01",
                                             clinical_status="active")])
    expect(screen("pregnant", p, exclusion=True), "unknown", exclusion=True)


# ---- manual criteria ---------------------------------------------------------------------

CONSENT = 'manual "Written informed consent signed"'


def test_manual_without_attestation_is_unknown() -> None:
    c = expect(screen(CONSENT, patient()), "unknown")
    assert "Written informed consent signed" in c.reason
    assert c.missing == ("attestation for X1: Written informed consent signed",)


@pytest.mark.parametrize(("answer", "truth", "word"), [(True, "true", "yes"),
                                                         (False, "false", "no")])
def test_manual_attested(answer: bool, truth: str, word: str) -> None:
    p = patient(attestations=[attest("X1", answer, by="Dr Ofori", note="copy on file")])
    c = expect(screen(CONSENT, p), truth)
    assert f"attested {word} by Dr Ofori" in c.reason
    (ev,) = c.evidence
    assert (ev.record_type, ev.value, ev.display) == (
        "attestation", word, "Written informed consent signed")
    assert ev.note is not None
    assert ev.note.startswith("by Dr Ofori")
    assert ev.note.endswith("(copy on file)")


def test_date_only_attestation_stays_a_date() -> None:
    p = patient(attestations=[attest("X1", True, at="2024-06-10")])
    result = screen(CONSENT, p)
    (ev,) = expect(result, "true").evidence
    assert type(ev.date) is date
    assert ev.note == "by coordinator"
    assert '"date":"2024-06-10"' in result.model_dump_json()


@pytest.mark.parametrize("order", [1, -1])
def test_latest_attestation_wins(order: int) -> None:
    attestations = [attest("X1", True, at="2024-06-01", by="first"),
                    attest("X1", False, at="2024-06-10", by="second")][::order]
    c = expect(screen(CONSENT, patient(attestations=attestations)), "false")
    assert "by second" in c.reason


def test_attestation_for_another_criterion_is_ignored() -> None:
    p = patient(attestations=[attest("I0", True), attest("E0", True)])
    c = expect(screen(CONSENT, p), "unknown")
    assert c.missing == ("attestation for X1: Written informed consent signed",)


def test_item_targets_one_of_several_manual_parts() -> None:
    rule = 'manual "Consent signed" and manual "Able to attend visits"'
    one = patient(attestations=[attest("X1", True, item="Consent signed")])
    c = expect(screen(rule, one), "unknown")
    assert c.missing == ("attestation for X1: Able to attend visits",)
    both = patient(attestations=[attest("X1", True, item="Consent signed"),
                                 attest("X1", True, item="Able to attend visits")])
    c = expect(screen(rule, both), "true")
    assert len(c.evidence) == 2
    other_item = patient(attestations=[attest("X1", True, item="Something else")])
    c = expect(screen(rule, other_item), "unknown")
    assert len(c.missing) == 2


def test_attestation_without_item_answers_every_manual_part() -> None:
    rule = 'manual "Consent signed" and manual "Able to attend visits"'
    expect(screen(rule, patient(attestations=[attest("X1", True)])), "true")


def test_false_and_manual_is_false_without_attestation() -> None:
    rule = 'has condition malignancy and manual "Tumour progressing per investigator"'
    p = patient(conditions=[cond("K74.60")])
    c = expect(screen(rule, p, exclusion=True), "false", exclusion=True)
    assert "no active condition in value set `malignancy`" in c.reason.lower()
    assert "Tumour" not in c.reason


def test_true_and_manual_needs_the_attestation() -> None:
    rule = 'has condition malignancy and manual "Tumour progressing per investigator"'
    p = patient(conditions=[cond("C22.0")])
    c = expect(screen(rule, p, exclusion=True), "unknown", exclusion=True)
    assert c.missing == ("attestation for X1: Tumour progressing per investigator",)
    p = patient(conditions=[cond("C22.0")], attestations=[attest("X1", False)])
    expect(screen(rule, p, exclusion=True), "false", exclusion=True)


def test_true_or_manual_is_true_without_attestation() -> None:
    rule = 'has condition malignancy or manual "Other severe disease per investigator"'
    p = patient(conditions=[cond("C22.0", id="hcc")])
    c = expect(screen(rule, p, exclusion=True), "true", exclusion=True)
    assert c.evidence[0].record_id == "hcc"


def test_attestation_with_a_time_of_day() -> None:
    p = patient(attestations=[attest("X1", True, at="2024-06-10T14:30:00")])
    result = screen(CONSENT, p)
    c = expect(result, "true")
    assert c.evidence[0].date == date(2024, 6, 10)
    assert '"date":"2024-06-10"' in result.model_dump_json()


def test_latest_attestation_across_time_zones() -> None:
    # 10:00+02:00 is 08:00 UTC, an hour before the 09:00 UTC answer, which must win.
    p = patient(attestations=[attest("X1", True, at="2024-06-10T10:00:00+02:00"),
                              attest("X1", False, at="2024-06-10T09:00:00+00:00")])
    screener = Screener(compile_text(protocol_text(CONSENT)))
    assert screener.statuses(p, AS_OF)[0] is Status.FAIL


# ---- logic -------------------------------------------------------------------------------

AT_LEAST = 'at least 2 of (sex = female, age >= 18, manual "Lives near the site")'


@pytest.mark.parametrize(
    ("fields", "truth", "head"),
    [
        ({"sex": "female", "birth_date": "1990-01-01"}, "true", "2 of 3 hold, 2 needed, 1 unknown"),
        ({"sex": "male", "birth_date": "1990-01-01"}, "unknown",
         "1 of 3 hold, 2 needed, 1 unknown"),
        ({"sex": "male", "birth_date": "2010-01-01"}, "false",
         "0 of 3 hold, 2 needed, 1 unknown"),
        ({"sex": "male", "birth_date": "2010-01-01",
          "attestations": [attest("X1", True)]}, "false", "1 of 3 hold, 2 needed"),
        ({"sex": "male", "birth_date": "1990-01-01",
          "attestations": [attest("X1", True)]}, "true", "2 of 3 hold, 2 needed"),
    ],
)
def test_at_least_n_of(fields: dict[str, Any], truth: str, head: str) -> None:
    c = expect(screen(AT_LEAST, patient(**fields)), truth)
    assert c.reason.startswith(head[:1].upper() + head[1:] + ":")
    if truth == "unknown":
        assert c.missing == ("attestation for X1: Lives near the site",)


@pytest.mark.parametrize(
    ("rule", "truth"),
    [
        ("sex = female and age >= 18", "unknown"),   # TRUE and UNKNOWN
        ("sex = male and age >= 18", "false"),       # FALSE and UNKNOWN
        ("sex = female or age >= 18", "true"),       # TRUE or UNKNOWN
        ("sex = male or age >= 18", "unknown"),      # FALSE or UNKNOWN
        ("not age >= 18", "unknown"),                # not UNKNOWN
        ("not sex = male", "true"),
        ("not (sex = male or age >= 18)", "unknown"),
        ("not (sex = female or age >= 18)", "false"),
        ("(sex = female or sex = male) and not (sex = male and age >= 18)", "true"),
        ("(sex = male or age >= 18) and sex = female", "unknown"),
    ],
)
def test_kleene_logic(rule: str, truth: str) -> None:
    c = expect(screen(rule, patient(sex="female")), truth)  # no birth date: age is UNKNOWN
    if truth == "unknown":
        assert c.missing == ("birth date",)


def test_false_and_unknown_explains_only_the_deciding_part() -> None:
    c = expect(screen("sex = male and age >= 18", patient(sex="female")), "false")
    assert c.reason == "Sex is female, which is not male"
    assert [e.value for e in c.evidence] == ["female"]


def test_not_keeps_the_inner_missing_items() -> None:
    rule = 'not (has condition malignancy or manual "Suspected malignancy")'
    c = expect(screen(rule, patient()), "unknown")
    assert c.missing == ("attestation for X1: Suspected malignancy",)
    c = expect(screen(rule, patient(conditions=[cond("C22.0")])), "false")
    assert "C22.0" in c.reason


DEFINES = """
define liver = has condition cirrhosis or manual "Cirrhosis on imaging per investigator"
define adult_liver = liver and age >= 18
"""


def test_defines_referenced_from_several_criteria() -> None:
    text = (HEADER + VALUESETS + DEFINES
            + '\ninclusion\n  I1 "Cirrhosis": liver\n  I2 "Adult with cirrhosis": adult_liver\n'
            + 'exclusion\n  E1 "No cirrhosis": not liver\n')
    screener = Screener(compile_text(text))
    sick = patient(birth_date="1970-01-01", conditions=[cond("K74.60", id="dx")])
    result = screener.screen(sick, AS_OF)
    assert result.verdict is Verdict.ELIGIBLE
    assert [c.status for c in result.criteria] == [Status.PASS, Status.PASS, Status.PASS]
    i1, i2, e1 = result.criteria
    assert i1.reason.startswith("`liver`: condition ICD-10-CM K74.60")
    assert "`liver`: condition" in i2.reason
    assert i2.evidence[0].record_id == "dx"
    assert e1.truth == "false"
    assert e1.expression == "not liver"

    # Manual parts inside a define are answered per criterion that uses it.
    unknown = patient(birth_date="1970-01-01", attestations=[attest("I1", True)])
    result = screener.screen(unknown, AS_OF)
    assert result.verdict is Verdict.NEEDS_REVIEW
    assert [c.truth for c in result.criteria] == ["true", "unknown", "unknown"]
    assert result.to_resolve == (
        ToResolve(criterion="I2", item="attestation for I2: Cirrhosis on imaging per investigator"),
        ToResolve(criterion="E1", item="attestation for E1: Cirrhosis on imaging per investigator"),
    )
    assert screener.verdict(unknown, AS_OF) is Verdict.NEEDS_REVIEW


# ---- verdict logic -------------------------------------------------------------------------

VERDICT_PROTOCOL = HEADER + VALUESETS + """
inclusion
  I1 "Adult": age >= 18
  I2 "Cirrhosis": has condition cirrhosis
exclusion
  E1 "Malignancy": has condition malignancy
  E2 "Investigator concern": manual "Investigator has a concern"
"""


def verdict_screen(p: Patient) -> ScreeningResult:
    screener = Screener(compile_text(VERDICT_PROTOCOL))
    result = screener.screen(p, AS_OF)
    assert screener.verdict(p, AS_OF) is result.verdict
    return result


def test_all_pass_is_eligible() -> None:
    p = patient(birth_date="1970-01-01", conditions=[cond("K74.60")],
                attestations=[attest("E2", False)])
    result = verdict_screen(p)
    assert result.verdict is Verdict.ELIGIBLE
    assert [c.truth for c in result.criteria] == ["true", "true", "false", "false"]
    assert all(c.status is Status.PASS for c in result.criteria)
    assert result.failing == ()
    assert result.unknown == ()
    assert result.to_resolve == ()


def test_exclusion_true_fails() -> None:
    p = patient(birth_date="1970-01-01", conditions=[cond("K74.60"), cond("C22.0", id="hcc")],
                attestations=[attest("E2", False)])
    result = verdict_screen(p)
    assert result.verdict is Verdict.INELIGIBLE
    assert result.failing == ("E1",)
    assert result.criterion("E1").status is Status.FAIL


def test_ineligible_beats_needs_review() -> None:
    p = patient(birth_date="2010-01-01", conditions=[cond("K74.60")])
    result = verdict_screen(p)
    assert result.verdict is Verdict.INELIGIBLE
    assert result.failing == ("I1",)
    assert result.unknown == ("E2",)
    assert result.to_resolve == ()


def test_needs_review_lists_missing_items_of_unknown_criteria_only() -> None:
    p = patient(conditions=[cond("K74.60")])  # no birth date
    result = verdict_screen(p)
    assert result.verdict is Verdict.NEEDS_REVIEW
    assert result.unknown == ("I1", "E2")
    assert result.to_resolve == (
        ToResolve(criterion="I1", item="birth date"),
        ToResolve(criterion="E2", item="attestation for E2: Investigator has a concern"),
    )


def test_decided_criteria_with_unknown_parts_add_nothing_to_resolve() -> None:
    rule = 'has condition cirrhosis or manual "Cirrhosis per investigator"'
    result = screen(rule, patient(conditions=[cond("K74.60")]))
    c = expect(result, "true")
    assert c.missing == ()
    assert result.to_resolve == ()


# ---- result metadata and purity ----------------------------------------------------------


def test_result_metadata() -> None:
    text = protocol_text("sex = female")
    result = Screener(compile_text(text)).screen(patient(sex="female"), AS_OF)
    assert result.protocol_id == "T-1"
    assert result.protocol_version == "v1"
    assert result.protocol_hash == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    assert result.engine_version == eligo.__version__
    assert result.as_of == AS_OF
    assert result.patient_id == "p1"
    assert [c.id for c in result.criteria] == ["X1", "E0"]
    x1 = result.criterion("X1")
    assert (x1.text, x1.kind, x1.expression) == ("tested", "inclusion", "sex = female")


def test_protocol_hash_follows_the_text() -> None:
    a = compile_text(protocol_text("sex = female"))
    b = compile_text(protocol_text("sex = female") + "# a comment\n")
    assert a.source_hash != b.source_hash
    assert a == b  # same rules, different source


def test_protocol_without_version() -> None:
    text = protocol_text("sex = female").replace('version "v1"\n', "")
    result = Screener(compile_text(text)).screen(patient(sex="female"), AS_OF)
    assert result.protocol_version is None


def test_result_round_trips_through_json() -> None:
    p = patient(sex="female", birth_date="1990-01-01", conditions=[cond("K74.60")])
    result = screen("has condition cirrhosis and age >= 18 and sex = female", p)
    assert ScreeningResult.model_validate_json(result.model_dump_json()) == result


def test_screening_is_pure() -> None:
    p = patient(sex="female", birth_date="1990-01-01",
                conditions=[cond("K74.60"), cond("A41.9", onset="2024-06-01")],
                medications=[med("C10AA05", status="active")],
                procedures=[proc("47135")],
                pregnancy={"status": "not_pregnant", "date": "2024-06-01"},
                attestations=[attest("X1", True)])
    other = patient(sex="male")
    before = p.model_dump()
    rule = ('has condition cirrhosis and has condition sepsis within 30 days and '
            'taking medication statin and had procedure transplant and not pregnant and '
            'manual "Consent"')
    screener = Screener(compile_text(protocol_text(rule)))
    first = screener.screen(p, AS_OF)
    screener.screen(other, AS_OF)
    second = screener.screen(p, AS_OF)
    assert first == second
    assert first.criterion("X1").truth == "true"
    assert p.model_dump() == before
    # a later as-of date changes only what depends on it
    later = screener.screen(p, date(2024, 8, 1))
    # the not-pregnant status (2024-06-01) is stale 61 days later
    assert later.criterion("X1").truth == "unknown"
    assert later.criterion("X1").missing == ("current pregnancy status (e.g. a pregnancy test)",)
    assert screener.screen(p, AS_OF) == first


# ---- patient data errors -----------------------------------------------------------------


def data_error(data: Any) -> PatientDataError:
    with pytest.raises(PatientDataError) as info:
        patient_from_data(data, "inline")
    return info.value


CONDITION = {"codes": [{"system": "icd10cm", "code": "K74.60"}]}


@pytest.mark.parametrize(
    ("data", "path", "value"),
    [
        ({"id": "p", "conditions": [{**CONDITION, "onset": "2020-13-01"}]},
         "conditions[0].onset", '"2020-13-01"'),
        ({"id": "p", "birth_date": "1990-02-30"}, "birth_date", '"1990-02-30"'),
        ({"id": "p", "birth_date": "yesterday"}, "birth_date", '"yesterday"'),
        ({"id": "p", "sex": "F"}, "sex", '"F"'),
        ({"id": "p", "gender": "female"}, "gender", '"female"'),
        ({"id": "p", "conditions": [{**CONDITION, "code": "K74.60"}]},
         "conditions[0].code", '"K74.60"'),
        ({"id": "p", "conditions": [CONDITION, {**CONDITION, "clinical_status": "cured"}]},
         "conditions[1].clinical_status", '"cured"'),
        ({"id": "p", "conditions": "K74.60"}, "conditions", '"K74.60"'),
        ({"id": "p", "medications": [{"codes": [{"system": "atc", "code": 7}]}]},
         "medications[0].codes[0].code", "7"),
        ({"id": "p", "pregnancy": {"status": "yes"}}, "pregnancy.status", '"yes"'),
        ({"id": "p", "attestations": [{"criterion": "I3", "answer": "maybe", "by": "x",
                                       "at": "2024-01-01"}]},
         "attestations[0].answer", '"maybe"'),
    ],
)
def test_patient_data_error_names_path_and_value(data: dict[str, Any], path: str,
                                                 value: str) -> None:
    err = data_error(data)
    text = err.render()
    assert text.startswith("error[invalid-patient]: inline:")
    assert f"  {path}: " in text
    assert f"(got {value})" in text
    assert any(issue.path == path for issue in err.issues)
    assert str(err) == text


def test_patient_data_error_reports_every_problem() -> None:
    err = data_error({"sex": "F", "birth_date": "soon", "extra": 1})
    assert {i.path for i in err.issues} == {"id", "sex", "birth_date", "extra"}
    assert "4 problems" in err.render()
    missing_id = next(i for i in err.issues if i.path == "id")
    assert missing_id.value is None  # nothing to show for a missing field


def test_empty_codes_are_rejected() -> None:
    err = data_error({"id": "p", "conditions": [{"codes": []}]})
    assert err.issues[0].path == "conditions[0].codes"


@pytest.mark.parametrize(("data", "kind"), [([1, 2], "list"), (None, "nothing"), ("p", "str")])
def test_document_must_be_an_object(data: Any, kind: str) -> None:
    err = data_error(data)
    assert err.issues[0].path == "(document)"
    assert f"expected an object, got {kind}" in err.render()


def test_numeric_birth_date_is_rejected() -> None:
    err = data_error({"id": "p", "birth_date": 0})
    assert err.issues[0].path == "birth_date"


def test_valid_data_is_normalised() -> None:
    p, fixture = patient_from_data({
        "id": "p", "conditions": [{"codes": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                              "code": "k7460"}]}]})
    assert fixture is None
    assert p.conditions[0].codes[0].system == "icd10cm"
    assert p.conditions[0].codes[0].code == "K74.60"


def test_load_patient_json_and_yaml(tmp_path: Path) -> None:
    data = {"id": "p-json", "birth_date": "1970-01-01", "sex": "female",
            "conditions": [{"codes": [{"system": "icd10cm", "code": "k7460"}],
                            "onset": "2020-01-01"}]}
    json_file = tmp_path / "p.json"
    json_file.write_text(json.dumps(data), encoding="utf-8")
    from_json, _ = load_patient(json_file)
    assert from_json.birth_date == date(1970, 1, 1)
    assert from_json.conditions[0].codes[0].code == "K74.60"

    yaml_file = tmp_path / "p.YML"
    yaml_file.write_text(
        "id: p-yaml\nbirth_date: 1970-01-01\nsex: female\nconditions:\n"
        "  - codes: [{system: icd10cm, code: k7460}]\n    onset: 2020-01-01\n",
        encoding="utf-8")
    from_yaml, _ = load_patient(yaml_file)
    assert from_yaml.model_dump(exclude={"id"}) == from_json.model_dump(exclude={"id"})


def test_load_fixture_document(tmp_path: Path) -> None:
    path = tmp_path / "fixture.yaml"
    path.write_text(
        "fixture:\n  protocol: NCT01224327\n  as_of: 2024-06-15\n  verdict: NEEDS_REVIEW\n"
        "  unknown: [I3]\npatient:\n  id: p-fix\n", encoding="utf-8")
    p, fixture = load_patient(path)
    assert p.id == "p-fix"
    assert fixture is not None
    assert (fixture.protocol, fixture.as_of, fixture.verdict, fixture.unknown) == (
        "NCT01224327", date(2024, 6, 15), "NEEDS_REVIEW", ("I3",))


def load_error(path: Path) -> PatientDataError:
    with pytest.raises(PatientDataError) as info:
        load_patient(path)
    err = info.value
    assert err.__cause__ is None
    # raised `from None` (or outside any handler): no chained traceback
    assert err.__context__ is None or err.__suppress_context__
    assert "Traceback" not in err.render()
    assert str(path) in err.render()
    return err


def test_malformed_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"id": "p",\n  "sex": }\n', encoding="utf-8")
    err = load_error(path)
    assert err.issues[0].path == "line 2 column 10"
    assert "invalid JSON" in err.render()


def test_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: p\nsex: [female\nbirth_date: 1970-01-01\n", encoding="utf-8")
    err = load_error(path)
    assert err.issues[0].path.startswith("line ")
    assert " column " in err.issues[0].path
    assert "invalid YAML" in err.render()


def test_invalid_field_in_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"id": "p", "conditions": [{**CONDITION, "onset": "2020-13-01"}]}),
                    encoding="utf-8")
    err = load_error(path)
    assert "conditions[0].onset" in err.render()
    assert '"2020-13-01"' in err.render()


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    err = load_error(tmp_path / "absent.json")
    assert err.issues[0].path == "(file)"
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"id": "Jos\xe9"}'.encode("latin-1"))
    err = load_error(latin)
    assert "not UTF-8" in err.render()


def test_empty_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert "expected an object, got nothing" in load_error(path).render()


def test_impossible_yaml_date_is_a_patient_data_error(tmp_path: Path) -> None:
    path = tmp_path / "bad-date.yaml"
    path.write_text("id: p\nbirth_date: 1990-13-01\n", encoding="utf-8")
    err = load_error(path)
    assert "birth_date" in err.render() or "line 2" in err.render()
