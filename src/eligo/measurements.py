"""What a patient's observations say about one library entry at an as-of date.

The most recent usable result inside the period decides (by default the entry's
freshness window ending on the as-of date). Quantities are converted to the entry's
canonical unit with the analyte's own factors; a value in a unit that cannot be read is
never silently skipped for an older one: the reading is then missing, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

from eligo import observations as obs
from eligo.observations import ObservationEntry
from eligo.patient import Coding, Observation, Patient
from eligo.units import UnitError

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
    """Why there is no usable result, and what would provide one."""

    reason: str
    missing: str
    observation: Observation | None = None


@cache
def _codes(entry: ObservationEntry) -> frozenset[tuple[str, str]]:
    return frozenset([*(("loinc", c) for c in entry.loinc), *(("snomed", c) for c in entry.snomed)])


def _coding(observation: Observation, codes: frozenset[tuple[str, str]]) -> Coding | None:
    for coding in observation.codes:
        if (coding.system, coding.code) in codes:
            return coding
    return None


def results(patient: Patient, entry: ObservationEntry, as_of: date, period: Period
            ) -> Iterator[tuple[Observation, Coding]]:
    """Counted results of ``entry`` dated inside ``period``, newest first."""
    codes = _codes(entry)
    found = []
    for o in patient.observations:
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


def canonical(entry: ObservationEntry, value: float, unit: str | None) -> float | None:
    """``value`` in ``unit`` expressed in the entry's canonical unit, or None."""
    if unit is None or not unit.strip() or unit == entry.unit:
        return float(value)
    line = _linear(entry, unit)
    return None if line is None else value * line[0] + line[1]


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
                         f"{entry.title} value", o)
    if entry.kind in ("quantity", "score"):
        if isinstance(o.value, bool) or not isinstance(o.value, int | float):
            return NoReading(f"the {entry.title} result of {o.date} is not a number "
                             f"({o.value!r})", f"numeric {entry.title} result", o)
        if entry.kind == "score":
            return Reading(entry, float(o.value), o, coding, None)
        value = canonical(entry, float(o.value), o.unit)
        if value is None:
            return NoReading(f"the {entry.title} result {describe(o)} is in a unit that does "
                             f"not convert to {entry.unit}", f"{entry.title} result in a "
                             f"unit convertible to {entry.unit}", o)
        uln = None
        if o.reference_high is not None:
            uln = canonical(entry, o.reference_high, o.unit)
        if uln is None and entry.reference_range is not None:
            uln = entry.reference_range.high
        return Reading(entry, value, o, coding, uln)
    return Reading(entry, o.value, o, coding, None)


def latest(patient: Patient, entry: ObservationEntry, as_of: date, period: Period,
           when: str) -> Reading | NoReading:
    """The most recent result of ``entry`` inside ``period`` (``when`` says it in words)."""
    for o, coding in results(patient, entry, as_of, period):
        return reading(o, coding, entry)
    older = [o for o in patient.observations
             if o.date is not None and o.date < period[0] and _coding(o, _codes(entry))
             and o.status not in _IGNORED_STATUS]
    if older:
        last = max(older, key=lambda o: o.date or date.min)
        return NoReading(f"the last {entry.title} ({describe(last)}) is older than {when}",
                         f"{entry.title} result {when}", last)
    return NoReading(f"no {entry.title} result {when}", f"{entry.title} result {when}")


def recent(patient: Patient, entry: ObservationEntry, as_of: date, period: Period,
           count: int) -> tuple[list[Reading], list[NoReading]]:
    """The ``count`` most recent results inside ``period``, and any that could not be read."""
    good: list[Reading] = []
    bad: list[NoReading] = []
    for o, coding in results(patient, entry, as_of, period):
        if len(good) + len(bad) == count:
            break
        found = reading(o, coding, entry)
        (good if isinstance(found, Reading) else bad).append(found)  # type: ignore[arg-type]
    return good, bad
