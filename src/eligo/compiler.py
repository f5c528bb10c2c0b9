"""Checks a parsed protocol and gathers every semantic diagnostic before raising once.

Name resolution (value sets, defines, fields) with did-you-mean suggestions, code
validity per code system, define cycles, duplicate ids, types and units of comparisons.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from eligo import rules as r
from eligo.errors import Diagnostic, ProtocolError
from eligo.parse import parse_protocol
from eligo.source import Source, Span
from eligo.terminology import SYSTEM_URIS, code_problem, nearest_icd10cm

AGE_UNITS = {"years": "years", "year": "years", "months": "months", "month": "months",
             "weeks": "weeks", "week": "weeks", "days": "days", "day": "days"}
SEX_VALUES = ("female", "male", "other", "unknown")

# Patient attributes that comparisons may name. Observations and scores join this
# catalogue when the observation library arrives.
FIELDS: dict[str, str] = {
    "age": "age in completed years (or months/weeks/days) at the as-of date",
    "sex": "administrative sex: female, male, other or unknown",
}


def _suggest(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def children(expr: r.Expr) -> tuple[r.Expr, ...]:
    match expr:
        case r.And(operands) | r.Or(operands) | r.AtLeast(_, operands):
            return operands
        case r.Not(operand):
            return (operand,)
        case _:
            return ()


def walk(expr: r.Expr) -> Iterator[r.Expr]:
    yield expr
    for child in children(expr):
        yield from walk(child)


class _Checker:
    def __init__(self, protocol: r.Protocol) -> None:
        self.protocol = protocol
        self.diagnostics: list[Diagnostic] = []
        self.valuesets = {v.name: v for v in protocol.valuesets}
        self.defines = {d.name: d for d in protocol.defines}

    def error(self, code: str, message: str, node_span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, node_span, hint))

    def run(self) -> None:
        p = self.protocol
        seen: dict[str, str] = {}
        for vs in p.valuesets:
            if vs.name in seen:
                self.error("duplicate-name", f"`{vs.name}` is already defined as a {seen[vs.name]}",
                           vs.span, "give each value set and define its own name")
            seen[vs.name] = "value set"
            self.check_codes(vs.codes)
        for d in p.defines:
            if d.name in seen:
                self.error("duplicate-name", f"`{d.name}` is already defined as a {seen[d.name]}",
                           d.span, "give each value set and define its own name")
            seen[d.name] = "define"
            self.check_expr(d.expr)
        self.check_cycles()
        ids: dict[str, r.Criterion] = {}
        for c in p.criteria:
            if c.id in ids:
                first_line = c.id
                self.error("duplicate-id", f"criterion id `{c.id}` is used twice", c.span,
                           f"{first_line} is already the id of \"{ids[c.id].text}\"; "
                           "number each criterion uniquely")
            ids.setdefault(c.id, c)
            if not c.text.strip():
                self.error("empty-text", f"criterion {c.id} has an empty text", c.span,
                           "quote the protocol's original wording of the criterion")
            self.check_expr(c.expr)

    def check_codes(self, codes: Iterable[r.CodeRef]) -> None:
        for ref in codes:
            if ref.system not in SYSTEM_URIS:
                self.error("unknown-system", f"unknown code system `{ref.system}`", ref.span,
                           _suggest(ref.system, SYSTEM_URIS)
                           or f"known systems: {', '.join(SYSTEM_URIS)}")
                continue
            problem = code_problem(ref)
            if problem is None:
                continue
            hint = None
            if ref.system == "icd10cm" and ref.match != "range":
                near = nearest_icd10cm(ref.code)
                if near:
                    hint = "nearest valid codes: " + ", ".join(near)
            code = "bad-range" if ref.match == "range" and "backwards" in problem else "bad-code"
            self.error(code, problem, ref.span, hint)

    def check_target(self, target: r.CodeTarget) -> None:
        match target:
            case r.ValueSetRef(name, span):
                if name not in self.valuesets:
                    hint = _suggest(name, self.valuesets)
                    if name in self.defines:
                        hint = f"`{name}` is a define, not a value set; use it on its own"
                    self.error("unknown-valueset", f"unknown value set `{name}`", span,
                               hint or "declare it with `valueset NAME = SYSTEM CODE, ...`")
            case r.InlineCodes(codes):
                self.check_codes(codes)

    def check_expr(self, expr: r.Expr) -> None:
        for node in walk(expr):
            match node:
                case r.Reference(name, span):
                    if name in self.defines:
                        continue
                    if name in self.valuesets:
                        self.error("unknown-define", f"`{name}` is a value set, not a rule", span,
                                   f"say what to look for: `has condition {name}`")
                    elif name in FIELDS:
                        self.error("incomplete-comparison", f"`{name}` needs a comparison",
                                   span, f"for example `{name} >= 18`" if name == "age"
                                   else f"for example `{name} = female`")
                    else:
                        self.error("unknown-define", f"unknown name `{name}`", span,
                                   _suggest(name, [*self.defines, *FIELDS])
                                   or "declare it with `define NAME = ...`")
                case r.RecordQuery(_, target, window):
                    self.check_target(target)
                    if window is not None and window.amount < 1:
                        self.error("bad-window", "a time window must be at least 1", window.span,
                                   "write `within 1 days` or more")
                case r.AtLeast(count, operands, span):
                    if count < 1:
                        self.error("bad-count", "`at least 0 of` is always true", span,
                                   "use a count of 1 or more")
                    elif count > len(operands):
                        self.error("bad-count",
                                   f"at least {count} of {len(operands)} items can never hold",
                                   span, f"use a count between 1 and {len(operands)}")
                case r.Manual(text, span):
                    if not text.strip():
                        self.error("empty-text", "a manual check needs its question", span,
                                   'write what the coordinator must check: manual "..."')
                case r.Compare() | r.Between() | r.InList():
                    self.check_field(node)

    def check_field(self, node: r.Compare | r.Between | r.InList) -> None:
        subject = node.subject
        if subject not in FIELDS:
            self.error("unknown-field", f"unknown field `{subject}`", node.span,
                       _suggest(subject, FIELDS) or f"known fields: {', '.join(FIELDS)}")
            return
        if subject == "age":
            self.check_age(node)
        else:
            self.check_sex(node)

    def check_age(self, node: r.Compare | r.Between | r.InList) -> None:
        values: list[r.Value]
        match node:
            case r.Between(_, low, high, unit, span):
                self.check_age_unit(unit, span)
                if low > high:
                    self.error("bad-range", f"the range {low}–{high} is empty", span,
                               f"write the lower bound first: between {high} and {low}")
                return
            case r.Compare(_, _, value):
                values = [value]
            case r.InList(_, items):
                values = list(items)
        for value in values:
            if not isinstance(value, r.Quantity):
                self.error("type-mismatch", "age is compared with a number", value.span,
                           "for example `age >= 18 years`")
            else:
                self.check_age_unit(value.unit, value.span)

    def check_age_unit(self, unit: str | None, span: Span) -> None:
        if unit is not None and unit not in AGE_UNITS:
            self.error("unit-mismatch", f"`{unit}` is not a unit of age", span,
                       _suggest(unit, AGE_UNITS) or "use years, months, weeks or days")

    def check_sex(self, node: r.Compare | r.Between | r.InList) -> None:
        match node:
            case r.Between(span=span):
                self.error("type-mismatch", "sex has no order; `between` does not apply", span,
                           "write `sex = female` or `sex in [female, male]`")
                return
            case r.Compare(_, op, value, span) if op not in ("=", "!="):
                self.error("type-mismatch", f"sex has no order; `{op}` does not apply", span,
                           "use `=` or `!=`")
                return
            case r.Compare(_, _, value):
                values: list[r.Value] = [value]
            case r.InList(_, items):
                values = list(items)
        for value in values:
            word = value.name if isinstance(value, r.Symbol) else None
            if word not in SEX_VALUES:
                shown = word or (value.value if isinstance(value, r.Text)
                                 else str(getattr(value, "number", "")))
                self.error("bad-value", f"`{shown}` is not a value of sex", value.span,
                           _suggest(shown, SEX_VALUES)
                           or f"sex is one of {', '.join(SEX_VALUES)}")

    def check_cycles(self) -> None:
        graph = {
            d.name: [n for n in walk(d.expr) if isinstance(n, r.Reference)]
            for d in self.protocol.defines
        }
        reported: set[str] = set()

        def visit(name: str, path: list[str]) -> None:
            for ref in graph.get(name, []):
                if ref.name in path:
                    cycle = [*path[path.index(ref.name):], ref.name]
                    key = min(cycle)
                    if key not in reported:
                        reported.add(key)
                        self.error("define-cycle", "defines refer to each other in a cycle: "
                                   + " -> ".join(cycle), ref.span,
                                   "a define may only use defines that do not use it back")
                    continue
                if ref.name in graph:
                    visit(ref.name, [*path, ref.name])

        for name in graph:
            visit(name, [name])


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def compile_source(source: Source) -> r.Protocol:
    """Parse and check a protocol text; raise one :class:`ProtocolError` with all problems."""
    protocol, diagnostics = parse_protocol(source)
    checker = _Checker(protocol)
    checker.run()
    diagnostics.extend(checker.diagnostics)
    if diagnostics:
        raise ProtocolError(source, diagnostics)
    return replace(protocol, source_hash=content_hash(source.text))


def compile_text(text: str, name: str = "<string>") -> r.Protocol:
    return compile_source(Source(text, name))


def compile_file(path: Path) -> r.Protocol:
    return compile_source(Source(path.read_text(encoding="utf-8"), str(path)))
