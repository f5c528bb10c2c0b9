"""The rule object model: immutable, typed nodes that carry their source span.

Nodes are data only. Parsing builds them, the compiler checks them, the evaluator
dispatches over them, the printer turns them back into source. Spans are excluded
from equality so that a printed-then-parsed protocol equals the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, Literal, TypeAlias, get_args, get_type_hints

from eligo.source import Span

NO_SPAN = Span(0, 0)


def _span() -> Any:
    return field(default=NO_SPAN, compare=False, repr=False)


class CriterionKind(StrEnum):
    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"


Comparator = Literal["=", "!=", "<", "<=", ">", ">="]
TimeUnit = Literal["days", "weeks", "months", "years"]
EventKind = Literal["condition", "history", "medication", "procedure"]
CodeMatch = Literal["exact", "descendants", "range"]


# ---- values ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with an optional unit as written (``18``, ``70 years``)."""

    number: Decimal
    unit: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Symbol:
    """A bare word value (``female``, ``C``)."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Text:
    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class UlnMultiple:
    """``5 x ULN``: a multiple of the upper limit of normal of the observation."""

    number: Decimal
    span: Span = _span()


Value: TypeAlias = Quantity | Symbol | Text | UlnMultiple


# ---- codes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeRef:
    """One code entry: ``K74.60`` (exact), ``K74.6*`` (code and descendants), ``C00-C96``."""

    system: str
    code: str
    match: CodeMatch = "exact"
    span: Span = _span()

    @property
    def written(self) -> str:
        if self.match == "descendants":
            return f"{self.code}*"
        return self.code


@dataclass(frozen=True, slots=True)
class ValueSetRef:
    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InlineCodes:
    codes: tuple[CodeRef, ...]
    span: Span = _span()


CodeTarget: TypeAlias = ValueSetRef | InlineCodes


@dataclass(frozen=True, slots=True)
class Window:
    """``within N unit``: the last N units up to and including the as-of date."""

    amount: int
    unit: TimeUnit
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AgoWindow:
    """``between N and M unit ago``: from M units to N units before the as-of date."""

    low: int
    high: int
    unit: TimeUnit
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ever:
    """``ever``: any time up to the as-of date."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Anchor:
    """``since first condition V`` / ``before first procedure V``: relative to the
    patient's earliest matching event."""

    relation: Literal["since", "before"]
    kind: Literal["condition", "medication", "procedure"]
    target: CodeTarget
    span: Span = _span()


Timing: TypeAlias = Window | AgoWindow | Ever | Anchor


@dataclass(frozen=True, slots=True)
class Duration:
    """``for at least 8 weeks`` / ``for more than 28 days``: exposure, merged periods."""

    relation: Literal["at least", "more than"]
    amount: int
    unit: TimeUnit
    span: Span = _span()


# ---- expressions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AtLeast:
    """TRUE when at least ``count`` operands are TRUE."""

    count: int
    operands: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Compare:
    """``subject op value``; for an observation, ``timing`` overrides its freshness window."""

    subject: str
    op: Comparator
    value: Value
    timing: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Between:
    """Inclusive range; ``unit`` applies to both bounds (``age between 18 and 70 years``)."""

    subject: str
    low: Decimal
    high: Decimal
    unit: str | None = None
    timing: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InList:
    subject: str
    values: tuple[Value, ...]
    timing: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ResultTest:
    """``hbsag is positive``; with several subjects, ``any of [...] is positive``."""

    subjects: tuple[str, ...]
    result: str
    any_of: bool = False
    timing: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``mean of last 3 qtcf within 28 days > 470 ms``."""

    function: str
    count: int
    subject: str
    op: Comparator
    value: Value
    timing: Timing | None = None
    span: Span = _span()


StageAxis = Literal["stage", "T", "N", "M"]
StageBasis = Literal["clinical", "pathological"]


@dataclass(frozen=True, slots=True)
class StageTest:
    """``with stage >= III``, ``with clinical N in [N1, N2]``: a tumour's recorded stage.

    ``op`` is a comparator with one label, or ``in`` with several; ``basis`` None accepts
    clinical and pathological staging alike.
    """

    axis: StageAxis
    basis: StageBasis | None
    op: Comparator | Literal["in"]
    labels: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class HistologyTest:
    """``with histology V``: the tumour's ICD-O-3 morphology is in V."""

    target: CodeTarget
    span: Span = _span()


