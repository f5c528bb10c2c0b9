"""`eligo import-ctgov`: draft protocols from ClinicalTrials.gov records (eligo.ctgov).

The fixtures in tests/fixtures/ctgov/ are real registry records (PROVENANCE.md): API v2
JSON, v1 records mapped to v2, a v1 `FullStudiesResponse` and the registry's study page as
text. Every draft must compile; criterion texts must be the record's items verbatim;
coding must be conservative (auto-coded only where the code says what the item says).
The last test drafts all 221 records of ../shared/data/ctgov/trials_v2.jsonl when present
(set ELIGO_SHARED_DIR to the shared folder when the checkout is elsewhere).
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from eligo import Patient, Screener, Status, UsageError, load_protocol
from eligo.compiler import compile_text
from eligo.ctgov import (
    Draft,
    ItemCoding,
    Record,
    Section,
    build_table,
    code_age_item,
    code_item,
    draft_protocol,
    import_ctgov,
    one_line,
    phrase_table,
    read_records,
    record_from_page,
    split_items,
    summary_line,
    unescape,
)
from eligo.errors import EligoError
from eligo.rules import Protocol

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "ctgov"
SHARED = Path(os.environ.get("ELIGO_SHARED_DIR") or ROOT.parent / "shared")
TRIALS_JSONL = SHARED / "data" / "ctgov" / "trials_v2.jsonl"
SEED = FIXTURES / "NCT01224327.txt"
V1_PAGE = FIXTURES / "v1_aact_results_2.json"
AS_OF = date(2026, 1, 15)

RECORD_FILES = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".json", ".jsonl", ".txt"))
V1_STUDIES = ("NCT04779463", "NCT04779450", "NCT04779437")


def draft_of(path: Path, nct: str | None = None) -> Draft:
    return import_ctgov(path, nct=nct)[1]


def compiled(draft: Draft) -> Protocol:
    return compile_text(draft.text, f"{draft.nct_id}.elig")


def by_id(draft: Draft) -> dict[str, Any]:
    return {c.id: c for c in draft.criteria}


def record(criteria: str | None, **fields: Any) -> Record:
    return Record(nct_id="NCT00000001", title="A test record", version="2024-01-01",
                  criteria=criteria, **fields)


def patient(birth_date: str, sex: str = "male", **fields: Any) -> Patient:
    return Patient.model_validate({"id": "p1", "birth_date": birth_date, "sex": sex, **fields})


def record_texts(draft: Draft, criteria: str) -> None:
    """Every criterion made from one item quotes that item verbatim: undone escapes and
    white space aside, its text appears in the record's criteria text."""
    flat = one_line(unescape(criteria))
    for c in draft.items:
        if "nested sub-items" in " ".join(c.comments):
            first, _, _ = c.text.partition(" - ")
            assert first.split(" 1. ")[0] in flat, c.text
        else:
            assert c.text in flat, c.text


# ---- every fixture ----------------------------------------------------------------------


def test_fixtures_cover_ten_records_and_more() -> None:
    ids = {read_records(p)[0].nct_id for p in RECORD_FILES}
    assert len(ids) >= 15
    assert (FIXTURES / "PROVENANCE.md").is_file()
    for p in RECORD_FILES:
        assert p.name in (FIXTURES / "PROVENANCE.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", RECORD_FILES, ids=lambda p: p.name)
def test_every_fixture_drafts_a_compiling_protocol(path: Path) -> None:
    text, draft = import_ctgov(path)
    assert text == draft.text
    protocol = compiled(draft)
    assert protocol.trial_id == draft.nct_id
    assert protocol.inclusion
    assert protocol.exclusion
    assert draft.bullets == draft.auto_coded + draft.manual > 0
    assert draft.text.startswith(f"trial {draft.nct_id} ")
    assert "MACHINE DRAFT" in draft.text
    # the compiled criteria are the draft's criteria, with the same texts
    assert [c.text for c in protocol.criteria] == [
        c.text for c in draft.criteria if c.section == "inclusion"] + [
        c.text for c in draft.criteria if c.section == "exclusion"]
    criteria = read_records(path)[0].criteria
    assert criteria is not None
    record_texts(draft, criteria)
    assert import_ctgov(path)[0] == text  # deterministic


@pytest.mark.parametrize("nct", V1_STUDIES)
def test_each_study_of_a_v1_response_can_be_chosen(nct: str) -> None:
    draft = draft_of(V1_PAGE, nct)
    assert draft.nct_id == nct
    assert draft.layout == "API v1 JSON"
    compiled(draft)
    assert not any("studies" in w for w in draft.warnings)


@pytest.mark.skipif(not TRIALS_JSONL.is_file(),
                    reason="../shared/data/ctgov/trials_v2.jsonl is not present")
def test_one_study_of_a_json_lines_file_can_be_chosen() -> None:
    draft = draft_of(TRIALS_JSONL, "NCT04780204")
    assert draft.nct_id == "NCT04780204"
    assert draft.text == draft_of(FIXTURES / "NCT04780204.jsonl").text


