"""The ``eligo`` command line, driven in-process through Typer's CliRunner.

Exit codes: 0 eligible, 1 ineligible, 3 needs review, 2 usage / compile / input error.
The checklist goldens live in ``tests/golden/``; rewrite them with ``ELIGO_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from eligo import ScreeningResult, Verdict, __version__, load_protocol
from eligo.cli import app
from eligo.rules import from_json

GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("ELIGO_UPDATE_GOLDEN") == "1"
AS_OF = "2026-01-15"
NCT = "NCT01224327"

# Rich decides on colour and width from the environment; pin both so output is plain text.
PLAIN_ENV: dict[str, str | None] = {
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
    "NO_COLOR": "1",
    "COLUMNS": "100",
}

# Newer Typer runners always keep stderr apart (and mix both into .output); Click 8.1-era
# runners need mix_stderr=False for that.
_RUNNER_KW: dict[str, Any] = (
    {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters
    else {}
)

# ---- patients ------------------------------------------------------------------------

# Cirrhosis, aged 55, male, no labs and no attestations: I3 and E2 are manual and E1
# (Child-Pugh / MELD) has no labs -> NEEDS_REVIEW.
REVIEW_YAML = """\
id: p-review
birth_date: 1970-05-01
sex: male
conditions:
  - id: c1
    codes: [{system: icd10cm, code: K70.30}]
    onset: 2020-01-01
"""

# Aged 76 (fails I1) with hepatocellular carcinoma (fails E3) -> INELIGIBLE.
INELIGIBLE_JSON = """\
{"id": "p-inelig", "birth_date": "1950-01-01", "sex": "female",
 "pregnancy": {"status": "not_pregnant", "date": "2025-12-01"},
 "conditions": [
   {"id": "c1", "codes": [{"system": "icd10cm", "code": "K7460"}], "onset": "2019-03-01"},
   {"id": "c2", "codes": [{"system": "icd10cm", "code": "C22.0"}], "onset": "2024-06-01"}]}
"""

# The review patient with a recent liver panel (Child-Pugh A5, MELD 6) and every manual
# criterion attested -> ELIGIBLE.
ELIGIBLE_YAML = REVIEW_YAML.replace("p-review", "p-elig") + """\
observations:
  - {codes: [{system: loinc, code: 1975-2}], value: 0.9, unit: mg/dL, date: 2026-01-05}
  - {codes: [{system: loinc, code: 1751-7}], value: 3.9, unit: g/dL, date: 2026-01-05}
  - {codes: [{system: loinc, code: 6301-6}], value: 1.1, date: 2026-01-05}
  - {codes: [{system: loinc, code: 2160-0}], value: 0.8, unit: mg/dL, date: 2026-01-05}
attestations:
  - {criterion: I3, answer: true, by: coordinator, at: 2026-01-10}
  - {criterion: E2, answer: false, by: coordinator, at: 2026-01-10}
"""

# The eligible patient born 1955-01-16: 70 on AS_OF (2026-01-15), 71 the next day.
TURNING_71_YAML = ELIGIBLE_YAML.replace("1970-05-01", "1955-01-16")
DAY_AFTER = "2026-01-16"

PATIENTS = {
    "eligible": ("eligible.yaml", ELIGIBLE_YAML, Verdict.ELIGIBLE, 0),
    "ineligible": ("ineligible.json", INELIGIBLE_JSON, Verdict.INELIGIBLE, 1),
    "needs_review": ("needs_review.yaml", REVIEW_YAML, Verdict.NEEDS_REVIEW, 3),
}

BAD_SYNTAX = """\
trial T1 "Bad syntax"

inclusion
  I1 "age": age between 18 and and 70 years

exclusion
  E1 "pregnant": pregnant
"""

BAD_NAMES = """\
trial T2 "Bad names"

inclusion
  I1 "cond": has condition nosuchset
  I2 "x": age >= 18 years
