"""Cancer stage labels (AJCC/UICC TNM): reading them and comparing them with prefix semantics.

A label names a range of the finest labels it covers: `III` covers IIIA, IIIB and IIIC, so
`stage >= III` holds for IIIA and `stage > III` does not. A recorded label that is coarser
than the rule's (`III` against `>= IIIB`) may or may not satisfy it: the comparison is
UNKNOWN then, never guessed. `TX`, `NX` and `MX` (cannot be assessed) are always UNKNOWN.

Label shapes follow the AJCC Cancer Staging Manual, 8th edition (stage groups 0-IV with
letter and number subgroups, e.g. IIIC1; T0, Tis, T1mi, T1a-T4e; N0, N1mi, N1a-N3c;
M0, M1a-M1d).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eligo.records import Truth

# A position on one axis: (major, minor, number); a label covers [low, high] of these.
Position = tuple[int, int, int]

_ROMAN = {"0": 0, "I": 1, "II": 2, "III": 3, "IV": 4}
_STAGE = re.compile(r"(0|IV|I{1,3})(is|a|[A-D])?([1-3])?")
# Sub-categories only below T1-T4, N1-N3 and M1 (AJCC 8th): T0a or M0a is no label.
_T = re.compile(r"T(X|0|is|[1-4])((?<=[1-4])(?:mi|[a-e]))?")
_N = re.compile(r"N(X|0|[1-3])((?<=[1-3])(?:mi|[a-c]))?")
_M = re.compile(r"M(X|0|1)((?<=1)[a-d])?")
# Sub-divisions in order; `mi` (microscopic) sorts before `a`, `is` (in situ) after 0.
_MINOR = {"": 0, "mi": 1, "a": 2, "b": 3, "c": 4, "d": 5, "e": 6, "A": 2, "B": 3, "C": 4,
          "D": 5, "is": 1}
_TOP = 9

AXIS_EXAMPLES = {
    "stage": "0, I, IA, IB, II, IIA, IIIB, IIIC1, IV, IVA",
    "T": "T0, Tis, T1, T1mi, T1a, T2, T3, T4b",
    "N": "N0, N1, N1mi, N1a, N2, N3",
    "M": "M0, M1, M1a",
}


@dataclass(frozen=True, slots=True)
class StageRange:
    """The finest positions a label covers."""

    low: Position
    high: Position


def parse_label(axis: str, label: str) -> StageRange:
    """The range a label covers; raises ValueError when the label is not one of the axis
    (or cannot be assessed: TX, NX, MX)."""
    if axis == "stage":
        m = _STAGE.fullmatch(label)
        if m is None:
            raise ValueError(label)
        roman, minor, number = m.group(1), m.group(2) or "", m.group(3)
        major = _ROMAN[roman]
        # Stage 0 takes `is` or `a` (0is, 0a); I-IV take a letter, then perhaps a number.
        allowed = ("", "is", "a") if major == 0 else ("", "A", "B", "C", "D")
        if minor not in allowed or (number is not None and minor in ("", "is", "a")):
            raise ValueError(label)
        return _range(major, minor, number)
    pattern = {"T": _T, "N": _N, "M": _M}.get(axis)
    if pattern is None:
        raise ValueError(label)
    m = pattern.fullmatch(label)
    if m is None:
        raise ValueError(label)
    head, minor = m.group(1), m.group(2) or ""
    if head == "X":
        raise _Unassessable(label)
    # T0 (no primary tumour) < Tis (in situ) < T1: in situ gets a major of its own.
    major = 1 if head == "is" else 0 if head == "0" else 2 * int(head)
    return _range(major, minor, None)


class _Unassessable(ValueError):
    pass


def label_problem(axis: str, label: str) -> str | None:
    """Why ``label`` cannot be a rule's label on ``axis``; None when it can."""
    try:
        parse_label(axis, label)
    except _Unassessable:
        return f"`{label}` means the {axis} cannot be assessed; a rule cannot compare with it"
    except ValueError:
        what = "a stage group" if axis == "stage" else (
            f"{'an' if axis in 'MN' else 'a'} {axis} category")
        return f"`{label}` is not {what}"
    return None


def _range(major: int, minor: str, number: str | None) -> StageRange:
    if minor == "":
        return StageRange((major, 0, 0), (major, _TOP, _TOP))
    sub = _MINOR[minor]
    if number is None:
        return StageRange((major, sub, 0), (major, sub, _TOP))
    return StageRange((major, sub, int(number)), (major, sub, int(number)))


_PREFIX = re.compile(r"^(stage\s+)?(?P<basis>yp|yc|p|c|r|a)?(?=[TNM])", re.IGNORECASE)


def read_recorded(axis: str, text: str) -> StageRange | None:
    """A label as records write it (`Stage IIIB`, `cT2a`, `pN1`, `IIIb`); None when it
    cannot be read or cannot be assessed."""
    cleaned = text.strip()
    if axis == "stage":
        cleaned = re.sub(r"^stage\s+", "", cleaned, flags=re.IGNORECASE)
        m = re.fullmatch(r"(0|[IV]+)(is|a|[A-Da-d])?([1-3])?", cleaned, re.IGNORECASE)
        if m is None:
            return None
        roman = m.group(1).upper()
        minor = m.group(2) or ""
        minor = minor.lower() if roman == "0" else minor.upper()
        cleaned = roman + minor + (m.group(3) or "")
    else:
        cleaned = _PREFIX.sub("", cleaned)
        if cleaned[:1].lower() == axis.lower():
            cleaned = axis + cleaned[1:]
    try:
        return parse_label(axis, cleaned)
    except ValueError:
        return None


def compare(axis: str, recorded: StageRange, op: str, labels: tuple[str, ...]) -> Truth:
    """Kleene truth of ``recorded op label`` (or ``recorded in [labels]``) on ``axis``."""
    if op == "in":
        truths = [compare(axis, recorded, "=", (label,)) for label in labels]
        if True in truths:
            return True
        return False if all(t is False for t in truths) else None
    wanted = parse_label(axis, labels[0])
    lo, hi = recorded.low, recorded.high
    match op:
        case ">=":
            return _truth(lo >= wanted.low, hi < wanted.low)
        case ">":
            return _truth(lo > wanted.high, hi <= wanted.high)
        case "<=":
            return _truth(hi <= wanted.high, lo > wanted.high)
        case "<":
            return _truth(hi < wanted.low, lo >= wanted.low)
        case "=":
            return _truth(wanted.low <= lo and hi <= wanted.high,
                          hi < wanted.low or lo > wanted.high)
        case "!=":
            return _truth(hi < wanted.low or lo > wanted.high,
                          wanted.low <= lo and hi <= wanted.high)
    raise ValueError(op)


def _truth(holds: bool, fails: bool) -> Truth:
    return True if holds else False if fails else None
