"""Rule objects -> canonical protocol source. Parsing the output gives equal rule objects."""

from __future__ import annotations

import re
from decimal import Decimal
from itertools import groupby

from eligo import rules as r


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def number(value: Decimal) -> str:
    return format(value, "f")


def value_text(value: r.Value) -> str:
    match value:
        case r.Quantity(num, unit):
            return f"{number(num)} {unit}" if unit else number(num)
        case r.Symbol(name):
            return name
        case r.Text(text):
            return quote(text)
        case r.UlnMultiple(num):
            return f"{number(num)} x ULN"


def codes_text(codes: tuple[r.CodeRef, ...]) -> str:
    groups = []
    for system, refs in groupby(codes, key=lambda c: c.system):
        groups.append(f"{system} " + ", ".join(ref.written for ref in refs))
    return "; ".join(groups)


def _target(target: r.CodeTarget) -> str:
    match target:
        case r.ValueSetRef(name):
            return name
        case r.InlineCodes(codes):
            return f"[{codes_text(codes)}]"


_QUERY_WORDS = {
    "condition": "has condition",
    "history": "has history of condition",
    "medication": "taking medication",
    "procedure": "had procedure",
}


def timing_text(timing: r.Timing) -> str:
    match timing:
        case r.Window(amount, unit):
            return f"within {amount} {unit}"
        case r.AgoWindow(low, high, unit):
            return f"between {low} and {high} {unit} ago"
        case r.Ever():
            return "ever"
        case r.Anchor(relation, kind, target):
            return f"{relation} first {kind} {_target(target)}"


def _timed(text: str, timing: r.Timing | None) -> str:
    return f"{text} {timing_text(timing)}" if timing is not None else text


def expr_text(expr: r.Expr) -> str:
    """The canonical source of one expression."""
    match expr:
        case r.Or(operands):
            return " or ".join(_wrap(e, (r.Or,)) for e in operands)
        case r.And(operands):
            return " and ".join(_wrap(e, (r.Or, r.And)) for e in operands)
        case r.Not(operand):
            return "not " + _wrap(operand, (r.Or, r.And))
        case r.AtLeast(count, operands):
            return f"at least {count} of (" + ", ".join(expr_text(e) for e in operands) + ")"
        case r.Compare(subject, op, value, timing):
            return _timed(f"{subject} {op} {value_text(value)}", timing)
        case r.Between(subject, low, high, unit, timing):
            tail = f" {unit}" if unit else ""
            return _timed(f"{subject} between {number(low)} and {number(high)}{tail}", timing)
        case r.InList(subject, values, timing):
            listed = ", ".join(value_text(v) for v in values)
            return _timed(f"{subject} in [{listed}]", timing)
        case r.ResultTest(subjects, result, any_of, timing):
            head = f"any of [{', '.join(subjects)}]" if any_of else subjects[0]
            return _timed(f"{head} is {result}", timing)
        case r.Aggregate(function, count, subject, op, value, timing):
            head = _timed(f"{function} of last {count} {subject}", timing)
            return f"{head} {op} {value_text(value)}"
        case r.RecordQuery(kind, target, window, duration, times, details):
            text = f"{_QUERY_WORDS[kind]} {_target(target)}"
            if duration is not None:
                text += f" for {duration.relation} {duration.amount} {duration.unit}"
            if times is not None:
                text += f" at least {times} times"
            return " ".join([_timed(text, window), *(detail_text(q) for q in details)])
        case r.EncounterQuery(setting, reason, window):
            text = f"encounter {setting}"
            if reason is not None:
                text += f" for {_target(reason)}"
            return _timed(text, window)
        case r.ImmunizationQuery(target, window, times):
            text = _timed(f"vaccinated with {_target(target)}", window)
            return text + (f" at least {times} times" if times is not None else "")
        case r.Pregnant():
            return "pregnant"
        case r.Breastfeeding():
            return "breastfeeding"
        case r.ChildbearingPotential():
            return "childbearing potential"
        case r.GestationalAge(op, amount, unit):
            return f"gestational age {op} {number(amount)} {unit}"
        case r.AllergyQuery(relation, target, category, reaction, severity):
            allergen = f"any {category}" if target is None else _target(target)
            tail = f" with reaction {_target(reaction)}" if reaction is not None else ""
            if severity is not None:
                tail += " " + detail_text(severity)
            return f"{relation} to {allergen}{tail}"
        case r.ResearchQuery(kind, window, interventional):
            study = "another interventional study" if interventional else "another study"
            words = f"enrolled in {study}" if kind == "enrolled" else (
                "taking investigational product")
            return _timed(words, window)
        case r.BiomarkerResult(gene, alteration, result, timing):
            shown = "" if alteration is None else " " + _word_or_text(alteration)
            return _timed(f"biomarker {gene}{shown} is {result}", timing)
        case r.BiomarkerMeasure(gene, measure, op, value, timing):
            return _timed(f"biomarker {gene} {measure} {op} {value_text(value)}", timing)
        case r.AdverseEventQuery(target, op, grade, window):
            text = "has adverse event"
            if target is not None:
                text += f" {_target(target)}"
            if grade is not None:
                text += f" with grade {op} {grade}"
            return _timed(text, window)
        case r.AdverseEventsRecovered(target, op, grade):
            shown = "" if target is None else f" {_target(target)}"
            return f"adverse events{shown} recovered to grade {op} {grade}"
        case r.PlannedProcedureQuery(target, window):
            text = f"scheduled for procedure {_target(target)}"
            return text + (f" within {window.amount} {window.unit}" if window else "")
        case r.FamilyHistoryQuery(target, first_degree):
            text = f"family history of {_target(target)}"
            return text + (" in first degree relative" if first_degree else "")
        case r.StudyEnrollment(study, window):
            return _timed(f"enrolled in study {quote(study)}", window)
        case r.ProgressionQuery(target, window):
            shown = "" if target is None else f" of {_target(target)}"
            return _timed(f"has disease progression{shown}", window)
        case r.RecurrenceQuery(target, window):
            return _timed(f"has disease recurrence of {_target(target)}", window)
        case r.Speaks(language):
            return f"speaks {language}"
        case r.ResidesIn(level, code):
            return f"resides in {level} {quote(code)}"
        case r.Manual(text):
            return f"manual {quote(text)}"
        case r.Reference(name):
            return name