ConfirmationBasis = Literal["histology", "cytology", "pathology"]


@dataclass(frozen=True, slots=True)
class HistologyConfirmed:
    """``confirmed by histology``: the diagnosis rests on a histological examination;
    ``confirmed by cytology`` on a cytological one; ``confirmed by pathology`` on either."""

    basis: ConfirmationBasis = "histology"
    span: Span = _span()


SeverityLabel = Literal["mild", "moderate", "severe"]


@dataclass(frozen=True, slots=True)
class SeverityTest:
    """``with severity >= moderate``, ``with severity in [moderate, severe]``."""

    op: Comparator | Literal["in"]
    labels: tuple[SeverityLabel, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OnsetTest:
    """``with onset within 10 days``: the condition began in the period (a point, not an
    overlap)."""

    window: Window | AgoWindow
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OnsetAgeTest:
    """``with onset at age >= 18 years``: the patient's age (completed units) when the
    condition began."""

    op: Comparator
    amount: int
    unit: Literal["years", "months"]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DoseTest:
    """``with daily dose >= 10 mg``: the medication's recorded daily dose;
    ``>= 0.5 mg/kg`` per kilogram of the latest body weight; ``… mg prednisolone
    equivalent`` converted to the named reference drug's equipotent dose."""

    op: Comparator
    amount: Decimal
    unit: str
    equivalent: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RegularUse:
    """``regularly``: a medication taken on a schedule, not as needed."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BodySiteTest:
    """``with body site V``: a procedure's (or condition's) recorded body site is in V."""

    target: CodeTarget
    span: Span = _span()


RecordDetail: TypeAlias = (
    StageTest | HistologyTest | HistologyConfirmed | SeverityTest | OnsetTest | OnsetAgeTest
    | DoseTest | RegularUse | BodySiteTest
)


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """``has condition``, ``has history of condition``, ``taking medication``, ``had procedure``,
    with an optional time (``within``, ``between … ago``, ``ever``, an anchor), exposure
    duration and frequency; details asked of each matching record (a condition's stage,
    histology, severity, onset; a medication's daily dose)."""

    kind: EventKind
    target: CodeTarget
    window: Timing | None = None
    duration: Duration | None = None
    times: int | None = None
    details: tuple[RecordDetail, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Pregnant:
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Breastfeeding:
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ChildbearingPotential:
    """Female of childbearing potential; a protocol's ``define childbearing_potential``
    replaces the built-in definition."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class GestationalAge:
    """``gestational age >= 37 weeks``, advanced from its record to the as-of date."""

    op: Comparator
    amount: Decimal
    unit: Literal["days", "weeks"]
    span: Span = _span()


AllergyCategory = Literal["drug", "food", "environment"]


@dataclass(frozen=True, slots=True)
class AllergyQuery:
    """``allergic to V``, ``intolerant to V``, ``allergic to any drug``, ``… with reaction V``.

    Exactly one of ``target`` and ``category`` is set.
    """

    relation: Literal["allergic", "intolerant"]
    target: CodeTarget | None = None
    category: AllergyCategory | None = None
    reaction: CodeTarget | None = None
    severity: SeverityTest | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ResearchQuery:
    """``enrolled in another study``, ``taking investigational product``: open world by
    default, and the protocol's own trial never counts."""

    kind: Literal["enrolled", "investigational product"]
    window: Timing | None = None
    # `enrolled in another interventional study`: observational studies do not count.
    interventional: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BiomarkerResult:
    """``biomarker ALK rearrangement is positive``; ``alteration`` None means any alteration
    of the gene."""

    gene: str
    alteration: str | None
    result: str
    timing: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BiomarkerMeasure:
    """``biomarker PD-L1 TPS >= 50 %``: a scored biomarker."""

    gene: str
    measure: str
    op: Comparator
    value: Value
    timing: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AdverseEventQuery:
    """``has adverse event V with grade >= 3 within 30 days``; no target means any event."""

    target: CodeTarget | None = None
    op: Comparator | None = None
    grade: int | None = None
    window: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AdverseEventsRecovered:
    """``adverse events V recovered to grade <= 1``: every matching event is now at or
    below the grade (resolved counts as grade 0)."""

    target: CodeTarget | None
    op: Comparator
    grade: int
    span: Span = _span()


EncounterSetting = Literal[
    "inpatient", "intensive_care", "emergency", "outpatient", "home", "virtual",
    "long_term_care", "palliative_care",
]


@dataclass(frozen=True, slots=True)
class EncounterQuery:
    """``encounter inpatient for V within 4 days``; without a time, an encounter going on at
    the as-of date (``encounter inpatient``: currently hospitalised)."""

    setting: EncounterSetting
    reason: CodeTarget | None = None
    window: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ImmunizationQuery:
    """``vaccinated with V [time] [at least N times]``: administered doses."""

    target: CodeTarget
    window: Timing | None = None
    times: int | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PlannedProcedureQuery:
    """``scheduled for procedure V [within N unit]``: an active planned procedure scheduled
    on or after the as-of date; ``window`` counts forward from it (as-of date to N units
    later)."""

    target: CodeTarget
    window: Window | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FamilyHistoryQuery:
    """``family history of V [in first degree relative]``: open world by default, like
    research participation."""

    target: CodeTarget
    first_degree: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class StudyEnrollment:
    """``enrolled in study "NCT01234567" [time]``: participation in one named study (the
    identifier compared ignoring case and surrounding spaces); open world by default."""

    study: str
    window: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ProgressionQuery:
    """``has disease progression [of V] [time]``: recorded disease-status assessments;
    without a time the latest assessment of each disease decides."""

    target: CodeTarget | None = None
    window: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RecurrenceQuery:
    """``has disease recurrence of V [time]``: a condition in V whose clinical status is
    recurrence or relapse."""

    target: CodeTarget
    window: Timing | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Speaks:
    """``speaks english``; ``language`` is the word as written (an English language name or
    an ISO 639 code), resolved to its ISO 639 code by :mod:`eligo.attributes`."""

    language: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ResidesIn:
    """``resides in country "GH"`` / ``resides in region "GH-AA"`` (ISO 3166-1 / 3166-2)."""

    level: Literal["country", "region"]
    code: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Manual:
    """A question only a person can answer; UNKNOWN until an attestation resolves it."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Reference:
    """A use of a named ``define``."""

    name: str
    span: Span = _span()


Expr: TypeAlias = (
    And | Or | Not | AtLeast | Compare | Between | InList | ResultTest | Aggregate | RecordQuery
    | Pregnant | Manual | Reference | Breastfeeding | ChildbearingPotential | GestationalAge
    | AllergyQuery | ResearchQuery | BiomarkerResult | BiomarkerMeasure | AdverseEventQuery
    | AdverseEventsRecovered | Speaks | ResidesIn | EncounterQuery | ImmunizationQuery
    | PlannedProcedureQuery | FamilyHistoryQuery | StudyEnrollment | ProgressionQuery
    | RecurrenceQuery
)


# ---- declarations ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValueSet:
    """Codes written in the protocol, plus library value sets it includes (``use NAME``)."""

    name: str
    title: str | None
    codes: tuple[CodeRef, ...]
    includes: tuple[str, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LibraryUse:
    """``use NAME``: a value set of the bundled library, under its own name."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Define:
    name: str
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Criterion:
    """One numbered inclusion or exclusion item, with the protocol's own words."""

    id: str
    text: str
    kind: CriterionKind
    expr: Expr
    open_world: bool | None = None  # None: the file's setting applies
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Protocol:
    trial_id: str
    title: str | None
    version: str | None
    open_world: bool
    valuesets: tuple[ValueSet, ...]
    defines: tuple[Define, ...]
    inclusion: tuple[Criterion, ...]
    exclusion: tuple[Criterion, ...]
    uses: tuple[LibraryUse, ...] = ()
    span: Span = _span()
    # `assume research participation recorded`: absence of a study record is proof.
    research_recorded: bool = False
    # `assume family history recorded`: absence of a family history record is proof.
    family_history_recorded: bool = False
    # sha256 of the source text the protocol was compiled from; results cite it.
    source_hash: str | None = field(default=None, compare=False)

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        return self.inclusion + self.exclusion

    def valueset(self, name: str) -> ValueSet | None:
        return next((v for v in self.valuesets if v.name == name), None)

    def define(self, name: str) -> Define | None:
        return next((d for d in self.defines if d.name == name), None)


# ---- JSON round trip -----------------------------------------------------------------
# Each node serialises as a dict tagged with its class name; spans as [start, end].

_NODE_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        Quantity, Symbol, Text, UlnMultiple, CodeRef, ValueSetRef, InlineCodes, Window,
        AgoWindow, Ever, Anchor, Duration, And, Or, Not, AtLeast, Compare, Between, InList,
        ResultTest, Aggregate, RecordQuery, Pregnant, Manual, Reference, ValueSet, LibraryUse,
        Define, Criterion, Protocol, StageTest, HistologyTest, HistologyConfirmed, Breastfeeding,
        ChildbearingPotential, GestationalAge, AllergyQuery, ResearchQuery, BiomarkerResult,
        BiomarkerMeasure, AdverseEventQuery, AdverseEventsRecovered, Speaks, ResidesIn,
        SeverityTest, OnsetTest, DoseTest, EncounterQuery, ImmunizationQuery, OnsetAgeTest,
        RegularUse, BodySiteTest, PlannedProcedureQuery, FamilyHistoryQuery, StudyEnrollment,
        ProgressionQuery, RecurrenceQuery,
    )
}