def test_an_api_page_or_a_study_object_can_be_drafted() -> None:
    study = json.loads((FIXTURES / "NCT00973089.json").read_text(encoding="utf-8"))
    assert draft_protocol({"studies": [study]}).text == draft_protocol(study).text
    # the version is the record's last update (posted), not the API's data version
    assert '\nversion "2015-08-19"\n' in draft_protocol(study).text


def test_a_multi_study_file_drafts_the_first_and_says_so() -> None:
    draft = draft_of(V1_PAGE)
    assert draft.nct_id == "NCT04779463"
    assert any("holds 3 studies" in w and "--nct" in w for w in draft.warnings)
    assert "holds 3 studies" in draft.text  # the warning is in the draft's header too
    assert 'version "March 3, 2021"' in draft.text
    with pytest.raises(UsageError, match="no study NCT99999999"):
        draft_of(V1_PAGE, "NCT99999999")


def test_the_output_file_is_written_and_loads(tmp_path: Path) -> None:
    out = tmp_path / "draft.elig"
    text, _ = import_ctgov(FIXTURES / "NCT00763412.json", out)
    assert out.read_text(encoding="utf-8") == text
    assert load_protocol(out).trial_id == "NCT00763412"


# ---- the seed: the registry page of NCT01224327 -------------------------------------------


def test_seed_page_is_read() -> None:
    (rec,) = read_records(SEED)
    assert rec.nct_id == "NCT01224327"
    assert rec.title == ("Umbilical Cord Mesenchymal Stem Cells Infusion Via Hepatic Artery in "
                         "Cirrhosis Patients")
    assert rec.version == "2010-10-20"
    assert (rec.minimum_age, rec.maximum_age, rec.sex) == ("18 Years", "70 Years", "ALL")
    assert rec.healthy_volunteers is False
    assert rec.layout == "registry text"
    assert rec.criteria is not None
    assert rec.criteria.startswith("Inclusion Criteria\n")
    assert "Check the participation" not in rec.criteria
    assert rec.criteria.rstrip().endswith("Active thrombosis of the portal or hepatic veins")


def test_seed_draft_codes_cirrhosis_hcc_pregnancy_and_sepsis() -> None:
    draft = draft_of(SEED)
    c = by_id(draft)
    assert c["I2"].rule == "has condition liver_cirrhosis"
    assert c["E3"].rule == "has condition hepatocellular_carcinoma or has condition malignancy"
    assert c["E4"].rule == "pregnant"
    assert c["E5"].rule == "has condition sepsis"
    for cid in ("I2", "E3", "E4", "E5"):
        assert c[cid].coding == "auto"
    # "The end-stage of liver cirrhosis" says more than cirrhosis: the code is necessary,
    # a coordinator answers the rest
    assert c["E1"].coding == "partial"
    assert c["E1"].rule == ('has history of condition liver_cirrhosis and manual '
                            '"The end-stage of liver cirrhosis."')
    assert c["I1"].rule == "age between 18 and 70 years"
    for cid in ("I3", "E2", "E6", "E7", "E8"):
        assert c[cid].coding == "manual"
        assert c[cid].rule == f'manual "{c[cid].text}"'
    assert (draft.bullets, draft.auto_coded, draft.partly_coded, draft.manual) == (11, 6, 1, 5)
    assert summary_line(draft) == (
        "11 bullets: 6 auto-coded, 5 manual (1 of the auto-coded with a manual part)")
    assert draft.uses == ("hepatocellular_carcinoma", "liver_cirrhosis", "malignancy", "sepsis")
    assert "use hepatocellular_carcinoma, liver_cirrhosis, malignancy, sepsis" in draft.text
    assert "11 items: 6 auto-coded (1 with a manual part), 5 manual." in draft.text
    assert draft.warnings == ()


def test_seed_texts_match_the_hand_written_protocol() -> None:
    """The bundled NCT01224327.elig quotes the same record by hand: same items, same words."""
    draft = draft_of(SEED)
    hand = load_protocol("NCT01224327")
    assert [c.id for c in hand.criteria] == [c.id for c in draft.items]
    assert [c.text for c in hand.criteria] == [c.text for c in draft.items]
    assert hand.title == compiled(draft).title
    assert hand.version == compiled(draft).version


def test_seed_draft_screens_patients() -> None:
    screener = Screener(compiled(draft_of(SEED)))
    cirrhotic = patient("1970-05-01", conditions=[
        {"id": "c1", "codes": [{"system": "icd10cm", "code": "K74.60"}], "onset": "2020-01-01"}])
    result = screener.screen(cirrhotic, AS_OF)
    assert result.criterion("I2").status is Status.PASS
    assert result.criterion("E4").status is Status.PASS  # a man: pregnancy does not apply
    assert result.criterion("E1").status is Status.UNKNOWN  # cirrhosis coded: ask the rest
    well = patient("1970-05-01")
    result = screener.screen(well, AS_OF)
    assert result.criterion("I2").status is Status.FAIL
    assert result.criterion("E1").status is Status.PASS  # no cirrhosis, so not end-stage


# ---- age and sex from the structured fields ---------------------------------------------


