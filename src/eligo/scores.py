"""Derived clinical scores: pure functions of plain numbers in canonical units.

Every function here takes numbers (and booleans or a few literal categories) in the
canonical unit named by its parameter, and returns a number or a small frozen result.
Nothing reads a patient, a clock, a file or a global; unit conversion and the choice of
which observation feeds which input belong to the caller (the evaluator), which reads the
``SCORES`` registry at the bottom of this module for the input names and units.

Inputs are validated before use: a value that is not a finite ``int``/``float`` raises
``TypeError`` (``bool`` is refused where a number is expected), NaN or an infinity raises
``ValueError``, and so does a non-positive value where the formula takes a logarithm or
divides by it, or where the quantity (a laboratory concentration, a weight, a height, an
interval) cannot physically be zero or negative. Every message names the input.

Scores that the defining source reports as whole numbers (MELD, MELD-Na, MELD 3.0,
Child-Pugh points) are returned as ``int``; continuous measures (eGFR, creatinine
clearance, QTcF, BMI, FIB-4, APRI, the ALBI linear predictor) are returned unrounded, and
rounding for display is left to the caller. Where a source says "round", this module
rounds half up (``floor(x + 0.5)``), not Python's round-half-to-even.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "SCORES",
    "Albi",
    "ChildPugh",
    "ScoreInput",
    "ScoreSpec",
    "albi",
    "apri",
    "bmi",
    "child_pugh",
    "creatinine_clearance_cockcroft_gault",
    "egfr_ckd_epi_2021",
    "fib4",
    "meld",
    "meld_3",
    "meld_na",
    "qtcf",
]

Ascites = Literal["none", "mild", "moderate_severe"]
Encephalopathy = Literal["none", "grade_1_2", "grade_3_4"]

MELD_MAX: Final = 40
"""OPTN/UNOS cap on the allocation MELD score (MELD, MELD-Na and, by default, MELD 3.0)."""


# --- input checks --------------------------------------------------------------------

def _number(name: str, value: float) -> float:
    """``value`` as a finite float; TypeError for non-numbers, ValueError for NaN/inf."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if math.isnan(number):
        raise ValueError(f"{name} is NaN")
    if math.isinf(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def _positive(name: str, value: float) -> float:
    number = _number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value!r}")
    return number


def _non_negative(name: str, value: float) -> float:
    number = _number(name, value)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def _flag(name: str, value: bool) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


# --- MELD family -----------------------------------------------------------------------

def _meld_i(bilirubin_mg_dl: float, inr: float, creatinine_mg_dl: float,
            dialysis_twice_last_week: bool) -> int:
    """Uncapped OPTN MELD(i): bounded inputs, 10 x the log-linear sum, rounded half up."""
    bilirubin = max(_positive("bilirubin_mg_dl", bilirubin_mg_dl), 1.0)
    ratio = max(_positive("inr", inr), 1.0)
    creatinine = _clamp(_positive("creatinine_mg_dl", creatinine_mg_dl), 1.0, 4.0)
    if _flag("dialysis_twice_last_week", dialysis_twice_last_week):
        creatinine = 4.0
    linear = (0.957 * math.log(creatinine) + 0.378 * math.log(bilirubin)
              + 1.120 * math.log(ratio) + 0.643)
    # "round to the tenth decimal place and multiply by 10" == round 10 x linear to a
    # whole number (half up).
    return _round_half_up(10 * linear)


