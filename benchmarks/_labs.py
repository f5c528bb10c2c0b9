"""benchmarks/labs_protocol.elig by hand, and the patients it is benchmarked on.

A hepatology protocol that is mostly laboratory results and scores: Child-Pugh class and
MELD, bilirubin, ALT against the laboratory's upper limit of normal, platelets, creatinine or
CKD-EPI 2021 eGFR, ECOG, serology, a pregnancy test, a steroid exposure, a procedure count.
Written the way one would without eligo: results read from the feed (newest counted result
in the window, converted from the unit it came in), qualitative answers and ECOG labels
read from their usual spellings, steroid courses merged into days of exposure.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import _patients as gen
from _handwritten import (
    CodeSet,
    Lab,
    Truth,
    active_since,
    age_years,
    ecog_grade,
    exposure_more_than,
    has_active,
    kleene_and,
    kleene_or,
    lab_value,
    latest_result,
    months_before,
    procedures_at_least,
    quantity,
    result_is,
    upper_limit,
)
from _nct01224327 import (
    ALBUMIN,
    ASCITES,
    BILIRUBIN,
    CREATININE,
    DIALYSIS,
    HEPATIC_ENCEPHALOPATHY,
    INR,
    LIVER_CIRRHOSIS,
    WEST_HAVEN,
    child_pugh_classes,
    class_in,
    meld,
)

from eligo import scores
from eligo.patient import Patient

PROTOCOL_FILE = "labs_protocol.elig"  # next to this module
CRITERIA = ("I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9",
            "E1", "E2", "E3", "E4", "E5", "E6", "E7")
INCLUSION = frozenset(c for c in CRITERIA if c.startswith("I"))

# ==== code sets ==============================================================================

HCC = CodeSet("hepatocellular_carcinoma", icd10cm=("C22.0",), snomed=("109841003",))
SYSTEMIC_CORTICOSTEROIDS = CodeSet("systemic_corticosteroids", atc=("H02AB*",),
                                   rxnorm=("312617", "312615"))
TIPS = CodeSet("tips_procedure", cpt=("37182", "37183"))
SOLID_ORGAN_TRANSPLANT = CodeSet("solid_organ_transplant", icd10cm=(
    "Z94.0", "Z94.1", "Z94.2", "Z94.3", "Z94.4", "Z94.82", "Z94.83", "T86.1*", "T86.2*",
    "T86.3*", "T86.4*", "T86.81*", "T86.85*"), snomed=("161665007",))
VARICEAL_BLEEDING = CodeSet("variceal_bleeding", icd10cm=("I85.01", "I85.11"),
                            snomed=("17709002",))
PARACENTESIS = CodeSet("paracentesis", cpt=("49082", "49083"))

VALUESETS = {s.name: s for s in (LIVER_CIRRHOSIS, HCC, SYSTEMIC_CORTICOSTEROIDS, TIPS,
                                 SOLID_ORGAN_TRANSPLANT, VARICEAL_BLEEDING, PARACENTESIS)}
LIBRARY_SETS = {s.name: s for s in (ASCITES, HEPATIC_ENCEPHALOPATHY, DIALYSIS)}

# ==== observations ===========================================================================

ALT = Lab("alt", frozenset({"1742-6"}), frozenset({"34608000"}), "U/L", 30,
          {"IU/L": 1.0, "ukat/L": 60.0}, uln=45.0,
          local=frozenset({"alt", "alanine_aminotransferase", "sgpt", "gpt"}))
PLATELETS = Lab("platelets", frozenset({"777-3", "26515-7"}), frozenset(), "10*9/L", 30,
                {"10^9/L": 1.0, "K/uL": 1.0, "10*3/uL": 1.0},
                local=frozenset({"platelets", "platelet_count", "plt", "plts", "thrombocytes"}))
ECOG = Lab("ecog", frozenset({"89247-1"}), frozenset(), None, 30, local=frozenset(
    {"ecog", "ecog_ps", "ecog_performance_status", "zubrod", "who_performance_status"}))
HBSAG = Lab("hbsag", frozenset({"5196-1", "5195-3", "65633-0"}), frozenset(), None, 90,
            local=frozenset({"hbsag", "hbs_ag", "hepatitis_b_surface_antigen"}))
HCV_AB = Lab("hcv_ab", frozenset({"13955-0", "16128-1"}), frozenset(), None, 90,
             local=frozenset({"hcv_ab", "anti_hcv", "hcv_antibody", "hepatitis_c_antibody"}))
HIV_AB = Lab("hiv_ab", frozenset({"56888-1", "7918-6", "31201-7", "48345-3", "49580-4"}),
             frozenset(), None, 90, local=frozenset(
                 {"hiv_ab", "hiv", "hiv_ag_ab", "hiv_ab_ag", "hiv_combo", "hiv_screen",
                  "hiv_serology"}))
SERUM_HCG = Lab("serum_hcg", frozenset({"2118-8", "2110-5"}), frozenset(), None, 14,
                local=frozenset({"serum_hcg", "serum_pregnancy_test", "serum_beta_hcg",
                                 "beta_hcg", "s_hcg"}))
LABS = {lab.name: lab for lab in (BILIRUBIN, ALBUMIN, INR, CREATININE, WEST_HAVEN, ALT,
                                  PLATELETS, ECOG, HBSAG, HCV_AB, HIV_AB, SERUM_HCG)}

CLASS_A_B = frozenset({"A", "B"})


def at_most(value: float | None, limit: float) -> Truth:
    return None if value is None else value <= limit


def alt_within_5_uln(patient: Patient, as_of: date) -> Truth:
    o = latest_result(patient, ALT, as_of, as_of - timedelta(days=ALT.fresh_days))
    value = quantity(o, ALT)
    if o is None or value is None:
        return None
    uln = upper_limit(o, ALT)
    return None if uln is None else value <= 5.0 * uln


def egfr_at_least(patient: Patient, as_of: date, creatinine: float | None,
                  threshold: float) -> Truth:
    """CKD-EPI 2021 from the fresh creatinine, age and sex; with sex neither female nor male
    recorded, both are tried and the answer must agree."""
    birth = patient.birth_date
    if creatinine is None or birth is None or birth > as_of:
        return None
    age = age_years(birth, as_of)
    sexes = (patient.sex == "female",) if patient.sex in ("female", "male") else (True, False)
    try:
        found = {scores.egfr_ckd_epi_2021(creatinine, age, female) >= threshold
                 for female in sexes}
    except ValueError:
        return None
    return found.pop() if len(found) == 1 else None


def renal_ok(patient: Patient, as_of: date, creatinine: float | None) -> Truth:
    """I7: creatinine < 1.5 mg/dL or eGFR >= 30."""
    if creatinine is not None and creatinine < 1.5:
        return True
    egfr_ok = egfr_at_least(patient, as_of, creatinine, 30.0)
    return kleene_or((None if creatinine is None else False, egfr_ok))


def ecog_at_most_2(patient: Patient, as_of: date) -> Truth:
    o = latest_result(patient, ECOG, as_of, as_of - timedelta(days=ECOG.fresh_days))
    grade = None if o is None else ecog_grade(o.value)
    return None if grade is None else grade <= 2


def aged_18_to_75(patient: Patient, as_of: date) -> Truth:
    birth = patient.birth_date
    if birth is None or birth > as_of:
        return None
    return 18 <= age_years(birth, as_of) <= 75


def pregnancy_test_ok(patient: Patient, as_of: date) -> Truth:
    """I9: not a woman, or over 55, or a negative serum hCG in the last 14 days."""
    sex = patient.sex
    if sex is not None and sex != "unknown" and sex != "female":
        return True
    birth = patient.birth_date
    over_55 = None if birth is None or birth > as_of else age_years(birth, as_of) > 55
    if over_55:
        return True
    negative = result_is(patient, SERUM_HCG, "negative", as_of, days=14)
    return kleene_or((None if sex is None or sex == "unknown" else False, over_55, negative))


def viral_serology(patient: Patient, as_of: date) -> Truth:
    return kleene_or((result_is(patient, HIV_AB, "positive", as_of),
                      result_is(patient, HCV_AB, "positive", as_of)))


def steroid_course(patient: Patient, as_of: date) -> Truth:
    return exposure_more_than(patient, SYSTEMIC_CORTICOSTEROIDS, as_of, months_before(as_of, 6),
                              28)


def refractory_ascites(patient: Patient, as_of: date) -> Truth:
    return procedures_at_least(patient, PARACENTESIS, as_of, months_before(as_of, 12), 3)


def tips_or_transplant(patient: Patient, as_of: date) -> Truth:
    if procedures_at_least(patient, TIPS, as_of, None, 1):
        return True
    return has_active(patient, SOLID_ORGAN_TRANSPLANT, as_of)


def recent_bleed(patient: Patient, as_of: date) -> Truth:
    return active_since(patient, VARICEAL_BLEEDING, as_of, months_before(as_of, 6))


def handwritten_verdict(patient: Patient, as_of: date) -> str:
    """The verdict, stopping at the first criterion that fails (as Screener.verdict does);
    each laboratory value is read once and shared by the criteria that use it."""
    unsure = False
    # I1 aged 18-75
    ok = aged_18_to_75(patient, as_of)
    if ok is False:
        return "INELIGIBLE"
    if ok is None:
        unsure = True
    # I2 cirrhosis
    if not has_active(patient, LIVER_CIRRHOSIS, as_of):
        return "INELIGIBLE"
    # I3 Child-Pugh A or B
    bilirubin = lab_value(patient, BILIRUBIN, as_of)
    inr = lab_value(patient, INR, as_of)
    ok = class_in(child_pugh_classes(patient, as_of, bilirubin, lab_value(patient, ALBUMIN, as_of),
                                     inr), CLASS_A_B)
    if ok is False:
        return "INELIGIBLE"
    if ok is None:
        unsure = True
    # I4 MELD < 25
    creatinine = lab_value(patient, CREATININE, as_of)
    score = meld(patient, as_of, bilirubin, inr, creatinine)
    if score is None:
        unsure = True
    elif score >= 25:
        return "INELIGIBLE"
    # I5 bilirubin <= 3 mg/dL and ALT <= 5 x ULN
    ok = at_most(bilirubin, 3.0)
    if ok is False:
        return "INELIGIBLE"
    alt_ok = alt_within_5_uln(patient, as_of)
    if alt_ok is False:
        return "INELIGIBLE"
    if ok is None or alt_ok is None:
        unsure = True
    # I6 platelets >= 50 x 10^9/L
    platelets = lab_value(patient, PLATELETS, as_of)
    if platelets is None:
        unsure = True
    elif platelets < 50.0:
        return "INELIGIBLE"
    # I7 creatinine < 1.5 mg/dL or eGFR >= 30
    ok = renal_ok(patient, as_of, creatinine)
    if ok is False:
        return "INELIGIBLE"
    if ok is None:
        unsure = True
    # I8 ECOG 0-2
    ok = ecog_at_most_2(patient, as_of)
    if ok is False:
        return "INELIGIBLE"
    if ok is None:
        unsure = True
    # I9 pregnancy test for women
    ok = pregnancy_test_ok(patient, as_of)
    if ok is False:
        return "INELIGIBLE"
    if ok is None:
        unsure = True
    # E1 HBsAg positive
    found = result_is(patient, HBSAG, "positive", as_of)
    if found:
        return "INELIGIBLE"
    if found is None:
        unsure = True
    # E2 HIV or HCV antibody positive
    found = viral_serology(patient, as_of)
    if found:
        return "INELIGIBLE"
    if found is None:
        unsure = True
    # E3 hepatocellular carcinoma
    if has_active(patient, HCC, as_of):
        return "INELIGIBLE"
    # E4 systemic corticosteroids for more than 28 days in 6 months
    found = steroid_course(patient, as_of)
    if found:
        return "INELIGIBLE"
    if found is None:
        unsure = True
    # E5 three or more paracenteses in 12 months
    found = refractory_ascites(patient, as_of)
    if found:
        return "INELIGIBLE"
    if found is None:
        unsure = True
    # E6 prior TIPS or solid organ transplant
    if tips_or_transplant(patient, as_of):
        return "INELIGIBLE"
    # E7 variceal bleeding within 6 months
    found = recent_bleed(patient, as_of)
    if found:
        return "INELIGIBLE"
    if found is None:
        unsure = True
    return "NEEDS_REVIEW" if unsure else "ELIGIBLE"


def handwritten_truths(patient: Patient, as_of: date) -> tuple[Truth, ...]:
    """Every criterion's rule (TRUE/FALSE/None), in protocol order: the criterion-level check."""
    bilirubin = lab_value(patient, BILIRUBIN, as_of)
    inr = lab_value(patient, INR, as_of)
    albumin = lab_value(patient, ALBUMIN, as_of)
    creatinine = lab_value(patient, CREATININE, as_of)
    platelets = lab_value(patient, PLATELETS, as_of)
    score = meld(patient, as_of, bilirubin, inr, creatinine)
    return (
        aged_18_to_75(patient, as_of),
        has_active(patient, LIVER_CIRRHOSIS, as_of),
        class_in(child_pugh_classes(patient, as_of, bilirubin, albumin, inr), CLASS_A_B),
        None if score is None else score < 25,
        kleene_and((at_most(bilirubin, 3.0), alt_within_5_uln(patient, as_of))),
        None if platelets is None else platelets >= 50.0,
        renal_ok(patient, as_of, creatinine),
        ecog_at_most_2(patient, as_of),
        pregnancy_test_ok(patient, as_of),
        result_is(patient, HBSAG, "positive", as_of),
        viral_serology(patient, as_of),
        has_active(patient, HCC, as_of),
        steroid_course(patient, as_of),
        refractory_ascites(patient, as_of),
        tips_or_transplant(patient, as_of),
        recent_bleed(patient, as_of),
    )


