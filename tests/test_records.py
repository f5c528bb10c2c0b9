"""Planned procedures, family history, one named study, marital status, and the course of a
disease (progression, recurrence): each construct's TRUE / FALSE / UNKNOWN cases, its
missing-data case, its compile errors, and a print -> parse round trip of generated rule
objects.

As in test_expressiveness, each test compiles a tiny protocol whose criterion X1 is the rule
under test, screens a patient, and checks the explained truth against the verdict-only and
status-only paths.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import test_expressiveness as expressiveness
from eligo import rules as r
from eligo.compiler import compile_text
from eligo.parse import parse_protocol
from eligo.printer import expr_text, protocol_text
from eligo.result import CriterionResult
from eligo.source import Source

AS_OF = date(2025, 6, 15)

DECLARATIONS = """
use anticoagulants
valueset breast_cancer "Breast cancer" = icd10cm C50*
valueset lung_cancer "Lung cancer" = icd10cm C34*
valueset cholecystectomy "Cholecystectomy" = cpt 47562, 47563
"""


def source(rule: str, *, extra: str = "", **options: Any) -> str:
    return expressiveness.source(rule, extra=DECLARATIONS + extra, **options)


def check(rule: str, fields: dict[str, Any], truth: str, *, extra: str = "",
          **options: Any) -> CriterionResult:
    """X1's explained result, after checking its truth and that the fast paths agree."""
    return expressiveness.check(rule, fields, truth, extra=DECLARATIONS + extra, **options)


def compile_error(rule: str, *, extra: str = "", **options: Any) -> str:
    return expressiveness.compile_error(rule, extra=DECLARATIONS + extra, **options)


def day(offset: int) -> str:
    """The as-of date moved by ``offset`` days (negative: before it)."""
    return (AS_OF + timedelta(days=offset)).isoformat()


def coded(code: str, system: str = "icd10cm", **fields: Any) -> dict[str, Any]:
    return {"codes": [{"system": system, "code": code}], **fields}


# ---- planned procedures ----------------------------------------------------------------------


def plan(offset: int | None = 10, status: str | None = "active", code: str = "47562",
         **fields: Any) -> dict[str, Any]:
    return {"id": "sr1", **coded(code, "cpt", status=status, **fields),
            **({"date": day(offset)} if offset is not None else {})}


@pytest.mark.parametrize(("rule", "plans", "truth", "said"), [
    ("scheduled for procedure cholecystectomy", [plan(10)], "true",
     f"is scheduled for {day(10)}"),
    ("scheduled for procedure cholecystectomy", [plan(0)], "true", f"for {day(0)}"),
    ("scheduled for procedure cholecystectomy", [plan(400)], "true", "is scheduled"),
    ("scheduled for procedure cholecystectomy", [plan(-5)], "false",
     "1 matching request not counted"),
    ("scheduled for procedure cholecystectomy", [plan(None)], "true", "without a date yet"),
    ("scheduled for procedure cholecystectomy", [plan(10, None)], "true", "is scheduled"),
    ("scheduled for procedure cholecystectomy", [plan(10, "draft")], "false", "not active"),
    ("scheduled for procedure cholecystectomy", [plan(10, "on-hold")], "false",
     "no active planned procedure"),
    ("scheduled for procedure cholecystectomy", [plan(10, "completed")], "false",
     "no active planned procedure"),
    ("scheduled for procedure cholecystectomy", [plan(10, "revoked")], "false",
     "no active planned procedure"),
    ("scheduled for procedure cholecystectomy", [plan(10, "entered-in-error")], "false",
     "no active planned procedure"),
    ("scheduled for procedure cholecystectomy", [plan(10, "unknown")], "unknown",
     "its status is unknown"),
    ("scheduled for procedure cholecystectomy", [plan(10, code="44950")], "false",
     "among 1 planned procedure on record"),
    ("scheduled for procedure cholecystectomy", [], "false", "among 0 planned procedures"),
    ("scheduled for procedure cholecystectomy within 30 days", [plan(10)], "true",
     "within the next 30 days"),
    ("scheduled for procedure cholecystectomy within 30 days", [plan(31)], "false",
     "scheduled within the next 30 days among"),
    ("scheduled for procedure cholecystectomy within 30 days", [plan(30)], "true",
     f"for {day(30)}"),
    ("scheduled for procedure cholecystectomy within 1 month", [plan(30)], "true",
     "within the next 1 months"),
    ("scheduled for procedure cholecystectomy within 1 month", [plan(31)], "false",
     "not counted"),
    ("scheduled for procedure cholecystectomy within 2 weeks", [plan(None)], "unknown",
     "it has no scheduled date"),
    ("scheduled for procedure cholecystectomy within 2 weeks", [plan(None), plan(3)], "true",
     f"for {day(3)}"),
    ("scheduled for procedure cholecystectomy within 2 weeks", [plan(-1)], "false",
     "not counted"),
])
def test_planned_procedures(rule: str, plans: list[dict[str, Any]], truth: str,
                            said: str) -> None:
    c = check(rule, {"planned_procedures": plans}, truth)
    assert said in c.reason
    if truth == "true":
        assert [e.record_id for e in c.evidence] == ["sr1"]
        assert c.evidence[0].record_type == "planned_procedure"


