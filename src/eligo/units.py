"""Units of measure: parsing and conversion on top of UCUM (``ucumvert``) and ``pint``.

UCUM is the unit language of LOINC and FHIR (``mg/dL``, ``10*9/L``, ``[IU]/L``, ``mm[Hg]``).
``ucumvert`` parses UCUM with its official grammar and turns it into ``pint`` units, and
``pint`` does the arithmetic; nothing here is a hand-written conversion table.

What this module adds on top:

* **Spellings.** Protocols and laboratory systems write units that are not UCUM
  (``gm/dl``, ``x10^9/L``, ``K/uL``, ``cells/mm3``, ``IU/L``, ``mmHg``, ``bpm``, ``µmol/L``).
  :func:`normalise_spelling` rewrites them to UCUM first with the small documented tables
  ``_WHOLE_SPELLINGS`` (whole strings, case-insensitive) and ``_ATOM_SPELLINGS`` (single
  atoms between ``/``), plus a few regular rewrites (``10^9`` -> ``10*9``, the eGFR
  ``/1.73m2`` annotation). Anything that is already UCUM passes through untouched.
* **Arbitrary units stay apart.** UCUM says arbitrary units (``[IU]``, ``[arb'U]`` ...) are
  commensurable with nothing but themselves, but ``ucumvert`` defines them in pint as plain
  numbers, so pint alone would happily turn ``[IU]/mL`` into ``{copies}/mL``. Every
  :class:`Unit` carries the signature of its arbitrary atoms and conversion refuses a change.
* **Analyte factors.** Mass <-> amount-of-substance concentration (``mg/dL`` <-> ``umol/L``)
  needs the analyte's molar mass; :func:`convert` takes it as ``molar_factor`` (grams per
  mole, as the observation library gives it) and lets pint's ``chemistry`` context do it.
* **IU as U.** Laboratories write ``IU/L`` for enzyme activities (ALT, AST ...) meaning the
  enzyme unit ``U`` (1 umol/min), and ``mU/L`` for TSH meaning ``m[IU]/L``. UCUM keeps the
  two apart; ``iu_equals_u=True`` (an analyte property in the library) reads them as one.

The pint registry and UCUM parser are built once per process (about half a second) and
cached; everything here is pure.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

import pint
from ucumvert import UcumToPintTransformer, get_ucum_parser, parse_ucum
from ucumvert.xml_util import get_units_with_full_definition

__all__ = [
    "Unit",
    "UnitError",
    "convert",
    "normalise_spelling",
    "parse_unit",
    "same_dimension",
]


class UnitError(ValueError):
    """A unit that cannot be read, or a conversion that is not defined."""


# ---------------------------------------------------------------------------------------------
# Spellings that are not UCUM, and the UCUM they mean.
#
# Whole strings, compared case-insensitively after characters are normalised (µ -> u,
# ² -> 2, spaces removed). Only clinical spellings whose meaning is not in doubt are here.
_WHOLE_SPELLINGS: dict[str, str] = {
    # rates
    "bpm": "/min",
    "beats/min": "/min",
    "beats/minute": "/min",
    "beat/min": "/min",
    "breaths/min": "/min",
    "breaths/minute": "/min",
    "/min": "/min",
    # pressures
    "mmhg": "mm[Hg]",
    "cmh2o": "cm[H2O]",
    # cell counts: "K" and "thou" are thousands, "M" and "mil" millions
    "k/ul": "10*3/uL",
    "k/mm3": "10*3/mm3",
    "k/cumm": "10*3/mm3",
    "thou/ul": "10*3/uL",
    "thou/mm3": "10*3/mm3",
    "m/ul": "10*6/uL",
    "mil/ul": "10*6/uL",
    "cumm": "mm3",
    "/cumm": "/mm3",
    "cells/cumm": "{cells}/mm3",
    # enzyme and hormone units
    "u/l": "U/L",
    "units/l": "U/L",
    "u/ml": "U/mL",
    # temperatures
    "°c": "Cel",
    "degc": "Cel",
    "degreesc": "Cel",
    "celsius": "Cel",
    "°f": "[degF]",
    "degf": "[degF]",
    "degreesf": "[degF]",
    "fahrenheit": "[degF]",
    # body measures
    "lbs": "[lb_av]",
    "lb": "[lb_av]",
    "pounds": "[lb_av]",
    "in": "[in_i]",
    "inch": "[in_i]",
    "inches": "[in_i]",
    "ft": "[ft_i]",
    "kg/m^2": "kg/m2",
    # unitless
    "percent": "%",
    "pct": "%",
    "ratio": "{ratio}",
    "inr": "{INR}",
    "score": "{score}",
    "points": "{score}",
    "pts": "{score}",
    # UCUM's own "gram percent" (1 g% = 1 g/dL); ucumvert reads it as gram x percent
    "g%": "g/dL",
    "mg%": "mg/dL",
    "gm%": "g/dL",
}

# Single atoms (the parts between ``/``), compared case-insensitively.
_ATOM_SPELLINGS: dict[str, str] = {
    "gm": "g",
    "gms": "g",
    "mcg": "ug",
    "iu": "[IU]",
    "miu": "m[IU]",
    "uiu": "u[IU]",
    "kiu": "k[IU]",
    "meq": "meq",
    "mosm": "mosm",
    "cells": "{cells}",
    "cell": "{cells}",
    "copies": "{copies}",
    "units": "U",
    "unit": "U",
    "u": "U",
    "beats": "{beats}",
    "msec": "ms",
    "msecs": "ms",
    "sec": "s",
    "secs": "s",
    "seconds": "s",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "l": "L",
    "dl": "dL",
    "ml": "mL",
    "ul": "uL",
    "nl": "nL",
    "pl": "pL",
    "cl": "cL",
}

_CHARACTERS = str.maketrans({
    "µ": "u",  # micro sign
    "μ": "u",  # Greek mu
    "²": "2",
    "³": "3",
    "⁹": "9",
    "×": "x",
    "·": ".",
    "−": "-",
})
_SUPERSCRIPT_POWER = re.compile(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
# "x10^9/L", "10^9/L", "10E9/L", "x 10*9/L" -> "10*9/L"
_POWER_OF_TEN = re.compile(r"^(?:x\s*)?10\s*(?:\^|\*|e|E)\s*(\d+)\s*(?=/|$)")
# eGFR normalisation to body surface area: "mL/min/1.73m2", "ml/min/1.73 m^2", "/1.73sqm"
_BSA = re.compile(r"/\s*\(?\s*1[.,]73\s*(?:m\s*\^?\s*2|sq\.?\s*m|m²)\s*\)?$", re.IGNORECASE)
_MM_HG = re.compile(r"mm\s*hg", re.IGNORECASE)
_CM_H2O = re.compile(r"cm\s*h2o", re.IGNORECASE)


def normalise_spelling(text: str) -> str:
    """The UCUM spelling of a unit as protocols and laboratories write it.

    >>> normalise_spelling("x10^9/L"), normalise_spelling("gm/dl"), normalise_spelling("IU/L")
    ('10*9/L', 'g/dL', '[IU]/L')

    Strings that are not recognised come back with only whitespace and characters
    normalised; the UCUM parser then decides.
    """
    s = _SUPERSCRIPT_POWER.sub(lambda m: "10*" + m.group(1).translate(_SUPERSCRIPTS), text)
    s = s.translate(_CHARACTERS).strip()
    s = _MM_HG.sub("mm[Hg]", s)
    s = _CM_H2O.sub("cm[H2O]", s)
    s = re.sub(r"\s*/\s*", "/", s)
    whole = _WHOLE_SPELLINGS.get(re.sub(r"\s+", "", s).casefold())
    if whole is not None:
        return whole
    s = _POWER_OF_TEN.sub(lambda m: f"10*{m.group(1)}", s)
    s = _BSA.sub("/{1.73_m2}", s)
    if re.search(r"\s", s) and "{" not in s:
        return s  # not a unit we can rewrite; let the parser report it
    if s.isupper() and not re.search(r"[\[{]", s):
        # Laboratory systems that print everything in capitals (MG/DL, MMOL/L): UCUM is
        # case-sensitive and would read MG as megagauss.
        s = s.lower()
        whole = _WHOLE_SPELLINGS.get(s)
        if whole is not None:
            return whole
    return "/".join(_atom(part) for part in s.split("/"))


def _atom(part: str) -> str:
    """One atom between slashes: ``gm`` -> ``g``, ``mIU`` -> ``m[IU]``, ``dl`` -> ``dL``."""
    if not part:
        return part
    alias = _ATOM_SPELLINGS.get(part.casefold())
    if alias is not None:
        return alias
    folded = part.casefold()
    for prefix in ("k", "m", "u", "n"):
        if folded == prefix + "iu":
            return prefix + "[IU]"
        if folded == prefix + "eq":
            return prefix + "eq"
    return part


# ---------------------------------------------------------------------------------------------
# The registry.


@dataclass(frozen=True, slots=True)
class _Ucum:
    registry: Any  # pint.UnitRegistry; pint's generic registry types add nothing here
    transformer: Any
    parser: Any
    arbitrary_names: frozenset[str]


@cache
def _ucum() -> _Ucum:
    # A registry of our own: ucumvert's PintUcumRegistry also loads its definitions into
    # pint's global application registry, which is not ours to change.
    registry: Any = pint.UnitRegistry()
    registry.load_definitions(str(files("ucumvert") / "pint_ucum_defs.txt"))
    transformer = UcumToPintTransformer(ureg=registry)
    parser = get_ucum_parser()
    names: set[str] = set()
    for definition in get_units_with_full_definition():
        if not definition.is_arbitrary:
            continue
        try:
            value = transformer.transform(parse_ucum(definition.code_cs, parser))
        except Exception:
            continue  # an atom pint cannot represent never parses in parse_unit either
        if isinstance(value, pint.Quantity):
            for name, _exponent in value.unit_items():
                for _prefix, base, _suffix in registry.parse_unit_name(name):
                    names.add(base)
    return _Ucum(registry, transformer, parser, frozenset(names))


def _arbitrary_signature(quantity: Any) -> tuple[tuple[str, float], ...]:
    ucum = _ucum()
    signature: dict[str, float] = {}
    for name, exponent in quantity.unit_items():
        for _prefix, base, _suffix in ucum.registry.parse_unit_name(name):
            if base in ucum.arbitrary_names:
                signature[base] = signature.get(base, 0.0) + float(exponent)
    return tuple(sorted((k, v) for k, v in signature.items() if v))


@dataclass(frozen=True, slots=True)
class Unit:
    """A parsed unit: its UCUM spelling and its pint meaning.

    ``ucum`` is the normalised UCUM string (``g/dL`` for ``gm/dl``); ``written`` is the text
    as given. Two units are equal when their UCUM spellings are.
    """

    ucum: str
    written: str = field(compare=False)
    quantity: Any = field(compare=False, repr=False)
    """The pint ``Quantity`` of one unit (its magnitude carries factors such as ``10*9``)."""
    arbitrary: tuple[tuple[str, float], ...] = field(compare=False, repr=False)

    @property
    def dimensionality(self) -> str:
        """pint's dimensionality, e.g. ``[mass] / [length] ** 3``."""
        return str(self.quantity.dimensionality)

    @property
    def dimensionless(self) -> bool:
        return bool(self.quantity.dimensionless)

    def __str__(self) -> str:
        return self.ucum


