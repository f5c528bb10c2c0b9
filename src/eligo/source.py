"""Source text and spans: offsets into a named text, with line/column derived on demand."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range ``[start, end)`` in a protocol's source text."""

    start: int
    end: int


@dataclass(frozen=True)
class Source:
    """A protocol text and the name it is reported under (a path or ``<string>``)."""

    text: str
    name: str = "<string>"
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        object.__setattr__(self, "_line_starts", tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of ``offset`` (clamped into the text)."""
        offset = max(0, min(offset, len(self.text)))
        line_index = bisect_right(self._line_starts, offset) - 1
        return line_index + 1, offset - self._line_starts[line_index] + 1

    def line_text(self, line: int) -> str:
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end == -1 else self.text[start:end]

    def excerpt(self, span: Span) -> str:
        """The first line of ``span`` with a gutter and carets under the spanned columns."""
        line, col = self.line_col(span.start)
        text = self.line_text(line).replace("\t", " ")
        end_line, end_col = self.line_col(span.end)
        width = (end_col - col) if end_line == line else len(text) - col + 1
        width = max(1, width)
        gutter = " " * len(str(line))
        return (
            f"{gutter} |\n"
            f"{line} | {text}\n"
            f"{gutter} | {' ' * (col - 1)}{'^' * width}"
        )
