"""Golden tests for compile errors: each ``tests/errors/NN-name.elig`` must fail to compile
with exactly the diagnostic text stored next to it in ``NN-name.txt``.

Run with ``ELIGO_UPDATE_GOLDEN=1`` to rewrite the ``.txt`` files from the compiler's output
(then read the diff: a golden file is a reviewed message, not a snapshot to accept blindly).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eligo.cli import app
from eligo.compiler import compile_source
from eligo.errors import ProtocolError
from eligo.source import Source

ERRORS = Path(__file__).resolve().parent / "errors"
CASES = sorted(ERRORS.glob("*.elig"))
UPDATE = os.environ.get("ELIGO_UPDATE_GOLDEN") == "1"

# The diagnostic codes scripts may match on. A new code is a deliberate API change:
# add it here and to the README's list.
STABLE_CODES = frozenset({
    "syntax",
    "unterminated-text",
    "too-deep",
    "bad-number",
    "missing-section",
    "empty-section",
    "duplicate-section",
    "duplicate-name",
    "duplicate-id",
    "empty-text",
    "unknown-system",
    "bad-code",
    "bad-range",
    "unknown-valueset",
    "unknown-define",
    "incomplete-comparison",
    "define-cycle",
    "bad-window",
    "bad-count",
    "unknown-field",
    "unit-mismatch",
    "unknown-equivalent",
    "type-mismatch",
    "bad-value",
    "unknown-function",
    "bad-stage",
    "misplaced-qualifier",
    "bad-grade",
    "unknown-language",
    "unknown-place",
})

MULTI_ERROR_CASE = "29-several-errors"
MULTI_ERROR_CODES = [
    "bad-code",
    "unknown-system",
    "unknown-field",
    "unknown-valueset",
    "duplicate-id",
    "bad-value",
    "bad-window",
    "unknown-define",
]

LOCATION = re.compile(r"^  --> (?P<file>\S+):(?P<line>\d+):(?P<col>\d+)$", re.MULTILINE)


def _relative_name(path: Path) -> str:
    return f"tests/errors/{path.name}"


def _compile_error(path: Path) -> ProtocolError:
    text = path.read_text(encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        compile_source(Source(text, name=_relative_name(path)))
    return caught.value


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 24
    assert all(re.fullmatch(r"\d\d-[a-z0-9-]+\.elig", p.name) for p in CASES)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_diagnostics(path: Path) -> None:
    rendered = _compile_error(path).render() + "\n"
    golden = path.with_suffix(".txt")
    if UPDATE:
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"{golden.name} is missing; run with ELIGO_UPDATE_GOLDEN=1"
    expected = golden.read_text(encoding="utf-8")
    if rendered != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), rendered.splitlines(keepends=True),
            fromfile=f"{golden.name} (expected)", tofile="compiler output",
        ))
        pytest.fail(f"diagnostics differ from {golden.name}:\n{diff}", pytrace=False)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_diagnostic_is_located_and_helpful(path: Path) -> None:
    err = _compile_error(path)
    assert err.diagnostics
    text = err.source.text
    for d in err.diagnostics:
        assert d.code in STABLE_CODES, f"unlisted diagnostic code {d.code!r}"
        assert 0 <= d.span.start <= d.span.end <= len(text)
        assert d.hint, f"[{d.code}] {d.message} has no hint"
        block = d.render(err.source)
        located = LOCATION.search(block)
        assert located is not None
        assert located["file"] == _relative_name(path)
        assert "^" in block.splitlines()[-2 if d.hint else -1]
    positions = [d.span.start for d in err.diagnostics]
    assert positions == sorted(positions)


def test_multi_error_file_reports_everything_at_once() -> None:
    err = _compile_error(ERRORS / f"{MULTI_ERROR_CASE}.elig")
    assert [d.code for d in err.diagnostics] == MULTI_ERROR_CODES
    assert err.render().endswith(f"{len(MULTI_ERROR_CODES)} errors in "
                                 f"tests/errors/{MULTI_ERROR_CASE}.elig")


def test_syntax_hints_say_what_was_expected() -> None:
    checked = 0
    for path in CASES:
        for d in _compile_error(path).diagnostics:
            if d.code == "syntax" and d.message.startswith("unexpected"):
                assert d.hint is not None
                assert "expected " in d.hint, d.hint
                assert "$END" not in d.hint, d.hint
                assert "__" not in d.hint, d.hint
                checked += 1
    assert checked >= 6


def test_cli_lint_reports_a_compile_error() -> None:
    path = ERRORS / "03-unknown-field.elig"
    result = CliRunner().invoke(app, ["lint", str(path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = result.stderr
    assert f"{path}:3:25" in errors
    assert '3 |   I1 "Aged 18 or over": agee >= 18\n' in errors
    assert "\n  |                         ^^^^\n" in errors
    assert "  = help: did you mean `age`?" in errors
    assert "Traceback" not in result.output


def test_cli_lint_reports_a_syntax_error_and_keeps_going() -> None:
    bad = ERRORS / "22-and-and.elig"
    result = CliRunner().invoke(app, ["lint", str(bad), "NCT01224327"])
    assert result.exit_code == 2, result.output
    assert f"{bad}:3:41" in result.stderr
    assert "  = help: expected a rule" in result.stderr
    assert "ok: NCT01224327" in result.stdout
    assert "Traceback" not in result.output
