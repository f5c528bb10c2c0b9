"""Languages and places: ISO 639 language codes and ISO 3166 countries and regions.

Names and codes come from the ISO tables shipped with `pycountry`, not from a list kept
here. A protocol names a language in English (`english`, `haitian_creole`) or by ISO 639-1 /
639-3 code (`en`, `spa`); records carry BCP 47 tags (`en-US`, `es`), whose primary subtag
is the ISO 639 code. Places are ISO 3166-1 alpha-2 countries (`GH`) and ISO 3166-2
subdivisions (`GH-AA`).
"""

from __future__ import annotations

import difflib
import functools
from typing import Any

import pycountry

# English names people use where ISO 639's differ ("Modern Greek (1453-)", "Panjabi").
COMMON_NAMES = {"greek": "el", "punjabi": "pa", "farsi": "fa", "mandarin": "zh",
                "cantonese": "yue", "tagalog": "tl", "filipino": "fil", "haitian_creole": "ht",
                "creole": "ht", "swahili": "sw", "nepali": "ne", "malay": "ms"}
# Macrolanguages and individual languages records may use for them (ISO 639-3 macrolanguage
# mappings): a patient recorded as speaking `cmn` speaks Chinese.
MEMBERS = {"zh": frozenset({"cmn", "yue", "wuu", "hak", "nan", "hsn", "gan", "cjy"}),
           "ar": frozenset({"arb", "arz", "apc", "ajp", "acm", "ary", "aeb", "arq", "afb"}),
           "fa": frozenset({"pes", "prs"}), "ms": frozenset({"zsm"}),
           "sw": frozenset({"swh", "swc"})}


def speaks(recorded: str, wanted: str) -> bool:
    """Whether a record's language tag means the language a rule asks for."""
    code = language_code(recorded)
    return code == wanted or (code is not None and code in MEMBERS.get(wanted, ()))


@functools.cache
def _language_names() -> dict[str, str]:
    """Lower-case English name (spaces as underscores too) -> ISO 639-1 code, else 639-3."""
    names: dict[str, str] = {}
    for language in pycountry.languages:
        if getattr(language, "scope", "") not in ("I", "M"):
            continue
        code = getattr(language, "alpha_2", None) or language.alpha_3
        for name in (language.name, getattr(language, "common_name", None)):
            if name:
                # "Swahili (macrolanguage)" is called Swahili.
                key = name.split(" (")[0].lower()
                names.setdefault(key, code)
                names.setdefault(key.replace(" ", "_"), code)
    return names


@functools.cache
def language_code(word: str) -> str | None:
    """The ISO 639 code a protocol's language word or a record's BCP 47 tag stands for."""
    text = word.strip()
    head = text.split("-")[0]
    lowered = (head if "-" in text and len(head) in (2, 3) else text).lower()
    if len(lowered) == 2:
        found = pycountry.languages.get(alpha_2=lowered)
        return lowered if found is not None else None
    if len(lowered) == 3:
        found = pycountry.languages.get(alpha_3=lowered)
        if found is not None:
            return getattr(found, "alpha_2", None) or lowered
    key = text.lower()
    return COMMON_NAMES.get(key) or _language_names().get(key)


def language_name(code: str) -> str:
    found = (pycountry.languages.get(alpha_2=code) if len(code) == 2
             else pycountry.languages.get(alpha_3=code))
    return str(found.name) if found is not None else code


def suggest_language(word: str) -> str | None:
    names = [*COMMON_NAMES, *_language_names()]
    close = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.75)
    return close[0] if close else None


def _subdivisions(**where: str) -> Any:
    # pycountry's subdivision lookup is untyped; it returns one record, a set or None.
    return pycountry.subdivisions.get(**where)  # type: ignore[no-untyped-call]


def place_problem(level: str, code: str) -> tuple[str, str] | None:
    """(message, hint) when ``code`` is not an ISO 3166 code of that level; None when it is."""
    if code != code.upper() and place_problem(level, code.upper()) is None:
        return (f"`{code}` is not written as ISO 3166 writes it",
                f"write it in capitals: \"{code.upper()}\"")
    if level == "country":
        if pycountry.countries.get(alpha_2=code) is not None:
            return None
        try:
            named = pycountry.countries.lookup(code)
        except LookupError:
            named = None
        hint = (f"{named.name} is \"{named.alpha_2}\"" if named is not None
                else "write the ISO 3166-1 alpha-2 code, e.g. \"US\", \"GH\"")
        return f"`{code}` is not an ISO 3166-1 alpha-2 country code", hint
    if _subdivisions(code=code) is not None:
        return None
    country = code.split("-")[0].upper()
    hint = "write the ISO 3166-2 code: country, hyphen, region, e.g. \"GH-AA\", \"US-CA\""
    if pycountry.countries.get(alpha_2=country) is not None:
        codes = sorted(s.code for s in _subdivisions(country_code=country) or ())
        close = difflib.get_close_matches(code.upper(), codes, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean \"{close[0]}\" ({_subdivisions(code=close[0]).name})?"
    return f"`{code}` is not an ISO 3166-2 region code", hint


def place_name(level: str, code: str) -> str:
    found = (pycountry.countries.get(alpha_2=code) if level == "country"
             else _subdivisions(code=code))
    return f"{found.name} ({code})" if found is not None else code


def region_country(region: str) -> str:
    return region.split("-")[0]
