"""Derived scores as the language names them, and where each input comes from.

A score's inputs are read from the profile: the most recent fresh result of a library
observation (converted to the unit the formula wants), the birth date and sex, coded
conditions (ascites, hepatic encephalopathy) and procedures (dialysis). An input the
record only narrows down (ascites coded, but not its grade) is a set of candidate values:
the rule is decided when every candidate gives the same answer, and UNKNOWN otherwise,
naming the input. A missing input is UNKNOWN, named too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from eligo import scores
from eligo.scores import ScoreSpec

Output = Literal["value", "points", "class", "score", "grade"]


@dataclass(frozen=True, slots=True)
class DerivedScore:
    """A score the language can compare: ``meld >= 15``, ``child_pugh_class = C``."""

    name: str
    spec: ScoreSpec
    output: Output
    unit: str | None  # of the output, for `x` comparisons; None for unitless scores
    labels: tuple[str, ...] = ()  # ordered class labels for class outputs

    def pick(self, result: Any) -> float | str:
        """The compared part of the score function's result."""
        match self.output:
            case "value":
                return float(result)
            case "points":
                return float(result.points)
            case "class":
                return str(result.class_)
            case "score":
                return float(result.score)
            case "grade":
                return str(result.grade)


DERIVED: dict[str, DerivedScore] = {
    d.name: d for d in (
        DerivedScore("meld", scores.SCORES["meld"], "value", None),
        DerivedScore("meld_na", scores.SCORES["meld_na"], "value", None),
        DerivedScore("meld_3", scores.SCORES["meld_3"], "value", None),
        DerivedScore("child_pugh", scores.SCORES["child_pugh"], "points", None),
        DerivedScore("child_pugh_class", scores.SCORES["child_pugh"], "class", None,
                     ("A", "B", "C")),
        DerivedScore("albi", scores.SCORES["albi"], "score", None),
        DerivedScore("albi_grade", scores.SCORES["albi"], "grade", None, ("1", "2", "3")),
        DerivedScore("egfr_ckd_epi_2021", scores.SCORES["egfr_ckd_epi_2021"], "value",
                     "mL/min/{1.73_m2}"),
        DerivedScore("crcl_cockcroft_gault",
                     scores.SCORES["creatinine_clearance_cockcroft_gault"], "value", "mL/min"),
        DerivedScore("fib4", scores.SCORES["fib4"], "value", None),
        DerivedScore("apri", scores.SCORES["apri"], "value", None),
        # Also library observations: a recorded value is used first, else it is computed.
        DerivedScore("bmi", scores.SCORES["bmi"], "value", "kg/m2"),
        DerivedScore("qtcf", scores.SCORES["qtcf"], "value", "ms"),
    )
}

# Formula inputs read from observations: input name -> (library entry, unit it is given in).
OBSERVED_INPUTS: dict[str, tuple[str, str | None]] = {
    "bilirubin_mg_dl": ("bilirubin", "mg/dL"),
    "bilirubin_umol_l": ("bilirubin", "umol/L"),
    "inr": ("inr", None),
    "creatinine_mg_dl": ("creatinine", "mg/dL"),
    "sodium_mmol_l": ("sodium", "mmol/L"),
    "albumin_g_dl": ("albumin", "g/dL"),
    "albumin_g_l": ("albumin", "g/L"),
    "ast_u_l": ("ast", "U/L"),
    "alt_u_l": ("alt", "U/L"),
    "platelets_10e9_l": ("platelets", "10*9/L"),
    "weight_kg": ("weight", "kg"),
    "height_cm": ("height", "cm"),
    "qt_ms": ("qt", "ms"),
    "heart_rate_bpm": ("heart_rate", "/min"),
    "rr_s": ("", None),  # RR interval: not in the library; QTcF falls back to heart rate
}
# Inputs that come from elsewhere in the profile (see evaluate.py).
PROFILE_INPUTS = frozenset({"age_years", "female", "dialysis_twice_last_week", "ascites",
                            "encephalopathy", "ast_uln_u_l"})


def lookup(name: str) -> DerivedScore | None:
    return DERIVED.get(name)


def compute(score: DerivedScore, values: dict[str, Any]) -> float | str:
    """Call the score's formula with ``values`` (by input name; absent optional ones left out)."""
    function: Callable[..., Any] = score.spec.function
    kwargs = {i.name: values[i.name] for i in score.spec.inputs if i.name in values}
    return score.pick(function(**kwargs))
