"""The patient profile: what eligo knows about one person, validated at the boundary.

Codes are normalised on load (system URIs to short names, ICD-10-CM dots and case),
so evaluation compares plain strings. Invalid input raises :class:`PatientDataError`
naming the field path and the offending value.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import SchemaError, SchemaValidator

from eligo.errors import FieldIssue, PatientDataError
from eligo.terminology import MEMO_LIMIT, NORMAL_CODE_PATTERNS, normalize_code, system_name

Sex = Literal["female", "male", "other", "unknown"]
# US OMB minimum categories (OMB Statistical Policy Directive No. 15, 1997), as in FHIR US Core.
Race = Literal["american_indian_or_alaska_native", "asian", "black_or_african_american",
               "native_hawaiian_or_other_pacific_islander", "white", "other"]
Ethnicity = Literal["hispanic_or_latino", "not_hispanic_or_latino"]
# The FHIR R4 marital-status value set (v3 MaritalStatus, and v3 NullFlavor UNK), in words.
MaritalStatus = Literal["annulled", "divorced", "interlocutory", "legally_separated", "married",
                        "common_law", "polygamous", "never_married", "domestic_partner",
                        "unmarried", "widowed", "unknown"]


def _no_number(value: Any) -> Any:
    # pydantic reads numbers as Unix timestamps; in clinical data a number is a mistake.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("expected a date written as YYYY-MM-DD, not a number")
    return value


Date = Annotated[dt.date, BeforeValidator(_no_number)]
DateTime = Annotated[dt.datetime, BeforeValidator(_no_number)]


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
            written = (data["system"], data.get("code"))
            normal = _NORMALISED.get(written)
            if normal is None:
                system = system_name(written[0]) or written[0].strip()
                code = written[1]
                normal = (system, normalize_code(system, code) if isinstance(code, str) else code)
                if len(_NORMALISED) < MEMO_LIMIT:
                    _NORMALISED[written] = normal
            if normal != written:
                data = {**data, "system": normal[0], "code": normal[1]}
        return data


# (system, code) as written -> as normalised: a pure function of its key, remembered
# because batch screening validates the same few thousand codings millions of times.
_NORMALISED: dict[tuple[str, Any], tuple[str, Any]] = {}


class Stage(_Model):
    """One staging of a tumour (FHIR Condition.stage, or a staging observation linked to it):
    the stage group and TNM categories as recorded (`IIIB`, `Stage IIIB`, `cT2a`, `pN1`)."""

    basis: Literal["clinical", "pathological"] | None = Field(
        default=None, description="Clinical (c) or pathological (p) staging; a `c`/`p` prefix "
        "on the T, N or M labels says the same")
    group: str | None = Field(default=None, description="Stage group, e.g. IIIB")
    t: str | None = Field(default=None, description="Primary tumour category, e.g. T2a")
    n: str | None = Field(default=None, description="Regional nodes category, e.g. N1")
    m: str | None = Field(default=None, description="Distant metastasis category, e.g. M0")
    system: str | None = Field(default=None, description="Staging system, e.g. AJCC 8th")
    date: Date | None = None


DiagnosisBasis = Literal["histology", "cytology", "imaging", "clinical", "laboratory", "unknown"]


class Condition(_Model):
    """A diagnosis or problem. Active from onset until abatement (or still active)."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    onset: Date | None = None
    abatement: Date | None = None
    clinical_status: Literal[
        "active", "recurrence", "relapse", "inactive", "remission", "resolved"
    ] | None = Field(default=None, description="FHIR Condition.clinicalStatus")
    verification_status: Literal[
        "unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"
    ] | None = Field(default=None, description="FHIR Condition.verificationStatus; refuted and "
                     "entered-in-error records never count")
    stages: tuple[Stage, ...] = Field(default=(), description="Tumour stagings, any order; the "
                                      "latest with the category asked is read (on the same "
                                      "day, pathological before clinical)")
    morphology: tuple[Coding, ...] = Field(default=(), description="Tumour histology as ICD-O-3 "
                                           "morphology codes (system icdo3, e.g. 8140/3)")
    diagnosis_basis: DiagnosisBasis | None = Field(
        default=None, description="How the diagnosis was confirmed (as in cancer registries' "
        "diagnostic confirmation): histology, cytology, imaging, clinical, laboratory")
    severity: Literal["mild", "moderate", "severe"] | None = Field(
        default=None, description="FHIR Condition.severity (SNOMED CT 255604002 mild, "
        "6736007 moderate, 24484000 severe)")
    body_sites: tuple[Coding, ...] = Field(default=(), description="Where it is "
                                           "(SNOMED CT body structures, FHIR bodySite)")


