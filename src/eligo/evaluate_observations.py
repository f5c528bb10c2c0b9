"""Evaluation of observation rules: lab values, scores, ordinal scales, qualitative results,
aggregates and derived scores. Called by the dispatch in :mod:`eligo.evaluate`; each
builder returns the same ``Node(test, explain)`` pair as every other rule."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from eligo import derived, valueset_library
from eligo import observations as obs
from eligo import rules as r
from eligo.derived import DerivedScore
from eligo.evaluate_core import (
    UNDATED_ANCHOR,
    Env,
    Finding,
    Node,
    PeriodOf,
    build_period,
    kleene_or,
)
from eligo.measurements import (
    NoReading,
    ObservationIndex,
    Reading,
    canonical,
    codes_of,
    describe,
    index_observations,
    latest,
    number_text,
    recent,
)
from eligo.observations import ObservationEntry
from eligo.records import Context, Truth, age_in, counted, matching_coding
from eligo.result import Evidence
from eligo.terminology import CodeMatcher, compile_matcher
from eligo.units import convert

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
_POSITIVE_WORDS = {"positive": "positive", "detected": "positive", "reactive": "positive",
                   "negative": "negative", "undetected": "negative",
                   "nonreactive": "negative", "indeterminate": "indeterminate"}
RESULT_WORDS = tuple(_POSITIVE_WORDS)


def _amount(amount: int, unit: str) -> str:
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


def observation_index(ctx: Context) -> ObservationIndex:
    """The patient's observations by coding, built once per evaluation."""
    found = ctx.memo.get("observation-index")
    if found is None:
        found = ctx.memo["observation-index"] = index_observations(ctx.patient)
    return found  # type: ignore[return-value]


def _observation_period(timing: r.Timing | None, entry_days: int, env: Env
                        ) -> tuple[PeriodOf, str, str]:
    """Where to look for a result: the entry's freshness window unless the rule says.

    Also the period in words (``in the last 30 days``) and what a result before it is
    older than (``30 days``), for the reason of a stale result.
    """
    if timing is None:
        def fresh(ctx: Context) -> tuple[tuple[date, date] | None, str | None]:
            return (ctx.as_of - timedelta(days=entry_days), ctx.as_of), None
        return fresh, f"in the last {entry_days} days", _amount(entry_days, "days")
    period_of, when = build_period(timing, env)
    when = when.strip()
    match timing:
        case r.Window(amount, unit):
            older_than = _amount(amount, unit)
        case r.AgoWindow(_, high, unit):
            older_than = _amount(high, unit)
        case _:
            older_than = when.removeprefix("since ")
    return period_of, when, older_than


def _no_period(entry: ObservationEntry, problem: str | None, when: str) -> NoReading:
    """No period to look in: the event a ``since``/``before first`` time counts from is
    missing or undated."""
    why = ("the event it counts from has no date" if problem == UNDATED_ANCHOR
           else "there is no event to count from")
    return NoReading(f"no {entry.title} result can be placed {when}: {why}",
                     f"{entry.title} result {when}")


def _evidence(reading: Reading | NoReading) -> tuple[Evidence, ...]:
    o = reading.observation
    if o is None:
        return ()
    coding = reading.coding or o.codes[0]  # the code it was found by
    value = None if o.value is None else number_text(o.value) + (
        f" {o.unit}" if o.unit and not isinstance(o.value, bool) else "")
    return (Evidence(record_type="observation", record_id=o.id, system=coding.system,
                     code=coding.code, display=coding.display, value=value, date=o.date),)


# ---- values a rule compares against --------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Bound:
    """One compared value, canonical; ``uln_times`` set for ``k x ULN``."""

    value: float | int | str | None
    uln_times: float | None = None
    said: str = ""

    def resolve(self, uln: float | None) -> float | int | str | None:
        if self.uln_times is None:
            return self.value
        return None if uln is None else self.uln_times * uln


