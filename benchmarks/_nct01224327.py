"""NCT01224327 by hand, and the patients it is benchmarked on.

The bundled protocol (src/eligo/protocols/NCT01224327.elig) written directly in Python:
the value sets as hand-written code sets (library concepts copied from
src/eligo/valuesets/*.yaml), E1 "end-stage" as coded end-stage liver disease, Child-Pugh
class C or MELD >= 21, both computed from the newest bilirubin, albumin, INR and creatinine
of the last 30 days, with encephalopathy from the newest West Haven grade of the last 30
days (coded under the system ``eligo``: it has no standard code), ascites and otherwise
encephalopathy from coded conditions (coded without a grade, every grade is a candidate:
the class is known only when all candidates agree), and MELD's dialysis rule read from
procedures.
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
    attested,
    dialysed_twice_last_week,
    has_active,
    kleene_or,
    lab_value,
    latest_result,
    pregnant,
    west_haven_grade,
)

from eligo import scores
from eligo.patient import Patient

PROTOCOL_ID = "NCT01224327"
CRITERIA = ("I1", "I2", "I3", "E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8")
INCLUSION = frozenset({"I1", "I2", "I3"})

# The manual items of the protocol, verbatim (attestations may name the item they answer).
CONSENT_TEXT = "Written informed consent signed"
OTHER_ORGAN_TEXT = "Other severe heart, renal or lung problem per investigator"
# E1's manual item before the amendment that computes Child-Pugh and MELD; sites still send
# answers to it, which no longer count.
OLD_END_STAGE_TEXT = ("Child-Pugh class C (10-15 points) or otherwise end-stage cirrhosis "
                      "per investigator")

# ==== code sets ==============================================================================

# Library concepts (src/eligo/valuesets), as their files list them.
LIVER_CIRRHOSIS = CodeSet("liver_cirrhosis",
                          icd10cm=("K70.3*", "K71.7", "K74.3", "K74.4", "K74.5", "K74.6*"),
                          snomed=("19943007",))
MALIGNANCY = CodeSet("malignancy", icd10cm=("C00-C96",), snomed=(
    "363346000", "363358000", "254632001", "254637007", "424132000", "425048006", "422968005",
    "423121009", "67811000119102", "67821000119109", "67831000119107", "67841000119103",
    "254837009", "363406005", "93761005", "94260004", "109838007", "314994000", "92814006",
    "92818009", "188340000", "109841003"))
SEPSIS = CodeSet("sepsis", icd10cm=(
    "A40*", "A41*", "R65.2*", "A02.1", "A22.7", "A26.7", "A32.7", "A39.2", "A39.3", "A39.4",
    "A42.7", "A54.86", "B37.7", "O03.37", "O03.87", "O04.87", "O07.37", "O08.82", "O85",
    "O86.04", "T81.44*", "P36*"),
    snomed=("91302008", "10001005", "76571007", "448417001", "448813005", "770349000"))
HEART_FAILURE = CodeSet("heart_failure",
                        icd10cm=("I50*", "I11.0", "I13.0", "I13.2", "I09.81", "I97.13*", "P29.0"),
                        snomed=("84114007", "88805009", "42343007"))
RESPIRATORY_FAILURE = CodeSet("respiratory_failure", icd10cm=("J96*", "J95.82*", "R09.2", "P28.5"),
                              snomed=("409622000", "65710008"))
HEPATORENAL = CodeSet("hepatorenal_syndrome", icd10cm=("K76.7", "O90.41"), snomed=("51292008",))
HEPATIC_ENCEPHALOPATHY = CodeSet("hepatic_encephalopathy", icd10cm=(
    "K76.82", "K70.41", "K71.11", "K72.01", "K72.11", "K72.91", "B15.0", "B16.0", "B16.2",
    "B17.11", "B19.0", "B19.11", "B19.21"), snomed=("13920009",))
ESRD = CodeSet("end_stage_renal_disease",
               icd10cm=("N18.6", "Z99.2", "Z49.3*", "Z91.15*", "I12.0", "I13.11", "I13.2"),
               snomed=("46177005",))
CHOLEDOCHOLITHIASIS = CodeSet("choledocholithiasis",
                              icd10cm=("K80.3*", "K80.4*", "K80.5*", "K80.6*", "K80.7*"))
PSC = CodeSet("primary_sclerosing_cholangitis", icd10cm=("K83.01",), snomed=("197441003",))
AKI = CodeSet("acute_kidney_injury", icd10cm=("N17*", "O90.49"), snomed=("14669001", "36225005"))
PORTAL_VEIN_THROMBOSIS = CodeSet("portal_vein_thrombosis", icd10cm=("I81",), snomed=("17920008",))
BUDD_CHIARI = CodeSet("budd_chiari", icd10cm=("I82.0",), snomed=("82385007",))
# Read by the scores: ascites (Child-Pugh), encephalopathy (above) and dialysis (MELD).
ASCITES = CodeSet("ascites", icd10cm=("R18*", "K70.11", "K70.31", "K71.51"), snomed=("389026000",))
DIALYSIS = CodeSet("dialysis", icd10cm=("Z99.2", "Z49.31", "Z49.32"),
                   snomed=("265764009", "302497006"), cpt=("90935", "90937", "90945", "90947"))
# eligo's built-in `pregnant`: Z33.1, Z34.*, O09.*, SNOMED CT 77386006.
PREGNANCY = CodeSet("pregnant", icd10cm=("Z33.1", "Z34*", "O09*"), snomed=("77386006",))

# The protocol's own value sets.
END_STAGE_LIVER = CodeSet("end_stage_liver_disease", icd10cm=("K72.1*", "K72.9*", "K70.4*"),
                          includes=(HEPATORENAL, HEPATIC_ENCEPHALOPATHY))
SEVERE_ORGAN = CodeSet("severe_organ_disease",
                       icd10cm=("I50.84", "N18.5", "J96.1*", "Z99.11", "Z99.81"), includes=(ESRD,))
BILIARY = CodeSet("biliary_disease", icd10cm=("K83.0*", "K83.1"),
                  includes=(CHOLEDOCHOLITHIASIS, PSC))
RENAL_FAILURE = CodeSet("renal_failure", icd10cm=("N18.5", "N19"), snomed=("42399005",),
                        includes=(AKI, ESRD))
THROMBOSIS = CodeSet("portal_hepatic_thrombosis", includes=(PORTAL_VEIN_THROMBOSIS, BUDD_CHIARI))

# The protocol's value sets by name, and the library sets eligo reads inside its scores
# and its `pregnant` rule: both are checked against eligo before the benchmark runs.
VALUESETS = {s.name: s for s in (LIVER_CIRRHOSIS, MALIGNANCY, SEPSIS, HEART_FAILURE,
                                 RESPIRATORY_FAILURE, END_STAGE_LIVER, SEVERE_ORGAN, BILIARY,
                                 RENAL_FAILURE, THROMBOSIS)}
LIBRARY_SETS = {s.name: s for s in (ASCITES, HEPATIC_ENCEPHALOPATHY, DIALYSIS)}

# ==== laboratory results =====================================================================
# Codes as results feeds send them (mass and molar LOINC variants, SNOMED CT), the unit the
# formulas take, and the factors from the units labs report in (molar masses: bilirubin
# 584.66 g/mol, creatinine 113.12 g/mol); a converted value keeps the precision it was
# reported with. Results are fresh for 30 days.

BILIRUBIN = Lab("bilirubin", frozenset({"1975-2", "42719-5", "14631-6"}), frozenset({"27171005"}),
                "mg/dL", 30, {"mg/dl": 1.0, "umol/L": 0.058466, "µmol/L": 0.058466},
                local=frozenset({"bilirubin", "total_bilirubin", "bilirubin_total", "tbili",
                                 "t_bili", "bili", "serum_bilirubin"}))
ALBUMIN = Lab("albumin", frozenset({"1751-7"}), frozenset({"104485008"}), "g/dL", 30,
              {"g/dl": 1.0, "g/L": 0.1, "g/l": 0.1},
              local=frozenset({"albumin", "serum_albumin", "alb"}))
INR = Lab("inr", frozenset({"6301-6", "34714-6"}), frozenset(), "{INR}", 30,
          {"INR": 1.0, "ratio": 1.0}, unitless=True,
          local=frozenset({"inr", "international_normalized_ratio",
                           "international_normalised_ratio", "pt_inr"}))
CREATININE = Lab("creatinine", frozenset({"2160-0", "38483-4", "14682-9"}),
                 frozenset({"70901006"}), "mg/dL", 30,
                 {"mg/dl": 1.0, "umol/L": 0.011312, "µmol/L": 0.011312},
                 local=frozenset({"creatinine", "serum_creatinine", "creat", "scr", "cr"}))
# No standard code exists for a West Haven grade: sites code it under `eligo`.
WEST_HAVEN = Lab("west_haven", frozenset(), frozenset(), None, 30, local=frozenset(
    {"west_haven", "west_haven_grade", "hepatic_encephalopathy_grade", "he_grade"}))
LABS = {lab.name: lab for lab in (BILIRUBIN, ALBUMIN, INR, CREATININE, WEST_HAVEN)}

NO_ASCITES = ("none",)
SOME_ASCITES = ("mild", "moderate_severe")  # coded, grade not recorded
NO_ENCEPHALOPATHY = ("none",)
SOME_ENCEPHALOPATHY = ("grade_1_2", "grade_3_4")  # coded, grade not recorded
ENCEPHALOPATHY_BY_GRADE = {0: ("none",), 1: ("grade_1_2",), 2: ("grade_1_2",),
                           3: ("grade_3_4",), 4: ("grade_3_4",)}


def encephalopathy(patient: Patient, as_of: date) -> tuple[str, ...]:
    """From the newest readable West Haven grade of the last 30 days, else from a coded
    hepatic encephalopathy (every grade a candidate), else none."""
    o = latest_result(patient, WEST_HAVEN, as_of, as_of - timedelta(days=WEST_HAVEN.fresh_days))
    grade = None if o is None else west_haven_grade(o.value)
    if grade is not None:
        return ENCEPHALOPATHY_BY_GRADE[grade]
    if has_active(patient, HEPATIC_ENCEPHALOPATHY, as_of):
        return SOME_ENCEPHALOPATHY
    return NO_ENCEPHALOPATHY


def child_pugh_classes(patient: Patient, as_of: date, bilirubin: float | None,
                       albumin: float | None, inr: float | None) -> frozenset[str] | None:
    """The Child-Pugh classes the record allows (one when it is decided), or None when a
    lab is missing or unusable."""
    if bilirubin is None or albumin is None or inr is None:
        return None
    ascites = SOME_ASCITES if has_active(patient, ASCITES, as_of) else NO_ASCITES
    grades = encephalopathy(patient, as_of)
    try:
        return frozenset(scores.child_pugh(bilirubin, albumin, inr, a, e).class_
                         for a in ascites for e in grades)
    except ValueError:  # a zero or negative value: not a result a score can use
        return None


def class_in(classes: frozenset[str] | None, allowed: frozenset[str]) -> Truth:
    if classes is None:
        return None
    if classes <= allowed:
        return True
    return None if classes & allowed else False


def meld(patient: Patient, as_of: date, bilirubin: float | None, inr: float | None,
         creatinine: float | None) -> int | None:
    if bilirubin is None or inr is None or creatinine is None:
        return None
    try:
        return scores.meld(bilirubin, inr, creatinine,
                           dialysed_twice_last_week(patient, DIALYSIS, as_of))
    except ValueError:
        return None


CLASS_C = frozenset({"C"})


def end_stage(patient: Patient, as_of: date) -> Truth:
    """E1: coded end-stage liver disease, or Child-Pugh class C, or MELD >= 21."""
    if has_active(patient, END_STAGE_LIVER, as_of):
        return True
    bilirubin = lab_value(patient, BILIRUBIN, as_of)
    inr = lab_value(patient, INR, as_of)
    albumin = lab_value(patient, ALBUMIN, as_of)
    class_c = class_in(child_pugh_classes(patient, as_of, bilirubin, albumin, inr), CLASS_C)
    if class_c:
        return True
    score = meld(patient, as_of, bilirubin, inr, lab_value(patient, CREATININE, as_of))
    high_meld = None if score is None else score >= 21
    return kleene_or((class_c, high_meld))


SEPSIS_WINDOW = timedelta(days=30)


def aged_18_to_70(patient: Patient, as_of: date) -> Truth:
    birth = patient.birth_date
    if birth is None or birth > as_of:
        return None
    return 18 <= age_years(birth, as_of) <= 70


def severe_other_organ(patient: Patient, as_of: date) -> Truth:
    if has_active(patient, SEVERE_ORGAN, as_of):
        return True
    return attested(patient, "E2", OTHER_ORGAN_TEXT, as_of)


def organ_failure(patient: Patient, as_of: date) -> bool:
    return has_active(patient, HEART_FAILURE, as_of) or has_active(patient, RENAL_FAILURE, as_of) \
        or has_active(patient, RESPIRATORY_FAILURE, as_of)


def handwritten_verdict(patient: Patient, as_of: date) -> str:
    """The verdict, stopping at the first criterion that fails (as Screener.verdict does)."""
    unsure = False
    # I1 aged 18-70 (until the 71st birthday)
    age_ok = aged_18_to_70(patient, as_of)
    if age_ok is False:
        return "INELIGIBLE"
    if age_ok is None:
        unsure = True
    # I2 liver cirrhosis
    if not has_active(patient, LIVER_CIRRHOSIS, as_of):
        return "INELIGIBLE"
    # I3 written consent
    consent = attested(patient, "I3", CONSENT_TEXT, as_of)
    if consent is False:
        return "INELIGIBLE"
    if consent is None:
        unsure = True
    # E1 end-stage cirrhosis
    e1 = end_stage(patient, as_of)
    if e1:
        return "INELIGIBLE"
    if e1 is None:
        unsure = True
    # E2 severe heart, renal or lung disease
    e2 = severe_other_organ(patient, as_of)
    if e2:
        return "INELIGIBLE"
    if e2 is None:
        unsure = True
    # E3 malignancy
    if has_active(patient, MALIGNANCY, as_of):
        return "INELIGIBLE"
    # E4 pregnancy
    e4 = pregnant(patient, PREGNANCY, as_of)
    if e4:
        return "INELIGIBLE"
    if e4 is None:
        unsure = True
    # E5 sepsis within the last 30 days
    e5 = active_since(patient, SEPSIS, as_of, as_of - SEPSIS_WINDOW)
    if e5:
        return "INELIGIBLE"
    if e5 is None:
        unsure = True
    # E6 extrahepatic biliary disease
    if has_active(patient, BILIARY, as_of):
        return "INELIGIBLE"
    # E7 cardiac, renal or respiratory failure
    if organ_failure(patient, as_of):
        return "INELIGIBLE"
    # E8 portal or hepatic vein thrombosis
    if has_active(patient, THROMBOSIS, as_of):
        return "INELIGIBLE"
    return "NEEDS_REVIEW" if unsure else "ELIGIBLE"


def handwritten_truths(patient: Patient, as_of: date) -> tuple[Truth, ...]:
    """Every criterion's rule (TRUE/FALSE/None), in protocol order: the criterion-level check."""
    return (
        aged_18_to_70(patient, as_of),
        has_active(patient, LIVER_CIRRHOSIS, as_of),
        attested(patient, "I3", CONSENT_TEXT, as_of),
        end_stage(patient, as_of),
        severe_other_organ(patient, as_of),
        has_active(patient, MALIGNANCY, as_of),
        pregnant(patient, PREGNANCY, as_of),
        active_since(patient, SEPSIS, as_of, as_of - SEPSIS_WINDOW),
        has_active(patient, BILIARY, as_of),
        organ_failure(patient, as_of),
        has_active(patient, THROMBOSIS, as_of),
    )


