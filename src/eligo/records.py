"""What a patient's records say at an as-of date: dates, record rules, the code index.

The rules for when a condition, medication or procedure counts (active at the as-of
date, or during a window), which statuses are ignored, how pregnancy is read from
statuses and conditions, and which attestation answers a manual item. The evaluator
combines these answers; this module never builds explanations.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from eligo import rules as r
from eligo.patient import (
    Attestation,
    Coding,
    Condition,
    Medication,
    Patient,
    Procedure,
)
from eligo.result import Evidence
from eligo.terminology import MEMO_LIMIT, SYSTEM_LABELS, CodeMatcher, compile_matcher

Truth = bool | None  # None is UNKNOWN

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
        known = self._memo.get  # mask(), without a call for the codes seen before
        for record in records:
            m = 0
            for coding in record.codes:
                found = known((coding.system, coding.code))
                m |= self.mask(coding.system, coding.code) if found is None else found
            if m:
                entries.append((record, m))
                union |= m
        return union, tuple(entries)


class Context:
    """One evaluation: the patient, the as-of date and the lazily built record indexes."""

    __slots__ = ("_medications", "_procedures", "as_of", "codes", "conditions_index", "memo",
                 "patient", "reason_only")

    def __init__(self, patient: Patient, as_of: date, codes: CodeIndex) -> None:
        self.patient = patient
        self.as_of = as_of
        self.codes = codes
        # Conditions are what nearly every protocol asks about: index them up front.
        self.conditions_index = codes.index(patient.conditions)
        self._medications: IndexedRecords | None = None
        self._procedures: IndexedRecords | None = None
        # What one evaluation has read already (score inputs shared by Child-Pugh and MELD).
        self.memo: dict[object, object] = {}
        # Explanations are read for their reason alone (a batch row's): the rules whose
        # evidence costs most to make (derived scores, age) leave it out.
        self.reason_only = False

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



# ---- dates ---------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def shift_back(as_of: date, amount: int, unit: str) -> date:
    """The day ``amount`` units before ``as_of`` (calendar months and years, clamped to
    month ends); before year 1, the earliest representable date."""
    try:
        if unit == "days":
            return as_of - timedelta(days=amount)
        if unit == "weeks":
            return as_of - timedelta(weeks=amount)
        if unit == "months":
            return add_months(as_of, -amount)
        return add_months(as_of, -12 * amount)
    except (OverflowError, ValueError):
        return date.min


def window_start(as_of: date, window: r.Window) -> date:
    """First day of ``within N unit`` ending on the as-of date (inclusive)."""
    return shift_back(as_of, window.amount, window.unit)


def age_in(birth: date, as_of: date, unit: str) -> int:
    """Completed units of age at ``as_of`` (a 70-year-old stays 70 until the 71st birthday)."""
    if unit == "years":
        return as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
    if unit == "months":
        return (as_of.year - birth.year) * 12 + as_of.month - birth.month - (as_of.day < birth.day)
    days = (as_of - birth).days
    return days // 7 if unit == "weeks" else days


# ---- coded records ---------------------------------------------------------------------

_CURRENT_CONDITION = frozenset({"active", "recurrence", "relapse", None})
IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
_IGNORED_MEDICATION = frozenset({"entered-in-error", "not-taken", "intended"})
_CURRENT_MEDICATION = frozenset({"active", "on-hold", "unknown", None})
_COUNTED_PROCEDURE = frozenset({"completed", "unknown", None})

MISSING_DATE = {"condition": "abatement (end) date", "history": "abatement (end) date",
                 "medication": "end date", "procedure": "date"}
KIND_NOUN = {"condition": "condition", "history": "condition", "medication": "medication",
              "procedure": "procedure"}


def matching_coding(codes: tuple[Coding, ...], matcher: CodeMatcher) -> Coding | None:
    for coding in codes:
        if matcher.matches(coding.system, coding.code):
            return coding
    return None


Period = tuple[date, date]  # inclusive; an open start is date.min


def _bounds(record: Record, as_of: date) -> tuple[date | None, date | None, bool]:
    """(first day, last day, still going) of a counted record; None where not recorded.

    A condition runs from onset to abatement, a medication from start to end, a procedure
    is its date. "Still going" (no end, current status) means it lasts up to the as-of date.
    """
    if isinstance(record, Condition):
        going = record.abatement is None and record.clinical_status in _CURRENT_CONDITION
        return record.onset, record.abatement, going
    if isinstance(record, Medication):
        going = record.end is None and record.status in _CURRENT_MEDICATION
        return record.start, record.end, going
    return record.date, record.date, False


def first_day(record: Record) -> date | None:
    """The day a record begins (onset, start, procedure date), if recorded."""
    if isinstance(record, Condition):
        return record.onset
    if isinstance(record, Medication):
        return record.start
    return record.date


def counted(record: Record) -> bool:
    """Whether a record counts at all: refuted, entered-in-error, intended, not-taken
    and not-done records never do."""
    if isinstance(record, Condition):
        return record.verification_status not in IGNORED_VERIFICATION
    if isinstance(record, Medication):
        return record.status not in _IGNORED_MEDICATION
    return record.status in _COUNTED_PROCEDURE


def condition_truth(c: Condition, as_of: date, period: Period | None, history: bool) -> Truth:
    """Does condition ``c`` count: active at the as-of date, or at some time in ``period``?"""
    if c.onset is not None and c.onset > as_of:
        return False  # recorded after the screening date
    if period is None:
        if history:
            return True
        if c.abatement is not None:
            return c.abatement > as_of
        return c.clinical_status in _CURRENT_CONDITION
    return overlaps(c, as_of, period)


def overlaps(record: Record, as_of: date, period: Period) -> Truth:
    """Does the record's time overlap ``period`` (which ends on or before the as-of date)?

    UNKNOWN when a missing date could put it either side of a bound.
    """
    return episode_overlaps(*_bounds(record, as_of), as_of, period)


def episode_overlaps(first: date | None, last: date | None, going: bool, as_of: date,
                     period: Period) -> Truth:
    """Does an episode from ``first`` to ``last`` (or still going) overlap ``period``? The
    rule of :func:`overlaps`, for episodes of any kind (studies, stays, adverse events)."""
    if first is not None and first > as_of:
        return False
    start, end = period
    if first is not None and first > end:
        return False
    unbounded = start == date.min
    if last is not None or going:
        if last is not None and last < start:
            return False
        # It reaches into the period; it overlaps if it began before the period ended.
        if first is not None or end == as_of:
            return True
        return None
    # Over, on an unknown date: it overlaps for sure only if it began inside the period.
    if first is not None and start <= first:
        return True
    if unbounded and end == as_of:
        return True
    return None


def record_truth(kind: r.EventKind, record: Record, as_of: date, period: Period | None) -> Truth:
    """Does a matching record count for the query, at the as-of date or in ``period``?"""
    if not counted(record):
        return False
    if isinstance(record, Condition):
        return condition_truth(record, as_of, period, kind == "history")
    if isinstance(record, Medication):
        if record.start is not None and record.start > as_of:
            return False
        if period is None:
            if record.end is not None:
                return record.end >= as_of
            return record.status in _CURRENT_MEDICATION
        return overlaps(record, as_of, period)
    if record.date is None:
        # Undated: it happened by the as-of date, but when is unknown.
        return True if period is None or (period[0] == date.min and period[1] == as_of) \
            else None
    if record.date > as_of:
        return False
    return period is None or period[0] <= record.date <= period[1]


def exposure_days(records: Iterable[Record], as_of: date, period: Period
                  ) -> tuple[int, list[Record]]:
    """Days covered by the records inside ``period``, overlapping stretches merged once,
    and the records whose missing dates keep their exposure from being measured."""
    stretches: list[tuple[date, date]] = []
    unmeasured: list[Record] = []
    start, end = period
    for record in records:
        first, last, going = _bounds(record, as_of)
        if going:
            last = as_of
        if first is None or last is None:
            unmeasured.append(record)
            continue
        lo, hi = max(first, start), min(last, end)
        if lo <= hi:
            stretches.append((lo, hi))
    total = 0
    current: tuple[date, date] | None = None
    for lo, hi in sorted(stretches):
        if current is None or lo > current[1] + timedelta(days=1):
            if current is not None:
                total += (current[1] - current[0]).days + 1
            current = (lo, hi)
        else:
            current = (current[0], max(current[1], hi))
    if current is not None:
        total += (current[1] - current[0]).days + 1
    return total, unmeasured


def record_evidence(record: Condition | Medication | Procedure, coding: Coding) -> Evidence:
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


def coding_text(coding: Coding) -> str:
    """``ICD-10-CM K74.60 (Unspecified cirrhosis of liver)``: a coding as results show it."""
    text = f"{SYSTEM_LABELS.get(coding.system, coding.system)} {coding.code}"
    return f"{text} ({coding.display})" if coding.display else text


def describe_record(coding: Coding, record: Condition | Medication | Procedure) -> str:
    shown = coding_text(coding)
    when = {Condition: "onset", Medication: "from", Procedure: "on"}[type(record)]
    day = getattr(record, {"onset": "onset", "from": "start", "on": "date"}[when])
    return f"{shown}, {when} {day}" if day else shown


def _conditions(p: Patient) -> tuple[Record, ...]:
    return p.conditions


def _medications(p: Patient) -> tuple[Record, ...]:
    return p.medications


def _procedures(p: Patient) -> tuple[Record, ...]:
    return p.procedures


INDEXED: dict[str, Callable[[Context], IndexedRecords]] = {
    "condition": Context.conditions, "history": Context.conditions,
    "medication": Context.medications, "procedure": Context.procedures,
}
RECORD_GETTERS: dict[str, Callable[[Patient], tuple[Record, ...]]] = {
    "condition": _conditions, "history": _conditions,
    "medication": _medications, "procedure": _procedures,
}


# ---- pregnancy ---------------------------------------------------------------------------

# Active pregnancy conditions: ICD-10-CM Z33.1 pregnant state, Z34 supervision of normal
# pregnancy, O09 supervision of high-risk pregnancy; SNOMED CT 77386006 pregnancy.
PREGNANCY_CODES = compile_matcher((
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


def status_problem(said: str, day: date | None, as_of: date, valid_days: int) -> str | None:
    """Why a recorded status (pregnant, not breastfeeding...) cannot be used at the as-of
    date: no date, a date after it, or older than it stays valid; None when it can."""
    if day is None:
        return f"the recorded status ({said}) has no date"
    if day > as_of:
        return f"the recorded status ({said}, {day}) is after the as-of date"
    if (as_of - day).days > valid_days:
        return f"the last status ({said}, {day}) is older than {valid_days} days"
    return None


def pregnancy_state(ctx: Context) -> tuple[Truth, str, object]:
    """The pregnancy decision and which rule made it, without building any text."""
    p, as_of = ctx.patient, ctx.as_of
    union, entries = ctx.conditions()
    if union & PREGNANCY_BIT:
        for c, mask in entries:
            if mask & PREGNANCY_BIT and isinstance(c, Condition) and \
                    c.verification_status not in IGNORED_VERIFICATION and \
                    condition_truth(c, as_of, None, history=False) and \
                    (c.onset is None or (as_of - c.onset).days <= PREGNANT_VALID_DAYS):
                coding = matching_coding(c.codes, PREGNANCY_CODES)
                return True, "condition", (c, coding)
    status = p.pregnancy
    unusable: str | None = None
    if status is not None and status.status != "unknown":
        limit = PREGNANT_VALID_DAYS if status.status == "pregnant" else NOT_PREGNANT_VALID_DAYS
        unusable = status_problem(status.status.replace("_", " "), status.date, as_of, limit)
        if unusable is None:
            return status.status == "pregnant", "status", status
    if p.sex == "male":
        return False, "male", None
    if p.sex == "female" and p.birth_date is not None:
        age = age_in(p.birth_date, as_of, "years")
        if not CHILDBEARING_AGE[0] <= age <= CHILDBEARING_AGE[1]:
            return False, "age", age
    return None, "missing", unusable


# ---- attestations ------------------------------------------------------------------------


def attested_on(a: Attestation) -> date:
    return a.at.date() if isinstance(a.at, datetime) else a.at


def attested_instant(a: Attestation) -> datetime:
    """A comparable instant: aware times in UTC, naive ones and plain dates taken as UTC."""
    at = a.at
    if not isinstance(at, datetime):
        return datetime(at.year, at.month, at.day, tzinfo=UTC)
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def attestation_for(attestations: tuple[Attestation, ...], criterion_id: str, text: str,
                     as_of: date) -> Attestation | None:
    """The latest attestation answering this manual item, made on or before the as-of date."""
    chosen: Attestation | None = None
    for a in attestations:
        if a.criterion != criterion_id or (a.item is not None and a.item != text):
            continue
        if attested_on(a) > as_of:
            continue
        if chosen is None or attested_instant(a) >= attested_instant(chosen):
            chosen = a
    return chosen


