"""Population screening: stream patient records through compiled protocols.

One row per patient × protocol (record number, position in the input, patient id,
protocol id, verdict, failed and unknown criterion ids, the first failing reason). Input
is read lazily and at most a few chunks are in flight, so memory does not grow with the
input. A record that cannot be read becomes an ERROR row per protocol naming its position
and the problem, and the run goes on: for each protocol, the verdict counts add up to
the number of records. Rows are written in input order, so an interrupted run resumes by
keeping the records whose rows are complete and screening the rest.

Inputs: a directory of JSON / YAML / FHIR files (one record each), a directory holding a
FHIR Bulk Data export (`.ndjson` / `.ndjson.gz` files, one resource per line: each patient
is a record), an NDJSON file (one profile, fixture document or FHIR Bundle per line; blank
lines are not records), or a CSV in the flat layout of :mod:`eligo.flat`.
"""

from __future__ import annotations

import csv
import gc
import gzip
import io
import json
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Literal, NamedTuple, TextIO, cast

from pydantic import ValidationError

from eligo.errors import EligoError, FieldIssue, PatientDataError, UsageError
from eligo.evaluate import Screener
from eligo.flat import patient_from_row
from eligo.patient import (
    Patient,
    issues_of,
    patient_from_data,
    patient_from_json,
    read_document,
)
from eligo.result import Verdict
from eligo.rules import Protocol

COLUMNS = ("record", "position", "patient_id", "protocol_id", "verdict", "failed", "unknown",
           "reason")
ERROR = "ERROR"
ELIGIBLE, INELIGIBLE = Verdict.ELIGIBLE.value, Verdict.INELIGIBLE.value
NEEDS_REVIEW = Verdict.NEEDS_REVIEW.value
VERDICTS = (Verdict.ELIGIBLE.value, Verdict.INELIGIBLE.value, Verdict.NEEDS_REVIEW.value, ERROR)
CHUNK = 2000  # records per unit of work sent to a worker
CHUNK_BYTES = 1 << 20  # of NDJSON lines per unit of work (a readlines() size hint)
IN_FLIGHT_PER_WORKER = 4  # chunks queued per worker: bounded memory, workers never idle

Format = Literal["csv", "ndjson"]
# What screening a chunk gives back: rows as text, verdict counts, records, input bytes.
ChunkResult = tuple[str, "Counter[tuple[str, str]]", int, int]
InputKind = Literal["json", "file", "csv", "decoded"]
PROFILE_SUFFIXES = (".json", ".yaml", ".yml")
BULK_SUFFIXES = (".ndjson", ".ndjson.gz")


class Item(NamedTuple):
    """One input record: its number (from 1), where it is, and its undecoded content (a
    tuple: chunks of them cross to worker processes as plain tuples, which pickle cheaply)."""

    number: int
    where: str
    kind: InputKind
    payload: bytes | str | dict[str, str] | Patient | tuple[str, tuple[FieldIssue, ...]]
    size: int = 0  # bytes of input it stands for (progress)


# ---- reading the input ------------------------------------------------------------------------


def count_hint(path: Path) -> tuple[int, str]:
    """The total the progress bar counts towards: bytes of a file, files of a directory."""
    if path.is_dir():
        if any(_is_bulk(p) for p in path.iterdir()):
            return 0, "patients"
        return sum(1 for p in path.iterdir() if p.suffix.lower() in PROFILE_SUFFIXES), "files"
    return path.stat().st_size, "bytes"


def read_chunks(path: Path, skip: int = 0) -> Iterator[Lines | list[Item]]:
    """:func:`read_input`'s records, a chunk at a time: an NDJSON file's as runs of lines
    (about a megabyte each), the others as lists of items."""
    if path.is_file() and path.suffix.lower() != ".csv" and not _resources_per_line(path):
        yield from _ndjson_runs(path, skip)
    else:
        yield from _chunked(read_input(path, skip), CHUNK)


