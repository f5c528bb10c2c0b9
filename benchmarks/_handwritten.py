"""Building blocks for screening by hand, the way one would write a protocol without eligo.

Nothing here imports the evaluator. Code sets are written out as the protocols' value sets
are, and ICD-10-CM ``*`` and ranges are expanded once, at import, through the CMS tables
that ``simple-icd-10-cm`` ships (the package eligo depends on too; a developer would use a
terminology library, not string prefixes). Labs are read the way a results feed is read:
the newest counted result inside the freshness window decides, in the unit it came in,
converted with each analyte's own factor; an unreadable newest result is not skipped for
an older one. Scores are computed with the pure functions of :mod:`eligo.scores` (a score
library, which a developer would use too); everything that feeds them is read here.

Truth values are ``True``, ``False`` or ``None`` (cannot tell), combined as Kleene logic.
"""

from __future__ import annotations

import calendar
import warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from types import MappingProxyType, ModuleType
from typing import Any, NamedTuple

from eligo.patient import Condition, Medication, Observation, Patient, Procedure

Truth = bool | None

# ==== code sets ==============================================================================


@cache
def _cms_tables() -> ModuleType:
    with warnings.catch_warnings():  # the package reads its tables with a deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


@cache
def _icd_codes() -> tuple[str, ...]:
    """Every ICD-10-CM category and code of the tabular list (no chapters, no blocks)."""
    cm = _cms_tables()
    return tuple(c for c in cm.get_all_codes(with_dots=True)
                 if "-" not in c and not cm.is_chapter(c))


def expand_icd10cm(written: str) -> frozenset[str]:
    """``K74.6*``: K74.6 and its descendants; ``C00-C96``: every code whose category lies in
    the range (each end compared over its own length); anything else: that code alone."""
    if written.endswith("*"):
        base = written[:-1]
        return frozenset([base, *(d for d in _cms_tables().get_descendants(base) if "-" not in d)])
    if "-" in written:
        low, high = written.split("-")
        return frozenset(c for c in _icd_codes() if low <= c[:len(low)] and c[:len(high)] <= high)
    return frozenset([written])


class CodeSet:
    """A value set written by hand: codes per system, ICD-10-CM expanded, ATC by class.

    ``includes`` are other hand-written sets whose codes belong to this one (a protocol's
    ``valueset x = use ascites; icd10cm ...``).
    """

    __slots__ = ("atc_prefixes", "by_system", "name", "written")

    def __init__(self, name: str, *, icd10cm: Sequence[str] = (), snomed: Sequence[str] = (),
                 atc: Sequence[str] = (), rxnorm: Sequence[str] = (), cpt: Sequence[str] = (),
                 includes: Sequence[CodeSet] = ()) -> None:
        self.name = name
        written = {("icd10cm", c) for c in icd10cm} | {("snomed", c) for c in snomed}
        written |= {("atc", c) for c in atc} | {("rxnorm", c) for c in rxnorm}
        written |= {("cpt", c) for c in cpt}
        for other in includes:
            written |= other.written
        self.written: frozenset[tuple[str, str]] = frozenset(written)
        by_system: dict[str, set[str]] = {}
        prefixes: list[str] = []
        for system, code in self.written:
            if system == "icd10cm":
                by_system.setdefault(system, set()).update(expand_icd10cm(code))
            elif system == "atc" and code.endswith("*"):
                prefixes.append(code[:-1])  # ATC classes nest by prefix: H02AB -> H02AB06
            else:
                by_system.setdefault(system, set()).add(code)
        self.by_system = {system: frozenset(codes) for system, codes in by_system.items()}
        self.atc_prefixes = tuple(sorted(prefixes))

    def codes(self) -> frozenset[tuple[str, str]]:
        """Every (system, code) the set matches exactly."""
        return frozenset((s, c) for s, codes in self.by_system.items() for c in codes)

    def has(self, record: Condition | Medication | Procedure) -> bool:
        by_system = self.by_system
        for coding in record.codes:
            codes = by_system.get(coding.system)
            if codes is not None and coding.code in codes:
                return True
            if coding.system == "atc" and self.atc_prefixes and \
                    coding.code.startswith(self.atc_prefixes):
                return True
        return False


# ==== dates ==================================================================================