def test_planned_procedure_missing_data_names_what_is_missing() -> None:
    c = check("scheduled for procedure cholecystectomy within 2 weeks",
              {"planned_procedures": [plan(None)]}, "unknown")
    assert c.missing == ("the scheduled date of planned procedure 47562",)
    c = check("scheduled for procedure cholecystectomy", {"planned_procedures": [plan(3,
              "unknown")]}, "unknown")
    assert c.missing == ("the status of planned procedure 47562",)


def test_planned_procedure_absence_in_an_open_world_criterion_is_unknown() -> None:
    c = check("scheduled for procedure cholecystectomy", {}, "unknown", world=" [open world]")
    assert "absence is not proof" in c.reason
    check("scheduled for procedure cholecystectomy", {}, "unknown",
          settings="assume open world")


def test_planned_procedure_compile_errors() -> None:
    assert "`within 0 days` is an empty window" in compile_error(
        "scheduled for procedure cholecystectomy within 0 days")
    assert "`anticoagulants` is a value set of medications, not procedures" in compile_error(
        "scheduled for procedure anticoagulants")
    assert "unexpected `ever`" in compile_error("scheduled for procedure cholecystectomy ever")


def test_scheduled_and_family_stay_names() -> None:
    extra = ("valueset scheduled = icd10cm C50*\nvalueset family = icd10cm C34*\n"
             "define study = has condition family\n")
    check("has condition scheduled for at least 3 months or study",
          {"conditions": [coded("C34.11", onset=day(-10))]}, "true", extra=extra)


# ---- family history ---------------------------------------------------------------------------


def relative(relationship: str, code: str = "C50.911", **fields: Any) -> dict[str, Any]:
    return {"id": f"fh-{relationship}", "relationship": relationship, **coded(code, **fields)}


