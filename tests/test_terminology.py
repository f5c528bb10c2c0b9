"""Code systems: validity checks, normalisation and value-set matching."""

from __future__ import annotations

import pytest

from eligo.rules import CodeMatch, CodeRef
from eligo.terminology import (
    Icd10cmList,
    _icd10cm,
    _listed_codes,
    code_problem,
    compile_matcher,
    icd10cm_expansion,
    icd10cm_list,
    normalize_code,
    system_name,
)


def problem(system: str, code: str, match: CodeMatch = "exact") -> str | None:
    return code_problem(CodeRef(system, code, match))


# ---- ICD-10-CM ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["K74.60", "K74.6", "K74", "C22.0", "C7A.00", "C4A.9", "Z33.1", "O09.511", "k7460",
     "K7460", "A41.9"],
)
def test_valid_icd10cm(code: str) -> None:
    assert problem("icd10cm", code) is None


@pytest.mark.parametrize("code", ["K74.99", "K7", "Q99.99", "KK4.60", "123", "K74.6000"])
def test_invalid_icd10cm(code: str) -> None:
    assert problem("icd10cm", code) == f"{code} is not an ICD-10-CM code"


def test_icd10cm_ranges_and_descendants() -> None:
    assert problem("icd10cm", "C00-C96", "range") is None
    assert problem("icd10cm", "K74.6", "descendants") is None
    backwards = problem("icd10cm", "C96-C00", "range")
    assert backwards is not None
    assert "runs backwards" in backwards
    bad_end = problem("icd10cm", "C00-C99", "range")
    assert bad_end == "C99 is not an ICD-10-CM code"


@pytest.mark.parametrize("system", ["snomed", "loinc"])
def test_descendants_need_a_hierarchy(system: str) -> None:
    code = {"snomed": "19943007", "loinc": "718-7"}[system]
    descendants = problem(system, code, "descendants")
    assert descendants is not None
    assert "descendants" in descendants
    ranged = problem(system, f"{code}-{code}", "range")
    assert ranged is not None


def test_atc_classes_take_descendants_by_prefix() -> None:
    assert problem("atc", "L04A", "descendants") is None
    matcher = compile_matcher([CodeRef("atc", "L04A", "descendants")])
    assert matcher.matches("atc", "L04AA06")
    assert not matcher.matches("atc", "L01XC02")


def test_icd10cm_expansion_reads_the_cms_tables() -> None:
    assert icd10cm_expansion("K74.6", "descendants") == {"K74.6", "K74.60", "K74.69"}
    block = icd10cm_expansion("C00-C14", "descendants")
    assert {"C00.0", "C14.8"} <= block
    assert "C15.9" not in block
    malignant = icd10cm_expansion("C00-C96", "range")
    assert {"C22.0", "C7A.00", "C96.9"} <= malignant
    assert "D00.0" not in malignant
    # a string prefix would accept codes the tables do not have
    assert not compile_matcher([CodeRef("icd10cm", "K74.6", "descendants")]).matches(
        "icd10cm", "K74.6X")


def test_the_icd10cm_list_reads_as_the_package_does() -> None:
    # eligo reads simple-icd-10-cm's code list file instead of importing the package:
    # the file must be where expected, and read as the package's own tables answer.
    assert _listed_codes() is not None
    icd = _icd10cm()
    listed = icd10cm_list()
    assert listed.items == tuple(icd.get_all_codes(with_dots=True))
    assert listed.codes() == tuple(c for c in icd.get_all_codes(with_dots=True)
                                   if "-" not in c and not icd.is_chapter(c))
    for item in dict.fromkeys(listed.items):
        assert listed.descendants(item) == icd.get_descendants(item), item
        for code in (item, item.replace(".", ""), item.lower(), item + "0", item[:-1]):
            assert listed.is_valid_item(code) == icd.is_valid_item(code), code
            assert listed.is_chapter(code) == icd.is_chapter(code), code
    for code in ("", "K74..6", "K74.6X", "KK4.60", "23", "0", "C00-C99"):
        assert listed.is_valid_item(code) == icd.is_valid_item(code), code
        assert listed.is_chapter(code) == icd.is_chapter(code), code
        with pytest.raises(ValueError, match="does not exist"):
            listed.descendants(code)
        with pytest.raises(ValueError, match="does not exist"):
            icd.get_descendants(code)


def test_the_icd10cm_list_read_from_the_package_is_the_same() -> None:
    from_package = Icd10cmList(_icd10cm().get_all_codes(with_dots=True))
    assert from_package.items == icd10cm_list().items
    assert from_package.descendants("K74.6") == ["K74.60", "K74.69"]


# ---- SNOMED CT, LOINC, ATC, RxNorm, CPT ---------------------------------------------------


@pytest.mark.parametrize("code", ["19943007", "77386006", "363346000", "18027006", "91302008"])
def test_valid_snomed_verhoeff(code: str) -> None:
    assert problem("snomed", code) is None