def _bound(entry: ObservationEntry | None, value: r.Value, unit: str | None = None) -> _Bound:
    """A protocol value as a canonical bound for ``entry`` (checked by the compiler)."""
    match value:
        case r.UlnMultiple(number):
            return _Bound(None, float(number), f"{number} x ULN")
        case r.Quantity(number, written_unit):
            said = f"{number} {written_unit or unit or ''}".strip()
            if entry is not None and entry.kind == "ordinal":
                return _Bound(obs.ordinal_index(entry, str(number)), said=said)
            if entry is not None and entry.kind == "quantity":
                return _Bound(canonical(entry, float(number), written_unit or unit), said=said)
            if written_unit is not None and unit is not None and written_unit != unit:
                # a derived score compared in another unit of its dimension (L/min for mL/min)
                return _Bound(convert(float(number), written_unit, unit), said=said)
            return _Bound(float(number), said=said)
        case r.Symbol(name):
            if entry is not None and entry.kind == "ordinal":
                return _Bound(obs.ordinal_index(entry, name), said=name)
            return _Bound(name, said=name)
        case r.Text(text):
            return _Bound(text, said=f'"{text}"')


def _comparison(node: r.Compare | r.Between | r.InList, entry: ObservationEntry | None,
                unit: str | None = None
                ) -> tuple[Callable[[Any, float | None], Truth], str]:
    """A predicate on a (canonical) value and its ULN, and the words for it."""
    match node:
        case r.Compare(_, op, value):
            bound = _bound(entry, value, unit)
            compare = _OPS[op]

            def check(v: Any, uln: float | None) -> Truth:
                b = bound.resolve(uln)
                return None if b is None else compare(v, b)
            return check, f"{op} {bound.said}"
        case r.Between(_, low, high, between_unit):
            lo = _bound(entry, r.Quantity(low, between_unit), unit)
            hi = _bound(entry, r.Quantity(high, between_unit), unit)

            def within(v: Any, uln: float | None) -> Truth:
                return bool(lo.value <= v <= hi.value)
            return within, f"between {lo.said} and {hi.said}"
        case r.InList(_, values):
            bounds = [_bound(entry, v, unit) for v in values]

            def member(v: Any, uln: float | None) -> Truth:
                return any(v == b.resolve(uln) for b in bounds)
            return member, "in [" + ", ".join(b.said for b in bounds) + "]"


def _shown_value(entry: ObservationEntry, reading: Reading) -> str:
    o = reading.observation
    text = describe(o)
    if entry.kind == "quantity" and o.unit and o.unit != entry.unit \
            and isinstance(reading.value, float):
        text += f" (= {reading.value:.4g} {entry.unit})"
    return text


def _finder(entry: ObservationEntry, timing: r.Timing | None, env: Env
            ) -> Callable[[Context], Reading | NoReading]:
    """The most recent result of ``entry`` in the rule's time (else its freshness window)."""
    period_of, when, older_than = _observation_period(timing, entry.freshness_days, env)

    def find(ctx: Context) -> Reading | NoReading:
        period, problem = period_of(ctx)
        if period is None:
            return _no_period(entry, problem, when)
        return latest(ctx.patient, entry, ctx.as_of, period, when, older_than,
                      observation_index(ctx))

    return find