@pytest.mark.parametrize(("rule", "history", "options", "truth", "said"), [
    ("family history of breast_cancer", [relative("mother", onset_age_years=45)], {}, "true",
     "mother had ICD-10-CM C50.911"),
    ("family history of breast_cancer", [relative("aunt")], {}, "true", "aunt had"),
    ("family history of breast_cancer in first degree relative", [relative("sister")], {},
     "true", "sister had"),
    ("family history of breast_cancer in first-degree relatives", [relative("child")], {},
     "true", "child had"),
    ("family history of breast_cancer in first degree relative", [relative("aunt")], {},
     "unknown", "1 match in other relatives"),
    ("family history of breast_cancer in first degree relative",
     [relative("grandmother"), relative("cousin")], {"world": " [closed world]"}, "false",
     "2 matches in other relatives"),
    ("family history of breast_cancer", [], {}, "unknown", "family history is rarely complete"),
    ("family history of breast_cancer", [relative("father", "C34.11")], {}, "unknown",
     "among 1 family history record"),
    ("family history of breast_cancer", [], {"world": " [closed world]"}, "false",
     "no family history of value set `breast_cancer`"),
    ("family history of breast_cancer", [], {"settings": "assume family history recorded"},
     "false", "among 0 family history records"),
    ("family history of breast_cancer", [],
     {"settings": "assume family history recorded", "world": " [open world]"}, "unknown",
     "rarely complete"),
    ("family history of breast_cancer", [], {"settings": "assume open world"}, "unknown",
     "rarely complete"),
    ("family history of breast_cancer", [],
     {"settings": "assume research participation recorded"}, "unknown", "rarely complete"),
])
def test_family_history(rule: str, history: list[dict[str, Any]], options: dict[str, Any],
                        truth: str, said: str) -> None:
    c = check(rule, {"family_history": history}, truth, **options)
    assert said in c.reason
    if truth == "true":
        assert c.evidence[0].record_type == "family_history"
        assert c.evidence[0].record_id == history[0]["id"]


def test_family_history_asks_the_patient() -> None:
    c = check("family history of breast_cancer in first degree relative", {}, "unknown")
    assert c.missing == ("ask the patient whether a first-degree relative had value set "
                         "`breast_cancer` (Breast cancer)",)
    c = check("family history of breast_cancer", {"family_history": [relative(
        "mother", onset_age_years=45)]}, "true")
    assert c.evidence[0].note == "mother, onset at age 45"


def test_family_history_compile_errors() -> None:
    assert "`anticoagulants` is a value set of medications, not conditions" in compile_error(
        "family history of anticoagulants")
    assert "unknown value set `brest_cancer`" in compile_error("family history of brest_cancer")
    assert "expected `first degree relative`" in compile_error(
        "family history of breast_cancer in mother")


# ---- one named study -----------------------------------------------------------------------------


def study(nct: str = "NCT01234567", **fields: Any) -> dict[str, Any]:
    return {"id": "rs1", "study": nct, **fields}


@pytest.mark.parametrize(("rule", "research", "options", "truth", "said"), [
    ('enrolled in study "NCT01234567"', [study(status="on-study", start=day(-100))], {},
     "true", "enrolled in NCT01234567"),
    ('enrolled in study "nct01234567"', [study(" NCT01234567 ", status="on-study")], {},
     "true", "enrolled in"),
    ('enrolled in study " NCT01234567 "', [study(status="follow-up")], {}, "true",
     "enrolled in"),
    ('enrolled in study "NCT01234567"', [study("NCT07654321", status="on-study")], {},
     "unknown", "rarely recorded"),
    ('enrolled in study "NCT01234567"', [study("NCT07654321", status="on-study")],
     {"world": " [closed world]"}, "false", "among 1 study on record"),
    ('enrolled in study "NCT01234567"', [],
     {"settings": "assume research participation recorded"}, "false",
     "no record of participation in study NCT01234567"),
    ('enrolled in study "NCT01234567"', [],
     {"settings": "assume family history recorded"}, "unknown", "rarely recorded"),
    ('enrolled in study "NCT01234567"',
     [study(status="off-study", start=day(-400), end=day(-60))], {"world": " [closed world]"},
     "false", "no record of"),
    ('enrolled in study "NCT01234567" ever',
     [study(status="off-study", start=day(-400), end=day(-60))], {}, "true", "at any time"),
    ('enrolled in study "NCT01234567" within 90 days',
     [study(status="off-study", start=day(-400), end=day(-60))], {}, "true",
     "within the last 90 days"),
    ('enrolled in study "NCT01234567" within 30 days',
     [study(status="off-study", start=day(-400), end=day(-60))], {"world": " [closed world]"},
     "false", "no record of"),
    ('enrolled in study "NCT01234567" within 90 days', [study(status="off-study")], {},
     "unknown", "do not show"),
    ('enrolled in study "NCT01234567"', [study(status="screening")],
     {"world": " [closed world]"}, "false", "no record of"),
    ('enrolled in study "NCT00000001"', [study("NCT00000001", status="on-study")], {},
     "true", "enrolled in NCT00000001"),
    ('enrolled in study "CTMS-2291"', [study("ctms-2291", status="on-study")], {}, "true",
     "enrolled in ctms-2291"),
])
def test_enrolled_in_a_named_study(rule: str, research: list[dict[str, Any]],
                                   options: dict[str, Any], truth: str, said: str) -> None:
    c = check(rule, {"research": research}, truth, **options)
    assert said in c.reason
    if research and research[0]["study"].strip().upper() in rule.upper():
        assert [e.record_id for e in c.evidence] == ["rs1"]