def read_input(path: Path, skip: int = 0) -> Iterator[Item]:
    """The records of ``path`` in order, lazily; the first ``skip`` records are passed over."""
    if not path.exists():
        raise UsageError(f"input `{path}` does not exist",
                         "give a directory of profiles, an .ndjson file or a .csv file")
    if path.is_dir():
        yield from _directory(path, skip)
    elif path.suffix.lower() == ".csv":
        yield from _csv(path, skip)
    elif _resources_per_line(path):
        yield from _bulk_export([path], skip)
    else:
        yield from _ndjson(path, skip)


def _first_line(path: Path) -> bytes:
    """The first non-blank line of a (possibly gzipped) file."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as stream:
        for line in stream:
            if line.strip():
                return bytes(line)
    return b""


def _resources_per_line(path: Path) -> bool:
    """An NDJSON file of FHIR resources other than Bundles (a one-file Bulk Data export):
    a patient's resources are on several lines, so lines are not records."""
    head = _first_line(path)[:4096]
    return b'"resourceType"' in head and b'"Bundle"' not in head and b'"fixture"' not in head


def _is_bulk(path: Path) -> bool:
    """An NDJSON file of FHIR resources (a Bulk Data export may hold a log beside them)."""
    return path.name.lower().endswith(BULK_SUFFIXES) and b'"resourceType"' in _first_line(path)


def _directory(path: Path, skip: int) -> Iterator[Item]:
    bulk = sorted(p for p in path.iterdir() if _is_bulk(p))
    if bulk:
        yield from _bulk_export(bulk, skip)
        return
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in PROFILE_SUFFIXES)
    for number, file in enumerate(files, 1):
        if number > skip:
            yield Item(number, file.name, "file", str(file), 1)


def _bulk_export(files: list[Path], skip: int) -> Iterator[Item]:
    """A FHIR Bulk Data export (one resource per line, a file per type): a patient's
    resources are spread over the files, so the export is read whole before the first
    patient is screened (memory grows with the export, unlike the other inputs)."""
    from eligo.fhir import patients_from_ndjson_files

    for number, found in enumerate(patients_from_ndjson_files(files), 1):
        if number <= skip:
            continue
        if isinstance(found, Patient):
            yield Item(number, f"patient {found.id}", "decoded", found, 1)
        else:  # sent to workers as plain data: the error is raised where it is screened
            yield Item(number, found.origin, "decoded", (found.origin, found.issues), 1)


class Lines(NamedTuple):
    """A run of an NDJSON file's lines as read, blank ones included: where they are
    screened, they are made items (:func:`line_items`). A worker process is sent these,
    not items: the main process, which shares the CPUs with the workers, then only reads."""

    first_line: int  # the line number of the first
    records_before: int  # records on the lines before it
    lines: list[bytes]
    skip: int = 0  # records up to this number are passed over (resuming)


def _ndjson(path: Path, skip: int) -> Iterator[Item]:
    for run in _ndjson_runs(path, skip):
        yield from line_items(run)


def _ndjson_runs(path: Path, skip: int) -> Iterator[Lines]:
    line_number = 1
    records = 0
    with path.open("rb") as stream:
        while lines := stream.readlines(CHUNK_BYTES):
            count = len(lines) - sum(1 for line in lines if _blank(line))
            if records + count > skip:
                yield Lines(line_number, records, lines, skip)
            line_number += len(lines)
            records += count


def line_items(run: Lines) -> Iterator[Item]:
    """The records of a run of NDJSON lines: one per line that is not blank."""
    number = run.records_before
    for line_number, line in enumerate(run.lines, run.first_line):
        if _blank(line):
            continue
        number += 1
        if number > run.skip:
            yield Item(number, f"line {line_number}", "json", line, len(line))


def _blank(line: bytes) -> bool:
    return line.isspace() or not line  # without copying the line to strip it


