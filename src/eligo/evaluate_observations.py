"""Evaluation of observation rules: lab values, scores, ordinal scales, qualitative results,
aggregates and derived scores. Called by the dispatch in :mod:`eligo.evaluate`; each
builder returns the same ``Node(test, explain)`` pair as every other rule."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple, TypeVar

from eligo import derived
from eligo import observations as obs
from eligo import rules as r
from eligo.derived import DerivedScore
from eligo.evaluate_core import (
    COMPARE,
    UNDATED_ANCHOR,
    Env,
    Finding,
    Node,
    PeriodOf,
    build_period,
    junction,
    library_matcher,
)
from eligo.measurements import (
    Missing,
    NoReading,
    Reading,
    ResultIndex,
    canonical,
    describe,
    number_text,
    recent,
)
from eligo.observations import ObservationEntry
from eligo.patient import Coding, Condition, Observation, Procedure
from eligo.records import Context, Truth, age_in, counted, matching_coding, record_truth
from eligo.result import Evidence
from eligo.units import convert

_POSITIVE_WORDS = {"positive": "positive", "detected": "positive", "reactive": "positive",
                   "negative": "negative", "undetected": "negative",
                   "nonreactive": "negative", "indeterminate": "indeterminate"}
RESULT_WORDS = tuple(_POSITIVE_WORDS)


def _amount(amount: int, unit: str) -> str:
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


def result_index(ctx: Context) -> ResultIndex:
    """The patient's counted results by library entry, built once per evaluation."""
    found = ctx.memo.get("results")
    if found is None:
        found = ctx.memo["results"] = ResultIndex(ctx.patient, ctx.as_of)
    return found  # type: ignore[return-value]


class _Where(NamedTuple):
    """Where to look for a result: the period (a function of the context), the period in
    words (``in the last 30 days``), what a result before it is older than (``30 days``,
    for the reason of a stale result) and, for a freshness window, its length."""

    period_of: PeriodOf
    when: str
    older_than: str
    fresh: timedelta | None = None


def _observation_period(timing: r.Timing | None, entry_days: int, env: Env) -> _Where:
    """Where to look for a result: the entry's freshness window unless the rule says."""
    if timing is None:
        span = timedelta(days=entry_days)

        def fresh(ctx: Context) -> tuple[tuple[date, date] | None, str | None]:
            return (ctx.as_of - span, ctx.as_of), None
        return _Where(fresh, f"in the last {entry_days} days", _amount(entry_days, "days"),
                      span)
    period_of, when = build_period(timing, env)
    when = when.strip()
    match timing:
        case r.Window(amount, unit):
            older_than = _amount(amount, unit)
        case r.AgoWindow(_, high, unit):
            older_than = _amount(high, unit)
        case _:
            older_than = when.removeprefix("since ")
    return _Where(period_of, when, older_than)


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
            compare = COMPARE[op]
            fixed = bound.value

            if bound.uln_times is not None:
                def check(v: Any, uln: float | None) -> Truth:
                    b = bound.resolve(uln)
                    return None if b is None else compare(v, b)
            elif fixed is None:
                def check(v: Any, uln: float | None) -> Truth:
                    return None
            else:
                def check(v: Any, uln: float | None) -> Truth:
                    return compare(v, fixed)
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


FindValue = Callable[[Context], Reading | Missing]
Find = Callable[[Context], Reading | NoReading]
_MEMO_LIMIT = 4096  # distinct labels remembered per rule (they come from patients' records)
T = TypeVar("T")


