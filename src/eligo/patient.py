"""The patient profile: what eligo knows about one person, validated at the boundary.

Codes are normalised on load (system URIs to short names, ICD-10-CM dots and case),
so evaluation compares plain strings. Invalid input raises :class:`PatientDataError`
naming the field path and the offending value.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eligo.errors import FieldIssue, PatientDataError
from eligo.terminology import normalize_code, system_name

Sex = Literal["female", "male", "other", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Coding(_Model):
    """One code from a code system, as in a FHIR Coding."""

    system: str = Field(description="Short name (icd10cm, snomed, loinc, rxnorm, atc, cpt, "
                        "hcpcs) or the FHIR system URI; other systems are kept but never match.")
    code: str = Field(min_length=1)
    display: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("system"), str):
            system = system_name(data["system"]) or data["system"].strip()
            data = {**data, "system": system}
            if isinstance(data.get("code"), str):
                data["code"] = normalize_code(system, data["code"])
        return data


class Condition(_Model):
    """A diagnosis or problem. Active from onset until abatement (or still active)."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    onset: dt.date | None = None
    abatement: dt.date | None = None
    clinical_status: Literal[
        "active", "recurrence", "relapse", "inactive", "remission", "resolved"
    ] | None = Field(default=None, description="FHIR Condition.clinicalStatus")
    verification_status: Literal[
        "unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"
    ] | None = Field(default=None, description="FHIR Condition.verificationStatus; refuted and "
                     "entered-in-error records never count")


class Medication(_Model):
    """A medication the patient takes or took, over an exposure period."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    start: dt.date | None = None
    end: dt.date | None = None
    status: Literal[
        "active", "completed", "stopped", "on-hold", "intended", "not-taken", "unknown",
        "entered-in-error",
    ] | None = Field(default=None, description="FHIR MedicationStatement.status")


class Procedure(_Model):
    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    date: dt.date | None = None
    status: Literal[
        "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
        "entered-in-error", "unknown",
    ] | None = Field(default=None, description="FHIR Procedure.status; only completed (or "
                     "unstated) procedures count")


class Observation(_Model):
    """A measurement or finding: a lab value, a vital sign, a test result."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    value: float | str | bool | None = None
    unit: str | None = Field(default=None, description="UCUM unit of a numeric value")
    date: dt.date | None = None
    status: Literal[
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    ] | None = None


class PregnancyStatus(_Model):
    """Pregnancy status as recorded (LOINC 82810-3 in FHIR), with the date it was assessed."""

    status: Literal["pregnant", "not_pregnant", "unknown"]
    date: dt.date | None = None


class Attestation(_Model):
    """A coordinator's answer to a manual criterion."""

    criterion: str = Field(description="Criterion id, e.g. I3")
    answer: bool = Field(description="true/yes: the manual statement holds; false/no: it does not")
    by: str = Field(min_length=1, description="Who attested")
    at: dt.datetime | dt.date = Field(description="When")
    note: str | None = None
    item: str | None = Field(default=None, description="The manual text this answers, when a "
                             "criterion has several manual parts; otherwise all of them")


class Patient(_Model):
    """A patient profile for screening."""

    id: str = Field(min_length=1)
    birth_date: dt.date | None = None
    sex: Sex | None = None
    pregnancy: PregnancyStatus | None = None
    conditions: tuple[Condition, ...] = ()
    medications: tuple[Medication, ...] = ()
    procedures: tuple[Procedure, ...] = ()
    observations: tuple[Observation, ...] = ()
    attestations: tuple[Attestation, ...] = ()


Verdict = Literal["ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW"]


class FixtureExpectation(_Model):
    """What a test fixture expects of one protocol: its as-of date, verdict and criteria."""

    protocol: str
    as_of: dt.date
    verdict: Verdict
    failing: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    description: str = ""


class FixtureDocument(_Model):
    """A patient file that also states what screening it should get."""

    fixture: FixtureExpectation
    patient: Patient


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def _issues(err: ValidationError) -> list[FieldIssue]:
    issues = []
    for e in err.errors(include_url=False):
        # Drop the union/tag branch names pydantic inserts, keep the data path.
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and "[" in p))
        value = None if e["type"] == "missing" else repr(e.get("input"))[:80]
        issues.append(FieldIssue(_path(loc), e["msg"], value))
    return issues


def read_document(path: Path) -> Any:
    """Read a JSON or YAML file (safe loader) into plain data."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        issue = FieldIssue("(file)", exc.strerror or str(exc))
        raise PatientDataError(str(path), [issue]) from None
    except UnicodeDecodeError:
        raise PatientDataError(str(path), [FieldIssue("(file)", "not UTF-8 text")]) from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PatientDataError(str(path), [FieldIssue(
            f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "(document)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise PatientDataError(str(path), [FieldIssue(where, f"invalid YAML: {problem}")]) from None


def patient_from_data(
    data: Any, origin: str = "<data>"
) -> tuple[Patient, FixtureExpectation | None]:
    """Validate plain data as a patient, or as a fixture document holding one."""
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "nothing"
        issue = FieldIssue("(document)", f"expected an object, got {kind}")
        raise PatientDataError(origin, [issue])
    try:
        if "fixture" in data:
            doc = FixtureDocument.model_validate(data)
            return doc.patient, doc.fixture
        return Patient.model_validate(data), None
    except ValidationError as err:
        raise PatientDataError(origin, _issues(err)) from None


def load_patient(path: Path) -> tuple[Patient, FixtureExpectation | None]:
    """Load a patient profile (or fixture document) from a JSON or YAML file."""
    return patient_from_data(read_document(path), str(path))