def age_years(birth: date, as_of: date) -> int:
    return as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to the end of that month."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def as_utc(at: date | datetime) -> datetime:
    """A comparable instant: aware times converted to UTC, naive times and dates taken as UTC."""
    if not isinstance(at, datetime):
        return datetime(at.year, at.month, at.day, tzinfo=UTC)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def kleene_or(values: Iterable[Truth]) -> Truth:
    result: Truth = False
    for v in values:
        if v is True:
            return True
        if v is None:
            result = None
    return result


def kleene_and(values: Iterable[Truth]) -> Truth:
    result: Truth = True
    for v in values:
        if v is False:
            return False
        if v is None:
            result = None
    return result


# ==== conditions, medications, procedures ====================================================

CURRENT = frozenset({"active", "recurrence", "relapse", None})
NOT_COUNTED = frozenset({"refuted", "entered-in-error"})
MEDICATION_NOT_COUNTED = frozenset({"entered-in-error", "not-taken", "intended"})
MEDICATION_GOING = frozenset({"active", "on-hold", "unknown", None})
PROCEDURE_COUNTED = frozenset({"completed", "unknown", None})


def active_now(c: Condition, as_of: date) -> bool:
    """Active at the screening date: begun, not abated, current status; never refuted."""
    if c.verification_status in NOT_COUNTED:
        return False
    if c.onset is not None and c.onset > as_of:
        return False
    if c.abatement is not None:
        return c.abatement > as_of
    return c.clinical_status in CURRENT


def has_active(patient: Patient, codes: CodeSet, as_of: date) -> bool:
    # A plain loop rather than any(<generator>): this is the hot path, and the faster
    # baseline is the stricter one for the engine to be measured against.
    for c in patient.conditions:  # noqa: SIM110
        if codes.has(c) and active_now(c, as_of):
            return True
    return False


def active_since(patient: Patient, codes: CodeSet, as_of: date, start: date) -> Truth:
    """Was a matching condition active at some point in [start, as_of]? None: can't tell."""
    unsure = False
    for c in patient.conditions:
        if not codes.has(c) or c.verification_status in NOT_COUNTED:
            continue
        if c.onset is not None and c.onset > as_of:
            continue
        if c.abatement is not None:
            if c.abatement >= start:
                return True
        elif c.clinical_status in CURRENT or (c.onset is not None and c.onset >= start):
            return True
        else:
            unsure = True  # over, on an unknown date
    return None if unsure else False


def exposure_more_than(patient: Patient, codes: CodeSet, as_of: date, start: date,
                       days: int) -> Truth:
    """Taken for more than ``days`` days in [start, as_of], overlapping courses merged.

    A course still going counts up to the screening date; one without a start, or stopped
    on an unrecorded date, cannot be measured: if the measured days fall short, can't tell.
    """
    stretches = []
    unmeasured = False
    for m in patient.medications:
        if m.status in MEDICATION_NOT_COUNTED or not codes.has(m):
            continue
        last = m.end
        if last is None and m.status in MEDICATION_GOING:
            last = as_of
        if m.start is None or last is None:
            unmeasured = True
            continue
        lo, hi = max(m.start, start), min(last, as_of)
        if lo <= hi:
            stretches.append((lo, hi))
    total = 0
    stretches.sort()
    current_lo = current_hi = None
    for lo, hi in stretches:
        if current_hi is None or lo > current_hi + timedelta(days=1):
            if current_hi is not None:
                total += (current_hi - current_lo).days + 1
            current_lo, current_hi = lo, hi
        elif hi > current_hi:
            current_hi = hi
    if current_hi is not None:
        total += (current_hi - current_lo).days + 1
    if total > days:
        return True
    return None if unmeasured else False


def procedures_at_least(patient: Patient, codes: CodeSet, as_of: date, start: date | None,
                        times: int) -> Truth:
    """Done at least ``times`` times in [start, as_of] (``start`` None: ever). An undated
    procedure may or may not fall inside a window."""
    sure = maybe = 0
    for p in patient.procedures:
        if p.status not in PROCEDURE_COUNTED or not codes.has(p):
            continue
        if p.date is None:
            if start is None:
                sure += 1
            else:
                maybe += 1
        elif p.date <= as_of and (start is None or p.date >= start):
            sure += 1
    if sure >= times:
        return True
    return None if sure + maybe >= times else False