def meld(bilirubin_mg_dl: float, inr: float, creatinine_mg_dl: float,
         dialysis_twice_last_week: bool = False) -> int:
    """MELD as used by UNOS/OPTN before 2016 ("MELD(i)"), a whole number from 6 to 40.

    Formula (Kamath PS et al., Hepatology 2001;33:464-470, as modified for allocation by
    UNOS, Wiesner R et al., Gastroenterology 2003;124:91-96, and OPTN Policy 9.1)::

        MELD(i) = 0.957 x ln(creatinine mg/dL) + 0.378 x ln(bilirubin mg/dL)
                  + 1.120 x ln(INR) + 0.643
        then round to the tenth decimal place and multiply by 10.

    Bounds (OPTN): laboratory values below 1.0 are set to 1.0; creatinine above 4.0 mg/dL
    is set to 4.0; dialysis at least twice in the past week (or 24 hours of CVVHD in the
    past week) sets creatinine to 4.0. The score is capped at 40 (OPTN maximum MELD).

    Rounding convention: OPTN's wording ("round to the tenth decimal place and multiply by
    10") is read as rounding the inner sum to one decimal, i.e. 10 x sum rounded to a whole
    number, half up. Kamath 2001's original 3.8/11.2/9.6/6.4 coefficients and its
    aetiology term are *not* used: UNOS applies 0.643 (6.43 after x10) to every candidate.
    All inputs must be > 0 (a zero or negative laboratory value is a data error).
    """
    return min(_meld_i(bilirubin_mg_dl, inr, creatinine_mg_dl, dialysis_twice_last_week),
               MELD_MAX)


def meld_na(bilirubin_mg_dl: float, inr: float, creatinine_mg_dl: float,
            sodium_mmol_l: float, dialysis_twice_last_week: bool = False) -> int:
    """MELD-Na as adopted by OPTN in January 2016 (OPTN Policy 9.1), a whole number 6-40.

    MELD(i) is computed and rounded exactly as in :func:`meld` (before the 40 cap). Then,
    only if MELD(i) > 11 (OPTN Policy 9.1, from the OPTN/UNOS Liver and Intestinal Organ
    Transplantation Committee's "Proposal to Add Serum Sodium to the MELD Score", approved
    by the OPTN Board in June 2014, in force from 11 January 2016)::

        MELD = MELD(i) + 1.32 x (137 - Na) - [0.033 x MELD(i) x (137 - Na)]

    with serum sodium bounded to 125-137 mmol/L (values below 125 set to 125, above 137 set
    to 137). The result is rounded half up to a whole number and capped at 40. When
    MELD(i) <= 11 the score is MELD(i) and sodium has no effect (it is still validated).

    This is the OPTN form of the equation of Kim WR et al. (N Engl J Med 2008;359:
    1018-1026), which was ``MELD - Na - 0.025 x MELD x (140 - Na) + 140`` with sodium
    bounded 125-140 and no MELD(i) > 11 condition; that older form is not implemented.
    The rounded (integer) MELD(i) is used inside the sodium term, following the policy's
    order of operations (round, then the additional calculation). Because the sodium term
    is zero at MELD(i) = 40 and the result increases with MELD(i), capping MELD(i) at 40
    before or after the sodium step gives the same score.
    """
    sodium = _clamp(_positive("sodium_mmol_l", sodium_mmol_l), 125.0, 137.0)
    meld_i = _meld_i(bilirubin_mg_dl, inr, creatinine_mg_dl, dialysis_twice_last_week)
    if meld_i <= 11:
        return min(meld_i, MELD_MAX)
    deficit = 137.0 - sodium
    score = meld_i + 1.32 * deficit - 0.033 * meld_i * deficit
    return min(_round_half_up(score), MELD_MAX)