class Medication(_Model):
    """A medication the patient takes or took, over an exposure period."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    start: Date | None = None
    end: Date | None = None
    status: Literal[
        "active", "completed", "stopped", "on-hold", "intended", "not-taken", "unknown",
        "entered-in-error",
    ] | None = Field(default=None, description="FHIR MedicationStatement.status")
    daily_dose: float | None = Field(default=None, ge=0, description="Total dose per day, "
                                     "in `dose_unit`")
    dose_unit: str | None = Field(default=None, description="UCUM mass unit of the daily dose "
                                  "(mg, g, ug)")
    as_needed: bool | None = Field(default=None, description="Taken only as needed (PRN, FHIR "
                                   "Dosage.asNeeded) rather than on a regular schedule")


class Procedure(_Model):
    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    date: Date | None = None
    status: Literal[
        "preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
        "entered-in-error", "unknown",
    ] | None = Field(default=None, description="FHIR Procedure.status; only completed, unknown or "
                     "unstated procedures count")
    body_sites: tuple[Coding, ...] = Field(default=(), description="Where it was done "
                                           "(SNOMED CT body structures, FHIR bodySite)")


class PlannedProcedure(_Model):
    """A procedure ordered or planned for the patient (FHIR ServiceRequest), with the date it
    is scheduled for."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    date: Date | None = Field(default=None, description="The date it is scheduled for; none "
                              "while it is not scheduled")
    status: Literal[
        "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
    ] | None = Field(default=None, description="FHIR ServiceRequest.status; only active or "
                     "unstated requests count, and unknown leaves the request undecided")


class Observation(_Model):
    """A measurement or finding: a lab value, a vital sign, a test result."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    value: float | str | bool | None = Field(
        default=None, description="A number (with `unit`), a coded or text result "
        "(`Positive`, `LA6576-8`), an ordinal label (`II`) or true/false")
    unit: str | None = Field(default=None, description="UCUM unit of a numeric value "
                             "(common lab spellings such as `mg/dl` or `K/uL` are read too)")
    reference_low: float | None = Field(
        default=None, description="Lower limit of the laboratory's reference range, in `unit`")
    reference_high: float | None = Field(
        default=None, description="Upper limit of normal (ULN) of the laboratory's reference "
        "range, in `unit`; `x ULN` rules use it before the library's default")
    date: Date | None = None
    status: Literal[
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    ] | None = None
    interpretation: Literal["positive", "negative", "indeterminate"] | None = Field(
        default=None, description="The laboratory's reading of the result (FHIR "
        "Observation.interpretation: POS or DET positive, NEG or ND negative, IND or E "
        "indeterminate); a viral load below the limit of quantitation may still be detected")


class PregnancyStatus(_Model):
    """Pregnancy status as recorded (LOINC 82810-3 in FHIR), with the date it was assessed."""

    status: Literal["pregnant", "not_pregnant", "unknown"]
    date: Date | None = None


class BreastfeedingStatus(_Model):
    """Whether the patient is breastfeeding (LOINC 63895-7 in FHIR), as assessed on a date."""

    status: Literal["breastfeeding", "not_breastfeeding", "unknown"]
    date: Date | None = None


class Allergy(_Model):
    """An allergy or intolerance (FHIR AllergyIntolerance). A record coded "no known
    allergy" (SNOMED CT 716186003, or 409137002 for drugs) documents their absence."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1, description="The substance (RxNorm, ATC, "
                                      "SNOMED CT) or the allergy condition")
    type: Literal["allergy", "intolerance"] | None = None
    category: Literal["medication", "food", "environment", "biologic"] | None = None
    clinical_status: Literal["active", "inactive", "resolved"] | None = None
    verification_status: Literal[
        "unconfirmed", "presumed", "confirmed", "refuted", "entered-in-error"] | None = None
    onset: Date | None = None
    reactions: tuple[Coding, ...] = Field(default=(), description="Manifestations, e.g. "
                                          "SNOMED CT 39579001 anaphylaxis")
    severity: Literal["mild", "moderate", "severe"] | None = Field(
        default=None, description="The most severe reaction's severity (FHIR "
        "AllergyIntolerance.reaction.severity)")


