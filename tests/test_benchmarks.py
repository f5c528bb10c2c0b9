"""Smoke test of benchmarks/bench_evaluate.py for both protocols: generation and the
agreement checks, no timing."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eligo import Screener
from eligo.compiler import compile_source
from eligo.rules import Protocol

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
BENCH = BENCHMARKS / "bench_evaluate.py"
SIBLINGS = ("_handwritten", "_patients", "_nct01224327", "_labs")
PROTOCOLS = ("NCT01224327", "labs")
AGREEMENT_N = 3000  # patients per protocol for the agreement checks


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("bench_evaluate", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass machinery looks the module up
    sys.path.insert(0, str(BENCHMARKS))  # the hand-written screens sit next to it
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))
        for name in (spec.name, *SIBLINGS):
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def cases(bench: ModuleType) -> dict[str, Any]:
    return bench.load_cases()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def protocols(cases: dict[str, Any]) -> dict[str, Protocol]:
    return {key: compile_source(case.source()) for key, case in cases.items()}


@pytest.fixture(scope="module")
def populations(cases: dict[str, Any]) -> dict[str, list[Any]]:
    return {key: case.generate(AGREEMENT_N, 7) for key, case in cases.items()}


def test_both_protocols_are_benchmarked(cases: dict[str, Any],
                                        protocols: dict[str, Protocol]) -> None:
    assert set(cases) == set(PROTOCOLS)
    assert protocols["NCT01224327"].trial_id == "NCT01224327"
    labs = protocols["labs"]
    assert labs.trial_id == "HEP-LABS-BENCH"
    for key, case in cases.items():
        assert tuple(c.id for c in protocols[key].criteria) == case.criteria
        assert {c.id for c in protocols[key].inclusion} == case.inclusion


@pytest.mark.parametrize("key", PROTOCOLS)
def test_handwritten_code_sets_and_labs_match_eligo(bench: ModuleType, cases: dict[str, Any],
                                                    protocols: dict[str, Protocol],
                                                    key: str) -> None:
    assert bench.valueset_drift(cases[key], protocols[key]) == []
    assert bench.observation_drift(cases[key]) == []


@pytest.mark.parametrize("key", PROTOCOLS)
def test_handwritten_agrees_with_screener(bench: ModuleType, cases: dict[str, Any],
                                          protocols: dict[str, Protocol],
                                          populations: dict[str, list[Any]], key: str) -> None:
    case, patients = cases[key], populations[key]
    screener = Screener(protocols[key])
    assert len(patients) == AGREEMENT_N
    assert bench.disagreements(case, screener, patients) == []
    mix, wrong = bench.criterion_check(case, screener, patients)
    assert wrong == []
    verdicts = bench.verdict_distribution(screener, patients)
    assert set(verdicts) == {"ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW"}
    # Every criterion is decided both ways somewhere in the population.
    for cid, outcomes in mix.items():
        assert outcomes["pass"], (cid, outcomes)
        assert outcomes["fail"], (cid, outcomes)


@pytest.mark.parametrize("key", PROTOCOLS)
def test_modes_agree_on_a_sample(bench: ModuleType, cases: dict[str, Any],
                                 protocols: dict[str, Protocol], key: str) -> None:
    patients = cases[key].generate(300, 11)
    assert bench.mode_disagreements(Screener(protocols[key]), patients) == []


def test_scores_are_exercised(populations: dict[str, list[Any]]) -> None:
    """The populations reach every branch of the computed criteria: E1 decided by the labs
    alone, a Child-Pugh class left open by an ungraded ascites or encephalopathy, a West
    Haven grade read, MELD's dialysis rule, SI and US units, results without a value."""
    from datetime import timedelta

    from _handwritten import (
        dialysed_twice_last_week,
        has_active,
        lab_value,
        latest_result,
        west_haven_grade,
    )
    from _nct01224327 import (  # importable: the bench fixture put benchmarks/ on the path
        ALBUMIN,
        BILIRUBIN,
        CREATININE,
        DIALYSIS,
        END_STAGE_LIVER,
        INR,
        WEST_HAVEN,
        child_pugh_classes,
        end_stage,
        meld,
    )
    from _patients import AS_OF

    seen: dict[str, int] = dict.fromkeys(
        ("labs only", "open class", "decided class", "meld", "dialysis", "west haven", "si",
         "us", "no value"), 0)
    fresh_grade = AS_OF - timedelta(days=WEST_HAVEN.fresh_days)
    for p in populations["NCT01224327"] + populations["labs"]:
        bilirubin, inr = lab_value(p, BILIRUBIN, AS_OF), lab_value(p, INR, AS_OF)
        classes = child_pugh_classes(p, AS_OF, bilirubin, lab_value(p, ALBUMIN, AS_OF), inr)
        if classes is not None:
            seen["open class" if len(classes) > 1 else "decided class"] += 1
        if meld(p, AS_OF, bilirubin, inr, lab_value(p, CREATININE, AS_OF)) is not None:
            seen["meld"] += 1
        if end_stage(p, AS_OF) and not has_active(p, END_STAGE_LIVER, AS_OF):
            seen["labs only"] += 1
        if dialysed_twice_last_week(p, DIALYSIS, AS_OF):
            seen["dialysis"] += 1
        grade = latest_result(p, WEST_HAVEN, AS_OF, fresh_grade)
        if grade is not None and west_haven_grade(grade.value):
            seen["west haven"] += 1
        units = {o.unit for o in p.observations}
        seen["si"] += "umol/L" in units or "µmol/L" in units
        seen["us"] += "mg/dL" in units or "mg/dl" in units
        seen["no value"] += any(o.value is None for o in p.observations)
    assert all(seen.values()), seen


@pytest.mark.parametrize("key", PROTOCOLS)
def test_generation_is_seeded(cases: dict[str, Any], key: str) -> None:
    generate = cases[key].generate
    first = generate(50, 3)
    again = generate(50, 3)
    other = generate(50, 4)
    assert first == again
    assert first != other
