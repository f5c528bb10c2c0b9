"""The ``eligo`` command line (Typer). Exit codes: 0 eligible, 1 ineligible,
3 needs review, 2 usage / compile / input error. Errors never print a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from eligo import derived, valueset_library
from eligo import observations as obs
from eligo._version import __version__
from eligo.errors import EligoError, ProtocolError, UsageError
from eligo.evaluate import Screener
from eligo.library import load_protocol
from eligo.patient import FixtureExpectation, Patient, load_patient
from eligo.printer import protocol_text
from eligo.render import checklist
from eligo.result import ScreeningResult, Verdict
from eligo.rules import to_json
from eligo.terminology import SYSTEM_LABELS

EXIT_CODES = {Verdict.ELIGIBLE: 0, Verdict.INELIGIBLE: 1, Verdict.NEEDS_REVIEW: 3}
EXIT_ERROR = 2

app = typer.Typer(
    name="eligo",
    help="Clinical-trial eligibility screening: compile protocols, check patients, explain why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _fail(err: EligoError) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(err.render(), markup=False)
    return typer.Exit(EXIT_ERROR)


def _guard(action: Callable[[], T]) -> T:
    try:
        return action()
    except EligoError as err:
        raise _fail(err) from None


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(UsageError(f"--as-of `{text}` is not a date",
                               "write it as YYYY-MM-DD, e.g. 2026-01-31")) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"eligo {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """eligo: explained clinical-trial eligibility screening."""


def _screen_one(protocol_ref: str, patient_path: Path, as_of: date | None
                ) -> tuple[ScreeningResult, FixtureExpectation | None]:
    protocol = load_protocol(protocol_ref)
    patient, fixture = load_patient(patient_path)
    # A fixture document states the date its expectations hold on; an explicit --as-of wins.
    when = as_of or (fixture.as_of if fixture else None) or date.today()
    return Screener(protocol).screen(patient, when), fixture


@app.command()
def check(
    protocol: Annotated[str, typer.Argument(help="A .elig file or a bundled id (NCT01224327).")],
    patient: Annotated[Path, typer.Argument(help="Patient profile, JSON or YAML.")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Screening date YYYY-MM-DD (default: the fixture's date, else today).")
    ] = None,
    output: Annotated[str, typer.Option(
        "--format", help="text (a checklist) or json (the ScreeningResult).")] = "text",
) -> None:
    """Screen one patient against one protocol and explain every criterion."""
    if output not in ("text", "json"):
        raise _fail(UsageError(f"--format `{output}` is not known", "use text or json"))
    when = _parse_date(as_of)
    result, _ = _guard(lambda: _screen_one(protocol, patient, when))
    if output == "json":
        typer.echo(result.model_dump_json(indent=2))
    else:
        _out().print(checklist(result))
    raise typer.Exit(EXIT_CODES[result.verdict])


@app.command()
def lint(
    files: Annotated[list[str], typer.Argument(help="Protocol files or bundled ids.")],
) -> None:
    """Compile protocols and report every problem; exit 2 if any has errors."""
    console = _out()
    failed = False
    for ref in files:
        try:
            protocol = load_protocol(ref)
        except ProtocolError as err:
            failed = True
            Console(stderr=True, highlight=False, soft_wrap=True).print(err.render(), markup=False)
            continue
        except EligoError as err:
            failed = True
            Console(stderr=True, highlight=False, soft_wrap=True).print(err.render(), markup=False)
            continue
        console.print(f"ok: {ref}: {protocol.trial_id}, {len(protocol.inclusion)} inclusion and "
                      f"{len(protocol.exclusion)} exclusion criteria", markup=False)
    raise typer.Exit(EXIT_ERROR if failed else 0)


@app.command("compile")
def compile_(
    file: Annotated[str, typer.Argument(help="A .elig file or a bundled id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the rule objects as JSON.")
                       ] = False,
) -> None:
    """Compile a protocol and print its rule objects (JSON) or canonical source."""
    protocol = _guard(lambda: load_protocol(file))
    if as_json:
        typer.echo(json.dumps(to_json(protocol), indent=2, ensure_ascii=False))
    else:
        typer.echo(protocol_text(protocol), nl=False)


@app.command()
def schema(
    which: Annotated[str, typer.Argument(help="patient or result")],
) -> None:
    """Print the JSON Schema of the patient profile or of the screening result."""
    models: dict[str, type[Patient] | type[ScreeningResult]] = {
        "patient": Patient, "result": ScreeningResult}
    if which not in models:
        raise _fail(UsageError(f"no schema named `{which}`", "use `patient` or `result`"))
    typer.echo(json.dumps(models[which].model_json_schema(), indent=2))


valuesets_app = typer.Typer(
    help="The bundled value-set library: list it, or show one value set's codes.",
    no_args_is_help=False,
)
app.add_typer(valuesets_app, name="valuesets")


@valuesets_app.callback(invoke_without_command=True)
def valuesets(ctx: typer.Context) -> None:
    """List the library's value sets, one per line: name, kind, title."""
    if ctx.invoked_subcommand is not None:
        return
    entries = valueset_library.library_valuesets().values()
    width = max((len(e.name) for e in entries), default=0)
    for entry in entries:
        typer.echo(f"{entry.name:<{width}}  {entry.kind:<10}  {entry.title}")


