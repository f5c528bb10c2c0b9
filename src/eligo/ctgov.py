"""Draft protocols from ClinicalTrials.gov records (``eligo import-ctgov``).

A registry record becomes a ``.elig`` draft that always compiles and is meant to be
reviewed, never used as it is:

* **Reading.** API v2 JSON (one study object, a ``{"studies": [...]}`` page, a JSON list or
  JSON Lines, one study per line), the retired v1 API (``FullStudiesResponse``) and the
  registry's text layout (the study page saved as text: "NCT ID:", "Last Updated:", an
  "Eligibility Criteria" block, then "Minimum Eligible Age", "Maximum Eligible Age",
  "Eligible Sex" and "Accepts Healthy Volunteers", each followed by its value).
* **Age and sex** come from the structured fields with the registry's meaning: a maximum
  age of "70 Years" admits anyone who has not yet turned 71, which is ``age <= 70 years``
  in eligo's completed years. They are the criteria ``AGE`` and ``SEX``.
* **Items.** Every inclusion and exclusion item becomes a criterion of its own (``I1``...,
  ``E1``...) whose text is the record's, verbatim on one line: escapes such as ``\\<`` are
  undone and runs of white space become one space. Items are split on ``*``/``-``/``•``
  bullets, on numbering (``1.``, ``1)``, ``(a)``) and, in text without bullets (the v1
  layout), on lines. A nested sub-item stays with its parent, since it completes or
  qualifies it ("a woman of childbearing potential is one who: ..."), and is written after
  it with its marker; such a group is never auto-coded. A line that ends with ``:`` and
  leads into the items below it is kept as a comment, not a criterion.
* **Context.** Items are not auto-coded when their context may change what they mean:
  under a heading for part of the study ("Inclusion Criteria (ARDS cohort)", "Health Care
  Proxy Inclusion Criteria", and every heading after such a one), after a lead-in that may
  combine them otherwise than the section does ("one of the following:", "Healthy
  group:"; "all of the following" in an inclusion and "any of the following" in an
  exclusion are harmless), before the first heading, or in text without headings.
* **Coding.** :func:`code_item` reads an item against the phrase table
  ``ctgov_phrases.yaml`` (library value sets and built-in rules) and codes it only when the
  code says what the item says (``auto``), or says a necessary part of it, joined with a
  ``manual`` question for the whole item (``partial``). Anything else is ``manual``.
* **Always compiles.** The draft is compiled; a criterion the compiler rejects falls back
  to ``manual`` with a warning. A section with no items gets one ``manual`` placeholder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from eligo.compiler import compile_text
from eligo.errors import EligoError, ProtocolError, UsageError
from eligo.printer import quote
from eligo.valueset_library import lookup

Section = Literal["inclusion", "exclusion"]
Coding = Literal["auto", "partial", "manual", "structured", "placeholder"]

# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """The parts of a registry record a draft is made from, as the record gives them."""

    nct_id: str
    title: str | None
    version: str | None
    criteria: str | None
    minimum_age: str | None = None
    maximum_age: str | None = None
    sex: str | None = None
    healthy_volunteers: bool | None = None
    gender_based: bool | None = None
    gender_description: str | None = None
    layout: str = "API v2 JSON"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _yes_no(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("yes", "true", "accepts healthy volunteers"):
            return True
        if low in ("no", "false"):
            return False
    return None


def record_from_study(study: Mapping[str, Any]) -> Record:
    """A record from one study object of the API, v2 (``protocolSection``) or v1
    (``ProtocolSection``, optionally wrapped in ``Study``)."""
    if "protocolSection" in study:
        ps = _dict(study.get("protocolSection"))
        ident = _dict(ps.get("identificationModule"))
        status = _dict(ps.get("statusModule"))
        elig = _dict(ps.get("eligibilityModule"))
        misc = _dict(_dict(study.get("derivedSection")).get("miscInfoModule"))
        version = (_text(_dict(status.get("lastUpdatePostDateStruct")).get("date"))
                   or _text(status.get("lastUpdateSubmitDate"))
                   or _text(misc.get("versionHolder")))
        sex = _text(elig.get("sex"))
        return Record(
            nct_id=_text(ident.get("nctId")) or "",
            title=_text(ident.get("briefTitle")) or _text(ident.get("officialTitle")),
            version=version, criteria=_text(elig.get("eligibilityCriteria")),
            minimum_age=_text(elig.get("minimumAge")), maximum_age=_text(elig.get("maximumAge")),
            sex=sex.upper() if sex else None,
            healthy_volunteers=_yes_no(elig.get("healthyVolunteers")),
            gender_based=_yes_no(elig.get("genderBased")),
            gender_description=_text(elig.get("genderDescription")),
            layout="API v2 JSON")
    inner = _dict(study.get("Study")) or dict(study)
    ps = _dict(inner.get("ProtocolSection"))
    if not ps:
        raise UsageError("this JSON is not a ClinicalTrials.gov study record",
                         "give an API v2 study (with `protocolSection`), a `{\"studies\": [...]}` "
                         "page, or the registry page saved as text")
    ident = _dict(ps.get("IdentificationModule"))
    status = _dict(ps.get("StatusModule"))
    elig = _dict(ps.get("EligibilityModule"))
    gender = _text(elig.get("Gender"))
    return Record(
        nct_id=_text(ident.get("NCTId")) or "",
        title=_text(ident.get("BriefTitle")) or _text(ident.get("OfficialTitle")),
        version=(_text(_dict(status.get("LastUpdatePostDateStruct")).get("LastUpdatePostDate"))
                 or _text(status.get("LastUpdateSubmitDate"))),
        criteria=_text(elig.get("EligibilityCriteria")),
        minimum_age=_text(elig.get("MinimumAge")), maximum_age=_text(elig.get("MaximumAge")),
        sex=gender.upper() if gender else None,
        healthy_volunteers=_yes_no(elig.get("HealthyVolunteers")),
        gender_based=_yes_no(elig.get("GenderBased")),
        gender_description=_text(elig.get("GenderDescription")),
        layout="API v1 JSON")


def _studies(data: Any) -> list[Mapping[str, Any]]:
    """The study objects inside parsed JSON: a study, a page, a v1 response or a list."""
    if isinstance(data, list):
        return [s for item in data for s in _studies(item)]
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("studies"), list):
        return [s for s in data["studies"] if isinstance(s, dict)]
    full = _dict(data.get("FullStudiesResponse"))
    if full:
        return [_dict(s) for s in full.get("FullStudies") or [] if isinstance(s, dict)]
    return [data]


# The registry page as text: headings on lines of their own, each value on the next
# non-empty line.
_PAGE_FIELDS = ("Minimum Eligible Age", "Maximum Eligible Age", "Eligible Sex",
                "Accepts Healthy Volunteers")
_PAGE_STOPS = frozenset((*_PAGE_FIELDS, "Sponsors", "Responsible Party", "Principal Investigators",
                         "Locations", "Countries", "Central Contacts", "Other Identifiers"))


def record_from_page(text: str) -> Record:
    """A record from the registry's text layout (the study page saved as text)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    stripped = [line.strip() for line in lines]
    nct = next((m.group(1) for s in stripped
                if (m := re.fullmatch(r"NCT ID:\s*(\S+)", s))), None)
    if nct is None:
        raise UsageError("this file is neither JSON nor a ClinicalTrials.gov study page",
                         "give an API v2 study as JSON, or the registry page saved as text "
                         "(with its `NCT ID:` line)")
    title = next((s for s in stripped if s), None)
    version = next((m.group(1).strip() for s in stripped
                    if (m := re.fullmatch(r"Last Updated:\s*(.+)", s))), None)
    fields: dict[str, str] = {}
    for label in _PAGE_FIELDS:
        if label in stripped:
            at = stripped.index(label)
            value = next((s for s in stripped[at + 1:at + 4] if s), None)
            if value is not None and value not in _PAGE_STOPS:
                fields[label] = value
    criteria: str | None = None
    if "Eligibility Criteria" in stripped:
        start = stripped.index("Eligibility Criteria") + 1
        end = next((i for i in range(start, len(lines)) if stripped[i] in _PAGE_STOPS),
                   len(lines))
        block = lines[start:end]
        # The page's own one-line blurb under the heading is not part of the record.
        first = next((i for i, line in enumerate(block) if line.strip()), None)
        if first is not None and block[first].strip().startswith("Check the participation"):
            block = block[first + 1:]
        criteria = "\n".join(block).strip("\n") or None
    max_age = fields.get("Maximum Eligible Age")
    min_age = fields.get("Minimum Eligible Age")
    sex = fields.get("Eligible Sex")
    return Record(
        nct_id=nct, title=title if title != f"NCT ID: {nct}" else None, version=version,
        criteria=criteria,
        minimum_age=None if min_age in (None, "N/A") else min_age,
        maximum_age=None if max_age in (None, "N/A") else max_age,
        sex=sex.upper() if sex else None,
        healthy_volunteers=_yes_no(fields.get("Accepts Healthy Volunteers")),
        layout="registry text")