# ==== patients ===============================================================================

POOLS: gen.Pools = {
    "cirrhosis": (("K70.30", "K70.31", "K74.3", "K74.4", "K74.5", "K74.60", "K74.69", "K71.7",
                   "K74.6", "K70.3"), ("19943007",)),
    "ascites": (("R18.8", "R18.8", "R18.0", "K70.31", "K71.51", "K70.11"), ("389026000",)),
    "encephalopathy": (("K76.82", "K76.82", "K72.91", "K70.41", "K72.11"), ("13920009",)),
    "hcc": (("C22.0",), ("109841003",)),
    "transplant": (("Z94.4", "Z94.4", "Z94.0", "T86.40", "T86.41", "T86.11"), ("161665007",)),
    "variceal_bleeding": (("I85.01", "I85.11"), ("17709002",)),
    "near_miss": (("K76.6", "I85.00", "I85.10", "C22.1", "C22.8", "C78.7", "D13.4", "Z94.81",
                   "Z48.23", "K70.0", "K75.81", "K76.0", "B18.2", "B18.1", "Z79.52"), ()),
    "not_in_cms": (("K74.6X", "K70.39", "R18.9", "I85.019", "Z94.49", "T86.49X"), ()),
    "common": (("I10", "I10", "E11.9", "E11.9", "E78.5", "E66.9", "K21.9", "F32.9", "J44.9",
                "M17.11", "G47.33", "D64.9", "I48.91", "E03.9", "K75.81"),
               ("38341003", "44054006")),
}
KIND_CHANCE = {"cirrhosis": 0.88, "ascites": 0.16, "encephalopathy": 0.07, "hcc": 0.04,
               "transplant": 0.02, "variceal_bleeding": 0.07, "near_miss": 0.35,
               "not_in_cms": 0.05}
