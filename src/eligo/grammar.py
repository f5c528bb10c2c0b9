"""Locate ``eligibility.lark`` and build the LALR parser once per process."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from lark import Lark

GRAMMAR_FILE = "eligibility.lark"


def grammar_text() -> str:
    """The grammar as installed in the package, else from the source checkout's ``grammars/``."""
    installed = resources.files("eligo").joinpath("grammars", GRAMMAR_FILE)
    if installed.is_file():
        return installed.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammars" / GRAMMAR_FILE
    return checkout.read_text(encoding="utf-8")


@cache
def parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
    )