def detail_text(detail: r.RecordDetail) -> str:
    match detail:
        case r.StageTest(axis, basis, op, labels):
            head = f"with {basis} {axis}" if basis is not None else f"with {axis}"
            if op == "in":
                return f"{head} in [{', '.join(labels)}]"
            return f"{head} {op} {labels[0]}"
        case r.HistologyTest(target):
            return f"with histology {_target(target)}"
        case r.HistologyConfirmed(basis):
            return f"confirmed by {basis}"
        case r.SeverityTest(op, labels):
            if op == "in":
                return f"with severity in [{', '.join(labels)}]"
            return f"with severity {op} {labels[0]}"
        case r.OnsetTest(window):
            return f"with onset {timing_text(window)}"
        case r.OnsetAgeTest(op, amount, unit):
            return f"with onset at age {op} {amount} {unit}"
        case r.DoseTest(op, amount, unit, equivalent):
            tail = f" {equivalent} equivalent" if equivalent is not None else ""
            return f"with daily dose {op} {number(amount)} {unit}{tail}"
        case r.RegularUse():
            return "regularly"
        case r.BodySiteTest(target):
            return f"with body site {_target(target)}"


def _word_or_text(word: str) -> str:
    """An alteration as one bare word when it lexes as one, else quoted."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9\-]*", word) and word not in ("is",):
        return word
    return quote(word)


def _wrap(expr: r.Expr, loose: tuple[type, ...]) -> str:
    text = expr_text(expr)
    return f"({text})" if isinstance(expr, loose) else text


def criterion_text(criterion: r.Criterion) -> str:
    world = ""
    if criterion.open_world is not None:
        world = " [open world]" if criterion.open_world else " [closed world]"
    return f"  {criterion.id} {quote(criterion.text)}{world}: {expr_text(criterion.expr)}"


def protocol_text(protocol: r.Protocol) -> str:
    """The whole protocol in canonical layout."""
    title = f" {quote(protocol.title)}" if protocol.title is not None else ""
    lines = [f"trial {protocol.trial_id}{title}"]
    if protocol.version is not None:
        lines.append(f"version {quote(protocol.version)}")
    if protocol.open_world:
        lines.append("assume open world")
    if protocol.research_recorded:
        lines.append("assume research participation recorded")
    if protocol.family_history_recorded:
        lines.append("assume family history recorded")
    if protocol.uses or protocol.valuesets or protocol.defines:
        lines.append("")
    if protocol.uses:
        lines.append("use " + ", ".join(u.name for u in protocol.uses))
    for vs in protocol.valuesets:
        title = f" {quote(vs.title)}" if vs.title is not None else ""
        groups = [f"use {name}" for name in vs.includes]
        if vs.codes:
            groups.append(codes_text(vs.codes))
        lines.append(f"valueset {vs.name}{title} = {'; '.join(groups)}")
    for d in protocol.defines:
        lines.append(f"define {d.name} = {expr_text(d.expr)}")
    for heading, criteria in (("inclusion", protocol.inclusion), ("exclusion", protocol.exclusion)):
        lines.extend(["", heading])
        lines.extend(criterion_text(c) for c in criteria)
    return "\n".join(lines) + "\n"