def build_observation_compare(node: r.Compare | r.Between | r.InList, entry: ObservationEntry,
                              env: Env) -> Node:
    check, said = _comparison(node, entry)
    find = _finder(entry, node.timing, env)
    ordinal = entry.kind == "ordinal"
    # bmi, qtcf: computed from their inputs when no result is recorded in the period (none
    # at all, or only older ones); a recorded result that cannot be read stays UNKNOWN.
    fallback = derived.lookup(entry.name)
    computed = build_score_compare(node, fallback, env) if fallback is not None else None

    def value_of(reading: Reading) -> Any:
        return obs.ordinal_index(entry, reading.value) if ordinal else reading.value


    def test(ctx: Context) -> Truth:
        reading = find(ctx)
        if isinstance(reading, NoReading):
            if computed is not None and reading.kind != "unreadable":
                return computed.test(ctx)
            return None
        value = value_of(reading)
        return None if value is None else check(value, reading.uln)

    def explain(ctx: Context) -> Finding:
        reading = find(ctx)
        if isinstance(reading, NoReading):
            if computed is not None and reading.kind != "unreadable":
                found = computed.explain(ctx)
                if reading.kind == "stale" and found.truth is None:
                    return Finding(None, f"{reading.reason}, and {found.reason[:1].lower()}"
                                   f"{found.reason[1:]}", _evidence(reading) + found.evidence,
                                   tuple(dict.fromkeys((reading.missing, *found.missing))))
                return found
            return Finding(None, reading.reason, _evidence(reading), (reading.missing,))
        value = value_of(reading)
        shown = _shown_value(entry, reading)
        if value is None:
            return Finding(None, f"{entry.title} {shown} is not a level of the scale",
                           _evidence(reading), (f"{entry.title} as a level of its scale",))
        truth = check(value, reading.uln)
        if truth is None:
            return Finding(None, f"{entry.title} {shown}, but no upper limit of normal is "
                           "known for it", _evidence(reading),
                           (f"the laboratory's reference range for {entry.title}",))
        uln = f" (ULN {reading.uln:g} {entry.unit})" if "ULN" in said and reading.uln else ""
        relation = "is" if truth else "is not"
        return Finding(truth, f"{entry.title} {shown} {relation} {said}{uln}",
                       _evidence(reading))

    return Node(test, explain)


def build_result_test(node: r.ResultTest, env: Env) -> Node:
    entries = [e for e in (obs.lookup(s) for s in node.subjects) if e is not None]
    wanted = _POSITIVE_WORDS[node.result]
    parts = [_build_one_result(entry, wanted, node.timing, env) for entry in entries]
    if len(parts) == 1:
        return parts[0]
    tests = [p.test for p in parts]

    def test(ctx: Context) -> Truth:
        return kleene_or(t(ctx) for t in tests)

    def explain(ctx: Context) -> Finding:
        found = [p.explain(ctx) for p in parts]
        truth = kleene_or(f.truth for f in found)
        deciding = [f for f in found if f.truth is truth]
        return Finding(truth, "; ".join(f.reason for f in deciding),
                       tuple(e for f in deciding for e in f.evidence),
                       tuple(m for f in deciding for m in f.missing) if truth is None else ())

    return Node(test, explain)


def _build_one_result(entry: ObservationEntry, wanted: str, timing: r.Timing | None,
                      env: Env) -> Node:
    find = _finder(entry, timing, env)


    def truth_of(reading: Reading | NoReading) -> tuple[Truth, str | None]:
        if isinstance(reading, NoReading):
            return None, None
        polarity = obs.normalise_qualitative(entry, reading.value)
        if polarity is None or (polarity == "indeterminate" and wanted != "indeterminate"):
            return None, polarity
        return polarity == wanted, polarity

    def test(ctx: Context) -> Truth:
        return truth_of(find(ctx))[0]

    def explain(ctx: Context) -> Finding:
        reading = find(ctx)
        if isinstance(reading, NoReading):
            return Finding(None, reading.reason, _evidence(reading), (reading.missing,))
        truth, polarity = truth_of(reading)
        shown = describe(reading.observation)
        if polarity is None:
            return Finding(None, f"{entry.title} result {shown} cannot be read as positive or "
                           "negative", _evidence(reading), (f"a readable {entry.title} result",))
        if truth is None:
            return Finding(None, f"{entry.title} {shown} is indeterminate", _evidence(reading),
                           (f"a repeat {entry.title} test",))
        return Finding(truth, f"{entry.title} {shown} reads {polarity}", _evidence(reading))

    return Node(test, explain)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _median(xs: Sequence[float]) -> float:
    ordered, middle = sorted(xs), len(xs) // 2
    return ordered[middle] if len(xs) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


_AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "mean": _mean, "median": _median, "min": min, "max": max,
}
AGGREGATE_FUNCTIONS = tuple(_AGGREGATES)


