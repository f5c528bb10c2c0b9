from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eligo import Protocol, Screener, load_protocol

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "patient_fixtures"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def nct01224327() -> Protocol:
    return load_protocol("NCT01224327")


@pytest.fixture(scope="session")
def nct_screener(nct01224327: Protocol) -> Screener:
    return Screener(nct01224327)


@pytest.fixture(scope="session")
def population() -> Callable[[int, int], list[dict[str, Any]]]:
    """``population(n, seed)``: n profiles as benchmarks/bench_screen.py generates them."""
    spec = importlib.util.spec_from_file_location(
        "bench_screen", ROOT / "benchmarks" / "bench_screen.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass machinery looks the module up
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)

    def make(n: int, seed: int) -> list[dict[str, Any]]:
        rng = random.Random(seed)
        return [module.profile(rng, i) for i in range(n)]

    return make
