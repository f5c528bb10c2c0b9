"""The observation library (eligo.observations and its library.yaml)."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from eligo import Patient, Screener
from eligo.compiler import compile_text
from eligo.observations import (
    ObservationEntry,
    entries,
    entries_for_code,
    library,
    lookup,
    normalise_qualitative,
    ordinal_index,
    suggest,
    to_canonical,
)
from eligo.result import CriterionResult
from eligo.rules import CodeRef
from eligo.terminology import code_problem
from eligo.units import UnitError, convert, parse_unit, same_dimension

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


def _entry(name: str) -> ObservationEntry:
    entry = lookup(name)
    assert entry is not None, name
    return entry


def _raw() -> dict[str, Any]:
    text = resources.files("eligo.observations").joinpath("library.yaml").read_text("utf-8")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def test_data_file_ships_inside_the_package() -> None:
    assert resources.files("eligo.observations").joinpath("library.yaml").is_file()


def test_counts() -> None:
    kinds = Counter(e.kind for e in entries())
    assert kinds["quantity"] >= 40
    assert kinds["score"] + kinds["ordinal"] >= 8
    assert kinds["qualitative"] >= 10


REQUIRED = [
    # quantities named in the design brief
    "bilirubin", "bilirubin_direct", "albumin", "inr", "pt", "ptt", "creatinine",
    "creatinine_clearance", "egfr", "bun", "sodium", "potassium", "alt", "ast", "alp", "ggt",
    "platelets", "wbc", "anc", "lymphocytes", "hemoglobin", "hba1c", "glucose", "afp",
    "hbv_dna", "hcv_viral_load", "hiv_viral_load", "cd4", "lipase", "tsh", "troponin_i",
    "troponin_t", "bnp", "nt_probnp", "crp", "lactate", "lvef", "spo2", "sbp", "dbp",
    "heart_rate", "qt", "qtcf", "weight", "height", "bmi",
    # scores and ordinals
    "ecog", "karnofsky", "asa_class", "nyha", "gcs", "west_haven", "phq9", "mmse",
    # qualitative
    "hbsag", "hbc_ab", "hcv_ab", "hcv_rna", "hiv_ab", "serum_hcg", "urine_hcg",
    "sars_cov_2_rna", "tb_igra", "c_diff_toxin", "syphilis_nontreponemal",
    "syphilis_treponemal",
    # added for criteria the first set could not express
    "sweat_chloride", "ogtt_glucose_2h", "liver_stiffness", "mitral_valve_area",
    "alcohol_drinks_per_day", "hamd", "hama", "mdq", "audit_c", "fitzpatrick_skin_type",
    "liver_fibrosis_stage", "anti_hbc_igm", "hiv_dna", "sars_cov_2_antigen", "sars_cov_2_igg",
    "sars_cov_2_igm",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_required_entry_exists(name: str) -> None:
    assert _entry(name).name == name


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e.name)
def test_entry_schema(entry: ObservationEntry) -> None:
    assert NAME.match(entry.name)
    assert all(NAME.match(a) for a in entry.aliases)
    assert entry.title.strip()
    assert entry.freshness_days >= 1
    assert entry.freshness_rationale.strip()
    for code in entry.loinc_codes:
        assert code.display.strip()
        assert code.evidence
    if entry.kind == "quantity":
        assert entry.unit is not None
        assert entry.score_range is None
        assert not entry.levels
        # Only viral loads are also read as detected / not detected.
        assert entry.detectable == entry.name.endswith(("_viral_load", "_dna"))
        assert (entry.molar_mass is None) == (entry.molar_mass_source is None)
        assert entry.loinc, "a quantity no record can be matched to would be useless"
    elif entry.kind == "score":
        assert entry.score_range is not None
        assert entry.score_range[0] < entry.score_range[1]
        assert entry.unit is None
        assert entry.scale_source
    elif entry.kind == "ordinal":
        assert entry.levels
        assert len(entry.levels) == len(entry.level_values)
        assert list(entry.level_values) == sorted(set(entry.level_values))
        assert entry.unit is None
        assert entry.scale_source
    else:
        assert entry.kind == "qualitative"
        assert entry.answers
        assert entry.loinc
        assert set(entry.answers.values()) == {"positive", "negative", "indeterminate"}


def test_entries_without_codes_are_the_known_unconfirmed_ones() -> None:
    # No LOINC or SNOMED code could be confirmed for these scales; they resolve by name only.
    codeless = {e.name for e in entries() if not e.loinc and not e.snomed}
    assert codeless == {"asa_class", "west_haven", "liver_fibrosis_stage", "hamd", "hama"}


def test_yaml_has_no_unknown_top_level_keys() -> None:
    assert set(_raw()) == {"version", "freshness", "answer_sets", "entries"}


def test_every_freshness_rationale_is_used() -> None:
    doc = _raw()
    used = {e["freshness_basis"] for e in doc["entries"]}
    assert used == set(doc["freshness"])


# ---------------------------------------------------------------------------------- codes


def _all_loinc() -> list[str]:
    return [c for e in entries() for c in e.loinc]


def test_every_loinc_code_passes_its_check_digit() -> None:
    problems = {c: code_problem(CodeRef("loinc", c)) for c in _all_loinc()}
    assert {c: p for c, p in problems.items() if p} == {}


def test_every_snomed_code_passes_its_check_digit() -> None:
    codes = [c for e in entries() for c in e.snomed]
    codes += [k for e in entries() for k in e.answers if k.isdigit()]
    assert codes
    problems = {c: code_problem(CodeRef("snomed", c)) for c in codes}
    assert {c: p for c, p in problems.items() if p} == {}


def test_loinc_answer_codes_have_the_la_form() -> None:
    # LOINC answer ids (LA...) do not use the term codes' mod-10 check digit, so only
    # their form can be checked here; each was confirmed against published value sets.
    answer_codes = {k for e in entries() for k in e.answers if k.startswith("LA")}
    assert {"LA6576-8", "LA6577-6", "LA11882-0", "LA11883-8", "LA11884-6"} <= answer_codes
    assert all(re.fullmatch(r"LA\d{1,6}-\d", k) for k in answer_codes)


def test_codes_are_not_listed_twice_within_an_entry() -> None:
    for entry in entries():
        assert len(set(entry.loinc)) == len(entry.loinc), entry.name


def test_no_loinc_code_belongs_to_two_entries() -> None:
    counts = Counter(_all_loinc())
    assert [c for c, n in counts.items() if n > 1] == []


def test_entries_for_code() -> None:
    assert [e.name for e in entries_for_code("loinc", "1975-2")] == ["bilirubin"]
    assert [e.name for e in entries_for_code("loinc", "14631-6")] == ["bilirubin"]
    assert [e.name for e in entries_for_code("snomed", "34608000")] == ["alt"]
    assert entries_for_code("loinc", "0000-0") == ()


def _codings(paths: Iterator[Path]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            system, code = node.get("system"), node.get("code")
            if isinstance(system, str) and isinstance(code, str):
                found.add((system.rstrip("/"), code))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
        if ".ndjson" in path.name:
            for line in text.splitlines():
                if line.strip():
                    walk(json.loads(line))
        else:
            walk(json.loads(text))
    return found


@pytest.fixture(scope="module")
def local_evidence() -> dict[str, set[tuple[str, str]]]:
    if not SHARED_DATA.is_dir():
        pytest.skip("shared/data is not beside the project")
    fhir = SHARED_DATA / "fhir"
    bundles = sorted(fhir.glob("synthea*/*"))
    synthea = _codings(p for p in bundles if p.name.endswith((".json.gz", ".ndjson.gz", ".json")))
    hl7 = _codings(p for p in sorted(fhir.glob("hl7_fhir_r4_examples/*/*.json")))
    with (SHARED_DATA / "omop" / "synthea27nj" / "CONCEPT.csv").open(encoding="utf-8") as fh:
        omop = {(r["vocabulary_id"], r["concept_code"]) for r in csv.DictReader(fh)}
    return {"synthea": synthea, "hl7": hl7, "omop": omop}


LOINC_URI = "http://loinc.org"
SNOMED_URI = "http://snomed.info/sct"


def test_local_evidence_claims_hold(local_evidence: dict[str, set[tuple[str, str]]]) -> None:
    """Every code said to be seen in shared/data really is there, under the LOINC system."""
    wrong = []
    checked = 0
    for entry in entries():
        for code in entry.loinc_codes:
            for source in code.evidence:
                if source in ("synthea", "hl7"):
                    ok = (LOINC_URI, code.code) in local_evidence[source]
                elif source == "omop":
                    ok = ("LOINC", code.code) in local_evidence["omop"]
                else:
                    continue
                checked += 1
                if not ok:
                    wrong.append((entry.name, code.code, source))
    assert wrong == []
    assert checked > 100


def test_snomed_codes_are_seen_in_local_data(
    local_evidence: dict[str, set[tuple[str, str]]],
) -> None:
    seen = local_evidence["synthea"] | local_evidence["hl7"]
    entry_codes = {c for e in entries() for c in e.snomed}
    assert {c for c in entry_codes if (SNOMED_URI, c) not in seen} == set()
    # the answer codes the brief names
    for code in ("10828004", "260385009", "260373001", "260415000"):
        assert (SNOMED_URI, code) in seen


# ---------------------------------------------------------------------------------- units


QUANTITIES = [e for e in entries() if e.kind == "quantity"]


@pytest.mark.parametrize("entry", QUANTITIES, ids=lambda e: e.name)
def test_canonical_unit_parses_and_is_ucum(entry: ObservationEntry) -> None:
    assert entry.unit is not None
    unit = parse_unit(entry.unit)
    assert unit.ucum == entry.unit, "the canonical unit must already be written in UCUM"


def test_per_code_units_convert_or_differ_only_by_arbitrary_units() -> None:
    for entry in entries():
        for code in entry.loinc_codes:
            if code.unit is None or entry.unit is None:
                continue
            if same_dimension(code.unit, entry.unit, molar_factor=entry.molar_factor,
                              iu_equals_u=entry.iu_equals_u):
                continue
            if any(code.unit == alt.unit for alt in entry.alternative_units):
                continue
            # copies/mL vs [IU]/mL: assay-specific, deliberately not converted
            assert parse_unit(code.unit).arbitrary != parse_unit(entry.unit).arbitrary, (
                entry.name, code.code
            )


def test_molar_masses_only_where_a_molar_code_or_unit_exists() -> None:
    for entry in entries():
        if entry.molar_mass is None:
            continue
        assert entry.unit is not None
        assert parse_unit(entry.unit).dimensionality == "[mass] / [length] ** 3" or (
            parse_unit(entry.unit).dimensionality == "[substance] / [length] ** 3"
        ), entry.name


# ---------------------------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    "entry", [e for e in entries() if e.reference_range is not None], ids=lambda e: e.name
)
def test_reference_range_is_ordered_and_cited(entry: ObservationEntry) -> None:
    rr = entry.reference_range
    assert rr is not None
    assert rr.source.strip()
    assert rr.low is not None or rr.high is not None
    if rr.low is not None and rr.high is not None:
        assert rr.low < rr.high


_SOURCE_RANGE = re.compile(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?) ([^\s,;()]+)")


def test_reference_ranges_are_in_the_canonical_unit() -> None:
    """Where the cited source states its range in another unit, the library's numbers are that
    range converted (2 % tolerance for rounding) -- which catches a range left unconverted."""
    checked = 0
    for entry in entries():
        rr = entry.reference_range
        if rr is None or rr.low is None or rr.high is None or entry.unit is None:
            continue
        match = _SOURCE_RANGE.search(rr.source)
        if match is None:
            continue
        low, high, unit = float(match[1]), float(match[2]), match[3]
        try:
            converted = [
                convert(v, unit, entry.unit, molar_factor=entry.molar_factor,
                        iu_equals_u=entry.iu_equals_u)
                for v in (low, high)
            ]
        except UnitError:
            continue
        assert converted[0] == pytest.approx(rr.low, rel=0.02, abs=0.01), entry.name
        assert converted[1] == pytest.approx(rr.high, rel=0.02, abs=0.01), entry.name
        checked += 1
    assert checked >= 20


# ---------------------------------------------------------------------------------- names


def test_names_and_aliases_are_unique_across_the_library() -> None:
    raw = _raw()["entries"]
    names = [n for e in raw for n in (e["name"], *e.get("aliases", []))]
    assert [n for n, k in Counter(names).items() if k > 1] == []
    assert len(library()) == len(names)


def test_library_maps_every_alias() -> None:
    lib = library()
    assert lib["tbili"] is lib["bilirubin"]
    assert lib["total_bilirubin"].name == "bilirubin"
    assert lib["aptt"].name == "ptt"
    assert lib["anti_hcv"].name == "hcv_ab"
    with pytest.raises(TypeError):
        lib["new"] = lib["bilirubin"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "name"),
    [("Bilirubin", "bilirubin"), ("TBILI", "bilirubin"), ("total bilirubin", "bilirubin"),
     ("ECOG", "ecog"), ("nt-probnp", "nt_probnp"), ("HBsAg", "hbsag"), ("qtc-fridericia", "qtcf")],
)
def test_lookup_is_forgiving_about_case_and_separators(text: str, name: str) -> None:
    assert _entry(text).name == name


def test_lookup_unknown_and_suggest() -> None:
    assert lookup("bilirubinn") is None
    assert suggest("bilirubinn") == "bilirubin"
    assert suggest("plateletts") in ("platelets", "platelet_count")
    assert suggest("hbsagg") == "hbsag"
    assert suggest("zzzzzz") is None


def test_entries_are_immutable() -> None:
    entry = entries()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        entry.answers["x"] = "positive"  # type: ignore[index]
    assert repr(entry) == f"ObservationEntry({entry.name!r}, kind={entry.kind!r})"
    assert hash(entry) == hash(lookup(entry.name))


# ---------------------------------------------------------------------------------- values

QUALITATIVE = [
    ("POS", "positive"), ("Positive", "positive"), ("positive", "positive"), ("+", "positive"),
    ("Reactive", "positive"), ("REACTIVE", "positive"), ("Repeatedly reactive", "positive"),
    ("Detected", "positive"), ("DETECTED", "positive"),
    ("Non-reactive", "negative"), ("Nonreactive", "negative"), ("Non reactive", "negative"),
    ("NEG", "negative"), ("Negative", "negative"), ("-", "negative"),
    ("Not detected", "negative"), ("NOT DETECTED", "negative"), ("Not-Detected", "negative"),
    ("Indeterminate", "indeterminate"), ("Equivocal", "indeterminate"),
    ("Inconclusive", "indeterminate"), ("Borderline", "indeterminate"),
    # LOINC answer codes (LL360-9 Pos/Neg, LL744-4 Detected/Not detected)
    ("LA6576-8", "positive"), ("LA6577-6", "negative"), ("la6576-8", "positive"),
    ("LA11882-0", "positive"), ("LA11883-8", "negative"), ("LA11884-6", "indeterminate"),
    ("LA15255-5", "positive"), ("LA15256-3", "negative"),
    # SNOMED CT qualifier values
    ("10828004", "positive"), ("260385009", "negative"), ("260373001", "positive"),
    ("260415000", "negative"), ("11214006", "positive"), ("131194007", "negative"),
    ("82334004", "indeterminate"), ("42425007", "indeterminate"),
    ("http://snomed.info/sct|260385009", "negative"),
    ("Negative (qualifier value)", "negative"), ("Detected (qualifier value)", "positive"),
    (True, "positive"), (False, "negative"),
]


@pytest.mark.parametrize(("value", "expected"), QUALITATIVE)
def test_normalise_qualitative(value: object, expected: str) -> None:
    for name in ("hbsag", "hcv_rna", "serum_hcg", "syphilis_nontreponemal"):
        entry = _entry(name)
        assert normalise_qualitative(entry, value) == expected


@pytest.mark.parametrize("value", ["", "weird", "see note", 1.0, 0, None, "pending", "LA9999-9"])
def test_unreadable_qualitative_values_are_none(value: object) -> None:
    entry = _entry("hbsag")
    assert normalise_qualitative(entry, value) is None


def test_normalise_qualitative_on_another_kind_is_none() -> None:
    entry = _entry("bilirubin")
    assert normalise_qualitative(entry, "positive") is None


ORDINALS = [
    ("nyha", "II", 1), ("nyha", "2", 1), ("nyha", 2, 1), ("nyha", "class II", 1),
    ("nyha", "Class 2", 1), ("nyha", "NYHA class III", 2), ("nyha", "nyha iv", 3),
    ("nyha", "I", 0), ("nyha", "V", None), ("nyha", "0", None), ("nyha", "class", None),
    ("asa_class", "ASA III", 2), ("asa_class", "asa 2", 1), ("asa_class", "IIIE", 2),
    ("asa_class", "ASA IVE", 3), ("asa_class", "VI", 5), ("asa_class", "VII", None),
    ("ecog", "0", 0), ("ecog", "1", 1), ("ecog", 1, 1), ("ecog", 1.0, 1), ("ecog", 1.5, None),
    ("ecog", "ECOG 2", 2), ("ecog", "PS 1", 1), ("ecog", "ECOG PS: 3", 3), ("ecog", "6", None),
    ("west_haven", "grade 2", 2), ("west_haven", "II", 2), ("west_haven", "0", 0),
    ("west_haven", "4", 4), ("west_haven", "five", None),
    ("ecog", True, None), ("ecog", None, None),
]


@pytest.mark.parametrize(("name", "label", "expected"), ORDINALS)
def test_ordinal_index(name: str, label: object, expected: int | None) -> None:
    entry = _entry(name)
    assert ordinal_index(entry, label) == expected


def test_ordinal_index_on_another_kind_is_none() -> None:
    entry = _entry("karnofsky")
    assert ordinal_index(entry, "70") is None


def test_scales() -> None:
    assert _entry("karnofsky").score_range == (0, 100)
    assert _entry("karnofsky").score_step == 10
    assert _entry("gcs").score_range == (3, 15)
    assert _entry("phq9").score_range == (0, 27)
    assert _entry("mmse").score_range == (0, 30)
    assert _entry("ecog").levels == ("0", "1", "2", "3", "4", "5")
    assert _entry("asa_class").levels == ("I", "II", "III", "IV", "V", "VI")
    assert _entry("nyha").levels == ("I", "II", "III", "IV")
    assert _entry("west_haven").levels == ("0", "1", "2", "3", "4")


# ---------------------------------------------------------------------------------- canonical


@pytest.mark.parametrize(
    ("name", "value", "unit", "expected"),
    [
        ("bilirubin", 51.3, "µmol/L", 3.0),
        ("bilirubin", 3.0, "mg/dL", 3.0),
        ("bilirubin", 3.0, None, 3.0),
        ("creatinine", 88.4, "umol/L", 1.0),
        ("glucose", 5.55, "mmol/L", 100.0),
        ("bun", 5.0, "mmol/L", 14.0),
        ("albumin", 35.0, "g/L", 3.5),
        ("hemoglobin", 135.0, "g/L", 13.5),
        ("platelets", 150000.0, "/mm3", 150.0),
        ("platelets", 150.0, "K/uL", 150.0),
        ("alt", 40.0, "IU/L", 40.0),  # laboratories' IU/L for an enzyme is the enzyme unit
        ("alt", 1.0, "ukat/L", 60.0),
        ("tsh", 2.0, "mU/L", 2.0),
        ("hba1c", 48.0, "mmol/mol", 6.54),  # IFCC -> NGSP master equation, not x 0.1
        ("hba1c", 0.065, "1", 6.5),
        ("lvef", 0.55, "1", 55.0),
        ("weight", 154.0, "lbs", 69.85),
        ("troponin_i", 0.04, "ng/mL", 40.0),
        ("egfr", 60.0, "mL/min/1.73m2", 60.0),
        ("temperature", 98.6, "°F", 37.0),
    ],
)
def test_to_canonical(name: str, value: float, unit: str | None, expected: float) -> None:
    entry = _entry(name)
    assert to_canonical(entry, value, unit) == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize(
    ("name", "unit"),
    [("hbv_dna", "copies/mL"), ("creatinine", "U/L"), ("hiv_viral_load", "IU/mL"),
     ("platelets", "mg/dL"), ("hba1c", "mmol/L")],
)
def test_to_canonical_refuses_what_does_not_convert(name: str, unit: str) -> None:
    entry = _entry(name)
    with pytest.raises(UnitError):
        to_canonical(entry, 1.0, unit)


def test_to_canonical_needs_a_quantity() -> None:
    entry = _entry("ecog")
    with pytest.raises(UnitError, match="not a quantity"):
        to_canonical(entry, 1.0, None)


# ---------------------------------------------------------------------------------- added entries
#
# Behaviour of the entries added for sweat tests, OGTT, elastography, psychiatric scales,
# alcohol use, skin type and further infection tests, screened end to end.

AS_OF = date(2026, 1, 15)


def _result(code: str, value: object, unit: str | None = None, *, days: int = 5,
            system: str = "loinc", id: str = "r1") -> dict[str, Any]:
    found: dict[str, Any] = {"id": id, "codes": [{"system": system, "code": code}],
                             "value": value, "date": (AS_OF - timedelta(days=days)).isoformat()}
    if unit is not None:
        found["unit"] = unit
    return found


def _screen(rule: str, *results: dict[str, Any]) -> CriterionResult:
    text = (f'trial T-LIB\ninclusion\n  X1 "tested": {rule}\nexclusion\n'
            '  E0 "companion" [closed world]: has condition [icd10cm Z99.89]\n')
    patient = Patient.model_validate({"id": "P1", "observations": list(results)})
    return Screener(compile_text(text)).screen(patient, AS_OF).criterion("X1")


def _truth(rule: str, *results: dict[str, Any]) -> str:
    return _screen(rule, *results).truth


ADDED_CODES = {
    "sweat_chloride": ["2077-6"],
    "ogtt_glucose_2h": ["1518-0", "14995-5"],
    "liver_stiffness": ["77615-3"],
    "mitral_valve_area": ["80069-8"],
    "alcohol_drinks_per_day": ["74013-4"],
    "mdq": ["84773-1"],
    "audit_c": ["75626-2"],
    "fitzpatrick_skin_type": ["66555-4"],
    "anti_hbc_igm": ["31204-1", "24113-3"],
    "hiv_dna": ["9836-8", "44871-2"],
    "sars_cov_2_antigen": ["94558-4", "95209-3", "97097-0"],
    "sars_cov_2_igg": ["94563-4", "94507-1"],
    "sars_cov_2_igm": ["94564-2", "94508-9"],
}


@pytest.mark.parametrize(("name", "codes"), sorted(ADDED_CODES.items()))
def test_added_entries_are_found_by_their_codes(name: str, codes: list[str]) -> None:
    assert list(_entry(name).loinc) == codes
    for code in codes:
        assert [e.name for e in entries_for_code("loinc", code)] == [name]


def test_sweat_chloride_is_compared_in_mmol_per_litre() -> None:
    entry = _entry("sweat_chloride")
    assert (entry.kind, entry.unit, entry.freshness_days) == ("quantity", "mmol/L", 365)
    assert entry.reference_range is not None
    assert entry.reference_range.high == 29
    rule = "sweat_chloride >= 60 mmol/L"
    positive = _screen(rule, _result("2077-6", 72, "mmol/L", id="sweat"))
    assert positive.truth == "true"
    assert positive.reason == (
        f"Chloride, sweat (sweat test) 72 mmol/L on {AS_OF - timedelta(5)} is >= 60 mmol/L"
    )
    assert [(e.record_id, e.code) for e in positive.evidence] == [("sweat", "2077-6")]
    assert _truth(rule, _result("2077-6", 45, "mmol/L")) == "false"
    assert _truth(rule, _result("2077-6", 60, "mEq/L")) == "true"  # chloride is monovalent
    assert _truth(rule, _result("2077-6", 72, "mmol/L", days=400)) == "unknown"
    assert _truth(rule + " ever", _result("2077-6", 72, "mmol/L", days=4000)) == "true"
    # The serum chloride code does not count for the sweat test.
    assert _truth(rule, _result("2075-0", 104, "mmol/L")) == "unknown"


def test_ogtt_two_hour_glucose_converts_like_glucose() -> None:
    entry = _entry("ogtt_glucose_2h")
    assert entry.molar_mass == _entry("glucose").molar_mass
    assert to_canonical(entry, 7.8, "mmol/L") == pytest.approx(140.5, rel=1e-3)
    assert to_canonical(entry, 11.1, "mmol/L") == pytest.approx(200.0, rel=2e-3)
    rule = "ogtt_glucose_2h >= 200 mg/dL"
    assert _truth(rule, _result("14995-5", 11.2, "mmol/L")) == "true"
    assert _truth(rule, _result("1518-0", 180, "mg/dL")) == "false"
    assert _truth("ogtt_2h between 7.8 and 11.0 mmol/L", _result("1518-0", 150, "mg/dL")) == "true"
    # A random glucose is another test.
    assert _truth(rule, _result("2345-7", 250, "mg/dL")) == "unknown"


@pytest.mark.parametrize(("label", "index"), [
    ("I", 0), ("III", 2), ("VI", 5), ("Type III", 2), ("type iv", 3), ("skin type 4", 3),
    ("Fitzpatrick V", 4), ("phototype II", 1), (2, 1), ("6", 5), ("VII", None), ("0", None),
    ("fair", None),
])
def test_fitzpatrick_labels(label: object, index: int | None) -> None:
    assert ordinal_index(_entry("fitzpatrick_skin_type"), label) == index


def test_fitzpatrick_is_compared_by_order() -> None:
    assert _entry("fitzpatrick_skin_type").levels == ("I", "II", "III", "IV", "V", "VI")
    fair = _result("66555-4", "Type II")
    assert _truth("fitzpatrick_skin_type in [I, II, III]", fair) == "true"
    assert _truth("fitzpatrick_skin_type <= III", fair) == "true"
    assert _truth("fitzpatrick_skin_type >= IV", fair) == "false"
    assert _truth("fitzpatrick_skin_type >= 4", _result("66555-4", "V")) == "true"
    # Skin type is constitutional: a record from three years ago still counts.
    assert _truth("fitzpatrick_skin_type >= IV", _result("66555-4", "VI", days=1100)) == "true"
    off_scale = _screen("fitzpatrick_skin_type >= IV", _result("66555-4", "olive"))
    assert off_scale.truth == "unknown"
    assert "is not a level of the scale" in off_scale.reason


def test_metavir_stage_has_no_code_and_is_recorded_by_name() -> None:
    entry = _entry("liver_fibrosis_stage")
    assert entry.levels == ("F0", "F1", "F2", "F3", "F4")
    assert [ordinal_index(entry, v) for v in ("F3", "stage F2", "METAVIR F4", 1, "F5")] == [
        3, 2, 4, 1, None]
    assert _truth("liver_fibrosis_stage >= F3",
                  _result("liver_fibrosis_stage", "F3", system="eligo")) == "true"
    assert _truth("liver_fibrosis_stage in [F2, F3]",
                  _result("metavir", "F1", system="eligo")) == "false"
    assert _truth("liver_fibrosis_stage >= F3",
                  _result("liver_fibrosis_stage", "F4", system="eligo", days=200)) == "unknown"


@pytest.mark.parametrize(("value", "truth"), [
    ("Not detected", "true"), ("Negative", "true"), ("LA11883-8", "true"), ("LA6577-6", "true"),
    ("260415000", "true"), ("http://snomed.info/sct|260385009", "true"),
    ("Detected", "false"), ("POS", "false"), ("LA11882-0", "false"), ("10828004", "false"),
    ("LA11884-6", "unknown"), ("Invalid", "unknown"), ("see note", "unknown"),
])
def test_sars_cov_2_antigen_with_coded_answers(value: str, truth: str) -> None:
    for code in ADDED_CODES["sars_cov_2_antigen"]:
        assert _truth("sars_cov_2_antigen is negative", _result(code, value)) == truth


def test_sars_cov_2_antigen_is_an_acute_test() -> None:
    entry = _entry("sars_cov_2_antigen")
    assert entry.freshness_days == 7
    assert normalise_qualitative(entry, "LA11882-0") == "positive"
    stale = _screen("sars_cov_2_antigen is negative", _result("94558-4", "Negative", days=10))
    assert stale.truth == "unknown"
    assert stale.reason.endswith("is older than 7 days")
    # A PCR result is not an antigen result, and the reverse.
    assert _truth("sars_cov_2_antigen is negative", _result("94500-6", "Not detected")) == "unknown"
    assert _truth("sars_cov_2_rna is negative", _result("94558-4", "Negative")) == "unknown"


def test_antibody_and_dna_tests_read_presence_answers() -> None:
    assert _truth("sars_cov_2_igg is positive", _result("94507-1", "Reactive")) == "true"
    assert _truth("sars_cov_2_igm is positive", _result("94564-2", "Non-reactive")) == "false"
    assert _truth("anti_hbc_igm is negative", _result("31204-1", "NEG")) == "true"
    assert _truth("hiv_dna is detected", _result("44871-2", "DETECTED")) == "true"
    assert _truth("hiv_dna is undetected", _result("9836-8", "LA11883-8")) == "true"
    # IgM and total core antibody are different tests.
    assert _truth("anti_hbc_igm is positive", _result("13952-7", "Reactive")) == "unknown"


def test_added_scores() -> None:
    assert _entry("hamd").score_range == (0, 52)
    assert _entry("hama").score_range == (0, 56)
    assert _entry("mdq").score_range == (0, 13)
    assert _entry("audit_c").score_range == (0, 12)
    assert _truth("hamd >= 18", _result("hamd", 22, system="eligo")) == "true"
    assert _truth("hamd >= 18", _result("hdrs", 12, system="eligo")) == "false"
    assert _truth("hama < 18", _result("ham_a", 12, system="eligo")) == "true"
    assert _truth("mdq >= 7", _result("84773-1", 9)) == "true"
    assert _truth("audit_c >= 4", _result("75626-2", 3)) == "false"


def test_alcohol_is_counted_in_standard_drinks() -> None:
    """Records count drinks; grams a day convert through LOINC 74013-4's 14 g standard
    drink, and no other mass rate does (no code for grams per day is pretended)."""
    entry = _entry("alcohol_drinks_per_day")
    assert entry.unit == "{drinks}/d"
    assert to_canonical(entry, 14, "{drinks}/wk") == pytest.approx(2.0)
    assert to_canonical(entry, 28, "g/d") == pytest.approx(2.0)
    with pytest.raises(UnitError):
        to_canonical(entry, 20, "mg/d")
    assert lookup("alcohol_intake") is None
    rule = "alcohol_drinks_per_day > 2 {drinks}/d"
    assert _truth(rule, _result("74013-4", 3, "/d")) == "true"
    assert _truth(rule, _result("74013-4", 14, "{drinks}/wk")) == "false"


def test_liver_stiffness_and_mitral_valve_area() -> None:
    stiffness = _entry("liver_stiffness")
    assert (stiffness.unit, stiffness.freshness_days) == ("kPa", 180)
    assert _truth("liver_stiffness >= 12.5 kPa", _result("77615-3", 14.1, "kPa")) == "true"
    assert _truth("lsm < 8 kPa", _result("77615-3", 6.0, "kPa", days=150)) == "true"
    assert _truth("lsm < 8 kPa", _result("77615-3", 6.0, "kPa", days=200)) == "unknown"
    assert _entry("mitral_valve_area").unit == "cm2"
    assert _truth("mitral_valve_area <= 1.5 cm2", _result("80069-8", 1.1, "cm2")) == "true"
    assert _truth("mva <= 1.5 cm2", _result("80069-8", 180, "mm2")) == "false"