def age_screener(minimum: str | None, maximum: str | None) -> Screener:
    draft = draft_protocol(record("Inclusion Criteria:\n\n* written consent\n\n"
                                  "Exclusion Criteria:\n\n* sepsis",
                                  minimum_age=minimum, maximum_age=maximum))
    return Screener(compiled(draft))


def test_maximum_age_admits_anyone_who_has_not_yet_turned_one_more() -> None:
    draft = draft_protocol(record("Inclusion Criteria:\n* a\nExclusion Criteria:\n* b",
                                  minimum_age="18 Years", maximum_age="70 Years"))
    assert by_id(draft)["AGE"].rule == "age between 18 and 70 years"
    assert by_id(draft)["AGE"].text == (
        "Minimum Eligible Age: 18 Years; Maximum Eligible Age: 70 Years")
    assert "yet turned 71 years, which is `age <= 70 years`" in draft.text
    screener = age_screener("18 Years", "70 Years")
    cases = {
        "1955-01-16": Status.PASS,   # 70, the 71st birthday is tomorrow
        "1955-01-15": Status.FAIL,   # 71 today
        "1954-06-01": Status.FAIL,   # 71
        "2008-01-15": Status.PASS,   # 18 today
        "2008-01-16": Status.FAIL,   # 17, one day short
    }
    for born, status in cases.items():
        assert screener.screen(patient(born), AS_OF).criterion("AGE").status is status, born


def test_missing_maximum_age_is_no_upper_limit() -> None:
    screener = age_screener("18 Years", None)
    assert screener.screen(patient("1920-01-01"), AS_OF).criterion("AGE").status is Status.PASS
    draft = draft_protocol(record("Inclusion Criteria:\n* a\nExclusion Criteria:\n* b",
                                  minimum_age="18 Years"))
    assert by_id(draft)["AGE"].rule == "age >= 18 years"
    assert "no maximum age" in draft.text


def test_ages_in_months_and_only_a_maximum() -> None:
    months = draft_protocol(record("Inclusion Criteria:\n* a\nExclusion Criteria:\n* b",
                                   minimum_age="6 Months", maximum_age="17 Years"))
    assert by_id(months)["AGE"].rule == "age >= 6 months and age <= 17 years"
    screener = Screener(compiled(months))
    assert screener.screen(patient("2025-07-16"), AS_OF).criterion("AGE").status is Status.FAIL
    assert screener.screen(patient("2025-07-15"), AS_OF).criterion("AGE").status is Status.PASS
    only_max = draft_of(FIXTURES / "NCT04431453.jsonl")  # no minimum age, 18 Years at most
    assert by_id(only_max)["AGE"].rule == "age <= 18 years"
    hiv = draft_of(FIXTURES / "NCT02028676.jsonl")  # 3 Months to 17 Years
    assert by_id(hiv)["AGE"].rule == "age >= 3 months and age <= 17 years"


def test_unusual_registry_ages() -> None:
    zero = draft_protocol(record("Inclusion Criteria:\n* a\nExclusion Criteria:\n* b",
                                 minimum_age="0 Years", maximum_age="N/A"))
    assert "AGE" not in by_id(zero)
    hours = draft_protocol(record("Inclusion Criteria:\n* a\nExclusion Criteria:\n* b",
                                  minimum_age="12 Hours", maximum_age="28 Days"))
    assert by_id(hours)["AGE"].rule.startswith("manual ")
    assert any("not in years" in w for w in hours.warnings)


def test_sex_from_the_structured_field() -> None:
    female = draft_of(FIXTURES / "NCT04780763.jsonl")
    assert by_id(female)["SEX"].rule == "sex = female"
    assert by_id(female)["SEX"].text == "Eligible Sex: FEMALE"
    male = draft_of(FIXTURES / "NCT04779892.jsonl")
    assert by_id(male)["SEX"].rule == "sex = male"
    assert "SEX" not in by_id(draft_of(SEED))  # ALL: no criterion
    screener = Screener(compiled(female))
    woman = patient("2000-03-01", "female")
    assert screener.screen(woman, AS_OF).criterion("SEX").status is Status.PASS
    assert screener.screen(patient("2000-03-01"), AS_OF).criterion("SEX").status is Status.FAIL


def test_gender_based_eligibility_is_flagged() -> None:
    draft = draft_protocol(record("Inclusion Criteria:\n* a\nExclusion Criteria:\n* b",
                                  sex="FEMALE", gender_based=True,
                                  gender_description="Self-identified women"))
    assert "gender identity: Self-identified women" in draft.text
    assert any("gender identity" in w for w in draft.warnings)