# ==== patients ===============================================================================

# (ICD-10-CM codes, SNOMED CT codes) drawn for each kind of condition.
POOLS: gen.Pools = {
    "cirrhosis": (("K70.30", "K70.31", "K74.3", "K74.4", "K74.5", "K74.60", "K74.69", "K71.7",
                   "K74.6", "K70.3"), ("19943007",)),
    "end_stage": (("K72.10", "K72.11", "K72.90", "K72.91", "K70.40", "K70.41", "K76.7",
                   "K76.82", "K72.1", "O90.41", "B19.21"), ("13920009", "51292008")),
    "ascites": (("R18.8", "R18.8", "R18.0", "K70.31", "K71.51", "K70.11"), ("389026000",)),
    "severe_organ": (("I50.84", "N18.5", "N18.6", "Z99.2", "J96.10", "J96.11", "J96.12",
                      "Z99.11", "Z99.81", "Z49.31", "Z91.158"), ("46177005",)),
    "malignancy": (("C22.0", "C22.0", "C22.1", "C18.9", "C34.90", "C50.911", "C61", "C7A.00",
                    "C96.9", "C00.0", "C91.10", "C4A.9", "C7B.8"), ("363346000", "109841003")),
    "sepsis": (("A41.9", "A41.9", "A41.51", "A40.0", "R65.20", "R65.21", "A02.1", "A22.7",
                "A26.7", "A32.7", "A42.7", "B37.7", "A39.2", "T81.44XA"),
               ("91302008", "10001005", "76571007")),
    "biliary": (("K80.30", "K80.31", "K80.40", "K80.50", "K80.51", "K80.60", "K80.62",
                 "K80.70", "K80.71", "K83.01", "K83.09", "K83.1"), ("197441003",)),
    "heart_failure": (("I50.9", "I50.22", "I50.32", "I11.0", "I13.0", "I13.2", "I09.81"),
                      ("84114007", "88805009", "42343007")),
    "renal_failure": (("N17.9", "N17.0", "N19", "O90.49"), ("42399005", "14669001")),
    "respiratory_failure": (("J96.00", "J96.01", "J96.90", "R09.2", "J95.821"),
                            ("409622000", "65710008")),
    "thrombosis": (("I81", "I82.0"), ("17920008", "82385007")),
    "pregnancy": (("Z33.1", "Z34.00", "Z34.90", "O09.519"), ("77386006",)),
    # close to a value set but outside it
    "near_miss": (("K70.0", "K70.10", "K74.00", "K74.01", "K72.00", "K76.0", "K76.6", "K80.20",
                   "K83.8", "N18.3", "N18.4", "D01.5", "Z85.05", "R65.10", "I82.409", "I82.1",
                   "I11.9", "I13.10", "B18.2", "B18.1", "J96", "K70.9", "D3A.00"),
                  ("235856003",)),
    # under a `*` or range by spelling, but not codes of the CMS tables: they match nothing
    "not_in_cms": (("K74.6X", "K70.39", "A41.99", "I50.99", "C96.99", "K80.39", "R18.9",
                    "J96.99", "N17.99", "K72.99", "C97"), ()),
    # common and unrelated
    "common": (("I10", "I10", "I10", "E11.9", "E11.9", "E78.5", "E66.9", "K21.9", "F32.9",
                "J44.9", "J45.909", "M17.11", "N39.0", "G47.33", "Z79.4", "D64.9", "R18.8",
                "I85.10", "F10.20", "E03.9", "I48.91"), ("38341003", "44054006", "73211009")),
}
# Chance that a patient has a condition of each kind (cirrhosis is common: a cirrhosis trial).
KIND_CHANCE = {"cirrhosis": 0.70, "end_stage": 0.06, "ascites": 0.12, "severe_organ": 0.04,
               "malignancy": 0.06, "sepsis": 0.09, "biliary": 0.04, "heart_failure": 0.05,
               "renal_failure": 0.04, "respiratory_failure": 0.03, "thrombosis": 0.03,
               "near_miss": 0.30, "not_in_cms": 0.06}
