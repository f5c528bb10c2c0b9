"""Time semantics of record queries: `between … ago`, `ever`, event anchors, cumulative
exposure (`for at least 8 weeks`) and frequency (`at least N times`)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from eligo import Patient, Screener
from eligo.compiler import compile_text
from eligo.printer import protocol_text
from eligo.result import CriterionResult

AS_OF = date(2024, 6, 15)
HEADER = """trial T1
valueset steroid = atc H02AB*
valueset thrombectomy = snomed 433112001
valueset varices = icd10cm I85*
valueset cirrhosis = icd10cm K74.6*
valueset dialysis = snomed 302497006
"""


def run(rule: str, **patient: Any) -> CriterionResult:
    protocol = compile_text(f'{HEADER}inclusion\n  I1 "tested": {rule}\n'
                            'exclusion\n  E1 "none": manual "x"\n')
    screener = Screener(protocol)
    p = Patient.model_validate({"id": "p", **patient})
    result = screener.screen(p, AS_OF)
    # the fast path agrees with the explanation
    assert screener.statuses(p, AS_OF)[0] == result.criteria[0].status
    return result.criteria[0]


def med(start: str | None, end: str | None, status: str = "completed",
        code: str = "H02AB06") -> dict[str, Any]:
    return {"codes": [{"system": "atc", "code": code}], "start": start, "end": end,
            "status": status}


def proc(day: str | None, code: str = "302497006") -> dict[str, Any]:
    return {"codes": [{"system": "snomed", "code": code}], "date": day, "status": "completed"}


def cond(onset: str | None, abatement: str | None = None, code: str = "I85.00",
         status: str | None = None) -> dict[str, Any]:
    return {"codes": [{"system": "icd10cm", "code": code}], "onset": onset,
            "abatement": abatement, "clinical_status": status}


@pytest.mark.parametrize(("day", "truth"), [
    ("2024-05-16", "false"),   # less than a month ago: nearer than the window
    ("2024-05-15", "true"),    # exactly 1 month ago: inclusive
    ("2023-06-15", "true"),    # exactly 12 months ago: inclusive
    ("2023-06-14", "false"),   # beyond 12 months
])
def test_between_months_ago_is_a_past_window(day: str, truth: str) -> None:
    c = run("had procedure dialysis between 1 and 12 months ago", procedures=[proc(day)])
    assert c.truth == truth
    assert "between 1 and 12 months ago" in c.expression


def test_ever_counts_resolved_and_undated_records() -> None:
    c = run("has condition varices ever", conditions=[cond(None, status="resolved")])
    assert c.truth == "true"
    assert run("has condition varices ever", conditions=[]).truth == "false"


def test_since_first_condition_counts_from_the_anchor() -> None:
    conditions = [cond("2020-03-01", code="K74.60", status="active")]
    after = run("had procedure dialysis since first condition cirrhosis",
                conditions=conditions, procedures=[proc("2021-01-10")])
    assert after.truth == "true"
    before = run("had procedure dialysis since first condition cirrhosis",
                 conditions=conditions, procedures=[proc("2019-01-10")])
    assert before.truth == "false"


def test_since_first_without_the_anchor_event_is_false_and_said() -> None:
    c = run("had procedure dialysis since first condition cirrhosis",
            procedures=[proc("2021-01-10")])
    assert c.truth == "false"
    assert "no event to count from" in c.reason


def test_an_undated_anchor_is_unknown() -> None:
    c = run("had procedure dialysis since first condition cirrhosis",
            conditions=[cond(None, code="K74.60", status="active")],
            procedures=[proc("2021-01-10")])
    assert c.truth == "unknown"
    assert c.missing


def test_before_first_procedure() -> None:
    rule = "has condition varices before first procedure thrombectomy"
    thrombectomy = proc("2022-01-01", code="433112001")
    assert run(rule, conditions=[cond("2021-05-01", "2021-08-01")],
               procedures=[thrombectomy]).truth == "true"
    assert run(rule, conditions=[cond("2023-05-01", "2023-08-01")],
               procedures=[thrombectomy]).truth == "false"
    # no thrombectomy at all: the whole record is before it
    assert run(rule, conditions=[cond("2023-05-01", "2023-08-01")]).truth == "true"


@pytest.mark.parametrize(("meds", "truth"), [
    ([med("2024-01-01", "2024-02-25")], "true"),            # 56 days: 8 weeks exactly
    ([med("2024-01-01", "2024-02-24")], "false"),           # 55 days
    # two courses that overlap count their shared days once: Jan 1 - Feb 10 = 41 days
    ([med("2024-01-01", "2024-02-01"), med("2024-01-20", "2024-02-10")], "false"),
    # two separate courses add up: 31 + 31 days
    ([med("2023-01-01", "2023-01-31"), med("2023-06-01", "2023-07-01")], "true"),
    ([med("2024-05-01", None, status="active")], "true"),   # ongoing since May 1: 46 days
])
def test_cumulative_exposure_merges_periods(meds: list[dict[str, Any]], truth: str) -> None:
    rule = "taking medication steroid for at least 8 weeks"
    if truth == "true" and meds[0]["status"] == "active":
        rule = "taking medication steroid for at least 6 weeks"
    c = run(rule, medications=meds)
    assert c.truth == truth, c.reason
    assert "days of exposure" in c.reason


def test_exposure_inside_a_window_only_counts_days_in_it() -> None:
    rule = "taking medication steroid for more than 28 days within 6 months"
    # Nov 1 2023 - Jan 31 2024: only Dec 15 - Jan 31 (48 days) is inside the window
    assert run(rule, medications=[med("2023-11-01", "2024-01-31")]).truth == "true"
    # 28 days inside the window is not more than 28
    assert run(rule, medications=[med("2024-01-01", "2024-01-28")]).truth == "false"


def test_an_undated_course_makes_a_short_exposure_unknown() -> None:
    c = run("taking medication steroid for at least 8 weeks",
            medications=[med("2024-01-01", "2024-01-10"), med(None, "2024-03-01")])
    assert c.truth == "unknown"
    assert any("start" in m for m in c.missing)


@pytest.mark.parametrize(("days", "truth"), [
    (["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"], "true"),
    (["2024-01-01", "2024-02-01", "2024-03-01"], "false"),
    (["2024-01-01", "2024-02-01", "2024-03-01", "2023-01-01"], "false"),  # one too old
    (["2024-01-01", "2024-02-01", "2024-03-01", None], "unknown"),       # one undated
])
def test_frequency_counts_events_in_the_window(days: list[str | None], truth: str) -> None:
    c = run("had procedure dialysis at least 4 times within 12 months",
            procedures=[proc(d) for d in days])
    assert c.truth == truth
    assert "needed at least 4" in c.reason


def test_new_time_forms_print_and_parse_back() -> None:
    rules = [
        "had procedure dialysis between 1 and 12 months ago",
        "has condition varices ever",
        "had procedure dialysis since first condition cirrhosis",
        "has condition varices before first procedure thrombectomy",
        "taking medication steroid for at least 8 weeks",
        "taking medication steroid for more than 28 days within 6 months",
        "had procedure dialysis at least 4 times within 12 months",
    ]
    body = "\n".join(f'  I{i} "r": {rule}' for i, rule in enumerate(rules, 1))
    protocol = compile_text(f'{HEADER}inclusion\n{body}\nexclusion\n  E1 "none": manual "x"\n')
    assert compile_text(protocol_text(protocol)) == protocol
    assert [c.expr for c in protocol.inclusion] == [
        c.expr for c in compile_text(protocol_text(protocol)).inclusion]


@pytest.mark.parametrize(("rule", "code"), [
    ("had procedure dialysis for at least 2 weeks", "bad-duration"),
    ("has condition varices between 12 and 1 months ago", "bad-window"),
    ("had procedure dialysis at least 0 times", "bad-count"),
    ("had procedure dialysis since first condition cirosis", "unknown-valueset"),
])
def test_time_forms_are_checked(rule: str, code: str) -> None:
    from eligo.errors import ProtocolError

    with pytest.raises(ProtocolError) as err:
        compile_text(f'{HEADER}inclusion\n  I1 "r": {rule}\nexclusion\n  E1 "n": manual "x"\n')
    assert [d.code for d in err.value.diagnostics] == [code]
