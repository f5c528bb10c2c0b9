"""Planned procedures, family history, and the course of a disease (progression, recurrence).

Planned procedures (FHIR ServiceRequest) look forward from the as-of date: an active request
scheduled on or after it counts. Family history is open world unless the criterion or the
protocol says the records are complete, as research participation is. Progression reads the
recorded disease-status assessments (mCODE CancerDiseaseStatus); recurrence reads the
clinical status of a condition.
"""

from __future__ import annotations

from datetime import date, timedelta

from eligo import rules as r
from eligo.evaluate_core import (
    UNDATED_ANCHOR,
    Decision,
    Env,
    Node,
    build_period,
    closed_for_rarely_recorded,
    decision_node,
    target_matcher,
)
from eligo.patient import (
    FIRST_DEGREE,
    Coding,
    Condition,
    DiseaseStatus,
    FamilyHistory,
    PlannedProcedure,
)
from eligo.records import (
    IGNORED_VERIFICATION,
    Context,
    Period,
    Truth,
    add_months,
    coding_text,
    condition_truth,
    describe_record,
    matching_coding,
    record_evidence,
)
from eligo.result import Evidence


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _anchor_problem(problem: str, when: str, absent: Truth) -> Decision:
    """A `since first …` / `before first …` with no anchor (nothing to count from: as for
    a record query, FALSE in a closed world) or an undated one (UNKNOWN)."""
    if problem == UNDATED_ANCHOR:
        return (None, f"the anchor event ({when.strip()}) has no date", (),
                (f"the date of the first event{when.split(' the first', 1)[-1]}",))
    if absent is None:
        return (None, f"there is no event to count from ({when.strip()})", (),
                (f"whether the patient had the event{when.split(' the first', 1)[-1]}",))
    return False, f"there is no event to count from ({when.strip()})", (), ()


# ---- planned procedures ----------------------------------------------------------------------

_PLANNED = frozenset({"active", None})


def shift_forward(day: date, amount: int, unit: str) -> date:
    """The day ``amount`` units after ``day`` (calendar months and years, clamped to month
    ends); beyond year 9999, the latest representable date."""
    try:
        if unit == "days":
            return day + timedelta(days=amount)
        if unit == "weeks":
            return day + timedelta(weeks=amount)
        return add_months(day, amount if unit == "months" else 12 * amount)
    except (OverflowError, ValueError):
        return date.max


def _plan_evidence(p: PlannedProcedure, coding: Coding) -> Evidence:
    return Evidence(record_type="planned_procedure", record_id=p.id, system=coding.system,
                    code=coding.code, display=coding.display, date=p.date,
                    note=p.status or "status not stated")


def build_planned_procedure(node: r.PlannedProcedureQuery, env: Env) -> Node:
    """An active (or unstated) planned procedure in V scheduled on or after the as-of date;
    with `within N unit`, no later than N units after it. An undated one counts without a
    time and is undecided with one; a request of unknown status is undecided."""
    matcher, label = target_matcher(node.target, env)
    window = node.window
    when = f" within the next {window.amount} {window.unit}" if window is not None else ""
    absent: Truth = None if env.open_world else False
    ask = f"whether the patient is scheduled for a procedure in {label}{when}"

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        last = shift_forward(as_of, window.amount, window.unit) if window is not None \
            else date.max
        undecided: list[tuple[PlannedProcedure, Coding]] = []
        ignored: list[tuple[PlannedProcedure, Coding]] = []
        for p in ctx.patient.planned_procedures:
            coding = matching_coding(p.codes, matcher)
            if coding is None:
                continue
            if (p.status not in _PLANNED and p.status != "unknown") or (
                    p.date is not None and not as_of <= p.date <= last):
                ignored.append((p, coding))
            elif p.status == "unknown" or (p.date is None and window is not None):
                undecided.append((p, coding))
            else:
                day = f"for {p.date}" if p.date else "without a date yet"
                return (True, f"procedure {coding_text(coding)} is scheduled {day}, in {label}"
                        + (f", {when.strip()}" if when else ""), (_plan_evidence(p, coding),),
                        ())
        if undecided:
            p, coding = undecided[0]
            unknown = p.status == "unknown"
            why = "its status is unknown" if unknown else "it has no scheduled date"
            need = (f"the {'status' if unknown else 'scheduled date'} of planned procedure "
                    f"{coding.code}")
            return (None, f"planned procedure {coding_text(coding)} is in {label} but {why}",
                    tuple(_plan_evidence(x, c) for x, c in undecided), (need,))
        count = len(ctx.patient.planned_procedures)
        searched = (f"no active planned procedure in {label} scheduled"
                    f"{when or ' from the as-of date on'} among "
                    f"{_plural(count, 'planned procedure')} on record")
        if ignored:
            searched += (f" ({_plural(len(ignored), 'matching request')} not counted: not "
                         "active, or scheduled outside the time asked)")
        evidence = tuple(_plan_evidence(x, c) for x, c in ignored)
        if absent is None:
            return (None, searched + "; absence is not proof for this criterion", evidence,
                    (ask,))
        return False, searched, evidence, ()

    return decision_node(decide)