def meld_3(bilirubin_mg_dl: float, inr: float, creatinine_mg_dl: float,
           sodium_mmol_l: float, albumin_g_dl: float, female: bool,
           dialysis_twice_last_week: bool = False, *, cap_at_40: bool = True) -> int:
    """MELD 3.0 (Kim WR et al., Gastroenterology 2021;161:1887-1895.e4), a whole number.

    Formula (Kim 2021; adopted for allocation by OPTN, Policy 9.1, July 2023)::

        MELD 3.0 = 1.33 x (female) + 4.56 x ln(bilirubin) + 0.82 x (137 - Na)
                   - 0.24 x (137 - Na) x ln(bilirubin) + 9.09 x ln(INR)
                   + 11.14 x ln(creatinine) + 1.85 x (3.5 - albumin)
                   - 1.83 x (3.5 - albumin) x ln(creatinine) + 6

    Bounds (Kim 2021): bilirubin, INR and creatinine below 1.0 are set to 1.0; creatinine
    has an upper bound of 3.0 mg/dL, and dialysis at least twice in the past week (or 24
    hours of CVVHD) sets it to 3.0; sodium is bounded to 125-137 mmol/L; albumin to
    1.5-3.5 g/dL. The sum is rounded half up to a whole number.

    Cap: Kim 2021 scaled MELD 3.0 without presuming a cap at 40, but OPTN allocation keeps
    the maximum MELD of 40, so ``cap_at_40`` (keyword-only) defaults to True; pass False
    for the uncapped model score. OPTN also applies the 1.33 "female" term to candidates
    aged 12-17 of either sex; this function applies it only when ``female`` is True.

    Note the interaction terms: the score always increases with bilirubin, INR and
    creatinine within the bounds, but it can *rise* with albumin when creatinine is above
    about 2.75 mg/dL (1.83 x ln(Cr) > 1.85) and *fall* with lower sodium when bilirubin
    is above about 30.5 mg/dL (0.24 x ln(bili) > 0.82). That is the published model.
    """
    bilirubin = max(_positive("bilirubin_mg_dl", bilirubin_mg_dl), 1.0)
    ratio = max(_positive("inr", inr), 1.0)
    creatinine = _clamp(_positive("creatinine_mg_dl", creatinine_mg_dl), 1.0, 3.0)
    if _flag("dialysis_twice_last_week", dialysis_twice_last_week):
        creatinine = 3.0
    sodium = _clamp(_positive("sodium_mmol_l", sodium_mmol_l), 125.0, 137.0)
    albumin = _clamp(_positive("albumin_g_dl", albumin_g_dl), 1.5, 3.5)
    is_female = _flag("female", female)
    ln_bili, ln_cr = math.log(bilirubin), math.log(creatinine)
    score = (1.33 * is_female
             + 4.56 * ln_bili
             + 0.82 * (137.0 - sodium)
             - 0.24 * (137.0 - sodium) * ln_bili
             + 9.09 * math.log(ratio)
             + 11.14 * ln_cr
             + 1.85 * (3.5 - albumin)
             - 1.83 * (3.5 - albumin) * ln_cr
             + 6.0)
    rounded = _round_half_up(score)
    return min(rounded, MELD_MAX) if _flag("cap_at_40", cap_at_40) else rounded


# --- Child-Pugh and ALBI ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ChildPugh:
    """A Child-Pugh result: total points (5-15) and class A (5-6), B (7-9) or C (10-15)."""

    points: int
    class_: Literal["A", "B", "C"]


_ASCITES_POINTS: Final[dict[str, int]] = {"none": 1, "mild": 2, "moderate_severe": 3}
_ENCEPHALOPATHY_POINTS: Final[dict[str, int]] = {"none": 1, "grade_1_2": 2, "grade_3_4": 3}


def _banded(value: float, low: float, high: float) -> int:
    """1 point below ``low``, 2 points in the closed band [low, high], 3 points above it."""
    if value < low:
        return 1
    return 2 if value <= high else 3