EPISODES = {"sepsis": 30}
CONDITION_COUNT_WEIGHTS = (6, 12, 18, 18, 15, 12, 9, 6, 4)  # 0..8 conditions
LIVER_STATE = (("compensated", 55), ("decompensated", 33), ("end_stage", 12))
LIVER_LABS = ("bilirubin", "albumin", "inr", "creatinine", "sodium", "platelets", "alt", "ast")


def _attestations(rng: random.Random, worked_up: bool) -> list[dict[str, Any]]:
    roll = rng.random()
    if worked_up and roll < 0.85:  # every manual item answered
        wanted = [("I3", CONSENT_TEXT, rng.random() < 0.93),
                  ("E2", OTHER_ORGAN_TEXT, rng.random() < 0.08)]
    elif roll < (1.0 if worked_up else 0.25):  # consent only
        wanted = [("I3", CONSENT_TEXT, rng.random() < 0.9)]
    else:
        return []
    if rng.random() < 0.15:  # an answer to E1's old manual item: no longer asked
        wanted.append(("E1", OLD_END_STAGE_TEXT, rng.random() < 0.2))
    out = []
    for criterion, text, answer in wanted:
        if rng.random() < 0.08:  # an earlier, superseded answer
            older = gen.attestation(rng, criterion, text, not answer)
            older["at"] = date(2023, 1, 1)
            out.append(older)
        out.append(gen.attestation(rng, criterion, text, answer))
        if rng.random() < 0.03:  # a later answer, given after the as-of date: does not count
            later = gen.attestation(rng, criterion, text, not answer)
            later["at"] = gen.AS_OF + timedelta(days=rng.randrange(1, 10))
            out.append(later)
    if rng.random() < 0.05:  # answers a different item: does not count
        out.append({"criterion": "I3", "answer": False, "by": "dr-li", "at": gen.AS_OF,
                    "item": "Consent witnessed by a relative"})
    if rng.random() < 0.03:  # an attestation for a criterion without a manual item
        out.append({"criterion": "E4", "answer": True, "by": "dr-li", "at": gen.AS_OF})
    rng.shuffle(out)
    return out


