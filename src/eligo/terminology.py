"""Code systems, code validation and value-set matching.

ICD-10-CM validity comes from the `simple-icd-10-cm` package (the CMS code tables);
SNOMED CT identifiers are checked with their Verhoeff check digit and LOINC codes with
their mod-10 check digit, since no licence-free full release can be bundled.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import cast

from eligo.rules import CodeMatch, CodeRef

# Short names used in protocols, and the FHIR system URIs that patient data uses.
SYSTEM_URIS: dict[str, str] = {
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "snomed": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "atc": "http://www.whocc.no/atc",
    "cpt": "http://www.ama-assn.org/go/cpt",
    "hcpcs": "urn:oid:2.16.840.1.113883.6.285",
    "icdo3": "http://terminology.hl7.org/CodeSystem/icd-o-3",
    "cvx": "http://hl7.org/fhir/sid/cvx",
}
SYSTEM_NAMES: dict[str, str] = {uri: name for name, uri in SYSTEM_URIS.items()}
SYSTEM_LABELS: dict[str, str] = {
    "icd10cm": "ICD-10-CM",
    "snomed": "SNOMED CT",
    "loinc": "LOINC",
    "rxnorm": "RxNorm",
    "atc": "ATC",
    "cpt": "CPT",
    "hcpcs": "HCPCS",
    "icdo3": "ICD-O-3",
    "cvx": "CVX",
}


def system_name(system: str) -> str | None:
    """The short name for a system given as a short name or a FHIR URI, else None."""
    key = system.strip()
    if key in SYSTEM_URIS:
        return key
    lowered = key.lower()
    if lowered in SYSTEM_URIS:
        return lowered
    return SYSTEM_NAMES.get(key.rstrip("/"))


@cache
def _icd10cm() -> ModuleType:
    # The package reads its tables with a deprecated importlib API; keep that quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return cast(ModuleType, simple_icd_10_cm)


class Icd10cmList:
    """The ICD-10-CM tabular list as simple-icd-10-cm holds it: every chapter, block and
    code in tree order (each item followed by its descendants), codes dotted.

    Validity and descendants are all that compiling and matching need, and this list
    gives both; importing the package itself parses the full XML tables (descriptions,
    notes) and takes longer than the rest of a screening run's start-up put together.
    """

    def __init__(self, items: Iterable[str]) -> None:
        self.items = tuple(items)
        # An item listed twice (a one-category block, B20, and the category) is looked up
        # as the package does, as the later one: the category.
        self._at = {item: i for i, item in enumerate(self.items)}

    def _dotted(self, code: str) -> str:
        return code[:3] + "." + code[3:] if len(code) >= 4 and code not in self._at else code

    def is_valid_item(self, code: str) -> bool:
        return self._dotted(code) in self._at

    def is_chapter(self, code: str) -> bool:
        return self._dotted(code).isdigit() and self.is_valid_item(code)

    def codes(self) -> tuple[str, ...]:
        """Every category and code (chapters and blocks left out, but a one-category block,
        B20, is also its category), in list order."""
        return tuple(c for c in self.items if "-" not in c and not c.isdigit())

    def descendants(self, code: str) -> list[str]:
        """The items under ``code``, in list order (they follow it in the list)."""
        at = self._at.get(self._dotted(code))
        if at is None:
            raise ValueError(f'The code "{code}" does not exist.')
        item, items = self.items[at], self.items
        end = at + 1
        if item.isdigit():  # a chapter: up to the next one
            while end < len(items) and not items[end].isdigit():
                end += 1
        elif "-" in item:
            # A block: up to the next block or chapter (blocks do not nest in the tables:
            # C00-C96 is a heading with nothing under it, and C4A is in C43-C44).
            while end < len(items) and not (items[end].isdigit() or self._is_block(end)):
                end += 1
        else:  # a category or code: the longer codes it begins
            while end < len(items) and items[end].startswith(item) \
                    and len(items[end]) > len(item) and "-" not in items[end]:
                end += 1
        return list(items[at + 1:end])

    def _is_block(self, at: int) -> bool:
        # A one-category block (B20) is listed right before its category, under one name.
        item = self.items[at]
        return "-" in item or (at + 1 < len(self.items) and self.items[at + 1] == item)


@cache
def icd10cm_list() -> Icd10cmList:
    """The ICD-10-CM list of the installed simple-icd-10-cm: read from its own code list
    file when that is where expected (hundredths of a second), else from the package."""
    listed = _listed_codes()
    if listed is None:
        return Icd10cmList(_icd10cm().get_all_codes(with_dots=True))
    # The file writes codes without their dot; the package's names have it after the
    # category (blocks and chapters have none).
    return Icd10cmList(c[:3] + "." + c[3:] if len(c) > 3 and "-" not in c else c
                       for c in listed)


def _listed_codes() -> list[str] | None:
    """The lines of simple-icd-10-cm's data/code-list-*.txt: every chapter, block and code
    in tree order, as the package's get_all_codes(with_dots=False) gives them (a test
    checks this for the installed version). Found without importing the package."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(spec.submodule_search_locations[0], "data").glob("code-list-*.txt"))
    if len(files) != 1:
        return None
    try:
        lines = files[0].read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    while lines and not lines[-1]:
        lines.pop()
    # One code a line, the first chapter first: anything else is not the list described.
    if not lines or lines[0] != "1" or not all(line.replace("-", "").isalnum()
                                                for line in lines):
        return None
    return lines