# ---- coding: what is auto-coded --------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("Liver cirrhosis", "has condition liver_cirrhosis"),
    ("Known HIV infection", "has condition hiv"),
    ("HIV-positive patients", "has condition hiv"),
    ("Hepatocellular carcinoma (HCC)", "has condition hepatocellular_carcinoma"),
    ("HCC", "has condition hepatocellular_carcinoma"),
    ("History of myocardial infarction", "has history of condition myocardial_infarction"),
    ("Prior chemotherapy",
     "taking medication chemotherapy ever or had procedure chemotherapy_administration"),
    ("Current use of systemic corticosteroids", "taking medication systemic_corticosteroids"),
    ("Treatment with anticoagulants", "taking medication anticoagulants"),
    ("Use of anticoagulants", "taking medication anticoagulants"),
    ("Solid organ transplant recipients",
     "has history of condition solid_organ_transplant or had procedure "
     "organ_transplant_procedures"),
    ("Pregnancy", "pregnant"),
    ("Pregnant or lactating women", "pregnant or breastfeeding"),
    ("Pregnant and breastfeeding women", "pregnant or breastfeeding"),
    ("Breast-feeding", "breastfeeding"),
    ("Nursing mothers", "breastfeeding"),
    ("sepsis", "has condition sepsis"),
    ("Type 2 diabetes mellitus", "has condition diabetes_type_2"),
    ("Diabetes", "has condition diabetes_type_1 or has condition diabetes_type_2"),
    ("COVID-19 positive", "has condition covid_19"),
    ("Confirmed SARS-CoV-2 infection", "has condition covid_19"),
    ("HIV, hepatitis B or hepatitis C infection",
     "has condition hiv or has condition hepatitis_b or has condition hepatitis_c"),
    ("HIV, HBV, HCV",
     "has condition hiv or has condition hepatitis_b or has condition hepatitis_c"),
    ("Alcohol and/or drug abuse",
     "has condition substance_use_disorder or has condition alcohol_use_disorder"),
    ("Hepatocellular carcinoma or other malignancies",
     "has condition hepatocellular_carcinoma or has condition malignancy"),
])
def test_exact_coding(text: str, expected: str) -> None:
    coding = code_item(text, "exclusion")
    assert (coding.coding, coding.rule) == ("auto", expected)


@pytest.mark.parametrize(("text", "section", "expected"), [
    # in an inclusion, "No ..." is the criterion: the patient must not have it
    ("No history of HCC", "inclusion", "not has history of condition hepatocellular_carcinoma"),
    ("No history of hepatocellular carcinoma", "inclusion",
     "not has history of condition hepatocellular_carcinoma"),
    ("Not pregnant or breastfeeding", "inclusion", "not (pregnant or breastfeeding)"),
    ("Not pregnant and not nursing", "inclusion", "not pregnant and not breastfeeding"),
    ("Non-pregnant", "inclusion", "not pregnant"),
    ("No known HIV, hepatitis B or hepatitis C", "inclusion",
     "not (has condition hiv or has condition hepatitis_b or has condition hepatitis_c)"),
    ("Neither pregnant nor breastfeeding", "inclusion", "not (pregnant or breastfeeding)"),
    ("Must not have received prior chemotherapy", "inclusion",
     "not (taking medication chemotherapy ever or had procedure chemotherapy_administration)"),
    # in an exclusion, a negated phrase flips likewise: the exclusion holds without it
    ("Patients without cirrhosis", "exclusion", "not has condition liver_cirrhosis"),
    ("Non-cirrhotic patients", "exclusion", "not has condition liver_cirrhosis"),
    ("Absence of liver cirrhosis", "exclusion", "not has condition liver_cirrhosis"),
])
def test_negation(text: str, section: Section, expected: str) -> None:
    coding = code_item(text, section)
    assert (coding.coding, coding.rule) == ("auto", expected)


def test_negation_screens_the_right_way() -> None:
    draft = draft_protocol(record(
        "Inclusion Criteria:\n\n* No history of HCC\n\nExclusion Criteria:\n\n"
        "* Patients without cirrhosis"))
    screener = Screener(compiled(draft))
    hcc = {"id": "c1", "codes": [{"system": "icd10cm", "code": "C22.0"}],
           "clinical_status": "resolved", "onset": "2015-01-01"}
    cirrhosis = {"id": "c2", "codes": [{"system": "icd10cm", "code": "K74.60"}]}
    with_both = screener.screen(patient("1970-01-01", conditions=[hcc, cirrhosis]), AS_OF)
    assert with_both.criterion("I1").status is Status.FAIL  # a past HCC is a history of HCC
    assert with_both.criterion("E1").status is Status.PASS
    neither = screener.screen(patient("1970-01-01"), AS_OF)
    assert neither.criterion("I1").status is Status.PASS
    assert neither.criterion("E1").status is Status.FAIL  # no cirrhosis: excluded


@pytest.mark.parametrize(("text", "expected"), [
    ("The end-stage of liver cirrhosis.",
     'has history of condition liver_cirrhosis and manual "The end-stage of liver cirrhosis."'),
    ("Myocardial infarction within 6 months",
     'has history of condition myocardial_infarction and manual '
     '"Myocardial infarction within 6 months"'),
    ("Child Pugh C stage liver cirrhosis.",
     'has history of condition liver_cirrhosis and manual "Child Pugh C stage liver cirrhosis."'),
    ("Receiving radiotherapy", 'had procedure radiotherapy and manual "Receiving radiotherapy"'),
    ("Warfarin", 'taking medication anticoagulants ever and manual "Warfarin"'),
    ("Schizophrenia", 'has history of condition schizophrenia and manual "Schizophrenia"'),
    ("HIV drugs", 'has history of condition hiv and manual "HIV drugs"'),  # not the condition
    ("Uncontrolled diabetes",
     '(has history of condition diabetes_type_1 or has history of condition diabetes_type_2) '
     'and manual "Uncontrolled diabetes"'),
])
def test_partial_coding_asks_for_the_rest(text: str, expected: str) -> None:
    coding = code_item(text, "exclusion")
    assert (coding.coding, coding.rule) == ("partial", expected)