# ---- family history ------------------------------------------------------------------------


def _relative_evidence(f: FamilyHistory, coding: Coding) -> Evidence:
    note = f.relationship.replace("_", " ")
    if f.onset_age_years is not None:
        note += f", onset at age {f.onset_age_years:g}"
    return Evidence(record_type="family_history", record_id=f.id, system=coding.system,
                    code=coding.code, display=coding.display, note=note)


def build_family_history(node: r.FamilyHistoryQuery, env: Env) -> Node:
    """A relative (a first-degree one, when asked) with a condition in V."""
    matcher, label = target_matcher(node.target, env)
    first = node.first_degree
    whom = "a first-degree relative" if first else "a relative"
    closed = closed_for_rarely_recorded(env, env.protocol.family_history_recorded)
    ask = f"ask the patient whether {whom} had {label}"

    def decide(ctx: Context) -> Decision:
        records = ctx.patient.family_history
        others: list[tuple[FamilyHistory, Coding]] = []
        for f in records:
            coding = matching_coding(f.codes, matcher)
            if coding is None:
                continue
            if first and f.relationship not in FIRST_DEGREE:
                others.append((f, coding))
                continue
            return (True, f"{f.relationship.replace('_', ' ')} had {coding_text(coding)}, in "
                    f"{label}", (_relative_evidence(f, coding),), ())
        searched = (f"no family history of {label}{' in a first-degree relative' if first else ''}"
                    f" among {_plural(len(records), 'family history record')}")
        if others:
            searched += f" ({_plural(len(others), 'match', 'matches')} in other relatives)"
        evidence = tuple(_relative_evidence(f, c) for f, c in others)
        if closed:
            return False, searched, evidence, ()
        return None, searched + "; family history is rarely complete", evidence, (ask,)

    return decision_node(decide)


# ---- disease progression -------------------------------------------------------------------

_STATUS_WORDS = {"progression": "progression", "stable": "stable disease",
                 "improved": "improved", "remission": "remission (not detected)",
                 "uncertain": "uncertain"}


def _status_evidence(s: DiseaseStatus) -> Evidence:
    return Evidence(record_type="disease_status", record_id=s.id, value=s.status, date=s.date,
                    note=f"condition {s.condition}" if s.condition else None)


def _said(s: DiseaseStatus) -> str:
    on = f" on {s.date}" if s.date else " (undated)"
    of = f" of condition {s.condition}" if s.condition else ""
    return f"disease status{of}{on}: {_STATUS_WORDS[s.status]}"


def _in(day: date | None, as_of: date, period: Period) -> Truth:
    """Whether an assessment of ``day`` lies in ``period`` (undated: only `ever` places it)."""
    if day is None:
        return True if period == (date.min, as_of) else None
    return period[0] <= day <= period[1]