def generate_patient_data(rng: random.Random, index: int) -> dict[str, Any]:
    sex = gen.sex(rng)
    birth = gen.birth_date(rng, 18, 70)
    kinds = [kind for kind, chance in KIND_CHANCE.items() if rng.random() < chance]
    if "cirrhosis" in kinds and rng.random() < 0.1:
        kinds.append("cirrhosis")  # a second cirrhosis record (different code or status)
    if sex == "female" and rng.random() < 0.03:
        kinds.append("pregnancy")
    count = rng.choices(range(9), CONDITION_COUNT_WEIGHTS)[0]
    kinds += ["common"] * max(0, count - len(kinds))
    rng.shuffle(kinds)
    conditions = [gen.condition(rng, POOLS, kind, i, EPISODES)
                  for i, kind in enumerate(kinds[:8])]
    worked_up = rng.random() < 0.6  # screened in earnest: manual items answered, fresh labs
    data: dict[str, Any] = {"id": f"P{index:06d}", "birth_date": birth, "sex": sex,
                            "conditions": conditions,
                            "attestations": _attestations(rng, worked_up)}
    if rng.random() < (0.4 if sex == "female" else 0.02):
        data["pregnancy"] = gen.pregnancy_status(rng)
    liver = "cirrhosis" in kinds or "end_stage" in kinds or "ascites" in kinds
    if worked_up or rng.random() < (0.7 if liver else 0.4):
        state = gen.pick(rng, LIVER_STATE) if liver else "normal"
        if "end_stage" in kinds and rng.random() < 0.5:
            state = "end_stage"
        data["observations"] = gen.lab_panels(rng, state, LIVER_LABS, 0, worked_up=worked_up)
        if rng.random() < (0.08 if state in ("normal", "compensated") else 0.35):
            data["observations"] += gen.west_haven_grades(rng, len(data["observations"]))
    if rng.random() < (0.08 if "severe_organ" in kinds or "renal_failure" in kinds else 0.02):
        data["procedures"] = gen.dialysis_sessions(rng, 0)
    return data


def generate_patients(n: int, seed: int) -> list[Patient]:
    """``n`` validated patient profiles, the same for the same seed."""
    rng = random.Random(seed)
    return [Patient.model_validate(generate_patient_data(rng, i)) for i in range(n)]
