from __future__ import annotations

from pathlib import Path

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