def test_item_labels_are_read_past() -> None:
    assert code_item("SE4: Sepsis", "exclusion").rule == "has condition sepsis"
    assert code_item("SE5: Septic shock", "exclusion").rule == (
        'has history of condition sepsis and manual "SE5: Septic shock"')
    assert code_item("SE6: written consent", "exclusion").rule == 'manual "SE6: written consent"'
    assert code_item("SI02: Aged 20 to 30 years inclusive", "inclusion").rule == (
        "age between 20 and 30 years")


@pytest.mark.parametrize(("text", "section"), [
    ("Written informed consent", "inclusion"),
    ("Cirrhosis or advanced fibrosis", "exclusion"),           # cirrhosis is one disjunct
    ("Uncontrolled hypertension or diabetes", "exclusion"),    # "uncontrolled" may cover both
    ("Cardiac, renal or respiratory failure", "exclusion"),
    ("Cirrhosis, ascites", "inclusion"),                       # both, or either?
    ("HIV and hepatitis B", "exclusion"),                      # both, or either?
    ("No HIV and hepatitis B", "inclusion"),
    ("No HCC within the last 5 years", "inclusion"),          # negation with more to say
    ("HIV negative", "inclusion"),                             # a test result
    ("Negative pregnancy test", "inclusion"),
    ("Positive pregnancy test", "exclusion"),
    ("Women planning to become pregnant during the study", "exclusion"),
    ("Hepatitis B vaccination", "exclusion"),
    ("Pulmonary hypertension", "exclusion"),                   # not systemic hypertension
    ("Portal hypertension", "exclusion"),
    ("Gestational diabetes", "exclusion"),
    ("Nursing home residents", "exclusion"),
    ("Family history of hepatocellular carcinoma", "exclusion"),
    ("Malignancy other than non-melanoma skin cancer", "exclusion"),
    ("Malignancy except basal cell carcinoma", "exclusion"),
    ("HIV-infected patients on effective anti-retroviral therapy are eligible", "inclusion"),
    ("Suspected COVID-19", "inclusion"),
    ("Symptoms of COVID-19", "exclusion"),
    ("Participation in another COVID-19 trial", "exclusion"),
    ("Allergy to heparin", "exclusion"),
    ("Contraindication to anticoagulation", "exclusion"),
    ("Taking any anti-obesity medication", "exclusion"),
    ("History of pregnancy", "exclusion"),                     # `pregnant` is the present only
    ("Voluntary termination of pregnancy", "exclusion"),
    ("Women with HIV and hepatitis C", "inclusion"),
    ("mi within 6 months", "exclusion"),                       # acronyms keep their case
    ("Cohort A: patients with cirrhosis", "inclusion"),
    ("Cancer screening", "inclusion"),
    ("Healthcare workers during the COVID-19 pandemic", "inclusion"),
    ("COVID-19 vaccine", "exclusion"),
    ("Post-COVID condition", "inclusion"),
])
def test_manual_when_the_code_cannot_say_it(text: str, section: Section) -> None:
    coding = code_item(text, section)
    assert (coding.coding, coding.rule) == ("manual", f'manual "{text}"')


@pytest.mark.parametrize(("text", "expected"), [
    ("Aged 18~70 years.", "age between 18 and 70 years"),
    ("Age ≥ 18 years", "age >= 18 years"),
    ("Age >= 18 years", "age >= 18 years"),
    ("18 years of age or older", "age >= 18 years"),
    ("Male or female, age 18 years and older.", "age >= 18 years"),
    ("Age 18 to 55 years at the time of consent", "age between 18 and 55 years"),
    ("Aged between 45 and 64 years", "age between 45 and 64 years"),
    ("Age: 18- 65 years (inclusive).", "age between 18 and 65 years"),
    ("Under 18 years old", "age < 18 years"),
    ("Patients <18 years old.", "age < 18 years"),
    ("≥6 months of age", "age >= 6 months"),
    ("70 years or younger", "age <= 70 years"),
    ("Age ≥40 years and ≤80 years at the time of screening", "age between 40 and 80 years"),
])
def test_age_items(text: str, expected: str) -> None:
    assert code_age_item(text) == expected
    assert code_item(text, "inclusion").rule == expected


@pytest.mark.parametrize("text", [
    "Over 18",              # 18 or 19 in completed years?
    "Age > 75 years",
    "Older than 65 years",
    "Women aged 18-45",     # the sex is a second condition
    "Age 70-18 years",
    "Age 18 to 65 years, BMI 18-30",
])
def test_age_items_left_manual(text: str) -> None:
    assert code_age_item(text) is None


