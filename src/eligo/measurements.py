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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Literal

from eligo import observations as obs
from eligo.observations import ObservationEntry
from eligo.patient import Coding, Observation, Patient
from eligo.units import UnitError, parse_unit

Period = tuple[date, date]
_IGNORED_STATUS = frozenset({"cancelled", "entered-in-error", "registered"})


@dataclass(frozen=True, slots=True)
class Reading:
    """A usable result: ``value`` is canonical for quantities, the raw value otherwise."""

    entry: ObservationEntry
    value: float | str | bool
    observation: Observation
    coding: Coding
    uln: float | None  # upper limit of normal, canonical unit: the lab's, else the library's


@dataclass(frozen=True, slots=True)
class NoReading:
    """Why there is no usable result, and what would provide one.

    ``kind`` says which: ``absent`` (no result at all), ``stale`` (only results older than
    the period; ``observation`` is the last of them) or ``unreadable`` (the deciding result
    has no value, is not a number or is in a unit that does not convert).
    """

    reason: str
    missing: str
    observation: Observation | None = None
    coding: Coding | None = None
    kind: Literal["absent", "stale", "unreadable"] = "absent"


@cache
def codes_of(entry: ObservationEntry) -> frozenset[tuple[str, str]]:
    """The codings that count as a result of ``entry``: its LOINC and SNOMED CT codes, and
    the library's own name or aliases under the system ``eligo`` -- for scales with no
    standard code (West Haven grade, ASA class) and sites' local observations."""
    return frozenset([*(("loinc", c) for c in entry.loinc), *(("snomed", c) for c in entry.snomed),
                      *(("eligo", n) for n in entry.names)])


def _coding(observation: Observation, codes: frozenset[tuple[str, str]]) -> Coding | None:
    for coding in observation.codes:
        if (coding.system, coding.code) in codes:
            return coding
    return None


ObservationIndex = dict[tuple[str, str], list[tuple[int, Observation]]]


def index_observations(patient: Patient) -> ObservationIndex:
    """The patient's observations by coding (with their place in the record, which breaks
    ties between results of the same day), so each entry looks only at its own results."""
    by_code: ObservationIndex = {}
    for position, o in enumerate(patient.observations):
        for c in o.codes:
            by_code.setdefault((c.system, c.code), []).append((position, o))
    return by_code


def _candidates(patient: Patient, entry: ObservationEntry, index: ObservationIndex | None
                ) -> tuple[Observation, ...] | list[Observation]:
    if index is None:
        return patient.observations
    found: dict[int, Observation] = {}
    for code in codes_of(entry):
        for position, o in index.get(code, ()):
            found[position] = o
    return [found[position] for position in sorted(found)]


def results(patient: Patient, entry: ObservationEntry, as_of: date, period: Period,
            index: ObservationIndex | None = None) -> Iterator[tuple[Observation, Coding]]:
    """Counted results of ``entry`` dated inside ``period``, newest first."""
    codes = codes_of(entry)
    found = []
    for o in _candidates(patient, entry, index):
        if o.status in _IGNORED_STATUS or o.date is None or o.date > as_of:
            continue
        if not period[0] <= o.date <= period[1]:
            continue
        coding = _coding(o, codes)
        if coding is not None:
            found.append((o, coding))
    found.sort(key=lambda pair: pair[0].date or date.min, reverse=True)
    return iter(found)


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
        digits = len(Decimal(repr(magnitude)).normalize().as_tuple().digits)
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
    digits = significant_digits(value)
    if unit is None or not unit.strip() or unit == entry.unit:
        return to_digits(float(value), digits)
    line = _linear(entry, unit)
    return None if line is None else to_digits(value * line[0] + line[1], digits)


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


def latest(patient: Patient, entry: ObservationEntry, as_of: date, period: Period,
           when: str, older_than: str | None = None, index: ObservationIndex | None = None,
           ) -> Reading | NoReading:
    """The most recent result of ``entry`` inside ``period``.

    ``when`` says the period in words (``in the last 30 days``); ``older_than`` what a
    result before it is older than (``30 days``), by default the period's first day.
    """
    for o, coding in results(patient, entry, as_of, period, index):
        return reading(o, coding, entry)
    codes = codes_of(entry)
    older = [(o, c) for o in _candidates(patient, entry, index)
             if o.date is not None and o.date < period[0] and o.status not in _IGNORED_STATUS
             and (c := _coding(o, codes)) is not None]
    if older:
        last, coding = max(older, key=lambda pair: pair[0].date or date.min)
        limit = older_than or f"the period asked ({when}, from {period[0]})"
        return NoReading(f"the last {entry.title} ({describe(last)}) is older than {limit}",
                         f"{entry.title} result {when}", last, coding, "stale")
    return NoReading(f"no {entry.title} result {when}", f"{entry.title} result {when}")


def recent(patient: Patient, entry: ObservationEntry, as_of: date, period: Period,
           count: int, index: ObservationIndex | None = None,
           ) -> tuple[list[Reading], list[NoReading]]:
    """The ``count`` most recent results inside ``period``, and any that could not be read."""
    good: list[Reading] = []
    bad: list[NoReading] = []
    for o, coding in results(patient, entry, as_of, period, index):
        if len(good) + len(bad) == count:
            break
        found = reading(o, coding, entry)
        (good if isinstance(found, Reading) else bad).append(found)  # type: ignore[arg-type]
    return good, bad