@valuesets_app.command("show")
def valueset_show(name: Annotated[str, typer.Argument(help="A library value set name.")]) -> None:
    """Show a library value set: description, codes per system, source."""
    entry = valueset_library.lookup(name)
    if entry is None:
        close = valueset_library.suggest(name)
        raise _fail(UsageError(f"no value set `{name}` in the library",
                               f"did you mean `{close}`?" if close
                               else "`eligo valuesets` lists them"))
    out = [f"{entry.name} — {entry.title} ({entry.kind})", "", entry.description, ""]
    for system, refs in groupby(entry.codes, key=lambda c: c.system):
        written = [c.written for c in refs]
        out.append(f"{SYSTEM_LABELS.get(system, system)}: {', '.join(written)}")
    out.extend(["", f"source: {entry.source}"])
    typer.echo("\n".join(out))


@app.command()
def observations() -> None:
    """List the observation library and derived scores: name, kind, unit, title."""
    rows: list[tuple[str, str, str, str]] = [
        (e.name, e.kind, e.unit or "", e.title) for e in obs.entries()]
    rows += [(d.name, "derived", d.unit or "", d.spec.title) for d in derived.DERIVED.values()
             if obs.lookup(d.name) is None]
    width = max(len(r[0]) for r in rows)
    for name, kind, unit, title in rows:
        typer.echo(f"{name:<{width}}  {kind:<11}  {unit:<16}  {title}")


