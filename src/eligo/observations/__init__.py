"""The observation library: what protocol names such as ``bilirubin``, ``ecog`` or ``hbsag`` mean.

The data is ``library.yaml`` in this package (one file; its header documents every field
and where each LOINC code was confirmed). It is read once with :mod:`importlib.resources`,
so it works from a wheel, and turned into immutable :class:`ObservationEntry` records.

Four kinds of entry (DESIGN.md, "The language"):

* ``quantity`` -- a number with a canonical UCUM unit (``bilirubin < 3 mg/dL``), optionally
  a molar mass for mass <-> molar conversion and a typical reference range for ``x ULN``;
* ``score`` -- a unitless number in a fixed range (``karnofsky >= 70``);
* ``ordinal`` -- ordered labels (``ecog <= 1``, ``nyha in [III, IV]``);
* ``qualitative`` -- positive / negative / indeterminate (``hbsag is positive``).

Public API: :func:`library`, :func:`entries`, :func:`lookup`, :func:`suggest`,
:func:`entries_for_code`, :func:`normalise_qualitative`, :func:`ordinal_index` and
:func:`to_canonical`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

import yaml

from eligo import units

__all__ = [
    "AlternativeUnit",
    "Kind",
    "LoincCode",
    "ObservationEntry",
    "ObservationLibraryError",
    "Polarity",
    "ReferenceRange",
    "entries",
    "entries_for_code",
    "library",
    "lookup",
    "normalise_qualitative",
    "ordinal_index",
    "suggest",
    "to_canonical",
]

Kind = Literal["quantity", "score", "ordinal", "qualitative"]
Polarity = Literal["positive", "negative", "indeterminate"]
Evidence = Literal["synthea", "omop", "hl7", "top2000", "public"]

DATA_FILE = "library.yaml"
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_ANSWER_CODE = re.compile(r"^(?:LA\d{1,6}-\d|\d{6,18})$", re.IGNORECASE)


class ObservationLibraryError(ValueError):
    """``library.yaml`` does not follow its schema (a packaging bug, not a user error)."""


@dataclass(frozen=True, slots=True)
class LoincCode:
    """One LOINC code of an entry, its LOINC name, and how it was confirmed."""

    code: str
    display: str
    unit: str | None
    """The UCUM unit of this code's results when it differs from the entry's unit."""
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class ReferenceRange:
    """A typical adult range in the entry's canonical unit; either end may be open."""

    low: float | None
    high: float | None
    source: str


@dataclass(frozen=True, slots=True)
class AlternativeUnit:
    """A unit that is not a UCUM rescaling of the canonical one: canonical = scale x v + offset."""

    unit: str
    scale: float
    offset: float
    source: str