"""


# ---- helpers -------------------------------------------------------------------------


def run(*args: str | Path) -> Result:
    runner = CliRunner(**_RUNNER_KW)
    return runner.invoke(app, [str(a) for a in args], env=PLAIN_ENV)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def patient_file(tmp_path: Path, key: str) -> Path:
    name, text, _, _ = PATIENTS[key]
    return write(tmp_path, name, text)


def assert_no_crash(result: Result) -> None:
    """Nothing escaped the command: no exception but SystemExit, no traceback printed."""
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), f"unexpected {exc!r}\n{result.output}"
    assert "Traceback" not in result.output


def assert_usage_error(result: Result, *fragments: str) -> None:
    """Exit 2, a message on stderr naming every fragment, nothing on stdout."""
    assert_no_crash(result)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with ELIGO_UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8"), (
        f"checklist differs from {path}; if the change is intended, rerun with "
        "ELIGO_UPDATE_GOLDEN=1 and review the diff")


# ---- check ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["needs_review", "ineligible"])
def test_check_text_matches_golden(tmp_path: Path, key: str) -> None:
    result = run("check", NCT, patient_file(tmp_path, key), "--as-of", AS_OF)
    assert_no_crash(result)
    assert result.exit_code == PATIENTS[key][3]
    assert "\x1b[" not in result.stdout, "ANSI escapes in piped output"
    # The engine version is in the header; keep the golden independent of it.
    header = f" · eligo {__version__}\n"
    assert header in result.stdout
    golden(f"check_{key}.txt", result.stdout.replace(header, " · eligo <version>\n"))


def test_check_text_shows_verdict_and_every_criterion(tmp_path: Path) -> None:
    result = run("check", NCT, patient_file(tmp_path, "ineligible"), "--as-of", AS_OF)
    assert "verdict: INELIGIBLE" in result.stdout
    assert f"as of {AS_OF}" in result.stdout
    for cid in ["I1", "I2", "I3", *(f"E{i}" for i in range(1, 9))]:
        assert f" {cid} " in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("key", sorted(PATIENTS))
def test_check_json_is_a_screening_result(tmp_path: Path, key: str) -> None:
    _, _, verdict, code = PATIENTS[key]
    result = run("check", NCT, patient_file(tmp_path, key), "--as-of", AS_OF, "--format", "json")
    assert_no_crash(result)
    assert result.exit_code == code
    assert result.stderr == ""
    parsed = ScreeningResult.model_validate_json(result.stdout)
    assert parsed.verdict is verdict
    assert parsed.protocol_id == NCT
    assert str(parsed.as_of) == AS_OF
    assert parsed.engine_version == __version__
    assert [c.id for c in parsed.criteria] == [
        "I1", "I2", "I3", *(f"E{i}" for i in range(1, 9))]


def test_check_json_details(tmp_path: Path) -> None:
    out = run("check", NCT, patient_file(tmp_path, "ineligible"), "--as-of", AS_OF,
              "--format", "json").stdout
    parsed = ScreeningResult.model_validate_json(out)
    assert set(parsed.failing) == {"I1", "E3"}
    assert set(parsed.unknown) == {"I3", "E1", "E2"}
    review = ScreeningResult.model_validate_json(
        run("check", NCT, patient_file(tmp_path, "needs_review"), "--as-of", AS_OF,
            "--format", "json").stdout)
    assert {r.criterion for r in review.to_resolve} == {"I3", "E1", "E2"}


@pytest.mark.parametrize("key", sorted(PATIENTS))
def test_check_exit_codes(tmp_path: Path, key: str) -> None:
    _, _, verdict, code = PATIENTS[key]
    result = run("check", NCT, patient_file(tmp_path, key), "--as-of", AS_OF)
    assert result.exit_code == code
    assert f"verdict: {verdict.value.replace('_', ' ')}" in result.stdout


def test_check_as_of_changes_the_answer(tmp_path: Path) -> None:
    # Born 1955-01-16: 70 on 2026-01-15, 71 (outside 18-70) from 2026-01-16.
    path = write(tmp_path, "turning-71.yaml", TURNING_71_YAML)
    assert run("check", NCT, path, "--as-of", AS_OF).exit_code == 0
    late = run("check", NCT, path, "--as-of", DAY_AFTER, "--format", "json")
    assert late.exit_code == 1
    assert ScreeningResult.model_validate_json(late.stdout).failing == ("I1",)


def test_check_uses_the_fixture_date_unless_as_of_is_given(tmp_path: Path) -> None:
    patient = "\n".join("  " + line for line in TURNING_71_YAML.splitlines())
    doc = (f"fixture: {{protocol: NCT01224327, as_of: {DAY_AFTER}, verdict: INELIGIBLE,"
           " failing: [I1]}\npatient:\n" + patient + "\n")
    path = write(tmp_path, "fixture.yaml", doc)
    result = run("check", NCT, path, "--format", "json")
    assert result.exit_code == 1
    assert str(ScreeningResult.model_validate_json(result.stdout).as_of) == DAY_AFTER
    assert run("check", NCT, path, "--as-of", AS_OF).exit_code == 0


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "15/01/2026", ""])
def test_check_bad_as_of(tmp_path: Path, bad: str) -> None:
    result = run("check", NCT, patient_file(tmp_path, "eligible"), "--as-of", bad)
    assert_usage_error(result, f"--as-of `{bad}` is not a date", "YYYY-MM-DD")


def test_check_bad_format(tmp_path: Path) -> None:
    result = run("check", NCT, patient_file(tmp_path, "eligible"), "--format", "xml")
    assert_usage_error(result, "--format `xml`", "text or json")


def test_check_unknown_protocol_suggests_the_bundled_id(tmp_path: Path) -> None:
    result = run("check", "NCT0122432", patient_file(tmp_path, "eligible"), "--as-of", AS_OF)
    assert_usage_error(result, "`NCT0122432`", "did you mean `NCT01224327`?")


def test_check_unknown_protocol_without_a_close_match_lists_bundled_ids(tmp_path: Path) -> None:
    result = run("check", "zzz", patient_file(tmp_path, "eligible"), "--as-of", AS_OF)
    assert_usage_error(result, "`zzz`", NCT)


def test_check_missing_protocol_file(tmp_path: Path) -> None:
    missing = tmp_path / "nothere.elig"
    result = run("check", missing, patient_file(tmp_path, "eligible"), "--as-of", AS_OF)
    assert_usage_error(result, str(missing))


def test_check_missing_patient_file(tmp_path: Path) -> None:
    missing = tmp_path / "nobody.yaml"
    result = run("check", NCT, missing, "--as-of", AS_OF)
    assert_usage_error(result, str(missing), "(file)")


def test_check_patient_is_a_directory(tmp_path: Path) -> None:
    assert_usage_error(run("check", NCT, tmp_path, "--as-of", AS_OF), str(tmp_path))


INVALID_PATIENTS = {
    # name: (file name, content, fragments the message must contain)
    "birth_date string": ("p.yaml", "id: x\nbirth_date: not-a-date\n",
                          ["birth_date:", '"not-a-date"']),
    "birth_date list": ("p.json", '{"id": "x", "birth_date": [1970, 5, 1]}',
                        ["birth_date:", "[1970, 5, 1]"]),
    "birth_date number": ("p.json", '{"id": "x", "birth_date": 12}', ["birth_date:", "12"]),
    "unknown key": ("p.yaml", "id: x\nnickname: Bob\n", ["nickname:", '"Bob"', "unknown field"]),
    "unknown nested key": (
        "p.yaml",
        "id: x\nconditions:\n  - codes: [{system: icd10cm, code: K70.30}]\n"
        "    onsett: '2020-01-01'\n",
        ["conditions[0].onsett:", '"2020-01-01"', "did you mean `onset`?"]),
    "bad enum": ("p.yaml", "id: x\nsex: M\n", ["sex:", '"M"', "'female'"]),
    "missing id": ("p.yaml", "sex: male\n", ["id:"]),
    "empty codes": ("p.yaml", "id: x\nconditions: [{codes: []}]\n", ["conditions[0].codes:"]),
    "malformed yaml": ("p.yaml", "id: x\nconditions: [\n  - foo: bar\n",
                       ["line 3 column 3", "invalid YAML"]),
    "malformed json": ("p.json", '{"id": "x",', ["line 1 column", "invalid JSON"]),
    "list document": ("p.yaml", "- a\n- b\n", ["(document)", "expected an object, got list"]),
    "empty document": ("p.yaml", "", ["(document)", "expected an object"]),
    "fixture patient": (
        "p.yaml",
        "fixture: {protocol: NCT01224327, as_of: 2026-01-15, verdict: ELIGIBLE}\n"
        "patient: {id: x, foo: 1}\n",
        ["patient.foo:", "1"]),
}


@pytest.mark.parametrize("case", sorted(INVALID_PATIENTS))
def test_check_invalid_patient_data(tmp_path: Path, case: str) -> None:
    name, text, fragments = INVALID_PATIENTS[case]
    path = write(tmp_path, name, text)
    result = run("check", NCT, path, "--as-of", AS_OF)
    assert_usage_error(result, "error[invalid-patient]", str(path), *fragments)


def test_check_patient_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", b"\xff\xfeid: x\n")
    assert_usage_error(run("check", NCT, path, "--as-of", AS_OF), str(path), "not UTF-8")


@pytest.mark.parametrize(("text", "value"), [
    ("id: x\nconditions:\n  - codes: [{system: icd10cm, code: K70.30}]\n"
     "    onset: 2020-02-30\n", "2020-02-30"),
    ("id: x\nattestations:\n  - {criterion: I3, answer: true, by: me, "
     "at: 2026-01-10 25:00:00}\n", "25:00:00"),
])
def test_check_impossible_yaml_date(tmp_path: Path, text: str, value: str) -> None:
    path = write(tmp_path, "p.yaml", text)
    assert_usage_error(run("check", NCT, path, "--as-of", AS_OF), str(path), value)


def test_check_numeric_birth_date_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "p.json", '{"id": "x", "birth_date": 0}')
    assert_usage_error(run("check", NCT, path, "--as-of", AS_OF), "birth_date:", "0")


def test_check_union_field_error_names_the_data_path(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "id: x\nobservations:\n"
                 "  - codes: [{system: loinc, code: 718-7}]\n    value: [1, 2]\n")
    result = run("check", NCT, path, "--as-of", AS_OF)
    assert_usage_error(result, "1 problem", "observations[0].value:", "[1, 2]")
    assert ".value.float" not in result.stderr


def test_check_error_shows_values_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", "id: x\nconditions:\n"
                 "  - codes: [{system: icd10cm, code: K70.30}]\n    onsett: 2020-01-01\n")
    result = run("check", NCT, path, "--as-of", AS_OF)
    assert_usage_error(result, "conditions[0].onsett:", "2020-01-01")
    assert "datetime.date" not in result.stderr


def test_check_missing_arguments_is_a_usage_error() -> None:
    result = run("check", NCT)
    assert_no_crash(result)
    assert result.exit_code == 2
    assert "Missing argument" in result.output


# ---- lint ----------------------------------------------------------------------------


def test_lint_bundled_id() -> None:
    result = run("lint", NCT)
    assert_no_crash(result)
    assert result.exit_code == 0
    assert f"ok: {NCT}: {NCT}, 3 inclusion and 8 exclusion criteria" in result.stdout
    assert result.stderr == ""


def test_lint_bad_file_shows_file_line_col(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.elig", BAD_SYNTAX)
    result = run("lint", bad)
    assert_usage_error(result, "error[syntax]", f"{bad}:4:32", "1 error in")


def test_lint_reports_every_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.elig", BAD_SYNTAX)
    names = write(tmp_path, "names.elig", BAD_NAMES)
    missing = tmp_path / "nothere.elig"
    result = run("lint", NCT, bad, names, missing, "NCT0122432")
    assert_no_crash(result)
    assert result.exit_code == 2
    assert f"ok: {NCT}" in result.stdout
    expected_in_order = [
        f"{bad}:4:32",
        "nosuchset", f"{names}:4:28", "missing-section", f"2 errors in {names}",
        "cannot read protocol",
        "did you mean `NCT01224327`?",
    ]
    positions = [result.stderr.find(text) for text in expected_in_order]
    assert -1 not in positions, result.stderr
    assert positions == sorted(positions), result.stderr


def test_lint_several_good_files(tmp_path: Path) -> None:
    source = run("compile", NCT).stdout
    copy = write(tmp_path, "copy.elig", source)
    result = run("lint", NCT, copy)
    assert result.exit_code == 0
    assert result.stdout.count("ok: ") == 2


def test_lint_unreadable_file_message_is_not_wrapped(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-" * 3)
    deep.mkdir()
    missing = deep / "nothere.elig"
    result = run("lint", missing)
    assert_usage_error(result, f"error[usage]: cannot read protocol {missing}: ")


def test_lint_protocol_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.elig", 'trial T "caf\xe9"\n'.encode("latin-1"))
    assert_usage_error(run("lint", path), str(path))


def test_lint_without_files_is_a_usage_error() -> None:
    result = run("lint")
    assert_no_crash(result)
    assert result.exit_code == 2


# ---- compile -------------------------------------------------------------------------


def test_compile_json_round_trips() -> None:
    result = run("compile", NCT, "--json")
    assert_no_crash(result)
    assert result.exit_code == 0
    assert from_json(json.loads(result.stdout)) == load_protocol(NCT)


def test_compile_source_compiles_back_to_an_equal_protocol(tmp_path: Path) -> None:
    result = run("compile", NCT)
    assert_no_crash(result)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"trial {NCT} ")
    printed = write(tmp_path, "printed.elig", result.stdout)
    assert load_protocol(printed) == load_protocol(NCT)
    # Canonical: printing the printed protocol changes nothing.
    assert run("compile", printed).stdout == result.stdout


def test_compile_bad_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.elig", BAD_SYNTAX)
    assert_usage_error(run("compile", bad, "--json"), f"{bad}:4:32", "error[syntax]")


def test_compile_unknown_id() -> None:
    assert_usage_error(run("compile", "NCT0122432"), "did you mean `NCT01224327`?")


# ---- schema --------------------------------------------------------------------------

JSON_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


def _described_or_typed(prop: dict[str, Any]) -> bool:
    if {"description", "type", "$ref", "const", "enum"} & prop.keys():
        return True
    branches: list[dict[str, Any]] = prop.get("anyOf") or prop.get("oneOf") or []
    return bool(branches) and all(_described_or_typed(b) for b in branches)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _schema(which: str) -> dict[str, Any]:
    result = run("schema", which)
    assert_no_crash(result)
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert isinstance(schema, dict)
    assert schema["type"] == "object"
    defs = schema.get("$defs", {})
    for node in _walk(schema):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                assert ref.startswith("#/$defs/"), ref
                assert ref.removeprefix("#/$defs/") in defs, ref
            kind = node.get("type")  # a dict here is a property named "type"
            if isinstance(kind, str | list):
                assert set(kind if isinstance(kind, list) else [kind]) <= JSON_TYPES, kind
    return schema


def test_schema_patient() -> None:
    schema = _schema("patient")
    props = schema["properties"]
    for name in ("id", "birth_date", "sex", "pregnancy", "conditions", "medications",
                 "procedures", "observations", "attestations"):
        assert name in props
    assert schema["required"] == ["id"]
    assert schema["additionalProperties"] is False
    assert {"Condition", "Coding", "Attestation", "Observation"} <= set(schema["$defs"])
    assert {"marital_status", "planned_procedures", "family_history", "disease_statuses"} <= set(
        props)
    assert {"PlannedProcedure", "FamilyHistory", "DiseaseStatus"} <= set(schema["$defs"])
    assert len(props["marital_status"]["anyOf"][0]["enum"]) == 12
    for model in [schema, *schema["$defs"].values()]:
        for field, prop in model.get("properties", {}).items():
            assert _described_or_typed(prop), f"{model.get('title')}.{field}: {prop}"


def test_schema_result() -> None:
    schema = _schema("result")
    props = schema["properties"]
    for name in ("protocol_id", "patient_id", "as_of", "verdict", "criteria", "to_resolve"):
        assert name in props
    verdict = schema["$defs"]["Verdict"]
    assert set(verdict["enum"]) == {"ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW"}
    assert "CriterionResult" in schema["$defs"]


def test_schema_unknown_name() -> None:
    assert_usage_error(run("schema", "patients"), "no schema named `patients`", "patient")


# ---- test (fixtures) -----------------------------------------------------------------


def _fixture_doc(verdict: str, failing: str) -> str:
    patient = "\n".join("  " + line for line in TURNING_71_YAML.splitlines())
    return (f"fixture: {{protocol: NCT01224327, as_of: {DAY_AFTER}, verdict: {verdict},"
            f" failing: [{failing}]}}\npatient:\n{patient}\n")


def test_test_command(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", _fixture_doc("INELIGIBLE", "I1"))
    ok = run("test", NCT, tmp_path)
    assert ok.exit_code == 0, ok.output
    assert "1 of 1 fixtures as expected" in ok.stdout
    write(tmp_path, "b.yaml", _fixture_doc("ELIGIBLE", ""))
    mismatch = run("test", NCT, tmp_path)
    assert mismatch.exit_code == 1
    assert "MISMATCH" in mismatch.stdout
    assert "1 of 2 fixtures as expected" in mismatch.stdout
    plain = patient_file(tmp_path, "eligible")
    assert_usage_error(run("test", NCT, plain), "has no `fixture` block")


# ---- version and help ----------------------------------------------------------------


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"eligo {__version__}\n"


def test_no_arguments_prints_help() -> None:
    result = run()
    assert_no_crash(result)
    # Click 8.2+ exits 2 for no_args_is_help, older Click exits 0.
    assert result.exit_code in (0, 2)
    assert "Usage" in result.output
    for command in ("check", "lint", "compile", "schema", "test"):
        assert command in result.output


def test_help() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "check" in result.stdout


# ---- python -m eligo -----------------------------------------------------------------


def _python_m(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    return subprocess.run([sys.executable, "-m", "eligo", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120, check=False)


def test_python_m_eligo_version(tmp_path: Path) -> None:
    proc = _python_m("--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"eligo {__version__}\n"


def test_python_m_eligo_error_has_no_traceback(tmp_path: Path) -> None:
    proc = _python_m("check", NCT, "nobody.yaml", "--as-of", AS_OF, cwd=tmp_path)
    assert proc.returncode == 2
    assert "error[invalid-patient]: nobody.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_python_m_eligo_check(tmp_path: Path) -> None:
    path = patient_file(tmp_path, "needs_review")
    proc = _python_m("check", NCT, str(path), "--as-of", AS_OF, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "verdict: NEEDS REVIEW" in proc.stdout
