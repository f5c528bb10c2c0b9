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
from datetime import UTC, date, datetime, timedelta
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
from eligo.terminology import MEMO_LIMIT, SYSTEM_LABELS, CodeMatcher, compile_matcher

Truth = bool | None  # None is UNKNOWN


@dataclass(frozen=True, slots=True)
class Finding:
    """The explained value of one expression."""

    truth: Truth
    reason: str
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()


Record = Condition | Medication | Procedure
IndexedRecords = tuple[int, tuple[tuple[Record, int], ...]]


class CodeIndex:
    """Gives each code matcher of a protocol one bit and maps a coding to its bit mask.

    A patient's records are indexed once per evaluation (lazily, per record kind); a
    query whose bit is in no record's mask is decided without scanning the records.
    """

    __slots__ = ("_bits", "_matchers", "_memo")

    def __init__(self) -> None:
        self._matchers: list[CodeMatcher] = []
        self._bits: dict[int, int] = {}
        self._memo: dict[tuple[str, str], int] = {}

    def bit(self, matcher: CodeMatcher) -> int:
        key = id(matcher)
        if key not in self._bits:
            self._bits[key] = 1 << len(self._matchers)
            self._matchers.append(matcher)
        return self._bits[key]

    def mask(self, system: str, code: str) -> int:
        key = (system, code)
        found = self._memo.get(key)
        if found is None:
            found = 0
            for i, matcher in enumerate(self._matchers):
                if matcher.matches(system, code):
                    found |= 1 << i
            if len(self._memo) < MEMO_LIMIT:
                self._memo[key] = found
        return found

    def index(self, records: tuple[Record, ...]) -> IndexedRecords:
        union = 0
        entries = []
        mask = self.mask
        for record in records:
            m = 0
            for coding in record.codes:
                m |= mask(coding.system, coding.code)
            if m:
                entries.append((record, m))
                union |= m
        return union, tuple(entries)


class Context:
    """One evaluation: the patient, the as-of date and the lazily built record indexes."""

    __slots__ = ("_medications", "_procedures", "as_of", "codes", "conditions_index", "patient")

    def __init__(self, patient: Patient, as_of: date, codes: CodeIndex) -> None:
        self.patient = patient
        self.as_of = as_of
        self.codes = codes
        # Conditions are what nearly every protocol asks about: index them up front.
        self.conditions_index = codes.index(patient.conditions)
        self._medications: IndexedRecords | None = None
        self._procedures: IndexedRecords | None = None

    def conditions(self) -> IndexedRecords:
        return self.conditions_index

    def medications(self) -> IndexedRecords:
        if self._medications is None:
            self._medications = self.codes.index(self.patient.medications)
        return self._medications

    def procedures(self) -> IndexedRecords:
        if self._procedures is None:
            self._procedures = self.codes.index(self.patient.procedures)
        return self._procedures


Test = Callable[[Context], Truth]
Explain = Callable[[Context], Finding]


class Node(NamedTuple):
    test: Test
    explain: Explain


@dataclass
class _Env:
    protocol: r.Protocol
    matchers: dict[str, CodeMatcher]
    codes: CodeIndex
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
    """First day of ``within N unit`` ending on the as-of date (inclusive).

    A window reaching before year 1 starts at the earliest representable date.
    """
    try:
        if window.unit == "days":
            return as_of - timedelta(days=window.amount)
        if window.unit == "weeks":
            return as_of - timedelta(weeks=window.amount)
        if window.unit == "months":
            return add_months(as_of, -window.amount)
        return add_months(as_of, -12 * window.amount)
    except (OverflowError, ValueError):
        return date.min


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
_COUNTED_PROCEDURE = frozenset({"completed", "unknown", None})

_MISSING_DATE = {"condition": "abatement (end) date", "history": "abatement (end) date",
                 "medication": "end date", "procedure": "date"}
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
        note: str = record.clinical_status or "status not stated"
        if record.verification_status:
            note += f", {record.verification_status}"
        if record.abatement:
            note += f", abated {record.abatement}"
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
    bit = env.codes.bit(matcher)
    indexed = _INDEXED[kind]
    absent: Truth = None if open_world else False
    on_conditions = kind in ("condition", "history")

    def test(ctx: Context) -> Truth:
        union, entries = ctx.conditions_index if on_conditions else indexed(ctx)
        if not union & bit:
            return absent
        as_of = ctx.as_of
        start = window_start(as_of, window) if window is not None else None
        undecided = False
        for record, mask in entries:
            if mask & bit:
                t = _record_truth(kind, record, as_of, start)
                if t:
                    return True
                if t is None:
                    undecided = True
        return None if undecided else absent

    qualifier = {"condition": "active", "history": "", "medication": "current",
                 "procedure": ""}[kind]
    when = f" within the last {window.amount} {window.unit}" if window else ""
    if window is not None and kind == "condition":
        qualifier = "active"
    if window is not None and kind == "medication":
        qualifier = ""

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
        start = window_start(as_of, window) if window is not None else None
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
        undecided: list[tuple[Record, Coding]] = []
        ignored: list[tuple[Record, Coding]] = []
        for record, mask in entries:
            if not mask & bit:
                continue
            coding = _matching_coding(record.codes, matcher)
            if coding is None:  # pragma: no cover - the index says it matches
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
        searched = describe_search(len(records))
        if ignored:
            searched += (f" ({len(ignored)} matching record{'' if len(ignored) == 1 else 's'} "
                         "not counted: refuted, entered in error, not current or outside the "
                         "window)")
        if undecided:
            record, coding = undecided[0]
            return Finding(
                None,
                f"{noun} {_describe_record(coding, record)} is in {target_label} but its "
                f"dates do not show whether it counts{when or ' now'}",
                tuple(_record_evidence(rec, cod) for rec, cod in undecided),
                (f"{_MISSING_DATE[kind]} of {noun} {coding.code}",),
            )
        return absent_finding(searched, tuple(_record_evidence(rec, cod) for rec, cod in ignored))

    return Node(test, explain)