class ResearchParticipation(_Model):
    """Taking part in a clinical study (FHIR ResearchSubject)."""

    id: str | None = None
    study: str = Field(min_length=1, description="The study's registry id, e.g. NCT01234567")
    status: Literal[
        "candidate", "eligible", "follow-up", "ineligible", "not-registered", "off-study",
        "on-study", "on-study-intervention", "on-study-observation", "pending-on-study",
        "potential-candidate", "screening", "withdrawn",
    ] | None = None
    start: Date | None = None
    end: Date | None = None
    investigational_product: bool | None = Field(
        default=None, description="Whether the patient received an investigational product "
        "in the study; its period is start to end")
    study_type: Literal["interventional", "observational"] | None = Field(
        default=None, description="The study's type as registries record it "
        "(ClinicalTrials.gov study type); read by `enrolled in another interventional study`")


Relationship = Literal[
    "mother", "father", "parent", "sister", "brother", "sibling", "son", "daughter", "child",
    "grandparent", "grandmother", "grandfather", "aunt", "uncle", "cousin", "other_relative",
]
FIRST_DEGREE: frozenset[Relationship] = frozenset({
    "mother", "father", "parent", "sister", "brother", "sibling", "son", "daughter", "child"})


class FamilyHistory(_Model):
    """A condition a relative has or had (FHIR FamilyMemberHistory, one record per
    condition)."""

    id: str | None = None
    relationship: Relationship = Field(description="The relative. First-degree relatives are "
                                       "mother, father, parent, sister, brother, sibling, son, "
                                       "daughter and child")
    codes: tuple[Coding, ...] = Field(min_length=1, description="The relative's condition")
    onset_age_years: float | None = Field(default=None, ge=0, description="The relative's "
                                          "age when the condition began, in years")


class AdverseEvent(_Model):
    """An adverse event graded by CTCAE (FHIR AdverseEvent)."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    onset: Date | None = None
    resolved: Date | None = Field(default=None, description="When it resolved (grade 0)")
    grade: int | None = Field(default=None, ge=1, le=5, description="Worst CTCAE grade")
    current_grade: int | None = Field(default=None, ge=0, le=5, description="CTCAE grade at "
                                      "the last assessment")
    assessed: Date | None = Field(default=None, description="Date of the last assessment")


class Biomarker(_Model):
    """A tumour biomarker result (a genomic or immunohistochemistry observation)."""

    id: str | None = None
    gene: str = Field(min_length=1, description="HGNC symbol or common name: EGFR, ALK, "
                      "ERBB2 (HER2), CD274 (PD-L1), MSI")
    alteration: str | None = Field(default=None, description="The variant or alteration "
                                   "tested, e.g. L858R, exon 19 deletion, rearrangement; none "
                                   "for the gene as a whole")
    result: Literal["positive", "negative", "indeterminate"] | None = None
    measure: str | None = Field(default=None, description="A scored result's measure: TPS, CPS")
    value: float | None = None
    unit: str | None = None
    date: Date | None = None
    condition: str | None = Field(default=None, description="Id of the condition it concerns")


class DiseaseStatus(_Model):
    """An assessment of the course of a disease (mCODE CancerDiseaseStatus, LOINC 97509-4)."""

    id: str | None = None
    condition: str | None = Field(default=None, description="Id of the condition it concerns")
    status: Literal["progression", "stable", "improved", "remission", "uncertain"] = Field(
        description="The assessed course: progression (worsened), stable, improved, remission "
        "(not detected) or uncertain (undetermined)")
    date: Date | None = Field(default=None, description="When the assessment was made")


EncounterSetting = Literal[
    "inpatient", "intensive_care", "emergency", "outpatient", "home", "virtual",
    "long_term_care", "palliative_care",
]


class Encounter(_Model):
    """A stay or visit (FHIR Encounter): its setting, period and reasons."""

    id: str | None = None
    setting: EncounterSetting = Field(description="inpatient (hospital stay), intensive_care, "
                                      "emergency, outpatient, home, virtual, long_term_care, "
                                      "palliative_care")
    start: Date | None = None
    end: Date | None = Field(default=None, description="Discharge; none while it goes on")
    status: Literal["planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                    "cancelled", "entered-in-error", "unknown"] | None = None
    reasons: tuple[Coding, ...] = Field(default=(), description="Why: diagnoses or problems")


class Immunization(_Model):
    """A vaccine dose given (FHIR Immunization), coded in CVX, ATC or SNOMED CT."""

    id: str | None = None
    codes: tuple[Coding, ...] = Field(min_length=1)
    date: Date | None = None
    status: Literal["completed", "entered-in-error", "not-done"] | None = None


class Address(_Model):
    """Where the patient lives, over a period (ISO 3166 codes)."""

    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2, e.g. GH")
    region: str | None = Field(default=None, description="ISO 3166-2, e.g. GH-AA")
    start: Date | None = None
    end: Date | None = None

    @model_validator(mode="before")
    @classmethod
    def _capitals(cls, data: Any) -> Any:
        # ISO 3166 codes are capitals; feeds write `us` or `us-ca` too.
        if isinstance(data, dict):
            data = {**data, **{k: data[k].strip().upper() for k in ("country", "region")
                               if isinstance(data.get(k), str)}}
        return data


class Attestation(_Model):
    """A coordinator's answer to a manual criterion."""

    criterion: str = Field(description="Criterion id, e.g. I3")
    answer: bool = Field(description="true/yes: the manual statement holds; false/no: it does not")
    by: str = Field(min_length=1, description="Who attested")
    at: Date | DateTime = Field(description="When (a date, or a date and time)")
    note: str | None = None
    item: str | None = Field(default=None, description="The manual text this answers, when a "
                             "criterion has several manual parts; otherwise all of them")


