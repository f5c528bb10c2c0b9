"""Three-valued evaluation of rule objects against a patient at an as-of date.

Rule objects are built once into pairs of closures by one dispatch (:func:`_build`):
``test`` returns only the truth value (``True``, ``False`` or ``None`` for UNKNOWN) and is
what verdict-only and status-only screening run; ``explain`` returns a :class:`Finding`
with the reason, evidence and missing data, built only when an explanation is asked for.
Evaluation is a pure function of (protocol, patient, as-of date, attestations): no clock,
no I/O, no global state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from eligo import derived
from eligo import observations as obs
from eligo import rules as r
from eligo._version import __version__
from eligo.evaluate_core import (
    COMPARE,
    NO_ANCHOR,
    TRUTH_WORD,
    UNDATED_ANCHOR,
    Env,
    Finding,
    Node,
    PeriodOf,
    at_least,
    build_period,
    gather,
    join_reasons,
    junction,
    kleene_and,
    kleene_not,
    target_matcher,
    valueset_contents,
)
from eligo.evaluate_course import (
    build_family_history,
    build_planned_procedure,
    build_progression,
    build_recurrence,
)
from eligo.evaluate_details import build_detailed_query
from eligo.evaluate_events import (
    build_adverse_event,
    build_allergy,
    build_encounter,
    build_immunization,
    build_recovered,
    build_research,
    build_study_enrollment,
)
from eligo.evaluate_observations import (
    build_aggregate,
    build_observation_compare,
    build_result_test,
    build_score_compare,
)
from eligo.evaluate_oncology import build_biomarker_measure, build_biomarker_result
from eligo.evaluate_person import (
    build_breastfeeding,
    build_childbearing_potential,
    build_gestational_age,
    build_resides_in,
    build_speaks,
)
from eligo.patient import Coding, Condition, Patient, PregnancyStatus
from eligo.printer import expr_text
from eligo.records import (
    CHILDBEARING_AGE,
    INDEXED,
    KIND_NOUN,
    MISSING_DATE,
    PREGNANCY_BIT,
    PREGNANCY_CODES,
    RECORD_GETTERS,
    CodeIndex,
    Context,
    Record,
    Truth,
    age_in,
    attestation_for,
    attested_on,
    counted,
    describe_record,
    exposure_days,
    matching_coding,
    pregnancy_state,
    record_evidence,
    record_truth,
)
from eligo.result import CriterionResult, Evidence, ScreeningResult, Status, ToResolve, Verdict
from eligo.terminology import MEMO_LIMIT, CodeMatcher, compile_matcher


def _build_query(q: r.RecordQuery, env: Env) -> Node:
    if q.details:
        return build_detailed_query(q, env)
    kind = q.kind
    matcher, target_label = target_matcher(q.target, env)
    open_world = env.open_world
    noun = KIND_NOUN[kind]
    get_records = RECORD_GETTERS[kind]
    bit = env.codes.bit(matcher)
    indexed = INDEXED[kind]
    absent: Truth = None if open_world else False
    on_conditions = kind in ("condition", "history")
    period_of, when = build_period(q.window, env)
    if q.duration is not None or q.times is not None:
        return _build_measured_query(q, env, matcher, target_label, period_of, when)

    def test(ctx: Context) -> Truth:
        union, entries = ctx.conditions_index if on_conditions else indexed(ctx)
        if not union & bit:
            return absent
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        if problem is not None:
            return None if problem == UNDATED_ANCHOR else absent
        undecided = False
        for record, mask in entries:
            if mask & bit:
                t = record_truth(kind, record, as_of, period)
                if t:
                    return True
                if t is None:
                    undecided = True
        return None if undecided else absent

    qualifier = {"condition": "active", "history": "", "medication": "current",
                 "procedure": ""}[kind]
    if q.window is not None:
        qualifier = "active" if kind == "condition" else ""
    lead = " ".join(w for w in (qualifier, noun) if w)

    def describe_search(count: int) -> str:
        return (f"no {lead} in {target_label}{when} among {count} "
                f"{noun if count == 1 else noun + 's'} on record")

    def absent_finding(searched: str, evidence: tuple[Evidence, ...]) -> Finding:
        if open_world:
            return Finding(None, searched + "; absence is not proof for this criterion",
                           evidence, (f"whether the patient has {lead} in {target_label}{when}",))
        return Finding(False, searched, evidence)

    none_found: dict[int, Finding] = {}

    def explain(ctx: Context) -> Finding:
        as_of = ctx.as_of
        records = get_records(ctx.patient)
        union, entries = indexed(ctx)
        if not union & bit:
            # The common case: nothing in the value set at all. Findings are immutable,
            # so one per record count is shared between patients.
            count = len(records)
            found = none_found.get(count)
            if found is None:
                found = none_found[count] = absent_finding(describe_search(count), ())
            return found
        period, problem = period_of(ctx)
        if problem is not None:
            return _anchor_finding(problem, when, absent)
        undecided: list[tuple[Record, Coding]] = []
        ignored: list[tuple[Record, Coding]] = []
        for record, coding in _matches(entries, bit, matcher):
            t = record_truth(kind, record, as_of, period)
            if t:
                return Finding(
                    True,
                    f"{noun} {describe_record(coding, record)} is in {target_label}"
                    + (f" and counts{when}" if when else ""),
                    (record_evidence(record, coding),),
                )
            (undecided if t is None else ignored).append((record, coding))
        searched = describe_search(len(records))
        if ignored:
            searched += (f" ({len(ignored)} matching record{'' if len(ignored) == 1 else 's'} "
                         "not counted: refuted, entered in error, not current or outside the "
                         "time asked)")
        if undecided:
            record, coding = undecided[0]
            return Finding(
                None,
                f"{noun} {describe_record(coding, record)} is in {target_label} but its "
                f"dates do not show whether it counts{when or ' now'}",
                tuple(record_evidence(rec, cod) for rec, cod in undecided),
                (f"{MISSING_DATE[kind]} of {noun} {coding.code}",),
            )
        return absent_finding(searched, tuple(record_evidence(rec, cod) for rec, cod in ignored))

    return Node(test, explain)


def _matches(entries: tuple[tuple[Record, int], ...], bit: int, matcher: CodeMatcher
             ) -> Iterator[tuple[Record, Coding]]:
    for record, mask in entries:
        if mask & bit:
            coding = matching_coding(record.codes, matcher)
            if coding is not None:
                yield record, coding


def _anchor_finding(problem: str, when: str, absent: Truth) -> Finding:
    if problem == UNDATED_ANCHOR:
        return Finding(None, f"the anchor event ({when.strip()}) has no date",
                       (), (f"the date of the first event{when.split(' the first', 1)[-1]}",))
    return Finding(absent, f"there is no event to count from ({when.strip()})")


_DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12, "years": 365.25}


def _build_measured_query(q: r.RecordQuery, env: Env, matcher: CodeMatcher, target_label: str,
                          period_of: PeriodOf, when: str) -> Node:
    """A query with an exposure duration (``for at least 8 weeks``) and/or a count
    (``at least 4 times``): cumulative, merged exposure and distinct records in the period."""
    kind, duration, times = q.kind, q.duration, q.times
    noun = KIND_NOUN[kind]
    bit = env.codes.bit(matcher)
    indexed = INDEXED[kind]
    absent: Truth = None if env.open_world else False
    needed_days = duration.amount * _DAYS_PER_UNIT[duration.unit] if duration else 0.0
    strict = duration is not None and duration.relation == "more than"

    def measure(ctx: Context) -> tuple[Truth, str, list[tuple[Record, Coding]], list[Record]]:
        union, entries = indexed(ctx)
        if not union & bit:
            return absent, f"no {noun} in {target_label}", [], []
        period, problem = period_of(ctx)
        if problem is not None:
            return (None if problem == UNDATED_ANCHOR else absent), "anchor", [], []
        as_of = ctx.as_of
        matching = [(rec, cod) for rec, cod in _matches(entries, bit, matcher) if counted(rec)]
        verdicts: list[Truth] = []
        parts: list[str] = []
        unsure: list[Record] = []
        if duration is not None:
            span = period or (date.min, as_of)
            days, unmeasured = exposure_days((rec for rec, _ in matching), as_of, span)
            enough = days > needed_days if strict else days >= needed_days
            verdicts.append(True if enough else (None if unmeasured else False))
            unsure.extend(unmeasured)
            parts.append(f"{days} days of exposure{when} (needed {duration.relation} "
                         f"{duration.amount} {duration.unit})")
        if times is not None:
            outcomes = [record_truth(kind, rec, as_of, period) for rec, _ in matching]
            sure = sum(1 for o in outcomes if o is True)
            maybe = sum(1 for o in outcomes if o is None)
            verdicts.append(True if sure >= times else (None if sure + maybe >= times
                                                        else False))
            unsure.extend(rec for (rec, _), o in zip(matching, outcomes, strict=True)
                          if o is None)
            parts.append(f"{sure} {noun}{'' if sure == 1 else 's'} in {target_label}{when} "
                         f"(needed at least {times})")
        truth = kleene_and(verdicts)
        if truth is False and env.open_world:
            truth = None
        return truth, "; ".join(parts), matching, unsure

    def test(ctx: Context) -> Truth:
        return measure(ctx)[0]

    def explain(ctx: Context) -> Finding:
        truth, said, matching, unsure = measure(ctx)
        if said == "anchor":
            _, problem = period_of(ctx)
            return _anchor_finding(problem or NO_ANCHOR, when, truth)
        evidence = tuple(record_evidence(rec, cod) for rec, cod in matching)
        missing = tuple(f"{MISSING_DATE[kind]} or start of {noun} "
                        f"{rec.codes[0].code}" for rec in unsure) if truth is None else ()
        if truth is None and not missing:
            missing = (f"whether the patient has {noun} in {target_label}{when}",)
        return Finding(truth, said, evidence, missing)

    return Node(test, explain)


# ---- demographics --------------------------------------------------------------------

_OP_WORDS = {"=": "exactly", "!=": "other than", "<": "under", "<=": "at most",
             ">": "over", ">=": "at least"}
_AGE_UNITS = {"years": "years", "year": "years", "months": "months", "month": "months",
              "weeks": "weeks", "week": "weeks", "days": "days", "day": "days"}


def _age_evidence(birth: date, age: int, unit: str, as_of: date) -> Evidence:
    return Evidence(record_type="patient", display="birth date", date=birth,
                    note=f"age {age} {unit} at {as_of}")


_NO_BIRTH_DATE = Finding(None, "age unknown: no birth date recorded", (), ("birth date",))


def _build_age(node: r.Compare | r.Between | r.InList) -> Node:
    if isinstance(node, r.Between):
        unit = _AGE_UNITS[node.unit or "years"]
        low, high = float(node.low), float(node.high)
        label = f"{node.low}–{node.high} {unit}"

        def check(age: int) -> bool:
            return low <= age <= high

        def say(age: int, ok: bool) -> str:
            return f"age {age} is {'within' if ok else 'outside'} {label}"
    elif isinstance(node, r.Compare):
        assert isinstance(node.value, r.Quantity)
        unit = _AGE_UNITS[node.value.unit or "years"]
        bound, op = float(node.value.number), COMPARE[node.op]
        words = f"{_OP_WORDS[node.op]} {node.value.number} {unit}"

        def check(age: int) -> bool:
            return op(age, bound)

        def say(age: int, ok: bool) -> str:
            return f"age {age} is {'' if ok else 'not '}{words}"
    else:
        quantities = [v for v in node.values if isinstance(v, r.Quantity)]
        unit = _AGE_UNITS[quantities[0].unit or "years"]  # the compiler checks they agree
        allowed = frozenset(float(q.number) for q in quantities)
        listed = ", ".join(str(q.number) for q in quantities)

        def check(age: int) -> bool:
            return age in allowed

        def say(age: int, ok: bool) -> str:
            return f"age {age} {unit} is {'' if ok else 'not '}one of {listed}"

    def test(ctx: Context) -> Truth:
        birth = ctx.patient.birth_date
        if birth is None or birth > ctx.as_of:
            return None
        return check(age_in(birth, ctx.as_of, unit))

    def explain(ctx: Context) -> Finding:
        birth = ctx.patient.birth_date
        if birth is None:
            return _NO_BIRTH_DATE
        if birth > ctx.as_of:
            return Finding(None, f"birth date {birth} is after the as-of date {ctx.as_of}",
                           (), ("a valid birth date",))
        age = age_in(birth, ctx.as_of, unit)
        ok = check(age)
        if ctx.reason_only:
            return Finding(ok, say(age, ok))
        return Finding(ok, say(age, ok), (_age_evidence(birth, age, unit, ctx.as_of),))

    return Node(test, explain)


def _wanted(node: r.Compare | r.InList) -> tuple[frozenset[str], bool]:
    """The words a `FIELD = word`, `!= word` or `in [...]` rule names, and whether `!=`."""
    if isinstance(node, r.Compare):
        assert isinstance(node.value, r.Symbol)
        return frozenset({node.value.name}), node.op == "!="
    return frozenset(v.name for v in node.values if isinstance(v, r.Symbol)), False


def _build_sex(node: r.Compare | r.InList) -> Node:
    wanted, negate = _wanted(node)
    wanted_text = " or ".join(sorted(wanted))

    def test(ctx: Context) -> Truth:
        sex = ctx.patient.sex
        if sex is None or sex == "unknown":
            return None
        return (sex in wanted) != negate

    def explain(ctx: Context) -> Finding:
        sex = ctx.patient.sex
        if sex is None or sex == "unknown":
            return Finding(None, "sex is not recorded", (), ("sex",))
        ok = (sex in wanted) != negate
        evidence = (Evidence(record_type="patient", display="sex", value=sex),)
        relation = "is" if sex in wanted else "is not"
        return Finding(ok, f"sex is {sex}, which {relation} {wanted_text}", evidence)

    return Node(test, explain)


def _build_recorded(node: r.Compare | r.InList) -> Node:
    """Race (several categories may be reported), ethnicity and marital status, as recorded:
    `race = asian` holds when asian is among them; none recorded, or `unknown`, is UNKNOWN
    in either world."""
    field = node.subject
    wanted, negate = _wanted(node)
    wanted_text = " or ".join(sorted(w.replace("_", " ") for w in wanted))
    words = field.replace("_", " ")
    missing = words if field == "marital_status" else f"self-reported {field}"

    def recorded(p: Patient) -> tuple[str, ...]:
        if field == "race":
            return p.race
        value = p.ethnicity if field == "ethnicity" else p.marital_status
        return (value,) if value else ()

    def test(ctx: Context) -> Truth:
        values = recorded(ctx.patient)
        if not values or values == ("unknown",):
            return None
        return (not wanted.isdisjoint(values)) != negate

    def explain(ctx: Context) -> Finding:
        values = recorded(ctx.patient)
        if not values or values == ("unknown",):
            said = "is recorded as unknown" if values else "is not recorded"
            return Finding(None, f"{words} {said}", (), (missing,))
        hit = not wanted.isdisjoint(values)
        shown = ", ".join(v.replace("_", " ") for v in values)
        evidence = (Evidence(record_type="patient", display=words, value=shown),)
        if field == "marital_status":
            return Finding(hit != negate, f"{words} recorded as {shown}, which is "
                           f"{'' if hit else 'not '}{wanted_text}", evidence)
        return Finding(hit != negate, f"{field} reported as {shown}, which "
                       f"{'includes' if hit else 'does not include'} {wanted_text}", evidence)

    return Node(test, explain)


# ---- reproductive status -------------------------------------------------------------

def _pregnancy_test(ctx: Context) -> Truth:
    return pregnancy_state(ctx)[0]


def _pregnancy_explain(ctx: Context) -> Finding:
    truth, rule, data = pregnancy_state(ctx)
    if rule == "condition":
        c, coding = cast(tuple[Condition, Coding], data)
        return Finding(True, f"active pregnancy condition {describe_record(coding, c)}",
                       (record_evidence(c, coding),))
    if rule == "status":
        assert isinstance(data, PregnancyStatus)
        said = data.status.replace("_", " ")
        when = f" on {data.date}" if data.date else ""
        return Finding(truth, f"pregnancy status recorded as {said}{when}",
                       (Evidence(record_type="pregnancy", value=said, date=data.date),))
    if rule == "male":
        return Finding(False, "male: pregnancy does not apply",
                       (Evidence(record_type="patient", display="sex", value="male"),))
    birth = ctx.patient.birth_date
    if rule == "age" and birth is not None:
        low, high = CHILDBEARING_AGE
        return Finding(False, f"female aged {data}, outside child-bearing age {low}–{high}",
                       (_age_evidence(birth, cast(int, data), "years", ctx.as_of),))
    if data is not None:
        return Finding(None, f"no usable pregnancy status: {data}", (),
                       ("current pregnancy status (e.g. a pregnancy test)",))
    return Finding(None, "pregnancy status is not recorded", (),
                   ("current pregnancy status (e.g. a pregnancy test)",))


# ---- manual criteria -----------------------------------------------------------------


def _build_manual(node: r.Manual, env: Env) -> Node:
    criterion_id, text = env.criterion_id, node.text

    def test(ctx: Context) -> Truth:
        found = attestation_for(ctx.patient.attestations, criterion_id, text, ctx.as_of)
        return None if found is None else found.answer

    def explain(ctx: Context) -> Finding:
        found = attestation_for(ctx.patient.attestations, criterion_id, text, ctx.as_of)
        if found is None:
            return Finding(None, f"awaiting a coordinator's check: \"{text}\"", (),
                           (f"attestation for {criterion_id}: {text}",))
        answer = "yes" if found.answer else "no"
        note = f" ({found.note})" if found.note else ""
        ev = Evidence(record_type="attestation", display=text, value=answer,
                      date=attested_on(found),
                      note=f"by {found.by}"
                      + (f" at {found.at.isoformat(' ')}" if isinstance(found.at, datetime) else "")
                      + note)
        return Finding(found.answer, f"\"{text}\" attested {answer} by {found.by}", (ev,))

    return Node(test, explain)


# ---- the dispatch ----------------------------------------------------------------------


def _build(expr: r.Expr, env: Env) -> Node:
    match expr:
        case r.And(operands):
            return junction([_build(e, env) for e in operands], stop=False)
        case r.Or(operands):
            return junction([_build(e, env) for e in operands], stop=True)
        case r.Not(operand):
            inner = _build(operand, env)
            inner_test, inner_explain = inner

            def not_test(ctx: Context) -> Truth:
                v = inner_test(ctx)
                return None if v is None else not v

            def not_explain(ctx: Context) -> Finding:
                f = inner_explain(ctx)
                return Finding(kleene_not(f.truth), f.reason, f.evidence, f.missing)

            return Node(not_test, not_explain)
        case r.AtLeast(count, operands):
            parts = [_build(e, env) for e in operands]
            tests = tuple(p.test for p in parts)

            def at_least_test(ctx: Context) -> Truth:
                return at_least(count, [t(ctx) for t in tests])

            def at_least_explain(ctx: Context) -> Finding:
                found = [p.explain(ctx) for p in parts]
                truth = at_least(count, [f.truth for f in found])
                holding = sum(1 for f in found if f.truth is True)
                open_ = sum(1 for f in found if f.truth is None)
                head = f"{holding} of {len(found)} hold, {count} needed"
                if open_:
                    head += f", {open_} unknown"
                relevant = [f for f in found if f.truth is not False] or found
                evidence, missing = gather(relevant)
                return Finding(truth, f"{head}: {join_reasons(relevant)}", evidence,
                               missing if truth is None else ())

            return Node(at_least_test, at_least_explain)
        case r.Compare(subject) | r.Between(subject) | r.InList(subject):
            if subject == "age":
                return _build_age(expr)
            if subject == "sex":
                assert not isinstance(expr, r.Between)
                return _build_sex(expr)
            if subject in ("race", "ethnicity", "marital_status"):
                assert not isinstance(expr, r.Between)
                return _build_recorded(expr)
            entry = obs.lookup(subject)
            if entry is not None:
                return build_observation_compare(expr, entry, env)
            score = derived.lookup(subject)
            assert score is not None, f"unchecked subject {subject}"
            return build_score_compare(expr, score, env)
        case r.RecordQuery():
            return _build_query(expr, env)
        case r.ResultTest():
            return build_result_test(expr, env)
        case r.Aggregate(subject=subject):
            entry = obs.lookup(subject)
            assert entry is not None, f"unchecked subject {subject}"
            return build_aggregate(expr, entry, env)
        case r.Pregnant():
            return Node(_pregnancy_test, _pregnancy_explain)
        case r.Breastfeeding():
            return build_breastfeeding()
        case r.ChildbearingPotential():
            return build_childbearing_potential(env, _build)
        case r.GestationalAge():
            return build_gestational_age(expr)
        case r.AllergyQuery():
            return build_allergy(expr, env)
        case r.ResearchQuery():
            return build_research(expr, env)
        case r.BiomarkerResult():
            return build_biomarker_result(expr, env)
        case r.BiomarkerMeasure():
            return build_biomarker_measure(expr, env)
        case r.AdverseEventQuery():
            return build_adverse_event(expr, env)
        case r.AdverseEventsRecovered():
            return build_recovered(expr, env)
        case r.Speaks():
            return build_speaks(expr)
        case r.ResidesIn():
            return build_resides_in(expr)
        case r.EncounterQuery():
            return build_encounter(expr, env)
        case r.ImmunizationQuery():
            return build_immunization(expr, env)
        case r.PlannedProcedureQuery():
            return build_planned_procedure(expr, env)
        case r.FamilyHistoryQuery():
            return build_family_history(expr, env)
        case r.StudyEnrollment():
            return build_study_enrollment(expr, env)
        case r.ProgressionQuery():
            return build_progression(expr, env)
        case r.RecurrenceQuery():
            return build_recurrence(expr, env)
        case r.Manual():
            return _build_manual(expr, env)
        case r.Reference(name):
            if name not in env.defines:
                define = env.protocol.define(name)
                assert define is not None, f"unchecked reference {name}"
                inner = _build(define.expr, env)
                inner_explain = inner.explain

                def ref_explain(ctx: Context, _name: str = name) -> Finding:
                    f = inner_explain(ctx)
                    return Finding(f.truth, f"`{_name}`: {f.reason}", f.evidence, f.missing)

                env.defines[name] = Node(inner.test, ref_explain)
            return env.defines[name]


# ---- criteria and protocols --------------------------------------------------------------

_STATUS_BY_TRUTH: dict[bool, dict[Truth, Status]] = {
    True: {True: Status.PASS, False: Status.FAIL, None: Status.UNKNOWN},
    False: {True: Status.FAIL, False: Status.PASS, None: Status.UNKNOWN},
}


@dataclass(frozen=True, slots=True)
class _CompiledCriterion:
    criterion: r.Criterion
    inclusion: bool
    node: Node
    expression: str
    statuses: dict[Truth, Status]


# A triage by truth values: failing ids, unknown ids, the first failing criterion.
_Triaged = tuple[tuple[str, ...], tuple[str, ...], _CompiledCriterion | None]


class Screener:
    """A compiled protocol, ready to screen many patients.

    Three entry points trade detail for speed: :meth:`verdict` (stops at the first
    failing criterion), :meth:`statuses` (every criterion's status) and :meth:`screen`
    (the full explained :class:`ScreeningResult`).
    """

    def __init__(self, protocol: r.Protocol) -> None:
        self.protocol = protocol
        matchers = {name: compile_matcher(codes)
                    for name, (_, codes) in valueset_contents(protocol).items()}
        titles = {name: title for name, (title, _) in valueset_contents(protocol).items()}
        self._codes = CodeIndex()
        assert self._codes.bit(PREGNANCY_CODES) == PREGNANCY_BIT
        compiled = []
        for c in protocol.criteria:
            world = protocol.open_world if c.open_world is None else c.open_world
            env = Env(protocol, matchers, titles, self._codes, c.id, world)
            inclusion = c.kind is r.CriterionKind.INCLUSION
            compiled.append(_CompiledCriterion(
                c, inclusion, _build(c.expr, env), expr_text(c.expr),
                _STATUS_BY_TRUTH[inclusion]))
        self._criteria = tuple(compiled)
        self._tests = tuple((cc.node.test, cc.inclusion) for cc in compiled)
        self._status_tests = tuple((cc.node.test, cc.statuses) for cc in compiled)
        self._truth_tests = tuple(cc.node.test for cc in compiled)
        # What triage makes of the criteria's truth values, by those values: a pure
        # function of them, remembered since a population shows only a few hundred.
        self._triaged: dict[tuple[Truth, ...], _Triaged] = {}

    def verdict(self, patient: Patient, as_of: date) -> Verdict:
        ctx = Context(patient, as_of, self._codes)
        unresolved = False
        for test, inclusion in self._tests:
            truth = test(ctx)
            if truth is None:
                unresolved = True
            elif truth is not inclusion:
                return Verdict.INELIGIBLE
        return Verdict.NEEDS_REVIEW if unresolved else Verdict.ELIGIBLE

    def statuses(self, patient: Patient, as_of: date) -> tuple[Status, ...]:
        ctx = Context(patient, as_of, self._codes)
        return tuple([statuses[test(ctx)] for test, statuses in self._status_tests])

    @property
    def criterion_ids(self) -> tuple[str, ...]:
        """The criteria's ids, in the order :meth:`statuses` reports them."""
        return tuple(cc.criterion.id for cc in self._criteria)

    def triage(self, patient: Patient, as_of: date
               ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, str] | None]:
        """The ids of the failing and of the unknown criteria, and the id and reason of the
        first failing one: what a batch row needs, in one evaluation (the reason reuses
        what the tests read)."""
        ctx = Context(patient, as_of, self._codes)
        # Truth values, not statuses: a tuple of them hashes without a Python call.
        truths = tuple([test(ctx) for test in self._truth_tests])
        triaged = self._triaged.get(truths)
        if triaged is None:
            triaged = self._triage(truths)
            if len(self._triaged) < MEMO_LIMIT:
                self._triaged[truths] = triaged
        failed, unknown, first = triaged
        if first is None:
            return failed, unknown, None
        ctx.reason_only = True
        reason = first.node.explain(ctx).reason
        return failed, unknown, (first.criterion.id, reason[:1].upper() + reason[1:])

    def _triage(self, truths: tuple[Truth, ...]) -> _Triaged:
        statuses = [cc.statuses[t] for cc, t in zip(self._criteria, truths, strict=True)]
        failed = [cc for cc, s in zip(self._criteria, statuses, strict=True) if s is Status.FAIL]
        unknown = tuple(cc.criterion.id for cc, s in zip(self._criteria, statuses, strict=True)
                        if s is Status.UNKNOWN)
        return tuple(cc.criterion.id for cc in failed), unknown, failed[0] if failed else None

    def explain(self, patient: Patient, as_of: date, criterion_id: str) -> CriterionResult:
        """One criterion's explained result (a batch row's reason, without the rest)."""
        cc = next(cc for cc in self._criteria if cc.criterion.id == criterion_id)
        return self._explained(cc, Context(patient, as_of, self._codes))

    @staticmethod
    def _explained(cc: _CompiledCriterion, ctx: Context) -> CriterionResult:
        finding = cc.node.explain(ctx)
        c = cc.criterion
        return CriterionResult(
            c.id, c.kind.value, c.text, cc.statuses[finding.truth], cc.expression,
            TRUTH_WORD[finding.truth], finding.reason[:1].upper() + finding.reason[1:],
            finding.evidence, finding.missing,
        )

    def screen(self, patient: Patient, as_of: date) -> ScreeningResult:
        ctx = Context(patient, as_of, self._codes)
        results = []
        to_resolve: list[ToResolve] = []
        failed = unresolved = False
        for cc in self._criteria:
            explained = self._explained(cc, ctx)
            results.append(explained)
            if explained.status is Status.FAIL:
                failed = True
            elif explained.status is Status.UNKNOWN:
                unresolved = True
                to_resolve.extend(ToResolve(explained.id, m) for m in explained.missing)
        if failed:
            verdict = Verdict.INELIGIBLE
        elif unresolved:
            verdict = Verdict.NEEDS_REVIEW
        else:
            verdict = Verdict.ELIGIBLE
        p = self.protocol
        return ScreeningResult(
            protocol_id=p.trial_id, protocol_version=p.version, protocol_hash=p.source_hash,
            patient_id=patient.id, as_of=as_of, engine_version=__version__, verdict=verdict,
            criteria=tuple(results),
            to_resolve=tuple(to_resolve) if verdict is Verdict.NEEDS_REVIEW else (),
        )
