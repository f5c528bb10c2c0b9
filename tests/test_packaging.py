"""The wheel works on its own: built from the repository, installed into a fresh virtual
environment, and run from a directory outside the checkout.

This is what catches package data left out of the wheel (the grammar, which lives outside
``src/`` and is force-included as ``eligo/grammars/eligibility.lark``, and the bundled
protocols): in the checkout both are found on disk, so no other test would notice.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from eligo import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NCT = "NCT01224327"

PATIENT = """\
id: p-packaged
birth_date: 1970-05-01
sex: male
conditions:
  - id: c1
    codes: [{system: icd10cm, code: K70.30}]
    onset: 2020-01-01
"""

# A recent liver panel (Child-Pugh A5, MELD 6) decides E1; the manual criteria are attested.
ATTESTED = PATIENT + """\
observations:
  - {codes: [{system: loinc, code: 1975-2}], value: 0.9, unit: mg/dL, date: 2026-01-05}
  - {codes: [{system: loinc, code: 1751-7}], value: 3.9, unit: g/dL, date: 2026-01-05}
  - {codes: [{system: loinc, code: 6301-6}], value: 1.1, date: 2026-01-05}
  - {codes: [{system: loinc, code: 2160-0}], value: 0.8, unit: mg/dL, date: 2026-01-05}
attestations:
  - {criterion: I3, answer: true, by: coordinator, at: 2026-01-10}
  - {criterion: E2, answer: false, by: coordinator, at: 2026-01-10}
"""


def _clean_env() -> dict[str, str]:
    """The environment without anything that would let the checkout leak into the venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "FORCE_COLOR",
                        "TTY_COMPATIBLE", "PIP_REQUIRE_VIRTUALENV")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _run(args: Sequence[str | Path], *, cwd: Path, timeout: float = 120
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=_clean_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


def _must(proc: subprocess.CompletedProcess[str], what: str) -> None:
    assert proc.returncode == 0, (
        f"{what} failed ({proc.returncode})\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path
    python: Path
    outside: Path  # a working directory outside the repository


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    dist = base / "dist"

    # Build the wheel. Without isolation when the backend is already importable (fast,
    # offline); otherwise let build fetch hatchling into an isolated environment.
    args: list[str | Path] = [sys.executable, "-m", "build", "--wheel", "--outdir", dist]
    if importlib.util.find_spec("hatchling") is not None:
        args.append("--no-isolation")
    args.append(ROOT)
    _must(_run(args, cwd=base, timeout=900), "python -m build --wheel")
    wheels = sorted(dist.glob("eligo-*.whl"))
    assert len(wheels) == 1, wheels

    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", venv], cwd=base, timeout=300)
    if made.returncode != 0:
        pytest.skip(f"cannot create a virtual environment here (python -m venv): "
                    f"{made.stderr.strip()[-500:]}")
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    _must(_run([python, "-m", "pip", "install", "--quiet", wheels[0]], cwd=base, timeout=1200),
          "pip install <wheel>")

    outside = base / "elsewhere"
    outside.mkdir()
    (outside / "patient.yaml").write_text(PATIENT, encoding="utf-8")
    (outside / "attested.yaml").write_text(ATTESTED, encoding="utf-8")
    return Installed(wheels[0], bindir, python, outside)


def test_wheel_contains_grammar_and_protocols(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert "eligo/grammars/eligibility.lark" in names
    assert f"eligo/protocols/{NCT}.elig" in names
    assert "eligo/cli.py" in names
    assert not any(n.startswith(("tests/", "src/", "grammars/")) for n in names), sorted(names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "eligo = eligo.cli:main" in zipfile.ZipFile(installed.wheel).read(entry_points).decode()


def test_installed_version(installed: Installed) -> None:
    proc = _run([installed.bin / "eligo", "--version"], cwd=installed.outside)
    _must(proc, "eligo --version")
    assert proc.stdout.strip() == f"eligo {__version__}"
    proc = _run([installed.python, "-m", "eligo", "--version"], cwd=installed.outside)
    _must(proc, "python -m eligo --version")
    assert proc.stdout.strip() == f"eligo {__version__}"


@pytest.mark.parametrize(("patient", "code", "verdict"), [
    ("patient.yaml", 3, "verdict: NEEDS REVIEW"),
    ("attested.yaml", 0, "verdict: ELIGIBLE"),
])
def test_installed_check(installed: Installed, patient: str, code: int, verdict: str) -> None:
    proc = _run([installed.bin / "eligo", "check", NCT, patient, "--as-of", "2026-01-15"],
                cwd=installed.outside)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert verdict in proc.stdout
    assert "Traceback" not in proc.stderr


def test_installed_package_data(installed: Installed) -> None:
    """The grammar and protocol load from the installed package, not from the checkout."""
    script = (
        "import pathlib, eligo\n"
        "from importlib import resources\n"
        "from eligo.grammar import grammar_text\n"
        "from eligo.library import bundled_ids\n"
        "pkg = resources.files('eligo')\n"
        "grammar = pkg.joinpath('grammars', 'eligibility.lark')\n"
        "assert grammar.is_file(), 'grammar missing from the installed package'\n"
        "assert grammar_text() == grammar.read_text(encoding='utf-8')\n"
        "print(pathlib.Path(eligo.__file__).resolve())\n"
        "print(' '.join(bundled_ids()))\n"
        f"print(eligo.load_protocol('{NCT}').trial_id)\n"
        "print(grammar.read_text(encoding='utf-8'), end='')\n"
    )
    proc = _run([installed.python, "-c", script], cwd=installed.outside)
    _must(proc, "package data check")
    location, ids, trial_id, grammar = proc.stdout.split("\n", 3)
    assert not Path(location).is_relative_to(ROOT), f"imported from the checkout: {location}"
    assert NCT in ids.split()
    assert trial_id == NCT
    assert grammar == (ROOT / "grammars" / "eligibility.lark").read_text(encoding="utf-8")