def _finders(entry: ObservationEntry, where: _Where) -> tuple[FindValue, Find]:
    """The most recent result of ``entry`` in a period (the rule's time, else the entry's
    freshness window): read without words, for the status-only path, and explained.

    Both read the same memoised result, so they always agree on the value.
    """
    period_of, when, older_than, span = where

    # Most profiles in a population have no observations at all: they are answered
    # without building the result index.
    if span is not None:  # the entry's freshness window, the common case: written out
        def find_value(ctx: Context) -> Reading | Missing:
            if not ctx.patient.observations:
                return "missing"
            as_of = ctx.as_of
            return result_index(ctx).latest_value(entry, (as_of - span, as_of))
    else:
        def find_value(ctx: Context) -> Reading | Missing:
            if not ctx.patient.observations:
                return "missing"
            period = period_of(ctx)[0]
            if period is None:
                return "missing"
            return result_index(ctx).latest_value(entry, period)

    def find(ctx: Context) -> Reading | NoReading:
        period, problem = period_of(ctx)
        if period is None:
            return _no_period(entry, problem, when)
        return result_index(ctx).latest(entry, period, when, older_than)

    return find_value, find


def _finder_pair(entry: ObservationEntry, timing: r.Timing | None, env: Env
                 ) -> tuple[FindValue, Find]:
    return _finders(entry, _observation_period(timing, entry.freshness_days, env))


def latest_result(name: str, env: Env) -> Find:
    """The most recent result of the library entry ``name`` in its freshness window, with
    the reason when there is none: what a rule needing one more input reads (the body weight
    a dose per kg is divided by)."""
    entry = obs.lookup(name)
    assert entry is not None, f"{name} is a library entry"
    return _finder_pair(entry, None, env)[1]


def _remembering(read: Callable[[ObservationEntry, object], T], entry: ObservationEntry
                 ) -> Callable[[object], T]:
    """``read`` for ``entry``, remembering the values seen (labels and answers repeat)."""
    seen: dict[tuple[type, object], T] = {}

    def look(value: object) -> T:
        key = (value.__class__, value)
        if key in seen:
            return seen[key]
        found = read(entry, value)
        if len(seen) < _MEMO_LIMIT:
            seen[key] = found
        return found

    return look


def _level_of(entry: ObservationEntry) -> Callable[[object], int | None]:
    """:func:`eligo.observations.ordinal_index` for ``entry``, remembering the labels seen."""
    return _remembering(obs.ordinal_index, entry)


def _polarity_of(entry: ObservationEntry) -> Callable[[object], str | None]:
    """:func:`eligo.observations.normalise_qualitative` for ``entry``, remembering answers."""
    return _remembering(obs.normalise_qualitative, entry)


def build_observation_compare(node: r.Compare | r.Between | r.InList, entry: ObservationEntry,
                              env: Env) -> Node:
    check, said = _comparison(node, entry)
    find_value, find = _finder_pair(entry, node.timing, env)
    level = _level_of(entry) if entry.kind == "ordinal" else None
    # bmi, qtcf: computed from their inputs when no result is recorded in the period (none
    # at all, or only older ones); a recorded result that cannot be read stays UNKNOWN.
    fallback = derived.lookup(entry.name)
    computed = build_score_compare(node, fallback, env) if fallback is not None else None
    computed_test = computed.test if computed is not None else None

    def value_of(reading: Reading) -> Any:
        return reading.value if level is None else level(reading.value)

    def test(ctx: Context) -> Truth:
        reading = find_value(ctx)
        if isinstance(reading, str):  # no usable result
            if computed_test is not None and reading != "unreadable":
                return computed_test(ctx)
            return None
        value = reading.value if level is None else level(reading.value)
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
    return junction(parts, stop=True)  # `any of [...]` is their `or`


def _build_one_result(entry: ObservationEntry, wanted: str, timing: r.Timing | None,
                      env: Env) -> Node:
    if entry.detectable:
        return _build_presence(entry, wanted, timing, env)
    find_value, find = _finder_pair(entry, timing, env)
    polarity_of = _polarity_of(entry)

    def truth_of(reading: Reading) -> tuple[Truth, str | None]:
        polarity = polarity_of(reading.value)
        if polarity is None or (polarity == "indeterminate" and wanted != "indeterminate"):
            return None, polarity
        return polarity == wanted, polarity

    def test(ctx: Context) -> Truth:
        reading = find_value(ctx)
        if isinstance(reading, str):  # no usable result
            return None
        return truth_of(reading)[0]

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