def _csv(path: Path, skip: int) -> Iterator[Item]:
    with path.open(newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip() for h in header]
        for number, row in enumerate(reader, 1):
            if number <= skip:
                continue
            record = dict(zip(names, row, strict=False))
            if len(row) != len(names):
                record["__width__"] = f"{len(row)} fields, the header has {len(names)}"
            size = sum(len(v) for v in row) + len(row)  # about its bytes, for progress
            yield Item(number, f"row {reader.line_num}", "csv", record, size)


# ---- screening one chunk ------------------------------------------------------------------------


def _one_line(text: str) -> str:
    # Most reasons are one line already (no whitespace but single inner spaces: every
    # other whitespace character is unprintable): those are returned without splitting.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def _problem(err: EligoError) -> str:
    if isinstance(err, PatientDataError):
        return "; ".join(f"{i.path}: {i.message}" + (f" (got {i.value})" if i.value else "")
                         for i in err.issues)
    return _one_line(err.render())


def _stated_id(item: Item) -> str:
    """The id an unreadable JSON record states, if it can be read at all (for its row)."""
    if isinstance(item.payload, dict):
        return item.payload.get("id", "").strip()
    if not isinstance(item.payload, bytes):
        return ""
    try:
        data = json.loads(item.payload)
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError):
        return ""
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) else ""


def decode(item: Item) -> tuple[Patient, date | None]:
    """The patient of one input record (and a fixture document's own as-of date)."""
    if item.kind == "file":
        assert isinstance(item.payload, str)
        patient, fixture = patient_from_data(read_document(Path(item.payload)), item.where)
        return patient, fixture.as_of if fixture else None
    if item.kind == "csv":
        assert isinstance(item.payload, dict)
        return patient_from_row(item.payload, item.where), None
    if item.kind == "decoded":
        if isinstance(item.payload, tuple):
            origin, issues = item.payload
            raise PatientDataError(origin, issues)
        assert isinstance(item.payload, Patient)
        return item.payload, None
    raw = item.payload
    assert isinstance(raw, bytes)
    # Plain profiles, the common case, are validated straight from the JSON text.
    if b'"resourceType"' not in raw and b'"fixture"' not in raw:
        try:
            return patient_from_json(raw), None
        except ValidationError as err:
            broken = [e for e in err.errors(include_url=False) if e["type"] == "json_invalid"]
            if broken:
                message = broken[0]["msg"].removeprefix("Invalid JSON: ")
                raise PatientDataError(item.where, [FieldIssue("(line)", f"invalid JSON: "
                                                               f"{message}")]) from None
            raise PatientDataError(item.where, issues_of(err)) from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PatientDataError(item.where, [FieldIssue("(line)", f"invalid JSON: {exc}")]
                               ) from None
    patient, fixture = patient_from_data(data, item.where)
    return patient, fixture.as_of if fixture else None