def test_named_study_asks_the_patient_and_another_study_is_unchanged() -> None:
    c = check('enrolled in study "NCT01234567" within 30 days', {}, "unknown")
    assert c.missing == ("ask the patient whether they took part in study NCT01234567 within "
                         "the last 30 days",)
    own = [study("NCT00000001", status="on-study")]
    check("enrolled in another study", {"research": own}, "false", world=" [closed world]")


def test_named_study_compile_errors() -> None:
    assert "a study needs its identifier" in compile_error('enrolled in study "  "')
    assert "is empty" in compile_error('enrolled in study "X" between 6 and 1 months ago')
    assert "expected a quoted text" in compile_error("enrolled in study NCT1")
    assert "expected `another study` or `study`" in compile_error('enrolled in "NCT1"')


# ---- marital status -----------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "fields", "truth", "said"), [
    ("marital_status = married", {"marital_status": "married"}, "true",
     "recorded as married, which is married"),
    ("marital_status = married", {"marital_status": "never_married"}, "false",
     "recorded as never married, which is not married"),
    ("marital_status != married", {"marital_status": "divorced"}, "true", "divorced"),
    ("marital_status != married", {"marital_status": "married"}, "false", "married"),
    ("marital_status in [married, domestic_partner, common_law]",
     {"marital_status": "domestic_partner"}, "true", "domestic partner"),
    ("marital_status in [divorced, widowed]", {"marital_status": "legally_separated"}, "false",
     "legally separated"),
    ("marital_status = unmarried", {"marital_status": "never_married"}, "false",
     "not unmarried"),
    ("marital_status = married", {}, "unknown", "not recorded"),
    ("marital_status != married", {"marital_status": "unknown"}, "unknown",
     "recorded as unknown"),
])
def test_marital_status(rule: str, fields: dict[str, Any], truth: str, said: str) -> None:
    c = check(rule, fields, truth)
    assert said in c.reason
    if truth == "unknown":
        assert c.missing == ("marital status",)
    else:
        assert c.evidence[0].display == "marital status"


def test_marital_status_is_unknown_in_either_world() -> None:
    check("marital_status = married", {}, "unknown", world=" [closed world]")


@pytest.mark.parametrize(("rule", "said"), [
    ("marital_status = maried", "`maried` is not a value of marital_status"),
    ("marital_status = maried", "did you mean `married`?"),
    ("marital_status = unknown", "`marital_status = unknown` can never hold"),
    ("marital_status >= married", "marital_status has no order"),
    ('marital_status = "married"', "marital_status values are words, not quoted text"),
    ("marital_status = married within 3 months", "`marital_status` has no time to look at"),
    ("marital_status", "for example `marital_status = married`"),
    ("marital_stat = married", "did you mean `marital_status`?"),
])
def test_marital_status_compile_errors(rule: str, said: str) -> None:
    assert said in compile_error(rule)