def presence(entry: ObservationEntry, o: Observation) -> str | None:
    """A detectable quantity's result (a viral load) read as positive (detected), negative
    or indeterminate: the laboratory's interpretation first, then any measured amount above
    zero is detected, then a text result ("Not detected"). "<20" alone says neither."""
    if o.interpretation is not None:
        return o.interpretation
    value = o.value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "positive" if value > 0 else "negative"
    return obs.normalise_qualitative(entry, value)


def _build_presence(entry: ObservationEntry, wanted: str, timing: r.Timing | None,
                    env: Env) -> Node:
    """``hbv_dna is positive``: the most recent result in the period, read by
    :func:`presence`; a text result the quantity cannot be read from still decides."""
    find = _finder_pair(entry, timing, env)[1]

    def decide(ctx: Context) -> Finding:
        reading = find(ctx)
        if isinstance(reading, NoReading) and (reading.kind != "unreadable"
                                               or reading.observation is None):
            return Finding(None, reading.reason, _evidence(reading), (reading.missing,))
        o = reading.observation
        assert o is not None
        polarity = presence(entry, o)
        shown = describe(o) + (f" (interpreted {o.interpretation})" if o.interpretation else "")
        evidence = _evidence(reading)
        if polarity is None:
            return Finding(None, f"{entry.title} {shown} cannot be read as detected or not",
                           evidence, (f"whether {entry.title} was detected",))
        if polarity == "indeterminate" and wanted != "indeterminate":
            return Finding(None, f"{entry.title} {shown} is indeterminate", evidence,
                           (f"a repeat {entry.title} test",))
        return Finding(polarity == wanted, f"{entry.title} {shown} reads {polarity}", evidence)

    return Node(lambda ctx: decide(ctx).truth, decide)


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
    period_of, when, _, _ = _observation_period(node.timing, entry.freshness_days, env)
    function = _AGGREGATES[node.function]
    unit = f" {entry.unit}" if entry.unit else ""

    def gather(ctx: Context) -> tuple[Truth, str, tuple[Evidence, ...], tuple[str, ...]]:
        period, problem = period_of(ctx)
        wanted = f"{node.count} {entry.title} results {when}"
        if period is None:
            return None, _no_period(entry, problem, when).reason, (), (wanted,)
        good, bad = recent(result_index(ctx).results(entry), entry, period, node.count)
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
_NO_ASCITES = ("none",)
_ENCEPHALOPATHY_BY_GRADE = {0: "none", 1: "grade_1_2", 2: "grade_1_2", 3: "grade_3_4",
                            4: "grade_3_4"}
_SOME_ENCEPHALOPATHY = ("grade_1_2", "grade_3_4")
_NO_ENCEPHALOPATHY = ("none",)
_SEXES = (True, False)


class _Input(NamedTuple):
    """What the profile says of one formula input: candidate values, or why none."""

    name: str
    candidates: tuple[Any, ...]
    said: str
    evidence: tuple[Evidence, ...] = ()
    missing: str | None = None


Candidates = tuple[Any, ...]


class _Source(NamedTuple):
    """Where one formula input comes from: its candidate values (none: missing), read
    without words for the status-only path, and the same candidates explained.

    ``explain`` is given what ``values`` read, so the two paths always agree.
    """

    values: Callable[[Context], Candidates]
    explain: Callable[[Context, Candidates], _Input]


def _condition_finder(valueset: str, env: Env
                      ) -> Callable[[Context], tuple[Condition, Coding] | None]:
    """The first condition in a library value set that ``has condition`` would count at the
    as-of date (the same rule: :func:`eligo.records.record_truth`), with its coding."""
    matcher = library_matcher(valueset)
    bit = env.codes.bit(matcher)

    def first(ctx: Context) -> tuple[Condition, Coding] | None:
        union, entries = ctx.conditions_index
        if not union & bit:
            return None
        as_of = ctx.as_of
        for record, mask in entries:
            if mask & bit and isinstance(record, Condition) and \
                    record_truth("condition", record, as_of, None):
                coding = matching_coding(record.codes, matcher)
                if coding is not None:
                    return record, coding
        return None

    return first


