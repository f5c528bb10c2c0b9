"""Robustness: whatever text reaches the compiler, it either compiles or raises a
:class:`ProtocolError` whose diagnostics all point inside the text. Any other exception
(a lark ``VisitError``, ``RecursionError``, ``ValueError``...) is a bug.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eligo.compiler import compile_source
from eligo.errors import ProtocolError
from eligo.library import protocol_source
from eligo.rules import Protocol
from eligo.source import Source

SEED_TEXT = protocol_source("NCT01224327").text
# Words, numbers and codes, quoted texts, comments, line breaks and single other characters.
SEED_TOKENS = re.findall(r'"[^"\n]*"|#[^\n]*|[A-Za-z0-9_.*-]+|\n|[^\S\n]+|.', SEED_TEXT)

CODE_SLUG = re.compile(r"[a-z]+(-[a-z]+)*")

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Pieces worth inserting: the language's keywords and punctuation, plus troublemakers.
VOCABULARY = [
    "trial", "version", "assume open world", "valueset", "define", "inclusion", "exclusion",
    "and", "or", "not", "at least", "of", "between", "in", "has condition",
    "has history of condition", "taking medication", "had procedure", "within", "pregnant",
    "manual", "[open world]", "[closed world]", "age", "sex", "female", "years", "days",
    "icd10cm", "snomed", "loinc", "K74.60", "C00-C96", "C96-C00", "K70.3*", "19943007",
    "I9", "E9", "x", "andx", "=", "!=", "<", "<=", ">=", "(", ")", "[", "]", ",", ";", ":",
    ".", "*", "-", '"', '""', '"text"', "\\", "#", "\n", " ", "\t", "\r", "0", "18", "1.5",
    "9" * 30, "9" * 5000, "@", "µ", "\x00", "\u2028", "é", "not " * 150,
]


def _check(text: str) -> None:
    """Compile ``text``: success, or a well-formed ProtocolError. Anything else propagates."""
    try:
        protocol = compile_source(Source(text, name="fuzz.elig"))
    except ProtocolError as err:
        error = err
    else:
        assert isinstance(protocol, Protocol)
        return
    assert error.diagnostics, "a ProtocolError without diagnostics"
    for d in error.diagnostics:
        assert 0 <= d.span.start <= d.span.end <= len(text), (d, len(text))
        assert CODE_SLUG.fullmatch(d.code), d.code
        assert d.message
    assert error.render().endswith("fuzz.elig")
    assert len(error.to_dict()["errors"]) == len(error.diagnostics)


@st.composite
def char_mutations(draw: st.DrawFn) -> str:
    """The seed protocol with a few characters deleted, inserted or replaced."""
    text = SEED_TEXT
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "cut"]))
        piece = draw(st.one_of(st.characters(), st.sampled_from(VOCABULARY)))
        if op == "delete":
            text = text[:pos] + text[pos + 1:]
        elif op == "insert":
            text = text[:pos] + piece + text[pos:]
        elif op == "replace":
            text = text[:pos] + piece + text[pos + 1:]
        else:
            text = text[:pos] + text[pos + draw(st.integers(1, 200)):]
    return text


@st.composite
def token_mutations(draw: st.DrawFn) -> str:
    """The seed protocol with whole tokens deleted, duplicated, swapped or replaced."""
    tokens = list(SEED_TOKENS)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "replace":
            tokens[i] = draw(st.sampled_from(VOCABULARY + SEED_TOKENS))
        else:
            tokens.insert(i, " " + draw(st.sampled_from(VOCABULARY)) + " ")
        if not tokens:
            break
    return "".join(tokens)


def test_seed_protocol_compiles() -> None:
    _check(SEED_TEXT)
    compile_source(Source(SEED_TEXT))


@FUZZ
@given(st.text())
@example("")
@example("trial")
@example('trial T1 "')
@example("trial T1\ninclusion\nexclusion\n")
@example('trial T1\ninclusion\n I1 "x": at least ' + "9" * 5000 + " of (pregnant)")
@example('trial T1\ninclusion\n I1 "x": ' + "not " * 2000 + "pregnant")
@example("trial T1\ndefine a = " + " or ".join(["b"] * 40) + "\ndefine b = a\n")
def test_arbitrary_text(text: str) -> None:
    _check(text)


@FUZZ
@given(st.lists(st.sampled_from(VOCABULARY), max_size=40).map(" ".join))
def test_arbitrary_keyword_soup(text: str) -> None:
    _check("trial T1\n" + text)


@FUZZ
@given(char_mutations())
def test_character_mutations_of_a_real_protocol(text: str) -> None:
    _check(text)


@FUZZ
@given(token_mutations())
def test_token_mutations_of_a_real_protocol(text: str) -> None:
    _check(text)


def test_exponential_define_graphs_are_checked_quickly() -> None:
    # Each define uses the next one twice: a naive path walk visits 2**30 paths.
    lines = ["trial T1"]
    lines += [f"define d{i} = d{i + 1} or d{i + 1}" for i in range(30)]
    lines += ["define d30 = pregnant", "inclusion", ' I1 "x": d0', "exclusion", ' E1 "y": d1']
    compile_source(Source("\n".join(lines) + "\n"))


def test_long_define_chains_do_not_exhaust_the_stack() -> None:
    lines = ["trial T1"]
    lines += [f"define d{i} = d{i + 1}" for i in range(3000)]
    lines += ["define d3000 = d0", "inclusion", ' I1 "x": d0', "exclusion", ' E1 "y": pregnant']
    with pytest.raises(ProtocolError) as caught:
        compile_source(Source("\n".join(lines) + "\n"))
    assert [d.code for d in caught.value.diagnostics] == ["define-cycle"]