EPISODES = {"variceal_bleeding": 183}
CONDITION_COUNT_WEIGHTS = (4, 12, 18, 18, 15, 12, 9, 6, 6)  # 0..8 conditions
LIVER_STATE = (("compensated", 68), ("decompensated", 26), ("end_stage", 6))
LIVER_LABS = ("bilirubin", "albumin", "inr", "creatinine", "sodium", "platelets", "alt", "ast")

SEROLOGY = {"hbsag": (("5196-1", "5195-3", "65633-0"), 0.04),
            "hcv_ab": (("13955-0", "16128-1"), 0.06),
            "hiv_ab": (("56888-1", "7918-6", "31201-7", "48345-3", "49580-4"), 0.02)}
POSITIVE = ("Positive", "Reactive", "POS", "LA6576-8", True, "Detected")
NEGATIVE = ("Negative", "Non-Reactive", "Nonreactive", "NEG", "LA6577-6", False, "Not detected")
UNCLEAR = ("Equivocal", "Indeterminate", "see report", 0.4, None)
ECOG_VALUES = ((0.0, 30), (1.0, 30), (2.0, 14), (3.0, 6), (4.0, 2), ("1", 5), ("ECOG 2", 4),
               ("ECOG PS 1", 3), ("PS 3", 1), ("1-2", 2), (None, 1), (6.0, 1))