def test_marital_status_cannot_name_a_define() -> None:
    assert "`marital_status` is a patient field" in compile_error(
        "age >= 18", extra="define marital_status = age > 30 years\n")


# ---- disease progression ---------------------------------------------------------------------

CANCERS = [coded("C50.911", id="c1", onset=day(-900)), coded("C34.11", id="c2", onset=day(-300))]


def status(kind: str, offset: int | None, condition: str | None = "c1",
           sid: str | None = None) -> dict[str, Any]:
    return {"id": sid or f"ds-{kind}-{offset}", "status": kind,
            **({"condition": condition} if condition else {}),
            **({"date": day(offset)} if offset is not None else {})}


def course(*statuses: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"conditions": CANCERS, "disease_statuses": list(statuses), **fields}


@pytest.mark.parametrize(("rule", "fields", "truth", "said"), [
    ("has disease progression", course(status("progression", -30)), "true",
     f"latest disease status of condition c1 on {day(-30)}: progression"),
    ("has disease progression", course(status("progression", -60), status("stable", -10)),
     "false", "stable disease"),
    ("has disease progression", course(status("stable", -60), status("improved", -10),
                                       status("remission", -5, "c2")), "false",
     "remission (not detected)"),
    ("has disease progression", course(status("stable", -10), status("progression", -20, "c2")),
     "true", "condition c2"),
    ("has disease progression", course(status("uncertain", -10)), "unknown", "uncertain"),
    ("has disease progression", course(status("progression", -90), status("uncertain", -10)),
     "unknown", "uncertain"),
    ("has disease progression", course(status("progression", 5)), "false",
     "no disease status among 1 assessment"),
    ("has disease progression", course(), "false", "among 0 assessments"),
    ("has disease progression", course(status("progression", None, None)), "true",
     "(undated): progression"),
    ("has disease progression",
     course(status("progression", None), status("stable", -300)), "false", "stable"),
    ("has disease progression of breast_cancer", course(status("progression", -10)), "true",
     "condition c1"),
    ("has disease progression of breast_cancer", course(status("progression", -10, "c2")),
     "false", "no disease status of value set `breast_cancer`"),
    ("has disease progression of breast_cancer", course(status("progression", -10, None)),
     "false", "1 assessment not linked to any condition, so not read"),
    ("has disease progression of breast_cancer", course(status("progression", -10, "c9")),
     "false", "no disease status"),
    ("has disease progression of lung_cancer",
     course(status("progression", -10, "c2"), conditions=[
         coded("C34.11", id="c2", verification_status="refuted")]), "false",
     "no disease status"),
    ("has disease progression within 30 days", course(status("progression", -10)), "true",
     "progression, within the last 30 days"),
    ("has disease progression within 30 days",
     course(status("progression", -10), status("stable", -2)), "true", "progression"),
    ("has disease progression within 30 days", course(status("progression", -60)), "false",
     "no disease progression within the last 30 days among 1 assessment"),
    ("has disease progression within 30 days", course(status("uncertain", -10)), "unknown",
     "uncertain: it does not show whether the disease progressed within the last 30 days"),
    ("has disease progression within 30 days", course(status("progression", None)),
     "unknown", "it has no date to place it within the last 30 days"),
    ("has disease progression ever", course(status("progression", None)), "true",
     "at any time"),
    ("has disease progression between 1 and 6 months ago",
     course(status("progression", -100)), "true", "between 1 and 6 months ago"),
])
def test_disease_progression(rule: str, fields: dict[str, Any], truth: str,
                             said: str) -> None:
    c = check(rule, fields, truth)
    assert said in c.reason
    if truth == "true":
        assert c.evidence[0].record_type == "disease_status"
        assert c.evidence[0].value == "progression"


TAXANE = {"medications": [coded("L01CD01", "atc", start=day(-100), status="active")]}