def read_records(path: Path) -> list[Record]:
    """Every study record in a file: JSON (a study, a page, a list, v1), JSON Lines, or the
    registry's text layout."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: it is not UTF-8 text") from None
    head = text.lstrip()
    if not head.startswith(("{", "[")):
        return [record_from_page(text)]
    try:
        data: Any = json.loads(text)
        studies = _studies(data)
    except json.JSONDecodeError as whole:
        studies = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                studies.extend(_studies(json.loads(line)))
            except json.JSONDecodeError:
                raise UsageError(
                    f"{path} is not valid JSON ({whole.msg} at line {whole.lineno}) nor JSON "
                    f"Lines (line {number} does not parse)") from None
    if not studies:
        raise UsageError(f"{path} holds no study record")
    return [record_from_study(s) for s in studies]


def select_record(records: Sequence[Record], nct: str | None) -> tuple[Record, list[str]]:
    """The record asked for (by NCT id), else the first; with a warning when others exist."""
    if nct is not None:
        for rec in records:
            if rec.nct_id.upper() == nct.strip().upper():
                return rec, []
        raise UsageError(f"no study {nct} in this file",
                         f"it holds {len(records)} studies, the first being "
                         f"{records[0].nct_id or 'without an NCT id'}")
    warnings = []
    if len(records) > 1:
        warnings.append(f"the file holds {len(records)} studies; drafted the first "
                        f"({records[0].nct_id}); choose another with --nct")
    return records[0], warnings


# ---------------------------------------------------------------------------------------
# Splitting the criteria text into items
# ---------------------------------------------------------------------------------------

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_MARKER = re.compile(
    r"(?P<marker>[*•·▪◦‣●○]|-(?!\d)|\d{1,2}[.)](?!\d)|\(\d{1,2}\)|\([a-zA-Z]\)"
    r"|[a-zA-Z][.)](?=\s)|(?:i|ii|iii|iv|v|vi|vii|viii|ix|x)[.)](?=\s))\s*")
_HEADING = re.compile(
    r"(?P<pre>(?:[\w'()+&,\-]+\s+){0,4}?)(?P<kind>non[\s-]?inclusion|inclusion|exclusion)"
    r"\s+criteri(?:a|on)\b(?P<post>(?:\s*[\-–—(]|\s+(?:for|by|in|of|comments?)\b|\s*$).*)",
    re.IGNORECASE)
# A long line that ends in "... Inclusion criteria" still opens a section (a sub-study's).
_LONG_HEADING = re.compile(
    r"(?P<pre>[^:]{1,160}?\s)(?P<kind>non[\s-]?inclusion|inclusion|exclusion)\s+criteri(?:a|on)"
    r"(?P<post>\s*)", re.IGNORECASE)
_VERBS = frozenset(("no", "not", "do", "does", "did", "meet", "meets", "met", "satisfy",
                    "satisfies", "fulfil", "fulfill", "fulfils", "fulfills", "violation", "see",
                    "violate", "violates", "violating"))
_NOT_A_HEADING = _VERBS | frozenset(("the", "of", "any", "all", "other", "following", "these"))
_PLAIN_PRE = frozenset(("key", "study", "main", "general", "major", "principal", "patient",
                        "patients"))
_PLAIN_POST = re.compile(
    r"(?:(?:are|is)\s+)?(?:as follows)?|(?:(?:patients|subjects|participants)\s+)?"
    r"(?:(?:must|should)\s+)?(?:fulfilling|meeting|meet|fulfil|fulfill)?\s*(?:all|each)\s+"
    r"(?:of\s+)?the\s+following(?:\s+criteria)?", re.IGNORECASE)
_EMPTY_ITEM = re.compile(r"(?:none|nil|n/?a|not applicable|no (?:inclusion|exclusion) criteria)"
                         r"\.?", re.IGNORECASE)


def unescape(text: str) -> str:
    """The registry's markup escapes undone: ``\\<`` is ``<``, ``\\[`` is ``[``..."""
    return _ESCAPE.sub(r"\1", text)


def one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Heading:
    """An "Inclusion Criteria" line. ``qualified`` headings restrict their items to part of
    the study (a cohort, an arm, the proxies), so those items are not coded."""

    section: Section
    text: str
    qualified: bool
    key: bool = False
    rest: str = ""  # text after the heading's colon, on the same line


