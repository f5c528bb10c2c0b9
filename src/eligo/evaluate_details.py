"""Record queries with details asked of each matching record.

`has condition V with stage >= III with severity >= moderate`, `has condition V with onset
within 10 days`, `taking medication V with daily dose >= 10 mg`, `had procedure V with body
site S`: a record counts when it
counts for the query (status, time) and every detail holds for it; the query is TRUE when
one record counts, UNKNOWN when one might (a detail not recorded, a date missing), else
FALSE (or UNKNOWN in an open world).
"""

from __future__ import annotations

from collections.abc import Callable

from eligo import dose_equivalents, units
from eligo import rules as r
from eligo.evaluate_core import (
    COMPARE,
    Decision,
    Env,
    Node,
    build_period,
    decision_node,
    severity_fits,
    target_matcher,
)
from eligo.evaluate_observations import latest_result
from eligo.evaluate_oncology import confirmed_check, histology_check, stage_check, tumour_evidence
from eligo.measurements import NoReading, Reading
from eligo.patient import Coding, Condition, Medication, Procedure
from eligo.records import (
    KIND_NOUN,
    Context,
    Record,
    Truth,
    age_in,
    describe_record,
    matching_coding,
    record_evidence,
    record_truth,
    shift_back,
)
from eligo.result import Evidence
from eligo.terminology import CodeMatcher

# One detail asked of one record: (truth, what it found, what is missing).
Check = Callable[[Record], tuple[Truth, str, str | None]]

def _severity_check(q: r.SeverityTest) -> Check:
    wanted = f"{q.op} {q.labels[0]}" if q.op != "in" else f"in [{', '.join(q.labels)}]"
    fits = severity_fits(q)

    def check(record: Record) -> tuple[Truth, str, str | None]:
        assert isinstance(record, Condition)
        ok = fits(record.severity)
        if ok is None:
            return None, "severity not recorded", "the condition's severity"
        return ok, f"severity {record.severity} is {'' if ok else 'not '}{wanted}", None

    return check


def _onset_check(q: r.OnsetTest) -> Callable[[Context], Check]:
    window = q.window

    def at(ctx: Context) -> Check:
        as_of = ctx.as_of
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


def _onset_age_check(q: r.OnsetAgeTest) -> Callable[[Context], Check]:
    wanted = f"{q.op} {q.amount} {q.unit}"

    def at(ctx: Context) -> Check:
        birth = ctx.patient.birth_date

        def check(record: Record) -> tuple[Truth, str, str | None]:
            assert isinstance(record, Condition)
            if record.onset is None:
                return None, "onset date not recorded", "the condition's onset date"
            if birth is None:
                return None, "birth date not recorded", "birth date"
            age = age_in(birth, record.onset, q.unit)
            ok = COMPARE[q.op](age, q.amount)
            return (ok, f"age at onset {age} {q.unit} is {'' if ok else 'not '}{wanted}",
                    None)

        return check

    return at


def _dose_check(q: r.DoseTest, env: Env) -> Callable[[Context], Check]:
    """The recorded daily dose, converted to the reference drug's equipotent dose when the
    rule names one, and divided by the latest body weight when it is per kg."""
    mass, per_kg = dose_equivalents.mass_unit(q.unit)
    wanted = f"{q.op} {q.amount} {q.unit}" + (
        f" {q.equivalent} equivalent" if q.equivalent else "")
    weight_of = latest_result("weight", env) if per_kg else None

    def at(ctx: Context) -> Check:
        weight: Reading | NoReading | None = None

        def check(record: Record) -> tuple[Truth, str, str | None]:
            nonlocal weight
            assert isinstance(record, Medication)
            if record.daily_dose is None or record.dose_unit is None:
                return None, "daily dose not recorded", "the medication's daily dose"
            recorded = f"daily dose {record.daily_dose:g} {record.dose_unit}"
            try:
                dose = units.convert(record.daily_dose, units.per_day(record.dose_unit), mass)
            except units.UnitError:
                return (None, f"{recorded} cannot be compared with {q.unit}",
                        "the daily dose in a unit of mass")
            if q.equivalent is not None:
                found = dose_equivalents.equivalent_dose(record.codes, dose, q.equivalent)
                if found is None:
                    return (None, f"no {q.equivalent}-equivalent dose is known for "
                            f"{recorded}'s drug", f"the medication's {q.equivalent}-"
                            "equivalent dose")
                dose, drug = found
                recorded += f" {drug} = {dose:.4g} {mass} {q.equivalent}"
            if weight_of is not None:
                if weight is None:
                    weight = weight_of(ctx)
                if isinstance(weight, NoReading):
                    return None, f"{recorded}; {weight.reason}", weight.missing
                kg = float(weight.value)
                if kg <= 0:
                    return None, f"{recorded}; body weight {kg:g} kg", "body weight"
                dose /= kg
                recorded += f" / {kg:g} kg = {dose:.4g} {mass}/kg"
            ok = COMPARE[q.op](round(dose, 9), float(q.amount))
            return ok, f"{recorded} is {'' if ok else 'not '}{wanted}", None

        return check

    return at


def _regular_check(record: Record) -> tuple[Truth, str, str | None]:
    assert isinstance(record, Medication)
    if record.as_needed is None:
        return (None, "whether it is taken regularly or as needed is not recorded",
                "whether the medication is taken regularly")
    if record.as_needed:
        return False, "taken as needed, not regularly", None
    return True, "taken regularly", None


def _body_site_check(matcher: CodeMatcher, label: str) -> Check:
    def check(record: Record) -> tuple[Truth, str, str | None]:
        assert isinstance(record, Procedure | Condition)
        if not record.body_sites:
            return None, "body site not recorded", "the body site"
        site = matching_coding(record.body_sites, matcher)
        if site is None:
            shown = ", ".join(f"{c.system} {c.code}" for c in record.body_sites)
            return False, f"body site {shown} is not in {label}", None
        return True, f"body site {site.system} {site.code} is in {label}", None

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
    # Details that also read the patient beyond the record: the as-of date, birth date, weight.
    contextual: list[Callable[[Context], Check]] = []
    for detail in q.details:
        match detail:
            case r.StageTest():
                fixed.append(_on_condition(stage_check(detail)))
            case r.HistologyTest(target):
                fixed.append(_on_condition(histology_check(*target_matcher(target, env))))
            case r.HistologyConfirmed(basis):
                fixed.append(_on_condition(confirmed_check(basis)))
            case r.SeverityTest():
                fixed.append(_severity_check(detail))
            case r.OnsetTest():
                contextual.append(_onset_check(detail))
            case r.OnsetAgeTest():
                contextual.append(_onset_age_check(detail))
            case r.DoseTest():
                contextual.append(_dose_check(detail, env))
            case r.RegularUse():
                fixed.append(_regular_check)
            case r.BodySiteTest(target):
                fixed.append(_body_site_check(*target_matcher(target, env)))
    kind = q.kind
    noun = KIND_NOUN[kind]
    records_of: Callable[[Context], tuple[Record, ...]] = (
        (lambda ctx: ctx.patient.medications) if kind == "medication"
        else (lambda ctx: ctx.patient.procedures) if kind == "procedure"
        else (lambda ctx: ctx.patient.conditions))
    absent: Truth = None if env.open_world else False

    def evidence_of(record: Record, coding: Coding) -> Evidence:
        if isinstance(record, Condition):
            return tumour_evidence(record, coding)
        return record_evidence(record, coding)

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        checks = fixed + [make(ctx) for make in contextual]
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
