"""The error hierarchy: one root, one subclass per stage, each diagnostic with a stable code.

Codes are stable slugs that scripts may match on; the README lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eligo.source import Source, Span

MAX_REPORTED = 20


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a protocol: a stable code, a message, where, and a hint."""

    code: str
    message: str
    span: Span
    hint: str | None = None

    def render(self, source: Source) -> str:
        line, col = source.line_col(self.span.start)
        parts = [
            f"error[{self.code}]: {self.message}",
            f"  --> {source.name}:{line}:{col}",
            source.excerpt(self.span),
        ]
        if self.hint:
            parts.append(f"  = help: {self.hint}")
        return "\n".join(parts)

    def to_dict(self, source: Source) -> dict[str, Any]:
        line, col = source.line_col(self.span.start)
        return {
            "code": self.code,
            "message": self.message,
            "file": source.name,
            "line": line,
            "column": col,
            "start": self.span.start,
            "end": self.span.end,
            "hint": self.hint,
        }


class EligoError(Exception):
    """Root of every error eligo raises on purpose. Anything else escaping is a bug."""

    code: str = "error"

    def render(self) -> str:
        return str(self)


class ProtocolError(EligoError):
    """A protocol failed to compile: every diagnostic of the file, gathered and sorted."""

    code = "protocol-error"

    def __init__(self, source: Source, diagnostics: Sequence[Diagnostic]) -> None:
        self.source = source
        self.diagnostics = tuple(sorted(diagnostics, key=lambda d: (d.span.start, d.code)))
        super().__init__(self.render())

    def render(self) -> str:
        shown = self.diagnostics[:MAX_REPORTED]
        blocks = [d.render(self.source) for d in shown]
        hidden = len(self.diagnostics) - len(shown)
        if hidden:
            blocks.append(f"... and {hidden} more")
        count = len(self.diagnostics)
        blocks.append(f"{count} error{'s' if count != 1 else ''} in {self.source.name}")
        return "\n\n".join(blocks)

    def to_dict(self) -> dict[str, Any]:
        return {"errors": [d.to_dict(self.source) for d in self.diagnostics]}


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One invalid value in patient data, located by its field path."""

    path: str
    message: str
    value: str | None = None

    def render(self) -> str:
        shown = f" (got {self.value})" if self.value is not None else ""
        return f"  {self.path}: {self.message}{shown}"


class PatientDataError(EligoError):
    """Patient data could not be read or did not validate against the profile model."""

    code = "invalid-patient"

    def __init__(self, origin: str, issues: Sequence[FieldIssue]) -> None:
        self.origin = origin
        self.issues = tuple(issues)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.issues)
        head = f"error[{self.code}]: {self.origin}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([head, *(issue.render() for issue in self.issues)])


class UsageError(EligoError):
    """A command was asked for something it cannot do (unknown protocol id, bad date...)."""

    code = "usage"

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"error[{self.code}]: {self.message}"
        return f"{text}\n  = help: {self.hint}" if self.hint else text
