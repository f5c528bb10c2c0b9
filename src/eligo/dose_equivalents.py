"""Equipotent doses, so that `with daily dose >= 20 mg prednisolone equivalent` can be asked
of any systemic glucocorticoid, and units of daily doses (per day, per kg of body weight).

Equivalent anti-inflammatory doses of systemic glucocorticoids, each equal to 5 mg of
prednisolone: British National Formulary, "Equivalent anti-inflammatory doses of
corticosteroids" (chapter 6.3; betamethasone 750 micrograms, cortisone acetate 25 mg,
deflazacort 6 mg, dexamethasone 750 micrograms, hydrocortisone 20 mg, methylprednisolone
4 mg, prednisolone 5 mg, triamcinolone 4 mg). Prednisone, not in the BNF table, is equal to
prednisolone mg for mg (Meikle AW, Tyler FH. Potency and duration of action of
glucocorticoids. Am J Med. 1977;63(2):200-7). The drugs are keyed by their ATC codes in
H02AB (glucocorticoids for systemic use), and the RxNorm oral tablets the bundled
systemic_corticosteroids value set names: a prednisolone eye drop (S01BA04) or enema
(A07EA01) is not a systemic dose and has no equivalent here.
"""

from __future__ import annotations

from collections.abc import Iterable

from eligo import units
from eligo.patient import Coding

# ATC code -> (ingredient, mg equipotent with 5 mg prednisolone)
GLUCOCORTICOIDS: dict[str, tuple[str, float]] = {
    "H02AB01": ("betamethasone", 0.75),
    "H02AB02": ("dexamethasone", 0.75),
    "H02AB04": ("methylprednisolone", 4.0),
    "H02AB06": ("prednisolone", 5.0),
    "H02AB07": ("prednisone", 5.0),
    "H02AB08": ("triamcinolone", 4.0),
    "H02AB09": ("hydrocortisone", 20.0),
    "H02AB10": ("cortisone", 25.0),
    "H02AB13": ("deflazacort", 6.0),
}

# RxNorm clinical drugs of the systemic_corticosteroids value set (names from the OMOP
# CONCEPT table in ../shared/data/omop/synthea27nj): prednisone 5 mg and 20 mg oral tablets.
RXNORM_GLUCOCORTICOIDS: dict[str, tuple[str, float]] = {
    "312617": ("prednisone", 5.0),
    "312615": ("prednisone", 5.0),
}

# Reference drugs a protocol may name, with their equipotent dose on the same scale.
REFERENCES: dict[str, float] = dict(GLUCOCORTICOIDS.values())

_BY_SYSTEM = {"atc": GLUCOCORTICOIDS, "rxnorm": RXNORM_GLUCOCORTICOIDS}


def mass_unit(unit: str) -> tuple[str, bool]:
    """The mass unit of a daily dose, and whether it is per kg of body weight:
    ``mg`` -> (mg, False), ``mg/kg`` and ``mg/kg/d`` -> (mg, True).

    Raises :class:`eligo.units.UnitError` when the unit is not a mass (per kg)."""
    daily = units.per_day(unit)
    per_kg = daily.endswith("/kg")
    mass = daily[: -len("/kg")] if per_kg else daily
    units.convert(1.0, mass, "mg")  # raises UnitError when it is not a mass
    return mass, per_kg


def equivalent_dose(codes: Iterable[Coding], dose_mg: float, reference: str
                    ) -> tuple[float, str] | None:
    """``dose_mg`` of the medication coded ``codes`` as mg of ``reference``, with the
    medication's ingredient name; None when no equivalent is known for it."""
    for coding in codes:
        table = _BY_SYSTEM.get(coding.system)
        if table is not None and coding.code in table:
            name, dose = table[coding.code]
            return dose_mg * REFERENCES[reference] / dose, name
    return None