STEROIDS = (("atc", "H02AB06"), (gen.ATC_URI, "H02AB07"), ("atc", "H02AB04"),
            ("atc", "h02ab02"), (gen.RXNORM_URI, "312617"), ("rxnorm", "312615"))
# Corticosteroids that are not systemic, and ordinary hepatology medications.
OTHER_MEDICATIONS = (("atc", "R03BA02"), ("atc", "H02AA02"), ("atc", "D07AC01"),
                     ("rxnorm", "106258"), ("atc", "C07AA05"), ("atc", "C03DA01"),
                     ("atc", "C03CA01"), ("atc", "A06AD11"), ("atc", "A07AA11"),
                     (gen.ATC_URI, "A10BA02"))
MEDICATION_STATUS = (("active", 40), (None, 15), ("completed", 15), ("stopped", 8),
                     ("on-hold", 4), ("unknown", 4), ("intended", 5), ("not-taken", 4),
                     ("entered-in-error", 5))
OTHER_PROCEDURES = (("cpt", "43235"), ("cpt", "43244"), ("cpt", "47000"), ("cpt", "76700"),
                    ("cpt", "32554"), ("cpt", "49180"))
PROCEDURE_STATUS = (("completed", 78), (None, 10), ("not-done", 4), ("in-progress", 3),
                    ("entered-in-error", 3), ("unknown", 2))