class Patient(_Model):
    """A patient profile for screening."""

    id: str = Field(min_length=1)
    birth_date: Date | None = None
    sex: Sex | None = None
    race: tuple[Race, ...] = Field(default=(), description="Self-reported race categories")
    ethnicity: Ethnicity | None = None
    marital_status: MaritalStatus | None = Field(
        default=None, description="Marital status (FHIR Patient.maritalStatus), in words")
    pregnancy: PregnancyStatus | None = None
    breastfeeding: BreastfeedingStatus | None = None
    conditions: tuple[Condition, ...] = ()
    medications: tuple[Medication, ...] = ()
    procedures: tuple[Procedure, ...] = ()
    planned_procedures: tuple[PlannedProcedure, ...] = Field(
        default=(), description="Procedures ordered or scheduled (FHIR ServiceRequest)")
    observations: tuple[Observation, ...] = ()
    encounters: tuple[Encounter, ...] = ()
    immunizations: tuple[Immunization, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    research: tuple[ResearchParticipation, ...] = ()
    family_history: tuple[FamilyHistory, ...] = Field(
        default=(), description="Conditions of relatives (FHIR FamilyMemberHistory)")
    adverse_events: tuple[AdverseEvent, ...] = ()
    biomarkers: tuple[Biomarker, ...] = ()
    disease_statuses: tuple[DiseaseStatus, ...] = Field(
        default=(), description="Assessments of the course of a disease (progression, stable...)")
    languages: tuple[str, ...] = Field(default=(), description="Languages the patient speaks, "
                                       "as BCP 47 tags (en, en-US, es)")
    addresses: tuple[Address, ...] = ()
    attestations: tuple[Attestation, ...] = ()


# ---- validating JSON profiles without Python calls --------------------------------------
#
# Batch screening validates millions of JSON profiles, and the Python calls above (a date
# must not be a number, codes are normalised) were a third of that cost. A second
# validator of the same models does without them where the input needs neither: dates
# are parsed strictly (a JSON string in the form YYYY-MM-DD; a number is refused) and a
# coding whose system is a short name and whose code is already in its canonical
# spelling is taken as written (anything else goes through Coding's own validation).
# Whatever it accepts, the model's validator accepts with the same result; whatever it
# refuses is validated again by the model's validator, so errors read as they always did.


def _fast_schema(node: Any, models: set[type[BaseModel]]) -> Any:
    """``node`` of a model's core schema with the Python calls left out (see above);
    ``models`` collects the model classes it builds."""
    if isinstance(node, list):
        return [_fast_schema(n, models) for n in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if _refuses_numbers(node):
        return {**node["schema"], "strict": True}
    if kind == "union" and all(_refuses_numbers(choice) for choice in node["choices"]):
        # `Date | DateTime`: the model reads a date-time string as a date when the date
        # reading takes it (2024-05-30T00:00 is that day), so only plain dates are taken
        # here; a date-time is left to the model's validator.
        first = node["choices"][0]["schema"]
        assert first["type"] == "date", "a union of date-times is not the one expected"
        return {**first, "strict": True}
    if str(kind).startswith("function-"):
        return node  # another Python call: what it returns is validated as declared
    if kind == "model":
        models.add(node["cls"])
    if kind == "model" and node["cls"] is Coding:
        as_declared = {k: v for k, v in node.items() if k != "ref"}
        fields = node["schema"]["schema"]  # inside Coding._normalise
        assert fields["type"] == "model-fields", "Coding's schema is not the one expected"
        written_normal = {
            system: {**as_declared, "schema": {**fields, "fields": {
                **fields["fields"],
                "system": {**fields["fields"]["system"],
                           "schema": {"type": "literal", "expected": [system]}},
                "code": {**fields["fields"]["code"],
                         "schema": {"type": "str", "pattern": pattern}},
            }}}
            for system, pattern in NORMAL_CODE_PATTERNS.items()
        }
        return {"type": "union", "mode": "left_to_right", "ref": node["ref"], "choices": [
            {"type": "tagged-union", "discriminator": "system", "choices": written_normal},
            as_declared]}
    return {key: value if key in ("cls", "config", "function", "metadata")
            else _fast_schema(value, models) for key, value in node.items()}


def _refuses_numbers(node: dict[str, Any]) -> bool:
    return node.get("type") == "function-before" and \
        node["function"].get("function") is _no_number


def _fast_json_validator() -> SchemaValidator:
    models: set[type[BaseModel]] = set()
    schema = _fast_schema(Patient.__pydantic_core_schema__, models)
    # pydantic-core builds a nested model with the validator its class already has when
    # the class is complete: mark the classes incomplete while this one is built from
    # the schema above (nothing validates or builds a model meanwhile).
    for model in models:
        model.__pydantic_complete__ = False
    try:
        return SchemaValidator(schema)
    finally:
        for model in models:
            model.__pydantic_complete__ = True


def _fast_json_validator_or_none() -> SchemaValidator | None:
    """The validator above, or None when this pydantic's core schema is not laid out as it
    expects (a later pydantic may change it): then every profile takes the model's own
    validator, with the same results, only slower."""
    try:
        return _fast_json_validator()
    except (AssertionError, KeyError, TypeError, SchemaError):
        return None


_FAST_JSON = _fast_json_validator_or_none()


def patient_from_json(text: bytes | str) -> Patient:
    """``Patient.model_validate_json(text)``, the same patient or the same error, at about
    two thirds of its cost for profiles whose codes are written as eligo writes them."""
    if _FAST_JSON is not None:
        try:
            return cast(Patient, _FAST_JSON.validate_json(text))
        except ValidationError:
            pass
    return Patient.model_validate_json(text)


Verdict = Literal["ELIGIBLE", "INELIGIBLE", "NEEDS_REVIEW"]


class FixtureExpectation(_Model):
    """What a test fixture expects of one protocol: its as-of date, verdict and criteria."""

    protocol: str
    as_of: Date
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


# Names pydantic puts in an error location for the member of a union it tried.
# ("date" is also a field name, so union tags for dates are recognised by their bracket.)
_UNION_MEMBERS = frozenset({"float", "str", "bool", "int", "none"})


def _shown(value: Any) -> str:
    """A value as the user wrote it (JSON-like), not as a Python repr."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose fields are valid at ``loc`` (for did-you-mean on unknown keys)."""
    model: type[BaseModel] | None = FixtureDocument if loc and loc[0] in (
        "fixture", "patient") else Patient
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = next((m for m in _models_in(field.annotation)), None)
    return model


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def issues_of(err: ValidationError) -> list[FieldIssue]:
    merged: dict[str, tuple[list[str], str | None]] = {}
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and (
            "[" in p or p in _UNION_MEMBERS)))
        message = e["msg"]
        if e["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            model = _model_at(loc[:-1])
            if model is not None:
                close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
                message = f"unknown field; did you mean `{close[0]}`?" if close else (
                    "unknown field; expected one of " + ", ".join(model.model_fields))
        value = None if e["type"] == "missing" else _shown(e.get("input"))
        messages, _ = merged.setdefault(_path(loc), ([], value))
        if message not in messages:
            messages.append(message)
    return [FieldIssue(path, "; or ".join(messages), value)
            for path, (messages, value) in merged.items()]


class _TextDatesLoader(yaml.SafeLoader):
    """YAML's safe loader, leaving dates as text for the profile model to validate.

    PyYAML would build dates itself and fail on an impossible one (2020-02-30) with no
    field path; as text, validation names the field and shows the value as written.
    """


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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
            return yaml.load(text, Loader=_TextDatesLoader)  # a SafeLoader subclass
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
    """Validate plain data as a patient, or as a fixture document holding one. FHIR data
    (a resource, a Bundle or a list of resources) is converted by :mod:`eligo.fhir`."""
    from eligo import fhir  # imported here: eligo.fhir builds on this module

    if fhir.is_fhir(data):
        return fhir.patient_from_fhir(data, origin), None
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
        raise PatientDataError(origin, issues_of(err)) from None


def load_patient(path: Path) -> tuple[Patient, FixtureExpectation | None]:
    """Load a patient profile (or fixture document) from a JSON or YAML file, or one
    patient's FHIR resources from a Bulk Data `.ndjson` file."""
    if path.suffix.lower() == ".ndjson":
        from eligo import fhir

        return fhir.patient_from_ndjson_file(path), None
    return patient_from_data(read_document(path), str(path))
