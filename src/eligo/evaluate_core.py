"""The evaluator's shared parts: findings, the closure pair every rule compiles to,
Kleene logic, and the periods time qualifiers select."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any, Literal, NamedTuple

from eligo import rules as r
from eligo import valueset_library
from eligo.printer import codes_text
from eligo.records import (
    INDEXED,
    CodeIndex,
    Context,
    Period,
    Truth,
    counted,
    first_day,
    shift_back,
    window_start,
)
from eligo.result import Evidence
from eligo.terminology import CodeMatcher, compile_matcher


class Finding(NamedTuple):
    """The explained value of one expression (immutable: findings may be shared).

    A named tuple rather than a frozen dataclass: an explained screening makes dozens of
    them per patient, and a tuple is several times cheaper to make.
    """

    truth: Truth
    reason: str
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()


Test = Callable[[Context], Truth]
Explain = Callable[[Context], Finding]


class Node(NamedTuple):
    test: Test
    explain: Explain


@dataclass
class Env:
    protocol: r.Protocol
    matchers: dict[str, CodeMatcher]
    titles: dict[str, str | None]
    codes: CodeIndex
    criterion_id: str
    open_world: bool
    defines: dict[str, Node] = field(default_factory=dict)


# What a rule decides about one patient: truth, reason, evidence, what would resolve it.
Decision = tuple[Truth, str, tuple[Evidence, ...], tuple[str, ...]]


def decision_node(decide: Callable[[Context], Decision]) -> Node:
    """A rule whose test and explanation share one decision, so they cannot disagree
    (for rules whose explanation costs little more than the decision itself)."""

    def test(ctx: Context) -> Truth:
        return decide(ctx)[0]

    def explain(ctx: Context) -> Finding:
        truth, reason, evidence, missing = decide(ctx)
        return Finding(truth, reason, evidence, missing if truth is None else ())

    return Node(test, explain)


# The comparators of the language, once: every rule that compares two values uses these.
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}


@cache
def library_matcher(name: str) -> CodeMatcher:
    """The matcher of a library value set that a built-in rule reads (lactation, menopause,
    ascites, dialysis...): compiled once per process, as the library never changes."""
    entry = valueset_library.lookup(name)
    return compile_matcher(entry.codes if entry is not None else ())


# ---- Kleene logic ----------------------------------------------------------------------


def kleene(values: Iterable[Truth], stop: bool) -> Truth:
    """``or`` (``stop=True``: one TRUE decides) or ``and`` (``stop=False``), UNKNOWN-aware."""
    result: Truth = not stop
    for v in values:
        if v is stop:
            return stop
        if v is None:
            result = None
    return result


def kleene_and(values: Iterable[Truth]) -> Truth:
    return kleene(values, False)


def kleene_or(values: Iterable[Truth]) -> Truth:
    return kleene(values, True)


def kleene_not(value: Truth) -> Truth:
    return None if value is None else not value


def at_least(count: int, values: Sequence[Truth]) -> Truth:
    trues = sum(1 for v in values if v is True)
    if trues >= count:
        return True
    unknowns = sum(1 for v in values if v is None)
    return False if trues + unknowns < count else None



TRUTH_WORD: dict[Truth, Literal["true", "false", "unknown"]] = {
    True: "true", False: "false", None: "unknown"}


def junction(parts: Sequence[Node], stop: bool) -> Node:
    """``and`` (``stop=False``: a FALSE operand decides) or ``or`` (``stop=True``)."""
    tests = tuple(p.test for p in parts)
    neutral = not stop

    def test(ctx: Context) -> Truth:
        # kleene() over a generator, written out: this is the hottest loop of screening.
        result: Truth = neutral
        for t in tests:
            v = t(ctx)
            if v is stop:
                return stop
            if v is None:
                result = None
        return result

    def explain(ctx: Context) -> Finding:
        # The operands that decide the value are the reason. Each operand is explained once
        # (its finding carries its value: no test runs first); once one decides the value
        # alone, the rest are tested and only those that decide it too are explained.
        found: list[Finding] = []
        decided = False
        for p in parts:
            if decided:
                if p.test(ctx) is stop:
                    found.append(p.explain(ctx))
                continue
            f = p.explain(ctx)
            if f.truth is stop:
                decided, found = True, [f]
            else:
                found.append(f)
        truth: Truth = stop if decided else kleene([f.truth for f in found], stop)
        if not decided:
            found = [f for f in found if f.truth is truth]
        evidence, missing = gather(found)
        return Finding(truth, join_reasons(found), evidence, missing if truth is None else ())

    return Node(test, explain)


def join_reasons(findings: Iterable[Finding]) -> str:
    return "; ".join(f.reason for f in findings)


def gather(findings: Sequence[Finding]) -> tuple[tuple[Evidence, ...], tuple[str, ...]]:
    evidence = tuple(e for f in findings for e in f.evidence)
    missing = tuple(dict.fromkeys(m for f in findings for m in f.missing))
    return evidence, missing


# ---- coded records ---------------------------------------------------------------------

def valueset_contents(
    protocol: r.Protocol,
) -> dict[str, tuple[str | None, tuple[r.CodeRef, ...]]]:
    """Every value set a protocol can name, with its title and codes: the library ones it
    uses, and its own, which include the codes of the library sets they ``use``."""
    contents: dict[str, tuple[str | None, tuple[r.CodeRef, ...]]] = {}
    for use in protocol.uses:
        entry = valueset_library.lookup(use.name)
        if entry is not None:
            contents[use.name] = (entry.title, entry.codes)
    for vs in protocol.valuesets:
        included = tuple(code for name in vs.includes
                         for code in getattr(valueset_library.lookup(name), "codes", ()))
        contents[vs.name] = (vs.title, vs.codes + included)
    return contents


def target_matcher(target: r.CodeTarget, env: Env) -> tuple[CodeMatcher, str]:
    if isinstance(target, r.ValueSetRef):
        title = env.titles.get(target.name)
        label = f"value set `{target.name}`" + (f" ({title})" if title else "")
        return env.matchers[target.name], label
    return compile_matcher(target.codes), f"[{codes_text(target.codes)}]"


# Why a timing has no period: the anchor event is missing, or it has no date.
NO_ANCHOR = "no-anchor"
UNDATED_ANCHOR = "undated-anchor"
PeriodOf = Callable[[Context], tuple[Period | None, str | None]]


def build_period(timing: r.Timing | None, env: Env) -> tuple[PeriodOf, str]:
    """When a query looks: a function of the context giving the period (None: at the
    as-of date), or why there is none; and the words for it."""
    match timing:
        case None:
            return (lambda ctx: (None, None)), ""
        case r.Window(amount, unit):
            def within(ctx: Context) -> tuple[Period | None, str | None]:
                return (window_start(ctx.as_of, timing), ctx.as_of), None
            return within, f" within the last {amount} {unit}"
        case r.AgoWindow(low, high, unit):
            def ago(ctx: Context) -> tuple[Period | None, str | None]:
                return (shift_back(ctx.as_of, high, unit), shift_back(ctx.as_of, low, unit)), None
            return ago, f" between {low} and {high} {unit} ago"
        case r.Ever():
            return (lambda ctx: ((date.min, ctx.as_of), None)), " at any time"
        case r.Anchor(relation, kind, target):
            matcher, label = target_matcher(target, env)
            bit = env.codes.bit(matcher)
            indexed = INDEXED[kind]

            def anchored(ctx: Context) -> tuple[Period | None, str | None]:
                firsts = [first_day(rec) for rec, mask in indexed(ctx)[1]
                          if mask & bit and counted(rec)]
                firsts = [d for d in firsts if d is None or d <= ctx.as_of]
                if not firsts:
                    return (None, NO_ANCHOR) if relation == "since" \
                        else ((date.min, ctx.as_of), None)
                if None in firsts:
                    return None, UNDATED_ANCHOR
                anchor = min(d for d in firsts if isinstance(d, date))
                if relation == "since":
                    return (anchor, ctx.as_of), None
                return (date.min, anchor - timedelta(days=1)), None
            return anchored, f" {relation} the first {kind} in {label}"




_SEVERITY_RANK = {"mild": 1, "moderate": 2, "severe": 3}


def severity_fits(test: r.SeverityTest) -> Callable[[str | None], Truth]:
    """Whether a recorded severity (mild, moderate, severe; None when not recorded: UNKNOWN)
    meets ``with severity >= moderate`` or ``with severity in [...]``."""
    ranks = [_SEVERITY_RANK[label] for label in test.labels]
    op = test.op

    def fits(severity: str | None) -> Truth:
        if severity is None:
            return None
        rank = _SEVERITY_RANK[severity]
        return rank in ranks if op == "in" else COMPARE[op](rank, ranks[0])

    return fits


def closed_for_rarely_recorded(env: Env, assumed_recorded: bool) -> bool:
    """For records that are rarely complete (research participation, family history):
    absence proves nothing unless the criterion says `[closed world]` or the protocol
    assumes them recorded (and the criterion does not say `[open world]`)."""
    criterion = next((c for c in env.protocol.criteria if c.id == env.criterion_id), None)
    if criterion is not None and criterion.open_world is not None:
        return not criterion.open_world
    return assumed_recorded