def build_aggregate(node: r.Aggregate, entry: ObservationEntry, env: Env) -> Node:
    check, said = _comparison(r.Compare(node.subject, node.op, node.value), entry)
    period_of, when, _ = _observation_period(node.timing, entry.freshness_days, env)
    function = _AGGREGATES[node.function]
    unit = f" {entry.unit}" if entry.unit else ""

    def gather(ctx: Context) -> tuple[Truth, str, tuple[Evidence, ...], tuple[str, ...]]:
        period, problem = period_of(ctx)
        wanted = f"{node.count} {entry.title} results {when}"
        if period is None:
            return None, _no_period(entry, problem, when).reason, (), (wanted,)
        good, bad = recent(ctx.patient, entry, ctx.as_of, period, node.count,
                           observation_index(ctx))
        found: list[Reading | NoReading] = [*good, *bad]
        found.sort(key=lambda g: g.observation.date if g.observation and g.observation.date
                   else date.min, reverse=True)  # newest first, as they were read
        evidence = tuple(e for g in found for e in _evidence(g))
        if bad:
            return None, bad[0].reason, evidence, (bad[0].missing,)
        if len(good) < node.count:
            return (None, f"only {len(good)} of {node.count} {entry.title} results {when}",
                    evidence, (wanted,))
        value = function([float(g.value) for g in good if not isinstance(g.value, str)])
        truth = check(value, good[0].uln)
        return (truth, f"{node.function} of the last {node.count} {entry.title} results is "
                f"{value:.4g}{unit}, which {'is' if truth else 'is not'} {said}",
                evidence, ())

    def test(ctx: Context) -> Truth:
        return gather(ctx)[0]

    def explain(ctx: Context) -> Finding:
        truth, reason, evidence, missing = gather(ctx)
        return Finding(truth, reason, evidence, missing)

    return Node(test, explain)


# ---- derived scores --------------------------------------------------------------------

_ASCITES = ("mild", "moderate_severe")
_ENCEPHALOPATHY_BY_GRADE = {0: "none", 1: "grade_1_2", 2: "grade_1_2", 3: "grade_3_4",
                            4: "grade_3_4"}


@dataclass(frozen=True, slots=True)
class _Input:
    """What the profile says of one formula input: candidate values, or why none."""

    name: str
    candidates: tuple[Any, ...]
    said: str
    evidence: tuple[Evidence, ...] = ()
    missing: str | None = None


@cache
def _matcher(name: str) -> CodeMatcher:
    """The matcher of a library value set that scores read (ascites, dialysis...)."""
    entry = valueset_library.lookup(name)
    return compile_matcher(entry.codes if entry is not None else ())


def _active_condition(ctx: Context, valueset: str) -> Evidence | None:
    matcher = _matcher(valueset)
    for c in ctx.patient.conditions:
        coding = matching_coding(c.codes, matcher)
        if coding is None or not counted(c):
            continue
        if c.onset is not None and c.onset > ctx.as_of:
            continue
        if (c.abatement is None or c.abatement > ctx.as_of) and c.clinical_status in (
                "active", "recurrence", "relapse", None):
            return Evidence(record_type="condition", record_id=c.id, system=coding.system,
                            code=coding.code, display=coding.display, date=c.onset)
    return None


Periods = Callable[[int], tuple[PeriodOf, str, str]]


def _periods(timing: r.Timing | None, env: Env) -> Periods:
    """Where a score looks for each input: the rule's time if it gives one, else the
    input's own freshness window (its days -> the period, its words, what is too old)."""
    if timing is not None:
        # Built now, not while screening: an anchor registers its codes in the index.
        fixed = _observation_period(timing, 0, env)
        return lambda days: fixed
    made: dict[int, tuple[PeriodOf, str, str]] = {}

    def of(days: int) -> tuple[PeriodOf, str, str]:
        if days not in made:
            made[days] = _observation_period(None, days, env)
        return made[days]
    return of