# ---- splitting the criteria text ---------------------------------------------------------


def test_v2_bullets_with_nested_sub_items() -> None:
    draft = draft_of(FIXTURES / "NCT04267848.jsonl")
    c = by_id(draft)
    assert c["I1"].text == (
        "A female of childbearing potential is a sexually mature female who: - Has not "
        "undergone a hysterectomy or bilateral oophorectomy; or - Has not been naturally "
        "postmenopausal for at least 12 consecutive months (i.e., has had menses at any time "
        "in the preceding 12 consecutive months)")
    assert c["I1"].coding == "manual"
    assert c["I2"].text.startswith("Local testing of EGFR")
    assert c["I12"].rule == "age >= 18 years"  # "Age \>= 18 years"
    assert draft.bullets == 25
    assert "E0" in c
    assert any("no exclusion criteria" in w for w in draft.warnings)


def test_numbered_items_with_numbered_sub_items() -> None:
    draft = draft_of(FIXTURES / "NCT04207047.json")
    c = by_id(draft)
    assert c["I1"].text == "Male or female, age 18 years and older."
    assert c["I7"].text.endswith(
        "documented on the medical history: 1. Postmenopausal for at least 12 months prior to "
        "study; 2. Without a uterus and/or both ovaries; or 3. Bilateral tubal ligation at "
        "least six months prior to study enrollment.")
    assert c["I8"].text.startswith("Absence of physical or psychological conditions")
    assert (sum(1 for x in draft.items if x.section == "inclusion"),
            sum(1 for x in draft.items if x.section == "exclusion")) == (9, 19)


def test_v1_text_has_one_item_per_line() -> None:
    draft = draft_of(FIXTURES / "NCT04780204.jsonl")
    (rec,) = read_records(FIXTURES / "NCT04780204.jsonl")
    assert rec.criteria is not None
    assert "* " not in rec.criteria
    lines = [one_line(x) for x in rec.criteria.splitlines() if x.strip()]
    texts = [c.text for c in draft.items]
    headings = [x for x in lines if x.lower().rstrip(":") in ("inclusion criteria",
                                                              "exclusion criteria")]
    assert len(headings) == 2
    lead_in = "Evidence of liver cirrhosis defined as meeting any of the following criteria:"
    assert texts == [x for x in lines if x not in headings and x != lead_in]
    assert f"# Lead-in in the record (not a criterion): {lead_in}" in draft.text
    # "any of the following": its items are alternatives, so none of them is coded
    c = by_id(draft)
    assert c["I6"].text.startswith("Radiological evidence of liver cirrhosis")
    assert all(c[f"I{i}"].coding == "manual" for i in range(6, 13))
    assert any("after the lead-in" in w for w in draft.warnings)


def test_registry_text_items() -> None:
    c = by_id(draft_of(SEED))
    assert [c[f"E{i}"].text for i in (1, 5, 8)] == [
        "The end-stage of liver cirrhosis.", "sepsis",
        "Active thrombosis of the portal or hepatic veins"]


def test_headings() -> None:
    items, warnings = split_items(
        "Key Inclusion Criteria:\n* Liver cirrhosis\n"
        "Non-inclusion criteria:\n* Do not meet inclusion criteria\n* Sepsis\n")
    assert [(i.section, i.text, i.blocked) for i in items] == [
        ("inclusion", "Liver cirrhosis", None),
        ("exclusion", "Do not meet inclusion criteria", None),
        ("exclusion", "Sepsis", None)]
    assert any("key criteria only" in w for w in warnings)
    # text after a heading's colon: a lead-in, or the first item
    items, _ = split_items("Inclusion Criteria:Fulfilling all the following criteria\n"
                           "Liver cirrhosis\nExclusion Criteria: Pregnancy\n* Sepsis")
    assert [(i.section, i.text, i.blocked) for i in items] == [
        ("inclusion", "Liver cirrhosis", None), ("exclusion", "Pregnancy", None),
        ("exclusion", "Sepsis", None)]
    items, _ = split_items("Inclusion Criteria:\n* a\nExclusion Criteria:\n* b\n"
                           "Specific Exclusion Criteria for Women:Patient who confirms pregnancy")
    assert items[-1].text == "Patient who confirms pregnancy"
    assert items[-1].blocked == "its heading restricts it to part of the study"