def build_progression(node: r.ProgressionQuery, env: Env) -> Node:
    """Without a time, the latest assessment of each disease (statuses linked to the same
    condition, or unlinked ones together) decides: TRUE if one is progression, UNKNOWN if
    one is uncertain, FALSE when all say otherwise; undated assessments count as the oldest.
    With a time, TRUE when a progression is dated in the period. With `of V`, only
    assessments linked to a condition in V are read."""
    period_of, when = build_period(node.window, env)
    absent: Truth = None if env.open_world else False
    label = ""
    matcher = None
    if node.target is not None:
        matcher, label = target_matcher(node.target, env)
    of = f" of {label}" if label else ""
    ask = f"whether the patient has disease progression{of}{when or ' now'}"

    def read(ctx: Context) -> tuple[list[DiseaseStatus], int]:
        """The assessments read (dated on or before the as-of date), and how many were
        passed over for want of a link to a condition in V."""
        statuses = [s for s in ctx.patient.disease_statuses
                    if s.date is None or s.date <= ctx.as_of]
        if matcher is None:
            return statuses, 0
        in_target = {c.id for c in ctx.patient.conditions if c.id is not None
                     and c.verification_status not in IGNORED_VERIFICATION
                     and matching_coding(c.codes, matcher) is not None}
        kept = [s for s in statuses if s.condition in in_target]
        return kept, sum(1 for s in statuses if s.condition is None)

    def nothing(what: str, count: int, unlinked: int) -> Decision:
        searched = f"no {what}{of}{when} among {_plural(count, 'assessment')} on record"
        if unlinked:
            searched += (f" ({_plural(unlinked, 'assessment')} not linked to any condition, so "
                         "not read)")
        if absent is None:
            return (None, searched + "; absence is not proof for this criterion", (),
                    (ask,))
        return False, searched, (), ()

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        if problem is not None:
            return _anchor_problem(problem, when, absent)
        statuses, unlinked = read(ctx)
        count = len(ctx.patient.disease_statuses)
        if period is None:
            latest: dict[str | None, DiseaseStatus] = {}
            for s in statuses:
                held = latest.get(s.condition)
                if held is None or (s.date or date.min) > (held.date or date.min):
                    latest[s.condition] = s
            if not latest:
                return nothing("disease status", count, unlinked)
            current = list(latest.values())
            evidence = tuple(_status_evidence(s) for s in current)
            progressing = next((s for s in current if s.status == "progression"), None)
            if progressing is not None:
                return True, f"latest {_said(progressing)}", (_status_evidence(progressing),), ()
            unsure = next((s for s in current if s.status == "uncertain"), None)
            if unsure is not None:
                return (None, f"latest {_said(unsure)}", evidence,
                        (f"a current assessment of the disease status{of}",))
            return False, "; ".join(f"latest {_said(s)}" for s in current), evidence, ()
        undecided: list[DiseaseStatus] = []
        for s in statuses:
            placed = _in(s.date, as_of, period)
            if placed is False or s.status not in ("progression", "uncertain"):
                continue
            if placed and s.status == "progression":
                return True, f"{_said(s)},{when}", (_status_evidence(s),), ()
            undecided.append(s)
        if undecided:
            s = undecided[0]
            need = (f"the date of the disease status assessment {s.id or ''}".rstrip()
                    if s.date is None else f"a clear assessment of the disease status{of}")
            why = (f", but it has no date to place it{when}" if s.date is None else
                   f": it does not show whether the disease progressed{when}")
            return (None, _said(s) + why, tuple(_status_evidence(x) for x in undecided),
                    (need,))
        return nothing("disease progression", count, unlinked)

    return decision_node(decide)


# ---- disease recurrence --------------------------------------------------------------------

_RECURRENT = frozenset({"recurrence", "relapse"})


def build_recurrence(node: r.RecurrenceQuery, env: Env) -> Node:
    """A condition in V recorded as a recurrence or relapse, active now (or, with a time,
    then) by the rules of `has condition`. A matching condition without a clinical status
    leaves it undecided: it may be a recurrence."""
    matcher, label = target_matcher(node.target, env)
    period_of, when = build_period(node.window, env)
    absent: Truth = None if env.open_world else False
    ask = f"whether {label} has recurred{when or ' (active now)'}"

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        if problem is not None:
            return _anchor_problem(problem, when, absent)
        undecided: list[tuple[Condition, Coding]] = []
        for c in ctx.patient.conditions:
            coding = matching_coding(c.codes, matcher)
            if coding is None or c.verification_status in IGNORED_VERIFICATION:
                continue
            if c.clinical_status is not None and c.clinical_status not in _RECURRENT:
                continue
            t = condition_truth(c, as_of, period, history=False)
            if t and c.clinical_status is not None:
                return (True, f"condition {describe_record(coding, c)} is in {label}, "
                        f"recorded as a {c.clinical_status}"
                        + (f", and counts{when}" if when else ""),
                        (record_evidence(c, coding),), ())
            if t is not False:
                undecided.append((c, coding))
        if undecided:
            c, coding = undecided[0]
            evidence = tuple(record_evidence(x, y) for x, y in undecided)
            if c.clinical_status is None:
                return (None, f"condition {describe_record(coding, c)} is in {label} but its "
                        "clinical status is not recorded", evidence,
                        (f"the clinical status of condition {coding.code}",))
            return (None, f"condition {describe_record(coding, c)} is in {label} but its "
                    f"dates do not show whether it counts{when}", evidence,
                    (f"abatement (end) date of condition {coding.code}",))
        count = len(ctx.patient.conditions)
        searched = (f"no recurrence or relapse of {label}{when} among "
                    f"{_plural(count, 'condition')} on record")
        if absent is None:
            return (None, searched + "; absence is not proof for this criterion", (),
                    (ask,))
        return False, searched, (), ()

    return decision_node(decide)
