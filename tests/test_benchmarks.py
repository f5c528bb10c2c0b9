"""Smoke test of benchmarks/bench_evaluate.py: generation and the agreement check, no timing."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from eligo import Protocol, Screener

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_evaluate.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("bench_evaluate", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # NamedTuple and dataclass machinery look the module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_handwritten_code_sets_match_the_protocol(bench: ModuleType,
                                                  nct01224327: Protocol) -> None:
    assert bench.valueset_drift(nct01224327) == []


def test_handwritten_agrees_with_screener(bench: ModuleType, nct_screener: Screener) -> None:
    patients = bench.generate_patients(2000, seed=7)
    assert len(patients) == 2000
    assert bench.disagreements(nct_screener, patients) == []
    mix = bench.verdict_distribution(nct_screener, patients)
    assert set(mix) == {"ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW"}


def test_modes_agree_on_a_sample(bench: ModuleType, nct_screener: Screener) -> None:
    patients = bench.generate_patients(300, seed=11)
    assert bench.mode_disagreements(nct_screener, patients) == []


def test_generation_is_seeded(bench: ModuleType) -> None:
    first = bench.generate_patients(50, seed=3)
    again = bench.generate_patients(50, seed=3)
    other = bench.generate_patients(50, seed=4)
    assert first == again
    assert first != other