def _condition_evidence(found: tuple[Condition, Coding]) -> tuple[Evidence, ...]:
    c, coding = found
    return (Evidence(record_type="condition", record_id=c.id, system=coding.system,
                     code=coding.code, display=coding.display, date=c.onset),)


def _input_evidence(ctx: Context, reading: Reading | NoReading) -> tuple[Evidence, ...]:
    """A score input's evidence, unless only the reason is asked for (Context.reason_only)."""
    return () if ctx.reason_only else _evidence(reading)


def _input_condition(ctx: Context, found: tuple[Condition, Coding]) -> tuple[Evidence, ...]:
    return () if ctx.reason_only else _condition_evidence(found)


Periods = Callable[[int], _Where]


def _periods(timing: r.Timing | None, env: Env) -> Periods:
    """Where a score looks for each input: the rule's time if it gives one, else the
    input's own freshness window (its days -> the period, its words, what is too old)."""
    if timing is not None:
        # Built now, not while screening: an anchor registers its codes in the index.
        fixed = _observation_period(timing, 0, env)
        return lambda days: fixed
    made: dict[int, _Where] = {}

    def of(days: int) -> _Where:
        if days not in made:
            made[days] = _observation_period(None, days, env)
        return made[days]
    return of


def _source(name: str, periods: Periods, env: Env) -> _Source:
    """How input ``name`` of a score is read from the profile."""
    if name == "age_years":
        def age(ctx: Context) -> Candidates:
            birth = ctx.patient.birth_date
            if birth is None or birth > ctx.as_of:
                return ()
            return (age_in(birth, ctx.as_of, "years"),)

        def explain_age(ctx: Context, found: Candidates) -> _Input:
            if not found:
                return _Input(name, found, "age unknown", missing="birth date")
            return _Input(name, found, f"age {found[0]}")
        return _Source(age, explain_age)
    if name == "female":
        def female(ctx: Context) -> Candidates:
            sex = ctx.patient.sex
            if sex == "female" or sex == "male":
                return (sex == "female",)
            return _SEXES

        def explain_female(ctx: Context, found: Candidates) -> _Input:
            if len(found) == 1:
                return _Input(name, found, f"sex {ctx.patient.sex}")
            return _Input(name, found, "sex not recorded as female or male",
                          missing="the patient's sex (female or male)")
        return _Source(female, explain_female)
    if name == "dialysis_twice_last_week":
        bit = env.codes.bit(library_matcher("dialysis"))
        week = timedelta(days=7)

        def sessions(ctx: Context) -> int:
            union, entries = ctx.procedures()
            if not union & bit:
                return 0
            as_of = ctx.as_of
            start = as_of - week
            count = 0
            for p, mask in entries:
                if mask & bit and isinstance(p, Procedure) and counted(p) \
                        and p.date is not None and start <= p.date <= as_of:
                    count += 1
            return count

        def dialysis(ctx: Context) -> Candidates:
            return (sessions(ctx) >= 2,)

        def explain_dialysis(ctx: Context, found: Candidates) -> _Input:
            return _Input(name, found, f"{sessions(ctx)} dialysis sessions in the last week")
        return _Source(dialysis, explain_dialysis)
    if name == "ascites":
        ascites_on_record = _condition_finder("ascites", env)
        no_ascites = _Input(name, _NO_ASCITES, "no ascites on record")

        def ascites(ctx: Context) -> Candidates:
            return _NO_ASCITES if ascites_on_record(ctx) is None else _ASCITES

        def explain_ascites(ctx: Context, found: Candidates) -> _Input:
            record = ascites_on_record(ctx)
            if record is None:
                return no_ascites
            return _Input(name, found, "ascites on record, grade not recorded",
                          _input_condition(ctx, record),
                          "the grade of ascites (mild or moderate-severe)")
        return _Source(ascites, explain_ascites)
    if name == "encephalopathy":
        return _encephalopathy_source(periods, env)
    return _observed_source(name, periods)