def dialysed_twice_last_week(patient: Patient, dialysis: CodeSet, as_of: date) -> bool:
    """MELD's dialysis rule: at least two dated sessions in the 7 days up to the as-of date."""
    week_start = as_of - timedelta(days=7)
    sessions = 0
    for p in patient.procedures:
        if p.date is not None and week_start <= p.date <= as_of \
                and p.status in PROCEDURE_COUNTED and dialysis.has(p):
            sessions += 1
    return sessions >= 2


# ==== observations ===========================================================================

IGNORED_RESULT = frozenset({"cancelled", "entered-in-error", "registered"})


class Lab(NamedTuple):
    """An observation as a results feed codes it: its codes, its unit, how long it is fresh.

    ``factors`` turns a value in another unit into ``unit`` (mass <-> molar with the
    analyte's molar mass); a unit not listed cannot be read. A result without a unit is
    read only when the unit is a pure number (``unitless``, the INR). ``uln`` is the default
    upper limit of normal, used when the laboratory sends no reference range. ``local`` are
    the names a site codes its own results with under the system ``eligo`` (scales without
    a standard code, such as the West Haven grade, and local tests).
    """

    name: str
    loinc: frozenset[str]
    snomed: frozenset[str]
    unit: str | None
    fresh_days: int
    factors: Mapping[str, float] = MappingProxyType({})
    uln: float | None = None
    unitless: bool = False
    local: frozenset[str] = frozenset()


def latest_result(patient: Patient, lab: Lab, as_of: date, start: date) -> Observation | None:
    """The newest counted result of ``lab`` dated in [start, as_of]; the first listed wins a
    tie. Results without a date, after the as-of date, cancelled, entered in error or only
    registered never count."""
    best: Observation | None = None
    best_day = start
    loinc, snomed, local = lab.loinc, lab.snomed, lab.local
    for o in patient.observations:
        day = o.date
        if day is None or day > as_of or day < best_day or (best is not None and day == best_day):
            continue
        if o.status in IGNORED_RESULT:
            continue
        for coding in o.codes:
            system = coding.system
            if (system == "loinc" and coding.code in loinc) or \
                    (system == "snomed" and coding.code in snomed) or \
                    (system == "eligo" and coding.code in local):
                best, best_day = o, day
                break
    return best


def reported_digits(value: float) -> int:
    """The significant digits a result was reported with, kept between 3 and 12: a whole
    number counts all its digits (49000: 5, 3.0: 1), a decimal its digits without leading
    or trailing zeros (0.0585: 3); 12 at most drops binary floating-point noise."""
    magnitude = abs(value)
    if magnitude.is_integer() and magnitude < 1e15:
        digits = len(str(int(magnitude)))
    else:
        digits = len(repr(magnitude).split("e")[0].replace(".", "").strip("0"))
    return min(max(digits, 3), 12)


def in_unit(lab: Lab, value: float, unit: str | None) -> float | None:
    """``value`` in ``unit`` expressed in the lab's unit, to the precision it was reported
    with (51.3 umol/L of bilirubin is 3.00 mg/dL); None when the unit is not one it has."""
    if unit is None or not unit.strip() or unit == lab.unit:
        return float(value)
    factor = lab.factors.get(unit)
    if factor is None:
        return None
    converted = value * factor
    return float(f"{converted:.{reported_digits(value)}g}") if converted else converted


def quantity(o: Observation | None, lab: Lab) -> float | None:
    """A result's number in the lab's unit, or None: no result, no value, not a number, no
    unit (unless the lab is a pure number), or a unit that does not convert."""
    if o is None:
        return None
    value = o.value
    if value is None or isinstance(value, bool | str):
        return None
    unit = o.unit
    if (unit is None or not unit.strip()) and not lab.unitless:
        return None
    return in_unit(lab, value, unit)


def lab_value(patient: Patient, lab: Lab, as_of: date) -> float | None:
    """The lab's fresh value (its own freshness window), or None."""
    start = as_of - timedelta(days=lab.fresh_days)
    return quantity(latest_result(patient, lab, as_of, start), lab)


def upper_limit(o: Observation, lab: Lab) -> float | None:
    """The laboratory's upper limit of normal, in the lab's unit, else the default one."""
    if o.reference_high is not None:
        uln = in_unit(lab, o.reference_high, o.unit)
        if uln is not None:
            return uln
    return lab.uln