def test_qualified_headings_and_lead_ins_keep_their_items_manual() -> None:
    cohorts = draft_protocol(record(
        "Inclusion Criteria (COVID-19 cohort):\n\n* COVID-19\n\n"
        "Inclusion criteria (ARDS cohort):\n\n* Sepsis\n\n"
        "Exclusion Criteria:\n\n* Pregnancy\n"))  # may be the ARDS cohort's: kept manual
    assert [c.coding for c in cohorts.items] == ["manual"] * 3
    assert "# Record heading: Inclusion Criteria (COVID-19 cohort):" in cohorts.text
    assert any("part of the study" in w for w in cohorts.warnings)
    assert any("2 inclusion headings" in w for w in cohorts.warnings)
    groups = draft_protocol(record(
        "Inclusion Criteria:\n\n* Liver cirrhosis\n\nExclusion Criteria:\n\n"
        "Hospitalized group:\n\nPregnancy\n\nHealthy group:\n\nHIV\n"))
    assert [c.coding for c in groups.items] == ["auto", "manual", "manual"]
    assert "# Lead-in in the record (not a criterion): Hospitalized group:" in groups.text
    assert any("'Hospitalized group:'" in w for w in groups.warnings)
    long = draft_protocol(record(
        "Inclusion Criteria:\n* Liver cirrhosis\nExclusion Criteria:\n* Sepsis\n"
        "Eligibility criteria for the second randomisation to stop or continue prophylaxis "
        "Inclusion criteria\n* Aged at least 3 years\nExclusion criteria\n* Pregnancy\n"))
    assert {c.id: c.coding for c in long.items} == {
        "I1": "auto", "E1": "auto", "I2": "manual", "E2": "manual"}


def test_harmless_lead_ins_keep_coding() -> None:
    draft = draft_protocol(record(
        "Inclusion Criteria:\n\nPatients must meet all of the following:\n\nLiver cirrhosis\n\n"
        "Exclusion Criteria:\n\nAny of the following:\n\nSepsis\nPregnancy\n"))
    assert [c.coding for c in draft.items] == ["auto", "auto", "auto"]
    assert draft.bullets == 3


def test_text_without_headings_is_drafted_as_inclusion_and_not_coded() -> None:
    draft = draft_protocol(record("Liver cirrhosis\nSepsis\n"))
    assert [(c.id, c.coding) for c in draft.items] == [("I1", "manual"), ("I2", "manual")]
    assert any("no Inclusion/Exclusion headings" in w for w in draft.warnings)
    assert by_id(draft)["E0"].coding == "placeholder"
    compiled(draft)


def test_empty_items_are_skipped() -> None:
    draft = draft_protocol(record(
        "Inclusion Criteria:\n\n* Liver cirrhosis\n*\n\nExclusion Criteria:\n\n-\nNone\n"))
    assert [c.text for c in draft.items] == ["Liver cirrhosis"]
    assert by_id(draft)["E0"].rule.startswith('manual "The patient meets an exclusion criterion')
    assert any("lists nothing" in w for w in draft.warnings)
    protocol = compiled(draft)
    assert [c.id for c in protocol.exclusion] == ["E0"]


# ---- escapes and quoting -----------------------------------------------------------------


def test_escapes_are_undone() -> None:
    assert unescape(r"\<126 mg/dl, \>=1.5, \[RNA\], 10\^9, 18\~70, a\*b") == (
        "<126 mg/dl, >=1.5, [RNA], 10^9, 18~70, a*b")
    c = by_id(draft_of(FIXTURES / "NCT00763412.json"))
    assert "fasting blood glucose <126 mg/dl" in c["I3"].text
    assert "or >200 mg/dl." in c["I3"].text
    nsclc = by_id(draft_of(FIXTURES / "NCT04267848.jsonl"))
    assert "HCV ribonucleic acid [RNA] [qualitative]" in nsclc["I19"].text
    assert nsclc["I20"].text == "Absolute neutrophil count (ANC) >= 1,500/mm^3"
    assert by_id(draft_of(SEED))["I1"].text == "Aged 18~70 years."


def test_quotes_and_backslashes_survive_the_round_trip() -> None:
    draft = draft_of(FIXTURES / "NCT04267848.jsonl")
    text = by_id(draft)["I16"].text
    assert text.startswith('No patients with a "currently active" second malignancy')
    assert r'"No patients with a \"currently active\" second' in draft.text
    protocol = compiled(draft)
    assert next(c for c in protocol.criteria if c.id == "I16").text == text
    odd = draft_protocol(record('Inclusion Criteria:\n* Say "yes" \\\\ or C:\\temp\n'
                                "Exclusion Criteria:\n* b"))
    assert compiled(odd).inclusion[0].text == 'Say "yes" \\ or C:\\temp'


def test_each_criterion_stays_on_one_line() -> None:
    draft = draft_protocol(record("Inclusion Criteria:\n* first line\n    continued\tand\ttabbed\n"
                                  "Exclusion Criteria:\n* b"))
    assert by_id(draft)["I1"].text == "first line continued and tabbed"


# ---- errors -----------------------------------------------------------------------------


def test_missing_eligibility_text_is_a_clear_error(tmp_path: Path) -> None:
    study = json.loads((FIXTURES / "NCT00973089.json").read_text(encoding="utf-8"))
    del study["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    path = tmp_path / "no_criteria.json"
    path.write_text(json.dumps(study), encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        import_ctgov(path)
    assert isinstance(caught.value, EligoError)
    message = caught.value.render()
    assert message.startswith("error[usage]: NCT00973089: the record has no eligibility criteria")
    assert "Traceback" not in message
    with pytest.raises(UsageError, match="no eligibility criteria"):
        draft_protocol(record("   \n"))


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not valid JSON"),
    ('{"hello": 1}', "not a ClinicalTrials.gov study record"),
    ("just some text\n", "neither JSON nor a ClinicalTrials.gov study page"),
    ('{"studies": []}', "holds no study record"),
])
def test_unreadable_files_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "record.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        import_ctgov(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        import_ctgov(tmp_path / "absent.json")


