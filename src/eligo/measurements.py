"""What a patient's observations say about one library entry at an as-of date.

The most recent usable result inside the period decides (by default the entry's
freshness window ending on the as-of date). Quantities are converted to the entry's
canonical unit with the analyte's own factors; a value in a unit that cannot be read is
never silently skipped for an older one: the reading is then missing, with the reason.

A converted value keeps the precision it was written with: it is rounded to the number of
significant digits of the value as written (at least 3, at most 12). So 51.3 umol/L of
bilirubin is 3.00 mg/dL -- the 3-digit factor 17.1 of the SI conversion tables, not the
2.9993 the molar mass alone gives -- and a value written once in mg/dL and once in umol/L
is compared alike; the cap of 12 digits removes floating-point noise of the conversion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from functools import cache, lru_cache
from operator import itemgetter
from typing import Literal, NamedTuple

from eligo import observations as obs
from eligo.observations import ObservationEntry
from eligo.patient import Coding, Observation, Patient
from eligo.units import UnitError, parse_unit

Period = tuple[date, date]
Gap = Literal["absent", "stale", "unreadable"]  # why there is no usable result
Missing = Literal["missing", "unreadable"]  # the same, without looking before the period
_IGNORED_STATUS = frozenset({"cancelled", "entered-in-error", "registered"})


class Reading(NamedTuple):
    """A usable result: ``value`` is canonical for quantities, the raw value otherwise.

    (Named tuples, like :class:`NoReading`: immutable, and cheaper to make than a frozen
    dataclass, which matters at one or more per rule and patient.)
    """

    entry: ObservationEntry
    value: float | str | bool
    observation: Observation
    coding: Coding
    uln: float | None  # upper limit of normal, canonical unit: the lab's, else the library's


class NoReading(NamedTuple):
    """Why there is no usable result, and what would provide one.

    ``kind`` says which: ``absent`` (no result at all), ``stale`` (only results older than
    the period; ``observation`` is the last of them) or ``unreadable`` (the deciding result
    has no value, is not a number or is in a unit that does not convert).
    """

    reason: str
    missing: str
    observation: Observation | None = None
    coding: Coding | None = None
    kind: Gap = "absent"


@cache
def codes_of(entry: ObservationEntry) -> frozenset[tuple[str, str]]:
    """The codings that count as a result of ``entry``: its LOINC and SNOMED CT codes, and
    the library's own name or aliases under the system ``eligo`` -- for scales with no
    standard code (West Haven grade, ASA class) and sites' local observations."""
    return frozenset([*(("loinc", c) for c in entry.loinc), *(("snomed", c) for c in entry.snomed),
                      *(("eligo", n) for n in entry.names)])


Results = list[tuple[date, Observation, Coding]]
"""The counted results of one entry: dated on or before the as-of date, not cancelled,
entered in error or only registered, newest first (same-day results in record order), each
with its date and the coding it was found by (the first of its codings the entry reads)."""
_day = itemgetter(0)  # a result's date


@cache
def _library_tables() -> tuple[dict[tuple[str, str], tuple[str, ...]],
                               Mapping[str, ObservationEntry]]:
    """Every coding the library reads -> the names of the entries it counts for; and the
    library by name (to tell its entries from others)."""
    found: dict[tuple[str, str], list[str]] = {}
    for entry in obs.entries():
        for code in sorted(codes_of(entry)):
            found.setdefault(code, []).append(entry.name)
    return {code: tuple(names) for code, names in found.items()}, obs.library()