# Units a did-you-mean can point to: every spelling above and common UCUM.
_COMMON_UCUM = (
    "mg/dL", "g/dL", "g/L", "mg/L", "ug/L", "ng/mL", "pg/mL", "ng/L", "umol/L", "mmol/L",
    "nmol/L", "pmol/L", "mmol/mol", "10*9/L", "10*3/uL", "10*6/uL", "10*12/L", "/uL", "/mm3",
    "{cells}/uL", "[IU]/L", "[IU]/mL", "m[IU]/L", "m[IU]/mL", "U/L", "{copies}/mL", "%",
    "mm[Hg]", "/min", "ms", "s", "min", "h", "d", "kg", "g", "cm", "m", "kg/m2", "mL/min",
    "mL/min/{1.73_m2}", "Cel", "{score}", "{INR}", "1", "fL", "pg", "meq/L", "mosm/kg",
)


def _suggestion(text: str) -> str | None:
    """A did-you-mean: the closest UCUM unit or known spelling (with its UCUM), or None."""
    candidates = {c.casefold(): repr(c) for c in _COMMON_UCUM}
    for spelling, ucum in _WHOLE_SPELLINGS.items():
        candidates.setdefault(spelling, f"{spelling!r} (UCUM {ucum!r})")
    match = difflib.get_close_matches(text.casefold(), list(candidates), n=1, cutoff=0.6)
    return candidates[match[0]] if match else None