def test_a_page_without_eligibility_is_a_clear_error() -> None:
    page = SEED.read_text(encoding="utf-8")
    cut = page.split("Eligibility Criteria\n")[0] + "Sponsors\n\nQingdao University\n"
    rec = record_from_page(cut)
    assert rec.criteria is None
    with pytest.raises(UsageError, match="NCT01224327: the record has no eligibility"):
        draft_protocol(rec)


# ---- the draft always compiles --------------------------------------------------------


def test_a_rule_the_compiler_rejects_falls_back_to_manual(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    def broken(text: str, section: str, table: object = None) -> ItemCoding:
        if text == "sepsis":
            return ItemCoding("has condition sepsis within 0 days", "auto", ("sepsis",))
        if text == "Pregnancy":
            return ItemCoding("has condition no_such_set", "auto", ("no_such_set",))
        return ItemCoding(f'manual "{text}"', "manual")

    monkeypatch.setattr("eligo.ctgov.code_item", broken)
    draft = draft_of(SEED)
    compiled(draft)
    c = by_id(draft)
    assert c["E5"].rule == 'manual "sepsis"'
    assert c["E5"].coding == "manual"
    assert c["E4"].rule == 'manual "Pregnancy"'
    # E5's error is on its own line; E4's is on the `use` line, which gives up coded rules
    assert any(w.startswith("E5 could not be coded (bad-window") for w in draft.warnings)
    assert "E4 could not be coded (the coded rules did not compile); it is manual" in (
        draft.warnings)
    assert "# not coded: bad-window" in draft.text
    assert draft.auto_coded == 0
    assert "use " not in draft.text


# ---- the phrase table --------------------------------------------------------------------


def test_phrase_table_names_library_sets_of_the_right_kind() -> None:
    table = phrase_table()
    assert len(table.concepts) > 60
    names = {t.name for c in table.concepts for t in c.terms if t.kind != "builtin"}
    assert {"liver_cirrhosis", "hepatocellular_carcinoma", "sepsis", "hiv", "hepatitis_b",
            "systemic_corticosteroids", "anticoagulants", "radiotherapy"} <= names
    assert {"no", "not", "without"} <= table.negation
    assert "on" in table.filler


@pytest.mark.parametrize(("data", "message"), [
    ({"concepts": [{"id": "x", "rule": ["condition no_such_set"], "phrases": ["x"]}]},
     "no value set `no_such_set`"),
    ({"concepts": [{"id": "x", "rule": ["condition anticoagulants"], "phrases": ["x"]}]},
     "is a medication value set"),
    ({"concepts": [{"id": "x", "rule": ["pregnant"], "phrases": [True]}]}, "quote YAML"),
    ({"concepts": [{"id": "x", "rule": [], "phrases": ["x"]}]}, "has no rule"),
])
def test_a_faulty_phrase_table_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_table(data)


# ---- all 221 records of the shared data set ------------------------------------------------


@pytest.mark.skipif(not TRIALS_JSONL.is_file(),
                    reason="../shared/data/ctgov/trials_v2.jsonl is not present")
def test_all_shared_records_draft_and_compile() -> None:
    drafts = []
    for line in TRIALS_JSONL.read_text(encoding="utf-8").splitlines():
        study = json.loads(line)
        draft = draft_protocol(study)
        compiled(draft)
        criteria = study["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
        record_texts(draft, criteria)
        assert not any("could not be coded" in w for w in draft.warnings), draft.nct_id
        drafts.append(draft)
    assert len(drafts) == 221
    bullets = sum(d.bullets for d in drafts)
    auto = sum(d.auto_coded for d in drafts)
    partial = sum(d.partly_coded for d in drafts)
    share = auto / bullets
    print(f"\n221 records, {bullets} bullets: {auto} auto-coded ({share:.1%}; {partial} with a "
          f"manual part), {bullets - auto} manual")
    assert 0.05 < share < 0.5


# ---- the command -----------------------------------------------------------------------------


def test_import_ctgov_command_writes_a_compiling_draft_and_counts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from eligo.cli import app

    out = tmp_path / "draft.elig"
    result = CliRunner().invoke(app, ["import-ctgov", str(SEED), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "11 bullets: 6 auto-coded, 5 manual" in result.output
    protocol = load_protocol(str(out))
    assert protocol.trial_id == "NCT01224327"
    printed = CliRunner().invoke(app, ["import-ctgov", str(SEED)])
    assert printed.stdout == out.read_text(encoding="utf-8")


def test_import_ctgov_command_reports_a_bad_file_without_a_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from eligo.cli import app

    bad = tmp_path / "record.json"
    bad.write_text('{"protocolSection": {"identificationModule": {"nctId": "NCT01234567"}}}',
                   encoding="utf-8")
    result = CliRunner().invoke(app, ["import-ctgov", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "error[" in result.output
