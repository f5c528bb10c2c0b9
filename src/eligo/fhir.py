"""FHIR R4 input: Bundles, resource lists and Bulk Data NDJSON converted to patient profiles.

Resources are parsed with the ``fhir.resources`` R4B models (R4B is FHIR 4.3, which reads
R4 instances of every resource used here). Only the resource types eligo reads are
validated; the rest (Claim, ExplanationOfBenefit, CarePlan, ...) are recognised by their
``resourceType`` and skipped without being parsed. Encounter and Immunization, which real
records hold by the hundred, are validated in the elements eligo reads only. Every
produced record keeps the FHIR resource id as its ``id``, so evidence cites the resource.

Invalid input raises :class:`~eligo.errors.PatientDataError` with one issue per problem,
each located by the resource and element (``entry[4].resource(Observation/xyz).valueQuantity
.value``). docs/patient-profile.md ("FHIR R4 input") describes the mapping.
"""

from __future__ import annotations

import datetime as dt
import difflib
import gzip
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import pycountry
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.adverseevent import AdverseEvent as FhirAdverseEvent
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance as FhirAllergy
from fhir.resources.R4B.bundle import Bundle as FhirBundle
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition as FhirCondition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport as FhirDiagnosticReport
from fhir.resources.R4B.dosage import Dosage
from fhir.resources.R4B.encounter import Encounter as FhirEncounter
from fhir.resources.R4B.encounter import EncounterLocation
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.familymemberhistory import FamilyMemberHistory as FhirFamilyHistory
from fhir.resources.R4B.immunization import Immunization as FhirImmunization
from fhir.resources.R4B.location import Location as FhirLocation
from fhir.resources.R4B.medication import Medication as FhirMedication
from fhir.resources.R4B.medicationrequest import MedicationRequest as FhirMedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement as FhirMedicationStatement
from fhir.resources.R4B.observation import Observation as FhirObservation
from fhir.resources.R4B.observation import ObservationComponent, ObservationReferenceRange
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.period import Period
from fhir.resources.R4B.procedure import Procedure as FhirProcedure
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.researchstudy import ResearchStudy as FhirResearchStudy
from fhir.resources.R4B.researchsubject import ResearchSubject as FhirResearchSubject
from fhir.resources.R4B.resource import Resource as FhirResource
from fhir.resources.R4B.servicerequest import ServiceRequest as FhirServiceRequest
from pydantic import BaseModel, ValidationError

from eligo.errors import FieldIssue, PatientDataError
from eligo.patient import (
    Address,
    AdverseEvent,
    Allergy,
    Biomarker,
    BreastfeedingStatus,
    Coding,
    Condition,
    DiseaseStatus,
    Encounter,
    EncounterSetting,
    Ethnicity,
    FamilyHistory,
    Immunization,
    MaritalStatus,
    Medication,
    Observation,
    Patient,
    PlannedProcedure,
    PregnancyStatus,
    Procedure,
    Race,
    Relationship,
    ResearchParticipation,
    Stage,
)
from eligo.terminology import system_name

__all__ = [
    "is_fhir",
    "patient_from_fhir",
    "patient_from_ndjson_file",
    "patients_from_fhir",
    "patients_from_ndjson_files",
    "patients_from_ndjson_lines",
]

# The resource types eligo reads; every other known type is skipped unparsed.
_MODELS: dict[str, type[FhirResource]] = {
    "Patient": FhirPatient,
    "Condition": FhirCondition,
    "Observation": FhirObservation,
    "MedicationStatement": FhirMedicationStatement,
    "MedicationRequest": FhirMedicationRequest,
    "Medication": FhirMedication,
    "Procedure": FhirProcedure,
    "AllergyIntolerance": FhirAllergy,
    "ResearchSubject": FhirResearchSubject,
    "ResearchStudy": FhirResearchStudy,
    "AdverseEvent": FhirAdverseEvent,
    "Encounter": FhirEncounter,
    "Immunization": FhirImmunization,
    "ServiceRequest": FhirServiceRequest,
    "FamilyMemberHistory": FhirFamilyHistory,
}
# Parsed only when needed: a DiagnosticReport when some Observation has no date of its own
# (a report dates its results), a Location when some Encounter names one (its type may say
# intensive care).
_DEFERRED: dict[str, type[FhirResource]] = {"DiagnosticReport": FhirDiagnosticReport,
                                            "Location": FhirLocation}
# Types of which eligo reads a few elements, while real records hold many resources (Synthea
# writes an Encounter per visit and an Immunization per dose): only the elements named here
# are validated (with their `_element` extensions); the others are not parsed.
_ELEMENTS_READ: dict[str, frozenset[str]] = {
    "Encounter": frozenset({"resourceType", "id", "contained", "status", "class", "type",
                            "serviceType", "period", "reasonCode", "reasonReference",
                            "location", "subject"}),
    "Immunization": frozenset({"resourceType", "id", "status", "vaccineCode",
                               "occurrenceDateTime", "occurrenceString", "patient"}),
    "Location": frozenset({"resourceType", "id", "type", "physicalType"}),
    "ServiceRequest": frozenset({"resourceType", "id", "status", "intent", "doNotPerform",
                                 "code", "occurrenceDateTime", "occurrencePeriod", "subject"}),
}
# R4 resource types that R4B (the models' release) removed or renamed: known, never read.
_R4_ONLY = frozenset({
    "EffectEvidenceSynthesis", "MedicinalProduct", "MedicinalProductAuthorization",
    "MedicinalProductContraindication", "MedicinalProductIndication",
    "MedicinalProductIngredient", "MedicinalProductInteraction",
    "MedicinalProductManufactured", "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect",
    "RiskEvidenceSynthesis", "SubstanceSpecification",
})
# Where each resource names its patient.
_SUBJECT_FIELD = {
    "Condition": "subject", "Observation": "subject", "MedicationStatement": "subject",
    "MedicationRequest": "subject", "Procedure": "subject", "AllergyIntolerance": "patient",
    "ResearchSubject": "individual", "AdverseEvent": "subject", "Encounter": "subject",
    "Immunization": "patient", "ServiceRequest": "subject", "FamilyMemberHistory": "patient",
}

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
BCP47 = "urn:ietf:bcp:47"
AJCC = "http://cancerstaging.org"
NCIT = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
HISTOLOGY_EXTENSION = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior")
GENE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/observation-geneticsGene"
AMINO_ACID_EXTENSION = "http://hl7.org/fhir/StructureDefinition/observation-geneticsAminoAcidChange"
VARIANT_EXTENSION = "http://hl7.org/fhir/StructureDefinition/observation-geneticsVariant"
# CTCAE grade extensions: the AE Clinical Research R4 backport, its R5 original, the CTCAE
# draft IG and mCODE STU1.
GRADE_EXTENSIONS = frozenset({
    "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/severity-or-grade",
    "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade",
    "http://hl7.org/fhir/uv/ae-research-ig/StructureDefinition/ae-grade",
    "http://hl7.org/fhir/us/ctcae/StructureDefinition/ctcae-grade",
    "http://hl7.org/fhir/us/mcode/StructureDefinition/ctcae-grade",
})
RESOLVE_DATE_EXTENSION = (
    "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/resolve-date")
# NCI Thesaurus CTCAE grade concepts (the Adverse Event Clinical Research Grades value set).
_NCIT_GRADES = {"C41338": 1, "C41339": 2, "C41340": 3, "C41337": 4, "C48275": 5}
_GRADE_SYSTEMS = frozenset({
    "http://hl7.org/fhir/uv/adverseeventclinicalresearch/CodeSystem/adverse-event-severity-or-grade",
    "http://hl7.org/fhir/uv/adverseeventclinicalresearch/CodeSystem/adverse-event-severity-or-grade-cs",
    "http://hl7.org/fhir/us/ctcae/CodeSystem/ctcae-grade-code-system",
})