def parse_heading(line: str) -> Heading | None:
    """The heading on this line ("Key Inclusion Criteria:", "Exclusion criteria (ARDS
    cohort):"), or None. Text after its colon is kept as ``rest``."""
    body = _MARKER.sub("", line.strip(), count=1) if _MARKER.match(line.strip()) else line.strip()
    head, colon, rest = body.strip("*#_ ").partition(":")
    head = head.strip("*#_ ").strip()
    if len(head) > 200:
        return None
    m = _HEADING.fullmatch(head)
    long = m is None
    if m is None:
        m = _LONG_HEADING.fullmatch(head)
        if m is None:
            return None
    if re.search(r"\binclusion\b", head, re.I) and re.search(r"\bexclusion\b", head, re.I):
        return None  # "Other protocol-defined inclusion/exclusion criteria may apply"
    pre = [w.strip("(),").lower() for w in m.group("pre").split()]
    if any(w in (_VERBS if long else _NOT_A_HEADING) for w in pre):
        return None
    kind = m.group("kind").lower()
    section: Section = "inclusion" if kind == "inclusion" else "exclusion"
    post = m.group("post").strip().lstrip("-–—").strip()
    qualified = bool([w for w in pre if w not in _PLAIN_PRE]) or (
        bool(post) and _PLAIN_POST.fullmatch(post) is None)
    return Heading(section, one_line(unescape(head + colon)), qualified, key="key" in pre,
                   rest=rest.strip("*_ ").strip())


@dataclass(frozen=True, slots=True)
class Item:
    """One inclusion or exclusion item of the record, on one line."""

    section: Section
    text: str
    grouped: bool = False  # it carries nested sub-items
    blocked: str | None = None  # why it is not auto-coded, when its context forbids it
    notes: tuple[str, ...] = ()  # comments to print above it (headings, lead-ins)


@dataclass
class _Open:
    lines: list[str]
    children: int = 0


def _lines_to_items(lines: Sequence[str]) -> Iterator[tuple[str, int]]:
    """Group lines into items: (text, number of nested lines)."""
    base: int | None = None
    current: _Open | None = None
    for raw in lines:
        if not raw.strip():
            continue
        line = raw.expandtabs(4)
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        m = _MARKER.match(body)
        content = body[m.end():] if m else body
        if not content.strip():
            continue  # a bare bullet
        if base is None or indent < base:
            base = indent
        if current is not None and indent > base + 1:
            marker = m.group("marker") if m else ""
            shown = "-" if marker and not marker[0].isalnum() and marker[0] != "(" else marker
            current.lines.append(f"{shown} {content}" if shown else content)
            current.children += 1
            continue
        if current is not None:
            yield " ".join(current.lines), current.children
        current = _Open([content])
    if current is not None:
        yield " ".join(current.lines), current.children


def _harmless_lead_in(text: str, section: Section) -> bool:
    low = text.lower()
    if section == "inclusion":
        return re.search(r"\ball\b", low) is not None and re.search(
            r"\b(one|any|either|least|or)\b", low) is None
    return re.search(r"\b(any|each)\b", low) is not None and re.search(
        r"\b(all|both|and)\b", low) is None


def split_items(criteria: str) -> tuple[list[Item], list[str]]:
    """The record's items in order, each with its section, and warnings about the layout.

    Headings ("Inclusion Criteria:", "Key Exclusion Criteria", "Non-inclusion criteria")
    open sections; once a heading restricts its items to part of the study, every later
    heading does too. Text before the first heading, and all text when there is none, is
    drafted as inclusion items that are never auto-coded.
    """
    warnings: list[str] = []
    raw_lines = criteria.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # Cut into runs of lines under one heading.
    runs: list[tuple[Heading | None, str | None, list[str]]] = [(None, None, [])]
    part_of_study = False
    for line in raw_lines:
        heading = parse_heading(line)
        if heading is None:
            runs[-1][2].append(line)
            continue
        # After a heading for part of the study (a cohort, a second randomisation), a plain
        # "Exclusion criteria" may still belong to that part: it stays qualified.
        part_of_study = part_of_study or heading.qualified
        heading = replace(heading, qualified=part_of_study)
        # "Inclusion Criteria: Fulfilling all the following" leads in; "Exclusion Criteria:
        # Pregnancy" is the first item.
        after = one_line(unescape(heading.rest))
        if after and (after.endswith(":") or "following" in after.lower()
                      or _PLAIN_POST.fullmatch(after) is not None):
            runs.append((heading, after, []))
        else:
            runs.append((heading, None, [heading.rest] if after else []))
    headings = [h for h, _, _ in runs if h is not None]
    if not headings:
        warnings.append("the criteria text has no Inclusion/Exclusion headings: every item is "
                        "drafted as an inclusion criterion and none is auto-coded")
    if any(h.key for h in headings):
        warnings.append("the record lists key criteria only; the full protocol may have more")
    if any(h.qualified for h in headings):
        warnings.append("some headings restrict their items to part of the study (cohorts, "
                        "arms, other people): their items are drafted as manual criteria")
    for kind in ("inclusion", "exclusion"):
        count = sum(1 for h in headings if h.section == kind)
        if count > 1:
            warnings.append(f"the record has {count} {kind} headings: their items are "
                            f"drafted into one {kind} section")
    items: list[Item] = []
    for heading, lead, lines in runs:
        section: Section = heading.section if heading is not None else "inclusion"
        notes: list[str] = []
        blocked: str | None = None
        if heading is None:
            if headings and any(s.strip() for s in lines):
                warnings.append("text before the first heading is drafted as inclusion "
                                "items that are not auto-coded")
            blocked = "it comes before any Inclusion/Exclusion heading" if headings else (
                "the record has no Inclusion/Exclusion headings")
        else:
            notes.append(f"Record heading: {heading.text}")
            if heading.qualified:
                blocked = "its heading restricts it to part of the study"
        if lead and blocked is None and not _harmless_lead_in(lead, section):
            blocked = "it follows a lead-in that may combine the items differently"
            warnings.append(f"the {section} items after the lead-in {lead!r} are not "
                            "auto-coded: it may combine them differently")
        grouped = list(_lines_to_items(lines))
        for index, (text, children) in enumerate(grouped):
            text = one_line(unescape(text))
            is_last = index == len(grouped) - 1
            if text.endswith(":") and not children and not is_last:
                notes.append(f"Lead-in in the record (not a criterion): {text}")
                if blocked is None and not _harmless_lead_in(text, section):
                    blocked = "it follows a lead-in that may combine the items differently"
                    warnings.append(f"the {section} items after the lead-in {text!r} are not "
                                    "auto-coded: it may combine them differently")
                continue
            if _EMPTY_ITEM.fullmatch(text.strip(" -*.")) or not text.strip(" -*."):
                warnings.append(f"skipped the {section} item {text!r}: it lists nothing")
                continue
            items.append(Item(section, text, children > 0, blocked, tuple(notes)))
            notes = []
        if notes:  # a heading or lead-in with nothing after it
            items.append(Item(section, "", False, blocked, tuple(notes)))
    return [i for i in items if i.text or i.notes], warnings


# ---------------------------------------------------------------------------------------
# The phrase table
# ---------------------------------------------------------------------------------------

TermKind = Literal["condition", "medication", "procedure", "builtin"]
_BUILTINS = ("pregnant", "breastfeeding", "childbearing potential")
_QUERY_KINDS = ("condition", "medication", "procedure")


