"""Protocols using the bundled value-set library: `use NAME`, extension, CLI listing."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from eligo import Patient, Screener
from eligo.cli import app
from eligo.compiler import compile_text
from eligo.errors import ProtocolError
from eligo.printer import protocol_text
from eligo.valueset_library import library_valuesets

PROTOCOL = """trial T1
use hepatocellular_carcinoma, sepsis
valueset cirrhosis "Cirrhosis or portal hypertension" = use liver_cirrhosis; icd10cm K76.6
inclusion
  I1 "Cirrhosis": has condition cirrhosis
exclusion
  E1 "HCC": has condition hepatocellular_carcinoma
  E2 "Sepsis": has condition sepsis within 30 days
"""


def patient(*codes: str) -> Patient:
    return Patient.model_validate({"id": "p", "conditions": [
        {"codes": [{"system": "icd10cm", "code": c}], "clinical_status": "active"}
        for c in codes]})


def test_library_value_sets_match_through_use_and_extension() -> None:
    screener = Screener(compile_text(PROTOCOL))
    as_of = date(2024, 6, 1)
    result = screener.screen(patient("K74.60", "C22.0"), as_of)
    assert [c.status.value for c in result.criteria] == ["pass", "fail", "pass"]
    assert "Hepatocellular carcinoma" in result.criterion("E1").reason
    # the protocol's own extension adds portal hypertension to the library's cirrhosis
    assert screener.screen(patient("K76.6"), as_of).criterion("I1").status.value == "pass"
    assert screener.screen(patient("K70.2"), as_of).criterion("I1").status.value == "fail"


def test_use_round_trips_through_the_printer() -> None:
    protocol = compile_text(PROTOCOL)
    assert compile_text(protocol_text(protocol)) == protocol
    assert [u.name for u in protocol.uses] == ["hepatocellular_carcinoma", "sepsis"]
    assert protocol.valuesets[0].includes == ("liver_cirrhosis",)


@pytest.mark.parametrize(("text", "code", "hint"), [
    ("use liver_cirosis", "unknown-library-valueset", "did you mean `liver_cirrhosis`?"),
    ("valueset c = use hepatitis_z", "unknown-library-valueset", None),
    ("use sepsis\nvaleset x = icd10cm A41.9", "syntax", None),
])
def test_library_names_are_checked(text: str, code: str, hint: str | None) -> None:
    with pytest.raises(ProtocolError) as err:
        compile_text(f'trial T1\n{text}\ninclusion\n  I1 "x": pregnant\n'
                     'exclusion\n  E1 "y": pregnant\n')
    assert err.value.diagnostics[0].code == code
    if hint:
        assert err.value.diagnostics[0].hint == hint


def test_an_unused_library_name_gets_a_use_hint() -> None:
    with pytest.raises(ProtocolError) as err:
        compile_text('trial T1\ninclusion\n  I1 "x": has condition liver_cirrhosis\n'
                     'exclusion\n  E1 "y": pregnant\n')
    assert err.value.diagnostics[0].hint == (
        "`liver_cirrhosis` is in the value-set library: add `use liver_cirrhosis`")


def test_cli_lists_and_shows_value_sets() -> None:
    listing = CliRunner().invoke(app, ["valuesets"])
    assert listing.exit_code == 0
    lines = listing.stdout.splitlines()
    assert len(lines) == len(library_valuesets()) >= 40
    assert any(line.startswith("liver_cirrhosis ") for line in lines)
    shown = CliRunner().invoke(app, ["valuesets", "show", "liver_cirrhosis"])
    assert shown.exit_code == 0
    assert "ICD-10-CM: K70.3*" in shown.stdout
    assert "source:" in shown.stdout
    missing = CliRunner().invoke(app, ["valuesets", "show", "liver_cirosis"])
    assert missing.exit_code == 2
    assert "did you mean `liver_cirrhosis`?" in missing.stderr


def test_every_library_value_set_compiles_into_a_protocol() -> None:
    names = sorted(library_valuesets())
    query = {"condition": "has condition", "medication": "taking medication",
             "procedure": "had procedure"}
    body = "\n".join(f'  I{i} "x": {query[library_valuesets()[n].kind]} {n}'
                     for i, n in enumerate(names, 1))
    protocol = compile_text(f"trial T1\nuse {', '.join(names)}\ninclusion\n{body}\n"
                            'exclusion\n  E1 "y": pregnant\n')
    Screener(protocol)  # every code compiles into a matcher


def test_a_library_set_of_medications_is_not_a_condition() -> None:
    with pytest.raises(ProtocolError) as err:
        compile_text('trial T1\nuse anticoagulants\ninclusion\n  I1 "x": has condition '
                     'anticoagulants\nexclusion\n  E1 "y": pregnant\n')
    (diagnostic,) = err.value.diagnostics
    assert diagnostic.code == "kind-mismatch"
    assert diagnostic.hint == "write `taking medication anticoagulants`"


def test_an_anchor_names_a_value_set_of_its_own_kind() -> None:
    with pytest.raises(ProtocolError) as err:
        compile_text('trial T1\nuse dialysis, sepsis\ninclusion\n  I1 "x": has condition sepsis '
                     'since first condition dialysis\nexclusion\n  E1 "y": pregnant\n')
    (diagnostic,) = err.value.diagnostics
    assert diagnostic.code == "kind-mismatch"
    assert diagnostic.hint == "write `first procedure dialysis`"
