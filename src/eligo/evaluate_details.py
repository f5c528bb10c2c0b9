"""Record queries with details asked of each matching record.

`has condition V with stage >= III with severity >= moderate`, `has condition V with onset
within 10 days`, `taking medication V with daily dose >= 10 mg`: a record counts when it
counts for the query (status, time) and every detail holds for it; the query is TRUE when
one record counts, UNKNOWN when one might (a detail not recorded, a date missing), else
FALSE (or UNKNOWN in an open world).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from eligo import rules as r
from eligo import units
from eligo.evaluate_core import (
    COMPARE,
    Decision,
    Env,
    Node,
    build_period,
    decision_node,
    target_matcher,
)
from eligo.evaluate_oncology import confirmed_check, histology_check, stage_check, tumour_evidence
from eligo.patient import Coding, Condition, Medication
from eligo.records import (
    KIND_NOUN,
    Context,
    Record,
    Truth,
    describe_record,
    matching_coding,
    record_evidence,
    record_truth,
    shift_back,
)
from eligo.result import Evidence

# One detail asked of one record: (truth, what it found, what is missing).
Check = Callable[[Record], tuple[Truth, str, str | None]]

_SEVERITY_RANK = {"mild": 1, "moderate": 2, "severe": 3}


def _severity_check(q: r.SeverityTest) -> Check:
    wanted = f"{q.op} {q.labels[0]}" if q.op != "in" else f"in [{', '.join(q.labels)}]"
    ranks = [_SEVERITY_RANK[label] for label in q.labels]

    def check(record: Record) -> tuple[Truth, str, str | None]:
        assert isinstance(record, Condition)
        if record.severity is None:
            return None, "severity not recorded", "the condition's severity"
        rank = _SEVERITY_RANK[record.severity]
        ok = rank in ranks if q.op == "in" else COMPARE[q.op](rank, ranks[0])
        return ok, f"severity {record.severity} is {'' if ok else 'not '}{wanted}", None

    return check


def _onset_check(q: r.OnsetTest) -> Callable[[date], Check]:
    window = q.window

    def at(as_of: date) -> Check:
        if isinstance(window, r.Window):
            start, end = shift_back(as_of, window.amount, window.unit), as_of
            words = f"within {window.amount} {window.unit}"
        else:
            start = shift_back(as_of, window.high, window.unit)
            end = shift_back(as_of, window.low, window.unit)
            words = f"between {window.low} and {window.high} {window.unit} ago"

        def check(record: Record) -> tuple[Truth, str, str | None]:
            assert isinstance(record, Condition)
            if record.onset is None:
                return None, "onset date not recorded", "the condition's onset date"
            ok = start <= record.onset <= end
            return ok, f"onset {record.onset} is {'' if ok else 'not '}{words}", None

        return check

    return at


def _dose_check(q: r.DoseTest) -> Check:
    wanted = f"{q.op} {q.amount} {q.unit}"

    def check(record: Record) -> tuple[Truth, str, str | None]:
        assert isinstance(record, Medication)
        if record.daily_dose is None or record.dose_unit is None:
            return None, "daily dose not recorded", "the medication's daily dose"
        try:
            dose = units.convert(record.daily_dose, units.per_day(record.dose_unit),
                                 units.per_day(q.unit))
        except units.UnitError:
            return (None, f"daily dose {record.daily_dose:g} {record.dose_unit} cannot be "
                    f"compared with {q.unit}", "the daily dose in a unit of mass")
        ok = COMPARE[q.op](round(dose, 9), float(q.amount))
        return (ok, f"daily dose {record.daily_dose:g} {record.dose_unit} is "
                f"{'' if ok else 'not '}{wanted}", None)

    return check


def _on_condition(check: Callable[[Condition], tuple[Truth, str, str | None]]) -> Check:
    def on_record(record: Record) -> tuple[Truth, str, str | None]:
        assert isinstance(record, Condition), "the compiler keeps these on conditions"
        return check(record)

    return on_record


def build_detailed_query(q: r.RecordQuery, env: Env) -> Node:
    matcher, label = target_matcher(q.target, env)
    period_of, when = build_period(q.window, env)
    fixed: list[Check] = []
    dated: list[Callable[[date], Check]] = []
    for detail in q.details:
        match detail:
            case r.StageTest():
                fixed.append(_on_condition(stage_check(detail)))
            case r.HistologyTest(target):
                fixed.append(_on_condition(histology_check(*target_matcher(target, env))))
            case r.HistologyConfirmed():
                fixed.append(_on_condition(confirmed_check))
            case r.SeverityTest():
                fixed.append(_severity_check(detail))
            case r.OnsetTest():
                dated.append(_onset_check(detail))
            case r.DoseTest():
                fixed.append(_dose_check(detail))
    kind = q.kind
    noun = KIND_NOUN[kind]
    records_of: Callable[[Context], tuple[Record, ...]] = (
        (lambda ctx: ctx.patient.medications) if kind == "medication"
        else (lambda ctx: ctx.patient.conditions))
    absent: Truth = None if env.open_world else False

    def evidence_of(record: Record, coding: Coding) -> Evidence:
        if isinstance(record, Condition):
            return tumour_evidence(record, coding)
        return record_evidence(record, coding)

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        checks = fixed + [make(as_of) for make in dated]
        undecided: list[tuple[Record, Coding, list[str], list[str]]] = []
        rejected: list[tuple[Record, Coding, list[str]]] = []
        if problem is None:
            for record in records_of(ctx):
                coding = matching_coding(record.codes, matcher)
                if coding is None:
                    continue
                counts = record_truth(kind, record, as_of, period)
                if counts is False:
                    continue
                truths: list[Truth] = [counts]
                said: list[str] = []
                missing: list[str] = []
                for check in checks:
                    t, text, needs = check(record)
                    truths.append(t)
                    said.append(text)
                    if needs:
                        missing.append(needs)
                if all(t is True for t in truths):
                    return (True, f"{noun} {describe_record(coding, record)} is in {label}"
                            f"{when}: " + "; ".join(said), (evidence_of(record, coding),), ())
                if False in truths:
                    rejected.append((record, coding, said))
                else:
                    if counts is None:
                        missing.append(f"the dates of {noun} {coding.code}")
                    undecided.append((record, coding, said, missing))
        if undecided:
            record, coding, said, _ = undecided[0]
            return (None, f"{noun} {describe_record(coding, record)} is in {label}{when}; "
                    + "; ".join(said), tuple(evidence_of(x, y) for x, y, _, _ in undecided),
                    tuple(dict.fromkeys(m for *_, ms in undecided for m in ms)))
        if rejected:
            record, coding, said = rejected[0]
            reason = f"{noun} {describe_record(coding, record)} is in {label} but " + "; ".join(
                said)
            evidence = tuple(evidence_of(x, y) for x, y, _ in rejected)
        else:
            reason = f"no {noun} in {label}{when}"
            evidence = ()
        if absent is None:
            return (None, reason + "; absence is not proof for this criterion", evidence,
                    (f"whether the patient has a {noun} in {label}{when} as described",))
        return False, reason, evidence, ()

    return decision_node(decide)