@lru_cache(maxsize=2048)
def parse_unit(text: str) -> Unit:
    """Read a unit written in UCUM or in a common clinical spelling.

    Raises :class:`UnitError` for text that is not a unit, with a did-you-mean when a known
    unit is close.
    """
    if not isinstance(text, str) or not text.strip():
        raise UnitError("empty unit: write a UCUM unit such as mg/dL, 10*9/L or %")
    ucum_text = normalise_spelling(text)
    ucum = _ucum()
    try:
        tree = parse_ucum(ucum_text, ucum.parser)
        value = ucum.transformer.transform(tree)
    except Exception as exc:  # InvalidUcumError, or lark's VisitError wrapping a pint error
        hint = _suggestion(text)
        message = f"unknown unit {text!r}"
        if ucum_text != text.strip():
            message += f" (read as UCUM {ucum_text!r})"
        if hint is not None:
            message += f"; did you mean {hint}?"
        else:
            message += "; write it in UCUM, e.g. mg/dL, 10*9/L, [IU]/L, mm[Hg]"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnitError(f"{message} ({detail})") from exc
    if not isinstance(value, pint.Quantity):
        # ucumvert returns the bare annotation token for a unit that is only an annotation
        # ("{score}", "{INR}"); UCUM reads such a unit as 1.
        value = ucum.registry.Quantity(1, "dimensionless")
    return Unit(
        ucum=ucum_text, written=text, quantity=value, arbitrary=_arbitrary_signature(value)
    )