@dataclass
class _Screeners:
    """What each worker holds: the compiled protocols, the as-of date, the output format."""

    protocols: Sequence[Protocol]
    as_of: date | None
    fmt: Format
    # The date for records that state none when no as-of date is given (the CLI: today).
    default_as_of: date = date.min
    compiled: list[tuple[str, Screener]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for p in self.protocols:
            self.compiled.append((p.trial_id, Screener(p)))

    def rows(self, item: Item) -> list[tuple[str, ...]]:
        try:
            patient, own_date = decode(item)
        except EligoError as err:
            problem, known_id = _problem(err), _stated_id(item)
            return [(str(item.number), item.where, known_id, pid, ERROR, "", "", problem)
                    for pid, _ in self.compiled]
        as_of = self.as_of or own_date or self.default_as_of
        out: list[tuple[str, ...]] = []
        for pid, screener in self.compiled:
            failed, unknown, first_failure = screener.triage(patient, as_of)
            verdict = INELIGIBLE if failed else NEEDS_REVIEW if unknown else ELIGIBLE
            reason = ""
            if first_failure is not None:
                reason = f"{first_failure[0]}: {_one_line(first_failure[1])}"
            out.append((str(item.number), item.where, patient.id, pid, verdict, ";".join(failed),
                        ";".join(unknown), reason))
        return out

    def chunk(self, items: Sequence[Item]) -> ChunkResult:
        """A chunk's formatted rows, its (protocol, verdict) counts, records and input size."""
        rows = [row for item in items for row in self.rows(item)]
        return (format_rows(rows, self.fmt), Counter((row[3], row[4]) for row in rows),
                len(items), sum(item.size for item in items))


def format_rows(rows: Iterable[tuple[str, ...]], fmt: Format) -> str:
    if fmt == "ndjson":
        return "".join(json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False)
                       + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    lines = []
    commas = len(COLUMNS) - 1
    for row in rows:
        # Most rows need no quoting: joined, they are exactly what the csv writer writes,
        # at half its cost. A row with a field it would quote is written by it.
        line = ",".join(row)
        if line.count(",") == commas and '"' not in line and "\n" not in line \
                and "\r" not in line:
            lines.append(line + "\n")
        else:
            writer.writerow(row)
            lines.append(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
    return "".join(lines)


# The worker processes' screeners, set once per process by the pool initializer.
_WORKER: _Screeners | None = None


def _init_worker(protocols: Sequence[Protocol], as_of: date | None, fmt: Format,
                 default_as_of: date) -> None:
    global _WORKER  # per-process state of a worker pool, set once by its initializer
    _WORKER = _Screeners(protocols, as_of, fmt, default_as_of)


# Items cross to the workers as plain tuples: a named tuple is pickled and unpickled
# through Python calls, one per item, and those were most of the cost of sending a chunk.
_as_item = cast(Callable[[tuple[object, ...]], Item], partial(tuple.__new__, Item))


def _work(chunk: Lines | list[tuple[object, ...]]) -> ChunkResult:
    assert _WORKER is not None
    if isinstance(chunk, Lines):
        return _WORKER.chunk(list(line_items(chunk)))
    return _WORKER.chunk(list(map(_as_item, chunk)))


# ---- resuming ----------------------------------------------------------------------------------


@dataclass
class Previous:
    """What an interrupted run left: complete records kept, their verdict counts."""

    records: int = 0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)


def resume_from(output: Path, fmt: Format, protocol_ids: Sequence[str]) -> Previous:
    """Keep the rows of every record complete for all protocols (rows are in input order,
    so they form a prefix); drop a trailing partial record or half-written line."""
    previous = Previous()
    if not output.exists() or output.stat().st_size == 0:
        return previous
    kept: list[str] = []
    pending: list[tuple[str, list[str], tuple[str, str]]] = []
    text = output.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # written half-way when the run stopped
    start = 0
    if fmt == "csv":
        if not lines or next(csv.reader([lines[0]])) != list(COLUMNS):
            raise UsageError(f"{output} is not an eligo screen output in CSV",
                             "resume into the file the interrupted run was writing")
        kept.append(lines[0])
        start = 1
    expected = list(protocol_ids)
    for line in lines[start:]:
        if fmt == "csv":
            row = next(csv.reader([line]))
        else:
            try:
                data = json.loads(line)
                row = [str(data[c]) for c in COLUMNS]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise UsageError(f"{output} is not an eligo screen output in NDJSON",
                                 "resume into the file the interrupted run was writing"
                                 ) from None
        if len(row) != len(COLUMNS):
            break
        record = row[0]
        if pending and pending[0][0] != record:
            break  # the previous record was left incomplete
        pending.append((record, [line], (row[3], row[4])))
        if [p[2][0] for p in pending] == expected:
            kept.extend(p[1][0] for p in pending)
            previous.counts.update(p[2] for p in pending)
            previous.records += 1
            pending = []
        elif len(pending) >= len(expected):
            raise UsageError(f"{output} was written for other protocols",
                             f"resume with the same protocols: {', '.join(expected)}")
    output.write_text("".join(kept), encoding="utf-8")
    return previous


# ---- the run -----------------------------------------------------------------------------------


@dataclass
class Summary:
    protocol_ids: tuple[str, ...]
    records: int = 0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    resumed: int = 0
    seconds: float = 0.0

    def by_protocol(self) -> list[tuple[str, list[int], int]]:
        return [(pid, [self.counts[(pid, v)] for v in VERDICTS],
                 sum(self.counts[(pid, v)] for v in VERDICTS)) for pid in self.protocol_ids]

    @property
    def errors(self) -> int:
        return sum(self.counts[(pid, ERROR)] for pid in self.protocol_ids[:1])


Progress = Callable[[int], None]


def run(protocols: Sequence[Protocol], source: Path, out: TextIO, *, as_of: date | None,
        fmt: Format, workers: int = 1, previous: Previous | None = None,
        write_header: bool = True, progress: Progress | None = None,
        default_as_of: date | None = None) -> Summary:
    """Screen every record of ``source`` against ``protocols``, writing rows to ``out``.

    Each record is screened at ``as_of``; when that is None, at a fixture document's own
    date, else at ``default_as_of`` (required then).
    """
    if as_of is None and default_as_of is None:
        raise UsageError("no as-of date", "give --as-of YYYY-MM-DD")
    fallback = default_as_of or date.min
    started = time.perf_counter()
    previous = previous or Previous()
    summary = Summary(tuple(p.trial_id for p in protocols), previous.records,
                      Counter(previous.counts), previous.records)
    if write_header and fmt == "csv":
        out.write(",".join(COLUMNS) + "\n")
    chunks = read_chunks(source, skip=previous.records)

    def take(result: ChunkResult) -> None:
        text, verdicts, records, size = result
        out.write(text)
        summary.counts.update(verdicts)
        summary.records += records
        if progress is not None:
            progress(size)

    if workers <= 1:
        local = _Screeners(protocols, as_of, fmt, fallback)
        # The code tables and compiled protocols live as long as the run: keep the
        # collector's full passes from walking them over and over.
        gc.freeze()
        for chunk in chunks:
            take(local.chunk(list(line_items(chunk)) if isinstance(chunk, Lines) else chunk))
    else:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        initializer: Callable[..., None] | None = _init_worker
        if method == "fork":
            # Forked workers share the parent's heap (code tables, compiled protocols)
            # until it is written to: compile once here, and move every object out of the
            # collector's reach, since scanning an object writes to it.
            _init_worker(protocols, as_of, fmt, fallback)
            gc.freeze()
            initializer = None
        slots = threading.BoundedSemaphore(workers * IN_FLIGHT_PER_WORKER)

        def bounded() -> Iterator[Lines | list[tuple[object, ...]]]:
            # Pool.imap reads its input as fast as it can; the semaphore keeps only a few
            # chunks in flight so memory stays flat whatever the input size.
            for chunk in chunks:
                slots.acquire()
                yield chunk if isinstance(chunk, Lines) else [tuple(item) for item in chunk]

        with context.Pool(workers, initializer, (tuple(protocols), as_of, fmt, fallback)) as pool:
            for result in pool.imap(_work, bounded()):
                take(result)
                slots.release()
    out.flush()
    summary.seconds = time.perf_counter() - started
    return summary


def _chunked(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def output_format(fmt: str | None, output: Path | None) -> Format:
    chosen = fmt or ("ndjson" if output is not None and output.suffix.lower() in (
        ".ndjson", ".jsonl") else "csv")
    if chosen not in ("csv", "ndjson"):
        raise UsageError(f"--format `{chosen}` is not known", "use csv or ndjson")
    return "ndjson" if chosen == "ndjson" else "csv"


def describe(summary: Summary) -> list[tuple[str, ...]]:
    """The summary table's rows: protocol, one count per verdict, total."""
    return [(pid, *(f"{n:,}" for n in counts), f"{total:,}")
            for pid, counts, total in summary.by_protocol()]

