"""The flat CSV layout for batch screening: one patient per row.

Columns (a header row names them; order free; only ``id`` is required):

=================== =======================================================================
``id``              patient id
``birth_date``      YYYY-MM-DD
``sex``             female, male, other, unknown
``pregnancy``       ``pregnant`` / ``not_pregnant`` / ``unknown``, optionally ``@YYYY-MM-DD``
``conditions``      ``system:code[@onset[/abatement]]`` items separated by ``|``
``medications``     ``system:code[@start[/end]]`` items separated by ``|``
``procedures``      ``system:code[@date]`` items separated by ``|``
``observations``    ``system:code=value[ unit][@date]`` items separated by ``|``
=================== =======================================================================

Example row: ``p1,1970-04-02,female,not_pregnant@2024-05-20,icd10cm:K74.60@2019-03-01,
atc:C10AA05@2020-01-01,,loinc:1975-2=2.1 mg/dL@2024-05-01``. An open end is written
``@2019-03-01/``; an undated record has no ``@``. Problems name the row, the column and
the item.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from eligo.errors import FieldIssue, PatientDataError
from eligo.patient import Patient, issues_of

COLUMNS = ("id", "birth_date", "sex", "pregnancy", "conditions", "medications", "procedures",
           "observations")
_DATES = {"conditions": ("onset", "abatement"), "medications": ("start", "end"),
          "procedures": ("date", None), "observations": ("date", None)}


def _coding(text: str) -> dict[str, str]:
    system, sep, code = text.partition(":")
    if not sep or not system.strip() or not code.strip():
        raise ValueError(f"`{text}` is not system:code")
    return {"system": system.strip(), "code": code.strip()}


def _item(column: str, text: str) -> dict[str, Any]:
    body, _, when = text.partition("@")
    first, last = _DATES[column]
    record: dict[str, Any] = {}
    if column == "observations":
        coded, sep, value = body.partition("=")
        if not sep:
            raise ValueError(f"`{text}` has no `=value`")
        record["codes"] = [_coding(coded)]
        number, _, unit = value.strip().partition(" ")
        try:
            record["value"] = float(number)
            if unit.strip():
                record["unit"] = unit.strip()
        except ValueError:
            record["value"] = value.strip()
    else:
        record["codes"] = [_coding(body)]
    if when:
        start, slash, end = when.partition("/")
        if slash and last is None:
            raise ValueError(f"`{text}`: a {column[:-1]} has one date")
        if start.strip():
            record[first] = start.strip()
        if last is not None and end.strip():
            record[last] = end.strip()
    return record


def patient_from_row(row: dict[str, str], where: str) -> Patient:
    """Validate one flat CSV row as a patient; problems name the column and item."""
    issues: list[FieldIssue] = []
    if "__width__" in row:
        issues.append(FieldIssue("(row)", row["__width__"]))
    unknown = [k for k in row if k not in COLUMNS and k != "__width__"]
    for name in unknown:
        issues.append(FieldIssue(name, "unknown column; expected " + ", ".join(COLUMNS)))
    data: dict[str, Any] = {"id": row.get("id", "")}
    for name in ("birth_date", "sex"):
        if row.get(name, "").strip():
            data[name] = row[name].strip()
    pregnancy = row.get("pregnancy", "").strip()
    if pregnancy:
        status, _, day = pregnancy.partition("@")
        data["pregnancy"] = {"status": status.strip(), **({"date": day.strip()} if day else {})}
    for column in ("conditions", "medications", "procedures", "observations"):
        items = [t for t in row.get(column, "").split("|") if t.strip()]
        records = []
        for i, text in enumerate(items):
            try:
                records.append(_item(column, text.strip()))
            except ValueError as exc:
                issues.append(FieldIssue(f"{column}[{i}]", str(exc)))
        data[column] = records
    if issues:
        raise PatientDataError(where, issues)
    try:
        return Patient.model_validate(data)
    except ValidationError as err:
        raise PatientDataError(where, issues_of(err)) from None