# Qualitative results as laboratories send them (text, LOINC answer codes, true/false).
_POLARITY = {
    "positive": "positive", "pos": "positive", "reactive": "positive", "detected": "positive",
    "la6576-8": "positive",
    "negative": "negative", "neg": "negative", "non-reactive": "negative",
    "nonreactive": "negative", "not detected": "negative", "la6577-6": "negative",
    "indeterminate": "indeterminate", "equivocal": "indeterminate",
}


def polarity(value: Any) -> str | None:
    if isinstance(value, bool):
        return "positive" if value else "negative"
    if isinstance(value, str):
        return _POLARITY.get(value.strip().lower())
    return None


def result_is(patient: Patient, lab: Lab, wanted: str, as_of: date, days: int | None = None
              ) -> Truth:
    """Does the newest result (in ``days``, else the lab's own window) read ``wanted``?
    No result, an unreadable one or an indeterminate one: can't tell."""
    start = as_of - timedelta(days=lab.fresh_days if days is None else days)
    o = latest_result(patient, lab, as_of, start)
    if o is None:
        return None
    found = polarity(o.value)
    if found is None or found == "indeterminate":
        return None
    return found == wanted


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5}


def grade_of(value: Any, words: tuple[str, ...], top: int) -> int | None:
    """A grade 0..``top`` as records write it: 1, "1", "II", "grade 2", "ECOG PS 1" (leading
    ``words`` dropped); anything else (a range "1-2", another scale's label) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() and 0 <= value <= top else None
    if not isinstance(value, str):
        return None
    parts = value.strip().lower().split()
    while len(parts) > 1 and parts[0] in words:
        parts = parts[1:]
    if len(parts) != 1:
        return None
    word = parts[0]
    grade = int(word) if word.isdigit() else _ROMAN.get(word)
    return grade if grade is not None and 0 <= grade <= top else None


def ecog_grade(value: Any) -> int | None:
    """ECOG 0-5: 1, "1", "ECOG 1", "ECOG PS 1", "PS 2"."""
    return grade_of(value, ("ecog", "ps"), 5)


def west_haven_grade(value: Any) -> int | None:
    """West Haven 0-4: 3, "3", "grade 3", "West Haven 2", "grade III", "HE grade 1"."""
    return grade_of(value, ("west", "haven", "he", "grade"), 4)


# ==== pregnancy and attestations =============================================================

PREGNANT_VALID_DAYS = 280  # a positive status or pregnancy diagnosis lasts a full term
NOT_PREGNANT_VALID_DAYS = 30  # a negative status goes stale after 30 days


def pregnant(patient: Patient, codes: CodeSet, as_of: date) -> Truth:
    """eligo's built-in `pregnant`: a current diagnosis, else a dated, fresh status, else sex
    and child-bearing age (10-55)."""
    for c in patient.conditions:
        if codes.has(c) and active_now(c, as_of) and \
                (c.onset is None or (as_of - c.onset).days <= PREGNANT_VALID_DAYS):
            return True
    status = patient.pregnancy
    if status is not None and status.status != "unknown" and status.date is not None \
            and status.date <= as_of:
        pregnant_now = status.status == "pregnant"
        valid_days = PREGNANT_VALID_DAYS if pregnant_now else NOT_PREGNANT_VALID_DAYS
        if (as_of - status.date).days <= valid_days:
            return pregnant_now
    if patient.sex == "male":
        return False
    if patient.sex == "female" and patient.birth_date is not None \
            and not 10 <= age_years(patient.birth_date, as_of) <= 55:
        return False
    return None


def attested(patient: Patient, criterion: str, text: str, as_of: date) -> Truth:
    """The latest answer to this manual item given by the as-of date; None if there is none."""
    answer: Truth = None
    latest: datetime | None = None
    for a in patient.attestations:
        if a.criterion != criterion or (a.item is not None and a.item != text):
            continue
        day = a.at.date() if isinstance(a.at, datetime) else a.at
        if day > as_of:
            continue  # answered after the screening date
        instant = as_utc(a.at)
        if latest is None or instant >= latest:
            answer, latest = a.answer, instant
    return answer
