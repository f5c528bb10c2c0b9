"""JSON profiles are validated by a second validator without Python calls where it can be:
whatever it gives must be exactly what the model's own validator gives."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import SchemaValidator

from eligo.patient import (
    _FAST_JSON,
    _NORMALISED,
    Patient,
    patient_from_data,
    patient_from_json,
    read_document,
)
from eligo.terminology import NORMAL_CODE_PATTERNS, normalize_code

ROOT = Path(__file__).resolve().parents[1]

# Off only when a later pydantic lays out its core schema otherwise; profiles then take the
# model's own validator (same results), which the other tests here still check.
needs_fast = pytest.mark.skipif(_FAST_JSON is None, reason="the fast JSON validator is off: "
                                "this pydantic's core schema is laid out otherwise")

CODES = ["K74.60", "k7460", "K7460", " K74.60", "K74.60 ", "K74.60\n", "K74.", "K74", "K7",
         "C00-C14", "c00-c14", "C00-", "-C00", "K74.6X1A", "19943007", "1975-2", "1975-2 ",
         "l04aa06", "L04AA06", "8140/3", "08", "8", "208", "0208", "00", "000", "ABC", "",
         "Ä74.60", "K74.60\u00a0", "２０８", "K74..6", "K74.6-K74.69", "J96.1*"]
SYSTEMS = [*NORMAL_CODE_PATTERNS, "ICD10CM", " icd10cm", "http://hl7.org/fhir/sid/icd-10-cm",
           "http://loinc.org/", "eligo", "local", ""]
DATES = ["2024-05-01", "2024-5-1", "2024-05-01T00:00:00", "2024-05-01T00:00:00Z",
         "2024-05-01T00:00", "20240501", "1700000000", "2024-02-30", " 2024-05-01",
         "2024-05-01\n", "", "0001-01-01", "9999-12-31", "2024-05-30T10:00:00",
         "2024-05-30T10:00:00+02:00", "2024-05-30 10:00:00", 19700101, 0, 1.5, True, None, [], {}]


def _outcome(validate: Any, text: str | bytes) -> tuple[Any, ...]:
    try:
        patient = validate(text)
    except ValidationError as err:
        return ("error", err.errors(include_url=False, include_context=False))
    return ("patient", type(patient), patient, repr(patient), patient.model_fields_set,
            [c.model_fields_set for c in patient.conditions for c in c.codes])


def _documents(population: list[dict[str, Any]]) -> list[str]:
    docs: list[dict[str, Any]] = []
    for system, code in itertools.product(SYSTEMS, CODES):
        coding: dict[str, Any] = {"system": system, "code": code}
        docs.append({"id": "p", "conditions": [{"codes": [coding, {**coding, "display": "x"}]}]})
    docs += [{"id": "p", "conditions": [{"codes": [c]}]} for c in (
        {"system": "icd10cm"}, {"code": "K74.60"}, {"system": "icd10cm", "code": 7460},
        {"system": 1, "code": "K74.60"}, {"system": "icd10cm", "code": "K74.60", "extra": 1},
        {"system": "icd10cm", "code": "K74.60", "display": 3}, {"system": None, "code": "K74.60"})]
    for day in DATES:
        docs.append({"id": "p", "birth_date": day})
        docs.append({"id": "p", "conditions": [{"codes": [{"system": "icd10cm", "code": "I10"}],
                                                "onset": day}]})
        docs.append({"id": "p", "attestations": [{"criterion": "I3", "answer": True, "by": "x",
                                                  "at": day}]})
        docs.append({"id": "p", "addresses": [{"country": "gh", "start": day}]})
    docs += population
    for file in sorted((ROOT / "patient_fixtures").rglob("*")):
        if file.suffix in (".json", ".yaml", ".yml"):
            data = read_document(file)
            docs.append(data.get("patient", data) if isinstance(data, dict) else data)
    texts = [json.dumps(d) for d in docs]
    # Duplicate keys: the last one counts, in both validators.
    texts += ['{"id": "p", "conditions": [{"codes": [{"system": "icd10cm", "system": "loinc", '
              '"code": "1975-2"}]}]}',
              '{"id": "p", "conditions": [{"codes": [{"system": "loinc", "system": "icd10cm", '
              '"code": "k7460"}]}]}',
              '{"id": "p", "birth_date": 0, "birth_date": "2000-01-01"}', '{"id": "p"', "[]", ""]
    return texts


def test_json_profiles_validate_as_the_model_validates_them(
        population: Callable[[int, int], list[dict[str, Any]]]) -> None:
    texts = _documents(population(300, 3))
    taken = 0
    for text in texts:
        expected = _outcome(Patient.model_validate_json, text)
        assert _outcome(patient_from_json, text) == expected, text
        raw = text.encode()
        assert _outcome(patient_from_json, raw) == _outcome(Patient.model_validate_json, raw)
        if _FAST_JSON is None:
            continue
        fast = _outcome(_FAST_JSON.validate_json, text)
        if fast[0] == "patient":
            taken += 1
            assert fast == expected, text
    if _FAST_JSON is not None:
        assert taken > len(texts) // 3  # the fast validator does take the common profiles


@needs_fast
def test_the_fast_validator_is_built_from_its_own_schema() -> None:
    assert _FAST_JSON is not None
    # pydantic-core would reuse the models' own validators if the classes were complete
    # while it was built: then a date-time string would be taken as a birth date.
    text = '{"id": "p", "birth_date": "2024-05-01T00:00:00"}'
    assert Patient.model_validate_json(text).birth_date is not None
    with pytest.raises(ValidationError):
        _FAST_JSON.validate_json(text)
    code = "Q99.8"
    assert ("icd10cm", code) not in _NORMALISED
    fast = _FAST_JSON.validate_json(
        '{"id": "p", "conditions": [{"codes": [{"system": "icd10cm", "code": "Q99.8"}]}]}')
    assert fast.conditions[0].codes[0].code == code
    assert ("icd10cm", code) not in _NORMALISED  # no Python call normalised it


@pytest.mark.parametrize("system", NORMAL_CODE_PATTERNS)
def test_codes_the_patterns_take_are_already_normal(system: str) -> None:
    taken = SchemaValidator({"type": "str", "pattern": NORMAL_CODE_PATTERNS[system]})
    variants = {v for c in CODES for v in (c, c.lower(), c.upper(), c.replace(".", ""), f"{c}-{c}")}
    for code in sorted(variants):
        try:
            taken.validate_python(code)
        except ValidationError:
            continue
        assert normalize_code(system, code) == code, code


def test_models_are_complete_after_the_fast_validator_is_built() -> None:
    assert Patient.__pydantic_complete__
    patient, _ = patient_from_data({"id": "p", "conditions": [
        {"codes": [{"system": "icd10cm", "code": "k7460"}], "onset": "2020-01-01"}]})
    assert patient.conditions[0].codes[0].code == "K74.60"