_IU_ATOM = re.compile(r"\[(?:IU|iU)\]")


def _read(unit: str | Unit, iu_equals_u: bool) -> Unit:
    parsed = unit if isinstance(unit, Unit) else parse_unit(unit)
    if iu_equals_u and _IU_ATOM.search(parsed.ucum):
        return parse_unit(_IU_ATOM.sub("U", parsed.ucum))
    return parsed


def _chemistry_ok(a: Unit, b: Unit) -> bool:
    """Whether the two differ exactly by amount of substance <-> mass."""
    da, db = a.quantity.dimensionality, b.quantity.dimensionality
    ratio = dict((da / db).items())
    return ratio in ({"[mass]": 1, "[substance]": -1}, {"[mass]": -1, "[substance]": 1})


def same_dimension(
    unit_a: str | Unit,
    unit_b: str | Unit,
    *,
    molar_factor: float | None = None,
    iu_equals_u: bool = False,
) -> bool:
    """Whether a value in ``unit_a`` can be converted to ``unit_b``.

    With ``molar_factor`` (the analyte's molar mass in g/mol) mass and amount-of-substance
    concentrations count as convertible. Raises :class:`UnitError` for unreadable units.
    """
    a, b = _read(unit_a, iu_equals_u), _read(unit_b, iu_equals_u)
    if a.arbitrary != b.arbitrary:
        return False
    if a.quantity.dimensionality == b.quantity.dimensionality:
        return True
    return molar_factor is not None and _chemistry_ok(a, b)


def convert(
    value: float,
    from_unit: str | Unit,
    to_unit: str | Unit,
    *,
    molar_factor: float | None = None,
    iu_equals_u: bool = False,
) -> float:
    """Convert ``value`` from one unit to another.

    ``molar_factor`` is the analyte's molar mass in grams per mole (equivalently mg per mmol);
    it allows mass <-> amount-of-substance conversion, e.g. bilirubin (584.66 g/mol):
    ``convert(51.3, "umol/L", "mg/dL", molar_factor=584.66)`` is 3.0. ``iu_equals_u`` reads
    UCUM's ``[IU]`` as the unit ``U`` (see the module notes).

    Raises :class:`UnitError` when a unit cannot be read, when the dimensions differ and no
    factor applies, or when the units carry different arbitrary units (``[IU]`` vs copies).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnitError(f"cannot convert {value!r}: not a number")
    a, b = _read(from_unit, iu_equals_u), _read(to_unit, iu_equals_u)
    if a.arbitrary != b.arbitrary:
        raise UnitError(
            f"cannot convert {a.written} to {b.written}: arbitrary units "
            f"({_arbitrary_text(a)} vs {_arbitrary_text(b)}) convert only to themselves"
        )
    ucum = _ucum()
    quantity = ucum.registry.Quantity(value * a.quantity.magnitude, a.quantity.units)
    try:
        if a.quantity.dimensionality == b.quantity.dimensionality:
            result = quantity.to(b.quantity.units)
        elif molar_factor is not None and _chemistry_ok(a, b):
            if not (molar_factor > 0 and math.isfinite(molar_factor)):
                raise UnitError(f"molar factor must be a positive molar mass, not {molar_factor}")
            result = quantity.to(
                b.quantity.units, "chemistry", mw=ucum.registry.Quantity(molar_factor, "g/mol")
            )
        else:
            raise UnitError(
                f"cannot convert {a.written} ({a.dimensionality}) to {b.written} "
                f"({b.dimensionality})"
                + (
                    ": mass and amount-of-substance concentrations need the analyte's molar "
                    "mass (molar_factor)"
                    if molar_factor is None and _chemistry_ok(a, b)
                    else ": the dimensions differ"
                )
            )
    except pint.errors.PintError as exc:
        raise UnitError(f"cannot convert {a.written} to {b.written}: {exc}") from exc
    return float(result.magnitude) / float(b.quantity.magnitude)


def _arbitrary_text(unit: Unit) -> str:
    return ", ".join(name for name, _ in unit.arbitrary) or "none"


def per_day(unit: str) -> str:
    """A daily amount's unit without its `/d`: `mg/d` and `mg/day` are `mg` a day."""
    for suffix in ("/d", "/day"):
        if unit.endswith(suffix):
            return unit[: -len(suffix)]
    return unit
