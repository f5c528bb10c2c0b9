"""Unit parsing and conversion (eligo.units): UCUM via ucumvert and pint, plus lab spellings."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eligo.observations import lookup
from eligo.units import Unit, UnitError, convert, normalise_spelling, parse_unit, same_dimension


def _molar(name: str) -> float:
    entry = lookup(name)
    assert entry is not None
    assert entry.molar_factor is not None
    return entry.molar_factor


# (value, unit, value, unit, analyte whose molar mass applies or None, relative tolerance)
# Expected values are the conventional clinical figures, so the tolerance absorbs their rounding.
PAIRS = [
    (3.0, "mg/dL", 51.3, "umol/L", "bilirubin", 2e-3),
    (3.0, "mg/dL", 51.3, "µmol/L", "bilirubin", 2e-3),
    (1.0, "mg/dL", 88.4, "umol/L", "creatinine", 1e-3),
    (100.0, "mg/dL", 5.55, "mmol/L", "glucose", 2e-3),
    (126.0, "mg/dL", 7.0, "mmol/L", "glucose", 2e-3),
    (14.0, "mg/dL", 5.0, "mmol/L", "bun", 2e-3),
    (10.0, "mg/dL", 2.5, "mmol/L", "calcium", 3e-3),
    (200.0, "mg/dL", 5.17, "mmol/L", "cholesterol", 2e-3),
    (18.0, "mg/dL", 2.0, "mmol/L", "lactate", 2e-3),
    (13.5, "g/dL", 8.38, "mmol/L", "hemoglobin", 2e-3),
    (3.5, "g/dL", 35.0, "g/L", None, 1e-12),
    (13.5, "g/dL", 135.0, "g/L", None, 1e-12),
    (150.0, "10*9/L", 150000.0, "/uL", None, 1e-12),
    (150.0, "10*9/L", 150.0, "K/uL", None, 1e-12),
    (150000.0, "/uL", 150.0, "K/uL", None, 1e-12),
    (150000.0, "/mm3", 150.0, "x10^9/L", None, 1e-12),
    (1.5, "10^9/L", 1500.0, "cells/uL", None, 1e-12),
    (350.0, "cells/mm3", 350.0, "{cells}/uL", None, 1e-12),
    (135.0, "mEq/L", 135.0, "mmol/L", None, 1e-12),
    (1.0, "ukat/L", 60.0, "U/L", None, 1e-9),
    (120.0, "mmHg", 16.0, "kPa", None, 1e-3),
    (98.6, "[degF]", 37.0, "Cel", None, 1e-9),
    (154.0, "lbs", 69.85, "kg", None, 1e-3),
    (70.0, "in", 177.8, "cm", None, 1e-9),
    (14.0, "pg/mL", 14.0, "ng/L", None, 1e-12),
    (0.04, "ng/mL", 40.0, "ng/L", None, 1e-12),
    (0.45, "1", 45.0, "%", None, 1e-12),
    (450.0, "msec", 0.45, "s", None, 1e-12),
    (72.0, "bpm", 72.0, "/min", None, 1e-12),
    (2.5, "uIU/mL", 2.5, "m[IU]/L", None, 1e-12),
]


@pytest.mark.parametrize(("a", "unit_a", "b", "unit_b", "analyte", "rel"), PAIRS)
def test_conversion_both_ways(
    a: float, unit_a: str, b: float, unit_b: str, analyte: str | None, rel: float
) -> None:
    factor = _molar(analyte) if analyte else None
    assert convert(a, unit_a, unit_b, molar_factor=factor) == pytest.approx(b, rel=rel)
    assert convert(b, unit_b, unit_a, molar_factor=factor) == pytest.approx(a, rel=rel)


def test_bilirubin_example_from_the_brief() -> None:
    assert convert(51.3, "µmol/L", "mg/dL", molar_factor=_molar("bilirubin")) == pytest.approx(
        3.0, rel=1e-3
    )


def test_conventional_factors_follow_from_the_molar_masses() -> None:
    # The factors clinicians quote (AMA Manual of Style SI table) fall out of the molar masses.
    cases = [
        ("bilirubin", "mg/dL", "umol/L", 17.1),
        ("creatinine", "mg/dL", "umol/L", 88.4),
        ("glucose", "mmol/L", "mg/dL", 18.0),
        ("glucose", "mg/dL", "mmol/L", 0.0555),
        ("bun", "mg/dL", "mmol/L", 0.357),
    ]
    for analyte, a, b, factor in cases:
        converted = convert(1, a, b, molar_factor=_molar(analyte))
        assert converted == pytest.approx(factor, rel=2e-3), analyte


@pytest.mark.parametrize(
    ("written", "ucum"),
    [
        ("gm/dl", "g/dL"),
        ("g/dl", "g/dL"),
        ("GM/DL", "g/dL"),
        ("mg/dl", "mg/dL"),
        ("MG/DL", "mg/dL"),
        ("mg%", "mg/dL"),
        ("g%", "g/dL"),
        ("/mm3", "/mm3"),
        ("/cumm", "/mm3"),
        ("cells/uL", "{cells}/uL"),
        ("cells/µL", "{cells}/uL"),
        ("cells/mm3", "{cells}/mm3"),
        ("x10^9/L", "10*9/L"),
        ("x 10^9/L", "10*9/L"),
        ("10^9/L", "10*9/L"),
        ("10E9/L", "10*9/L"),
        ("×10⁹/L", "10*9/L"),
        ("10*9/L", "10*9/L"),
        ("K/uL", "10*3/uL"),
        ("K/µL", "10*3/uL"),
        ("thou/uL", "10*3/uL"),
        ("M/uL", "10*6/uL"),
        ("IU/L", "[IU]/L"),
        ("IU/mL", "[IU]/mL"),
        ("mIU/mL", "m[IU]/mL"),
        ("µIU/mL", "u[IU]/mL"),
        ("U/L", "U/L"),
        ("u/l", "U/L"),
        ("units/L", "U/L"),
        ("umol/L", "umol/L"),
        ("µmol/L", "umol/L"),
        ("μmol/L", "umol/L"),  # Greek mu
        ("mEq/L", "meq/L"),
        ("mmHg", "mm[Hg]"),
        ("mm Hg", "mm[Hg]"),
        ("mm[Hg]", "mm[Hg]"),
        ("bpm", "/min"),
        ("beats/min", "/min"),
        ("/min", "/min"),
        ("%", "%"),
        ("percent", "%"),
        ("copies/mL", "{copies}/mL"),
        ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
        ("ml/min/1.73 m²", "mL/min/{1.73_m2}"),
        ("mL/min/{1.73_m2}", "mL/min/{1.73_m2}"),
        ("kg/m²", "kg/m2"),
        ("kg/m^2", "kg/m2"),
        ("msec", "ms"),
        ("sec", "s"),
        ("lbs", "[lb_av]"),
        ("°C", "Cel"),
        ("{score}", "{score}"),
        ("{INR}", "{INR}"),
    ],
)
def test_spellings_read_as_ucum(written: str, ucum: str) -> None:
    assert normalise_spelling(written) == ucum
    assert parse_unit(written).ucum == ucum
    assert parse_unit(written) == parse_unit(ucum)


def test_annotation_only_units_are_unity() -> None:
    # ucumvert hands back a bare token for "{score}"; UCUM reads an annotation alone as 1.
    for text in ("{score}", "{INR}", "{ratio}"):
        assert parse_unit(text).dimensionless
        assert convert(2.0, text, "1") == 2.0


def test_unit_is_an_immutable_record() -> None:
    unit = parse_unit("mg/dl")
    assert isinstance(unit, Unit)
    assert unit.ucum == "mg/dL"
    assert unit.written == "mg/dl"
    assert str(unit) == "mg/dL"
    assert unit.dimensionality == "[mass] / [length] ** 3"
    with pytest.raises(dataclasses.FrozenInstanceError):
        unit.ucum = "g/L"  # type: ignore[misc]
    assert hash(unit) == hash(parse_unit("mg/dL"))


@pytest.mark.parametrize(
    ("from_unit", "to_unit"),
    [
        ("mg/dL", "mmol/L"),  # mass <-> substance needs a molar factor
        ("mg/dL", "s"),
        ("10*9/L", "g/L"),
        ("mm[Hg]", "%"),
        ("U/L", "[IU]/L"),  # the enzyme unit is not the WHO international unit ...
        ("[IU]/mL", "{copies}/mL"),  # ... and arbitrary units convert only to themselves
        ("[IU]/mL", "/mL"),
        ("10*9/L", "[IU]/L"),
    ],
)
def test_incompatible_dimensions_raise(from_unit: str, to_unit: str) -> None:
    with pytest.raises(UnitError, match="cannot convert"):
        convert(1.0, from_unit, to_unit)
    assert not same_dimension(from_unit, to_unit)


def test_molar_factor_does_not_bridge_other_dimensions() -> None:
    with pytest.raises(UnitError, match="dimensions differ"):
        convert(1.0, "mg/dL", "s", molar_factor=584.66)
    with pytest.raises(UnitError, match="molar mass"):
        convert(1.0, "mg/dL", "umol/L")


@pytest.mark.parametrize("bad", [0.0, -5.0, float("nan"), float("inf")])
def test_molar_factor_must_be_a_positive_mass(bad: float) -> None:
    with pytest.raises(UnitError, match="molar factor"):
        convert(1.0, "mg/dL", "umol/L", molar_factor=bad)


def test_iu_equals_u_is_opt_in() -> None:
    with pytest.raises(UnitError):
        convert(40.0, "IU/L", "U/L")
    assert convert(40.0, "IU/L", "U/L", iu_equals_u=True) == 40.0
    assert convert(2.0, "mU/L", "m[IU]/L", iu_equals_u=True) == 2.0
    assert same_dimension("IU/L", "U/L", iu_equals_u=True)


def test_same_dimension() -> None:
    assert same_dimension("mg/dL", "g/L")
    assert same_dimension("10*9/L", "/uL")
    assert not same_dimension("mg/dL", "umol/L")
    assert same_dimension("mg/dL", "umol/L", molar_factor=584.66)
    assert same_dimension(parse_unit("%"), "1")


@pytest.mark.parametrize(
    ("text", "hint"),
    [("mg/dk", "mg/dL"), ("mmol/k", "mmol/L"), ("bpn", "bpm"), ("10*9/l/", None)],
)
def test_unknown_unit_raises_with_a_suggestion(text: str, hint: str | None) -> None:
    with pytest.raises(UnitError, match="unknown unit") as excinfo:
        parse_unit(text)
    if hint is not None:
        assert f"did you mean {hint!r}" in str(excinfo.value)


@pytest.mark.parametrize("text", ["", "   ", "furlongs per fortnight", "mg/", "xyzzy"])
def test_not_a_unit(text: str) -> None:
    with pytest.raises(UnitError):
        parse_unit(text)


def test_unit_error_is_a_value_error() -> None:
    assert issubclass(UnitError, ValueError)


def test_convert_rejects_non_numbers() -> None:
    with pytest.raises(UnitError, match="not a number"):
        convert(True, "mg/dL", "g/L")
    with pytest.raises(UnitError, match="not a number"):
        convert("3", "mg/dL", "g/L")  # type: ignore[arg-type]


# Compatible pairs, with the molar mass that links them where the dimensions differ.
ROUND_TRIP_PAIRS = [
    ("mg/dL", "g/L", None),
    ("mg/dL", "umol/L", 584.66),
    ("mg/dL", "mmol/L", 180.16),
    ("umol/L", "mg/dL", 113.12),
    ("10*9/L", "/uL", None),
    ("K/uL", "cells/mm3", None),
    ("g/dL", "mmol/L", 16114.5),
    ("ng/mL", "pg/mL", None),
    ("mm[Hg]", "kPa", None),
    ("Cel", "[degF]", None),
    ("%", "1", None),
    ("kg", "lbs", None),
    ("U/L", "ukat/L", None),
    ("m[IU]/L", "u[IU]/mL", None),
    ("ms", "s", None),
    ("mL/min", "L/h", None),
]


@settings(max_examples=200, deadline=None)
@given(
    pair=st.sampled_from(ROUND_TRIP_PAIRS),
    x=st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_round_trip(pair: tuple[str, str, float | None], x: float) -> None:
    a, b, factor = pair
    there = convert(x, a, b, molar_factor=factor)
    back = convert(there, b, a, molar_factor=factor)
    assert back == pytest.approx(x, rel=1e-9, abs=1e-9)