def normalize_code(system: str, code: str) -> str:
    """Canonical spelling: ICD-10-CM upper case with its dot (``k7460`` -> ``K74.60``)."""
    code = code.strip()
    if system == "icd10cm":
        if "-" in code:  # a block such as C00-C14
            return "-".join(normalize_code(system, part) for part in code.split("-"))
        compact = code.upper().replace(".", "")
        return compact if len(compact) <= 3 else f"{compact[:3]}.{compact[3:]}"
    if system in ("atc", "cpt", "hcpcs", "icdo3"):
        return code.upper()
    if system == "cvx" and code.isdigit():
        return code.zfill(2)[-max(2, len(code.lstrip("0"))):]  # CDC writes 08, 88, 208
    return code


_ICD10CM_NORMAL = r"(?:[A-Z0-9]{1,3}|[A-Z0-9]{3}\.[A-Z0-9]+)"
_UPPER_NORMAL = r"^[A-Z0-9./\-]+$"
_PLAIN_NORMAL = r"^[A-Za-z0-9./\-]+$"
# Codes already in their canonical spelling, by short system name: normalize_code leaves
# every code these patterns accept as it is (they accept only part of such codes, in
# ASCII, so that this is easy to see; the rest is normalised by a Python call). Anchored
# for pydantic-core's regex engine, where `$` is the end of the text.
NORMAL_CODE_PATTERNS: dict[str, str] = {
    "icd10cm": rf"^{_ICD10CM_NORMAL}(?:-{_ICD10CM_NORMAL})*$",
    "snomed": _PLAIN_NORMAL,
    "loinc": _PLAIN_NORMAL,
    "rxnorm": _PLAIN_NORMAL,
    "atc": _UPPER_NORMAL,
    "cpt": _UPPER_NORMAL,
    "hcpcs": _UPPER_NORMAL,
    "icdo3": _UPPER_NORMAL,
    "cvx": r"^(?:[0-9]{2}|[1-9][0-9]{2,})$",
}


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


# Systems where `*` means "and its descendants": ICD-10-CM through the CMS tables, ATC by
# construction (an ATC code's ancestors are its prefixes: L04A -> L04AA -> L04AA06).
HIERARCHICAL_SYSTEMS = frozenset({"icd10cm", "atc"})


def _verhoeff_ok(digits: str) -> bool:
    check = 0
    for i, ch in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(ch)]]
    return check == 0


def _loinc_ok(code: str) -> bool:
    # LOINC check digit: mod 10 over the digits before the hyphen (LOINC Users' Guide §12).
    body, _, check = code.partition("-")
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d // 10 + d % 10
        total += d
    return (10 - total % 10) % 10 == int(check)


_ATC = re.compile(r"^[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?$")
_LOINC = re.compile(r"^\d{1,7}-\d$")
# ICD-O-3: topography C00.0-C80.9, or morphology NNNN/B with behaviour code 0-3, 6 or 9.
_ICDO3 = re.compile(r"^(C\d{2}\.\d|\d{4}/[012369])$")


def code_problem(ref: CodeRef) -> str | None:
    """Why ``ref`` is not a valid code of its system, or None when it is."""
    system, code = ref.system, ref.code
    if ref.match == "range":
        low, _, high = code.partition("-")
        for end in (low, high):
            problem = code_problem(CodeRef(system, end))
            if problem:
                return problem
        if system != "icd10cm":
            return f"code ranges are only defined for ICD-10-CM, not {SYSTEM_LABELS[system]}"
        if normalize_code(system, low) > normalize_code(system, high):
            return f"range {code} runs backwards: {low} sorts after {high}"
        return None
    if ref.match == "descendants" and system not in HIERARCHICAL_SYSTEMS:
        return (
            f"`*` (descendants) needs a code hierarchy; eligo has one for ICD-10-CM and ATC, "
            f"so list the {SYSTEM_LABELS[system]} codes explicitly"
        )
    if system == "icd10cm":
        icd = icd10cm_list()
        normal = normalize_code(system, code)
        if not icd.is_valid_item(normal):
            return f"{code} is not an ICD-10-CM code"
        if icd.is_chapter(normal):
            return f"{code} is an ICD-10-CM chapter number, not a code"
    elif system == "snomed":
        if not (code.isdigit() and 6 <= len(code) <= 18 and _verhoeff_ok(code)):
            return f"{code} is not a SNOMED CT identifier (6-18 digits with a Verhoeff check digit)"
    elif system == "loinc":
        if not (_LOINC.match(code) and _loinc_ok(code)):
            return f"{code} is not a LOINC code (digits, a hyphen and a valid check digit)"
    elif system == "rxnorm":
        if not (code.isdigit() and len(code) <= 9):
            return f"{code} is not an RxNorm concept id (up to 9 digits)"
    elif system == "atc":
        if not _ATC.match(code.upper()):
            return f"{code} is not an ATC code (such as C10AA05)"
    elif system == "icdo3":
        if not _ICDO3.match(code.upper()):
            return (f"{code} is not an ICD-O-3 code (a topography such as C22.0 or a "
                    "morphology with its behaviour, such as 8170/3)")
    elif system == "cvx":
        if not (code.isdigit() and 1 <= len(code) <= 3):
            return f"{code} is not a CVX vaccine code (1 to 3 digits, such as 208)"
    elif system in ("cpt", "hcpcs") and not re.match(r"^[A-Z0-9]\d{3}[A-Z0-9]$", code.upper()):
        return f"{code} is not a {SYSTEM_LABELS[system]} code (5 characters)"
    return None


