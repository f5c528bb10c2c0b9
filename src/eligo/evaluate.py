"""Three-valued evaluation of rule objects against a patient at an as-of date.

Rule objects are built once into pairs of closures by one dispatch (:func:`_build`):
``test`` returns only the truth value (``True``, ``False`` or ``None`` for UNKNOWN) and is
what verdict-only and status-only screening run; ``explain`` returns a :class:`Finding`
with the reason, evidence and missing data, built only when an explanation is asked for.
Evaluation is a pure function of (protocol, patient, as-of date, attestations): no clock,
no I/O, no global state.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, NamedTuple, cast

from eligo import rules as r
from eligo._version import __version__
from eligo.patient import (
    Attestation,
    Coding,
    Condition,
    Medication,
    Patient,
    PregnancyStatus,
    Procedure,
)
from eligo.printer import codes_text, expr_text
from eligo.result import CriterionResult, Evidence, ScreeningResult, Status, ToResolve, Verdict
from eligo.terminology import SYSTEM_LABELS, CodeMatcher, compile_matcher

Truth = bool | None  # None is UNKNOWN
Record = Condition | Medication | Procedure


@dataclass(frozen=True, slots=True)
class Finding:
    """The explained value of one expression."""

    truth: Truth
    reason: str
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    patient: Patient
    as_of: date


Test = Callable[[Context], Truth]
Explain = Callable[[Context], Finding]


class Node(NamedTuple):
    test: Test
    explain: Explain


@dataclass
class _Env:
    protocol: r.Protocol
    matchers: dict[str, CodeMatcher]
    criterion_id: str
    open_world: bool
    defines: dict[str, Node] = field(default_factory=dict)


# ---- dates ---------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def window_start(as_of: date, window: r.Window) -> date:
    """First day of ``within N unit`` ending on the as-of date (inclusive)."""
    if window.unit == "days":
        return as_of - timedelta(days=window.amount)
    if window.unit == "weeks":
        return as_of - timedelta(weeks=window.amount)
    if window.unit == "months":
        return add_months(as_of, -window.amount)
    return add_months(as_of, -12 * window.amount)


def age_in(birth: date, as_of: date, unit: str) -> int:
    """Completed units of age at ``as_of`` (a 70-year-old stays 70 until the 71st birthday)."""
    if unit == "years":
        return as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
    if unit == "months":
        return (as_of.year - birth.year) * 12 + as_of.month - birth.month - (as_of.day < birth.day)
    days = (as_of - birth).days
    return days // 7 if unit == "weeks" else days


# ---- Kleene logic ----------------------------------------------------------------------


def kleene_and(values: Iterable[Truth]) -> Truth:
    result: Truth = True
    for v in values:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def kleene_or(values: Iterable[Truth]) -> Truth:
    result: Truth = False
    for v in values:
        if v is True:
            return True
        if v is None:
            result = None
    return result


def kleene_not(value: Truth) -> Truth:
    return None if value is None else not value


def at_least(count: int, values: Sequence[Truth]) -> Truth:
    trues = sum(1 for v in values if v is True)
    if trues >= count:
        return True
    unknowns = sum(1 for v in values if v is None)
    return False if trues + unknowns < count else None


TRUTH_WORD: dict[Truth, Literal["true", "false", "unknown"]] = {
    True: "true", False: "false", None: "unknown"}


def _join(findings: Iterable[Finding]) -> str:
    return "; ".join(f.reason for f in findings)


def _gather(findings: Sequence[Finding]) -> tuple[tuple[Evidence, ...], tuple[str, ...]]:
    evidence = tuple(e for f in findings for e in f.evidence)
    missing = tuple(dict.fromkeys(m for f in findings for m in f.missing))
    return evidence, missing


# ---- coded records ---------------------------------------------------------------------

_CURRENT_CONDITION = frozenset({"active", "recurrence", "relapse", None})
_IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
_IGNORED_MEDICATION = frozenset({"entered-in-error", "not-taken", "intended"})
_CURRENT_MEDICATION = frozenset({"active", "on-hold", "unknown", None})
_COUNTED_PROCEDURE = frozenset({"completed", "in-progress", "stopped", "unknown", None})

_KIND_NOUN = {"condition": "condition", "history": "condition", "medication": "medication",
              "procedure": "procedure"}


def _matching_coding(codes: tuple[Coding, ...], matcher: CodeMatcher) -> Coding | None:
    for coding in codes:
        if matcher.matches(coding.system, coding.code):
            return coding
    return None


def _condition_truth(c: Condition, as_of: date, start: date | None, history: bool) -> Truth:
    """Does condition ``c`` count: active at the as-of date, or during [start, as_of]?"""
    if c.onset is not None and c.onset > as_of:
        return False  # recorded after the screening date
    if start is None:
        if history:
            return True
        if c.abatement is not None:
            return c.abatement > as_of
        return c.clinical_status in _CURRENT_CONDITION
    # window: the active period [onset, end] must overlap [start, as_of]
    if c.abatement is not None:
        return c.abatement >= start
    if c.clinical_status in _CURRENT_CONDITION:
        return True
    # resolved on an unknown date: it overlaps only if it began inside the window
    if c.onset is not None and c.onset >= start:
        return True
    return None


def _medication_truth(m: Medication, as_of: date, start: date | None) -> Truth:
    if m.status in _IGNORED_MEDICATION:
        return False
    if m.start is not None and m.start > as_of:
        return False
    if start is None:
        if m.end is not None:
            return m.end >= as_of
        return m.status in _CURRENT_MEDICATION
    if m.end is not None:
        return m.end >= start
    if m.status in _CURRENT_MEDICATION:
        return True
    if m.start is not None and m.start >= start:
        return True
    return None


def _procedure_truth(p: Procedure, as_of: date, start: date | None) -> Truth:
    if p.status not in _COUNTED_PROCEDURE:
        return False
    if p.date is None:
        return True if start is None else None
    if p.date > as_of:
        return False
    return start is None or p.date >= start


def _record_truth(kind: r.EventKind, record: Condition | Medication | Procedure,
                  as_of: date, start: date | None) -> Truth:
    if isinstance(record, Condition):
        if record.verification_status in _IGNORED_VERIFICATION:
            return False
        return _condition_truth(record, as_of, start, kind == "history")
    if isinstance(record, Medication):
        return _medication_truth(record, as_of, start)
    return _procedure_truth(record, as_of, start)


def _record_evidence(record: Condition | Medication | Procedure, coding: Coding) -> Evidence:
    if isinstance(record, Condition):
        status = record.clinical_status or "status not stated"
        note = f"{status}" + (f", abated {record.abatement}" if record.abatement else "")
        return Evidence(record_type="condition", record_id=record.id, system=coding.system,
                        code=coding.code, display=coding.display, date=record.onset, note=note)
    if isinstance(record, Medication):
        note = (record.status or "status not stated") + (f", until {record.end}" if record.end
                                                          else "")
        return Evidence(record_type="medication", record_id=record.id, system=coding.system,
                        code=coding.code, display=coding.display, date=record.start, note=note)
    return Evidence(record_type="procedure", record_id=record.id, system=coding.system,
                    code=coding.code, display=coding.display, date=record.date,
                    note=record.status)


def _describe_record(coding: Coding, record: Condition | Medication | Procedure) -> str:
    label = SYSTEM_LABELS.get(coding.system, coding.system)
    shown = f"{label} {coding.code}"
    if coding.display:
        shown += f" ({coding.display})"
    when = {Condition: "onset", Medication: "from", Procedure: "on"}[type(record)]
    day = getattr(record, {"onset": "onset", "from": "start", "on": "date"}[when])
    return f"{shown}, {when} {day}" if day else shown


def _build_query(q: r.RecordQuery, env: _Env) -> Node:
    kind, window = q.kind, q.window
    if isinstance(q.target, r.ValueSetRef):
        matcher = env.matchers[q.target.name]
        vs = env.protocol.valueset(q.target.name)
        title = f" ({vs.title})" if vs and vs.title else ""
        target_label = f"value set `{q.target.name}`{title}"
    else:
        matcher = compile_matcher(q.target.codes)
        target_label = f"[{codes_text(q.target.codes)}]"
    open_world = env.open_world
    noun = _KIND_NOUN[kind]
    get_records = _RECORD_GETTERS[kind]

    def test(ctx: Context) -> Truth:
        as_of = ctx.as_of
        start = window_start(as_of, window) if window is not None else None
        undecided = False
        for record in get_records(ctx.patient):
            if _matching_coding(record.codes, matcher) is None:
                continue
            t = _record_truth(kind, record, as_of, start)
            if t:
                return True
            if t is None:
                undecided = True
        if undecided or open_world:
            return None
        return False

    qualifier = {"condition": "active", "history": "", "medication": "current",
                 "procedure": ""}[kind]
    when = f" within the last {window.amount} {window.unit}" if window else ""
    if window is not None and kind == "condition":
        qualifier = "active"
    if window is not None and kind == "medication":
        qualifier = ""

    def explain(ctx: Context) -> Finding:
        as_of = ctx.as_of
        start = window_start(as_of, window) if window is not None else None
        records = get_records(ctx.patient)
        undecided: list[tuple[Condition | Medication | Procedure, Coding]] = []
        ignored: list[tuple[Condition | Medication | Procedure, Coding]] = []
        for record in records:
            coding = _matching_coding(record.codes, matcher)
            if coding is None:
                continue
            t = _record_truth(kind, record, as_of, start)
            if t:
                return Finding(
                    True,
                    f"{noun} {_describe_record(coding, record)} is in {target_label}"
                    + (f" and counts{when}" if when else ""),
                    (_record_evidence(record, coding),),
                )
            (undecided if t is None else ignored).append((record, coding))
        lead = " ".join(w for w in (qualifier, noun) if w)
        searched = f"no {lead} in {target_label}{when} among {len(records)} {noun}s on record"
        if ignored:
            searched += f" ({len(ignored)} matching record(s) not current or outside the window)"
        if undecided:
            record, coding = undecided[0]
            return Finding(
                None,
                f"{noun} {_describe_record(coding, record)} is in {target_label} but its "
                f"dates do not show whether it counts{when or ' now'}",
                tuple(_record_evidence(rec, cod) for rec, cod in undecided),
                (f"end date of {noun} {coding.code}",),
            )
        if open_world:
            return Finding(None, searched + "; absence is not proof for this criterion",
                           tuple(_record_evidence(rec, cod) for rec, cod in ignored),
                           (f"whether the patient has {lead} in {target_label}{when}",))
        return Finding(False, searched,
                       tuple(_record_evidence(rec, cod) for rec, cod in ignored))

    return Node(test, explain)


def _conditions(p: Patient) -> tuple[Record, ...]:
    return p.conditions


def _medications(p: Patient) -> tuple[Record, ...]:
    return p.medications


def _procedures(p: Patient) -> tuple[Record, ...]:
    return p.procedures


_RECORD_GETTERS: dict[str, Callable[[Patient], tuple[Record, ...]]] = {
    "condition": _conditions, "history": _conditions,
    "medication": _medications, "procedure": _procedures,
}


# ---- demographics --------------------------------------------------------------------

_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
_OP_WORDS = {"=": "exactly", "!=": "other than", "<": "under", "<=": "at most",
             ">": "over", ">=": "at least"}
_AGE_UNITS = {"years": "years", "year": "years", "months": "months", "month": "months",
              "weeks": "weeks", "week": "weeks", "days": "days", "day": "days"}


def _age_evidence(birth: date, age: int, unit: str, as_of: date) -> Evidence:
    return Evidence(record_type="patient", display="birth date", value=birth.isoformat(),
                    date=birth, note=f"age {age} {unit} at {as_of}")


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
        bound, op = float(node.value.number), _OPS[node.op]
        words = f"{_OP_WORDS[node.op]} {node.value.number} {unit}"

        def check(age: int) -> bool:
            return op(age, bound)

        def say(age: int, ok: bool) -> str:
            return f"age {age} is {'' if ok else 'not '}{words}"
    else:
        quantities = [v for v in node.values if isinstance(v, r.Quantity)]
        unit = _AGE_UNITS[quantities[0].unit or "years"]
        allowed = frozenset(float(q.number) for q in quantities)
        listed = ", ".join(str(q.number) for q in quantities)

        def check(age: int) -> bool:
            return age in allowed

        def say(age: int, ok: bool) -> str:
            return f"age {age} {unit} is {'' if ok else 'not '}one of {listed}"

    def test(ctx: Context) -> Truth:
        birth = ctx.patient.birth_date
        if birth is None:
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
        return Finding(ok, say(age, ok), (_age_evidence(birth, age, unit, ctx.as_of),))

    return Node(test, explain)


def _build_sex(node: r.Compare | r.InList) -> Node:
    if isinstance(node, r.Compare):
        assert isinstance(node.value, r.Symbol)
        wanted = frozenset({node.value.name})
        negate = node.op == "!="
    else:
        wanted = frozenset(v.name for v in node.values if isinstance(v, r.Symbol))
        negate = False
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


# ---- reproductive status -------------------------------------------------------------

# Active pregnancy conditions: ICD-10-CM Z33.1 pregnant state, Z34 supervision of normal
# pregnancy, O09 supervision of high-risk pregnancy; SNOMED CT 77386006 pregnancy.
_PREGNANCY_CODES = compile_matcher((
    r.CodeRef("icd10cm", "Z33.1"), r.CodeRef("icd10cm", "Z34", "descendants"),
    r.CodeRef("icd10cm", "O09", "descendants"), r.CodeRef("snomed", "77386006"),
))
# A recorded status older than this no longer answers the question: a negative status
# goes stale after 30 days (protocols usually ask for a test within 7-14 days), a
# positive one after a full term.
NOT_PREGNANT_VALID_DAYS = 30
PREGNANT_VALID_DAYS = 280
CHILDBEARING_AGE = (10, 55)  # years, inclusive; outside it pregnancy is taken as FALSE


def _pregnancy_state(ctx: Context) -> tuple[Truth, str, object]:
    """The pregnancy decision and which rule made it, without building any text."""
    p, as_of = ctx.patient, ctx.as_of
    for c in p.conditions:
        coding = _matching_coding(c.codes, _PREGNANCY_CODES)
        if coding and c.verification_status not in _IGNORED_VERIFICATION and \
                _condition_truth(c, as_of, None, history=False):
            return True, "condition", (c, coding)
    status = p.pregnancy
    stale = None
    if status is not None and status.status != "unknown" and status.date is not None \
            and status.date <= as_of:
        limit = PREGNANT_VALID_DAYS if status.status == "pregnant" else NOT_PREGNANT_VALID_DAYS
        if (as_of - status.date).days > limit:
            stale, status = (status, limit), None
    if status is not None and status.status != "unknown":
        return status.status == "pregnant", "status", status
    if p.sex == "male":
        return False, "male", None
    if p.sex == "female" and p.birth_date is not None:
        age = age_in(p.birth_date, as_of, "years")
        if not CHILDBEARING_AGE[0] <= age <= CHILDBEARING_AGE[1]:
            return False, "age", age
    return None, "missing", stale


def _pregnancy_test(ctx: Context) -> Truth:
    return _pregnancy_state(ctx)[0]


def _pregnancy_explain(ctx: Context) -> Finding:
    truth, rule, data = _pregnancy_state(ctx)
    if rule == "condition":
        c, coding = cast(tuple[Condition, Coding], data)
        return Finding(True, f"active pregnancy condition {_describe_record(coding, c)}",
                       (_record_evidence(c, coding),))
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
    stale_note = ""
    if data is not None:
        old, limit = cast(tuple[PregnancyStatus, int], data)
        stale_note = (f"; the last status ({old.status.replace('_', ' ')}, {old.date}) "
                      f"is older than {limit} days")
    return Finding(None, "pregnancy status is not recorded" + stale_note, (),
                   ("current pregnancy status (e.g. a pregnancy test)",))


# ---- manual criteria -----------------------------------------------------------------


def _attestation_for(attestations: tuple[Attestation, ...], criterion_id: str,
                     text: str) -> Attestation | None:
    chosen: Attestation | None = None
    for a in attestations:
        if a.criterion != criterion_id or (a.item is not None and a.item != text):
            continue
        if chosen is None or str(a.at) >= str(chosen.at):
            chosen = a
    return chosen


def _build_manual(node: r.Manual, env: _Env) -> Node:
    criterion_id, text = env.criterion_id, node.text

    def test(ctx: Context) -> Truth:
        found = _attestation_for(ctx.patient.attestations, criterion_id, text)
        return None if found is None else found.answer

    def explain(ctx: Context) -> Finding:
        found = _attestation_for(ctx.patient.attestations, criterion_id, text)
        if found is None:
            return Finding(None, f"awaiting a coordinator's check: \"{text}\"", (),
                           (f"attestation for {criterion_id}: {text}",))
        answer = "yes" if found.answer else "no"
        note = f" ({found.note})" if found.note else ""
        ev = Evidence(record_type="attestation", display=text, value=answer,
                      date=found.at if isinstance(found.at, date) else None,
                      note=f"by {found.by} at {found.at}{note}")
        return Finding(found.answer, f"\"{text}\" attested {answer} by {found.by}", (ev,))

    return Node(test, explain)


# ---- the dispatch ----------------------------------------------------------------------


def _build(expr: r.Expr, env: _Env) -> Node:
    match expr:
        case r.And(operands):
            parts = [_build(e, env) for e in operands]
            tests = tuple(p.test for p in parts)

            def and_test(ctx: Context) -> Truth:
                result: Truth = True
                for t in tests:
                    v = t(ctx)
                    if v is False:
                        return False
                    if v is None:
                        result = None
                return result

            def and_explain(ctx: Context) -> Finding:
                found = [p.explain(ctx) for p in parts]
                truth = kleene_and(f.truth for f in found)
                deciding = [f for f in found if f.truth is truth] or found
                evidence, missing = _gather(deciding)
                return Finding(truth, _join(deciding), evidence, missing if truth is None else ())

            return Node(and_test, and_explain)
        case r.Or(operands):
            parts = [_build(e, env) for e in operands]
            tests = tuple(p.test for p in parts)

            def or_test(ctx: Context) -> Truth:
                result: Truth = False
                for t in tests:
                    v = t(ctx)
                    if v is True:
                        return True
                    if v is None:
                        result = None
                return result

            def or_explain(ctx: Context) -> Finding:
                found = [p.explain(ctx) for p in parts]
                truth = kleene_or(f.truth for f in found)
                deciding = [f for f in found if f.truth is truth] or found
                evidence, missing = _gather(deciding)
                return Finding(truth, _join(deciding), evidence, missing if truth is None else ())

            return Node(or_test, or_explain)
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
                evidence, missing = _gather(relevant)
                return Finding(truth, f"{head}: {_join(relevant)}", evidence,
                               missing if truth is None else ())

            return Node(at_least_test, at_least_explain)
        case r.Compare(subject) | r.Between(subject) | r.InList(subject):
            if subject == "age":
                return _build_age(expr)
            assert not isinstance(expr, r.Between)
            return _build_sex(expr)
        case r.RecordQuery():
            return _build_query(expr, env)
        case r.Pregnant():
            return Node(_pregnancy_test, _pregnancy_explain)
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
                    return Finding(f.truth, f"{_name}: {f.reason}", f.evidence, f.missing)

                env.defines[name] = Node(inner.test, ref_explain)
            return env.defines[name]


# ---- criteria and protocols --------------------------------------------------------------

_STATUS = {
    (True, True): Status.PASS, (True, False): Status.FAIL,
    (False, True): Status.FAIL, (False, False): Status.PASS,
}


def status_of(truth: Truth, inclusion: bool) -> Status:
    if truth is None:
        return Status.UNKNOWN
    return _STATUS[(inclusion, truth)]


@dataclass(frozen=True, slots=True)
class _CompiledCriterion:
    criterion: r.Criterion
    inclusion: bool
    node: Node
    expression: str


class Screener:
    """A compiled protocol, ready to screen many patients.

    Three entry points trade detail for speed: :meth:`verdict` (stops at the first
    failing criterion), :meth:`statuses` (every criterion's status) and :meth:`screen`
    (the full explained :class:`ScreeningResult`).
    """

    def __init__(self, protocol: r.Protocol) -> None:
        self.protocol = protocol
        matchers = {vs.name: compile_matcher(vs.codes) for vs in protocol.valuesets}
        compiled = []
        for c in protocol.criteria:
            world = protocol.open_world if c.open_world is None else c.open_world
            env = _Env(protocol, matchers, c.id, world)
            compiled.append(_CompiledCriterion(
                c, c.kind is r.CriterionKind.INCLUSION, _build(c.expr, env), expr_text(c.expr)))
        self._criteria = tuple(compiled)
        self._tests = tuple((cc.node.test, cc.inclusion) for cc in compiled)

    def verdict(self, patient: Patient, as_of: date) -> Verdict:
        ctx = Context(patient, as_of)
        unresolved = False
        for test, inclusion in self._tests:
            truth = test(ctx)
            if truth is None:
                unresolved = True
            elif truth is not inclusion:
                return Verdict.INELIGIBLE
        return Verdict.NEEDS_REVIEW if unresolved else Verdict.ELIGIBLE

    def statuses(self, patient: Patient, as_of: date) -> tuple[Status, ...]:
        ctx = Context(patient, as_of)
        return tuple(status_of(test(ctx), inclusion) for test, inclusion in self._tests)

    def screen(self, patient: Patient, as_of: date) -> ScreeningResult:
        ctx = Context(patient, as_of)
        results = []
        to_resolve: list[ToResolve] = []
        for cc in self._criteria:
            finding = cc.node.explain(ctx)
            status = status_of(finding.truth, cc.inclusion)
            results.append(CriterionResult(
                id=cc.criterion.id, kind=cc.criterion.kind.value, text=cc.criterion.text,
                status=status, expression=cc.expression, truth=TRUTH_WORD[finding.truth],
                reason=finding.reason[:1].upper() + finding.reason[1:],
                evidence=finding.evidence, missing=finding.missing,
            ))
            if status is Status.UNKNOWN:
                to_resolve.extend(ToResolve(criterion=cc.criterion.id, item=m)
                                  for m in finding.missing)
        statuses = [c.status for c in results]
        if Status.FAIL in statuses:
            verdict = Verdict.INELIGIBLE
        elif Status.UNKNOWN in statuses:
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
