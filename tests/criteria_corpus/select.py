"""Choose the trials and criteria of the criteria corpus, deterministically.

    python tests/criteria_corpus/select.py [--data PATH] [--skeleton DIR]

Reads ../shared/data/ctgov/trials_v2.jsonl (from the project root) and prints the selected
trials with their area and the criteria to encode. With ``--skeleton DIR`` it also writes one
YAML skeleton per trial (trial, title, area and the verbatim criteria, encodings left blank)
into DIR, never over the corpus itself. The procedure is described in README.md next to this
file; tests/test_criteria_corpus.py runs :func:`select` and checks that the corpus holds
exactly what it returns.

Standard library only; no eligo code is used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = "eligo-criteria-corpus-1"
N_TRIALS = 44
N_COVID = 13  # 13 of 44 trials (29.5 %); COVID-19 is 55 of the 118 candidates
K_PER_KIND = 3  # the first 3 inclusion and the first 3 exclusion items of each trial

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "ctgov" / "trials_v2.jsonl"

# Areas in priority order: a trial gets the first area one of whose patterns matches its
# conditions, keywords or brief title (case-insensitive). The round-robin below also walks
# the areas in this order.
AREAS: list[tuple[str, str]] = [
    ("covid19", r"covid|sars-cov|coronavirus|corona virus"),
    ("hiv", r"\bhiv\b|human immunodeficiency virus"),
    ("hepatology", r"hepatitis|cirrhosis|liver disease|haemochromatosis|hemochromatosis"),
    ("healthy_volunteers", r"healthy"),
    ("diabetes_metabolic", r"diabet|obesity|obese|metabolic"),
    ("oncology", r"cancer|carcinoma|neoplasm|tumou?r|sarcoma|lymphoma|leuka?emia|carcinomatosis"),
    ("cardiology", r"atrial fibrillation|heart|cardiac|hypertension|coronary"),
    ("respiratory", r"respirat|hypoxia|hypercapnia|asthma|copd|pulmonary disease|lung disease"),
    ("mental_health", r"depress|anxi|stress|mental|psych|alcohol|bulimia|binge|eating disorder|"
                      r"autism|attention deficit"),
    ("neurology", r"stroke|dementia|alzheimer|cognitive impairment|\bmci\b|spasticity|"
                  r"dysarthria|epilep|parkinson"),
    ("obstetrics_gynaecology", r"pregnan|labou?r induction|contracept|genital|caesarean|"
                               r"cesarean"),
    ("surgery_anaesthesia", r"surgery|surgical|anaesthe|anesthe|hernia|intubation|"
                            r"pneumoperitoneum|abdominoplasty|fluid"),
    ("other", r"."),
]

_ESCAPE = re.compile(r"\\(.)")
_BULLET = re.compile(r"^(\s*)\*\s+(.*)$")
_EXCLUSION_HEADER = re.compile(
    r"^(?:[\w/'-]+\s+){0,4}?(?:key\s+)?(?:exclusion|non-inclusion)\s+criteria\b", re.I
)
_INCLUSION_HEADER = re.compile(r"^(?:[\w/'-]+\s+){0,4}?(?:key\s+)?inclusion\s+criteria\b", re.I)
_HEADER_MAX = 80


# API v1 text has lost the indentation that showed which lines a lead-in (a line ending in
# `:`, such as "meeting any of the following criteria:") governs. For every lead-in that
# falls in a sampled position, the number of following lines that belong to it was read
# from the record: N > 0 joins the lead-in and those N lines into one item; 0 keeps the
# lead-in as an item of its own (it introduces the rest of its section but also states a
# requirement); PREAMBLE drops it (it introduces the rest of its section and states nothing
# else, like a header). Keys are (trial, lead-in text as normalised).
PREAMBLE = -1
LEAD_INS: dict[tuple[str, str], int] = {
    ("NCT02028676", "Children should have an adult carer in the household who is either:"): 4,
    ("NCT02028676", "Participants must have a confirmed documented diagnosis of HIV-1 "
                    "infection:"): 2,
    ("NCT04780217", "Participants with one of the following cancers:"): 3,
    ("NCT04926779", "Subjects must be able to understand and willingly sign a written informed "
                    "consent. Additionally, participants need to meet at least 1 of the "
                    "criteria listed below:"): 6,
    ("NCT04926779", "Subjects who meet any of the following exclusion criteria may not be "
                    "enrolled in this study:"): PREAMBLE,
    ("NCT04780399", "Patients, Chinese speaking, in both gender are eligible to be included in "
                    "the study only if they meet all of the following criteria:"): 0,
    ("NCT04780399", "Patients who confirmed with any of the following excluding criteria "
                    "conditions were not enrolled for the study:"): PREAMBLE,
    ("NCT04779580", "The participant may not enter the study if ANY of the following "
                    "apply:"): PREAMBLE,
}


@dataclass
class Item:
    kind: str  # "inclusion" | "exclusion"
    text: str
    unlisted_lead_in: bool = False  # a lead-in whose extent LEAD_INS does not give


@dataclass
class Trial:
    nct: str
    title: str
    area: str
    rank: str
    items: list[Item] = field(default_factory=list)

    def sample(self, kind: str) -> list[Item]:
        return [i for i in self.items if i.kind == kind][:K_PER_KIND]


def normalise(text: str) -> str:
    """Undo the registry's backslash escapes, drop `* ` bullet marks, collapse whitespace."""
    lines = []
    for line in _ESCAPE.sub(r"\1", text).splitlines():
        m = _BULLET.match(line)
        lines.append(m.group(2) if m else line)
    return " ".join(" ".join(lines).split())