@app.command("test")
def test_fixtures(
    protocol: Annotated[str, typer.Argument(help="A .elig file or a bundled id.")],
    fixtures: Annotated[list[Path], typer.Argument(
        help="Fixture files or directories of them (JSON/YAML with a `fixture` block).")],
) -> None:
    """Screen fixture patients and compare with the verdicts they expect; exit 1 on mismatch."""
    compiled = _guard(lambda: load_protocol(protocol))
    screener = Screener(compiled)
    paths: list[Path] = []
    for f in fixtures:
        paths.extend(sorted(p for p in f.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
                     if f.is_dir() else [f])
    table = Table(title=f"{compiled.trial_id} fixtures")
    for column in ("fixture", "as of", "verdict", "expected", "failing", "unknown", ""):
        table.add_column(column)
    mismatches = 0
    for path in paths:
        patient, fixture = _guard(lambda p=path: load_patient(p))  # type: ignore[misc]
        if fixture is None:
            raise _fail(UsageError(f"{path} has no `fixture` block",
                                   "add fixture: {protocol, as_of, verdict, failing, unknown}"))
        if fixture.protocol != compiled.trial_id:
            raise _fail(UsageError(
                f"{path} is a fixture for {fixture.protocol}, not {compiled.trial_id}",
                "test each protocol against its own fixtures"))
        result = screener.screen(patient, fixture.as_of)
        ok = (result.verdict.value == fixture.verdict
              and set(result.failing) == set(fixture.failing)
              and set(result.unknown) == set(fixture.unknown))
        mismatches += not ok
        table.add_row(path.stem, str(fixture.as_of), result.verdict.value, fixture.verdict,
                      ",".join(result.failing), ",".join(result.unknown),
                      "ok" if ok else "MISMATCH")
    # A fixed width when piped: the table must not squeeze file names into columns of 8.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
    console.print(table)
    console.print(f"{len(paths) - mismatches} of {len(paths)} fixtures as expected")
    raise typer.Exit(1 if mismatches else 0)


EXIT_UNREADABLE = 4


@app.command("import-ctgov")
def import_ctgov(
    record: Annotated[Path, typer.Argument(
        help="A ClinicalTrials.gov study record: API v2 JSON, or the registry page as text.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the draft protocol here (default: standard output).")
    ] = None,
    nct: Annotated[str | None, typer.Option(
        "--nct", help="Which study, when the file holds several.")] = None,
) -> None:
    """Draft a protocol from a registry record: age and sex from the structured fields, one
    criterion per item with its text verbatim, library concepts coded where the text
    clearly names them, `manual` otherwise. The draft always compiles; review it."""
    from eligo import ctgov

    text, draft = _guard(lambda: ctgov.import_ctgov(record, output, nct=nct))
    if output is None:
        typer.echo(text, nl=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for warning in draft.warnings:
        err.print(f"warning: {warning}", markup=False)
    err.print(ctgov.summary_line(draft), markup=False)


@app.command()
def screen(
    inputs: Annotated[list[str], typer.Argument(
        help="One or more protocols (.elig files or bundled ids), then the input: a directory "
             "of JSON/YAML/FHIR files, an .ndjson file or a .csv file.",
        metavar="PROTOCOL... INPUT")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Screening date YYYY-MM-DD (default: a fixture's own date, else today).")
    ] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write rows to this file (default: standard output).")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv or ndjson (default: from the output's suffix, else csv).")] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1,
                                         help="Worker processes.")] = 1,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted run into the same --output file.")] = False,
    progress: Annotated[bool, typer.Option(
        "--progress/--no-progress", help="Show a progress bar (only on a terminal).")] = True,
) -> None:
    """Screen many patients against one or more protocols: one row per patient and protocol.

    Exit codes: 0 every record screened; 4 finished, but some records could not be read
    (their ERROR rows say why); 2 usage, compile or input error.
    """
    from eligo import batch

    if len(inputs) < 2:
        raise _fail(UsageError("give at least one protocol and the input",
                               "eligo screen NCT01224327 patients.ndjson"))
    *refs, source_text = inputs
    source = Path(source_text)
    when = _parse_date(as_of)
    protocols = [_guard(lambda ref=ref: load_protocol(ref)) for ref in refs]  # type: ignore[misc]
    ids = [p.trial_id for p in protocols]
    if len(set(ids)) != len(ids):
        raise _fail(UsageError("a protocol is given twice", "name each protocol once"))
    chosen = _guard(lambda: batch.output_format(fmt, output))
    if resume and output is None:
        raise _fail(UsageError("--resume needs --output", "resume into the file the "
                               "interrupted run was writing"))
    if not source.exists():
        raise _fail(UsageError(f"input `{source}` does not exist",
                               "give a directory of profiles, an .ndjson file or a .csv file"))
    previous = _guard(lambda: batch.resume_from(output, chosen, ids)) if resume and output \
        else batch.Previous()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    show = progress and err.is_terminal
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(), TaskProgressColumn(),
                   TimeRemainingColumn(), console=err, disable=not show)
    total, unit = batch.count_hint(source)
    sink = (output.open("a" if resume else "w", encoding="utf-8", newline="")
            if output is not None else sys.stdout)
    try:
        with bar:
            task = bar.add_task(f"screening ({unit})", total=total)
            summary = _guard(lambda: batch.run(
                protocols, source, sink, as_of=when, fmt=chosen, workers=workers,
                previous=previous, write_header=not (resume and previous.records),
                progress=lambda n: bar.advance(task, n), default_as_of=date.today()))
    finally:
        if output is not None:
            sink.close()
    table = Table(title="eligo screen")
    for column in ("protocol", *batch.VERDICTS, "records"):
        table.add_column(column, justify="left" if column == "protocol" else "right")
    for row in batch.describe(summary):
        table.add_row(*row)
    err.print(table)
    rate = (summary.records - summary.resumed) / summary.seconds if summary.seconds else 0.0
    resumed = f", {summary.resumed:,} kept from the interrupted run" if summary.resumed else ""
    err.print(f"{summary.records:,} records{resumed}; {summary.seconds:.1f} s, "
              f"{rate:,.0f} records/s", markup=False)
    raise typer.Exit(EXIT_UNREADABLE if summary.errors else 0)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except EligoError as err:  # pragma: no cover - every command guards its own errors
        print(err.render(), file=sys.stderr)
        sys.exit(EXIT_ERROR)