def _conditions(p: Patient) -> tuple[Record, ...]:
    return p.conditions


def _medications(p: Patient) -> tuple[Record, ...]:
    return p.medications


def _procedures(p: Patient) -> tuple[Record, ...]:
    return p.procedures


_INDEXED: dict[str, Callable[[Context], IndexedRecords]] = {
    "condition": Context.conditions, "history": Context.conditions,
    "medication": Context.medications, "procedure": Context.procedures,
}
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
        bound, op = float(node.value.number), _OPS[node.op]
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
# A recorded status must be dated on or before the as-of date, and no older than this:
# a negative status goes stale after 30 days (protocols usually ask for a test within
# 7-14 days), a positive one (status or pregnancy condition) after a full term.
PREGNANCY_BIT = 1  # every Screener's code index registers the pregnancy codes first
NOT_PREGNANT_VALID_DAYS = 30
PREGNANT_VALID_DAYS = 280
CHILDBEARING_AGE = (10, 55)  # years, inclusive; outside it pregnancy is taken as FALSE


def _pregnancy_state(ctx: Context) -> tuple[Truth, str, object]:
    """The pregnancy decision and which rule made it, without building any text."""
    p, as_of = ctx.patient, ctx.as_of
    union, entries = ctx.conditions()
    if union & PREGNANCY_BIT:
        for c, mask in entries:
            if mask & PREGNANCY_BIT and isinstance(c, Condition) and \
                    c.verification_status not in _IGNORED_VERIFICATION and \
                    _condition_truth(c, as_of, None, history=False) and \
                    (c.onset is None or (as_of - c.onset).days <= PREGNANT_VALID_DAYS):
                coding = _matching_coding(c.codes, _PREGNANCY_CODES)
                return True, "condition", (c, coding)
    status = p.pregnancy
    unusable: str | None = None
    if status is not None and status.status != "unknown":
        limit = PREGNANT_VALID_DAYS if status.status == "pregnant" else NOT_PREGNANT_VALID_DAYS
        said = status.status.replace("_", " ")
        if status.date is None:
            unusable = f"the recorded status ({said}) has no date"
        elif status.date > as_of:
            unusable = f"the recorded status ({said}, {status.date}) is after the as-of date"
        elif (as_of - status.date).days > limit:
            unusable = f"the last status ({said}, {status.date}) is older than {limit} days"
        else:
            return status.status == "pregnant", "status", status
    if p.sex == "male":
        return False, "male", None
    if p.sex == "female" and p.birth_date is not None:
        age = age_in(p.birth_date, as_of, "years")
        if not CHILDBEARING_AGE[0] <= age <= CHILDBEARING_AGE[1]:
            return False, "age", age
    return None, "missing", unusable


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
    if data is not None:
        return Finding(None, f"no usable pregnancy status: {data}", (),
                       ("current pregnancy status (e.g. a pregnancy test)",))
    return Finding(None, "pregnancy status is not recorded", (),
                   ("current pregnancy status (e.g. a pregnancy test)",))


# ---- manual criteria -----------------------------------------------------------------


def _attested_on(a: Attestation) -> date:
    return a.at.date() if isinstance(a.at, datetime) else a.at


def _attested_instant(a: Attestation) -> datetime:
    """A comparable instant: aware times in UTC, naive ones and plain dates taken as UTC."""
    at = a.at
    if not isinstance(at, datetime):
        return datetime(at.year, at.month, at.day, tzinfo=UTC)
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def _attestation_for(attestations: tuple[Attestation, ...], criterion_id: str, text: str,
                     as_of: date) -> Attestation | None:
    """The latest attestation answering this manual item, made on or before the as-of date."""
    chosen: Attestation | None = None
    for a in attestations:
        if a.criterion != criterion_id or (a.item is not None and a.item != text):
            continue
        if _attested_on(a) > as_of:
            continue
        if chosen is None or _attested_instant(a) >= _attested_instant(chosen):
            chosen = a
    return chosen