def to_json(node: Any) -> Any:
    """A JSON-compatible rendering of a rule object (any node, or a whole protocol)."""
    if isinstance(node, Span):
        return [node.start, node.end]
    if isinstance(node, Decimal):
        return str(node)
    if isinstance(node, Enum):
        return node.value
    if isinstance(node, tuple):
        return [to_json(item) for item in node]
    if type(node).__name__ in _NODE_TYPES:
        out: dict[str, Any] = {"node": type(node).__name__}
        for f in fields(node):
            out[f.name] = to_json(getattr(node, f.name))
        return out
    return node


def from_json(data: Any) -> Any:
    """Rebuild a rule object from :func:`to_json` output."""
    if not isinstance(data, dict) or data.get("node") not in _NODE_TYPES:
        raise ValueError(f"not a rule object: {str(data)[:80]}")
    cls = _NODE_TYPES[data["node"]]
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in data:
            kwargs[f.name] = _decode(hints[f.name], data[f.name])
    return cls(**kwargs)


def _decode(hint: Any, raw: Any) -> Any:
    if raw is None:
        return None
    if hint is Span:
        return Span(int(raw[0]), int(raw[1]))
    if hint is Decimal:
        return Decimal(raw)
    if hint is CriterionKind:
        return CriterionKind(raw)
    if isinstance(raw, dict):
        return from_json(raw)
    if isinstance(raw, list):
        args = get_args(hint)  # tuple[X, ...] -> (X, Ellipsis)
        inner = args[0] if args else Any
        return tuple(_decode(inner, item) for item in raw)
    return raw