@dataclass(frozen=True, slots=True)
class Term:
    kind: TermKind
    name: str  # a library value set, or the built-in rule's words


@dataclass(frozen=True, slots=True)
class Concept:
    id: str
    terms: tuple[Term, ...]
    lasting: bool = False
    female: bool = False

    @property
    def treatment(self) -> bool:
        """Medications and procedures: "use of", "treatment with" add nothing to them."""
        return all(t.kind in ("medication", "procedure") for t in self.terms)


@dataclass(frozen=True, slots=True)
class Pattern:
    words: tuple[str, ...]  # normalised words; a trailing "*" matches any ending
    kind: Literal["concept", "narrower", "ignore", "block"]
    concept: Concept | None = None
    cased: bool = False  # acronyms: compared with the original text


@dataclass(frozen=True, slots=True)
class PhraseTable:
    concepts: tuple[Concept, ...]
    patterns: tuple[Pattern, ...]
    filler: frozenset[str]
    therapy: frozenset[str]
    negation: frozenset[str]
    history: frozenset[str]
    block: frozenset[str]
    female: frozenset[str]
    by_first: Mapping[str, tuple[Pattern, ...]] = field(default_factory=dict)
    prefixed: tuple[Pattern, ...] = ()


_TOKEN = re.compile(r"(?i:and\s*/\s*or)|[^\W_]+(?:['’][^\W_]+)*|[^\s\w-]|_")


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # as written
    norm: str  # lower case, apostrophes dropped; `and/or` is `or`


def tokens(text: str) -> list[Token]:
    found = []
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        if "/" in word and len(word) > 1:
            found.append(Token(word, "or"))
        else:
            found.append(Token(word, word.lower().replace("'", "").replace("’", "")))
    return found


def _pattern_words(phrase: str) -> tuple[str, ...]:
    star = phrase.endswith("*")
    words = tuple(t.norm for t in tokens(phrase.rstrip("*")))
    if star and words:
        words = (*words[:-1], words[-1] + "*")
    return words


def _term(text: str, where: str) -> Term:
    text = " ".join(str(text).split())
    if text in _BUILTINS:
        return Term("builtin", text)
    kind, _, name = text.partition(" ")
    if kind not in _QUERY_KINDS or not name:
        raise ValueError(f"{where}: `{text}` is not a rule term")
    entry = lookup(name)
    if entry is None:
        raise ValueError(f"{where}: no value set `{name}` in the library")
    if entry.kind != kind:
        raise ValueError(f"{where}: `{name}` is a {entry.kind} value set, not a {kind} one")
    query: TermKind = ("condition" if kind == "condition" else
                       "medication" if kind == "medication" else "procedure")
    return Term(query, name)