def _build_manual(node: r.Manual, env: _Env) -> Node:
    criterion_id, text = env.criterion_id, node.text

    def test(ctx: Context) -> Truth:
        found = _attestation_for(ctx.patient.attestations, criterion_id, text, ctx.as_of)
        return None if found is None else found.answer

    def explain(ctx: Context) -> Finding:
        found = _attestation_for(ctx.patient.attestations, criterion_id, text, ctx.as_of)
        if found is None:
            return Finding(None, f"awaiting a coordinator's check: \"{text}\"", (),
                           (f"attestation for {criterion_id}: {text}",))
        answer = "yes" if found.answer else "no"
        note = f" ({found.note})" if found.note else ""
        ev = Evidence(record_type="attestation", display=text, value=answer,
                      date=_attested_on(found),
                      note=f"by {found.by}"
                      + (f" at {found.at.isoformat(' ')}" if isinstance(found.at, datetime) else "")
                      + note)
        return Finding(found.answer, f"\"{text}\" attested {answer} by {found.by}", (ev,))

    return Node(test, explain)


# ---- the dispatch ----------------------------------------------------------------------


def _build_junction(parts: list[Node], stop: bool) -> Node:
    """``and`` (``stop=False``: a FALSE operand decides) or ``or`` (``stop=True``)."""
    tests = tuple(p.test for p in parts)
    neutral = not stop

    def test(ctx: Context) -> Truth:
        result: Truth = neutral
        for t in tests:
            v = t(ctx)
            if v is stop:
                return stop
            if v is None:
                result = None
        return result

    def explain(ctx: Context) -> Finding:
        # Explain only the operands that decide the value: they are the reason.
        truths = [t(ctx) for t in tests]
        truth = kleene_or(truths) if stop else kleene_and(truths)
        found = [p.explain(ctx) for p, t in zip(parts, truths, strict=True) if t is truth]
        evidence, missing = _gather(found)
        return Finding(truth, _join(found), evidence, missing if truth is None else ())

    return Node(test, explain)


def _build(expr: r.Expr, env: _Env) -> Node:
    match expr:
        case r.And(operands):
            return _build_junction([_build(e, env) for e in operands], stop=False)
        case r.Or(operands):
            return _build_junction([_build(e, env) for e in operands], stop=True)
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
                    return Finding(f.truth, f"`{_name}`: {f.reason}", f.evidence, f.missing)

                env.defines[name] = Node(inner.test, ref_explain)
            return env.defines[name]


# ---- criteria and protocols --------------------------------------------------------------

_STATUS = {
    (True, True): Status.PASS, (True, False): Status.FAIL,
    (False, True): Status.FAIL, (False, False): Status.PASS,
}


_STATUS_BY_TRUTH: dict[bool, dict[Truth, Status]] = {
    True: {True: Status.PASS, False: Status.FAIL, None: Status.UNKNOWN},
    False: {True: Status.FAIL, False: Status.PASS, None: Status.UNKNOWN},
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
    statuses: dict[Truth, Status]


class Screener:
    """A compiled protocol, ready to screen many patients.

    Three entry points trade detail for speed: :meth:`verdict` (stops at the first
    failing criterion), :meth:`statuses` (every criterion's status) and :meth:`screen`
    (the full explained :class:`ScreeningResult`).
    """

    def __init__(self, protocol: r.Protocol) -> None:
        self.protocol = protocol
        matchers = {vs.name: compile_matcher(vs.codes) for vs in protocol.valuesets}
        self._codes = CodeIndex()
        assert self._codes.bit(_PREGNANCY_CODES) == PREGNANCY_BIT
        compiled = []
        for c in protocol.criteria:
            world = protocol.open_world if c.open_world is None else c.open_world
            env = _Env(protocol, matchers, self._codes, c.id, world)
            inclusion = c.kind is r.CriterionKind.INCLUSION
            compiled.append(_CompiledCriterion(
                c, inclusion, _build(c.expr, env), expr_text(c.expr),
                _STATUS_BY_TRUTH[inclusion]))
        self._criteria = tuple(compiled)
        self._tests = tuple((cc.node.test, cc.inclusion) for cc in compiled)
        self._status_tests = tuple((cc.node.test, cc.statuses) for cc in compiled)

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

    def screen(self, patient: Patient, as_of: date) -> ScreeningResult:
        ctx = Context(patient, as_of, self._codes)
        results = []
        to_resolve: list[ToResolve] = []
        failed = unresolved = False
        for cc in self._criteria:
            finding = cc.node.explain(ctx)
            status = cc.statuses[finding.truth]
            c = cc.criterion
            results.append(CriterionResult(
                c.id, c.kind.value, c.text, status, cc.expression, TRUTH_WORD[finding.truth],
                finding.reason[:1].upper() + finding.reason[1:], finding.evidence,
                finding.missing,
            ))
            if status is Status.FAIL:
                failed = True
            elif status is Status.UNKNOWN:
                unresolved = True
                to_resolve.extend(ToResolve(c.id, m) for m in finding.missing)
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