def _qualitative(rng: random.Random, codes: tuple[str, ...], positive_rate: float,
                 day: date | None, index: int) -> dict[str, Any]:
    roll = rng.random()
    if roll < positive_rate:
        value: Any = rng.choice(POSITIVE)
    elif roll < positive_rate + 0.03:
        value = rng.choice(UNCLEAR)
    else:
        value = rng.choice(NEGATIVE)
    return {"id": f"o{index}", "codes": [{"system": rng.choice(("loinc", gen.LOINC_URI)),
                                          "code": rng.choice(codes)}],
            "value": value, "date": day, "status": gen.pick(rng, gen.STATUS)}


def _result_day(rng: random.Random, fresh: int, worked_up: bool) -> date | None:
    roll = rng.random()
    if worked_up or roll < 0.45:
        return gen.days_ago(rng.randrange(0, fresh))
    if roll < 0.58:
        return gen.days_ago(rng.choice((fresh, fresh + 1)))  # the window's edge
    if roll < 0.96:
        return gen.days_ago(rng.randrange(fresh + 1, 3 * fresh + 60))
    if roll < 0.99:
        return gen.AS_OF + timedelta(days=rng.randrange(1, 8))
    return None


def _tests(rng: random.Random, sex: str | None, worked_up: bool,
           first: int) -> list[dict[str, Any]]:
    """Serology, ECOG and (for women and unknown sex) a serum pregnancy test; a patient
    worked up for screening has each of them, recent."""
    out: list[dict[str, Any]] = []
    counts = (1, 1, 1, 1, 2) if worked_up else (0, 0, 1, 1, 2)
    for codes, rate in SEROLOGY.values():
        for _ in range(rng.choice(counts)):
            out.append(_qualitative(rng, codes, rate, _result_day(rng, 90, worked_up),
                                    first + len(out)))
    for _ in range(rng.choice(counts)):
        out.append({"id": f"o{first + len(out)}",
                    "codes": [{"system": rng.choice(("loinc", gen.LOINC_URI)), "code": "89247-1"}],
                    "value": gen.pick(rng, ECOG_VALUES), "date": _result_day(rng, 30, worked_up),
                    "status": gen.pick(rng, gen.STATUS)})
    if sex != "male" and (worked_up or rng.random() < 0.5):
        for _ in range(rng.choice((1, 1, 2))):
            out.append(_qualitative(rng, ("2118-8", "2110-5"), 0.02,
                                    _result_day(rng, 14, worked_up), first + len(out)))
    return out


def _course(rng: random.Random, codes: tuple[str, str], index: int) -> dict[str, Any]:
    """A medication course: current, finished, on the 28-day edge, undated, planned..."""
    scenario = rng.randrange(9)
    start: date | None = gen.days_ago(rng.randrange(0, 300))
    end: date | None = None
    status = gen.pick(rng, MEDICATION_STATUS)
    if scenario <= 2:  # finished course with both dates
        length = rng.randrange(3, 120)
        end = min(start + timedelta(days=length), gen.AS_OF + timedelta(days=30))
        status = rng.choice(("completed", "stopped", None, "active"))
    elif scenario == 3:  # 28 or 29 days inside the window, ending before the as-of date
        end = gen.days_ago(rng.randrange(1, 60))
        start = end - timedelta(days=rng.choice((27, 28)))
        status = rng.choice(("completed", None))
    elif scenario == 4:  # began before the window, ended inside it
        start = gen.days_ago(rng.randrange(184, 400))
        end = gen.days_ago(rng.randrange(150, 184))
        status = "completed"
    elif scenario == 5:  # stopped on an unrecorded date
        status = rng.choice(("stopped", "completed"))
    elif scenario == 6:  # no start date
        start = None
    elif scenario == 7:  # starts after the as-of date
        start = gen.AS_OF + timedelta(days=rng.randrange(1, 30))
    return {"id": f"m{index}", "codes": [{"system": codes[0], "code": codes[1]}],
            "start": start, "end": end, "status": status}


