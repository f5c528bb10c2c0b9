"""The NCT01224327 fixture patients: expected verdicts, engine self-consistency, CLI, coverage.

Every file in ``patient_fixtures/NCT01224327`` is a fixture document (a ``fixture:`` block
with the as-of date, the expected verdict and the exact failing / unknown criterion ids,
and a ``patient:`` block). Each one is screened through every entry point: the explained
``Screener.screen``, the fast ``verdict`` and ``statuses``, and the ``eligo check`` CLI in
text and JSON form. The fixtures state what the result *should* be; where the engine (or
the bundled protocol) disagrees, the affected checks are listed in ``ENGINE_PROBLEMS`` and
marked ``xfail(strict=True)`` instead of bending the fixture.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

import eligo
from eligo.cli import app
from eligo.patient import FixtureExpectation, Patient, load_patient

PROTOCOL_ID = "NCT01224327"
FIXTURE_DIR = Path(__file__).resolve().parents[1] / "patient_fixtures" / PROTOCOL_ID
# The same selection the `eligo test` command makes from a directory.
FIXTURE_FILES = sorted(p for p in FIXTURE_DIR.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
CRITERIA = ("I1", "I2", "I3", "E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8")
EXIT_CODES = {"ELIGIBLE": 0, "INELIGIBLE": 1, "NEEDS_REVIEW": 3}
NAME = re.compile(r"^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*\.yaml$")

# Statuses no patient can produce for a criterion, so coverage does not ask for them.
# UNKNOWN is impossible for I2, E3, E6, E7 and E8: each is a plain `has condition <value
# set>` (or an `or` of them) with no time window, and the protocol is closed-world. Without
# a window a matching record is decided from its abatement date (after the as-of date:
# active) or else its clinical status (active/recurrence/relapse/unstated: active;
# inactive/remission/resolved: not), so it is always TRUE or FALSE, never UNKNOWN; a
# refuted/entered-in-error record is FALSE, and no record at all is FALSE (closed world).
# An undated "resolved" cirrhosis is therefore I2 FALSE (fixture 08), not UNKNOWN.
# test_unknown_exemptions_hold probes this with every under-specified record shape.
IMPOSSIBLE: dict[str, frozenset[str]] = {
    "I2": frozenset({"unknown"}),
    "E3": frozenset({"unknown"}),
    "E6": frozenset({"unknown"}),
    "E7": frozenset({"unknown"}),
    "E8": frozenset({"unknown"}),
}
# One code from each of those value sets, for the probe.
EXEMPT_PROBE_CODES = {
    "I2": ("icd10cm", "K74.60"),
    "E3": ("icd10cm", "C22.0"),
    "E6": ("icd10cm", "K83.01"),
    "E7": ("icd10cm", "I50.22"),
    "E8": ("icd10cm", "I81"),
}

# ---- known engine / protocol problems ---------------------------------------------------
# Checks a fixture goes through; a problem lists the ones it breaks.
EXPECTED = "expected"        # screen() gives the fixture's verdict, failing and unknown ids
CONSISTENT = "consistent"    # verdict() and statuses() agree with screen()
EXPLAINED = "explained"      # every criterion has a reason, every UNKNOWN a missing item
CLI_TEXT = "cli-text"        # `eligo check` exit code
CLI_JSON = "cli-json"        # `eligo check --format json` exit code and verdict


@dataclass(frozen=True)
class EngineProblem:
    reason: str
    breaks: frozenset[str]


# Empty when the engine handles every fixture; add an entry (with the checks it breaks)
# rather than bending a fixture to match a wrong result.
ENGINE_PROBLEMS: dict[str, EngineProblem] = {}


def _breaks(path: Path, check: str) -> bool:
    problem = ENGINE_PROBLEMS.get(path.name)
    return problem is not None and check in problem.breaks


def _params(check: str) -> Iterator[object]:
    for path in FIXTURE_FILES:
        marks = []
        if _breaks(path, check):
            reason = ENGINE_PROBLEMS[path.name].reason
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        yield pytest.param(path, id=path.stem, marks=marks)


@cache
def _load(path: Path) -> tuple[Patient, FixtureExpectation]:
    patient, fixture = load_patient(path)
    assert fixture is not None, f"{path.name} has no fixture block"
    return patient, fixture


@cache
def _screener() -> eligo.Screener:
    return eligo.Screener(eligo.load_protocol(PROTOCOL_ID))


def _screen(path: Path) -> eligo.ScreeningResult:
    patient, fixture = _load(path)
    return _screener().screen(patient, fixture.as_of)


def _status_map(result: eligo.ScreeningResult) -> dict[str, str]:
    return {c.id: str(c.status) for c in result.criteria}


# ---- the fixture files themselves ---------------------------------------------------------


def test_fixture_directory() -> None:
    names = [p.name for p in FIXTURE_FILES]
    assert len(names) >= 20
    bad = [n for n in names if not NAME.match(n)]
    assert not bad, f"fixture names must look like NN-short-description.yaml: {bad}"
    numbers = [n[:2] for n in names]
    assert len(set(numbers)) == len(numbers), "fixture numbers must be unique"
    stale = set(ENGINE_PROBLEMS) - set(names)
    assert not stale, f"ENGINE_PROBLEMS names fixtures that do not exist: {stale}"


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in FIXTURE_FILES])
def test_fixture_is_well_formed(path: Path) -> None:
    patient, fixture = _load(path)
    assert fixture.protocol == PROTOCOL_ID
    assert fixture.description.strip()
    assert "\n" not in fixture.description.strip()
    for ids in (fixture.failing, fixture.unknown):
        assert len(set(ids)) == len(ids), "criterion ids listed twice"
        assert set(ids) <= set(CRITERIA), f"unknown criterion ids {set(ids) - set(CRITERIA)}"
    assert not set(fixture.failing) & set(fixture.unknown)
    # The verdict follows from the lists: any failure rules out, else any unknown needs review.
    implied = ("INELIGIBLE" if fixture.failing else "NEEDS_REVIEW" if fixture.unknown
               else "ELIGIBLE")
    assert fixture.verdict == implied
    assert patient.id.startswith("QD-HEP-")


# ---- the engine -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(_params(EXPECTED)))
def test_screen_matches_fixture(path: Path) -> None:
    patient, fixture = _load(path)
    result = _screen(path)
    assert result.patient_id == patient.id
    assert result.as_of == fixture.as_of
    assert [c.id for c in result.criteria] == list(CRITERIA)
    got = (str(result.verdict), sorted(result.failing), sorted(result.unknown))
    want = (fixture.verdict, sorted(fixture.failing), sorted(fixture.unknown))
    assert got == want, _status_map(result)


@pytest.mark.parametrize("path", list(_params(CONSISTENT)))
def test_fast_paths_agree_with_screen(path: Path) -> None:
    patient, fixture = _load(path)
    screener = _screener()
    result = _screen(path)
    assert screener.verdict(patient, fixture.as_of) == result.verdict
    assert tuple(screener.statuses(patient, fixture.as_of)) == tuple(
        c.status for c in result.criteria)


@pytest.mark.parametrize("path", list(_params(EXPLAINED)))
def test_every_result_is_explained(path: Path) -> None:
    result = _screen(path)
    for c in result.criteria:
        assert c.reason.strip(), f"{c.id} has no reason"
        if c.status is eligo.Status.UNKNOWN:
            assert c.missing, f"{c.id} is unknown but names nothing missing"
            assert all(m.strip() for m in c.missing)
    if result.verdict is eligo.Verdict.NEEDS_REVIEW:
        assert {t.criterion for t in result.to_resolve} == set(result.unknown)


# ---- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize("path", list(_params(CLI_TEXT)))
def test_cli_check_exit_code(path: Path) -> None:
    _, fixture = _load(path)
    run = CliRunner().invoke(app, ["check", PROTOCOL_ID, str(path)])
    assert run.exception is None or isinstance(run.exception, SystemExit), run.exception
    assert run.exit_code == EXIT_CODES[fixture.verdict], run.output
    assert fixture.verdict.replace("_", " ") in run.stdout


@pytest.mark.parametrize("path", list(_params(CLI_JSON)))
def test_cli_check_json(path: Path) -> None:
    patient, fixture = _load(path)
    run = CliRunner().invoke(app, ["check", PROTOCOL_ID, str(path), "--format", "json"])
    assert run.exception is None or isinstance(run.exception, SystemExit), run.exception
    assert run.exit_code == EXIT_CODES[fixture.verdict], run.output
    data = json.loads(run.stdout)
    eligo.ScreeningResult.model_validate_json(run.stdout)  # the published result schema
    assert data["verdict"] == fixture.verdict
    assert data["patient_id"] == patient.id
    assert data["as_of"] == fixture.as_of.isoformat()  # the fixture's date, not today
    statuses = {c["id"]: c["status"] for c in data["criteria"]}
    assert sorted(i for i, s in statuses.items() if s == "fail") == sorted(fixture.failing)
    assert sorted(i for i, s in statuses.items() if s == "unknown") == sorted(fixture.unknown)


def _test_command(paths: list[Path]) -> tuple[int, str]:
    run = CliRunner().invoke(app, ["test", PROTOCOL_ID, *map(str, paths)])
    assert run.exception is None or isinstance(run.exception, SystemExit), run.exception
    return run.exit_code, run.stdout


def test_cli_test_command_on_fixture_directory() -> None:
    code, out = _test_command([FIXTURE_DIR])
    assert code == 0, out


def test_cli_test_command_on_fixtures_the_engine_handles() -> None:
    handled = [p for p in FIXTURE_FILES if not _breaks(p, EXPECTED)]
    code, out = _test_command(handled)
    assert code == 0, out
    assert f"{len(handled)} of {len(handled)} fixtures as expected" in out


# ---- coverage ---------------------------------------------------------------------------


def test_fixtures_cover_every_status_of_every_criterion() -> None:
    """Each criterion passes, fails and is unknown in some fixture, from actual results.

    Fixtures whose expected result the engine does not reproduce are left out, so coverage
    never rests on a wrong answer.
    """
    seen: dict[str, set[str]] = {cid: set() for cid in CRITERIA}
    for path in FIXTURE_FILES:
        if _breaks(path, EXPECTED):
            continue
        for cid, status in _status_map(_screen(path)).items():
            seen[cid].add(status)
    wanted = {"pass", "fail", "unknown"}
    gaps = {cid: sorted(wanted - got - IMPOSSIBLE.get(cid, frozenset()))
            for cid, got in seen.items()}
    assert not any(gaps.values()), {cid: g for cid, g in gaps.items() if g}
    # An exemption that some fixture does produce is wrong: drop it from IMPOSSIBLE.
    contradicted = {cid: sorted(seen[cid] & IMPOSSIBLE[cid]) for cid in IMPOSSIBLE}
    assert not any(contradicted.values()), contradicted


@pytest.mark.parametrize("criterion", sorted(EXEMPT_PROBE_CODES))
def test_unknown_exemptions_hold(criterion: str) -> None:
    """Under-specified records for the exempt criteria still give TRUE or FALSE, never UNKNOWN."""
    system, code = EXEMPT_PROBE_CODES[criterion]
    as_of = date(2024, 6, 1)
    shapes = [{}, {"onset": "2020-01-01"}, {"onset": "2024-05-20"}, {"abatement": "2024-06-01"},
              {"abatement": "2024-06-02"}, {"onset": "2024-07-01"}]
    clinical = [None, "active", "recurrence", "relapse", "inactive", "remission", "resolved"]
    verification = [None, "unconfirmed", "provisional", "differential", "confirmed", "refuted",
                    "entered-in-error"]
    conditions = [
        {"codes": [{"system": system, "code": code}], **shape,
         **({"clinical_status": cs} if cs else {}),
         **({"verification_status": vs} if vs else {})}
        for shape in shapes for cs in clinical for vs in verification
    ]
    patients = [Patient(id="probe")] + [
        Patient.model_validate({"id": "probe", "birth_date": "1970-01-01", "sex": "male",
                                "conditions": [c]})
        for c in conditions
    ]
    statuses = {_screener().screen(p, as_of).criterion(criterion).status for p in patients}
    assert eligo.Status.UNKNOWN not in statuses