def _strings(data: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{where}: `{key}` must be a list of phrases (quote YAML's yes/no/on/off)")
    return [str(v) for v in value]


def build_table(data: Mapping[str, Any]) -> PhraseTable:
    """A phrase table from its YAML data; raises ValueError naming the faulty entry."""
    concepts: list[Concept] = []
    patterns: list[Pattern] = []
    for number, entry in enumerate(data.get("concepts") or [], 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise ValueError(f"concept {number} has no id")
        where = f"concept `{entry['id']}`"
        terms = tuple(_term(t, where) for t in _strings(entry, "rule", where))
        if not terms:
            raise ValueError(f"{where} has no rule")
        concept = Concept(entry["id"], terms, bool(entry.get("lasting")), bool(entry.get("female")))
        concepts.append(concept)
        patterns.extend(Pattern(_pattern_words(p), "concept", concept)
                        for p in _strings(entry, "phrases", where))
        patterns.extend(Pattern(_pattern_words(p), "narrower", concept)
                        for p in _strings(entry, "narrower", where))
        patterns.extend(Pattern(tuple(t.text for t in tokens(p)), "concept", concept, cased=True)
                        for p in _strings(entry, "acronyms", where))
    for kind in ("ignore", "block"):
        patterns.extend(Pattern(_pattern_words(p), kind) for p in _strings(data, kind, kind))
    words = _dict(data.get("words"))

    def group(name: str) -> frozenset[str]:
        return frozenset(w.lower() for w in _strings(words, name, f"words.{name}"))

    by_first: dict[str, list[Pattern]] = {}
    prefixed: list[Pattern] = []
    for p in patterns:
        if not p.words:
            raise ValueError("an empty phrase in the phrase table")
        if p.words[0].endswith("*"):
            prefixed.append(p)
        else:
            by_first.setdefault(p.words[0] if p.cased else p.words[0].lower(), []).append(p)
    return PhraseTable(
        tuple(concepts), tuple(patterns), filler=group("filler"), therapy=group("therapy"),
        negation=group("negation"), history=group("history"), block=group("block"),
        female=group("female"), by_first={k: tuple(v) for k, v in by_first.items()},
        prefixed=tuple(prefixed))


@cache
def phrase_table() -> PhraseTable:
    """The bundled phrase table (``eligo/ctgov_phrases.yaml``), read once."""
    source = resources.files("eligo").joinpath("ctgov_phrases.yaml").read_text(encoding="utf-8")
    return build_table(yaml.safe_load(source))


# ---------------------------------------------------------------------------------------
# Coding one item
# ---------------------------------------------------------------------------------------

TokKind = Literal["concept", "narrower", "neg", "hist", "or", "and", "comma", "filler", "therapy",
                  "female", "block", "other"]


@dataclass(frozen=True, slots=True)
class Tok:
    kind: TokKind
    text: str
    concept: Concept | None = None


def _word_matches(pattern: str, token: Token, cased: bool) -> bool:
    if cased:
        return pattern == token.text
    if pattern.endswith("*"):
        return token.norm.startswith(pattern[:-1])
    return pattern == token.norm


def classify(text: str, table: PhraseTable) -> list[Tok]:
    """The item's words, phrases matched longest first, each with what it does."""
    toks = tokens(text)
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        best: Pattern | None = None
        candidates = (*table.by_first.get(toks[i].norm, ()), *table.by_first.get(toks[i].text, ()),
                      *table.prefixed)
        for p in candidates:
            n = len(p.words)
            if (i + n <= len(toks) and (best is None or n > len(best.words)) and all(
                    _word_matches(w, toks[i + k], p.cased) for k, w in enumerate(p.words))):
                best = p
        if best is not None:
            span = " ".join(t.text for t in toks[i:i + len(best.words)])
            kind: TokKind = ("other" if best.kind == "ignore" else best.kind)
            out.append(Tok(kind, span, best.concept))
            i += len(best.words)
            continue
        word = toks[i].norm
        if word in ("or", "nor", "/"):
            kind = "or"
        elif word in ("and", "&"):
            kind = "and"
        elif word == ",":
            kind = "comma"
        elif word in table.negation:
            kind = "neg"
        elif word in table.history:
            kind = "hist"
        elif word in table.block:
            kind = "block"
        elif word in table.female:
            kind = "female"
        elif word in table.filler or word in (".", ":", "(", ")", '"', "'", "“", "”"):
            kind = "filler"
        elif word in table.therapy:
            kind = "therapy"
        else:
            kind = "other"
        out.append(Tok(kind, toks[i].text, None))
        i += 1
    return out


@dataclass(frozen=True, slots=True)
class ItemCoding:
    """How one item is coded: the rule's source, its kind, and what it used."""

    rule: str
    coding: Literal["auto", "partial", "manual"]
    uses: tuple[str, ...] = ()
    matched: tuple[str, ...] = ()  # phrases of the item that were coded
    note: str | None = None


def _manual(text: str, note: str | None = None) -> ItemCoding:
    return ItemCoding(f"manual {quote(text)}", "manual", note=note)


def _group(parts: Sequence[str], joiner: str) -> str:
    if len(parts) == 1:
        return parts[0]
    return f" {joiner} ".join(f"({p})" if (" or " in p and joiner == "and") else p for p in parts)


def _wrap(rule: str) -> str:
    return f"({rule})" if " or " in rule or " and " in rule else rule


def _render(concept: Concept, mode: Literal["present", "history", "necessary"]) -> str | None:
    """The concept's rule in a mode, or None when the mode cannot be coded faithfully.

    present: what the item says now; history: ever; necessary: a rule that any statement
    about the concept implies (used with a manual question for the rest).
    """
    if mode == "present" and concept.lasting:
        mode = "history"
    parts = []
    for term in concept.terms:
        if term.kind == "builtin":
            if mode != "present":
                return None
            parts.append(term.name)
        elif term.kind == "condition":
            parts.append(f"has condition {term.name}" if mode == "present"
                         else f"has history of condition {term.name}")
        elif term.kind == "medication":
            parts.append(f"taking medication {term.name}" if mode == "present"
                         else f"taking medication {term.name} ever")
        else:
            if mode == "present":
                return None  # "receiving radiotherapy" needs a time the record cannot give
            parts.append(f"had procedure {term.name}")
    return _group(parts, "or")


def _uses(concepts: Iterable[Concept]) -> tuple[str, ...]:
    return tuple(sorted({t.name for c in concepts for t in c.terms if t.kind != "builtin"}))


_AGE_UNIT = r"(?P<unit>years?|yrs?|months?|weeks?|days?)"
_AGE_PREFIX = (
    r"(?:(?:males?|females?|men|women)\s*(?:and|or|and/or|&)\s*(?:males?|females?|men|women)"
    r"\s*,?\s*)?(?:(?:adult\s+)?(?:patients?|subjects?|participants?|individuals?|persons?"
    r"|people|volunteers?|adults?)\s*,?\s*)?(?:(?:who\s+are|must\s+be|are|is)\s+)?"
    r"(?:(?:age[ds]?|age\s+of|age\s+is)\s*:?\s*)?")
_AGE_SUFFIX = (r"\s*(?:old|of\s+age)?(?:\s+(?:at|on)\s+(?:the\s+)?(?:time\s+of\s+)?(?:the\s+)?"
               r"(?:screening(?:\s+visit)?|enrol?lment|consent|signing(?:\s+(?:the|of))?\s+"
               r"(?:the\s+)?informed\s+consent|informed\s+consent|randomi[sz]ation|inclusion|"
               r"study\s+entry|entry))?")
_AGE_FORMS: tuple[tuple[str, str], ...] = (
    # "18 years or older", "18 years of age and over"
    (rf"(?P<a>\d{{1,3}})\s*{_AGE_UNIT}?{_AGE_SUFFIX}\s*(?:and|or)\s+(?:older|above|over|more)"
     rf"{_AGE_SUFFIX}", ">="),
    # ">= 18 years", "at least 18 years old"
    (rf"(?:>=|≥|=>|at\s+least|minimum(?:\s+of)?)\s*(?P<a>\d{{1,3}})\s*{_AGE_UNIT}?{_AGE_SUFFIX}",
     ">="),
    # "18-65 years", "18 to 65 years", "18~70 years", "between 18 and 65 years"
    (rf"(?:between\s+|from\s+)?(?P<a>\d{{1,3}})\s*(?:{_AGE_UNIT}\s*)?(?:-|–|—|~|to|and)\s*"
     rf"(?P<b>\d{{1,3}})\s*(?P<unit2>years?|yrs?|months?|weeks?|days?)?{_AGE_SUFFIX}"
     rf"(?:\s*\(?inclusive\)?)?", "between"),
    # ">= 40 years and <= 80 years"
    (rf"(?:>=|≥|=>)\s*(?P<a>\d{{1,3}})\s*(?:{_AGE_UNIT}\s*)?(?:and|to|-|–|,)\s*(?:<=|≤|=<)\s*"
     rf"(?P<b>\d{{1,3}})\s*(?P<unit2>years?|yrs?|months?|weeks?|days?)?{_AGE_SUFFIX}", "between"),
    # "< 18 years", "under 18 years old", "younger than 18"
    (rf"(?:<|under|younger\s+than|less\s+than|below)\s*(?P<a>\d{{1,3}})\s*{_AGE_UNIT}?"
     rf"{_AGE_SUFFIX}", "<"),
    # "<= 70 years", "up to 70 years"
    (rf"(?:<=|≤|=<|up\s+to|no\s+older\s+than|not\s+older\s+than|maximum(?:\s+of)?)\s*"
     rf"(?P<a>\d{{1,3}})\s*{_AGE_UNIT}?{_AGE_SUFFIX}", "<="),
    # "70 years or younger"
    (rf"(?P<a>\d{{1,3}})\s*{_AGE_UNIT}?{_AGE_SUFFIX}\s*or\s+(?:younger|less|under|below)"
     rf"{_AGE_SUFFIX}", "<="),
)
_AGE_RES = tuple((re.compile(_AGE_PREFIX + form, re.IGNORECASE), op) for form, op in _AGE_FORMS)


def _age_unit(word: str | None) -> str:
    units = {"y": "years", "m": "months", "w": "weeks", "d": "days"}
    return units.get(word[0].lower(), "years") if word else "years"


def code_age_item(text: str) -> str | None:
    """An item that only states an age range ("Aged 18~70 years.", "Age ≥ 18 years"), as an
    age rule in completed units; None when the item says anything else.

    "Over 18" and "> 18" are left alone: they may mean 18 or 19 in completed years.
    """
    body = text.strip().rstrip(".;").strip()
    for pattern, op in _AGE_RES:
        m = pattern.fullmatch(body)
        if m is None:
            continue
        groups = m.groupdict()
        unit = _age_unit(groups.get("unit2") or groups.get("unit"))
        if groups.get("unit") and groups.get("unit2") and (
                _age_unit(groups["unit"]) != _age_unit(groups["unit2"])):
            return None
        low = int(groups["a"])
        if op == "between":
            high = int(groups["b"])
            if high <= low:
                return None
            return f"age between {low} and {high} {unit}"
        return f"age {op} {low} {unit}"
    return None


_LABEL = re.compile(r"[A-Z]{1,4}\d{1,3}[a-z]?\s*:\s+")


def code_item(text: str, section: Section, table: PhraseTable | None = None) -> ItemCoding:
    """Code one item's text, conservatively.

    ``auto``: after the matched phrases, the item holds only filler words, negation cues,
    history markers and list separators, in a shape this reads without guessing:
    ``[no] [history of] A [, B] [or C]`` or ``not A and not B``. ``A or B`` is coded
    ``A or B``; a leading negation covers the whole list (``No HIV or hepatitis B`` is
    ``not (has condition hiv or has condition hepatitis_b)``); an ``and``-list without
    negation, or a comma list in an inclusion, is left manual (it could mean either).

    ``partial``: the item names one concept, with no negation, list separator or blocking
    word, and says more than the concept (a severity, a time, a test), or names only part
    of the concept (``narrower`` phrases). It is coded ``<concept> and manual "<item>"``,
    where the concept is read in its widest sense (``has history of condition``, ``taking
    medication … ever``, ``had procedure``): every reading of the item implies it, so the
    code can only decide the item when the concept is absent, and a coordinator answers
    the rest.
    """
    table = table or phrase_table()
    label = _LABEL.match(text)  # "SI02: Women of 20 to 30 years": the label says nothing
    if label is not None:
        coding = code_item(text[label.end():], section, table)
        if coding.coding == "manual":
            return _manual(text, coding.note)
        if coding.coding == "partial":
            return replace(coding, rule=coding.rule.replace(
                f"manual {quote(text[label.end():])}", f"manual {quote(text)}"))
        return coding
    age = code_age_item(text)
    if age is not None:
        return ItemCoding(age, "auto", matched=("age",),
                          note="age from the item's text, in completed units")
    toks = classify(text.rstrip(" ;,."), table)
    concepts = [t for t in toks if t.kind in ("concept", "narrower")]
    if not concepts:
        return _manual(text)
    if any(t.kind == "block" for t in toks):
        return _manual(text)
    # "women" adds nothing to "pregnant women", nor "use of" to "use of anticoagulants";
    # "HIV drugs" or "treatment of hepatitis C" say something else than the condition.
    all_female = all(t.concept is not None and t.concept.female for t in concepts)
    all_treatments = all(t.concept is not None and t.concept.treatment for t in concepts)
    significant = [t for t in toks if t.kind != "filler"
                   and not (t.kind == "female" and all_female)
                   and not (t.kind == "therapy" and all_treatments)]
    exact = _exact(significant, section)
    matched = tuple(dict.fromkeys(t.text for t in concepts))
    used = [t.concept for t in concepts if t.concept is not None]
    if exact is not None:
        return ItemCoding(exact, "auto", _uses(used), matched)
    distinct = {c.id for c in used}
    extra = [t for t in significant if t.kind in ("other", "female", "therapy")]
    if (len(distinct) == 1 and not any(t.kind in ("neg", "or", "and", "comma") for t in toks)
            and len(extra) <= 10):
        necessary = _render(used[0], "necessary")
        if necessary is not None:
            return ItemCoding(f"{_wrap(necessary)} and manual {quote(text)}", "partial",
                              _uses(used[:1]), matched)
    return _manual(text)


@dataclass
class _Part:
    negated: bool
    history: bool
    concept: Concept


def _exact(seq: Sequence[Tok], section: Section) -> str | None:
    """The rule of an item made only of concepts, negations, history markers and
    separators, or None when it says anything else."""
    if any(t.kind in ("other", "female", "therapy", "block", "narrower") for t in seq):
        return None
    parts: list[_Part] = []
    seps: list[str] = []
    pending_neg = False
    history = False
    expect = "item"
    previous: Tok | None = None
    for tok in seq:
        if tok.kind == "neg":
            if expect != "item" or pending_neg:
                return None
            pending_neg = True
        elif tok.kind == "hist":
            if expect != "item":
                return None
            history = True
        elif tok.kind == "concept":
            assert tok.concept is not None
            if expect == "after" and previous is not None and previous.kind == "concept" and (
                    previous.concept == tok.concept):
                previous = tok
                continue  # "hepatocellular carcinoma (HCC)": the same concept again
            if expect != "item":
                return None
            parts.append(_Part(pending_neg, history, tok.concept))
            pending_neg = False
            expect = "after"
        elif tok.kind in ("or", "and", "comma"):
            if expect == "item" and previous is not None and previous.kind == "comma" and (
                    tok.kind in ("or", "and")):
                seps[-1] = tok.kind  # ", or" / ", and"
            elif expect != "after":
                return None
            else:
                seps.append(tok.kind)
                expect = "item"
        else:
            return None
        previous = tok
    if expect != "after" or not parts:
        return None
    negs = [p.negated for p in parts]
    kinds = set(seps)
    rendered = []
    for part in parts:
        rule = _render(part.concept, "history" if part.history else "present")
        if rule is None:
            return None
        rendered.append(rule)
    if len(parts) == 1:
        return f"not {_wrap(rendered[0])}" if negs[0] else rendered[0]
    if negs[0] and not any(negs[1:]):
        # "No HIV, hepatitis B or hepatitis C": none of them.
        if "and" in kinds:
            return None
        return f"not ({' or '.join(rendered)})"
    if all(negs):
        # "Not pregnant and not breastfeeding": each must hold.
        if "or" in kinds:
            return None
        return " and ".join(f"not {_wrap(r)}" for r in rendered)
    if any(negs):
        return None
    if "and" in kinds:
        return None
    if "or" not in kinds and section == "inclusion":
        return None  # "cirrhosis, ascites" in an inclusion: both, or either?
    return " or ".join(rendered)


# ---------------------------------------------------------------------------------------
# Age and sex from the structured fields
# ---------------------------------------------------------------------------------------

_REGISTRY_AGE = re.compile(r"(\d+)\s*(years?|months?|weeks?|days?|hours?|minutes?)",
                           re.IGNORECASE)


def registry_age(text: str | None) -> tuple[int, str] | Literal["unreadable"] | None:
    """A registry age ("18 Years", "6 Months") as (number, eligo unit); None for no limit
    (absent, "N/A"); "unreadable" for hours, minutes or anything else."""
    if text is None or text.strip().upper() in ("", "N/A", "NA", "NONE"):
        return None
    m = _REGISTRY_AGE.fullmatch(text.strip())
    if m is None or m.group(2).lower().startswith(("hour", "minute")):
        return "unreadable"
    unit = m.group(2).lower().rstrip("s") + "s"
    return int(m.group(1)), unit


@dataclass(frozen=True, slots=True)
class DraftCriterion:
    """One criterion of the draft: its id, section, verbatim text and rule."""

    id: str
    section: Section
    text: str
    rule: str
    coding: Coding
    uses: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()


_UNIT_DAYS = {"years": 365.25, "months": 30.44, "weeks": 7.0, "days": 1.0}


def _age_criterion(record: Record, warnings: list[str]) -> DraftCriterion | None:
    low = registry_age(record.minimum_age)
    high = registry_age(record.maximum_age)
    shown = "; ".join(part for part in (
        f"Minimum Eligible Age: {record.minimum_age}" if record.minimum_age else "",
        f"Maximum Eligible Age: {record.maximum_age}" if record.maximum_age else "") if part)
    if not shown:
        return None
    comments = []
    if isinstance(high, tuple):
        comments.append(f"Registry age limits are in completed units: a maximum of "
                        f"\"{record.maximum_age}\" admits anyone who has not")
        comments.append(f"yet turned {high[0] + 1} {high[1]}, which is `age <= {high[0]} "
                        f"{high[1]}`.")
    else:
        comments.append("The record gives no maximum age: no upper limit.")
    if low == "unreadable" or high == "unreadable":
        warnings.append(f"the registry age limits ({shown}) are not in years, months, weeks or "
                        "days: AGE is a manual criterion")
        return DraftCriterion("AGE", "inclusion", shown, f"manual {quote(shown)}", "structured")
    if low is not None and low[0] == 0:
        low = None
    if low is None and high is None:
        return None
    if low is not None and high is not None and low[1] == high[1]:
        rule = f"age between {low[0]} and {high[0]} {low[1]}"
        if high[0] < low[0]:
            warnings.append(f"the registry age limits ({shown}) are empty: AGE is manual")
            rule = f"manual {quote(shown)}"
    else:
        parts = []
        if low is not None:
            parts.append(f"age >= {low[0]} {low[1]}")
        if high is not None:
            parts.append(f"age <= {high[0]} {high[1]}")
        rule = " and ".join(parts)
        # Different units: compare in days (the last day of the maximum's completed unit).
        if low is not None and high is not None and (
                low[0] * _UNIT_DAYS[low[1]] > (high[0] + 1) * _UNIT_DAYS[high[1]] - 1):
            warnings.append(f"the registry age limits ({shown}) are empty: AGE is manual")
            rule = f"manual {quote(shown)}"
    return DraftCriterion("AGE", "inclusion", shown, rule, "structured", comments=tuple(comments))


def _sex_criterion(record: Record, warnings: list[str]) -> DraftCriterion | None:
    comments: tuple[str, ...] = ()
    if record.gender_based:
        description = one_line(record.gender_description or "")
        comments = ("The record says eligibility is based on gender identity"
                    + (f": {description}" if description else "."),)
        warnings.append("the record bases eligibility on gender identity: check SEX")
    sex = (record.sex or "ALL").upper()
    if sex in ("ALL", "BOTH"):
        return None
    text = f"Eligible Sex: {record.sex}"
    if sex in ("FEMALE", "MALE"):
        return DraftCriterion("SEX", "inclusion", text, f"sex = {sex.lower()}", "structured",
                              comments=comments)
    warnings.append(f"the registry sex `{record.sex}` is not FEMALE, MALE or ALL: SEX is manual")
    return DraftCriterion("SEX", "inclusion", text, f"manual {quote(text)}", "structured",
                          comments=comments)


# ---------------------------------------------------------------------------------------
# The draft
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Draft:
    """A draft protocol: its source, its criteria and what the reviewer should know."""

    nct_id: str
    text: str
    criteria: tuple[DraftCriterion, ...]
    warnings: tuple[str, ...]
    layout: str = "API v2 JSON"

    @property
    def items(self) -> tuple[DraftCriterion, ...]:
        """The criteria made from the record's items (not AGE, SEX or placeholders)."""
        return tuple(c for c in self.criteria if c.coding in ("auto", "partial", "manual"))

    @property
    def bullets(self) -> int:
        return len(self.items)

    @property
    def auto_coded(self) -> int:
        """Items coded from the record's words, those with a manual part included."""
        return sum(1 for c in self.items if c.coding in ("auto", "partial"))

    @property
    def partly_coded(self) -> int:
        return sum(1 for c in self.items if c.coding == "partial")

    @property
    def manual(self) -> int:
        return sum(1 for c in self.items if c.coding == "manual")

    @property
    def uses(self) -> tuple[str, ...]:
        return tuple(sorted({u for c in self.criteria for u in c.uses}))


def summary_line(draft: Draft) -> str:
    """The one-line count ``import-ctgov`` prints to stderr: "N bullets: A auto-coded, M
    manual", with the auto-coded items that keep a manual part noted after it."""
    n = draft.bullets
    line = (f"{n} bullet{'s' if n != 1 else ''}: {draft.auto_coded} auto-coded, "
            f"{draft.manual} manual")
    if draft.partly_coded:
        line += f" ({draft.partly_coded} of the auto-coded with a manual part)"
    return line


def _as_record(record: Record | Mapping[str, Any]) -> Record:
    if isinstance(record, Record):
        return record
    studies = _studies(dict(record))
    if not studies:
        raise UsageError("this JSON holds no study record")
    return record_from_study(studies[0])


_TRIAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


@dataclass(frozen=True, slots=True)
class _Block:
    """A criterion of the draft with the comments above it, or comments alone."""

    section: Section
    criterion: DraftCriterion | None
    notes: tuple[str, ...] = ()


def _item_blocks(items: Sequence[Item]) -> list[_Block]:
    """The record's items as criteria (or bare comments), numbered per section."""
    numbers = {"inclusion": 0, "exclusion": 0}
    out: list[_Block] = []
    for item in items:
        if not item.text:
            out.append(_Block(item.section, None, item.notes))
            continue
        numbers[item.section] += 1
        cid = f"{'I' if item.section == 'inclusion' else 'E'}{numbers[item.section]}"
        if item.grouped:
            coding = _manual(item.text, "kept with its nested sub-items, so not auto-coded")
        elif item.blocked is not None:
            coding = _manual(item.text)
        else:
            coding = code_item(item.text, item.section)
        comments: list[str] = []
        if coding.coding == "auto":
            comments.append(coding.note or ("coded from " + ", ".join(
                f'"{m}"' for m in coding.matched)))
        elif coding.coding == "partial":
            comments.append("partly coded from " + ", ".join(f'"{m}"' for m in coding.matched)
                            + ": the concept is necessary; a coordinator answers the rest")
        elif coding.note:
            comments.append(coding.note)
        crit = DraftCriterion(cid, item.section, item.text, coding.rule, coding.coding,
                              coding.uses, tuple(comments))
        out.append(_Block(item.section, crit, item.notes))
    return out


def _render_draft(record: Record, header: Sequence[str], blocks: Sequence[_Block]
                  ) -> tuple[str, dict[int, int]]:
    """The draft's source, and the block index of each criterion by its line (1-based)."""
    title = f" {quote(one_line(record.title))}" if record.title else ""
    lines = [f"trial {record.nct_id}{title}"]
    if record.version:
        lines.append(f"version {quote(one_line(record.version))}")
    lines.append("")
    lines.extend(f"# {h}" if h else "#" for h in header)
    uses = sorted({u for b in blocks if b.criterion is not None for u in b.criterion.uses})
    if uses:
        lines.extend(["", "use " + ", ".join(uses)])
    by_line: dict[int, int] = {}
    for section in ("inclusion", "exclusion"):
        lines.extend(["", section])
        for index, block in enumerate(blocks):
            if block.section != section:
                continue
            lines.extend(f"  # {one_line(n)}" for n in block.notes)
            crit = block.criterion
            if crit is None:
                continue
            lines.extend(f"  # {c}" for c in crit.comments)
            lines.append(f"  {crit.id} {quote(crit.text)}: {crit.rule}")
            by_line[len(lines)] = index
    return "\n".join(lines) + "\n", by_line


def _header(rec: Record, blocks: Sequence[_Block], warnings: Sequence[str]) -> list[str]:
    crits = [b.criterion for b in blocks if b.criterion is not None
             and b.criterion.coding in ("auto", "partial", "manual")]
    auto = sum(1 for c in crits if c.coding in ("auto", "partial"))
    partial = sum(1 for c in crits if c.coding == "partial")
    updated = f", last updated {rec.version}" if rec.version else ""
    lines = [
        "MACHINE DRAFT made by `eligo import-ctgov` from the ClinicalTrials.gov record",
        f"{rec.nct_id} ({rec.layout}{updated}). Review every criterion before use.",
        "Criterion texts are the record's items, verbatim (escapes undone, one line each).",
        "Rules were coded only where the wording clearly names a concept of the value-set",
        "library; \"partly coded\" rules add a manual question for what the code cannot",
        "carry; every other item is a manual question. Coded rules read the closed world.",
        f"{len(crits)} items: {auto} auto-coded ({partial} with a manual part), "
        f"{len(crits) - auto} manual.",
    ]
    if rec.healthy_volunteers is not None:
        lines.append(f"Accepts healthy volunteers: {'yes' if rec.healthy_volunteers else 'no'}.")
    if warnings:
        lines.append("Warnings:")
        lines.extend(f"- {one_line(w)}" for w in warnings)
    return lines


_PLACEHOLDERS: tuple[tuple[Section, str], ...] = (("inclusion", "I0"), ("exclusion", "E0"))


def draft_protocol(record: Record | Mapping[str, Any], *, notes: Sequence[str] = ()) -> Draft:
    """A draft protocol for one registry record (a :class:`Record` or an API study object).
    It always compiles. ``notes`` are warnings to carry (from reading the file).

    Raises :class:`~eligo.errors.UsageError` when the record has no NCT id or no
    eligibility criteria text.
    """
    rec = _as_record(record)
    if not rec.nct_id:
        raise UsageError("the record has no NCT id", "is this a ClinicalTrials.gov study record?")
    if _TRIAL_ID.fullmatch(rec.nct_id) is None:
        raise UsageError(f"`{rec.nct_id}` is not a usable trial id")
    if not rec.criteria or not rec.criteria.strip():
        raise UsageError(f"{rec.nct_id}: the record has no eligibility criteria text",
                         "the registry gives none for this study; a draft needs its "
                         "inclusion and exclusion items")
    warnings: list[str] = list(notes)
    items, layout_warnings = split_items(rec.criteria)
    warnings.extend(layout_warnings)
    blocks: list[_Block] = []
    for made in (_age_criterion(rec, warnings), _sex_criterion(rec, warnings)):
        if made is not None:
            blocks.append(_Block("inclusion", made))
    blocks.extend(_item_blocks(items))
    for section, cid in _PLACEHOLDERS:
        if not any(b.criterion is not None and b.section == section for b in blocks):
            text = f"(the registry record lists no {section} criteria)"
            question = (f"The patient meets an {section} criterion of the full protocol "
                        "(the registry record lists none)")
            warnings.append(f"the record lists no {section} criteria: {cid} is a manual "
                            "placeholder")
            blocks.append(_Block(section, DraftCriterion(
                cid, section, text, f"manual {quote(question)}", "placeholder")))
    return _finish(rec, blocks, warnings)


def _rule_of(block: _Block) -> str:
    return block.criterion.rule if block.criterion is not None else ""


def _finish(rec: Record, blocks: list[_Block], warnings: list[str]) -> Draft:
    """Render and compile; a criterion the compiler rejects becomes manual, until it compiles."""
    for _ in range(len(blocks) + 2):
        text, by_line = _render_draft(rec, _header(rec, blocks, warnings), blocks)
        try:
            compile_text(text, f"{rec.nct_id}.elig")
        except ProtocolError as err:
            bad: dict[int, str] = {}
            stray = False
            for diag in err.diagnostics:
                line = err.source.line_col(diag.span.start)[0]
                if line in by_line:
                    bad.setdefault(by_line[line], f"{diag.code}: {diag.message}")
                else:
                    stray = True
            if not bad and stray:
                # Not on a criterion's line (the `use` line): give up every coded rule.
                bad = {i: "the coded rules did not compile" for i, b in enumerate(blocks)
                       if b.criterion is not None and b.criterion.uses}
            fixable = {i: why for i, why in bad.items()
                       if not _rule_of(blocks[i]).startswith("manual ")}
            if not fixable:
                raise EligoError(f"{rec.nct_id}: the draft does not compile:\n{err.render()}"
                                 ) from None
            for index, reason in fixable.items():
                block = blocks[index]
                crit = block.criterion
                assert crit is not None
                warnings.append(f"{crit.id} could not be coded ({reason}); it is manual")
                coding: Coding = "manual" if crit.coding in ("auto", "partial") else crit.coding
                blocks[index] = replace(block, criterion=replace(
                    crit, rule=f"manual {quote(crit.text)}", coding=coding, uses=(),
                    comments=(f"not coded: {reason}",)))
            continue
        criteria = tuple(b.criterion for b in blocks if b.criterion is not None)
        return Draft(rec.nct_id, text, criteria, tuple(warnings), rec.layout)
    raise EligoError(f"{rec.nct_id}: the draft does not compile")


def import_ctgov(path: Path, out: Path | None = None, *, nct: str | None = None
                 ) -> tuple[str, Draft]:
    """``eligo import-ctgov FILE [-o OUT.elig] [--nct NCT…]``: read a record, draft its
    protocol, and write it to ``out`` when given. Returns the draft's source and the draft;
    the caller prints the source when there is no ``out``, and :func:`summary_line` and
    the draft's warnings to stderr."""
    records = read_records(path)
    record, notes = select_record(records, nct)
    draft = draft_protocol(record, notes=notes)
    if out is not None:
        try:
            out.write_text(draft.text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    return draft.text, draft
