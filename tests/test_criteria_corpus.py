"""The criteria corpus: real eligibility criteria from ClinicalTrials.gov, encoded in the
protocol language (tests/criteria_corpus/, described in its README.md).

Checks the corpus's size and fields, that every criterion text is verbatim in its trial's
registry record and that the corpus holds exactly what the documented selection procedure
(tests/criteria_corpus/select.py) chooses (both skipped when ../shared is absent), and that
each trial's criteria compile as one protocol.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from eligo.compiler import compile_source
from eligo.errors import ProtocolError
from eligo.source import Source

CORPUS = Path(__file__).resolve().parent / "criteria_corpus"
TRIALS_JSONL = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "ctgov" / "trials_v2.jsonl"
)
NO_SHARED = "../shared/data/ctgov/trials_v2.jsonl is not present (a clone without ../shared)"

MIN_CRITERIA = 200
MIN_TRIALS = 40
MAX_COVID_SHARE = 0.30
MIN_AREAS = 8

KINDS = {"inclusion", "exclusion"}
DECIDABLE = {"yes", "partly", "no"}
FIDELITY = {"faithful", "approximate"}
TOP_KEYS = {"trial", "title", "area", "declarations", "criteria"}
REQUIRED = {"id", "kind", "text", "decidable", "encoding"}
OPTIONAL = {"fidelity", "missing", "note"}
LABEL = re.compile(r"[a-z0-9]+(?:[-:][a-z0-9]+)*")
AREA = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: `decidable: yes` / `no` stay strings (YAML 1.1 reads them as bools)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


@cache
def _corpus() -> dict[str, dict[str, Any]]:
    return {p.stem: _load(p) for p in sorted(CORPUS.glob("NCT*.yaml"))}


def _criteria() -> list[tuple[str, dict[str, Any]]]:
    return [(nct, c) for nct, trial in _corpus().items() for c in trial["criteria"]]


# ---- size and fields -------------------------------------------------------------------


def test_corpus_size_and_spread() -> None:
    corpus = _corpus()
    criteria = _criteria()
    assert len(corpus) >= MIN_TRIALS, f"{len(corpus)} trials"
    assert len(criteria) >= MIN_CRITERIA, f"{len(criteria)} criteria"
    areas = Counter(trial["area"] for trial in corpus.values())
    assert len(areas) >= MIN_AREAS, areas
    assert areas["covid19"] <= MAX_COVID_SHARE * len(corpus), areas


@pytest.mark.parametrize("nct", sorted(_corpus()))
def test_fields_and_values(nct: str) -> None:
    trial = _corpus()[nct]
    assert set(trial) == TOP_KEYS, set(trial) ^ TOP_KEYS
    assert trial["trial"] == nct, "the trial id must match the file name"
    assert isinstance(trial["title"], str)
    assert trial["title"].strip()
    assert isinstance(trial["area"], str)
    assert AREA.fullmatch(trial["area"]), trial["area"]
    assert isinstance(trial["declarations"], str)
    criteria = trial["criteria"]
    assert isinstance(criteria, list)
    assert criteria
    numbers: dict[str, list[int]] = {"inclusion": [], "exclusion": []}
    for c in criteria:
        where = f"{nct} {c.get('id')}"
        assert isinstance(c, dict), where
        assert REQUIRED <= set(c) <= REQUIRED | OPTIONAL, f"{where}: keys {sorted(c)}"
        assert c["kind"] in KINDS, where
        m = re.fullmatch(r"([IE])([1-9][0-9]*)", str(c["id"]))
        assert m, f"{where}: ids are I<n> (inclusion) and E<n> (exclusion)"
        assert m.group(1) == c["kind"][0].upper(), f"{where}: the id does not match the kind"
        numbers[c["kind"]].append(int(m.group(2)))
        assert isinstance(c["text"], str), where
        assert c["text"].strip(), where
        assert isinstance(c["encoding"], str), where
        assert c["encoding"].strip(), where
        assert "\n" not in c["encoding"], f"{where}: one line"
        assert c["decidable"] in DECIDABLE, f"{where}: decidable is {c['decidable']!r}"
        manual = 'manual "' in c["encoding"]
        if c["decidable"] == "no":
            assert "fidelity" not in c, f"{where}: `no` has no fidelity"
            assert "missing" not in c, f"{where}: `no` has no missing constructs"
            assert c["encoding"].startswith('manual "'), f"{where}: `no` is a manual question"
            continue
        assert c.get("fidelity") in FIDELITY, f"{where}: fidelity is {c.get('fidelity')!r}"
        missing = c.get("missing", [])
        assert isinstance(missing, list), where
        assert all(isinstance(x, str) and LABEL.fullmatch(x) for x in missing), where
        assert len(set(missing)) == len(missing), f"{where}: repeated label"
        if c["fidelity"] == "faithful":
            assert not missing, f"{where}: a faithful encoding lacks nothing"
        if c["decidable"] == "partly":
            assert manual, f"{where}: `partly` combines the decidable part with manual"
        elif c["fidelity"] == "faithful":
            assert not manual, f"{where}: fully decidable and faithful, yet asks a question"
    for kind, seen in numbers.items():
        assert seen == list(range(1, len(seen) + 1)), f"{nct}: {kind} ids out of order"
    # The language needs both sections (each with a criterion); the selection takes trials
    # whose records have both, so every sample has both kinds.
    assert numbers["inclusion"], f"{nct}: an inclusion criterion is needed"
    assert numbers["exclusion"], f"{nct}: an exclusion criterion is needed"


# ---- the registry text and the selection procedure --------------------------------------

_ESCAPE = re.compile(r"\\(.)")
_BULLET = re.compile(r"^\s*\*\s+", re.M)


def _normalise(text: str) -> str:
    """Undo the v2 backslash escapes (`\\<`, `\\>`), drop `* ` bullets, collapse whitespace."""
    return " ".join(_BULLET.sub("", _ESCAPE.sub(r"\1", text)).split())


@cache
def _registry() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for line in TRIALS_JSONL.read_text(encoding="utf-8").splitlines():
        study = json.loads(line)
        out[study["protocolSection"]["identificationModule"]["nctId"]] = study
    return out


@pytest.mark.skipif(not TRIALS_JSONL.exists(), reason=NO_SHARED)
@pytest.mark.parametrize("nct", sorted(_corpus()))
def test_texts_are_verbatim(nct: str) -> None:
    study = _registry().get(nct)
    assert study is not None, f"{nct} is not in trials_v2.jsonl"
    protocol = study["protocolSection"]
    assert protocol["designModule"]["studyType"] == "INTERVENTIONAL"
    assert _corpus()[nct]["title"] == protocol["identificationModule"]["briefTitle"]
    record = _normalise(protocol["eligibilityModule"]["eligibilityCriteria"])
    for c in _corpus()[nct]["criteria"]:
        assert _normalise(c["text"]) in record, f"{nct} {c['id']}: not in the record: {c['text']!r}"


def _select_module() -> ModuleType:
    name = "criteria_corpus_select"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CORPUS / "select.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not TRIALS_JSONL.exists(), reason=NO_SHARED)
def test_corpus_is_what_the_procedure_selects() -> None:
    chosen = _select_module().select(TRIALS_JSONL)
    corpus = _corpus()
    assert sorted(t.nct for t in chosen) == sorted(corpus)
    for t in chosen:
        trial = corpus[t.nct]
        assert trial["area"] == t.area, t.nct
        expected = [(i.kind, i.text) for i in t.sample("inclusion") + t.sample("exclusion")]
        got = [(c["kind"], c["text"]) for c in trial["criteria"]]
        assert got == expected, t.nct


# ---- every encoding compiles -------------------------------------------------------------


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def protocol_source(trial: dict[str, Any]) -> str:
    """One protocol per trial: header, the declarations, then both sections."""
    lines = [f"trial {trial['trial']} {_quoted(trial['title'])}", trial["declarations"]]
    for kind in ("inclusion", "exclusion"):
        lines.append(kind)
        lines += [
            f"  {c['id']} {_quoted(c['text'])}: {c['encoding']}"
            for c in trial["criteria"]
            if c["kind"] == kind
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("nct", sorted(_corpus()))
def test_encodings_compile(nct: str) -> None:
    trial = _corpus()[nct]
    source = Source(protocol_source(trial), name=f"criteria_corpus/{nct}.elig")
    try:
        protocol = compile_source(source)
    except ProtocolError as err:
        pytest.fail(err.render())
    ids = [c["id"] for c in trial["criteria"]]
    compiled = [c.id for c in protocol.inclusion] + [c.id for c in protocol.exclusion]
    assert sorted(compiled) == sorted(ids)