def _medications(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for _ in range(rng.choices((0, 1, 2, 3), (40, 30, 20, 10))[0]):
        out.append(_course(rng, rng.choice(OTHER_MEDICATIONS), len(out)))
    if rng.random() < 0.12:
        for _ in range(rng.choice((1, 1, 2, 3))):
            out.append(_course(rng, rng.choice(STEROIDS), len(out)))
    rng.shuffle(out)
    return out


def _procedure(rng: random.Random, codes: tuple[str, str], day: date | None,
               index: int) -> dict[str, Any]:
    system = gen.CPT_URI if rng.random() < 0.3 else codes[0]
    return {"id": f"p{index}", "codes": [{"system": system, "code": codes[1]}], "date": day,
            "status": gen.pick(rng, PROCEDURE_STATUS)}


def _procedures(rng: random.Random, state: str) -> list[dict[str, Any]]:
    out = []
    taps = rng.choice((0, 1, 2, 3, 3, 4, 5)) if state != "compensated" and \
        rng.random() < 0.5 else (1 if rng.random() < 0.05 else 0)
    for _ in range(taps):
        roll = rng.random()
        if roll < 0.05:
            day: date | None = None
        elif roll < 0.12:
            day = gen.days_ago(rng.choice((366, 367)))  # the 12-month edge (2023-06-01)
        else:
            day = gen.days_ago(rng.randrange(0, 540))
        out.append(_procedure(rng, ("cpt", rng.choice(("49082", "49083"))), day, len(out)))
    if rng.random() < 0.03:
        day = None if rng.random() < 0.2 else gen.days_ago(rng.randrange(-10, 2000))
        out.append(_procedure(rng, ("cpt", rng.choice(("37182", "37183"))), day, len(out)))
    for _ in range(rng.choices((0, 1, 2), (50, 35, 15))[0]):
        out.append(_procedure(rng, rng.choice(OTHER_PROCEDURES),
                              gen.days_ago(rng.randrange(0, 900)), len(out)))
    if rng.random() < 0.02:
        for session in gen.dialysis_sessions(rng, len(out)):
            out.append(session)
    rng.shuffle(out)
    return out


def generate_patient_data(rng: random.Random, index: int) -> dict[str, Any]:
    sex = gen.sex(rng)
    birth = gen.birth_date(rng, 18, 75)
    kinds = [kind for kind, chance in KIND_CHANCE.items() if rng.random() < chance]
    count = rng.choices(range(9), CONDITION_COUNT_WEIGHTS)[0]
    kinds += ["common"] * max(0, count - len(kinds))
    rng.shuffle(kinds)
    conditions = [gen.condition(rng, POOLS, kind, i, EPISODES)
                  for i, kind in enumerate(kinds[:8])]
    liver = "cirrhosis" in kinds
    state = gen.pick(rng, LIVER_STATE) if liver else "normal"
    if "ascites" in kinds or "encephalopathy" in kinds:
        state = "decompensated" if state == "compensated" else state
    worked_up = rng.random() < 0.65  # screened in earnest: the screening tests are done
    observations: list[dict[str, Any]] = []
    if worked_up or rng.random() < 0.8:
        observations = gen.lab_panels(rng, state, LIVER_LABS, 0, worked_up=worked_up)
    if rng.random() < (0.3 if state in ("decompensated", "end_stage") or
                       "encephalopathy" in kinds else 0.06):
        observations += gen.west_haven_grades(rng, len(observations))
    observations += _tests(rng, sex, worked_up, len(observations))
    data: dict[str, Any] = {"id": f"L{index:06d}", "birth_date": birth, "sex": sex,
                            "conditions": conditions, "observations": observations,
                            "medications": _medications(rng),
                            "procedures": _procedures(rng, state)}
    return data


def generate_patients(n: int, seed: int) -> list[Patient]:
    """``n`` validated patient profiles, the same for the same seed."""
    rng = random.Random(seed)
    return [Patient.model_validate(generate_patient_data(rng, i)) for i in range(n)]