def _header_kind(line: str) -> str | None:
    s = line.strip().lstrip("*- ").strip()
    if len(s) > _HEADER_MAX:
        return None
    if _EXCLUSION_HEADER.match(s):
        return "exclusion"
    if _INCLUSION_HEADER.match(s):
        return "inclusion"
    return None


def split_items(nct: str, criteria: str, bulleted: bool) -> list[Item]:
    """The items of an eligibilityCriteria text, in order, with the section each is in.

    Lines before the first inclusion/exclusion header are ignored, header lines are not
    items, and a later header switches the section. ``bulleted`` (API v2 text): a `* `
    bullet at the left margin starts an item, and an indented bullet or indented line
    continues it (sub-items belong to their parent); any other line starts an item.
    Otherwise (API v1 text, one item per line): every non-empty line is an item, except for
    the lead-ins listed in LEAD_INS. Text without a letter or digit (a lone "-") is not an
    item.
    """
    items: list[Item] = []
    kind: str | None = None
    current: list[str] | None = None
    take = 0  # v1: lines still to join to the current lead-in
    unlisted = False

    def close() -> None:
        nonlocal current, unlisted
        if current is not None and kind is not None:
            text = normalise("\n".join(current))
            if any(c.isalnum() for c in text):
                items.append(Item(kind, text, unlisted))
        current = None
        unlisted = False

    for line in criteria.splitlines():
        header = _header_kind(line)
        if header is not None:
            close()
            kind = header
            take = 0
            continue
        if kind is None or not line.strip():
            continue
        if bulleted:
            m = _BULLET.match(line)
            indented = m.group(1) != "" if m else line[:1].isspace()
            if indented and current is not None:
                current.append(line)
                continue
            close()
            current = [line]
            continue
        if take > 0 and current is not None:
            current.append(line)
            take -= 1
            if take == 0:
                close()
            continue
        close()
        if line.rstrip().endswith(":"):
            extent = LEAD_INS.get((nct, normalise(line)))
            if extent == PREAMBLE:
                continue
            current = [line]
            if extent is None:
                unlisted = True
            elif extent > 0:
                take = extent
                continue
            close()
            continue
        current = [line]
    close()
    for item in items:
        if bulleted and item.text.endswith(":"):
            item.unlisted_lead_in = True
    return items


def area_of(study: dict[str, Any]) -> str:
    p = study["protocolSection"]
    words = [p["identificationModule"].get("briefTitle", "")]
    words += p.get("conditionsModule", {}).get("conditions", []) or []
    words += p.get("conditionsModule", {}).get("keywords", []) or []
    haystack = " | ".join(words)
    for name, pattern in AREAS:
        if re.search(pattern, haystack, re.I):
            return name
    raise AssertionError("the last area matches everything")