ACT_CODE = frozenset({"http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "http://hl7.org/fhir/v3/ActCode"})
ROLE_CODE = ("http://terminology.hl7.org/CodeSystem/v3-RoleCode",
             "http://hl7.org/fhir/v3/RoleCode")
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
# Encounter.class (v3 ActEncounterCode) -> setting. Other classes (FLD field, SS short stay,
# OBSENC observation, PRENC pre-admission) name no eligo setting.
_CLASS_SETTINGS: dict[str, EncounterSetting] = {
    "IMP": "inpatient", "ACUTE": "inpatient", "NONAC": "inpatient", "EMER": "emergency",
    "AMB": "outpatient", "HH": "home", "VR": "virtual",
}
# Codes that name a setting more precisely than the class, read from the Encounter's type,
# serviceType, reasonCode, location physicalType and its Locations' type and physicalType.
_SPECIFIC_SETTINGS: dict[tuple[str, str], EncounterSetting] = {
    # v3 RoleCode ICUPracticeSetting (is-a ICU): intensive care unit, paediatric ICU,
    # paediatric neonatal ICU.
    **{(system, code): "intensive_care" for system in ROLE_CODE
       for code in ("ICU", "PEDICU", "PEDNICU")},
    (SNOMED, "309904001"): "intensive_care",  # Intensive care unit (environment)
    (SNOMED, "305351004"): "intensive_care",  # Admission to intensive care unit (procedure)
    (SNOMED, "305336008"): "palliative_care",  # Admission to hospice (procedure)
    # ICD-10-CM Z51.5, Encounter for palliative care.
    (ICD10CM, "Z51.5"): "palliative_care", (ICD10CM, "Z515"): "palliative_care",
    # v3 RoleCode NCCF, nursing or custodial care facility.
    **{(system, "NCCF"): "long_term_care" for system in ROLE_CODE},
}
# The most specific setting wins when several are coded.
_SETTING_RANK: tuple[EncounterSetting, ...] = ("intensive_care", "palliative_care",
                                               "long_term_care")
_ENCOUNTER_STATUS = ("planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                     "cancelled", "entered-in-error", "unknown")
_IMMUNIZATION_STATUS = ("completed", "entered-in-error", "not-done")

# US Core race and ethnicity extensions: their `ombCategory` codes (CDC Race & Ethnicity code
# system) in the OMB categories.
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
CDC_RACE_ETHNICITY = frozenset({"urn:oid:2.16.840.1.113883.6.238",
                                "http://terminology.hl7.org/CodeSystem/PHRaceAndEthnicityCDC"})
_RACES: dict[str, Race] = {
    "1002-5": "american_indian_or_alaska_native", "2028-9": "asian",
    "2054-5": "black_or_african_american", "2076-8": "native_hawaiian_or_other_pacific_islander",
    "2106-3": "white", "2131-1": "other",
}
_ETHNICITIES: dict[str, Ethnicity] = {"2135-2": "hispanic_or_latino",
                                      "2186-5": "not_hispanic_or_latino"}

# Condition.severity (the FHIR condition-severity value set).
_SEVERITIES: dict[tuple[str, str], Literal["mild", "moderate", "severe"]] = {
    (SNOMED, "255604002"): "mild", (SNOMED, "6736007"): "moderate",
    (SNOMED, "24484000"): "severe",
}

# Dose units eligo reads as a mass (UCUM codes; `mcg` is the common spelling of ug).
_MASS_UNITS = {"mg": "mg", "g": "g", "ug": "ug", "mcg": "ug", "\u00b5g": "ug"}
# Hours in a Timing.repeat.periodUnit that gives doses per day.
_PERIOD_HOURS = {"h": Decimal(1), "d": Decimal(24)}

PREGNANCY_STATUS = "82810-3"
BREASTFEEDING_STATUS = "63895-7"
_PREGNANCY_ANSWERS: dict[str, Literal["pregnant", "not_pregnant", "unknown"]] = {
    "LA15173-0": "pregnant", "77386006": "pregnant",
    "LA26683-5": "not_pregnant", "60001007": "not_pregnant",
    "LA4489-6": "unknown", "261665006": "unknown", "UNK": "unknown",
}
_BREASTFEEDING_ANSWERS: dict[str, Literal["breastfeeding", "not_breastfeeding", "unknown"]] = {
    "LA29252-6": "breastfeeding", "LA29254-2": "breastfeeding", "LA29255-9": "breastfeeding",
    "LA29253-4": "not_breastfeeding", "373066001": "breastfeeding",
    "373067005": "not_breastfeeding", "Y": "breastfeeding", "N": "not_breastfeeding",
    "LA4489-6": "unknown", "261665006": "unknown", "UNK": "unknown",
}

Axis = Literal["group", "T", "N", "M"]
Basis = Literal["clinical", "pathological"]
# Staging observation codes (mCODE TNM profiles: LOINC, and the SNOMED CT codes of STU3).
_STAGING_CODES: dict[tuple[str, str], tuple[Axis, Basis | None]] = {
    (LOINC, "21908-9"): ("group", "clinical"), (LOINC, "21902-2"): ("group", "pathological"),
    (LOINC, "21914-7"): ("group", None),
    (SNOMED, "399537006"): ("group", "clinical"), (SNOMED, "399588009"): ("group", "pathological"),
    (SNOMED, "399390009"): ("group", None),
    (LOINC, "21905-5"): ("T", "clinical"), (LOINC, "21899-0"): ("T", "pathological"),
    (LOINC, "21911-3"): ("T", None),
    (SNOMED, "399504009"): ("T", "clinical"), (SNOMED, "384625004"): ("T", "pathological"),
    (SNOMED, "78873005"): ("T", None),
    (LOINC, "21906-3"): ("N", "clinical"), (LOINC, "21900-6"): ("N", "pathological"),
    (LOINC, "21912-1"): ("N", None),
    (SNOMED, "399534004"): ("N", "clinical"), (SNOMED, "371494008"): ("N", "pathological"),
    (SNOMED, "277206009"): ("N", None),
    (LOINC, "21907-1"): ("M", "clinical"), (LOINC, "21901-4"): ("M", "pathological"),
    (LOINC, "21913-9"): ("M", None),
    (SNOMED, "399387003"): ("M", "clinical"), (SNOMED, "371497001"): ("M", "pathological"),
    (SNOMED, "277208005"): ("M", None),
}
# Condition.stage.type: clinical or pathological staging.
_STAGE_TYPES: dict[tuple[str, str], Basis] = {
    (SNOMED, "260998006"): "clinical", (SNOMED, "261023001"): "pathological",
    (LOINC, "21908-9"): "clinical", (LOINC, "21902-2"): "pathological",
    (SNOMED, "399537006"): "clinical", (SNOMED, "399588009"): "pathological",
}
_STAGING_SYSTEMS = {
    (SNOMED, "444256004"): "AJCC 6th", (SNOMED, "443830009"): "AJCC 7th",
    (SNOMED, "897275008"): "AJCC 8th", (SNOMED, "1269566009"): "AJCC 9th",
    (NCIT, "C146985"): "AJCC 8th",
}

# Tumour-marker tests by LOINC code (mCODE Tumor Marker Test examples and value set).
# ER and PR are receptor (protein) status, kept apart from ESR1/PGR gene results.
_MARKER_TESTS = {
    "48676-1": "ERBB2", "85319-2": "ERBB2", "85318-4": "ERBB2", "18474-7": "ERBB2",
    "85337-4": "ER", "16112-5": "ER", "40556-3": "ER",
    "85339-0": "PR", "16113-3": "PR", "40557-1": "PR",
}
GENE_STUDIED = "48018-6"
# Variant components, most specific first: protein change, discrete variant, DNA change.
_VARIANT_COMPONENTS = ("48005-3", "81252-9", "48004-6")
_POSITIVE = frozenset({"LA9633-4", "LA6576-8", "LA11882-0", "10828004", "52101004",
                       "260373001", "POS", "positive", "present", "detected"})
_NEGATIVE = frozenset({"LA9634-2", "LA6577-6", "LA11883-8", "260385009", "2667000",
                       "260415000", "NEG", "negative", "absent", "not detected"})
_INDETERMINATE = frozenset({"LA11884-6", "LA18198-4", "82334004", "IND", "indeterminate",
                            "equivocal", "inconclusive", "no call"})

_AMINO_ACIDS = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E",
    "Gly": "G", "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F",
    "Pro": "P", "Ser": "S", "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*",
    "Sec": "U",
}
_AMINO_RE = re.compile("|".join(_AMINO_ACIDS))

_CONDITION_CLINICAL = ("active", "recurrence", "relapse", "inactive", "remission", "resolved")
_CONDITION_VERIFICATION = ("unconfirmed", "provisional", "differential", "confirmed",
                           "refuted", "entered-in-error")
_ALLERGY_CLINICAL = ("active", "inactive", "resolved")
_ALLERGY_VERIFICATION = ("unconfirmed", "presumed", "confirmed", "refuted", "entered-in-error")
_OBSERVATION_STATUS = ("registered", "preliminary", "final", "amended", "corrected",
                       "cancelled", "entered-in-error", "unknown")
_PROCEDURE_STATUS = ("preparation", "in-progress", "not-done", "on-hold", "stopped",
                     "completed", "entered-in-error", "unknown")
_STATEMENT_STATUS = ("active", "completed", "entered-in-error", "intended", "stopped",
                     "on-hold", "unknown", "not-taken")
# MedicationRequest.status -> the exposure status eligo reads.
_REQUEST_STATUS = {"active": "active", "on-hold": "on-hold", "completed": "completed",
                   "stopped": "stopped", "unknown": "unknown",
                   "entered-in-error": "entered-in-error", "cancelled": "not-taken",
                   "draft": "intended"}
_RESEARCH_STATUS = ("candidate", "eligible", "follow-up", "ineligible", "not-registered",
                    "off-study", "on-study", "on-study-intervention", "on-study-observation",
                    "pending-on-study", "potential-candidate", "screening", "withdrawn")
_RESOLVED_OUTCOMES = frozenset({"resolved", "resolvedWithSequelae", "recoveredorresolved",
                                "recoveredorresolvedwithsequelae"})
# Results not used for derived facts (pregnancy, stages, biomarkers).
_VOID = frozenset({"cancelled", "entered-in-error"})
_COUNTRY_ALIASES = {"UK": "GB", "ENGLAND": "GB", "SCOTLAND": "GB", "WALES": "GB",
                    "NORTHERN IRELAND": "GB", "GREAT BRITAIN": "GB"}

_REF = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")

M = TypeVar("M", bound=BaseModel)
A = TypeVar("A")


# Patient.maritalStatus: the v3 MaritalStatus codes, and v3 NullFlavor UNK (the FHIR R4
# marital-status value set).
MARITAL_STATUS = frozenset({"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                            "http://hl7.org/fhir/v3/MaritalStatus"})
NULL_FLAVOR = frozenset({"http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
                         "http://hl7.org/fhir/v3/NullFlavor"})
_MARITAL: dict[str, MaritalStatus] = {
    "A": "annulled", "D": "divorced", "I": "interlocutory", "L": "legally_separated",
    "M": "married", "C": "common_law", "P": "polygamous", "S": "never_married",
    "T": "domestic_partner", "U": "unmarried", "W": "widowed",
}

# ServiceRequest: the statuses, and the intents that plan or order (not `option`).
_SERVICE_REQUEST_STATUS = ("draft", "active", "on-hold", "revoked", "completed",
                           "entered-in-error", "unknown")
_PLANNING_INTENTS = frozenset({"plan", "proposal", "directive", "order", "original-order",
                               "reflex-order", "filler-order", "instance-order"})

# FamilyMemberHistory.relationship (v3 RoleCode) -> the relative; any other is other_relative.
_RELATIVES: dict[str, Relationship] = {
    **dict.fromkeys(("MTH", "NMTH"), "mother"), **dict.fromkeys(("FTH", "NFTH"), "father"),
    **dict.fromkeys(("PRN", "NPRN"), "parent"),
    **dict.fromkeys(("SIS", "NSIS", "TWINSIS", "FTWINSIS", "ITWINSIS"), "sister"),
    **dict.fromkeys(("BRO", "NBRO", "TWINBRO", "FTWINBRO", "ITWINBRO"), "brother"),
    **dict.fromkeys(("SIB", "NSIB", "TWIN", "FTWIN", "ITWIN"), "sibling"),
    **dict.fromkeys(("SON", "SONC"), "son"), **dict.fromkeys(("DAU", "DAUC"), "daughter"),
    **dict.fromkeys(("CHILD", "NCHILD"), "child"),
    **dict.fromkeys(("GRPRN", "MGRPRN", "PGRPRN"), "grandparent"),
    **dict.fromkeys(("GRMTH", "MGRMTH", "PGRMTH"), "grandmother"),
    **dict.fromkeys(("GRFTH", "MGRFTH", "PGRFTH"), "grandfather"),
    **dict.fromkeys(("AUNT", "MAUNT", "PAUNT"), "aunt"),
    **dict.fromkeys(("UNCLE", "MUNCLE", "PUNCLE"), "uncle"),
    **dict.fromkeys(("COUSN", "MCOUSN", "PCOUSN"), "cousin"),
}
# Age units of FamilyMemberHistory.condition.onsetAge, in years (UCUM `a`, `mo`).
_AGE_YEARS = {"a": 1.0, "yr": 1.0, "year": 1.0, "years": 1.0,
              "mo": 1 / 12, "month": 1 / 12, "months": 1 / 12}

# mCODE CancerDiseaseStatus: LOINC 97509-4, valued in SNOMED CT.
DISEASE_STATUS = "97509-4"
_DISEASE_STATUSES: dict[tuple[str, str], str] = {
    (SNOMED, "271299001"): "progression",  # Patient's condition worsened
    (SNOMED, "359746009"): "stable",  # Patient's condition stable
    (SNOMED, "268910001"): "improved",  # Patient's condition improved
    (SNOMED, "260415000"): "remission",  # Not detected
    (SNOMED, "709137006"): "uncertain",  # Patient condition undetermined
}


# ---- reading the input -----------------------------------------------------------------


@dataclass(eq=False)
class _Item:
    """One resource of the input: where it is, its raw JSON, its parsed model."""

    where: str
    type: str
    raw: dict[str, Any]
    full_url: str | None = None
    model: FhirResource | None = None
    issues: list[FieldIssue] = field(default_factory=list)  # why it has no model

    @property
    def rid(self) -> str | None:
        """The resource id, or the tail of its fullUrl when it has none."""
        rid = self.raw.get("id")
        if isinstance(rid, str) and rid:
            return rid
        if self.full_url:
            tail = self.full_url.rsplit(":" if self.full_url.startswith("urn:") else "/", 1)
            return tail[-1] or None
        return None


@dataclass
class _Input:
    items: list[_Item] = field(default_factory=list)
    issues: list[FieldIssue] = field(default_factory=list)
    deferred: list[_Item] = field(default_factory=list)

    def finish(self) -> None:
        """Parse the deferred resources that are needed: reports when an Observation is
        undated, Locations when an Encounter names one."""
        needed: set[str] = set()
        for i in self.items:
            if isinstance(i.model, FhirObservation) and _effective(i.model) is None:
                needed.add("DiagnosticReport")
            elif isinstance(i.model, FhirEncounter) and any(
                    not (place.location.reference or "#").startswith("#")
                    for place in i.model.location or []):
                needed.add("Location")
        for item in self.deferred:
            if item.type in needed:
                _parse(item, _DEFERRED[item.type])
        self.deferred = []


def _label(resource_type: str, raw: dict[str, Any]) -> str:
    rid = raw.get("id")
    return f"{resource_type}/{rid if isinstance(rid, str) and rid else '(no id)'}"


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


@cache
def _known_type(name: str) -> bool:
    if name in _MODELS or name in _R4_ONLY:
        return True
    try:
        model = get_fhir_model_class(name)
    except ValueError:
        return False
    return issubclass(model, FhirResource)


@cache
def _resource_names() -> tuple[str, ...]:
    import fhir.resources.R4B as r4b

    folder = Path(r4b.__file__).parent
    names = []
    for module in folder.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        names.extend(re.findall(r'__resource_type__ = "([A-Z][A-Za-z]+)"', text))
    return tuple(n for n in names if _known_type(n))


def _unknown_type_issue(where: str, name: Any) -> FieldIssue:
    path = f"{where}.resourceType" if where else "resourceType"
    if not isinstance(name, str) or not name:
        return FieldIssue(path, "missing: every FHIR resource names its resourceType"
                          if name is None else "must be the name of a FHIR resource type",
                          None if name is None else _shown(name))
    close = difflib.get_close_matches(name, _resource_names(), n=1)
    hint = f"; did you mean `{close[0]}`?" if close else ""
    return FieldIssue(path, f"unknown FHIR resource type{hint}", _shown(name))


def _path(where: str, loc: Sequence[int | str]) -> str:
    out = where
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


_MESSAGES = (
    (re.compile(r"DateTime value string does not match spec regex"),
     "not a FHIR dateTime (YYYY, YYYY-MM, YYYY-MM-DD, or a date and time with its time zone)"),
    (re.compile(r"Date value string does not match spec regex"),
     "not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)"),
    (re.compile(r"Decimal value string does not match spec regex"), "not a decimal number"),
    (re.compile(r"Extra inputs are not permitted"), "not an element of this resource"),
)


def _clean(message: str) -> str:
    message = message.removeprefix("Value error, ")
    for pattern, text in _MESSAGES:
        if pattern.search(message):
            return text
    return message


def _validation_issues(err: ValidationError, where: str) -> list[FieldIssue]:
    merged: dict[str, tuple[list[str], str | None]] = {}
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        shown = None if (not loc or "missing" in e["type"]) else _shown(e.get("input"))
        messages, _ = merged.setdefault(_path(where, loc), ([], shown))
        text = _clean(e["msg"])
        if text not in messages:
            messages.append(text)
    return [FieldIssue(path, "; or ".join(messages), value)
            for path, (messages, value) in merged.items()]


# Elements of FHIR type date, dateTime or instant (by name), which JSON writes as strings;
# the models would read a number as a Unix timestamp.
_DATE_KEYS = frozenset({"date", "start", "end", "issued", "authoredOn", "detected",
                        "lastOccurrence", "dateAsserted", "lastUpdated", "recorded"})


def _numeric_dates(node: Any, where: str, out: list[FieldIssue],
                   trail: list[int | str] | None = None) -> None:
    trail = [] if trail is None else trail
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict | list):
                trail.append(key)
                _numeric_dates(value, where, out, trail)
                trail.pop()
            elif (isinstance(value, int | float) and not isinstance(value, bool)
                  and (key in _DATE_KEYS or key.endswith(("Date", "DateTime", "Instant")))):
                out.append(FieldIssue(_path(where, [*trail, key]), "a FHIR date is written "
                                      "as text (YYYY-MM-DD), not as a number", _shown(value)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, dict | list):
                trail.append(i)
                _numeric_dates(value, where, out, trail)
                trail.pop()


def _parse(item: _Item, model: type[FhirResource]) -> None:
    """Validate an item's JSON with its model (only the elements eligo reads, for the types
    in ``_ELEMENTS_READ``); problems are kept on the item."""
    raw = item.raw
    read = _ELEMENTS_READ.get(item.type)
    if read is not None:
        raw = {k: v for k, v in raw.items() if k.lstrip("_") in read}
    _numeric_dates(raw, item.where, item.issues)
    try:
        parsed = model.model_validate(raw)
    except ValidationError as err:
        known = {i.path for i in item.issues}
        item.issues.extend(i for i in _validation_issues(err, item.where)
                           if i.path not in known)
        return
    if not item.issues:
        item.model = parsed


def _add_resource(inp: _Input, where: str, raw: Any, full_url: str | None = None) -> None:
    """Check one resource's type and parse it when eligo reads that type. ``where`` is its
    position (``entry[4].resource``, ``[2]``, ``line 7 ``; empty for a lone resource)."""
    base = where.rstrip()
    if not isinstance(raw, dict):
        kind = type(raw).__name__ if raw is not None else "nothing"
        inp.issues.append(FieldIssue(base or "(document)", "expected a FHIR resource (a JSON "
                                     f"object with a resourceType), got {kind}"))
        return
    rtype = raw.get("resourceType")
    if not isinstance(rtype, str) or not _known_type(rtype):
        inp.issues.append(_unknown_type_issue(base, rtype))
        return
    if rtype == "Bundle":
        _add_bundle(inp, raw, f"{base}." if base else "")
        return
    located = f"{where}({_label(rtype, raw)})" if where else _label(rtype, raw)
    item = _Item(located, rtype, raw, full_url)
    model = _MODELS.get(rtype)
    if model is None and rtype in _DEFERRED:
        inp.deferred.append(item)
    if model is not None:
        _parse(item, model)
    inp.items.append(item)


def _add_bundle(inp: _Input, raw: dict[str, Any], prefix: str) -> None:
    entries = raw.get("entry")
    shell = {k: v for k, v in raw.items() if k != "entry"}
    if isinstance(entries, list):
        shell["entry"] = [{k: v for k, v in e.items() if k != "resource"}
                          if isinstance(e, dict) else e for e in entries]
    elif entries is not None:
        shell["entry"] = entries
    try:
        FhirBundle.model_validate(shell)
    except ValidationError as err:
        for issue in _validation_issues(err, ""):
            path = issue.path.lstrip(".")
            path = path if path.startswith("entry") else f"Bundle.{path}" if path else "Bundle"
            inp.issues.append(FieldIssue(prefix + path, issue.message, issue.value))
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue  # reported by the Bundle's own validation
        resource = entry.get("resource")
        if resource is None:
            continue  # a transaction's DELETE, or a search entry without its resource
        full_url = entry.get("fullUrl")
        _add_resource(inp, f"{prefix}entry[{i}].resource", resource,
                      full_url if isinstance(full_url, str) else None)


def is_fhir(data: Any) -> bool:
    """Whether plain data is FHIR: a resource, or a non-empty list of resources."""
    if isinstance(data, dict):
        return isinstance(data.get("resourceType"), str)
    return (isinstance(data, list) and bool(data)
            and all(isinstance(x, dict) and "resourceType" in x for x in data))


def _read(data: Any) -> _Input:
    inp = _Input()
    if isinstance(data, list):
        for i, raw in enumerate(data):
            _add_resource(inp, f"[{i}]", raw)
    else:
        _add_resource(inp, "", data)
    inp.finish()
    return inp


def _read_lines(lines: Iterable[str | bytes], inp: _Input, name: str = "") -> None:
    for n, line in enumerate(lines, start=1):
        where = f"{name} line {n}" if name else f"line {n}"
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                inp.issues.append(FieldIssue(where, "not UTF-8 text"))
                continue
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            inp.issues.append(FieldIssue(f"{where} column {exc.colno}",
                                         f"invalid JSON: {exc.msg}"))
            continue
        _add_resource(inp, f"{where} ", raw)


# ---- references and patients ------------------------------------------------------------


class _Index:
    """Resources by the ways references name them: fullUrl, Type/id."""

    def __init__(self, items: Iterable[_Item]) -> None:
        self.by_key: dict[str, _Item] = {}
        reports: list[FhirDiagnosticReport] = []
        for item in items:
            rid = item.rid
            for key in (item.full_url, f"{item.type}/{rid}" if rid else None):
                if key and key not in self.by_key:
                    self.by_key[key] = item
            if isinstance(item.model, FhirDiagnosticReport):
                reports.append(item.model)
        # A result without a date of its own takes its report's (the specimen's) date.
        self.report_dates: dict[int, dt.date] = {}
        for report in reports:
            day = _date(report.effectiveDateTime) or _period(report.effectivePeriod)[0]
            if day is None:
                continue
            for ref in report.result or []:
                target = self.resolve(ref)
                if target is not None:
                    self.report_dates.setdefault(id(target), day)

    def observed(self, item: _Item) -> dt.date | None:
        """An Observation's date: its effective[x], else the date of its report."""
        return _effective(_model(item, FhirObservation)) or self.report_dates.get(id(item))

    def resolve(self, ref: Reference | None) -> _Item | None:
        if ref is None or not ref.reference:
            return None
        target = ref.reference
        hit = self.by_key.get(target)
        if hit is None:
            m = _REF.search(target)
            if m:
                hit = self.by_key.get(f"{m.group(1)}/{m.group(2)}")
        return hit


def _patient_key(item: _Item, index: _Index) -> tuple[str | None, bool]:
    """(the patient an item belongs to, whether it is about a patient at all)."""
    if item.type == "Patient":
        return item.rid, True
    name = _SUBJECT_FIELD.get(item.type)
    if name is None:
        return None, False  # Medication, ResearchStudy: shared, looked up by reference
    ref: Reference | None
    if item.model is None:  # invalid: routed by its reference as written, for the report
        written = item.raw.get(name)
        text = written.get("reference") if isinstance(written, dict) else None
        ref = Reference.model_construct(reference=text if isinstance(text, str) else None)
    else:
        ref = cast(Reference | None, getattr(item.model, name, None))
    if ref is None or not ref.reference:
        return None, True
    target = index.resolve(ref)
    if target is not None:
        return (target.rid, True) if target.type == "Patient" else (None, False)
    m = _REF.search(ref.reference)
    if m:
        return (m.group(2), True) if m.group(1) == "Patient" else (None, False)
    if ref.reference.startswith("urn:uuid:"):
        return ref.reference.removeprefix("urn:uuid:"), True
    return None, True


@dataclass
class _Group:
    key: str
    items: list[_Item] = field(default_factory=list)


def _group(inp: _Input, index: _Index) -> tuple[dict[str, _Group], list[_Item]]:
    """Items by patient, and the items about a patient that name none. The problems of
    invalid shared resources (Medication, ResearchStudy) are added to ``inp.issues``."""
    groups: dict[str, _Group] = {}
    loose: list[_Item] = []
    for item in inp.items:
        key, about_patient = _patient_key(item, index)
        if not about_patient:
            inp.issues.extend(item.issues)
            item.issues = []
            continue
        if key is None:
            loose.append(item)
        else:
            groups.setdefault(key, _Group(key)).items.append(item)
    return groups, loose


# ---- values -------------------------------------------------------------------------------


def _date(value: object) -> dt.date | None:
    """The day of a FHIR date or dateTime (as written, in its own time zone). Partial
    dates (YYYY, YYYY-MM) name no day and give None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def _period(period: Period | None) -> tuple[dt.date | None, dt.date | None]:
    if period is None:
        return None, None
    return _date(period.start), _date(period.end)


def _codings(cc: CodeableConcept | None) -> list[Coding]:
    """A CodeableConcept's codings (by system URI); a concept given only as text becomes
    one coding in the system `text`, which never matches a value set."""
    if cc is None:
        return []
    out: list[Coding] = []
    for c in cc.coding or []:
        code = (c.code or "").strip()
        if not code:
            continue
        coding = Coding(system=c.system or "(none)", code=code, display=c.display)
        if coding not in out:
            out.append(coding)
    if not out and cc.text and cc.text.strip():
        out.append(Coding(system="text", code=cc.text.strip(), display=cc.text.strip()))
    return out


def _codes_in(cc: CodeableConcept | None) -> set[str]:
    """Every code of a concept, plus its displays and text in lower case."""
    if cc is None:
        return set()
    out: set[str] = set()
    for c in cc.coding or []:
        if c.code:
            out.add(c.code.strip())
        if c.display:
            out.add(c.display.strip().lower())
    if cc.text:
        out.add(cc.text.strip().lower())
    return out


def _has_code(cc: CodeableConcept | None, system: str, code: str) -> bool:
    return cc is not None and any(
        c.system == system and c.code == code for c in cc.coding or [])


def _coded(cc: CodeableConcept | None, table: dict[tuple[str, str], Any]) -> Any:
    for c in (cc.coding or []) if cc is not None else []:
        hit = table.get(((c.system or "").rstrip("/"), c.code or ""))
        if hit is not None:
            return hit
    return None


def _decimal(value: object) -> float | None:
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _unit(q: Quantity) -> str | None:
    if q.code and (q.system is None or q.system.rstrip("/") == UCUM):
        return q.code
    return q.unit or q.code


_Valued = FhirObservation | ObservationComponent


def _has_value(m: _Valued) -> bool:
    return any(getattr(m, f"value{kind}") is not None for kind in (
        "Quantity", "CodeableConcept", "String", "Boolean", "Integer", "Range", "Ratio",
        "SampledData", "Time", "DateTime", "Period"))


def _value(m: _Valued) -> tuple[float | str | bool | None, str | None]:
    """An observation's (or component's) value and unit as eligo reads them."""
    q = m.valueQuantity
    if q is not None:
        number = _decimal(q.value)
        unit = _unit(q)
        if number is None:
            return None, unit
        if q.comparator:  # "<5": a bound, not a measurement; eligo reads no number in it
            return f"{q.comparator}{q.value}", unit
        return number, unit
    if m.valueCodeableConcept is not None:
        cc = m.valueCodeableConcept
        known = [c for c in cc.coding or [] if c.code and c.system and system_name(c.system)]
        if known:
            return known[0].code, None
        if cc.text and cc.text.strip():
            return cc.text.strip(), None
        other = [c for c in cc.coding or [] if c.code]
        return (other[0].code if other else None), None
    if m.valueString is not None:
        return m.valueString, None
    if m.valueBoolean is not None:
        return bool(m.valueBoolean), None
    if m.valueInteger is not None:
        return float(m.valueInteger), None
    if m.valueDateTime is not None:
        value: object = m.valueDateTime
        return (value.isoformat() if isinstance(value, dt.date) else str(value)), None
    if m.valueTime is not None:
        return str(m.valueTime), None
    return None, None  # Range, Ratio, SampledData, Period: no single value to compare


def _reference_range(ranges: list[ObservationReferenceRange] | None, unit: str | None
                     ) -> tuple[float | None, float | None]:
    for r in ranges or []:
        bounds = [q for q in (r.low, r.high) if q is not None]
        if not bounds:
            continue
        if any(_unit(q) not in (None, unit) for q in bounds):
            continue  # a range in another unit than the value's
        return (_decimal(r.low.value) if r.low else None,
                _decimal(r.high.value) if r.high else None)
    return None, None


def _effective(m: FhirObservation) -> dt.date | None:
    if m.effectiveDateTime is not None:
        return _date(m.effectiveDateTime)
    if m.effectivePeriod is not None:
        start, end = _period(m.effectivePeriod)
        return start or end
    if m.effectiveInstant is not None:
        return _date(m.effectiveInstant)
    return None


_HGVS_PROTEIN = re.compile(r"(?:^|[\s:(])p\.\(?([A-Za-z]{1,3}\d+[A-Za-z0-9_*=]*)\)?")


def _short_protein_change(text: str) -> str:
    """`NP_005219.2:p.(Leu858Arg)` -> `L858R`; other notations are kept as written."""
    m = _HGVS_PROTEIN.search(text)
    if m is None:
        return text.strip()
    return _AMINO_RE.sub(lambda a: _AMINO_ACIDS[a.group(0)], m.group(1))


# ---- per-resource mapping ---------------------------------------------------------------


@dataclass
class _Ctx:
    index: _Index
    issues: list[FieldIssue] = field(default_factory=list)

    def issue(self, item: _Item, path: str, message: str, value: Any = None) -> None:
        self.issues.append(FieldIssue(f"{item.where}.{path}" if path else item.where, message,
                                      None if value is None else _shown(value)))

    def build(self, item: _Item, model: type[M], **values: Any) -> M | None:
        """An eligo record, with its validation errors reported against the resource."""
        try:
            return model(**values)
        except ValidationError as err:
            for e in err.errors(include_url=False):
                self.issue(item, _path("", e["loc"]).lstrip("."), f"eligo {model.__name__}: "
                           + e["msg"], e.get("input"))
            return None

    def codes(self, item: _Item, cc: CodeableConcept | None, path: str, what: str
              ) -> list[Coding]:
        out = _codings(cc)
        if not out:
            self.issue(item, path, f"missing: eligo needs {what} coded (a coding with a "
                       "system and code, or at least a text)" if cc is None else
                       f"has no coding with a code and no text; eligo needs {what} coded")
        return out

    def status_code(self, item: _Item, cc: CodeableConcept | None, path: str,
                    allowed: Sequence[str]) -> str | None:
        if cc is None:
            return None
        codes = [c.code for c in cc.coding or [] if c.code]
        for code in codes:
            if code in allowed:
                return code
        if codes:
            self.issue(item, path, "is not one of " + ", ".join(allowed), codes[0])
        return None

    def choice(self, item: _Item, value: str | None, path: str, allowed: Sequence[str]
               ) -> str | None:
        if value is None or value in allowed:
            return value
        self.issue(item, path, "is not one of " + ", ".join(allowed), value)
        return None


def _model(item: _Item, kind: type[M]) -> M:
    assert isinstance(item.model, kind)
    return item.model


def _condition(item: _Item, ctx: _Ctx, stages: tuple[Stage, ...]) -> Condition | None:
    m = _model(item, FhirCondition)
    codes = ctx.codes(item, m.code, "code", "a Condition's code")
    morphology: list[Coding] = []
    for ext in m.extension or []:
        if ext.url == HISTOLOGY_EXTENSION:
            morphology.extend(c for c in _codings(ext.valueCodeableConcept)
                              if c.system != "text")
    morphology.extend(c for c in codes if c.system == "icdo3" and "/" in c.code
                      and c not in morphology)
    onset = _date(m.onsetDateTime) or (_period(m.onsetPeriod)[0] if m.onsetPeriod else None)
    abatement = _date(m.abatementDateTime)
    if abatement is None and m.abatementPeriod is not None:
        start, end = _period(m.abatementPeriod)
        abatement = end or start
    clinical = ctx.status_code(item, m.clinicalStatus, "clinicalStatus", _CONDITION_CLINICAL)
    verification = ctx.status_code(item, m.verificationStatus, "verificationStatus",
                                   _CONDITION_VERIFICATION)
    if not codes:
        return None
    return ctx.build(item, Condition, id=item.rid, codes=codes, onset=onset,
                     abatement=abatement, clinical_status=clinical,
                     verification_status=verification, stages=stages,
                     morphology=tuple(morphology),
                     severity=_coded(m.severity, cast(dict[tuple[str, str], Any], _SEVERITIES)),
                     body_sites=_unique_codings(m.bodySite))


INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
# v3 ObservationInterpretation: DET is a child of POS, ND of NEG, E (equivocal) of IND.
_PRESENCE = {"POS": "positive", "DET": "positive", "NEG": "negative", "ND": "negative",
             "IND": "indeterminate", "E": "indeterminate"}


def _interpretation(concepts: Sequence[CodeableConcept] | None) -> str | None:
    """The result's reading as positive, negative or indeterminate, when the laboratory's
    interpretation says one (high, low and normal flags say none of these)."""
    for concept in concepts or []:
        for c in concept.coding or []:
            if c.system == INTERPRETATION_SYSTEM and c.code in _PRESENCE:
                return _PRESENCE[c.code]
    return None


def _observations(item: _Item, ctx: _Ctx) -> list[Observation]:
    m = _model(item, FhirObservation)
    codes = ctx.codes(item, m.code, "code", "an Observation's code")
    status = ctx.choice(item, m.status, "status", _OBSERVATION_STATUS)
    date = ctx.index.observed(item)
    out: list[Observation] = []
    if codes and _has_value(m):
        value, unit = _value(m)
        low, high = _reference_range(m.referenceRange, unit)
        record = ctx.build(item, Observation, id=item.rid, codes=codes, value=value, unit=unit,
                           reference_low=low, reference_high=high, date=date, status=status,
                           interpretation=_interpretation(m.interpretation))
        if record is not None:
            out.append(record)
    for i, component in enumerate(m.component or []):
        if not _has_value(component):
            continue
        parts = ctx.codes(item, component.code, f"component[{i}].code",
                          "an Observation component's code")
        if not parts:
            continue
        value, unit = _value(component)
        low, high = _reference_range(component.referenceRange, unit)
        record = ctx.build(item, Observation, id=item.rid, codes=parts, value=value, unit=unit,
                           reference_low=low, reference_high=high, date=date, status=status,
                           interpretation=_interpretation(component.interpretation))
        if record is not None:
            out.append(record)
    return out


def _medication_codes(item: _Item, ctx: _Ctx, concept: CodeableConcept | None,
                      ref: Reference | None, path: str) -> list[Coding]:
    """A medication's codes: the concept, else the referenced (contained or bundled)
    Medication's code and its ingredients' codes."""
    if concept is not None:
        return ctx.codes(item, concept, path + "CodeableConcept", "the medication")
    if ref is None:
        ctx.issue(item, path + "[x]", "missing: eligo needs the medication")
        return []
    med: FhirMedication | None = None
    if ref.reference and ref.reference.startswith("#"):
        holder = cast(FhirMedicationStatement | FhirMedicationRequest, item.model)
        med = next((r for r in holder.contained or [] if isinstance(r, FhirMedication)
                    and r.id == ref.reference[1:]), None)
    else:
        target = ctx.index.resolve(ref)
        if target is not None and isinstance(target.model, FhirMedication):
            med = target.model
        elif target is not None:
            return []  # an invalid Medication: its own problems are reported
    if med is None:
        if ref.display:
            return [Coding(system="text", code=ref.display, display=ref.display)]
        ctx.issue(item, path + "Reference", "names a Medication that is not in the input; "
                  "eligo needs the medication's codes", ref.reference)
        return []
    codes = _codings(med.code)
    for ingredient in med.ingredient or []:
        codes.extend(c for c in _codings(ingredient.itemCodeableConcept)
                     if c not in codes and c.system != "text")
    if not codes:
        ctx.issue(item, path + "Reference", "the Medication it names has no coded code",
                  ref.reference)
    return codes


def _as_needed(dosages: Sequence[Dosage] | None) -> bool | None:
    """Taken only as needed (PRN): every dosage says so. Taken regularly: a dosage says
    `asNeededBoolean: false`, or none is as needed and one has a repeating schedule
    (`timing.repeat` with a frequency). Otherwise not stated."""
    if not dosages:
        return None
    prn = [d.asNeededBoolean is True or d.asNeededCodeableConcept is not None
           for d in dosages]
    if all(prn):
        return True
    if any(d.asNeededBoolean is False for d in dosages):
        return False
    scheduled = any(d.timing is not None and d.timing.repeat is not None
                    and d.timing.repeat.frequency is not None for d in dosages)
    return False if not any(prn) and scheduled else None


def _daily_dose(dosages: Sequence[Dosage] | None) -> tuple[float | None, str | None]:
    """The total dose per day and its mass unit, when the dosage states it unambiguously:
    one dosage, not as needed, one `doseQuantity` in mg, g or ug (no comparator), and a
    `timing.repeat` with an explicit `frequency` per `period` of hours or days that gives a
    whole number of doses every day (5 mg, frequency 2, period 1 d: 10 mg). Anything else
    (a dose range, tablets, a weekly or tapering schedule, free text) gives none."""
    if not dosages or len(dosages) != 1:
        return None, None
    dosage = dosages[0]
    if dosage.asNeededBoolean or dosage.asNeededCodeableConcept is not None:
        return None, None
    doses = [d.doseQuantity for d in dosage.doseAndRate or [] if d.doseQuantity is not None]
    if len(doses) != 1 or any(d.doseRange is not None for d in dosage.doseAndRate or []):
        return None, None
    dose = doses[0]
    amount = dose.value
    unit = _MASS_UNITS.get(_unit(dose) or "")
    if unit is None or dose.comparator or not isinstance(amount, Decimal | int) \
            or isinstance(amount, bool) or amount < 0:
        return None, None
    repeat = dosage.timing.repeat if dosage.timing is not None else None
    if repeat is None or repeat.frequency is None or repeat.period is None \
            or repeat.frequencyMax is not None or repeat.periodMax is not None \
            or repeat.dayOfWeek:
        return None, None
    hours = _PERIOD_HOURS.get(repeat.periodUnit or "")
    if hours is None or Decimal(repeat.period) <= 0:
        return None, None
    per_day = Decimal(repeat.frequency) * 24 / (Decimal(repeat.period) * hours)
    if per_day < 1 or per_day != per_day.to_integral_value():
        return None, None
    times = len(repeat.when or []) + len(repeat.timeOfDay or [])
    if times > 1 and times != per_day:
        return None, None  # "twice a day" at three times of day
    return float(Decimal(amount) * per_day), unit


def _statement(item: _Item, ctx: _Ctx) -> Medication | None:
    m = _model(item, FhirMedicationStatement)
    codes = _medication_codes(item, ctx, m.medicationCodeableConcept, m.medicationReference,
                              "medication")
    start = _date(m.effectiveDateTime)
    end = None
    if m.effectivePeriod is not None:
        start, end = _period(m.effectivePeriod)
    status = ctx.choice(item, m.status, "status", _STATEMENT_STATUS)
    if not codes:
        return None
    daily, unit = _daily_dose(m.dosage)
    return ctx.build(item, Medication, id=item.rid, codes=codes, start=start, end=end,
                     status=status, daily_dose=daily, dose_unit=unit,
                     as_needed=_as_needed(m.dosage))


def _request(item: _Item, ctx: _Ctx) -> Medication | None:
    m = _model(item, FhirMedicationRequest)
    codes = _medication_codes(item, ctx, m.medicationCodeableConcept, m.medicationReference,
                              "medication")
    status: str | None = None
    if m.status is not None:
        status = _REQUEST_STATUS.get(m.status)
        if status is None:
            ctx.issue(item, "status", "is not one of " + ", ".join(_REQUEST_STATUS), m.status)
    if m.doNotPerform:
        status = "not-taken"  # an order not to give it
    elif m.intent in ("proposal", "plan", "option") and status not in ("entered-in-error",):
        status = "intended"  # a suggestion or plan, not an order to take it
    if not codes:
        return None
    daily, unit = _daily_dose(m.dosageInstruction)
    return ctx.build(item, Medication, id=item.rid, codes=codes, start=_date(m.authoredOn),
                     status=status, daily_dose=daily, dose_unit=unit,
                     as_needed=_as_needed(m.dosageInstruction))


def _procedure(item: _Item, ctx: _Ctx) -> Procedure | None:
    m = _model(item, FhirProcedure)
    codes = ctx.codes(item, m.code, "code", "a Procedure's code")
    date = _date(m.performedDateTime)
    if date is None and m.performedPeriod is not None:
        start, end = _period(m.performedPeriod)
        date = start or end
    status = ctx.choice(item, m.status, "status", _PROCEDURE_STATUS)
    if not codes:
        return None
    return ctx.build(item, Procedure, id=item.rid, codes=codes, date=date, status=status,
                     body_sites=_unique_codings(m.bodySite))


def _allergy(item: _Item, ctx: _Ctx) -> Allergy | None:
    m = _model(item, FhirAllergy)
    codes = ctx.codes(item, m.code, "code", "an AllergyIntolerance's code")
    kind = ctx.choice(item, m.type, "type", ("allergy", "intolerance"))
    categories = list(m.category or [])
    category = ctx.choice(item, categories[0] if categories else None, "category[0]",
                          ("medication", "food", "environment", "biologic"))
    clinical = ctx.status_code(item, m.clinicalStatus, "clinicalStatus", _ALLERGY_CLINICAL)
    verification = ctx.status_code(item, m.verificationStatus, "verificationStatus",
                                   _ALLERGY_VERIFICATION)
    onset = _date(m.onsetDateTime) or (_period(m.onsetPeriod)[0] if m.onsetPeriod else None)
    reactions = _unique_codings(manifestation for reaction in m.reaction or []
                                for manifestation in reaction.manifestation or [])
    severities: list[str] = []
    for i, reaction in enumerate(m.reaction or []):
        severity = ctx.choice(item, reaction.severity, f"reaction[{i}].severity",
                              _REACTION_SEVERITY)
        if severity is not None:
            severities.append(severity)
    if not codes:
        return None
    return ctx.build(item, Allergy, id=item.rid, codes=codes, type=kind, category=category,
                     clinical_status=clinical, verification_status=verification, onset=onset,
                     reactions=reactions,
                     severity=max(severities, key=_REACTION_SEVERITY.index, default=None))


_REACTION_SEVERITY = ("mild", "moderate", "severe")  # FHIR reaction-event-severity, in order


def _unique_codings(concepts: Iterable[CodeableConcept] | None) -> tuple[Coding, ...]:
    """The codings of ``concepts`` (body sites, reaction manifestations), each once."""
    found: list[Coding] = []
    for concept in concepts or []:
        found.extend(c for c in _codings(concept) if c not in found)
    return tuple(found)


_NCT = re.compile(r"^NCT\d{8}$", re.IGNORECASE)


def _study_id(study: FhirResearchStudy | None, ref: Reference) -> str | None:
    identifiers = list(study.identifier or []) if study is not None else []
    if ref.identifier is not None:
        identifiers.append(ref.identifier)
    values = [i.value.strip() for i in identifiers if i.value and i.value.strip()]
    for value in values:
        if _NCT.match(value):
            return value.upper()
    return values[0] if values else None


def _research(item: _Item, ctx: _Ctx) -> ResearchParticipation | None:
    m = _model(item, FhirResearchSubject)
    target = ctx.index.resolve(m.study)
    study = target.model if target is not None and isinstance(
        target.model, FhirResearchStudy) else None
    name = _study_id(study, m.study) or m.study.reference or m.study.display
    if not name:
        ctx.issue(item, "study", "names no study: eligo needs the study's identifier or a "
                  "reference to it")
        return None
    status = ctx.choice(item, m.status, "status", _RESEARCH_STATUS)
    start, end = _period(m.period)
    return ctx.build(item, ResearchParticipation, id=item.rid, study=name, status=status,
                     start=start, end=end, study_type=_study_type(study))


def _study_type(study: FhirResearchStudy | None) -> str | None:
    """Interventional or observational, when the study's `category` says so in a coding or
    its text (R4 binds no code system to it; registries' exports write the word)."""
    words: list[str] = []
    for concept in (study.category or []) if study is not None else []:
        words.extend(c.code or c.display or "" for c in concept.coding or [])
        words.append(concept.text or "")
    said = {t for t in ("interventional", "observational")
            if any(t in w.casefold() for w in words)}
    return said.pop() if len(said) == 1 else None


def _planned_procedure(item: _Item, ctx: _Ctx) -> PlannedProcedure | None:
    """A ServiceRequest that plans or orders something (not an option, nor an order not
    to do it), scheduled on its occurrenceDateTime or its occurrencePeriod's start."""
    m = _model(item, FhirServiceRequest)
    if m.intent not in _PLANNING_INTENTS or m.doNotPerform:
        return None
    codes = ctx.codes(item, m.code, "code", "a ServiceRequest's code")
    status = ctx.choice(item, m.status, "status", _SERVICE_REQUEST_STATUS)
    date = _date(m.occurrenceDateTime) or _period(m.occurrencePeriod)[0]
    if not codes:
        return None
    return ctx.build(item, PlannedProcedure, id=item.rid, codes=codes, date=date, status=status)


def _relative(cc: CodeableConcept) -> Relationship:
    for c in cc.coding or []:
        if (c.system or "").rstrip("/") in (*ROLE_CODE, ""):
            found = _RELATIVES.get((c.code or "").strip())
            if found is not None:
                return found
    return "other_relative"


def _age_years(age: Quantity | None) -> float | None:
    value = _decimal(age.value) if age is not None else None
    if age is None or value is None:
        return None
    factor = _AGE_YEARS.get((age.code or age.unit or "").strip())
    return None if factor is None else round(value * factor, 2)


def _family_history(item: _Item, ctx: _Ctx) -> list[FamilyHistory]:
    """One record per condition of the relative; entered-in-error histories are skipped."""
    m = _model(item, FhirFamilyHistory)
    if m.status == "entered-in-error":
        return []
    relationship = _relative(m.relationship)
    out: list[FamilyHistory] = []
    for i, condition in enumerate(m.condition or []):
        codes = ctx.codes(item, condition.code, f"condition[{i}].code",
                          "a family member's condition")
        if not codes:
            continue
        record = ctx.build(item, FamilyHistory, id=item.rid, relationship=relationship,
                           codes=codes, onset_age_years=_age_years(condition.onsetAge))
        if record is not None:
            out.append(record)
    return out


def _grade_of(cc: CodeableConcept | None, trust_numbers: bool) -> int | None:
    """A CTCAE grade from a concept: NCIt grade codes, grade code systems, `Grade 3`."""
    if cc is None:
        return None
    for c in cc.coding or []:
        code = (c.code or "").strip()
        if code in _NCIT_GRADES:
            return _NCIT_GRADES[code]
        if code.isdigit() and (trust_numbers or (c.system or "") in _GRADE_SYSTEMS):
            return int(code)
    for text in [cc.text, *(c.display for c in cc.coding or [])]:
        m = re.search(r"\bgrade\s*([0-5])\b", text or "", re.IGNORECASE)
        if m:
            return int(m.group(1))
    return None


def _adverse_event(item: _Item, ctx: _Ctx) -> AdverseEvent | None:
    m = _model(item, FhirAdverseEvent)
    if m.actuality == "potential":
        return None  # a near miss: nothing happened to the patient
    codes = ctx.codes(item, m.event, "event", "an AdverseEvent's event")
    grade: int | None = None
    resolved: dt.date | None = None
    for i, ext in enumerate(m.extension or []):
        if ext.url in GRADE_EXTENSIONS:
            found = (int(ext.valueInteger) if ext.valueInteger is not None
                     else _grade_of(ext.valueCodeableConcept, trust_numbers=True))
            if found is not None and not 0 <= found <= 5:
                ctx.issue(item, f"extension[{i}]", "is not a CTCAE grade (0 to 5)", found)
            elif found is None and not ext.url.endswith("/severity-or-grade"):
                ctx.issue(item, f"extension[{i}]", "holds no CTCAE grade (0 to 5)")
            else:
                grade = found
        elif ext.url == RESOLVE_DATE_EXTENSION:
            resolved = _date(ext.valueDateTime)
    if grade is None:
        grade = _grade_of(m.severity, trust_numbers=False)
    outcome = _codes_in(m.outcome)
    current: int | None = None
    assessed = _date(m.recordedDate)
    if outcome & _RESOLVED_OUTCOMES or resolved is not None or grade == 0:
        current = 0  # grade 0: assessed, no adverse event
    if not codes:
        return None
    return ctx.build(item, AdverseEvent, id=item.rid, codes=codes,
                     onset=_date(m.date) or _date(m.detected), resolved=resolved,
                     grade=grade or None, current_grade=current,
                     assessed=assessed if current is not None else None)


def _place(m: FhirEncounter, entry: EncounterLocation, index: _Index) -> FhirLocation | None:
    """The Location an Encounter's location entry names: contained, or in the input."""
    ref = entry.location.reference
    if ref and ref.startswith("#"):
        return next((r for r in m.contained or [] if isinstance(r, FhirLocation)
                     and r.id == ref[1:]), None)
    target = index.resolve(entry.location)
    return target.model if target is not None and isinstance(target.model, FhirLocation) \
        else None


def _setting(m: FhirEncounter, index: _Index) -> EncounterSetting | None:
    """The setting: intensive care, palliative care or long-term care when a code says so
    (type, serviceType, reasonCode, a location's physicalType, a Location's type or
    physicalType), else the one its class names (v3 ActCode), else none."""
    concepts: list[CodeableConcept] = [*(m.type or []), *(m.reasonCode or [])]
    if m.serviceType is not None:
        concepts.append(m.serviceType)
    for entry in m.location or []:
        if entry.status in ("planned", "reserved"):
            continue  # not (yet) there
        place = _place(m, entry, index)
        concepts.extend(cc for cc in (entry.physicalType, *(place.type or [] if place else []),
                                      place.physicalType if place else None)
                        if cc is not None)
    coded = {_SPECIFIC_SETTINGS.get(((c.system or "").rstrip("/"), (c.code or "").strip()))
             for cc in concepts for c in cc.coding or []}
    for setting in _SETTING_RANK:
        if setting in coded:
            return setting
    kind = m.class_fhir
    if kind.system is not None and kind.system.rstrip("/") not in ACT_CODE:
        return None
    return _CLASS_SETTINGS.get((kind.code or "").strip())


def _encounter(item: _Item, ctx: _Ctx) -> Encounter | None:
    m = _model(item, FhirEncounter)
    setting = _setting(m, ctx.index)
    if setting is None:
        return None  # a class that names no eligo setting (field, short stay, ...)
    status = ctx.choice(item, m.status, "status", _ENCOUNTER_STATUS)
    start, end = _period(m.period)
    reasons = [c for cc in m.reasonCode or [] for c in _codings(cc) if c.system != "text"]
    for ref in m.reasonReference or []:
        target = ctx.index.resolve(ref)
        if target is not None and isinstance(target.model, FhirCondition):
            reasons.extend(c for c in _codings(target.model.code) if c.system != "text")
    return ctx.build(item, Encounter, id=item.rid, setting=setting, start=start, end=end,
                     status=status, reasons=tuple(dict.fromkeys(reasons)))


def _immunization(item: _Item, ctx: _Ctx) -> Immunization | None:
    m = _model(item, FhirImmunization)
    codes = ctx.codes(item, m.vaccineCode, "vaccineCode", "an Immunization's vaccine")
    status = ctx.choice(item, m.status, "status", _IMMUNIZATION_STATUS)
    if not codes:
        return None
    return ctx.build(item, Immunization, id=item.rid, codes=codes,
                     date=_date(m.occurrenceDateTime), status=status)


# ---- patient-level facts: demographics, pregnancy, stages, biomarkers --------------------


@cache
def _country(text: str) -> str | None:
    key = text.strip()
    alias = _COUNTRY_ALIASES.get(key.upper())
    if alias:
        return alias
    try:
        country = pycountry.countries.lookup(key)
    except LookupError:
        return None
    return str(country.alpha_2)


def _subdivisions(**where: str) -> Any:
    # pycountry's subdivision lookup is untyped; it returns one record, a set or None.
    return pycountry.subdivisions.get(**where)  # type: ignore[no-untyped-call]


@cache
def _region(country: str, text: str) -> str | None:
    key = text.strip()
    if not key:
        return None
    for code in (key.upper(), f"{country}-{key.upper()}"):
        sub = _subdivisions(code=code)
        if sub is not None and sub.country_code == country:
            return str(sub.code)
    wanted = key.casefold()
    for sub in _subdivisions(country_code=country) or ():
        if sub.name.casefold() == wanted:
            return str(sub.code)
    return None


def _demographics(item: _Item, ctx: _Ctx) -> dict[str, Any]:
    m = _model(item, FhirPatient)
    languages: list[str] = []
    for comm in m.communication or []:
        for c in comm.language.coding or []:
            if c.code and (c.system is None or c.system.rstrip("/") == BCP47) \
                    and c.code not in languages:
                languages.append(c.code)
    addresses: list[Address] = []
    for i, address in enumerate(m.address or []):
        if not address.country:
            continue  # no country: nothing eligo can place
        country = _country(address.country)
        if country is None:
            ctx.issue(item, f"address[{i}].country", "is not a country name or ISO 3166 "
                      "code that eligo can read", address.country)
            continue
        region = _region(country, address.state) if address.state else None
        start, end = _period(address.period)
        record = ctx.build(item, Address, country=country, region=region, start=start, end=end)
        if record is not None:
            addresses.append(record)
    races: list[Race] = []
    ethnicity: Ethnicity | None = None
    for ext in m.extension or []:
        if ext.url == US_CORE_RACE:
            races.extend(r for r in _omb_categories(ext, _RACES) if r not in races)
        elif ext.url == US_CORE_ETHNICITY:
            ethnicity = ethnicity or next(iter(_omb_categories(ext, _ETHNICITIES)), None)
    return {"birth_date": _date(m.birthDate), "sex": m.gender,
            "languages": tuple(languages), "addresses": tuple(addresses),
            "race": tuple(races), "ethnicity": ethnicity,
            "marital_status": _marital_status(m.maritalStatus)}


def _marital_status(cc: CodeableConcept | None) -> MaritalStatus | None:
    """The first coding of the FHIR marital-status value set (v3 MaritalStatus, or v3
    NullFlavor UNK; a coding without a system is read the same way); others are not read."""
    for c in (cc.coding or []) if cc is not None else []:
        system = (c.system or "").rstrip("/")
        code = (c.code or "").strip()
        if code == "UNK" and (system in NULL_FLAVOR or not system):
            return "unknown"
        if (system in MARITAL_STATUS or not system) and code in _MARITAL:
            return _MARITAL[code]
    return None


def _omb_categories(ext: Extension, table: Mapping[str, A]) -> list[A]:
    """The OMB categories of a US Core race or ethnicity extension's `ombCategory` codings
    (CDC Race & Ethnicity codes); other codes (UNK, ASKU, a race code in the ethnicity
    extension or the reverse) are not read."""
    out: list[A] = []
    for sub in ext.extension or []:
        c = sub.valueCoding
        if sub.url != "ombCategory" or c is None \
                or (c.system or "").rstrip("/") not in CDC_RACE_ETHNICITY:
            continue
        hit = table.get((c.code or "").strip())
        if hit is not None:
            out.append(hit)
    return out


def _usable(m: FhirObservation) -> bool:
    return m.status not in _VOID


def _answer(cc: CodeableConcept | None, table: dict[str, A]) -> A | None:
    """The first coding of a coded answer that ``table`` knows, in the order written."""
    for c in (cc.coding or []) if cc is not None else []:
        hit = table.get((c.code or "").strip())
        if hit is not None:
            return hit
    return None


def _pregnancy(items: list[_Item], index: _Index) -> PregnancyStatus | None:
    found: list[PregnancyStatus] = []
    for item in items:
        m = _model(item, FhirObservation)
        if not (_has_code(m.code, LOINC, PREGNANCY_STATUS) and _usable(m)):
            continue
        status = _answer(m.valueCodeableConcept, _PREGNANCY_ANSWERS)
        if status is not None:
            found.append(PregnancyStatus(status=status, date=index.observed(item)))
    return max(found, key=lambda p: p.date or dt.date.min) if found else None


def _breastfeeding(items: list[_Item], index: _Index) -> BreastfeedingStatus | None:
    found: list[BreastfeedingStatus] = []
    for item in items:
        m = _model(item, FhirObservation)
        if not (_has_code(m.code, LOINC, BREASTFEEDING_STATUS) and _usable(m)):
            continue
        status: Literal["breastfeeding", "not_breastfeeding", "unknown"] | None
        if m.valueBoolean is not None:
            status = "breastfeeding" if m.valueBoolean else "not_breastfeeding"
        else:
            status = _answer(m.valueCodeableConcept, _BREASTFEEDING_ANSWERS)
        if status is not None:
            found.append(BreastfeedingStatus(status=status, date=index.observed(item)))
    return max(found, key=lambda p: p.date or dt.date.min) if found else None


_ROMAN = ("0", "I", "II", "III", "IV")
_GROUP_LABEL = re.compile(r"\b(?:stage\s+)?(0|IV|I{1,3})(is|a|[A-Da-d])?([1-3])?\b")
_GROUP_WORDED = re.compile(r"\bstage\s+(0|IV|I{1,3})(is|a|[A-Da-d])?([1-3])?\b", re.IGNORECASE)
_TNM_LABEL = {axis: re.compile(rf"\b((?:y|r|a)?[cp]?{axis}(?:X|0|is|[1-4])(?:mi|[a-e])?)"
                               r"(?![A-Za-z0-9])") for axis in ("T", "N", "M")}


def _stage_label(axis: Axis, cc: CodeableConcept | None) -> str | None:
    """A stage group or TNM category as eligo reads it (`IIIC`, `cT3`), from an AJCC code
    (`3C`), a SNOMED CT display (`American Joint Committee on Cancer cT3`) or text."""
    if cc is None:
        return None
    texts: list[str] = []
    for c in cc.coding or []:
        code = (c.code or "").strip()
        if (c.system or "").rstrip("/") == AJCC and code:
            if axis == "group":
                m = re.fullmatch(r"([0-4])(.*)", code)
                if m:
                    return _ROMAN[int(m.group(1))] + m.group(2)
            return code
        texts.extend(t for t in (c.display, code) if t)
    if cc.text:
        texts.insert(0, cc.text)
    for text in texts:
        if axis == "group":
            m = _GROUP_WORDED.search(text) or _GROUP_LABEL.fullmatch(text.strip())
            if m:
                return m.group(1).upper() + (m.group(2) or "") + (m.group(3) or "")
        else:
            hit = _TNM_LABEL[axis].search(text)
            if hit:
                return hit.group(1)
    return texts[0].strip() if texts else None


@dataclass
class _StagingObs:
    item: _Item
    axis: Axis
    basis: Basis | None
    label: str | None
    date: dt.date | None
    system: str | None
    focus: list[_Item]
    members: list[_Item]


def _staging_observation(item: _Item, index: _Index) -> _StagingObs | None:
    m = _model(item, FhirObservation)
    kind = _coded(m.code, cast(dict[tuple[str, str], Any], _STAGING_CODES))
    if kind is None or not _usable(m):
        return None
    axis, basis = kind
    system = _coded(m.method, cast(dict[tuple[str, str], Any], _STAGING_SYSTEMS))
    if system is None and m.method is not None:
        system = m.method.text or next((c.display for c in m.method.coding or []
                                        if c.display), None)
    focus = [t for t in (index.resolve(r) for r in m.focus or []) if t is not None
             and t.type == "Condition"]
    members = [t for t in (index.resolve(r) for r in m.hasMember or []) if t is not None
               and t.type == "Observation"]
    return _StagingObs(item, axis, basis, _stage_label(axis, m.valueCodeableConcept),
                       index.observed(item), system, focus, members)


def _stage_from(parts: Sequence[_StagingObs], basis: Basis | None = None,
                group: str | None = None) -> Stage:
    labels: dict[str, str | None] = {"group": group, "T": None, "N": None, "M": None}
    system = date = None
    for p in parts:
        labels[p.axis] = labels[p.axis] or p.label
        basis = basis or p.basis
        system = system or p.system
        date = date or p.date
    return Stage(basis=basis, group=labels["group"], t=labels["T"], n=labels["N"],
                 m=labels["M"], system=system, date=date)


def _stages(condition: _Item, staging: dict[int, _StagingObs], index: _Index
            ) -> tuple[Stage, ...]:
    """Condition.stage entries (with the observations they cite), then staging observations
    whose `focus` is the condition; a stage group observation brings its T/N/M members."""
    m = _model(condition, FhirCondition)
    used: set[int] = set()
    out: list[Stage] = []

    def with_members(obs: _StagingObs) -> list[_StagingObs]:
        parts = [obs]
        for member in obs.members:
            found = staging.get(id(member))
            if found is not None and found.axis != "group":
                parts.append(found)
                used.add(id(member))
        used.add(id(obs.item))
        return parts

    for s in m.stage or []:
        parts: list[_StagingObs] = []
        for ref in s.assessment or []:
            target = index.resolve(ref)
            found = staging.get(id(target)) if target is not None else None
            if found is not None:
                parts.extend(with_members(found))
        basis = _coded(s.type, cast(dict[tuple[str, str], Any], _STAGE_TYPES))
        group = _stage_label("group", s.summary) if s.summary is not None else None
        if group or parts:
            out.append(_stage_from(parts, basis, group))
    focused = [obs for obs in staging.values() if any(f is condition for f in obs.focus)]
    for obs in focused:
        if obs.axis == "group" and id(obs.item) not in used:
            out.append(_stage_from(with_members(obs)))
    loose: dict[tuple[Basis | None, dt.date | None], list[_StagingObs]] = {}
    for obs in focused:
        if id(obs.item) not in used:
            loose.setdefault((obs.basis, obs.date), []).append(obs)
    out.extend(_stage_from(parts) for parts in loose.values())
    return tuple(out)


def _gene(cc: CodeableConcept | None) -> str | None:
    """An HGNC symbol from a gene concept (its display, a symbol-like code, or its text)."""
    if cc is None:
        return None
    symbol = re.compile(r"[A-Za-z][A-Za-z0-9\-]{0,19}")
    for c in cc.coding or []:
        if c.system and "genenames.org" not in c.system:
            continue  # a sequence or other identifier, not an HGNC gene
        if c.display and symbol.fullmatch(c.display.strip()):
            return c.display.strip()
        code = (c.code or "").strip()
        if code and not code.upper().startswith("HGNC:") and symbol.fullmatch(code):
            return code
    if cc.text and symbol.fullmatch(cc.text.strip()):
        return cc.text.strip()
    return None


def _result(m: FhirObservation) -> Literal["positive", "negative", "indeterminate"] | None:
    """A result's polarity: a boolean, else the first answer code, display or text (in the
    order written) that reads as positive, negative or indeterminate."""
    if m.valueBoolean is not None:
        return "positive" if m.valueBoolean else "negative"
    words: list[str] = []
    cc = m.valueCodeableConcept
    for c in (cc.coding or []) if cc is not None else []:
        words.extend(w for w in ((c.code or "").strip(), (c.display or "").strip().lower())
                     if w)
    words.extend(w.strip().lower() for w in (cc.text if cc else None, m.valueString) if w)
    for word in words:
        if word in _POSITIVE:
            return "positive"
        if word in _NEGATIVE:
            return "negative"
        if word in _INDETERMINATE:
            return "indeterminate"
    return None


def _concept_text(cc: CodeableConcept | None) -> str | None:
    if cc is None:
        return None
    if cc.text and cc.text.strip():
        return cc.text.strip()
    for c in cc.coding or []:
        for text in (c.display, c.code):
            if text and text.strip():
                return text.strip()
    return None


def _sub(ext: Extension, name: str) -> Extension | None:
    return next((e for e in ext.extension or [] if e.url == name), None)


def _biomarker(item: _Item, index: _Index) -> Biomarker | None:
    """A tumour biomarker, when the observation says clearly which gene or marker: the R4
    genetics extensions, a `Gene studied` (48018-6) component, or a tumour-marker LOINC."""
    m = _model(item, FhirObservation)
    if not _usable(m):
        return None
    gene: str | None = None
    alteration: str | None = None
    for ext in m.extension or []:
        if ext.url == GENE_EXTENSION:
            gene = _gene(ext.valueCodeableConcept)
        elif ext.url in (AMINO_ACID_EXTENSION, VARIANT_EXTENSION):
            name = _sub(ext, "Name")
            if name is not None:
                alteration = _concept_text(name.valueCodeableConcept) or name.valueString
    for component in m.component or []:
        if _has_code(component.code, LOINC, GENE_STUDIED):
            gene = gene or _gene(component.valueCodeableConcept)
    if gene is not None and alteration is None:
        for code in _VARIANT_COMPONENTS:
            variant = next((c for c in m.component or []
                            if _has_code(c.code, LOINC, code)), None)
            if variant is not None:
                alteration = _concept_text(variant.valueCodeableConcept) or variant.valueString
                if alteration:
                    break
    if gene is None:
        gene = next((_MARKER_TESTS[c.code] for c in (m.code.coding or [])
                     if c.system == LOINC and c.code in _MARKER_TESTS), None)
    result = _result(m)
    if gene is None or result is None:
        return None  # not a tumour-marker result eligo can read (a genotype, a phenotype...)
    condition = next((t.rid for t in (index.resolve(r) for r in m.focus or [])
                      if t is not None and t.type == "Condition"), None)
    return Biomarker(id=item.rid, gene=gene,
                     alteration=_short_protein_change(alteration) if alteration else None,
                     result=result, date=index.observed(item) or _date(m.issued),
                     condition=condition)


def _disease_status(item: _Item, index: _Index) -> DiseaseStatus | None:
    """An mCODE CancerDiseaseStatus (LOINC 97509-4) whose value is one of the five SNOMED CT
    answers; `focus` on a Condition gives the condition it concerns."""
    m = _model(item, FhirObservation)
    if not (_has_code(m.code, LOINC, DISEASE_STATUS) and _usable(m)):
        return None
    status = _coded(m.valueCodeableConcept, cast(dict[tuple[str, str], Any], _DISEASE_STATUSES))
    if status is None:
        return None
    condition = next((t.rid for t in (index.resolve(r) for r in m.focus or [])
                      if t is not None and t.type == "Condition"), None)
    return DiseaseStatus(id=item.rid, condition=condition, status=status,
                         date=index.observed(item))


def _patient(key: str, items: list[_Item], ctx: _Ctx) -> Patient | None:
    """One patient's profile from the resources that concern them."""
    by_type: dict[str, list[_Item]] = {}
    for item in items:
        ctx.issues.extend(item.issues)
        if item.model is not None:
            by_type.setdefault(item.type, []).append(item)
    fields: dict[str, Any] = {"id": key}
    patients = by_type.get("Patient", [])
    if patients:
        fields.update(_demographics(patients[0], ctx))
    observations = by_type.get("Observation", [])
    staging = {id(s.item): s for s in (_staging_observation(o, ctx.index)
                                       for o in observations) if s is not None}
    conditions = [_condition(c, ctx, _stages(c, staging, ctx.index))
                  for c in by_type.get("Condition", [])]
    medications = [_statement(i, ctx) for i in by_type.get("MedicationStatement", [])]
    medications += [_request(i, ctx) for i in by_type.get("MedicationRequest", [])]
    fields.update(
        conditions=tuple(c for c in conditions if c is not None),
        medications=tuple(x for x in medications if x is not None),
        procedures=tuple(p for p in (_procedure(i, ctx) for i in by_type.get("Procedure", []))
                         if p is not None),
        observations=tuple(o for i in observations for o in _observations(i, ctx)),
        allergies=tuple(a for a in (_allergy(i, ctx) for i in by_type.get(
            "AllergyIntolerance", [])) if a is not None),
        research=tuple(r for r in (_research(i, ctx) for i in by_type.get(
            "ResearchSubject", [])) if r is not None),
        adverse_events=tuple(e for e in (_adverse_event(i, ctx) for i in by_type.get(
            "AdverseEvent", [])) if e is not None),
        encounters=tuple(e for e in (_encounter(i, ctx) for i in by_type.get(
            "Encounter", [])) if e is not None),
        immunizations=tuple(x for x in (_immunization(i, ctx) for i in by_type.get(
            "Immunization", [])) if x is not None),
        biomarkers=tuple(b for b in (_biomarker(o, ctx.index) for o in observations)
                         if b is not None),
        pregnancy=_pregnancy(observations, ctx.index),
        breastfeeding=_breastfeeding(observations, ctx.index),
    )
    fields.update(
        planned_procedures=tuple(x for x in (_planned_procedure(i, ctx) for i in by_type.get(
            "ServiceRequest", [])) if x is not None),
        family_history=tuple(f for i in by_type.get("FamilyMemberHistory", [])
                             for f in _family_history(i, ctx)),
        disease_statuses=tuple(s for s in (_disease_status(o, ctx.index) for o in observations)
                               if s is not None),
    )
    if ctx.issues:
        return None
    return ctx.build(patients[0] if patients else items[0], Patient, **fields)


# ---- entry points -----------------------------------------------------------------------


def _loose_issue(item: _Item) -> FieldIssue:
    if item.type == "Patient":
        return FieldIssue(item.where, "has no id, so eligo cannot name the patient")
    name = _SUBJECT_FIELD[item.type]
    ref = cast(Reference | None, getattr(item.model, name, None))
    if ref is not None and ref.reference:
        return FieldIssue(f"{item.where}.{name}", "does not name a Patient in the input (nor "
                          "Patient/<id>), so the resource cannot be given to one",
                          _shown(ref.reference))
    return FieldIssue(f"{item.where}.{name}", "names no patient (no reference), so the "
                      "resource cannot be given to one")


def _convert(inp: _Input, origin: str) -> Iterator[Patient | PatientDataError]:
    """Every patient of the input, or the error that stops each one; problems that belong
    to no patient come first, as one error."""
    index = _Index(inp.items)
    groups, loose = _group(inp, index)
    unplaced = list(inp.issues)
    if loose and len(groups) == 1:
        next(iter(groups.values())).items.extend(loose)
    else:
        for item in loose:
            unplaced.extend(item.issues or [_loose_issue(item)])
    if unplaced:
        yield PatientDataError(origin, unplaced)
    for key, group in groups.items():
        ctx = _Ctx(index)
        patient = _patient(key, group.items, ctx)
        if patient is None:
            yield PatientDataError(f"{origin} (Patient/{key})", ctx.issues)
        else:
            yield patient


def patients_from_fhir(data: Any, origin: str = "<data>"
                       ) -> Iterator[Patient | PatientDataError]:
    """Every patient in a Bundle (any type), a resource or a list of resources.

    Yields a :class:`Patient` per patient, or a :class:`PatientDataError` for a patient
    whose resources are invalid (and one for problems that belong to no patient).
    """
    return _convert(_read(data), origin)


def patient_from_fhir(data: Any, origin: str = "<data>") -> Patient:
    """The one patient in a Bundle, a resource or a list of resources.

    Raises :class:`PatientDataError` naming every invalid resource and element, or when
    the input holds no patient or several.
    """
    return _single(_read(data), origin)


def _single(inp: _Input, origin: str) -> Patient:
    groups, _ = _group(inp, _Index(inp.items))
    if len(groups) > 1:
        names = ", ".join(f"Patient/{k}" for k in list(groups)[:5])
        more = f" and {len(groups) - 5} more" if len(groups) > 5 else ""
        problems = [i for g in groups.values() for item in g.items for i in item.issues]
        raise PatientDataError(origin, [*inp.issues, *problems, FieldIssue(
            "(document)", f"holds {len(groups)} patients ({names}{more}); screen one patient "
            "per file, or read them with eligo.fhir.patients_from_fhir")])
    results = list(_convert(inp, origin))
    issues = [i for r in results if isinstance(r, PatientDataError) for i in r.issues]
    patients = [r for r in results if isinstance(r, Patient)]
    if not issues and not patients:
        issues.append(FieldIssue("(document)", "holds no Patient resource and no resource "
                                 "that refers to a patient"))
    if issues:
        raise PatientDataError(origin, issues)
    return patients[0]


def patients_from_ndjson_lines(lines: Iterable[str | bytes], origin: str = "<ndjson>"
                               ) -> Iterator[Patient | PatientDataError]:
    """Patients from FHIR Bulk Data NDJSON (one resource per line, any types, any order),
    grouped by the patient each resource refers to. All lines are read before the first
    patient is yielded, since an export keeps each resource type in its own file."""
    inp = _Input()
    _read_lines(lines, inp)
    inp.finish()
    return _convert(inp, origin)


def _file_lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            yield from handle
    except OSError as exc:
        raise PatientDataError(str(path), [FieldIssue("(file)", exc.strerror or str(exc))]
                               ) from None


def patients_from_ndjson_files(paths: Iterable[Path]) -> Iterator[Patient | PatientDataError]:
    """Patients from the files of a Bulk Data export (`.ndjson`, or `.ndjson.gz`): the
    files are read as one stream, so a patient's resources may be spread over them."""
    inp = _Input()
    names = [Path(p) for p in paths]
    for path in names:
        _read_lines(_file_lines(path), inp, path.name)
    inp.finish()
    return _convert(inp, ", ".join(str(p) for p in names) or "<ndjson>")


def patient_from_ndjson_file(path: Path) -> Patient:
    """The one patient of an NDJSON file (raises PatientDataError for none or several)."""
    inp = _Input()
    _read_lines(_file_lines(path), inp)
    inp.finish()
    return _single(inp, str(path))
