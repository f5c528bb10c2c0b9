"""The screening result: a verdict explained criterion by criterion (published JSON Schema)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Verdict(StrEnum):
    ELIGIBLE = "ELIGIBLE"
    INELIGIBLE = "INELIGIBLE"
    NEEDS_REVIEW = "NEEDS_REVIEW"


class Status(StrEnum):
    """A criterion's outcome: an inclusion passes when TRUE, an exclusion when FALSE."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Evidence(_Model):
    """A patient record (or attestation) that the reasoning used."""

    record_type: Literal[
        "patient", "condition", "medication", "procedure", "observation", "pregnancy",
        "attestation",
    ]
    record_id: str | None = None
    system: str | None = None
    code: str | None = None
    display: str | None = None
    value: str | None = Field(default=None, description="Value with its unit, when one applies")
    date: dt.date | None = None
    note: str | None = None


class CriterionResult(_Model):
    id: str
    kind: Literal["inclusion", "exclusion"]
    text: str = Field(description="The protocol's original wording")
    status: Status
    expression: str = Field(description="The rule, pretty-printed")
    truth: Literal["true", "false", "unknown"] = Field(
        description="The rule's value; status follows from it and the kind")
    reason: str = Field(description="One sentence saying why")
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = Field(default=(), description="Data that would decide it")


class ToResolve(_Model):
    criterion: str
    item: str


class ScreeningResult(_Model):
    protocol_id: str
    protocol_version: str | None
    protocol_hash: str | None = Field(description="sha256 of the protocol source")
    patient_id: str
    as_of: dt.date = Field(description="The screening date every time window is relative to")
    engine_version: str
    verdict: Verdict
    criteria: tuple[CriterionResult, ...]
    to_resolve: tuple[ToResolve, ...] = Field(
        default=(), description="What a coordinator must check or record to reach a verdict")

    def criterion(self, criterion_id: str) -> CriterionResult:
        return next(c for c in self.criteria if c.id == criterion_id)

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.criteria if c.status is Status.FAIL)

    @property
    def unknown(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.criteria if c.status is Status.UNKNOWN)