def rank(nct: str) -> str:
    return hashlib.sha256(f"{SEED}:{nct}".encode()).hexdigest()


def candidates(data: Path) -> list[Trial]:
    """Every trial that may be chosen: interventional, criteria not cut short by the
    fixture's author, and at least one inclusion and one exclusion item."""
    out: list[Trial] = []
    for line in data.read_text(encoding="utf-8").splitlines():
        study = json.loads(line)
        p = study["protocolSection"]
        if p["designModule"].get("studyType") != "INTERVENTIONAL":
            continue
        if study.get("_provenance", {}).get("criteria_truncated_by_fixture_author"):
            continue
        nct = p["identificationModule"]["nctId"]
        bulleted = study.get("_provenance", {}).get("source_kind") == "api_v2_raw"
        items = split_items(nct, p["eligibilityModule"].get("eligibilityCriteria", ""), bulleted)
        if not any(i.kind == "inclusion" for i in items):
            continue
        if not any(i.kind == "exclusion" for i in items):
            continue
        title = p["identificationModule"].get("briefTitle", "")
        out.append(Trial(nct, title, area_of(study), rank(nct), items))
    return out


def select(data: Path = DEFAULT_DATA) -> list[Trial]:
    """The first N_COVID COVID-19 trials in seeded-hash order, then a round-robin over the
    other areas (in AREAS order, each area's trials in seeded-hash order) until N_TRIALS
    trials are chosen."""
    by_area: dict[str, list[Trial]] = {name: [] for name, _ in AREAS}
    for t in candidates(data):
        by_area[t.area].append(t)
    for trials in by_area.values():
        trials.sort(key=lambda t: t.rank)
    chosen: list[Trial] = by_area["covid19"][:N_COVID]
    depth = max(len(v) for v in by_area.values())
    for r in range(depth):
        for name, _ in AREAS:
            if len(chosen) == N_TRIALS:
                return _checked(chosen)
            if name != "covid19" and r < len(by_area[name]):
                chosen.append(by_area[name][r])
    return _checked(chosen)


def _checked(chosen: list[Trial]) -> list[Trial]:
    for t in chosen:
        for item in t.sample("inclusion") + t.sample("exclusion"):
            if item.unlisted_lead_in:
                raise SystemExit(f"{t.nct}: the lead-in {item.text!r} is sampled but not in "
                                 "LEAD_INS: read its extent from the record and add it")
    return chosen


def _yaml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def skeleton(t: Trial) -> str:
    out = [f"trial: {t.nct}", f"title: {_yaml_str(t.title)}", f"area: {t.area}",
           "declarations: |", "criteria:"]
    for kind, prefix in (("inclusion", "I"), ("exclusion", "E")):
        for n, item in enumerate(t.sample(kind), 1):
            out += [f"  - id: {prefix}{n}", f"    kind: {kind}",
                    f"    text: {_yaml_str(item.text)}", "    decidable: ", "    fidelity: ",
                    "    missing: []", "    encoding: ''"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--skeleton", type=Path, help="write YAML skeletons into this directory")
    args = ap.parse_args(argv)
    chosen = select(args.data)
    for t in chosen:
        print(f"{t.nct}  {t.area:24} {t.title[:70]}")
        for kind in ("inclusion", "exclusion"):
            for item in t.sample(kind):
                print(f"    {kind[:3]}  {item.text}")
    counts: dict[str, int] = {}
    for t in chosen:
        counts[t.area] = counts.get(t.area, 0) + 1
    print(f"{len(chosen)} trials, "
          f"{sum(len(t.sample('inclusion')) + len(t.sample('exclusion')) for t in chosen)} "
          f"criteria; by area: {dict(sorted(counts.items()))}")
    if args.skeleton:
        corpus = Path(__file__).resolve().parent
        if args.skeleton.resolve() == corpus:
            print("refusing to write skeletons over the corpus", file=sys.stderr)
            return 2
        args.skeleton.mkdir(parents=True, exist_ok=True)
        for t in chosen:
            (args.skeleton / f"{t.nct}.yaml").write_text(skeleton(t), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
