"""Batch screening: inputs (NDJSON, directories, flat CSV), error rows, counts that add up,
worker processes, resuming an interrupted run, and the `eligo screen` command."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eligo import Screener, batch, load_protocol
from eligo.cli import app
from eligo.errors import PatientDataError, UsageError
from eligo.flat import patient_from_row
from eligo.patient import Patient
from eligo.rules import Protocol

AS_OF = date(2024, 6, 1)

SMALL = """trial SMALL-1 "Adults without malignancy"
inclusion
  I1 "Adults": age >= 18 years
exclusion
  E1 "Malignancy": has condition [icd10cm C00-C96]
"""


def profile(i: int, **extra: Any) -> dict[str, Any]:
    """Alternately: an adult with cirrhosis, a child, an adult with HCC, an unknown age."""
    kind = i % 4
    data: dict[str, Any] = {"id": f"p{i}", "sex": "male"}
    if kind != 3:
        data["birth_date"] = "2015-01-01" if kind == 1 else "1970-01-01"
    codes = {0: "K74.60", 2: "C22.0"}.get(kind)
    if codes:
        data["conditions"] = [{"id": f"c{i}", "codes": [{"system": "icd10cm", "code": codes}],
                               "onset": "2020-01-01"}]
    return {**data, **extra}


@pytest.fixture
def protocols(tmp_path: Path) -> list[Protocol]:
    small = tmp_path / "small.elig"
    small.write_text(SMALL, encoding="utf-8")
    return [load_protocol("NCT01224327"), load_protocol(str(small))]


def ndjson(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def run(protocols: list[Protocol], source: Path, workers: int = 1, fmt: batch.Format = "csv"
        ) -> tuple[str, batch.Summary]:
    out = io.StringIO()
    summary = batch.run(protocols, source, out, as_of=AS_OF, fmt=fmt, workers=workers)
    return out.getvalue(), summary


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


CORRUPT = ['{not json', '{"id": "x", "birth_date": 19700101}', '[1, 2]',
           '{"id": "y", "conditions": [{"codes": []}]}']


def mixed_input(tmp_path: Path, n: int = 40) -> Path:
    lines = [json.dumps(profile(i)) for i in range(n)]
    for k, bad in enumerate(CORRUPT):
        lines.insert(5 + 7 * k, bad)
    lines.insert(3, "")  # a blank line is not a record
    return ndjson(tmp_path / "in.ndjson", lines)


def test_corrupt_lines_become_error_rows_and_counts_add_up(
        tmp_path: Path, protocols: list[Protocol]) -> None:
    text, summary = run(protocols, mixed_input(tmp_path))
    table = rows(text)
    records = 40 + len(CORRUPT)
    assert summary.records == records
    assert len(table) == records * 2  # one row per patient and protocol
    for _, counts, total in summary.by_protocol():
        assert total == records == sum(counts)
        assert counts[-1] == len(CORRUPT)  # the ERROR column
    errors = [r for r in table if r["verdict"] == "ERROR"]
    # positions are lines of the file, the blank line 4 included
    assert {r["position"] for r in errors} == {"line 7", "line 14", "line 21", "line 28"}
    by_position = {r["position"]: r["reason"] for r in errors}
    assert by_position["line 7"].startswith("(line): invalid JSON")
    assert "expected a date written as YYYY-MM-DD, not a number" in by_position["line 14"]
    assert "should be an object" in by_position["line 21"]
    assert "conditions[0].codes" in by_position["line 28"]
    assert {r["patient_id"] for r in errors if r["position"] == "line 14"} == {"x"}
    # record numbers count records, not lines: the blank line 4 is skipped
    assert [r["record"] for r in table[::2][:5]] == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("skip", [0, 1, 9, 26])
def test_runs_of_ndjson_lines_number_records_and_lines_as_read_one_by_one(
        tmp_path: Path, protocols: list[Protocol], monkeypatch: pytest.MonkeyPatch,
        workers: int, skip: int) -> None:
    # An NDJSON file is read (and sent to workers) in runs of lines: with runs of a few
    # lines, blank lines at their edges and a resumed run, every row is as if it were
    # read line by line.
    source = tmp_path / "in.ndjson"
    lines = [json.dumps(profile(i)) for i in range(24)] + CORRUPT
    for at, blank in ((0, ""), (5, "  "), (6, "\t"), (11, ""), (20, "\r")):
        lines.insert(at, blank)
    source.write_bytes("".join(f"{line}\n" for line in lines).encode() + b"\n  ")
    expected = [(str(number), f"line {at}") for number, at in enumerate(
        (at for at, line in enumerate(lines, 1) if line.strip()), 1) if number > skip]
    monkeypatch.setattr(batch, "CHUNK_BYTES", 300)
    assert len(list(batch.read_chunks(source))) > 5
    assert [(str(i.number), i.where) for i in batch.read_input(source, skip)] == expected
    out = io.StringIO()
    summary = batch.run(protocols, source, out, as_of=AS_OF, fmt="csv", workers=workers,
                        previous=batch.Previous(records=skip))
    table = rows(out.getvalue())
    assert [(r["record"], r["position"]) for r in table[::2]] == expected
    assert summary.records == 28  # the records resumed from included
    assert summary.errors == len(CORRUPT) - max(0, skip - 24)  # the last 4 are corrupt


def test_rows_carry_verdict_failed_unknown_and_the_first_failing_reason(
        tmp_path: Path, protocols: list[Protocol]) -> None:
    source = ndjson(tmp_path / "in.ndjson", [json.dumps(profile(i)) for i in range(4)])
    table = rows(run(protocols, source)[0])
    small = {r["patient_id"]: r for r in table if r["protocol_id"] == "SMALL-1"}
    assert small["p0"]["verdict"] == "ELIGIBLE"
    assert small["p1"]["verdict"] == "INELIGIBLE"
    assert small["p1"]["failed"] == "I1"
    assert small["p1"]["reason"] == "I1: Age 9 is not at least 18 years"
    assert small["p2"]["failed"] == "E1"
    assert small["p2"]["reason"].startswith("E1: Condition ICD-10-CM C22.0")
    assert small["p3"]["verdict"] == "NEEDS_REVIEW"
    assert small["p3"]["unknown"] == "I1"
    nct = {r["patient_id"]: r for r in table if r["protocol_id"] == "NCT01224327"}
    assert nct["p0"]["verdict"] == "NEEDS_REVIEW"
    assert "I3" in nct["p0"]["unknown"].split(";")


def test_triage_agrees_with_the_explained_screening(
        nct_screener: Screener, population: Callable[[int, int], list[dict[str, Any]]]) -> None:
    # A row's failed and unknown criteria and its reason come from the triage (truth
    # values, remembered by combination; the reason explained without evidence).
    reasons = set()
    for data in population(600, 5):
        patient = Patient.model_validate(data)
        failed, unknown, first = nct_screener.triage(patient, AS_OF)
        result = nct_screener.screen(patient, AS_OF)
        assert (failed, unknown) == (result.failing, result.unknown)
        assert first == ((failed[0], result.criterion(failed[0]).reason) if failed else None)
        reasons.add(first[0] if first else "")
    assert {"I1", "I2", "E1", ""} <= reasons


@pytest.mark.parametrize("text", ["E1: age 85 is over 70", "", " x", "x ", "a  b", "a\nb",
                                  "a\tb", "a\u00a0b", "a\u2028b", "a\x1cb", "a\x85b", "–é"])
def test_reasons_are_put_on_one_line(text: str) -> None:
    assert batch._one_line(text) == " ".join(text.split())
    assert not any(c.isspace() and c.isprintable() and c != " "
                   for c in map(chr, range(0x3000 + 1)))  # what _one_line relies on


def test_csv_rows_are_written_as_the_csv_writer_writes_them() -> None:
    rows = [("1", "line 1", "p1", "T", "INELIGIBLE", "E1", "I3;E2", "E1: age 85 is over 70"),
            ("2", "a,b.json", "p,2", "T", "ERROR", "", "", 'id: "x" (got 1)'),
            ("3", "line 3", "p\r3", "T", "ELIGIBLE", "", "", ""),
            ("4", "line 4", "p\n4", "T", "NEEDS_REVIEW", "", "I3", "x\x00y\u2028 \t"),
            ("5", "", "", "", "", "", "", "")]
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\n").writerows(rows * 2)
    assert batch.format_rows(rows * 2, "csv") == expected.getvalue()


def test_ndjson_output(tmp_path: Path, protocols: list[Protocol]) -> None:
    text, _ = run(protocols, mixed_input(tmp_path), fmt="ndjson")
    parsed = [json.loads(line) for line in text.splitlines()]
    assert set(parsed[0]) == set(batch.COLUMNS)
    assert Counter(p["verdict"] for p in parsed)["ERROR"] == 2 * len(CORRUPT)


def test_two_workers_write_exactly_what_one_writes(tmp_path: Path,
                                                  protocols: list[Protocol]) -> None:
    source = mixed_input(tmp_path, n=1300)  # more than two chunks
    one, s1 = run(protocols, source, workers=1)
    two, s2 = run(protocols, source, workers=2)
    assert one == two
    assert s1.counts == s2.counts


def test_directory_input_with_json_yaml_and_a_broken_file(tmp_path: Path,
                                                          protocols: list[Protocol]) -> None:
    folder = tmp_path / "patients"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(profile(0)), encoding="utf-8")
    (folder / "b.yaml").write_text("id: p-yaml\nbirth_date: 1960-02-30\n", encoding="utf-8")
    (folder / "c.yml").write_text("id: p-c\nbirth_date: 1960-02-03\nsex: female\n",
                                  encoding="utf-8")
    (folder / "notes.txt").write_text("not a record", encoding="utf-8")
    table = rows(run(protocols, folder)[0])
    assert [r["position"] for r in table[::2]] == ["a.json", "b.yaml", "c.yml"]
    broken = [r for r in table if r["position"] == "b.yaml"]
    assert all(r["verdict"] == "ERROR" for r in broken)
    assert "birth_date" in broken[0]["reason"]
    assert "1960-02-30" in broken[0]["reason"]


def test_fixture_documents_use_their_own_date_unless_one_is_given(
        tmp_path: Path, protocols: list[Protocol]) -> None:
    doc = {"fixture": {"protocol": "SMALL-1", "as_of": "2000-01-01", "verdict": "INELIGIBLE"},
           "patient": profile(0, birth_date="1990-01-01")}
    source = ndjson(tmp_path / "in.ndjson", [json.dumps(doc)])
    source = ndjson(tmp_path / "in.ndjson", [json.dumps(doc), json.dumps(profile(1))])
    out = io.StringIO()
    batch.run(protocols, source, out, as_of=None, fmt="csv", default_as_of=date(2040, 1, 1))
    small = [r for r in rows(out.getvalue()) if r["protocol_id"] == "SMALL-1"]
    assert small[0]["verdict"] == "INELIGIBLE"  # aged 9 on 2000-01-01, its own date
    assert small[0]["failed"] == "I1"
    assert small[1]["verdict"] == "ELIGIBLE"  # born 2015: 25 on the default date
    with pytest.raises(UsageError):
        batch.run(protocols, source, io.StringIO(), as_of=None, fmt="csv")


# ---- the flat CSV layout --------------------------------------------------------------------

HEADER = "id,birth_date,sex,pregnancy,conditions,medications,procedures,observations\n"


def test_flat_csv_rows_become_profiles() -> None:
    patient = patient_from_row({
        "id": "p1", "birth_date": "1970-04-02", "sex": "female",
        "pregnancy": "not_pregnant@2024-05-20",
        "conditions": "icd10cm:K74.60@2019-03-01|snomed:19943007@2018-01-01/2019-01-01",
        "medications": "atc:C10AA05@2020-01-01/", "procedures": "cpt:47135@2021-02-03",
        "observations": "loinc:1975-2=2.1 mg/dL@2024-05-01|loinc:5196-1=Positive@2024-05-02",
    }, "row 2")
    assert patient.conditions[0].codes[0].code == "K74.60"
    assert patient.conditions[1].abatement == date(2019, 1, 1)
    assert patient.medications[0].start == date(2020, 1, 1)
    assert patient.medications[0].end is None
    assert patient.procedures[0].date == date(2021, 2, 3)
    assert patient.observations[0].value == 2.1
    assert patient.observations[0].unit == "mg/dL"
    assert patient.observations[1].value == "Positive"
    assert patient.pregnancy is not None
    assert patient.pregnancy.status == "not_pregnant"


@pytest.mark.parametrize(("row", "path", "message"), [
    ({"id": "p1", "conditions": "K74.60"}, "conditions[0]", "is not system:code"),
    ({"id": "p1", "observations": "loinc:1975-2"}, "observations[0]", "has no `=value`"),
    ({"id": "p1", "procedures": "cpt:47135@2020-01-01/2020-02-01"}, "procedures[0]",
     "has one date"),
    ({"id": "p1", "colour": "blue"}, "colour", "unknown column"),
    ({"id": "p1", "birth_date": "1970-13-01"}, "birth_date", "month"),
    ({"id": "p1", "conditions": "icd10cm:K74.60@2019-02-30"}, "conditions[0].onset", "day"),
])
def test_flat_csv_problems_name_the_column(row: dict[str, str], path: str,
                                           message: str) -> None:
    with pytest.raises(PatientDataError) as caught:
        patient_from_row(row, "row 3")
    issue = caught.value.issues[0]
    assert issue.path == path
    assert message in issue.message
    assert caught.value.origin == "row 3"


def test_csv_input_with_a_ragged_row(tmp_path: Path, protocols: list[Protocol]) -> None:
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "p1,1970-01-01,male,,icd10cm:K74.60@2019-01-01,,,\n"
                      "p2,1970-01-01\n" + "p3,2015-01-01,female,,,,,\n", encoding="utf-8")
    table = rows(run(protocols, source)[0])
    small = [r for r in table if r["protocol_id"] == "SMALL-1"]
    assert [r["verdict"] for r in small] == ["ELIGIBLE", "ERROR", "INELIGIBLE"]
    assert small[1]["position"] == "row 3"
    assert "2 fields, the header has 8" in small[1]["reason"]


# ---- resuming -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_resume_after_an_interruption_duplicates_nothing(
        tmp_path: Path, protocols: list[Protocol], fmt: batch.Format) -> None:
    source = mixed_input(tmp_path, n=30)
    whole, whole_summary = run(protocols, source, fmt=fmt)
    lines = whole.splitlines(keepends=True)
    header = 1 if fmt == "csv" else 0
    # Stopped after 9 complete records, half-way through record 10's rows, mid-line.
    cut = header + 9 * 2 + 1
    output = tmp_path / f"out.{fmt}"
    output.write_text("".join(lines[:cut]) + lines[cut][:10], encoding="utf-8")
    previous = batch.resume_from(output, fmt, [p.trial_id for p in protocols])
    assert previous.records == 9
    with output.open("a", encoding="utf-8") as sink:
        summary = batch.run(protocols, source, sink, as_of=AS_OF, fmt=fmt,
                            previous=previous, write_header=False)
    assert output.read_text(encoding="utf-8") == whole
    assert summary.counts == whole_summary.counts
    assert summary.records == whole_summary.records
    assert summary.resumed == 9


def test_resume_refuses_another_protocol_set(tmp_path: Path, protocols: list[Protocol]) -> None:
    source = mixed_input(tmp_path, n=4)
    output = tmp_path / "out.csv"
    output.write_text(run(protocols, source)[0], encoding="utf-8")
    with pytest.raises(Exception, match="other protocols"):
        batch.resume_from(output, "csv", ["SMALL-1"])


# ---- the command ---------------------------------------------------------------------------------


def test_screen_command_writes_rows_and_a_summary(tmp_path: Path) -> None:
    source = mixed_input(tmp_path, n=12)
    output = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["screen", "NCT01224327", str(source), "--as-of",
                                      "2024-06-01", "-o", str(output), "--workers", "2"])
    assert result.exit_code == 4, result.output  # finished, with unreadable records
    assert "NCT01224327" in result.output
    assert f"{12 + len(CORRUPT)} records" in result.output
    assert len(rows(output.read_text(encoding="utf-8"))) == 12 + len(CORRUPT)


def test_screen_command_clean_input_exits_0_and_resume_continues(tmp_path: Path) -> None:
    source = ndjson(tmp_path / "in.ndjson", [json.dumps(profile(i)) for i in range(10)])
    output = tmp_path / "out.ndjson"
    args = ["screen", "NCT01224327", str(source), "--as-of", "2024-06-01", "-o", str(output)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    assert "10 kept from the interrupted run" in again.output
    assert len(output.read_text(encoding="utf-8").splitlines()) == 10


@pytest.mark.parametrize(("args", "message"), [
    (["screen", "patients.ndjson"], "at least one protocol"),
    (["screen", "NCT01224327", "missing.ndjson"], "does not exist"),
    (["screen", "NCT01224327", "NCT01224327", "x.ndjson"], "given twice"),
    (["screen", "NCT01224327", "in.ndjson", "--resume"], "--resume needs --output"),
    (["screen", "NCT01224327", "in.ndjson", "--format", "xml"], "is not known"),
    (["screen", "NCT0000000", "in.ndjson"], "NCT0000000"),
])
def test_screen_usage_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    ndjson(tmp_path / "in.ndjson", [json.dumps(profile(0))])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


# ---- FHIR inputs ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA = ROOT / "tests" / "fixtures" / "fhir" / "synthea" / "Darin_Skiles_trimmed.json"
BULK = ROOT.parent / "shared" / "data" / "fhir" / "synthea_bulk_ndjson_10_patients"


def test_fhir_bundles_one_per_line_and_in_a_directory(tmp_path: Path,
                                                      protocols: list[Protocol]) -> None:
    bundle = json.loads(SYNTHEA.read_text(encoding="utf-8"))
    source = ndjson(tmp_path / "in.ndjson", [json.dumps(bundle), json.dumps(profile(1)),
                                             json.dumps({"resourceType": "Bundle", "entry": [
                                                 {"resource": {"resourceType": "Condition"}}]})])
    table = rows(run(protocols, source)[0])
    small = [r for r in table if r["protocol_id"] == "SMALL-1"]
    assert small[0]["patient_id"] == bundle["entry"][0]["resource"]["id"]
    assert small[0]["verdict"] in ("ELIGIBLE", "INELIGIBLE")
    assert small[2]["verdict"] == "ERROR"
    assert "Condition" in small[2]["reason"]
    folder = tmp_path / "bundles"
    folder.mkdir()
    (folder / "synthea.json").write_text(SYNTHEA.read_text(encoding="utf-8"), encoding="utf-8")
    assert rows(run(protocols, folder)[0])[0]["patient_id"] == small[0]["patient_id"]


@pytest.mark.skipif(not BULK.is_dir(), reason="../shared/data is not beside the project")
def test_a_fhir_bulk_export_directory_is_screened_patient_by_patient(
        tmp_path: Path, protocols: list[Protocol]) -> None:
    one, summary = run(protocols, BULK, workers=1)
    two, _ = run(protocols, BULK, workers=2)
    assert one == two
    table = rows(one)
    patients = {r["patient_id"] for r in table if r["verdict"] != "ERROR"}
    assert summary.records == len({r["record"] for r in table})
    assert len(patients) >= 10
    assert all(r["position"].startswith("patient ") for r in table if r["verdict"] != "ERROR")


def test_an_ndjson_file_of_resources_is_read_as_a_bulk_export(
        tmp_path: Path, protocols: list[Protocol]) -> None:
    bundle = json.loads(SYNTHEA.read_text(encoding="utf-8"))
    resources = [entry["resource"] for entry in bundle["entry"]]
    source = ndjson(tmp_path / "resources.ndjson", [json.dumps(r) for r in resources])
    table = rows(run(protocols, source)[0])
    assert {r["patient_id"] for r in table} == {resources[0]["id"]}
    assert len(table) == 2  # one patient, two protocols
