"""The screening result: a verdict explained criterion by criterion (published JSON Schema).

Results are frozen dataclasses rather than pydantic models: a population run builds
millions of them and pydantic's per-object validation cost more than the evaluation.
Pydantic still owns their JSON form and JSON Schema through a ``TypeAdapter``; the
``model_*`` methods give them the same API as the pydantic models elsewhere in eligo.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import Field, TypeAdapter


class Verdict(StrEnum):
    ELIGIBLE = "ELIGIBLE"
    INELIGIBLE = "INELIGIBLE"
    NEEDS_REVIEW = "NEEDS_REVIEW"


class Status(StrEnum):
    """A criterion's outcome: an inclusion passes when TRUE, an exclusion when FALSE."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


RecordType = Literal[
    "patient", "condition", "medication", "procedure", "observation", "pregnancy", "attestation",
    "breastfeeding", "allergy", "research", "adverse_event", "biomarker", "address",
    "encounter", "immunization", "planned_procedure", "family_history", "disease_status",
]


class _JsonModel:
    """JSON (de)serialisation and schema for the result dataclasses, via pydantic."""

    __slots__ = ()

    @classmethod
    def _adapter(cls) -> TypeAdapter[Any]:
        return _adapter_for(cls)

    def model_dump_json(self, *, indent: int | None = None) -> str:
        return self._adapter().dump_json(self, indent=indent).decode("utf-8")

    def model_dump(self) -> Any:
        """Plain JSON-compatible data (dates as ISO strings)."""
        return self._adapter().dump_python(self, mode="json")

    @classmethod
    def model_validate_json(cls, text: str | bytes) -> Self:
        result: Self = cls._adapter().validate_json(text)
        return result

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        result: Self = cls._adapter().validate_python(data)
        return result

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        schema: dict[str, Any] = cls._adapter().json_schema()
        return schema


_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def _adapter_for(cls: type) -> TypeAdapter[Any]:
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


@dataclass(frozen=True, slots=True)
class Evidence(_JsonModel):
    """A patient record (or attestation) that the reasoning used."""

    record_type: RecordType
    record_id: Annotated[str | None, Field(description="The record's id in the source data")
                         ] = None
    system: str | None = None
    code: str | None = None
    display: str | None = None
    value: Annotated[str | None, Field(description="Value with its unit, when one applies")
                     ] = None
    date: dt.date | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CriterionResult(_JsonModel):
    id: str
    kind: Literal["inclusion", "exclusion"]
    text: Annotated[str, Field(description="The protocol's original wording")]
    status: Status
    expression: Annotated[str, Field(description="The rule, pretty-printed")]
    truth: Annotated[Literal["true", "false", "unknown"], Field(
        description="The rule's value; status follows from it and the kind")]
    reason: Annotated[str, Field(description="One sentence saying why")]
    evidence: tuple[Evidence, ...] = ()
    missing: Annotated[tuple[str, ...], Field(description="Data that would decide it")] = ()


@dataclass(frozen=True, slots=True)
class ToResolve(_JsonModel):
    criterion: str
    item: str


@dataclass(frozen=True, slots=True)
class ScreeningResult(_JsonModel):
    """One patient screened against one protocol, explained criterion by criterion."""

    protocol_id: str
    protocol_version: str | None
    protocol_hash: Annotated[str | None, Field(description="sha256 of the protocol source")]
    patient_id: str
    as_of: Annotated[dt.date, Field(
        description="The screening date every time window is relative to")]
    engine_version: str
    verdict: Verdict
    criteria: tuple[CriterionResult, ...]
    to_resolve: Annotated[tuple[ToResolve, ...], Field(
        description="What a coordinator must check or record to reach a verdict")] = ()

    def criterion(self, criterion_id: str) -> CriterionResult:
        return next(c for c in self.criteria if c.id == criterion_id)

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.criteria if c.status is Status.FAIL)

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.criteria if c.status is Status.UNKNOWN)