@dataclass(frozen=True, slots=True, repr=False)
class ObservationEntry:
    """One named observation of the library. Immutable; compare and hash by name."""

    name: str
    title: str
    kind: Kind
    aliases: tuple[str, ...] = field(compare=False)
    loinc_codes: tuple[LoincCode, ...] = field(compare=False)
    snomed: tuple[str, ...] = field(compare=False)
    freshness_days: int = field(compare=False)
    freshness_rationale: str = field(compare=False)
    # quantity
    unit: str | None = field(default=None, compare=False)
    molar_mass: float | None = field(default=None, compare=False)
    molar_mass_source: str | None = field(default=None, compare=False)
    iu_equals_u: bool = field(default=False, compare=False)
    alternative_units: tuple[AlternativeUnit, ...] = field(default=(), compare=False)
    reference_range: ReferenceRange | None = field(default=None, compare=False)
    # score
    score_range: tuple[float, float] | None = field(default=None, compare=False)
    score_step: float | None = field(default=None, compare=False)
    # ordinal
    levels: tuple[str, ...] = field(default=(), compare=False)
    level_values: tuple[int, ...] = field(default=(), compare=False)
    # score and ordinal
    scale_source: str | None = field(default=None, compare=False)
    # qualitative: normalised answer text or code -> polarity
    answers: Mapping[str, Polarity] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )

    @property
    def detectable(self) -> bool:
        """A quantity that can also be read as detected or not (a viral load): it has an
        answer set for its text results."""
        return self.kind == "quantity" and bool(self.answers)

    @property
    def loinc(self) -> tuple[str, ...]:
        """The LOINC codes, most common first."""
        return tuple(c.code for c in self.loinc_codes)

    @property
    def molar_factor(self) -> float | None:
        """What :func:`eligo.units.convert` takes as ``molar_factor``: the molar mass, g/mol."""
        return self.molar_mass

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by its aliases."""
        return (self.name, *self.aliases)

    def __repr__(self) -> str:
        return f"ObservationEntry({self.name!r}, kind={self.kind!r})"


# ---------------------------------------------------------------------------------------------
# Loading.


def _fail(where: str, message: str) -> ObservationLibraryError:
    return ObservationLibraryError(f"{DATA_FILE}: {where}: {message}")


def _str(raw: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    value = raw.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"`{key}` must be a non-empty string, not {value!r}")
    return value.strip()


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, f"expected a number, not {value!r}")
    return float(value)


def answer_key(text: str) -> str:
    """How answers are compared: ``"Non-Reactive (qualifier value)"`` -> ``"non reactive"``.

    Codes (``LA6576-8``, SNOMED ids, ``system|code``) keep their form, upper-cased.
    """
    s = text.strip()
    if "|" in s:
        s = s.rsplit("|", 1)[1].strip()  # FHIR token system|code
    if _ANSWER_CODE.match(s):
        return s.upper()
    s = re.sub(r"\s*\([^)]*\)\s*$", "", s).casefold().strip()
    if re.fullmatch(r"[+\-]+", s):
        return s
    s = re.sub(r"[\s_\-]+", " ", s).strip(" .!:;,")
    return s


def _answers(raw: Any, sets: Mapping[str, Any], where: str) -> Mapping[str, Polarity]:
    if isinstance(raw, str):
        if raw not in sets:
            raise _fail(where, f"unknown answer set {raw!r}; known: {sorted(sets)}")
        raw = sets[raw]
    if not isinstance(raw, dict):
        raise _fail(where, "`answers` must name an answer set or map polarities to lists")
    table: dict[str, Polarity] = {}
    for polarity, values in raw.items():
        if polarity not in get_args(Polarity):
            raise _fail(where, f"answer polarity {polarity!r} is not one of {get_args(Polarity)}")
        if not isinstance(values, list):
            raise _fail(where, f"answers for {polarity} must be a list")
        for value in values:
            key = answer_key(str(value))
            if table.get(key, polarity) != polarity:
                raise _fail(where, f"answer {value!r} is both {table[key]} and {polarity}")
            table[key] = cast(Polarity, polarity)
    return MappingProxyType(table)


def _loinc(raw: Any, where: str) -> tuple[LoincCode, ...]:
    if not isinstance(raw, list):
        raise _fail(where, "`loinc` must be a list (possibly empty)")
    out = []
    for i, item in enumerate(raw):
        at = f"{where}.loinc[{i}]"
        if not isinstance(item, dict):
            raise _fail(at, "expected {code, display, unit?, evidence}")
        evidence = item.get("evidence")
        if not isinstance(evidence, list) or not evidence:
            raise _fail(at, "`evidence` must list where the code was confirmed")
        for e in evidence:
            if e not in get_args(Evidence):
                raise _fail(at, f"unknown evidence {e!r}; known: {get_args(Evidence)}")
        out.append(LoincCode(
            code=cast(str, _str(item, "code", at)),
            display=cast(str, _str(item, "display", at)),
            unit=_str(item, "unit", at, optional=True),
            evidence=tuple(evidence),
        ))
    return tuple(out)


def _entry(raw: Any, doc: Mapping[str, Any], index: int) -> ObservationEntry:
    if not isinstance(raw, dict):
        raise _fail(f"entries[{index}]", "expected a mapping")
    name = cast(str, _str(raw, "name", f"entries[{index}]"))
    where = f"entry {name!r}"
    kind = raw.get("kind")
    if kind not in get_args(Kind):
        raise _fail(where, f"`kind` must be one of {get_args(Kind)}, not {kind!r}")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise _fail(where, "`aliases` must be a list of names")
    for n in (name, *aliases):
        if not _NAME.match(n):
            raise _fail(where, f"{n!r} is not lower_snake_case")
    snomed = raw.get("snomed", [])
    if not isinstance(snomed, list) or not all(isinstance(s, str) for s in snomed):
        raise _fail(where, "`snomed` must be a list of quoted codes")
    days = raw.get("freshness_days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise _fail(where, "`freshness_days` must be a positive whole number of days")
    basis = raw.get("freshness_basis")
    rationale = doc["freshness"].get(basis) if isinstance(basis, str) else None
    if not isinstance(rationale, str):
        raise _fail(where, f"`freshness_basis` {basis!r} names no rationale in `freshness`")
    common: dict[str, Any] = {
        "name": name,
        "title": _str(raw, "title", where),
        "kind": kind,
        "aliases": tuple(aliases),
        "loinc_codes": _loinc(raw.get("loinc"), where),
        "snomed": tuple(snomed),
        "freshness_days": days,
        "freshness_rationale": " ".join(rationale.split()),
    }
    allowed = {"name", "title", "kind", "aliases", "loinc", "snomed", "freshness_days",
               "freshness_basis"}
    if kind == "quantity":
        allowed |= {"unit", "molar_mass", "molar_mass_source", "iu_equals_u",
                    "alternative_units", "reference_range"}
        unit = _str(raw, "unit", where)
        molar_mass = _number(raw.get("molar_mass"), where)
        if molar_mass is not None and molar_mass <= 0:
            raise _fail(where, "`molar_mass` must be positive (g/mol)")
        if (molar_mass is None) != (raw.get("molar_mass_source") is None):
            raise _fail(where, "`molar_mass` needs `molar_mass_source` and vice versa")
        rr = raw.get("reference_range")
        reference = None
        if rr is not None:
            if not isinstance(rr, dict):
                raise _fail(where, "`reference_range` must be {low, high, source} or null")
            reference = ReferenceRange(
                low=_number(rr.get("low"), where),
                high=_number(rr.get("high"), where),
                source=cast(str, _str(rr, "source", f"{where}.reference_range")),
            )
            if reference.low is None and reference.high is None:
                raise _fail(where, "`reference_range` needs a low or a high end")
        alternatives = []
        for alt in raw.get("alternative_units") or []:
            alternatives.append(AlternativeUnit(
                unit=cast(str, _str(alt, "unit", where)),
                scale=cast(float, _number(alt.get("scale"), where)),
                offset=_number(alt.get("offset"), where) or 0.0,
                source=cast(str, _str(alt, "source", where)),
            ))
        iu = raw.get("iu_equals_u", False)
        if not isinstance(iu, bool):
            raise _fail(where, "`iu_equals_u` must be true or false")
        if "answers" in raw:  # a viral load: "Not detected" and "Detected" are results too
            allowed |= {"answers"}
            common["answers"] = _answers(raw["answers"], doc.get("answer_sets") or {}, where)
        common.update(
            unit=unit, molar_mass=molar_mass, iu_equals_u=iu, reference_range=reference,
            molar_mass_source=_str(raw, "molar_mass_source", where, optional=True),
            alternative_units=tuple(alternatives),
        )
    elif kind == "score":
        allowed |= {"range", "step", "scale_source"}
        rng = raw.get("range")
        if not (isinstance(rng, list) and len(rng) == 2):
            raise _fail(where, "`range` must be [min, max]")
        low, high = _number(rng[0], where), _number(rng[1], where)
        if low is None or high is None or not low < high:
            raise _fail(where, "`range` must be [min, max] with min < max")
        common.update(
            score_range=(low, high), score_step=_number(raw.get("step"), where),
            scale_source=_str(raw, "scale_source", where),
        )
    elif kind == "ordinal":
        allowed |= {"levels", "level_values", "scale_source"}
        levels, values = raw.get("levels"), raw.get("level_values")
        if not (isinstance(levels, list) and levels and all(isinstance(x, str) for x in levels)):
            raise _fail(where, "`levels` must be a list of quoted labels, lowest first")
        if not (isinstance(values, list) and len(values) == len(levels)
                and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
                and values == sorted(set(values))):
            raise _fail(where, "`level_values` must be increasing whole numbers, one per level")
        common.update(levels=tuple(levels), level_values=tuple(values),
                      scale_source=_str(raw, "scale_source", where))
    else:
        allowed |= {"answers"}
        common["answers"] = _answers(raw.get("answers"), doc.get("answer_sets") or {}, where)
    extra = set(raw) - allowed
    if extra:
        raise _fail(where, f"unknown field(s) for a {kind}: {sorted(extra)}")
    return ObservationEntry(**common)


@cache
def _load() -> tuple[tuple[ObservationEntry, ...], Mapping[str, ObservationEntry]]:
    text = resources.files(__name__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is 10x faster
    doc = yaml.load(text, Loader=loader)
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise _fail("(document)", "expected a mapping with an `entries` list")
    if not isinstance(doc.get("freshness"), dict):
        raise _fail("(document)", "expected a `freshness` mapping of rationales")
    loaded = tuple(_entry(raw, doc, i) for i, raw in enumerate(doc["entries"]))
    by_name: dict[str, ObservationEntry] = {}
    for entry in loaded:
        for n in entry.names:
            if n in by_name:
                raise _fail(f"entry {entry.name!r}",
                            f"name {n!r} is already used by {by_name[n].name!r}")
            by_name[n] = entry
    return loaded, MappingProxyType(by_name)


def entries() -> tuple[ObservationEntry, ...]:
    """Every entry once, in library order."""
    return _load()[0]


def library() -> Mapping[str, ObservationEntry]:
    """Every name and alias -> its entry (read-only). Keys are lower_snake_case."""
    return _load()[1]


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().casefold())


def lookup(name: str) -> ObservationEntry | None:
    """The entry a protocol name or alias means (case and ``-``/space insensitive), or None."""
    return library().get(_key(name))


def suggest(name: str) -> str | None:
    """The closest known name or alias, for a did-you-mean; None when nothing is close."""
    matches = difflib.get_close_matches(_key(name), list(library()), n=1, cutoff=0.7)
    return matches[0] if matches else None


@cache
def _by_code() -> Mapping[tuple[str, str], tuple[ObservationEntry, ...]]:
    index: dict[tuple[str, str], list[ObservationEntry]] = {}
    for entry in entries():
        for code in entry.loinc:
            index.setdefault(("loinc", code), []).append(entry)
        for code in entry.snomed:
            index.setdefault(("snomed", code), []).append(entry)
    return MappingProxyType({k: tuple(v) for k, v in index.items()})


def entries_for_code(system: str, code: str) -> tuple[ObservationEntry, ...]:
    """The entries an observation coded ``system``/``code`` counts for (``loinc``, ``snomed``)."""
    return _by_code().get((system, code.strip()), ())


# ---------------------------------------------------------------------------------------------
# Values.


def normalise_qualitative(entry: ObservationEntry, value: object) -> Polarity | None:
    """Read a qualitative result: ``"Reactive"``, ``"Not detected"``, ``"LA6576-8"``, True ...

    Returns ``"positive"``, ``"negative"`` or ``"indeterminate"``, or None when the value
    cannot be read -- which the evaluator must treat as UNKNOWN, never as negative. Booleans
    read as positive/negative; numbers are not qualitative results and give None. Entries
    without answers (quantities other than viral loads, scores, ordinals) give None.
    """
    if not entry.answers or value is None:
        return None
    if isinstance(value, bool):
        return "positive" if value else "negative"
    if not isinstance(value, str):
        return None
    return entry.answers.get(answer_key(value))


_ROMAN = {"i": 1, "v": 5, "x": 10}
_LEVEL_WORDS = ("class", "grade", "stage", "score", "status", "ps", "functional", "level")


def _roman(text: str) -> int | None:
    if not text or any(ch not in _ROMAN for ch in text):
        return None
    total = 0
    for i, ch in enumerate(text):
        value = _ROMAN[ch]
        total += -value if i + 1 < len(text) and _ROMAN[text[i + 1]] > value else value
    return total


def ordinal_index(entry: ObservationEntry, label: object) -> int | None:
    """The position of ``label`` in ``entry.levels`` (0 = lowest), or None.

    Accepts the label itself and the ways records write it: ``"II"``, ``"2"``, ``2``,
    ``"class II"``, ``"NYHA class 2"``, ``"ECOG 1"``, ``"ASA IIIE"`` (E: emergency).
    """
    if entry.kind != "ordinal" or label is None or isinstance(label, bool):
        return None
    if isinstance(label, int | float):
        if isinstance(label, float) and not label.is_integer():
            return None
        number = int(label)
        return entry.level_values.index(number) if number in entry.level_values else None
    if not isinstance(label, str):
        return None
    folded = [level.casefold() for level in entry.levels]
    text = label.strip().casefold()
    if text in folded:
        return folded.index(text)
    words = [w for w in re.split(r"[\s:_\-.]+", text) if w]
    prefixes = {n.casefold() for n in entry.names} | {
        p for n in entry.names for p in n.casefold().split("_")
    } | set(_LEVEL_WORDS)
    while len(words) > 1 and words[0] in prefixes:
        words = words[1:]
    if len(words) != 1:
        return None
    word = words[0]
    if word in folded:
        return folded.index(word)
    if entry.name == "asa_class" and word.endswith("e") and len(word) > 1:
        word = word[:-1]  # ASA "E" suffix: emergency, same class
        if word in folded:
            return folded.index(word)
    value = int(word) if word.isdigit() else _roman(word)
    if value is not None and value in entry.level_values:
        return entry.level_values.index(value)
    return None


def to_canonical(entry: ObservationEntry, value: float, unit: str | None) -> float:
    """A quantity's ``value`` in ``unit`` expressed in the entry's canonical unit.

    Uses the entry's molar mass, its IU-as-U rule and its alternative units (HbA1c in
    mmol/mol). ``unit`` None or empty means the value is already canonical. Raises
    :class:`eligo.units.UnitError` when the unit cannot be converted for this analyte.
    """
    if entry.kind != "quantity" or entry.unit is None:
        raise units.UnitError(f"{entry.name} is a {entry.kind}, not a quantity with a unit")
    if unit is None or not unit.strip():
        return float(value)
    written = units.parse_unit(unit)
    for alt in entry.alternative_units:
        if written == units.parse_unit(alt.unit):
            return alt.scale * value + alt.offset
    return units.convert(
        value, written, entry.unit, molar_factor=entry.molar_mass, iu_equals_u=entry.iu_equals_u
    )