@pytest.mark.parametrize(
    "code",
    ["19943008", "19943070",  # one wrong digit, two digits transposed
     "12345", "1234567890123456789", "1994300X", "", "-19943007"],
)
def test_invalid_snomed(code: str) -> None:
    found = problem("snomed", code)
    assert found is not None
    assert "SNOMED CT" in found


@pytest.mark.parametrize("code", ["718-7", "2160-0", "2345-7", "1742-6", "82810-3"])
def test_valid_loinc_check_digit(code: str) -> None:
    assert problem("loinc", code) is None


@pytest.mark.parametrize("code", ["718-8", "2160-1", "7187", "718-", "-7", "71a-7", "718-77"])
def test_invalid_loinc(code: str) -> None:
    found = problem("loinc", code)
    assert found is not None
    assert "LOINC" in found


@pytest.mark.parametrize("code", ["C", "C10", "C10A", "C10AA", "C10AA05", "c10aa05", "L04AX07"])
def test_valid_atc_levels(code: str) -> None:
    assert problem("atc", code) is None


@pytest.mark.parametrize("code", ["C1", "C10AA5", "1C10", "C10AA055", "CC10", "C10A05"])
def test_invalid_atc(code: str) -> None:
    found = problem("atc", code)
    assert found is not None
    assert "ATC" in found


def test_rxnorm_and_cpt() -> None:
    assert problem("rxnorm", "83367") is None
    assert problem("rxnorm", "1234567890") is not None
    assert problem("rxnorm", "8336a") is not None
    assert problem("cpt", "47135") is None
    assert problem("cpt", "4713") is not None
    assert problem("hcpcs", "J1234") is None


# ---- normalisation and systems ---------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        ("icd10cm", "k7460", "K74.60"),
        ("icd10cm", " K74.60 ", "K74.60"),
        ("icd10cm", "K74.60", "K74.60"),
        ("icd10cm", "k74", "K74"),
        ("icd10cm", "K74.", "K74"),
        ("icd10cm", "c7a00", "C7A.00"),
        ("icd10cm", "O09511", "O09.511"),
        ("atc", "c10aa05", "C10AA05"),
        ("cpt", "0001f", "0001F"),
        ("snomed", " 19943007 ", "19943007"),
        ("loinc", "718-7", "718-7"),
        ("rxnorm", "83367", "83367"),
    ],
)
def test_normalize_code(system: str, code: str, expected: str) -> None:
    assert normalize_code(system, code) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("icd10cm", "icd10cm"),
        ("ICD10CM", "icd10cm"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "icd10cm"),
        ("http://hl7.org/fhir/sid/icd-10-cm/", "icd10cm"),
        ("http://snomed.info/sct", "snomed"),
        ("http://loinc.org", "loinc"),
        ("http://www.nlm.nih.gov/research/umls/rxnorm", "rxnorm"),
        ("http://www.whocc.no/atc", "atc"),
        ("http://hl7.org/fhir/sid/icd-10", None),  # WHO ICD-10 is another system
        ("http://example.org/codes", None),
    ],
)
def test_system_name(given: str, expected: str | None) -> None:
    assert system_name(given) == expected


# ---- matching ----------------------------------------------------------------------------


def test_compile_matcher() -> None:
    matcher = compile_matcher([
        CodeRef("icd10cm", "k74.6", "descendants"),
        CodeRef("icd10cm", "C00-C96", "range"),
        CodeRef("snomed", "19943007"),
        CodeRef("atc", "c10aa05"),
    ])
    assert matcher.matches("icd10cm", "K74.6")
    assert matcher.matches("icd10cm", "K74.69")
    assert not matcher.matches("icd10cm", "K74.5")
    assert matcher.matches("icd10cm", "C7A.00")
    assert matcher.matches("icd10cm", "C96.Z")
    assert not matcher.matches("icd10cm", "D00.0")
    assert matcher.matches("snomed", "19943007")
    assert not matcher.matches("snomed", "199430071")
    assert not matcher.matches("icd10cm", "19943007")
    assert matcher.matches("atc", "C10AA05")


@pytest.mark.parametrize(("code", "valid"), [
    ("8170/3", True),    # hepatocellular carcinoma, malignant
    ("C22.0", True),     # topography: liver
    ("8140/2", True),    # adenocarcinoma in situ
    ("8170", False),     # morphology without its behaviour code
    ("8170/5", False),   # 5 is not a behaviour code
    ("C22", False),      # topography needs its subsite
])
def test_icdo3_codes(code: str, valid: bool) -> None:
    assert (problem("icdo3", code) is None) is valid
    assert system_name("http://terminology.hl7.org/CodeSystem/icd-o-3") == "icdo3"


def test_icdo3_morphology_in_a_protocol() -> None:
    from eligo.compiler import compile_text

    protocol = compile_text('trial T\nvalueset hcc = icdo3 8170/3; icd10cm C22.0\n'
                            'inclusion\n  I1 "x": has condition hcc\n'
                            'exclusion\n  E1 "y": pregnant\n')
    assert protocol.valuesets[0].codes[0].code == "8170/3"