class ResultIndex:
    """A patient's counted results by library entry, for one as-of date.

    Each entry's results are kept newest first, found in one pass over the observations;
    every rule that reads an entry then looks only at its own results. The pass is lazy
    in time: a rule looking at the last 30 days indexes only the results of those 30 days,
    and older ones are indexed (and appended, being older) when a rule looks further back
    or an explanation names the last result before the period.
    """

    __slots__ = ("_as_of", "_by_code", "_by_entry", "_latest", "_library", "_observations",
                 "_older", "_since")

    def __init__(self, patient: Patient, as_of: date) -> None:
        self._as_of = as_of
        self._observations = patient.observations
        self._by_code, self._library = _library_tables()
        self._by_entry: dict[str, Results] = {}
        self._latest: dict[tuple[str, Period], Reading | Missing] = {}
        # Every counted result dated from _since up to the as-of date is indexed; _older
        # are the observations dated before _since that are still to look at.
        self._since = date.max
        self._older: tuple[Observation, ...] | list[Observation] = patient.observations

    def _cover(self, start: date) -> None:
        """Index the results dated from ``start`` on (if not done already)."""
        as_of = self._as_of
        entries_of = self._by_code.get
        tier: dict[str, Results] = {}
        in_tier = tier.get
        older: list[Observation] = []
        keep = older.append
        for o in self._older:
            day = o.date
            if day is None or day > as_of:
                continue
            if day < start:
                keep(o)
                continue
            if o.status in _IGNORED_STATUS:
                continue
            for coding in o.codes:
                names = entries_of((coding.system, coding.code))
                if names is None:
                    continue
                for name in names:
                    found = in_tier(name)
                    if found is None:
                        tier[name] = [(day, o, coding)]
                    elif found[-1][1] is not o:  # found already by an earlier coding
                        found.append((day, o, coding))
        by_entry = self._by_entry
        for name, found in tier.items():
            if len(found) > 1:
                found.sort(key=_day, reverse=True)  # stable: record order within a day
            # All older than what is indexed already: the lists stay newest first.
            if name in by_entry:
                by_entry[name].extend(found)
            else:
                by_entry[name] = found
        self._older = older
        self._since = start

    def results(self, entry: ObservationEntry, since: date = date.min) -> Results:
        """The counted results of ``entry``, newest first; at least those dated from
        ``since`` on (all of them by default)."""
        if self._library.get(entry.name) is not entry:
            return self._unlisted(entry)
        if since < self._since:
            self._cover(since)
        return self._by_entry.get(entry.name, [])

    def _unlisted(self, entry: ObservationEntry) -> Results:
        """The results of an entry from outside the library: its codings, read from every
        observation."""
        codes = codes_of(entry)
        found = []
        for o in self._observations:
            if o.date is None or o.date > self._as_of or o.status in _IGNORED_STATUS:
                continue
            coding = next((c for c in o.codes if (c.system, c.code) in codes), None)
            if coding is not None:
                found.append((o.date, o, coding))
        found.sort(key=_day, reverse=True)
        return found

    def latest_value(self, entry: ObservationEntry, period: Period
                     ) -> Reading | Missing:
        """The most recent result of ``entry`` inside ``period``, read; or only whether
        there is one that cannot be read (no words, no look before the period: what
        status-only screening needs). Read once per period."""
        key = (entry.name, period)
        found = self._latest.get(key)
        if found is None:
            start, end = period
            found = "missing"
            for day, o, coding in self.results(entry, start):
                if day > end:
                    continue
                if day >= start:
                    read = reading(o, coding, entry)
                    found = read if isinstance(read, Reading) else "unreadable"
                break
            self._latest[key] = found
        return found

    def latest(self, entry: ObservationEntry, period: Period, when: str,
               older_than: str | None = None) -> Reading | NoReading:
        """:meth:`latest_value` explained: a missing result says why, in words (the last
        one before the period, if any)."""
        found = self.latest_value(entry, period)
        if isinstance(found, Reading):
            return found
        return latest(self.results(entry), entry, period, when, older_than)


def newest(found: Results, period: Period) -> tuple[Observation, Coding, bool] | None:
    """The newest result inside ``period`` (flagged True), else the newest one before it
    (flagged False: only stale results), else None."""
    start, end = period
    for day, o, coding in found:
        if day > end:
            continue
        return o, coding, day >= start
    return None


@cache
def _linear(entry: ObservationEntry, unit: str) -> tuple[float, float] | None:
    """(scale, offset) from ``unit`` to the canonical unit, or None when it cannot convert.

    Every unit conversion eligo meets is affine (temperature has an offset), so two points
    fix it; pint is asked once per unit, not once per result.
    """
    try:
        offset = obs.to_canonical(entry, 0.0, unit)
        return obs.to_canonical(entry, 1.0, unit) - offset, offset
    except UnitError:
        return None


@cache
def _unitless(entry: ObservationEntry) -> bool:
    """Whether a result may omit its unit: the canonical unit is a pure number (INR, %) or
    one a bare number customarily means, as in protocols (BMI, heart rate, QT in ms)."""
    from eligo.compiler import CUSTOMARY_UNITS  # the compiler imports this module

    if entry.unit is None or entry.unit in CUSTOMARY_UNITS:
        return True
    try:
        return bool(parse_unit(entry.unit).dimensionless)
    except UnitError:
        return False


MIN_DIGITS = 3
MAX_DIGITS = 12