@pytest.mark.parametrize(("fields", "options", "truth", "said"), [
    (course(status("progression", -50), **TAXANE), {}, "true",
     "since the first medication in [atc L01CD*]"),
    (course(status("progression", -150), **TAXANE), {}, "false", "no disease progression"),
    (course(status("progression", -50)), {}, "false", "there is no event to count from"),
    (course(status("progression", -50)), {"world": " [open world]"}, "unknown",
     "there is no event to count from"),
    (course(status("progression", -50), medications=[coded("L01CD01", "atc")]), {}, "unknown",
     "has no date"),
])
def test_disease_progression_since_a_treatment(fields: dict[str, Any], options: dict[str, Any],
                                               truth: str, said: str) -> None:
    rule = "has disease progression of breast_cancer since first medication [atc L01CD*]"
    assert said in check(rule, fields, truth, **options).reason


def test_disease_progression_missing_data() -> None:
    c = check("has disease progression", course(status("uncertain", -10)), "unknown")
    assert c.missing == ("a current assessment of the disease status",)
    c = check("has disease progression of breast_cancer within 3 months",
              course(status("progression", None, sid="ds9")), "unknown")
    assert c.missing == ("the date of the disease status assessment ds9",)
    c = check("has disease progression", course(), "unknown", world=" [open world]")
    assert "absence is not proof" in c.reason


# ---- disease recurrence --------------------------------------------------------------------


def tumour(**fields: Any) -> dict[str, Any]:
    return {"conditions": [coded("C50.911", **{"id": "c1", "onset": day(-60), **fields})]}


@pytest.mark.parametrize(("rule", "fields", "truth", "said"), [
    ("has disease recurrence of breast_cancer", tumour(clinical_status="recurrence"), "true",
     "recorded as a recurrence"),
    ("has disease recurrence of breast_cancer", tumour(clinical_status="relapse"), "true",
     "recorded as a relapse"),
    ("has disease recurrence of breast_cancer", tumour(clinical_status="active"), "false",
     "no recurrence or relapse of value set `breast_cancer`"),
    ("has disease recurrence of breast_cancer", tumour(clinical_status="remission"), "false",
     "among 1 condition on record"),
    ("has disease recurrence of breast_cancer", tumour(), "unknown",
     "clinical status is not recorded"),
    ("has disease recurrence of breast_cancer",
     tumour(clinical_status="recurrence", abatement=day(-20)), "false", "no recurrence"),
    ("has disease recurrence of breast_cancer within 3 months",
     tumour(clinical_status="recurrence", abatement=day(-20)), "true",
     "counts within the last 3 months"),
    ("has disease recurrence of breast_cancer",
     tumour(clinical_status="recurrence", verification_status="refuted"), "false",
     "no recurrence"),
    ("has disease recurrence of breast_cancer",
     tumour(clinical_status="recurrence", onset=day(5)), "false", "no recurrence"),
    ("has disease recurrence of lung_cancer", tumour(clinical_status="recurrence"), "false",
     "no recurrence or relapse of value set `lung_cancer`"),
    ("has disease recurrence of breast_cancer between 3 and 6 months ago",
     {"conditions": [coded("C50.911", id="c1", clinical_status="recurrence",
                           abatement=day(-20))]}, "unknown", "dates do not show"),
])
def test_disease_recurrence(rule: str, fields: dict[str, Any], truth: str, said: str) -> None:
    c = check(rule, fields, truth)
    assert said in c.reason
    if truth == "true":
        assert [e.record_id for e in c.evidence] == ["c1"]


def test_disease_recurrence_missing_data_and_open_world() -> None:
    c = check("has disease recurrence of breast_cancer", tumour(), "unknown")
    assert c.missing == ("the clinical status of condition C50.911",)
    c = check("has disease recurrence of breast_cancer", {}, "unknown", world=" [open world]")
    assert "absence is not proof" in c.reason