def _encephalopathy_source(periods: Periods, env: Env) -> _Source:
    """Hepatic encephalopathy: the newest readable West Haven grade, else a coded
    hepatic encephalopathy (every grade a candidate), else none."""
    name = "encephalopathy"
    on_record = _condition_finder("hepatic_encephalopathy", env)
    nothing = _Input(name, _NO_ENCEPHALOPATHY, "no hepatic encephalopathy on record")
    grade_entry = obs.lookup("west_haven")
    if grade_entry is not None:
        find_grade, _ = _finders(grade_entry, periods(grade_entry.freshness_days))
        level = _level_of(grade_entry)

    def graded(ctx: Context) -> tuple[str, Reading] | None:
        if grade_entry is None:
            return None
        reading = find_grade(ctx)
        if isinstance(reading, str):
            return None
        index = level(reading.value)
        return None if index is None else (_ENCEPHALOPATHY_BY_GRADE[index], reading)

    def encephalopathy(ctx: Context) -> Candidates:
        grade = graded(ctx)
        if grade is not None:
            return (grade[0],)
        return _NO_ENCEPHALOPATHY if on_record(ctx) is None else _SOME_ENCEPHALOPATHY

    def explain(ctx: Context, found: Candidates) -> _Input:
        grade = graded(ctx)
        if grade is not None:
            reading = grade[1]
            return _Input(name, found, f"West Haven grade {reading.value}",
                          _input_evidence(ctx, reading))
        record = on_record(ctx)
        if record is None:
            return nothing
        return _Input(name, found, "hepatic encephalopathy on record, grade not recorded",
                      _input_condition(ctx, record),
                      "the West Haven grade of hepatic encephalopathy")

    return _Source(encephalopathy, explain)