def significant_digits(value: float) -> int:
    """The significant digits ``value`` is written with, between 3 and 12.

    A whole number counts its digits (``49000`` has 5, ``3.0`` has 1, so it gets the minimum
    of 3); the maximum drops binary floating-point noise (``2.9000000000000004``).
    """
    if not math.isfinite(value) or value == 0:
        return MIN_DIGITS
    magnitude = abs(float(value))
    if magnitude.is_integer() and magnitude < 1e15:
        digits = len(str(int(magnitude)))  # 49000: all five digits, 3.0: one
    else:
        # The shortest repr that reads back as the same float, without its exponent and
        # the zeros that only place the point: 0.0585 has 3 digits, 1.5e-07 has 2.
        digits = len(repr(magnitude).partition("e")[0].replace(".", "").strip("0"))
    return min(max(digits, MIN_DIGITS), MAX_DIGITS)


def to_digits(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits."""
    if not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{digits}g}")


def canonical(entry: ObservationEntry, value: float, unit: str | None) -> float | None:
    """``value`` in ``unit`` expressed in the entry's canonical unit, or None.

    The result is rounded to the significant digits of ``value`` (see the module notes).
    """
    if unit is None or not unit.strip() or unit == entry.unit:
        number = float(value)
        # At most 12 digits (a repr this short has no more): rounding gives it back as is.
        return number if len(repr(number)) <= 13 else to_digits(number,
                                                                 significant_digits(number))
    line = _linear(entry, unit)
    if line is None:
        return None
    return to_digits(value * line[0] + line[1], significant_digits(value))


def number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def describe(o: Observation) -> str:
    unit = f" {o.unit}" if o.unit and not isinstance(o.value, bool) else ""
    return f"{number_text(o.value)}{unit} on {o.date}"


def reading(o: Observation, coding: Coding, entry: ObservationEntry) -> Reading | NoReading:
    """Read one result as a value of ``entry``."""
    if o.value is None:
        return NoReading(f"the {entry.title} result of {o.date} has no value",
                         f"{entry.title} value", o, coding, "unreadable")
    if entry.kind in ("quantity", "score"):
        if isinstance(o.value, bool) or not isinstance(o.value, int | float):
            return NoReading(f"the {entry.title} result of {o.date} is not a number "
                             f"({o.value!r})", f"numeric {entry.title} result", o, coding,
                             "unreadable")
        if entry.kind == "score":
            return Reading(entry, float(o.value), o, coding, None)
        if (o.unit is None or not o.unit.strip()) and not _unitless(entry):
            return NoReading(f"the {entry.title} result {describe(o)} has no unit",
                             f"{entry.title} result with its unit", o, coding, "unreadable")
        value = canonical(entry, float(o.value), o.unit)
        if value is None:
            return NoReading(f"the {entry.title} result {describe(o)} is in a unit that does "
                             f"not convert to {entry.unit}", f"{entry.title} result in a "
                             f"unit convertible to {entry.unit}", o, coding, "unreadable")
        uln = None
        if o.reference_high is not None:
            uln = canonical(entry, o.reference_high, o.unit)
        if uln is None and entry.reference_range is not None:
            uln = entry.reference_range.high
        return Reading(entry, value, o, coding, uln)
    return Reading(entry, o.value, o, coding, None)


@lru_cache(maxsize=1024)
def _absent(title: str, when: str) -> NoReading:
    """No result at all (the same words for every patient: made once)."""
    return NoReading(f"no {title} result {when}", f"{title} result {when}")


def latest(found: Results, entry: ObservationEntry, period: Period, when: str,
           older_than: str | None = None) -> Reading | NoReading:
    """The most recent of ``found`` (an entry's counted results) inside ``period``, read.

    ``when`` says the period in words (``in the last 30 days``); ``older_than`` what a
    result before it is older than (``30 days``), by default the period's first day.
    """
    hit = newest(found, period)
    if hit is None:
        return _absent(entry.title, when)
    last, coding, inside = hit
    if inside:
        return reading(last, coding, entry)
    limit = older_than or f"the period asked ({when}, from {period[0]})"
    return NoReading(f"the last {entry.title} ({describe(last)}) is older than {limit}",
                     f"{entry.title} result {when}", last, coding, "stale")


def recent(found: Results, entry: ObservationEntry, period: Period, count: int,
           ) -> tuple[list[Reading], list[NoReading]]:
    """The ``count`` most recent results inside ``period``, and any that could not be read."""
    good: list[Reading] = []
    bad: list[NoReading] = []
    start, end = period
    for day, o, coding in found:
        if len(good) + len(bad) == count:
            break
        if not start <= day <= end:
            continue
        read = reading(o, coding, entry)
        if isinstance(read, Reading):
            good.append(read)
        else:
            bad.append(read)
    return good, bad