def _read_input(name: str, ctx: Context, periods: Periods) -> _Input:
    patient, as_of = ctx.patient, ctx.as_of
    if name == "age_years":
        birth = patient.birth_date
        if birth is None or birth > as_of:
            return _Input(name, (), "age unknown", missing="birth date")
        age = age_in(birth, as_of, "years")
        return _Input(name, (age,), f"age {age}")
    if name == "female":
        if patient.sex in ("female", "male"):
            return _Input(name, (patient.sex == "female",), f"sex {patient.sex}")
        return _Input(name, (True, False), "sex not recorded as female or male",
                      missing="the patient's sex (female or male)")
    if name == "dialysis_twice_last_week":
        matcher = _matcher("dialysis")
        week = [p for p in patient.procedures if matching_coding(p.codes, matcher)
                and counted(p) and p.date is not None
                and as_of - timedelta(days=7) <= p.date <= as_of]
        return _Input(name, (len(week) >= 2,), f"{len(week)} dialysis sessions in the last week")
    if name == "ascites":
        found = _active_condition(ctx, "ascites")
        if found is None:
            return _Input(name, ("none",), "no ascites on record")
        return _Input(name, _ASCITES, "ascites on record, grade not recorded", (found,),
                      "the grade of ascites (mild or moderate-severe)")
    if name == "encephalopathy":
        grade_entry = obs.lookup("west_haven")
        if grade_entry is not None:
            period_of, when, older_than = periods(grade_entry.freshness_days)
            period, _ = period_of(ctx)
            if period is not None:
                reading = latest(patient, grade_entry, as_of, period, when, older_than,
                                 observation_index(ctx))
                if isinstance(reading, Reading):
                    index = obs.ordinal_index(grade_entry, reading.value)
                    if index is not None:
                        grade = _ENCEPHALOPATHY_BY_GRADE[index]
                        return _Input(name, (grade,), f"West Haven grade {reading.value}",
                                      _evidence(reading))
        found = _active_condition(ctx, "hepatic_encephalopathy")
        if found is None:
            return _Input(name, ("none",), "no hepatic encephalopathy on record")
        return _Input(name, ("grade_1_2", "grade_3_4"),
                      "hepatic encephalopathy on record, grade not recorded", (found,),
                      "the West Haven grade of hepatic encephalopathy")
    entry_name, unit = derived.OBSERVED_INPUTS.get(name, ("", None))
    if name == "ast_uln_u_l":
        entry_name, unit = "ast", "U/L"
    entry = obs.lookup(entry_name) if entry_name else None
    if entry is None:
        return _Input(name, (), f"{name} is not recorded", missing=None)
    period_of, when, older_than = periods(entry.freshness_days)
    period, problem = period_of(ctx)
    if period is None:
        gap = _no_period(entry, problem, when)
        return _Input(name, (), gap.reason, missing=gap.missing)
    reading = latest(patient, entry, as_of, period, when, older_than, observation_index(ctx))
    if isinstance(reading, NoReading):
        return _Input(name, (), reading.reason, _evidence(reading), reading.missing)
    raw = reading.uln if name == "ast_uln_u_l" else reading.value
    if raw is None:
        return _Input(name, (), f"no upper limit of normal for {entry.title}",
                      _evidence(reading), f"the reference range of {entry.title}")
    value = float(raw)
    if unit is not None and entry.unit is not None and unit != entry.unit:
        value = convert(value, entry.unit, unit, molar_factor=entry.molar_mass,
                        iu_equals_u=entry.iu_equals_u)
    if name == "ast_uln_u_l":
        source = ("the laboratory's range" if reading.observation.reference_high is not None
                  else "the library's typical range")
        return _Input(name, (value,), f"upper limit of normal for {entry.title} "
                      f"{value:g} {unit} ({source})", _evidence(reading))
    return _Input(name, (value,), f"{entry.title} {_shown_value(entry, reading)}",
                  _evidence(reading))


def _sort_key(value: Any) -> tuple[int, float, str]:
    return (0, float(value), "") if isinstance(value, int | float) else (1, 0.0, str(value))


