"""The bundled value-set library: one YAML file per clinical concept, shipped as package
data under ``eligo/valuesets/``. Protocols bring a concept in with ``use NAME`` and may
extend it (``valueset cirrhosis = use liver_cirrhosis; icd10cm K76.6``)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from eligo.rules import CodeMatch, CodeRef

Kind = Literal["condition", "medication", "procedure"]


@dataclass(frozen=True, slots=True)
class LibraryValueSet:
    name: str
    title: str
    kind: Kind
    description: str
    codes: tuple[CodeRef, ...]
    source: str


def code_ref(system: str, written: str) -> CodeRef:
    """A code as written in a protocol or library file: ``K74.6*``, ``C00-C96``, ``19943007``."""
    text = str(written).strip()
    match: CodeMatch = "exact"
    if text.endswith("*"):
        match, text = "descendants", text[:-1]
    elif system == "icd10cm" and "-" in text:
        match = "range"
    return CodeRef(system, text, match)


def _entry(data: dict[str, Any]) -> LibraryValueSet:
    codes = tuple(
        code_ref(system, code)
        for system, listed in (data.get("codes") or {}).items()
        for code in listed or ()
    )
    return LibraryValueSet(
        name=data["name"], title=data["title"], kind=data["kind"],
        description=" ".join(str(data["description"]).split()), codes=codes,
        source=" ".join(str(data["source"]).split()),
    )


@cache
def library_valuesets() -> dict[str, LibraryValueSet]:
    """Every bundled value set by name (read once per process)."""
    folder = resources.files("eligo").joinpath("valuesets")
    found: dict[str, LibraryValueSet] = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            entry = _entry(yaml.safe_load(item.read_text(encoding="utf-8")))
            found[entry.name] = entry
    return found


def lookup(name: str) -> LibraryValueSet | None:
    return library_valuesets().get(name)


def suggest(name: str) -> str | None:
    close = difflib.get_close_matches(name, list(library_valuesets()), n=1, cutoff=0.6)
    return close[0] if close else None