def child_pugh(bilirubin_mg_dl: float, albumin_g_dl: float, inr: float,
               ascites: Ascites, encephalopathy: Encephalopathy) -> ChildPugh:
    """Child-Pugh score and class (Pugh RNH et al., Br J Surg 1973;60:646-649), INR form.

    Points per item (1 / 2 / 3):

    ===================  ==========  ===============  ==========
    total bilirubin      < 2 mg/dL   2.0-3.0 mg/dL    > 3 mg/dL
    albumin              > 3.5 g/dL  2.8-3.5 g/dL     < 2.8 g/dL
    INR                  < 1.7       1.7-2.3          > 2.3
    ascites              none        mild (slight)    moderate-severe
    encephalopathy       none        grade 1-2        grade 3-4
    ===================  ==========  ===============  ==========

    Class A = 5-6 points, B = 7-9, C = 10-15 (Pugh 1973).

    Boundaries: Pugh 1973 printed shared endpoints ("1-2, 2-3, >3" mg/100 ml bilirubin;
    "3.5, 2.8-3.5, <2.8" g/100 ml albumin) and used prothrombin-time prolongation, not INR.
    The INR bands and the inclusive middle bands follow the modern tables written as
    "<2.0 | 2.0-3.0 | >3.0" and "<1.7 | 1.7-2.3 | >2.3" (e.g. Harrison's Principles of
    Internal Medicine, table "Child-Pugh Classification of Cirrhosis"): every endpoint
    belongs to the middle band. So bilirubin exactly 2.0 and 3.0 score 2; albumin exactly
    3.5 and 2.8 score 2 (the strict ">3.5" and "<2.8" bands exclude them); INR exactly 1.7
    and 2.3 score 2. Harrison's albumin middle band is 3.0-3.5 g/dL; the 2.8 cut-off used
    here is Pugh's original one. Bilirubin thresholds are those for non-cholestatic disease
    (Pugh's higher PBC thresholds are not implemented).
    """
    bilirubin = _positive("bilirubin_mg_dl", bilirubin_mg_dl)
    albumin = _positive("albumin_g_dl", albumin_g_dl)
    ratio = _positive("inr", inr)
    if ascites not in _ASCITES_POINTS:
        raise ValueError(f"ascites must be one of {sorted(_ASCITES_POINTS)}, got {ascites!r}")
    if encephalopathy not in _ENCEPHALOPATHY_POINTS:
        raise ValueError(f"encephalopathy must be one of {sorted(_ENCEPHALOPATHY_POINTS)}, "
                         f"got {encephalopathy!r}")
    points = (_banded(bilirubin, 2.0, 3.0)
              + (4 - _banded(albumin, 2.8, 3.5))  # higher albumin is better: mirror the bands
              + _banded(ratio, 1.7, 2.3)
              + _ASCITES_POINTS[ascites]
              + _ENCEPHALOPATHY_POINTS[encephalopathy])
    class_: Literal["A", "B", "C"] = "A" if points <= 6 else "B" if points <= 9 else "C"
    return ChildPugh(points=points, class_=class_)


@dataclass(frozen=True, slots=True)
class Albi:
    """An ALBI result: the linear predictor (unrounded) and its grade 1, 2 or 3."""

    score: float
    grade: Literal[1, 2, 3]


def albi(bilirubin_umol_l: float, albumin_g_l: float) -> Albi:
    """ALBI score and grade (Johnson PJ et al., J Clin Oncol 2015;33:550-558).

    ``score = (log10 bilirubin [umol/L] x 0.66) + (albumin [g/L] x -0.085)``

    Grades (Johnson 2015): 1 if score <= -2.60; 2 if -2.60 < score <= -1.39; 3 if
    score > -1.39. The score is not rounded before grading. Units are SI: bilirubin in
    umol/L (mg/dL x 17.1), albumin in g/L (g/dL x 10).
    """
    bilirubin = _positive("bilirubin_umol_l", bilirubin_umol_l)
    albumin = _positive("albumin_g_l", albumin_g_l)
    score = math.log10(bilirubin) * 0.66 + albumin * -0.085
    grade: Literal[1, 2, 3] = 1 if score <= -2.60 else 2 if score <= -1.39 else 3
    return Albi(score=score, grade=grade)


# --- kidney ------------------------------------------------------------------------------

def egfr_ckd_epi_2021(creatinine_mg_dl: float, age_years: float, female: bool) -> float:
    """eGFR (mL/min/1.73 m2), race-free CKD-EPI 2021 creatinine equation.

    Inker LA et al., N Engl J Med 2021;385:1737-1749::

        eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 [female]

    k = 0.7 (female) / 0.9 (male); a = -0.241 (female) / -0.302 (male); Scr is
    IDMS-standardised serum creatinine in mg/dL. Returned unrounded (laboratories report
    whole numbers). The equation was developed in adults (>= 18 years); that is the
    caller's concern, here age only has to be >= 0.
    """
    creatinine = _positive("creatinine_mg_dl", creatinine_mg_dl)
    age = _non_negative("age_years", age_years)
    is_female = _flag("female", female)
    kappa, alpha = (0.7, -0.241) if is_female else (0.9, -0.302)
    ratio = creatinine / kappa
    egfr = (142.0 * math.pow(min(ratio, 1.0), alpha) * math.pow(max(ratio, 1.0), -1.200)
            * math.pow(0.9938, age))
    return egfr * 1.012 if is_female else egfr