def build_score_compare(node: r.Compare | r.Between | r.InList, score: DerivedScore,
                        env: Env) -> Node:
    check, said = _comparison(node, None, score.unit)
    if score.labels:
        check = _ranked(node, score.labels)
    periods = _periods(node.timing, env)
    inputs = [i.name for i in score.spec.inputs]
    required = {i.name for i in score.spec.inputs if i.required}
    timing = node.timing

    def read_input(name: str, ctx: Context) -> _Input:
        key = ("score-input", name, timing)
        found = ctx.memo.get(key)
        if found is None:
            found = ctx.memo[key] = _read_input(name, ctx, periods)
        return found  # type: ignore[return-value]

    def assess(ctx: Context) -> tuple[Truth, list[_Input], list[Any], str | None]:
        read = [read_input(name, ctx) for name in inputs]
        if any(not i.candidates and i.name in required for i in read):
            return None, read, [], None
        return decide(read)

    def decide(read: list[_Input]) -> tuple[Truth, list[_Input], list[Any], str | None]:
        usable = [i for i in read if i.candidates]
        names = [i.name for i in usable]
        outcomes: list[Any] = []
        truths: set[Truth] = set()
        for combo in itertools.product(*(i.candidates for i in usable)):
            try:
                value = derived.compute(score, dict(zip(names, combo, strict=True)))
            except ValueError as error:
                return None, read, [], str(error)
            outcomes.append(value)
            truths.add(check(value, None))
        return (truths.pop() if len(truths) == 1 else None), read, outcomes, None

    required_first = sorted(inputs, key=lambda name: name not in required)
    required_codes = [codes_of(entry) for entry in (
        obs.lookup(derived.OBSERVED_INPUTS[name][0]) for name in required
        if derived.OBSERVED_INPUTS.get(name, ("", None))[0]) if entry is not None]

    def test(ctx: Context) -> Truth:
        # A required lab never recorded decides UNKNOWN at once; so does any missing
        # required input: stop before reading the rest.
        recorded = ctx.memo.get("observation-codes")
        if recorded is None:
            recorded = ctx.memo["observation-codes"] = frozenset(
                (c.system, c.code) for o in ctx.patient.observations for c in o.codes)
        for codes in required_codes:
            if codes.isdisjoint(recorded):  # type: ignore[arg-type]
                return None
        read = []
        for name in required_first:
            found = read_input(name, ctx)
            if not found.candidates and name in required:
                return None
            read.append(found)
        return decide(read)[0]

    def explain(ctx: Context) -> Finding:
        truth, read, outcomes, error = assess(ctx)
        evidence = tuple(dict.fromkeys(e for i in read for e in i.evidence))
        shown_inputs = [i for i in read
                        if i.candidates or i.missing or i.name in required]
        inputs_said = "; ".join(i.said for i in shown_inputs)
        if not outcomes:
            missing = tuple(i.missing for i in read if i.missing and not i.candidates)
            why = f" ({error})" if error and not missing else ""
            return Finding(None, f"{score.spec.title} cannot be computed{why}: {inputs_said}",
                           evidence, missing or (f"the inputs of {score.spec.title}",))
        shown = ", ".join(_fmt(v) for v in sorted(set(outcomes), key=_sort_key))
        if truth is None:
            missing = tuple(i.missing for i in read if i.missing and len(i.candidates) > 1)
            return Finding(None, f"`{score.name}` could be {shown} ({inputs_said}), so it is "
                           f"not known whether it is {said}", evidence,
                           missing or (f"the inputs of {score.spec.title}",))
        relation = "is" if truth else "is not"
        return Finding(truth, f"`{score.name}` {shown} {relation} {said} (from {inputs_said})",
                       evidence)

    return Node(test, explain)


def _ranked(node: r.Compare | r.Between | r.InList, labels: tuple[str, ...]
            ) -> Callable[[Any, float | None], Truth]:
    """Comparisons of class labels (``child_pugh_class >= B``) by their order."""
    def rank(v: Any) -> int:
        return labels.index(str(v))

    def label_of(value: r.Value) -> str:
        if isinstance(value, r.Symbol):
            return value.name
        if isinstance(value, r.Quantity):
            return str(value.number)
        return value.value if isinstance(value, r.Text) else ""

    match node:
        case r.Compare(_, op, value):
            bound, compare = rank(label_of(value)), _OPS[op]
            return lambda v, uln: compare(rank(v), bound)
        case r.InList(_, values):
            allowed = {label_of(v) for v in values}
            return lambda v, uln: str(v) in allowed
        case r.Between(_, low, high):
            lo, hi = rank(str(low)), rank(str(high))
            return lambda v, uln: lo <= rank(v) <= hi


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