def icd10cm_chapter_block(code: str) -> str | None:
    """The range of categories an ICD-10-CM chapter number covers (``2`` -> ``C00-D49``)."""
    icd = _icd10cm()
    if not (icd.is_valid_item(code) and icd.is_chapter(code)):
        return None
    blocks = [b for b in icd.get_children(code) if icd.is_block(b)]
    if not blocks:
        return None
    return f"{blocks[0].split('-')[0]}-{blocks[-1].split('-')[-1]}"


def nearest_icd10cm(code: str, limit: int = 3) -> list[str]:
    """Valid ICD-10-CM codes close to ``code``: its nearest valid ancestor and siblings."""
    icd = _icd10cm()
    compact = normalize_code("icd10cm", code).replace(".", "")
    for cut in range(len(compact), 2, -1):
        candidate = normalize_code("icd10cm", compact[:cut])
        if icd.is_valid_item(candidate):
            children = [c for c in icd.get_children(candidate) if not icd.is_chapter_or_block(c)]
            return [candidate, *children][:limit]
    category = compact[:3]
    import difflib

    categories = [c for c in icd.get_all_codes(with_dots=True) if len(c) == 3]
    return difflib.get_close_matches(category, categories, n=limit, cutoff=0.5)


MEMO_LIMIT = 100_000


class CodeMatcher:
    """A compiled value set: exact codes, descendant prefixes and ranges, per system.

    Answers are memoised per (system, code): a population repeats a few thousand codes,
    so screening mostly costs one dict lookup per coding. The memo is bounded and only
    caches a pure function, so results never depend on what was screened before.
    """

    __slots__ = ("_memo", "exact", "prefixes", "ranges")

    def __init__(self, exact: frozenset[tuple[str, str]], prefixes: tuple[tuple[str, str], ...],
                 ranges: tuple[tuple[str, str, str], ...]) -> None:
        self.exact = exact
        self.prefixes = prefixes
        self.ranges = ranges
        self._memo: dict[tuple[str, str], bool] = {}

    def matches(self, system: str, code: str) -> bool:
        key = (system, code)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._lookup(system, code)
            if len(self._memo) < MEMO_LIMIT:
                self._memo[key] = hit
        return hit

    def _lookup(self, system: str, code: str) -> bool:
        if (system, code) in self.exact:
            return True
        for sys_, prefix in self.prefixes:
            if sys_ == system and code.startswith(prefix):
                return True
        for sys_, low, high in self.ranges:
            if sys_ == system and low <= code[: len(low)] and code[: len(high)] <= high:
                return True
        return False


@cache
def _icd10cm_codes() -> tuple[str, ...]:
    """Every ICD-10-CM category and code (chapters and blocks left out), dotted."""
    return icd10cm_list().codes()


@cache
def icd10cm_expansion(code: str, match: CodeMatch) -> frozenset[str]:
    """The ICD-10-CM codes a written entry stands for, read from the CMS tables.

    ``K74.6*`` is K74.6 and its descendants in the tabular list; ``C00-C96`` is every code
    whose category lies in the range (both ends inclusive, compared at each end's length).
    """
    if match == "descendants":
        normal = normalize_code("icd10cm", code)
        kids = [d for d in icd10cm_list().descendants(normal) if "-" not in d]
        return frozenset(kids if "-" in normal else [normal, *kids])
    low, _, high = (normalize_code("icd10cm", end) for end in code.partition("-"))
    return frozenset(
        c for c in _icd10cm_codes() if low <= c[: len(low)] and c[: len(high)] <= high
    )


def compile_matcher(codes: Iterable[CodeRef]) -> CodeMatcher:
    """A matcher for written code entries: ICD-10-CM expanded through the CMS tables,
    ATC classes (``L04A*``) by their hierarchical prefix, everything else exactly."""
    exact: set[tuple[str, str]] = set()
    prefixes: list[tuple[str, str]] = []
    for ref in codes:
        if ref.system == "icd10cm" and ref.match != "exact":
            exact.update(("icd10cm", c) for c in icd10cm_expansion(ref.code, ref.match))
        elif ref.match == "descendants":
            prefixes.append((ref.system, normalize_code(ref.system, ref.code)))
        else:
            exact.add((ref.system, normalize_code(ref.system, ref.code)))
    return CodeMatcher(frozenset(exact), tuple(prefixes), ())