def creatinine_clearance_cockcroft_gault(creatinine_mg_dl: float, age_years: float,
                                         weight_kg: float, female: bool) -> float:
    """Creatinine clearance (mL/min), Cockcroft DW & Gault MH, Nephron 1976;16:31-41.

    ``CrCl = (140 - age) x weight [kg] / (72 x serum creatinine [mg/dL])``, x 0.85 for
    women (the paper's 15% lower estimate for females). Not normalised to body surface
    area; the weight is whatever the caller passes (actual body weight in the paper).
    Returned unrounded. Age must be >= 0 and below 140 (at 140 the estimate is zero).
    """
    creatinine = _positive("creatinine_mg_dl", creatinine_mg_dl)
    age = _non_negative("age_years", age_years)
    if age >= 140:
        raise ValueError(f"age_years must be below 140 for Cockcroft-Gault, got {age_years!r}")
    weight = _positive("weight_kg", weight_kg)
    clearance = (140.0 - age) * weight / (72.0 * creatinine)
    return clearance * 0.85 if _flag("female", female) else clearance


# --- ECG, anthropometry, fibrosis ----------------------------------------------------------

def qtcf(qt_ms: float, rr_s: float | None = None,
         heart_rate_bpm: float | None = None) -> float:
    """QT corrected by Fridericia's formula, in ms (Fridericia LS, Acta Med Scand 1920;53:469).

    ``QTcF = QT / RR^(1/3)`` with QT in ms and RR in seconds, so QTcF equals QT at
    RR = 1 s (60 bpm). Give exactly one of ``rr_s`` and ``heart_rate_bpm``; a heart rate
    is converted with ``RR = 60 / HR``. Returned unrounded.
    """
    qt = _positive("qt_ms", qt_ms)
    if rr_s is not None and heart_rate_bpm is None:
        rr = _positive("rr_s", rr_s)
    elif heart_rate_bpm is not None and rr_s is None:
        rr = 60.0 / _positive("heart_rate_bpm", heart_rate_bpm)
    else:
        given = "both were given" if rr_s is not None else "neither was given"
        raise ValueError(f"give exactly one of rr_s and heart_rate_bpm ({given})")
    return qt / math.pow(rr, 1.0 / 3.0)


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body-mass index (kg/m2): weight / height^2 (Quetelet index).

    Keys A et al., J Chronic Dis 1972;25:329-343; WHO Technical Report Series 894 (2000)
    defines BMI as weight in kilograms divided by the square of height in metres.
    ``height_cm`` is converted to metres. Returned unrounded.
    """
    weight = _positive("weight_kg", weight_kg)
    height_m = _positive("height_cm", height_cm) / 100.0
    return weight / (height_m * height_m)


def fib4(age_years: float, ast_u_l: float, alt_u_l: float,
         platelets_10e9_l: float) -> float:
    """FIB-4 index (Sterling RK et al., Hepatology 2006;43:1317-1325).

    ``FIB-4 = age [years] x AST [U/L] / (platelets [10^9/L] x sqrt(ALT [U/L]))``.
    Dimensionless, returned unrounded (Sterling's cut-offs are < 1.45 and > 3.25).
    """
    age = _positive("age_years", age_years)
    ast = _positive("ast_u_l", ast_u_l)
    alt = _positive("alt_u_l", alt_u_l)
    platelets = _positive("platelets_10e9_l", platelets_10e9_l)
    return age * ast / (platelets * math.sqrt(alt))


def apri(ast_u_l: float, ast_uln_u_l: float, platelets_10e9_l: float) -> float:
    """AST-to-platelet ratio index (Wai CT et al., Hepatology 2003;38:518-526).

    ``APRI = (AST [U/L] / AST upper limit of normal [U/L]) x 100 / platelets [10^9/L]``.
    Dimensionless, returned unrounded.
    """
    ast = _positive("ast_u_l", ast_u_l)
    uln = _positive("ast_uln_u_l", ast_uln_u_l)
    platelets = _positive("platelets_10e9_l", platelets_10e9_l)
    return ast / uln * 100.0 / platelets


# --- registry ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ScoreInput:
    """One input of a score: the function's parameter name and its canonical unit.

    ``unit`` is a UCUM code for quantities (``"1"`` for a dimensionless ratio such as the
    INR) and None for booleans and categories. ``required`` is False for inputs with a
    default (e.g. dialysis) or alternatives (QTcF's RR or heart rate).
    """

    name: str
    unit: str | None
    kind: Literal["quantity", "boolean", "category"]
    description: str
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoreSpec:
    """What a score needs and gives: inputs in call order, output unit and kind, source.

    ``output_kind`` is "integer" (a whole-number score), "real" (a continuous value) or
    "class" (a result object with points/score and a class or grade).
    """

    name: str
    title: str
    inputs: tuple[ScoreInput, ...]
    output_unit: str
    output_kind: Literal["integer", "real", "class"]
    citation: str
    function: Callable[..., object]


def _q(name: str, unit: str, description: str, *, required: bool = True) -> ScoreInput:
    return ScoreInput(name, unit, "quantity", description, required)


def _b(name: str, description: str, *, required: bool = True) -> ScoreInput:
    return ScoreInput(name, None, "boolean", description, required)


_BILI_MG = _q("bilirubin_mg_dl", "mg/dL", "serum total bilirubin")
_INR = _q("inr", "1", "international normalised ratio of prothrombin time")
_CREAT_MG = _q("creatinine_mg_dl", "mg/dL", "serum creatinine")
_SODIUM = _q("sodium_mmol_l", "mmol/L", "serum sodium")
_DIALYSIS = _b("dialysis_twice_last_week",
               "dialysis at least twice, or 24 h of CVVHD, in the past week", required=False)
_AGE = _q("age_years", "a", "age in years")
_FEMALE = _b("female", "sex is female")
_AST = _q("ast_u_l", "U/L", "aspartate aminotransferase")
_PLATELETS = _q("platelets_10e9_l", "10*9/L", "platelet count")

_MELD_CITATION = (
    "Kamath PS et al. A model to predict survival in patients with end-stage liver disease. "
    "Hepatology 2001;33(2):464-470; Wiesner R et al. Model for end-stage liver disease (MELD) "
    "and allocation of donor livers. Gastroenterology 2003;124(1):91-96; OPTN Policy 9.1."
)

SCORES: dict[str, ScoreSpec] = {
    spec.name: spec
    for spec in (
        ScoreSpec(
            "meld", "MELD (UNOS/OPTN, pre-2016 MELD(i))",
            (_BILI_MG, _INR, _CREAT_MG, _DIALYSIS), "{score}", "integer",
            _MELD_CITATION, meld,
        ),
        ScoreSpec(
            "meld_na", "MELD-Na (OPTN 2016)",
            (_BILI_MG, _INR, _CREAT_MG, _SODIUM, _DIALYSIS), "{score}", "integer",
            "OPTN Policy 9.1 (MELD-Na, effective January 2016); Kim WR et al. Hyponatremia "
            "and mortality among patients on the liver-transplant waiting list. N Engl J Med "
            "2008;359(10):1018-1026. " + _MELD_CITATION,
            meld_na,
        ),
        ScoreSpec(
            "meld_3", "MELD 3.0",
            (_BILI_MG, _INR, _CREAT_MG, _SODIUM,
             _q("albumin_g_dl", "g/dL", "serum albumin"), _FEMALE, _DIALYSIS),
            "{score}", "integer",
            "Kim WR et al. MELD 3.0: the Model for End-stage Liver Disease updated for the "
            "modern era. Gastroenterology 2021;161(6):1887-1895.e4. "
            "doi:10.1053/j.gastro.2021.08.050; OPTN Policy 9.1 (July 2023).",
            meld_3,
        ),
        ScoreSpec(
            "child_pugh", "Child-Pugh score and class",
            (_BILI_MG, _q("albumin_g_dl", "g/dL", "serum albumin"), _INR,
             ScoreInput("ascites", None, "category", "ascites",
                        choices=("none", "mild", "moderate_severe")),
             ScoreInput("encephalopathy", None, "category", "hepatic encephalopathy grade",
                        choices=("none", "grade_1_2", "grade_3_4"))),
            "{score}", "class",
            "Pugh RNH et al. Transection of the oesophagus for bleeding oesophageal varices. "
            "Br J Surg 1973;60(8):646-649 (INR bands as in Harrison's Principles of Internal "
            "Medicine, Child-Pugh classification table).",
            child_pugh,
        ),
        ScoreSpec(
            "albi", "ALBI score and grade",
            (_q("bilirubin_umol_l", "umol/L", "serum total bilirubin"),
             _q("albumin_g_l", "g/L", "serum albumin")),
            "1", "class",
            "Johnson PJ et al. Assessment of liver function in patients with hepatocellular "
            "carcinoma: a new evidence-based approach, the ALBI grade. J Clin Oncol "
            "2015;33(6):550-558. doi:10.1200/JCO.2014.57.9151",
            albi,
        ),
        ScoreSpec(
            "egfr_ckd_epi_2021", "eGFR, CKD-EPI 2021 creatinine equation (race-free)",
            (_CREAT_MG, _AGE, _FEMALE), "mL/min/{1.73_m2}", "real",
            "Inker LA et al. New creatinine- and cystatin C-based equations to estimate GFR "
            "without race. N Engl J Med 2021;385(19):1737-1749. doi:10.1056/NEJMoa2102953",
            egfr_ckd_epi_2021,
        ),
        ScoreSpec(
            "creatinine_clearance_cockcroft_gault", "Creatinine clearance, Cockcroft-Gault",
            (_CREAT_MG, _AGE, _q("weight_kg", "kg", "body weight"), _FEMALE),
            "mL/min", "real",
            "Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum "
            "creatinine. Nephron 1976;16(1):31-41. doi:10.1159/000180580",
            creatinine_clearance_cockcroft_gault,
        ),
        ScoreSpec(
            "qtcf", "QT corrected for heart rate, Fridericia",
            (_q("qt_ms", "ms", "QT interval"),
             _q("rr_s", "s", "RR interval (give this or heart_rate_bpm)", required=False),
             _q("heart_rate_bpm", "/min", "heart rate (give this or rr_s)", required=False)),
            "ms", "real",
            "Fridericia LS. Die Systolendauer im Elektrokardiogramm bei normalen Menschen "
            "und bei Herzkranken. Acta Med Scand 1920;53:469-486.",
            qtcf,
        ),
        ScoreSpec(
            "bmi", "Body-mass index",
            (_q("weight_kg", "kg", "body weight"), _q("height_cm", "cm", "body height")),
            "kg/m2", "real",
            "Keys A et al. Indices of relative weight and obesity. J Chronic Dis "
            "1972;25(6):329-343; WHO. Obesity: preventing and managing the global epidemic. "
            "WHO Technical Report Series 894, 2000.",
            bmi,
        ),
        ScoreSpec(
            "fib4", "FIB-4 index",
            (_AGE, _AST, _q("alt_u_l", "U/L", "alanine aminotransferase"), _PLATELETS),
            "1", "real",
            "Sterling RK et al. Development of a simple noninvasive index to predict "
            "significant fibrosis in patients with HIV/HCV coinfection. Hepatology "
            "2006;43(6):1317-1325. doi:10.1002/hep.21178",
            fib4,
        ),
        ScoreSpec(
            "apri", "AST to platelet ratio index (APRI)",
            (_AST, _q("ast_uln_u_l", "U/L", "upper limit of normal for AST"), _PLATELETS),
            "1", "real",
            "Wai CT et al. A simple noninvasive index can predict both significant fibrosis "
            "and cirrhosis in patients with chronic hepatitis C. Hepatology "
            "2003;38(2):518-526. doi:10.1053/jhep.2003.50346",
            apri,
        ),
    )
}
"""Every score by name: the evaluator reads the inputs (names are the function's
parameters, in call order, with canonical UCUM units) to know which observations feed it."""