def _observed_source(name: str, periods: Periods) -> _Source:
    """An input read from the newest fresh result of a library observation, in the unit
    the formula takes (``ast_uln_u_l``: that result's upper limit of normal)."""
    entry_name, unit = derived.OBSERVED_INPUTS.get(name, ("", None))
    uln_of_result = name == "ast_uln_u_l"
    if uln_of_result:
        entry_name, unit = "ast", "U/L"
    entry = obs.lookup(entry_name) if entry_name else None
    if entry is None:
        def nothing(ctx: Context) -> Candidates:
            return ()

        def explain_nothing(ctx: Context, found: Candidates) -> _Input:
            return _Input(name, found, f"{name} is not recorded", missing=None)
        return _Source(nothing, explain_nothing)
    where = periods(entry.freshness_days)
    find_value, _ = _finders(entry, where)
    # The unit the formula takes, when the entry's canonical unit is another one.
    target = unit if unit is not None and entry.unit is not None and unit != entry.unit \
        else None
    canonical_unit = entry.unit or ""

    def values(ctx: Context) -> Candidates:
        reading = find_value(ctx)
        if isinstance(reading, str):
            return ()
        raw = reading.uln if uln_of_result else reading.value
        if raw is None:
            return ()
        value = float(raw)
        if target is not None:
            value = convert(value, canonical_unit, target, molar_factor=entry.molar_mass,
                            iu_equals_u=entry.iu_equals_u)
        return (value,)

    period_of, when, older_than, _ = where

    def explain(ctx: Context, found: Candidates) -> _Input:
        period, problem = period_of(ctx)
        if period is None:
            gap = _no_period(entry, problem, when)
            return _Input(name, found, gap.reason, missing=gap.missing)
        reading = result_index(ctx).latest(entry, period, when, older_than)
        if isinstance(reading, NoReading):
            return _Input(name, found, reading.reason, _input_evidence(ctx, reading),
                          reading.missing)
        if not found:
            return _Input(name, found, f"no upper limit of normal for {entry.title}",
                          _input_evidence(ctx, reading),
                          f"the reference range of {entry.title}")
        if uln_of_result:
            source = ("the laboratory's range" if reading.observation.reference_high is not None
                      else "the library's typical range")
            return _Input(name, found, f"upper limit of normal for {entry.title} "
                          f"{found[0]:g} {unit} ({source})", _input_evidence(ctx, reading))
        return _Input(name, found, f"{entry.title} {_shown_value(entry, reading)}",
                      _input_evidence(ctx, reading))

    return _Source(values, explain)


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
    sources = {name: _source(name, periods, env) for name in inputs}
    function: Callable[..., Any] = score.spec.function
    pick = score.pick
    # Read by the status-only path: required inputs first (one missing decides UNKNOWN
    # before the rest are read), each with the memo key that shares it between scores
    # (Child-Pugh and MELD read the same bilirubin and INR).
    plan = tuple((name, ("score-input", name, timing), sources[name].values, name in required)
                 for name in sorted(inputs, key=lambda name: name not in required))

    def values_of(name: str, ctx: Context) -> Candidates:
        key = ("score-input", name, timing)
        found = ctx.memo.get(key)
        if found is None:
            found = ctx.memo[key] = sources[name].values(ctx)
        return found  # type: ignore[return-value]

    def read_input(name: str, ctx: Context) -> _Input:
        key = ("score-explained", name, timing)
        found = ctx.memo.get(key)
        if found is None:
            found = ctx.memo[key] = sources[name].explain(ctx, values_of(name, ctx))
        return found  # type: ignore[return-value]

    def test(ctx: Context) -> Truth:
        memo = ctx.memo
        known: dict[str, Any] = {}
        open_: list[tuple[str, Candidates]] = []
        for name, key, values, needed in plan:
            found = memo.get(key)
            if found is None:
                found = memo[key] = values(ctx)
            if not found:
                if needed:
                    return None
                continue
            if len(found) == 1:  # type: ignore[arg-type]
                known[name] = found[0]  # type: ignore[index]
            else:
                open_.append((name, found))  # type: ignore[arg-type]
        if not open_:
            try:
                value = pick(function(**known))
            except ValueError:  # an input the formula cannot take (a zero lab value)
                return None
            return check(value, None)
        # Inputs the record only narrows down: decided when every candidate agrees.
        truths: set[Truth] = set()
        names = [name for name, _ in open_]
        for combo in itertools.product(*(found for _, found in open_)):
            try:
                value = pick(function(**known, **dict(zip(names, combo, strict=True))))
            except ValueError:
                return None
            truths.add(check(value, None))
            if len(truths) > 1:
                return None
        return truths.pop()

    def outcomes_of(read: list[_Input]) -> tuple[list[Any], str | None]:
        """The score for every combination of the candidates (or why it has none)."""
        usable = [i for i in read if i.candidates]
        names = [i.name for i in usable]
        outcomes: list[Any] = []
        for combo in itertools.product(*(i.candidates for i in usable)):
            try:
                outcomes.append(pick(function(**dict(zip(names, combo, strict=True)))))
            except ValueError as error:
                return [], str(error)
        return outcomes, None

    def explain(ctx: Context) -> Finding:
        read = [read_input(name, ctx) for name in inputs]
        found: list[Evidence] = []
        parts: list[str] = []  # what each input is (a missing optional one goes unsaid)
        blocked = False  # a required input is missing
        for i in read:
            if i.evidence:
                found += i.evidence
            if i.candidates:
                parts.append(i.said)
            elif i.name in required:
                parts.append(i.said)
                blocked = True
            elif i.missing:
                parts.append(i.said)
        evidence = tuple(dict.fromkeys(found)) if len(found) > 1 else tuple(found)
        inputs_said = "; ".join(parts)
        outcomes, error = ([], None) if blocked else outcomes_of(read)
        if not outcomes:
            missing = tuple(i.missing for i in read if i.missing and not i.candidates)
            why = f" ({error})" if error and not missing else ""
            return Finding(None, f"{score.spec.title} cannot be computed{why}: {inputs_said}",
                           evidence, missing or (f"the inputs of {score.spec.title}",))
        truths = {check(value, None) for value in outcomes}
        truth = truths.pop() if len(truths) == 1 else None
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
            bound, compare = rank(label_of(value)), COMPARE[op]
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


