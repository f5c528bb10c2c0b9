"""Pieces of seeded, realistic patient profiles shared by the benchmark's generators.

Everything is plain data (dicts) for :class:`eligo.Patient` to validate, drawn from a
``random.Random`` so the same seed gives the same population. Records are untidy the way
feeds are: FHIR URIs and short system names, lower-case codes without dots, codes the CMS
tables do not have, refuted and entered-in-error records, missing and future dates; labs
in US and SI units and local spellings, stale, duplicated, cancelled, unreadable.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

AS_OF = date(2024, 6, 1)
SITE_ZONE = timezone(timedelta(hours=8))

ICD_URI = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED_URI = "http://snomed.info/sct"
LOINC_URI = "http://loinc.org"
ATC_URI = "http://www.whocc.no/atc"
RXNORM_URI = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT_URI = "http://www.ama-assn.org/go/cpt"

Pools = dict[str, tuple[tuple[str, ...], tuple[str, ...]]]

VERIFICATION = ((None, 20), ("confirmed", 55), ("provisional", 8), ("unconfirmed", 5),
                ("differential", 4), ("refuted", 5), ("entered-in-error", 3))


def pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def days_ago(days: int) -> date:
    return AS_OF - timedelta(days=days)


# ==== conditions =============================================================================


def codings(rng: random.Random, pools: Pools, kind: str) -> list[dict[str, Any]]:
    icd, snomed = pools[kind]
    code = rng.choice(icd)
    roll = rng.random()
    if roll < 0.05:  # as typed into a feed: lower case without the dot, URI system
        icd_coding = {"system": ICD_URI, "code": code.replace(".", "").lower()}
    elif roll < 0.25:
        icd_coding = {"system": ICD_URI, "code": code, "display": f"{kind} ({code})"}
    else:
        icd_coding = {"system": "icd10cm", "code": code}
    roll = rng.random()
    if snomed and roll < 0.06:
        return [{"system": SNOMED_URI, "code": rng.choice(snomed)}]
    if snomed and roll < 0.16:
        return [{"system": "snomed", "code": rng.choice(snomed)}, icd_coding]
    if roll < 0.19:  # a local code first, which never matches anything
        return [{"system": "http://example.org/local-problems", "code": f"LP{rng.randrange(999)}"},
                icd_coding]
    return [icd_coding]


def timeline(rng: random.Random) -> dict[str, Any]:
    """Onset, abatement and clinical status of an ordinary condition."""
    roll = rng.random()
    onset: date | None = days_ago(rng.randrange(0, 15 * 365))
    if roll < 0.03:
        onset = AS_OF + timedelta(days=rng.randrange(1, 60))  # recorded after the as-of date
    elif roll < 0.15:
        onset = None
    status, abatement = pick(rng, (("active", 62), (None, 12), ("recurrence", 3), ("relapse", 2),
                                   ("abated", 10), ("abates_later", 3), ("abates_today", 2),
                                   ("resolved", 3), ("inactive", 2), ("remission", 1))), None
    if status == "abated":
        start = onset if onset is not None and onset <= AS_OF else days_ago(4000)
        abatement = start + timedelta(days=rng.randrange(0, max(1, (AS_OF - start).days)))
        status = rng.choice(("resolved", "inactive", "remission", None))
    elif status == "abates_later":
        abatement, status = AS_OF + timedelta(days=rng.randrange(1, 90)), "active"
    elif status == "abates_today":
        abatement, status = AS_OF, rng.choice(("resolved", "active"))
    return {"onset": onset, "abatement": abatement, "clinical_status": status}


def episode_timeline(rng: random.Random, window: int) -> dict[str, Any]:
    """An acute episode (sepsis, a bleed) inside, at the edge of and outside a window of
    ``window`` days ending on the as-of date."""
    scenario = rng.randrange(10)
    if scenario == 0:  # current episode
        return {"onset": days_ago(rng.randrange(0, window)), "clinical_status": "active"}
    if scenario == 1:  # resolved inside the window
        return {"onset": days_ago(rng.randrange(window, 3 * window)),
                "abatement": days_ago(rng.randrange(0, window)), "clinical_status": "resolved"}
    if scenario == 2:  # resolved on the window's first day, or the day before it
        return {"onset": days_ago(rng.randrange(window + 10, 3 * window)),
                "abatement": days_ago(rng.choice((window, window + 1, window + 2))),
                "clinical_status": "resolved"}
    if scenario in (3, 4):  # long resolved
        return {"onset": days_ago(rng.randrange(window + 400, window + 3000)),
                "abatement": days_ago(rng.randrange(window + 3, window + 365)),
                "clinical_status": "resolved"}
    if scenario == 5:  # resolved, date not recorded, began long ago: can't tell
        return {"onset": days_ago(rng.randrange(window + 3, 2000)), "clinical_status": "resolved"}
    if scenario == 6:  # resolved, date not recorded, began inside the window
        return {"onset": days_ago(rng.randrange(0, window)),
                "clinical_status": rng.choice(("resolved", "inactive"))}
    if scenario == 7:  # resolved, no dates at all: can't tell
        return {"clinical_status": "resolved"}
    if scenario == 8:  # an old episode never closed
        return {"onset": days_ago(rng.randrange(window + 3, 2000)), "clinical_status": None}
    return {"onset": AS_OF + timedelta(days=rng.randrange(1, 20)), "clinical_status": "active"}


def pregnancy_timeline(rng: random.Random) -> dict[str, Any]:
    """Pregnancy diagnoses: mostly current, some older than a full term, some closed."""
    found = timeline(rng)
    if found["onset"] is not None and found["onset"] <= AS_OF:
        found["onset"] = days_ago(rng.randrange(0, 400))
    return found


def condition(rng: random.Random, pools: Pools, kind: str, index: int,
              episodes: dict[str, int]) -> dict[str, Any]:
    """One condition record of ``kind``; kinds in ``episodes`` are acute, with that window."""
    if kind in episodes:
        when = episode_timeline(rng, episodes[kind])
    elif kind == "pregnancy":
        when = pregnancy_timeline(rng)
    else:
        when = timeline(rng)
    return {"id": f"c{index}", "codes": codings(rng, pools, kind),
            "verification_status": pick(rng, VERIFICATION), **when}


# ==== the person =============================================================================


def birth_date(rng: random.Random, low: int, high: int) -> date | None:
    """Mostly aged ``low``-``high`` (inclusive), some older or younger, some on the birthdays
    at the edges (and 29 February), a few unknown."""
    roll = rng.random()
    if roll < 0.02:
        return None
    if roll < 0.04:
        years = rng.choice((low, high + 1))
        edge = AS_OF.replace(year=AS_OF.year - years) + timedelta(days=rng.choice((-1, 0, 1)))
        return edge if rng.random() < 0.8 else date(rng.choice((1956, 1964, 2004)), 2, 29)
    if roll < 0.79:
        age_days = rng.randrange(low * 365 + 5, (high + 1) * 365 + 17)
    elif roll < 0.91:
        age_days = rng.randrange((high + 1) * 365 + 18, 96 * 365)
    else:
        age_days = rng.randrange(0, low * 365 - 5)
    return days_ago(age_days)


def sex(rng: random.Random) -> str | None:
    return pick(rng, (("female", 47), ("male", 47), ("other", 2), ("unknown", 2), (None, 2)))


def pregnancy_status(rng: random.Random) -> dict[str, Any]:
    scenario = rng.randrange(8)
    if scenario <= 2:
        return {"status": "not_pregnant", "date": days_ago(rng.randrange(0, 31))}
    if scenario == 3:
        return {"status": "not_pregnant", "date": days_ago(rng.randrange(31, 400))}  # stale
    if scenario == 4:
        return {"status": "pregnant", "date": days_ago(rng.randrange(0, 400))}
    if scenario == 5:
        return {"status": "unknown", "date": days_ago(rng.randrange(0, 60))}
    if scenario == 6:
        return {"status": rng.choice(("pregnant", "not_pregnant"))}  # undated
    return {"status": "not_pregnant", "date": AS_OF + timedelta(days=rng.randrange(1, 10))}


def attestation(rng: random.Random, criterion: str, text: str, answer: bool) -> dict[str, Any]:
    when = days_ago(rng.randrange(0, 60))
    at: date | datetime = when
    roll = rng.random()
    if roll < 0.35:  # a time of day, naive
        at = datetime(when.year, when.month, when.day, rng.randrange(8, 18), rng.randrange(60))
    elif roll < 0.45:  # a time of day in the site's zone (UTC+8)
        at = datetime(when.year, when.month, when.day, rng.randrange(0, 24), rng.randrange(60),
                      tzinfo=SITE_ZONE)
    out: dict[str, Any] = {"criterion": criterion, "answer": answer, "at": at,
                           "by": rng.choice(("coordinator-a", "coordinator-b", "dr-li"))}
    if rng.random() < 0.3:
        out["item"] = text
    return out


# ==== laboratory results =====================================================================

# Liver state -> value range per analyte, in US units (mg/dL, g/dL, INR, mmol/L, 10*9/L, U/L).
LAB_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "normal": {"bilirubin": (0.2, 1.3), "albumin": (3.6, 5.0), "inr": (0.9, 1.2),
               "creatinine": (0.5, 1.2), "sodium": (135, 145), "platelets": (150, 420),
               "alt": (8, 60), "ast": (10, 50)},
    "compensated": {"bilirubin": (0.5, 2.6), "albumin": (2.9, 4.4), "inr": (1.0, 1.8),
                    "creatinine": (0.5, 1.6), "sodium": (130, 142), "platelets": (55, 230),
                    "alt": (15, 200), "ast": (20, 220)},
    "decompensated": {"bilirubin": (1.4, 7.0), "albumin": (2.2, 3.6), "inr": (1.3, 2.7),
                      "creatinine": (0.6, 2.8), "sodium": (123, 140), "platelets": (30, 170),
                      "alt": (15, 260), "ast": (25, 300)},
    "end_stage": {"bilirubin": (3.0, 28.0), "albumin": (1.6, 3.0), "inr": (1.7, 4.2),
                  "creatinine": (0.9, 5.5), "sodium": (116, 137), "platelets": (15, 120),
                  "alt": (15, 420), "ast": (30, 500)},
}
# Values exactly on a threshold some protocol or score uses (US units).
LAB_EDGES = {"bilirubin": (1.0, 2.0, 3.0), "albumin": (2.8, 3.5), "inr": (1.0, 1.7, 2.3),
             "creatinine": (1.0, 1.5, 4.0), "platelets": (50.0,), "sodium": (125.0, 137.0)}
LOG_SCALE = frozenset({"bilirubin", "creatinine", "alt", "ast"})

# (codes, unit, decimals) a result can come in: US-style and SI-style, then odd spellings.
# The hand-written screen must read all of these (or, for the odd ones, refuse them).
BILIRUBIN_LOINC_MASS = ("1975-2", "42719-5")
CREATININE_LOINC_MASS = ("2160-0", "38483-4")
LAB_SNOMED = {"bilirubin": "27171005", "albumin": "104485008", "creatinine": "70901006",
              "sodium": "104934005", "alt": "34608000", "ast": "45896001"}
LAB_LOCAL = {"bilirubin": ("tbili", "bili", "bilirubin", "t-bili"), "albumin": ("alb", "albumin"),
             "inr": ("inr", "pt_inr", "INR"), "creatinine": ("creat", "scr", "creatinine"),
             "sodium": ("na", "sodium"), "platelets": ("plt", "platelets", "PLT"),
             "alt": ("sgpt", "alt"), "ast": ("sgot", "ast")}
LAB_LOINC = {"albumin": ("1751-7",), "inr": ("6301-6", "34714-6"),
             "sodium": ("2951-2", "2947-0"), "platelets": ("777-3", "26515-7"),
             "alt": ("1742-6",), "ast": ("1920-8",)}
US_UNITS = {"bilirubin": ("mg/dL", "mg/dl"), "albumin": ("g/dL", "g/dl"),
            "creatinine": ("mg/dL", "mg/dl"), "inr": ("{INR}", "INR", None),
            "sodium": ("mmol/L", "mEq/L"), "platelets": ("10*3/uL", "K/uL"),
            "alt": ("U/L", "IU/L"), "ast": ("U/L", "IU/L")}
SI_UNITS = {"bilirubin": ("umol/L", "µmol/L"), "albumin": ("g/L", "g/l"),
            "creatinine": ("umol/L", "µmol/L"), "inr": ("{INR}", "ratio"),
            "sodium": ("mmol/L",), "platelets": ("10*9/L", "10^9/L"),
            "alt": ("U/L", "ukat/L"), "ast": ("U/L", "ukat/L")}
# Units no conversion reads: an SPEP albumin fraction, a PT in seconds filed as INR, a typo.
BAD_UNITS = {"albumin": "%", "inr": "s", "creatinine": "mg", "bilirubin": "%",
             "platelets": "%", "alt": "mg", "sodium": "mg", "ast": "mg"}
SI_FACTOR = {"bilirubin": 17.1, "albumin": 10.0, "creatinine": 88.4}  # US -> SI, as labs do
ALT_ULN = ((None, 60), (33.0, 10), (40.0, 12), (45.0, 8), (55.0, 10))  # lab's range, U/L
STATUS = (("final", 80), (None, 8), ("amended", 2), ("corrected", 2), ("preliminary", 3),
          ("cancelled", 2), ("entered-in-error", 1.5), ("registered", 1.5))


def _draw(rng: random.Random, state: str, analyte: str) -> float:
    if analyte in LAB_EDGES and rng.random() < 0.05:
        return rng.choice(LAB_EDGES[analyte])
    low, high = LAB_RANGES[state][analyte]
    if analyte in LOG_SCALE:
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)


def _lab_codes(rng: random.Random, analyte: str, si: bool) -> list[dict[str, str]]:
    if rng.random() < 0.03 and analyte in LAB_SNOMED:
        return [{"system": SNOMED_URI, "code": LAB_SNOMED[analyte]}]
    roll = rng.random()
    if roll < 0.005:  # a local code only: never read
        code = f"{analyte.upper()}-{rng.randrange(9)}"
        return [{"system": "http://example.org/lab", "code": code}]
    if roll < 0.015:  # a site's own test, coded with the library's name (or not quite)
        return [{"system": "eligo", "code": rng.choice(LAB_LOCAL[analyte])}]
    if analyte == "bilirubin":
        code = "14631-6" if si else rng.choice(BILIRUBIN_LOINC_MASS)
    elif analyte == "creatinine":
        code = "14682-9" if si else rng.choice(CREATININE_LOINC_MASS)
    else:
        code = rng.choice(LAB_LOINC[analyte])
    system = LOINC_URI if rng.random() < 0.7 else "loinc"
    return [{"system": system, "code": code}]


def lab_result(rng: random.Random, analyte: str, us_value: float, si: bool, day: date | None,
               index: int) -> dict[str, Any]:
    """One result of ``analyte`` (value given in US units), written as a lab would send it."""
    unit: str | None = rng.choice((SI_UNITS if si else US_UNITS)[analyte])
    value: Any
    if si and analyte in SI_FACTOR:
        value = float(round(us_value * SI_FACTOR[analyte]))
    elif unit in ("ukat/L",):
        value = round(us_value / 60.0, 2)
    elif analyte in ("sodium", "platelets", "alt", "ast"):
        value = float(round(us_value))
    elif analyte == "creatinine":
        value = round(us_value, 2)
    elif analyte == "inr":
        value = round(us_value, rng.choice((1, 2)))
    else:
        value = round(us_value, 1)
    out: dict[str, Any] = {"id": f"o{index}", "codes": _lab_codes(rng, analyte, si),
                           "value": value, "unit": unit, "date": day,
                           "status": pick(rng, STATUS)}
    if analyte == "alt":
        uln = pick(rng, ALT_ULN)
        if uln is not None:
            out["reference_high"] = round(uln / 60.0, 2) if unit == "ukat/L" else uln
        if rng.random() < 0.04 and uln is not None:  # exactly five times the lab's limit
            out["value"] = round(5 * out["reference_high"], 2)
    roll = rng.random()
    if roll < 0.010:
        out["value"] = None  # no value (haemolysed, not done)
    elif roll < 0.017:
        out["value"] = rng.choice(("haemolysed", "<0.2", "see comment"))
    elif roll < 0.019:
        out["value"] = 0.0  # a data-entry zero
    elif roll < 0.026:
        out["unit"] = BAD_UNITS[analyte]
    elif roll < 0.036:
        out["unit"] = None  # no unit: read only where the unit is a pure number (INR)
    if out["status"] == "registered":
        out["value"] = None
    return out


def lab_panels(rng: random.Random, state: str, analytes: Sequence[str], first_index: int,
               fresh_days: int = 30, worked_up: bool = False) -> list[dict[str, Any]]:
    """Results for ``analytes`` from one to four draws.

    A patient ``worked_up`` for screening has a recent draw with (nearly) every analyte.
    Otherwise the newest draw is often inside ``fresh_days`` (some exactly on its edge or
    just past it), or stale, or dated after the as-of date; each analyte is sometimes
    missing from a draw. Older draws are stale; some results are undated or repeated the
    same day, and the INR is sometimes drawn on another day.
    """
    roll = rng.random()
    skip = 0.03 if worked_up else 0.12
    if worked_up or roll < 0.45:
        newest = rng.randrange(0, min(21, fresh_days))
    elif roll < 0.55:
        newest = rng.choice((fresh_days, fresh_days + 1))
    elif roll < 0.93:
        newest = rng.randrange(fresh_days + 1, 240)
    else:
        newest = -rng.randrange(1, 10)  # drawn after the as-of date
    si = rng.random() < 0.4
    mixed = rng.random() < 0.05
    out: list[dict[str, Any]] = []
    age = newest
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        day: date | None = days_ago(age)
        for analyte in analytes:
            if rng.random() < skip:
                continue  # not in this draw
            when = day
            if rng.random() < 0.005:
                when = None
            elif analyte == "inr" and rng.random() < 0.2:
                when = days_ago(age + rng.randrange(-2, 3))  # coagulation drawn another day
            value = _draw(rng, state, analyte)
            use_si = (rng.random() < 0.5) if mixed else si
            out.append(lab_result(rng, analyte, value, use_si, when, first_index + len(out)))
            if rng.random() < 0.02:  # a repeat the same day
                again = _draw(rng, state, analyte)
                out.append(lab_result(rng, analyte, again, use_si, when,
                                      first_index + len(out)))
        if age < 0:
            age = rng.randrange(0, 120)  # the next draw is a real one
        else:
            age += rng.randrange(7, 150)
    rng.shuffle(out)
    return out


WEST_HAVEN_VALUES = ((0.0, 30), (1.0, 14), (2.0, 12), (3.0, 6), (4.0, 2), ("2", 5),
                     ("Grade 3", 4), ("West Haven 1", 4), ("grade II", 3), ("HE grade 1", 2),
                     ("1-2", 2), ("WH 2", 1), (None, 1))
WEST_HAVEN_CODES = (("west_haven", 6), ("he_grade", 2), ("west_haven_grade", 2), ("WH", 1))


def west_haven_grades(rng: random.Random, first_index: int) -> list[dict[str, Any]]:
    """West Haven grades of hepatic encephalopathy, one or two, recent or stale. No standard
    code exists, so sites code them with the library's name under the system ``eligo``."""
    out = []
    for _ in range(rng.choice((1, 1, 2))):
        roll = rng.random()
        age = rng.randrange(0, 30) if roll < 0.7 else rng.choice((30, 31)) if roll < 0.8 \
            else rng.randrange(31, 200)
        out.append({"id": f"o{first_index + len(out)}",
                    "codes": [{"system": "eligo", "code": pick(rng, WEST_HAVEN_CODES)}],
                    "value": pick(rng, WEST_HAVEN_VALUES), "date": days_ago(age),
                    "status": pick(rng, STATUS)})
    return out


def dialysis_sessions(rng: random.Random, first_index: int) -> list[dict[str, Any]]:
    """Haemodialysis: thrice weekly, a single session last week, or only older ones."""
    scenario = rng.randrange(4)
    if scenario == 0:
        ages = [1, 3, 5, 8, 10, 12]
    elif scenario == 1:
        ages = [rng.randrange(0, 8), rng.randrange(9, 30)]
    elif scenario == 2:
        ages = [7, rng.choice((0, 8))]  # the edge of the week
    else:
        ages = [rng.randrange(10, 200) for _ in range(3)]
    out = []
    for age in ages:
        code = pick(rng, ((("cpt", "90935"), 5), ((CPT_URI, "90937"), 2), (("cpt", "90945"), 1),
                          ((SNOMED_URI, "302497006"), 2), (("snomed", "265764009"), 1)))
        out.append({"id": f"p{first_index + len(out)}",
                    "codes": [{"system": code[0], "code": code[1]}],
                    "date": None if rng.random() < 0.03 else days_ago(age),
                    "status": pick(rng, (("completed", 80), (None, 10), ("in-progress", 4),
                                         ("not-done", 3), ("entered-in-error", 3)))})
    return out
