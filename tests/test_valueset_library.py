"""The bundled value-set library (src/eligo/valuesets/*.yaml): every file has the documented
shape and every code in it is a real code of its system.

ICD-10-CM entries are checked against the CMS tables shipped in `simple-icd-10-cm` (exact
codes, `X*` descendants and `A-B` ranges); SNOMED CT, LOINC, RxNorm, CPT and HCPCS codes go
through `eligo.terminology.code_problem`; ATC codes and `*` class prefixes are checked against
the ATC level structure.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from eligo.rules import CodeRef
from eligo.terminology import SYSTEM_URIS, code_problem, normalize_code

LIBRARY = Path(__file__).resolve().parents[1] / "src" / "eligo" / "valuesets"
FILES = sorted(LIBRARY.glob("*.yaml"))

REQUIRED_KEYS = {"name", "title", "kind", "description", "codes", "source"}
KINDS = {"condition", "medication", "procedure"}
NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
ATC = re.compile(r"^[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?\*?$")
# Systems whose codes are checked one by one with eligo's own validator.
CHECKED_BY_ELIGO = ("snomed", "loinc", "rxnorm", "cpt", "hcpcs")

# Concepts the library promises (CKD is one file per stage).
REQUIRED_CONCEPTS = {
    "liver_cirrhosis", "decompensated_cirrhosis", "hepatocellular_carcinoma", "malignancy",
    "pregnancy", "lactation", "sepsis", "heart_failure", "myocardial_infarction", "stroke",
    "ckd_stage_3", "ckd_stage_4", "ckd_stage_5", "acute_kidney_injury",
    "end_stage_renal_disease", "respiratory_failure", "copd", "asthma",
    "portal_vein_thrombosis", "budd_chiari", "hepatic_encephalopathy", "ascites",
    "variceal_bleeding", "hepatitis_b", "hepatitis_c", "hiv", "autoimmune_hepatitis",
    "primary_biliary_cholangitis", "primary_sclerosing_cholangitis", "choledocholithiasis",
    "diabetes_type_1", "diabetes_type_2", "hypertension", "epilepsy", "dementia", "depression",
    "alcohol_use_disorder", "substance_use_disorder", "tuberculosis", "solid_organ_transplant",
    "covid_19", "obesity", "active_infection", "immunosuppressants", "systemic_corticosteroids",
    "anticoagulants", "chemotherapy", "sterilisation_procedures",
}


@cache
def icd() -> ModuleType:
    # simple-icd-10-cm reads its tables through a deprecated importlib API.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


def is_code(code: str) -> bool:
    """A category or code, not a chapter or block. Some names are both a block and its only
    category (B20, B99, I81...): those are codes."""
    tables = icd()
    return bool(
        tables.is_valid_item(code) and not tables.is_chapter(code)
        and (not tables.is_block(code) or tables.is_category(code))
    )


@cache
def icd_codes() -> tuple[str, ...]:
    """Every ICD-10-CM category and code (chapters and blocks left out), dotted."""
    return tuple(sorted({code for code in icd().get_all_codes(with_dots=True) if is_code(code)}))


@cache
def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: top level must be a mapping"
    return data


def entries(path: Path, system: str) -> list[str]:
    listed = load(path)["codes"].get(system) or []
    return list(listed)


def icd_problem(entry: str) -> str | None:
    """Why an ICD-10-CM entry (exact, `X*` or `A-B`) is not valid, or None."""
    tables = icd()

    def bad_code(code: str) -> str | None:
        if code != normalize_code("icd10cm", code):
            return f"{code} is not in canonical spelling ({normalize_code('icd10cm', code)})"
        if not tables.is_valid_item(code):
            return f"{code} is not an ICD-10-CM code"
        if not is_code(code):
            return f"{code} is an ICD-10-CM chapter or block, not a code"
        return None

    if "-" in entry:
        low, _, high = entry.partition("-")
        for end in (low, high):
            if problem := bad_code(end):
                return f"range {entry}: {problem}"
        if low > high:
            return f"range {entry} runs backwards"
        return None
    return bad_code(entry.removesuffix("*"))


@cache
def icd_expansion(entry: str) -> frozenset[str]:
    """The ICD-10-CM codes an entry stands for (ranges compared at each end's length)."""
    if "-" in entry:
        low, _, high = entry.partition("-")
        return frozenset(c for c in icd_codes() if low <= c[: len(low)] and c[: len(high)] <= high)
    if entry.endswith("*"):
        base = entry[:-1]
        return frozenset([base, *(c for c in icd().get_descendants(base) if is_code(c))])
    return frozenset([entry])


def test_library_holds_at_least_45_concepts() -> None:
    assert len(FILES) >= 45, f"only {len(FILES)} value sets in {LIBRARY}"


def test_library_holds_the_promised_concepts() -> None:
    missing = REQUIRED_CONCEPTS - {path.stem for path in FILES}
    assert not missing, f"missing value sets: {sorted(missing)}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_schema(path: Path) -> None:
    data = load(path)
    assert set(data) == REQUIRED_KEYS, f"keys {sorted(data)} != {sorted(REQUIRED_KEYS)}"
    assert data["name"] == path.stem
    assert NAME.match(data["name"]), "name must be lower_snake_case"
    assert data["kind"] in KINDS
    for key in ("title", "description", "source"):
        assert isinstance(data[key], str), f"{key} must be text"
        assert data[key].strip(), f"{key} is empty"
    codes = data["codes"]
    assert isinstance(codes, dict), "codes must map a system to a list of codes"
    unknown = sorted(set(codes) - set(SYSTEM_URIS))
    assert not unknown, f"unknown code systems {unknown}"
    total = 0
    for system, listed in codes.items():
        assert isinstance(listed, list), f"codes.{system} must be a list"
        for code in listed:
            assert isinstance(code, str), f"codes.{system}: {code!r} must be a string (quote it)"
            assert code, f"codes.{system}: empty code"
            assert code == code.strip(), f"codes.{system}: {code!r} has stray spaces"
        total += len(listed)
    assert total >= 1, "a value set needs at least one code"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_wildcards_and_ranges_only_where_supported(path: Path) -> None:
    for system, listed in load(path)["codes"].items():
        for code in listed or []:
            if code.endswith("*"):
                assert system in ("icd10cm", "atc"), f"{system} {code}: `*` needs a hierarchy"
            if "-" in code and system != "loinc":
                assert system == "icd10cm", f"{system} {code}: ranges are ICD-10-CM only"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_icd10cm_codes_are_valid(path: Path) -> None:
    problems = [p for entry in entries(path, "icd10cm") if (p := icd_problem(entry))]
    assert not problems, problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("system", CHECKED_BY_ELIGO)
def test_codes_pass_eligo_validation(path: Path, system: str) -> None:
    problems = [
        p for code in entries(path, system) if (p := code_problem(CodeRef(system, code)))
    ]
    assert not problems, problems


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_atc_codes_follow_the_atc_structure(path: Path) -> None:
    for code in entries(path, "atc"):
        assert ATC.match(code), f"{code} is not an ATC code or class prefix"
        if code.endswith("*"):
            assert len(code) - 1 < 7, f"{code}: a full substance code has no descendants"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_no_duplicate_codes(path: Path) -> None:
    for system, listed in load(path)["codes"].items():
        seen = [normalize_code(system, code) for code in listed or []]
        duplicates = sorted({code for code in seen if seen.count(code) > 1})
        assert not duplicates, f"{system}: {duplicates} listed twice"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_no_icd10cm_entry_is_covered_by_another(path: Path) -> None:
    listed = [e for e in entries(path, "icd10cm") if icd_problem(e) is None]
    for entry in listed:
        covered_by = [
            other for other in listed
            if other != entry and icd_expansion(entry) <= icd_expansion(other)
        ]
        assert not covered_by, f"{entry} is already covered by {covered_by}"