def test_disease_course_compile_errors() -> None:
    assert "`anticoagulants` is a value set of medications, not conditions" in compile_error(
        "has disease progression of anticoagulants")
    assert "`anticoagulants` is a value set of medications, not conditions" in compile_error(
        "has disease recurrence of anticoagulants")
    assert "expected `of`" in compile_error("has disease recurrence")
    assert "`within 0 days` is an empty window" in compile_error(
        "has disease progression within 0 days")


# ---- print -> parse round trip of generated rule objects ------------------------------------

targets = st.one_of(
    st.sampled_from(["breast_cancer", "lung_cancer"]).map(r.ValueSetRef),
    st.just(r.InlineCodes((r.CodeRef("icd10cm", "C50", "descendants"),))),
)
units = st.sampled_from(["days", "weeks", "months", "years"])
timings = st.one_of(
    st.none(), st.just(r.Ever()), st.builds(r.Window, st.integers(1, 400), units),
    st.builds(lambda low, extra, unit: r.AgoWindow(low, low + extra, unit),
              st.integers(0, 30), st.integers(0, 30), units),
    st.builds(r.Anchor, st.sampled_from(["since", "before"]), st.just("medication"),
              st.just(r.InlineCodes((r.CodeRef("atc", "L01", "descendants"),)))),
)
study_ids = st.one_of(st.from_regex(r"NCT[0-9]{8}", fullmatch=True),
                      st.text(st.characters(codec="ascii", exclude_characters="\n\r"),
                              min_size=1, max_size=12).filter(lambda t: t.strip() != ""))

record_constructs = st.one_of(
    st.builds(r.PlannedProcedureQuery, st.just(r.ValueSetRef("cholecystectomy")),
              st.one_of(st.none(), st.builds(r.Window, st.integers(1, 400), units))),
    st.builds(r.FamilyHistoryQuery, targets, st.booleans()),
    st.builds(r.StudyEnrollment, study_ids, timings),
    st.builds(r.ProgressionQuery, st.one_of(st.none(), targets), timings),
    st.builds(r.RecurrenceQuery, targets, timings),
    st.builds(r.Compare, st.just("marital_status"), st.sampled_from(["=", "!="]),
              st.sampled_from(["married", "never_married", "widowed"]).map(r.Symbol)),
    st.builds(r.InList, st.just("marital_status"), st.lists(
        st.sampled_from(["divorced", "domestic_partner", "common_law"]).map(r.Symbol),
        min_size=1, max_size=3).map(tuple)),
)


@given(st.lists(record_constructs, min_size=1, max_size=3), st.booleans())
def test_record_constructs_print_then_parse_to_equal_rule_objects(
        exprs: list[r.Expr], negate: bool) -> None:
    expr: r.Expr = exprs[0] if len(exprs) == 1 else r.And(tuple(exprs))
    if negate:
        expr = r.Not(expr)
    text = source(expr_text(expr))
    protocol, diagnostics = parse_protocol(Source(text, "generated.elig"))
    assert diagnostics == []
    assert protocol.inclusion[0].expr == expr
    compiled = compile_text(text)  # and the compiler accepts what the printer wrote
    assert parse_protocol(Source(protocol_text(compiled), "again.elig"))[0] == compiled
    assert r.from_json(r.to_json(compiled)) == compiled


def test_family_history_setting_prints_parses_and_serialises() -> None:
    text = source("family history of breast_cancer",
                  settings="assume research participation recorded\n"
                           "assume family history recorded")
    protocol = compile_text(text)
    assert protocol.family_history_recorded
    assert protocol.research_recorded
    printed = protocol_text(protocol)
    assert "assume family history recorded\n" in printed
    again = compile_text(printed)
    assert again == protocol
    assert r.from_json(r.to_json(protocol)) == protocol
    assert not compile_text(source("family history of breast_cancer")).family_history_recorded
