"""Checks a parsed protocol and gathers every semantic diagnostic before raising once.

Name resolution (value sets, defines, fields) with did-you-mean suggestions, code
validity per code system, define cycles, duplicate ids, types and units of comparisons.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from eligo import (
    attributes,
    derived,
    dose_equivalents,
    measurements,
    printer,
    staging,
    units,
    valueset_library,
)
from eligo import observations as obs
from eligo import rules as r
from eligo.errors import Diagnostic, ProtocolError
from eligo.parse import parse_protocol
from eligo.source import Source, Span
from eligo.terminology import (
    SYSTEM_LABELS,
    SYSTEM_URIS,
    code_problem,
    icd10cm_chapter_block,
    nearest_icd10cm,
)

AGE_UNITS = {"years": "years", "year": "years", "months": "months", "month": "months",
             "weeks": "weeks", "week": "weeks", "days": "days", "day": "days"}
SEX_VALUES = ("female", "male", "other", "unknown")

# Patient attributes that comparisons may name. Observations and scores join this
# catalogue when the observation library arrives.
# Canonical units a bare number may stand for: ratios and vital-sign units nobody writes
# (`inr > 1.5`, `bmi >= 30`, `heart_rate < 50`, `hba1c < 7`). Lab concentrations always
# need their unit: `bilirubin < 3` could be mg/dL or µmol/L.
CUSTOMARY_UNITS = frozenset({"{INR}", "1", "%", "kg/m2", "/min", "mm[Hg]", "ms"})

FIELDS: dict[str, str] = {
    "age": "age in completed years (or months/weeks/days) at the as-of date",
    "sex": "administrative sex: female, male, other or unknown",
    "race": "race as the patient reports it, in the US OMB categories",
    "ethnicity": "ethnicity as the patient reports it, in the US OMB categories",
    "marital_status": "marital status, in the words of the FHIR marital-status value set",
}
# Values of the categorical fields. Race and ethnicity: the US OMB minimum categories
# (OMB Statistical Policy Directive No. 15, 1997), as FHIR US Core carries them.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "sex": SEX_VALUES,
    "race": ("american_indian_or_alaska_native", "asian", "black_or_african_american",
             "native_hawaiian_or_other_pacific_islander", "white", "other"),
    "ethnicity": ("hispanic_or_latino", "not_hispanic_or_latino"),
    # FHIR R4 marital status: v3 MaritalStatus M, C, T, S, U, D, L, I, A, W, P; NullFlavor UNK.
    "marital_status": ("married", "common_law", "domestic_partner", "never_married",
                       "unmarried", "divorced", "legally_separated", "interlocutory",
                       "annulled", "widowed", "polygamous", "unknown"),
}


# A protocol's own definition of `childbearing potential` (see eligo.evaluate_person).
OWN_WOCBP = "childbearing_potential"


# Which record queries each detail describes, and what to say when it is misplaced.
_CONDITION: tuple[r.EventKind, ...] = ("condition", "history")
_MEDICATION: tuple[r.EventKind, ...] = ("medication",)
_SITED: tuple[r.EventKind, ...] = ("condition", "history", "procedure")
_DETAIL_KINDS: dict[type, tuple[r.EventKind, ...]] = {
    r.StageTest: _CONDITION, r.HistologyTest: _CONDITION, r.HistologyConfirmed: _CONDITION,
    r.SeverityTest: _CONDITION, r.OnsetTest: _CONDITION, r.OnsetAgeTest: _CONDITION,
    r.DoseTest: _MEDICATION, r.RegularUse: _MEDICATION, r.BodySiteTest: _SITED,
}
_CONDITION_WORDS = "stage, histology, severity and onset describe a condition"
_DETAIL_WORDS: dict[type, str] = {
    r.DoseTest: "a daily dose describes a medication",
    r.RegularUse: "regular use describes a medication",
    r.BodySiteTest: "a body site describes a procedure or a condition",
}
_DETAIL_WHERE = {_CONDITION: "has condition V", _MEDICATION: "taking medication V",
                 _SITED: "had procedure V"}


def _suggest(name: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def children(expr: r.Expr) -> tuple[r.Expr, ...]:
    match expr:
        case r.And(operands) | r.Or(operands) | r.AtLeast(_, operands):
            return operands
        case r.Not(operand):
            return (operand,)
        case _:
            return ()


def walk(expr: r.Expr) -> Iterator[r.Expr]:
    yield expr
    for child in children(expr):
        yield from walk(child)


class _Checker:
    def __init__(self, protocol: r.Protocol, source: Source) -> None:
        self.protocol = protocol
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        # Names a query may use: the protocol's own value sets and the library ones it uses.
        self.valuesets: dict[str, object] = {u.name: u for u in protocol.uses}
        self.valuesets.update({v.name: v for v in protocol.valuesets})
        self.defines = {d.name: d for d in protocol.defines}

    def error(self, code: str, message: str, node_span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, node_span, hint))

    def line(self, span: Span) -> int:
        return self.source.line_col(span.start)[0]

    def word_span(self, word: str, within: Span) -> Span:
        """The span of the first whole ``word`` inside ``within``, else ``within`` itself."""
        found = re.compile(rf"(?<![\w.]){re.escape(word)}(?![\w.])").search(
            self.source.text, within.start, within.end)
        return Span(found.start(), found.end()) if found else within

    def system_span(self, ref: r.CodeRef) -> Span:
        """The code system's name in front of ``ref`` (the last one before the code)."""
        pattern = re.compile(rf"(?<![\w.]){re.escape(ref.system)}(?![\w.])")
        found = list(pattern.finditer(self.source.text, 0, ref.span.start))
        return Span(found[-1].start(), found[-1].end()) if found else ref.span

    def run(self) -> None:
        p = self.protocol
        seen: dict[str, tuple[str, Span]] = {}
        for use in p.uses:
            self.check_library_name(use.name, use.span)
        declarations: list[r.ValueSet | r.Define | r.LibraryUse] = [
            *p.uses, *p.valuesets, *p.defines]
        for decl in sorted(declarations, key=lambda x: x.span.start):
            kind = {r.ValueSet: "value set", r.Define: "define",
                    r.LibraryUse: "library value set"}[type(decl)]
            if decl.name in seen:
                first_kind, first_span = seen[decl.name]
                self.error("duplicate-name",
                           f"`{decl.name}` is already declared as a {first_kind}",
                           self.word_span(decl.name, decl.span),
                           f"the first declaration is on line {self.line(first_span)}; "
                           "give each value set and define its own name")
            seen.setdefault(decl.name, (kind, decl.span))
            if isinstance(decl, r.Define) and decl.name in FIELDS:
                self.error("duplicate-name", f"`{decl.name}` is a patient field",
                           self.word_span(decl.name, decl.span),
                           "choose another name for the define, e.g. "
                           f"`{decl.name}_criterion`")
            if isinstance(decl, r.ValueSet):
                self.check_codes(decl.codes)
                for name in decl.includes:
                    self.check_library_name(name, self.word_span(name, decl.span))
            elif isinstance(decl, r.Define):
                self.check_expr(decl.expr)
        self.check_cycles()
        ids: dict[str, r.Criterion] = {}
        for c in p.criteria:
            if c.id in ids:
                first = ids[c.id]
                self.error("duplicate-id", f"criterion id `{c.id}` is used twice",
                           Span(c.span.start, c.span.start + len(c.id)),
                           f"{c.id} is already the id of \"{first.text}\" on line "
                           f"{self.line(first.span)}; number each criterion uniquely")
            ids.setdefault(c.id, c)
            if not c.text.strip():
                self.error("empty-text", f"criterion {c.id} has an empty text", c.span,
                           "quote the protocol's original wording of the criterion")
            self.check_expr(c.expr)

    def check_codes(self, codes: Iterable[r.CodeRef]) -> None:
        reported_systems: set[Span] = set()
        for ref in codes:
            if ref.system not in SYSTEM_URIS:
                # Once per written system name, not once per code after it.
                span = self.system_span(ref)
                if span not in reported_systems:
                    reported_systems.add(span)
                    self.error("unknown-system", f"unknown code system `{ref.system}`", span,
                               _suggest(ref.system.lower(), SYSTEM_URIS)
                               or f"known systems: {', '.join(SYSTEM_URIS)}")
                continue
            shape = _range_shape_problem(ref)
            problem = shape or code_problem(ref)
            if problem is None:
                continue
            backwards = ref.match == "range" and "backwards" in problem
            code = "bad-range" if backwards or shape else "bad-code"
            self.error(code, problem, ref.span, _code_hint(ref, backwards))

    def check_library_name(self, name: str, span: Span) -> None:
        if valueset_library.lookup(name) is None:
            close = valueset_library.suggest(name)
            self.error("unknown-library-valueset", f"no value set `{name}` in the library", span,
                       f"did you mean `{close}`?" if close
                       else "`eligo valuesets` lists the library")

    def check_library_kind(self, kind: r.EventKind, target: r.CodeTarget,
                           anchor: bool = False) -> None:
        """A library value set of medications is not searched among conditions."""
        if not isinstance(target, r.ValueSetRef) or not isinstance(
                self.valuesets.get(target.name), r.LibraryUse):
            return
        entry = valueset_library.lookup(target.name)
        wanted = "condition" if kind == "history" else kind
        if entry is not None and entry.kind != wanted:
            query = f"first {entry.kind}" if anchor else {
                "condition": "has condition", "medication": "taking medication",
                "procedure": "had procedure"}[entry.kind]
            self.error("kind-mismatch", f"`{target.name}` is a value set of {entry.kind}s, "
                       f"not {wanted}s", target.span, f"write `{query} {target.name}`")

    def check_target(self, target: r.CodeTarget) -> None:
        match target:
            case r.ValueSetRef(name, span):
                if name not in self.valuesets:
                    hint = _suggest(name, self.valuesets)
                    if valueset_library.lookup(name) is not None:
                        hint = f"`{name}` is in the value-set library: add `use {name}`"
                    elif hint is None and valueset_library.suggest(name):
                        close = valueset_library.suggest(name)
                        hint = f"the library has `{close}`: add `use {close}`"
                    if name in self.defines:
                        hint = f"`{name}` is a define, not a value set; use it on its own"
                    self.error("unknown-valueset", f"unknown value set `{name}`", span,
                               hint or "declare it with `valueset NAME = SYSTEM CODE, ...`")
            case r.InlineCodes(codes):
                self.check_codes(codes)

    def check_expr(self, expr: r.Expr) -> None:
        for node in walk(expr):
            match node:
                case r.Reference(name, span):
                    if name in self.defines:
                        continue
                    if name in self.valuesets:
                        self.error("unknown-define", f"`{name}` is a value set, not a rule", span,
                                   f"say what to look for: `has condition {name}`")
                    elif name in FIELDS:
                        self.error("incomplete-comparison", f"`{name}` needs a comparison",
                                   span, f"for example `{name} >= 18`" if name == "age"
                                   else f"for example `{name} = {CATEGORIES[name][0]}`")
                    else:
                        self.error("unknown-define", f"unknown name `{name}`", span,
                                   _suggest(name, [*self.defines, *FIELDS])
                                   or "declare it with `define NAME = ...`")
                case r.RecordQuery(kind, target, window, duration, times, details, span):
                    self.check_details(kind, details, duration is not None or times is not None)
                    self.check_target(target)
                    self.check_library_kind(kind, target)
                    if window is not None:
                        self.check_timing(window)
                    if duration is not None:
                        if kind == "procedure":
                            self.error("bad-duration", "a procedure has a date, not a duration",
                                       duration.span, "count procedures instead: "
                                       "`had procedure V at least 2 times`")
                        elif duration.amount < 1:
                            self.error("bad-duration", "a duration must be at least 1",
                                       duration.span, "write `for at least 1 days` or more")
                    if times is not None and times < 1:
                        self.error("bad-count", "`at least 0 times` is always true", span,
                                   "use a count of 1 or more")
                case r.AtLeast(count, operands, span):
                    if count < 1:
                        self.error("bad-count", "`at least 0 of` is always true", span,
                                   "use a count of 1 or more")
                    elif count > len(operands):
                        self.error("bad-count",
                                   f"at least {count} of {len(operands)} items can never hold",
                                   span, f"use a count between 1 and {len(operands)}")
                case r.Manual(text, span):
                    if not text.strip():
                        self.error("empty-text", "a manual check needs its question", span,
                                   'write what the coordinator must check: manual "..."')
                case r.Compare() | r.Between() | r.InList():
                    self.check_field(node)
                case r.ResultTest():
                    self.check_result_test(node)
                case r.Aggregate():
                    self.check_aggregate(node)
                case r.AllergyQuery(_, target, _, reaction):
                    for t in (target, reaction):
                        if t is not None:
                            self.check_target(t)
                case r.ResearchQuery(_, window) if window is not None:
                    self.check_timing(window)
                case r.AdverseEventQuery(target, _, grade, window, span):
                    if target is not None:
                        self.check_target(target)
                        self.check_library_kind("condition", target)
                    if grade is not None:
                        self.check_grade(grade, span, 1)
                    if window is not None:
                        self.check_timing(window)
                case r.AdverseEventsRecovered(target, _, grade, span):
                    if target is not None:
                        self.check_target(target)
                        self.check_library_kind("condition", target)
                    self.check_grade(grade, span, 0)
                case r.BiomarkerResult(_, _, result, timing, span):
                    if result not in ("positive", "negative"):
                        self.error("bad-value", f"a biomarker is positive or negative, not "
                                   f"`{result}`", self.word_span(result, span),
                                   _suggest(result, ("positive", "negative"))
                                   or "write `is positive` or `is negative`")
                    if timing is not None:
                        self.check_timing(timing)
                case r.BiomarkerMeasure(_, measure, _, value, timing, span):
                    if not isinstance(value, r.Quantity):
                        self.error("type-mismatch", f"{measure} is compared with a number",
                                   value.span, f"for example `{measure} >= 50 %`")
                    if timing is not None:
                        self.check_timing(timing)
                case r.GestationalAge(_, amount, unit, span) if amount > (
                        45 if unit == "weeks" else 315) or amount < 0:
                    self.error("out-of-range", f"a gestational age of {printer.number(amount)} "
                               f"{unit} cannot be", span,
                               "gestational age runs from 0 to about 42 weeks")
                case r.Speaks(language, span):
                    self.check_language(language, span)
                case r.EncounterQuery(_, reason, window):
                    if reason is not None:
                        self.check_target(reason)
                        self.check_library_kind("condition", reason)
                    if window is not None:
                        self.check_timing(window)
                case r.ImmunizationQuery(target, window, times, span):
                    self.check_target(target)
                    self.check_library_kind("medication", target)
                    if window is not None:
                        self.check_timing(window)
                    if times is not None and times < 1:
                        self.error("bad-count", "`at least 0 times` is always true", span,
                                   "use a count of 1 or more")
                case r.ResidesIn(level, code, span):
                    self.check_place(level, code, span)
                case (r.PlannedProcedureQuery() | r.FamilyHistoryQuery() | r.StudyEnrollment()
                      | r.ProgressionQuery() | r.RecurrenceQuery()):
                    self.check_course(node)

    def check_course(self, node: r.PlannedProcedureQuery | r.FamilyHistoryQuery
                     | r.StudyEnrollment | r.ProgressionQuery | r.RecurrenceQuery) -> None:
        """Planned procedures, family history, one named study, disease progression and
        recurrence."""
        match node:
            case r.PlannedProcedureQuery(target, window):
                self.check_target(target)
                self.check_library_kind("procedure", target)
                if window is not None and window.amount < 1:
                    self.error("bad-window", f"`within {window.amount} {window.unit}` is an "
                               "empty window", window.span, "a planned procedure's window "
                               f"counts forward from the screening date; use 1 or more "
                               f"{window.unit}, or drop `within` to accept any later date")
            case r.FamilyHistoryQuery(target):
                self.check_target(target)
                self.check_library_kind("condition", target)
            case r.StudyEnrollment(study, window, span):
                if not study.strip():
                    self.error("empty-text", "a study needs its identifier", span,
                               'write the registry id in quotes: enrolled in study '
                               '"NCT01234567"')
                if window is not None:
                    self.check_timing(window)
            case r.ProgressionQuery(target, window) | r.RecurrenceQuery(target, window):
                if target is not None:
                    self.check_target(target)
                    self.check_library_kind("condition", target)
                if window is not None:
                    self.check_timing(window)

    def check_details(self, kind: r.EventKind, details: tuple[r.RecordDetail, ...],
                      measured: bool) -> None:
        for detail in details:
            fits = _DETAIL_KINDS[type(detail)]
            if kind not in fits:
                what = _DETAIL_WORDS.get(type(detail), _CONDITION_WORDS)
                self.error("misplaced-qualifier", what, detail.span,
                           f"write it after `{_DETAIL_WHERE[fits]}`")
                continue
            if measured:
                self.error("misplaced-qualifier", "details of each record cannot be combined "
                           "with a duration or a count", detail.span,
                           "split the rule: `(... for at least 8 weeks) and (... with ...)`")
                continue
            match detail:
                case r.StageTest(axis, _, _, labels, span):
                    for label in labels:
                        problem = staging.label_problem(axis, label)
                        if problem is not None:
                            self.error("bad-stage", problem, self.word_span(label, span),
                                       f"{axis} labels: {staging.AXIS_EXAMPLES[axis]}")
                case r.HistologyTest(target) | r.BodySiteTest(target):
                    self.check_target(target)
                case r.OnsetTest(window):
                    self.check_timing(window)
                case r.DoseTest(_, amount, unit, equivalent, span):
                    self.check_dose(amount, unit, equivalent, span)

    def check_dose(self, amount: Decimal, unit: str, equivalent: str | None, span: Span
                   ) -> None:
        try:
            dose_equivalents.mass_unit(unit)
        except units.UnitError:
            self.error("unit-mismatch", f"`{unit}` is not a unit of mass, or of mass per kg of "
                       "body weight", self.word_span(unit, span), "write the daily dose in "
                       "mg, g or ug, or per kg: `with daily dose >= 10 mg`, `>= 0.5 mg/kg`")
        if equivalent is not None and equivalent not in dose_equivalents.REFERENCES:
            close = _suggest(equivalent, tuple(dose_equivalents.REFERENCES))
            self.error("unknown-equivalent", f"no equivalent doses are known for "
                       f"`{equivalent}`", self.word_span(equivalent, span),
                       close or "reference drugs: " + ", ".join(dose_equivalents.REFERENCES))

    def check_grade(self, grade: int, span: Span, lowest: int) -> None:
        if not lowest <= grade <= 5:
            self.error("bad-grade", f"CTCAE grades run from {lowest} to 5, not {grade}",
                       self.word_span(str(grade), span), "use a grade between "
                       f"{lowest} and 5")

    def check_language(self, language: str, span: Span) -> None:
        if attributes.language_code(language) is None:
            close = attributes.suggest_language(language)
            self.error("unknown-language", f"unknown language `{language}`",
                       self.word_span(language, span),
                       f"did you mean `{close}`?" if close else
                       "write an English language name or an ISO 639-1 code: english, en")

    def check_place(self, level: str, code: str, span: Span) -> None:
        problem = attributes.place_problem(level, code)
        if problem is not None:
            message, hint = problem
            self.error("unknown-place", message, self.word_span(f'"{code}"', span), hint)

    def check_timing(self, timing: r.Timing) -> None:
        match timing:
            case r.Window(amount, unit, span) if amount < 1:
                self.error("bad-window", f"`within {amount} {unit}` is an empty window", span,
                           f"a window counts back from the screening date; use 1 or more "
                           f"{unit}, or drop `within` to search the whole record")
            case r.AgoWindow(low, high, unit, span) if low > high:
                self.error("bad-window", f"`between {low} and {high} {unit} ago` is empty", span,
                           f"write the nearer time first: between {high} and {low} {unit} ago")
            case r.Anchor(_, kind, target):
                self.check_target(target)
                self.check_library_kind(kind, target, anchor=True)

    def unknown_subject(self, subject: str, span: Span) -> None:
        # The subject opens the rule; a dotted one may contain spaces, so only a plain
        # name is pointed at exactly.
        if "." not in subject:
            span = Span(span.start, span.start + len(subject))
        names = [*FIELDS, *(e.name for e in obs.entries()), *derived.DERIVED]
        close = obs.suggest(subject) or next(
            iter(difflib.get_close_matches(subject, names, n=1, cutoff=0.6)), None)
        hint = (f"did you mean `{close}`?" if close
                else "`eligo observations` lists the observation library")
        self.error("unknown-field", f"unknown field or observation `{subject}`", span, hint)

    def check_field(self, node: r.Compare | r.Between | r.InList) -> None:
        subject = node.subject
        if subject in FIELDS:
            if node.timing is not None:
                self.error("bad-window", f"`{subject}` has no time to look at",
                           node.timing.span, f"drop the time words after the {subject} rule")
            if subject == "age":
                self.check_age(node)
            else:
                self.check_category(node)
            return
        entry = obs.lookup(subject)
        if entry is not None:
            self.check_observation_values(node, entry)
        elif derived.lookup(subject) is not None:
            self.check_score_values(node, derived.DERIVED[subject])
        else:
            self.unknown_subject(subject, node.span)
            return
        if node.timing is not None:
            self.check_timing(node.timing)

    def node_values(self, node: r.Compare | r.Between | r.InList) -> list[r.Value]:
        match node:
            case r.Compare(_, _, value):
                return [value]
            case r.InList(_, values):
                return list(values)
            case r.Between(_, low, high, unit, span=span):
                return [r.Quantity(low, unit, span), r.Quantity(high, unit, span)]

    def check_observation_values(self, node: r.Compare | r.Between | r.InList,
                                 entry: obs.ObservationEntry) -> None:
        if entry.kind == "qualitative":
            self.error("type-mismatch", f"{entry.title} is a qualitative result; it is not "
                       "compared with numbers", node.span,
                       f"write `{node.subject} is positive` or `{node.subject} is negative`")
            return
        for value in self.node_values(node):
            match entry.kind, value:
                case "quantity", r.Quantity(number, unit):
                    if unit is None and entry.unit not in CUSTOMARY_UNITS:
                        self.error("unit-mismatch", f"{entry.title} needs a unit",
                                   value.span, f"for example `{number} {entry.unit}`")
                    elif measurements.canonical(entry, float(number), unit) is None:
                        self.error("unit-mismatch", f"`{unit}` does not convert to {entry.unit} "
                                   f"for {entry.title}", value.span,
                                   f"use a unit of the same kind as {entry.unit}")
                case "quantity", r.UlnMultiple():
                    pass
                case "score", r.Quantity(number, unit):
                    if unit is not None:
                        self.error("unit-mismatch", f"{entry.title} is a score without a unit",
                                   value.span, f"write the number alone: {number}")
                    elif entry.score_range and not (
                            entry.score_range[0] <= float(number) <= entry.score_range[1]):
                        low, high = entry.score_range
                        self.error("bad-value", f"`{number}` is outside the {entry.title} "
                                   f"scale ({low:g}-{high:g})", value.span,
                                   f"use a value between {low:g} and {high:g}")
                case "ordinal", r.Symbol() | r.Quantity(unit=None):
                    label = value.name if isinstance(value, r.Symbol) else str(value.number)
                    if obs.ordinal_index(entry, label) is None:
                        self.error("bad-value", f"`{label}` is not a level of {entry.title}",
                                   value.span, "its levels are " + ", ".join(entry.levels))
                case _:
                    self.error("type-mismatch", f"{entry.title} is not compared with "
                               f"`{printer.value_text(value)}`", value.span,
                               {"quantity": f"write a number and unit, e.g. 1 {entry.unit}",
                                "score": "write a number",
                                "ordinal": "write one of " + ", ".join(entry.levels)}
                               .get(entry.kind))

    def check_score_values(self, node: r.Compare | r.Between | r.InList,
                           score: derived.DerivedScore) -> None:
        for value in self.node_values(node):
            if score.labels:
                label = value.name if isinstance(value, r.Symbol) else (
                    str(value.number) if isinstance(value, r.Quantity) else None)
                if label not in score.labels:
                    self.error("bad-value", f"`{printer.value_text(value)}` is not a class of "
                               f"`{score.name}`", value.span,
                               "its classes are " + ", ".join(score.labels))
            elif not isinstance(value, r.Quantity):
                self.error("type-mismatch", f"{score.name} is compared with a number",
                           value.span, f"for example `{score.name} >= 15`")
            elif value.unit is not None and not _converts(value.unit, score.unit):
                unit_said = f"in {score.unit}" if score.unit else "a score without a unit"
                number_said = f"in {score.unit}" if score.unit else "alone"
                self.error("unit-mismatch", f"`{score.name}` is {unit_said}", value.span,
                           f"write the number {number_said}")

    def check_result_test(self, node: r.ResultTest) -> None:
        from eligo.evaluate_observations import RESULT_WORDS

        for subject in node.subjects:
            entry = obs.lookup(subject)
            if entry is None:
                self.unknown_subject(subject, self.word_span(subject, node.span))
            elif entry.kind != "qualitative" and not entry.detectable:
                self.error("type-mismatch", f"{entry.title} is not a positive/negative result",
                           self.word_span(subject, node.span),
                           f"compare it instead, e.g. `{subject} < 1 {entry.unit or ''}`".strip())
        if node.result not in RESULT_WORDS:
            self.error("bad-value", f"`{node.result}` is not a test result",
                       self.word_span(node.result, node.span),
                       _suggest(node.result, RESULT_WORDS)
                       or "use positive, negative, detected, undetected, reactive, "
                       "nonreactive or indeterminate")
        if node.timing is not None:
            self.check_timing(node.timing)

    def check_aggregate(self, node: r.Aggregate) -> None:
        from eligo.evaluate_observations import AGGREGATE_FUNCTIONS

        if node.function not in AGGREGATE_FUNCTIONS:
            self.error("unknown-function", f"unknown aggregate `{node.function}`",
                       self.word_span(node.function, node.span),
                       _suggest(node.function, AGGREGATE_FUNCTIONS)
                       or "use " + ", ".join(AGGREGATE_FUNCTIONS))
        if node.count < 1:
            self.error("bad-count", "an aggregate needs at least 1 value", node.span,
                       "write `last 1` or more")
        entry = obs.lookup(node.subject)
        if entry is None:
            self.unknown_subject(node.subject, self.word_span(node.subject, node.span))
        elif entry.kind not in ("quantity", "score"):
            self.error("type-mismatch", f"{entry.title} values cannot be averaged",
                       self.word_span(node.subject, node.span),
                       "aggregate a lab value or a numeric score")
        else:
            self.check_observation_values(
                r.Compare(node.subject, node.op, node.value, None, node.span), entry)
        if node.timing is not None:
            self.check_timing(node.timing)

    def check_age(self, node: r.Compare | r.Between | r.InList) -> None:
        values: list[r.Value]
        match node:
            case r.Between(_, low, high, unit, span=span):
                self.check_age_unit(unit, span)
                if low > high:
                    self.error("bad-range", f"the range {low}–{high} is empty", span,
                               f"write the lower bound first: between {high} and {low}")
                return
            case r.Compare(_, _, value):
                values = [value]
            case r.InList(_, items):
                values = list(items)
        for value in values:
            if not isinstance(value, r.Quantity):
                self.error("type-mismatch", "age is compared with a number", value.span,
                           "for example `age >= 18 years`")
            else:
                self.check_age_unit(value.unit, value.span)
        units = {AGE_UNITS.get(v.unit or "years") for v in values if isinstance(v, r.Quantity)}
        if len(units) > 1 and None not in units:
            self.error("unit-mismatch", "the ages in this list use different units", node.span,
                       "give every age the same unit, e.g. "
                       "`age in [6 months, 12 months, 24 months]`")

    def check_age_unit(self, unit: str | None, span: Span) -> None:
        if unit is not None and unit not in AGE_UNITS:
            self.error("unit-mismatch", f"`{unit}` is not a unit of age", span,
                       _suggest(unit, AGE_UNITS) or "use years, months, weeks or days")

    def check_category(self, node: r.Compare | r.Between | r.InList) -> None:
        subject = node.subject
        allowed = CATEGORIES[subject]
        example = f"{subject} = {allowed[0]}"
        match node:
            case r.Between(span=span):
                self.error("type-mismatch", f"{subject} has no order; `between` does not apply",
                           span, f"write `{example}` or `{subject} in [{allowed[0]}, "
                           f"{allowed[1]}]`")
                return
            case r.Compare(_, op, value, span=span) if op not in ("=", "!="):
                self.error("type-mismatch", f"{subject} has no order; `{op}` does not apply",
                           span, "use `=` or `!=`")
                return
            case r.Compare(_, _, value):
                values: list[r.Value] = [value]
            case r.InList(_, items):
                values = list(items)
        for value in values:
            if isinstance(value, r.Text) and value.value in allowed:
                self.error("bad-value", f"{subject} values are words, not quoted text",
                           value.span, f"write it without quotes: {value.value}")
                continue
            word = value.name if isinstance(value, r.Symbol) else None
            if word == "unknown":
                self.error("bad-value", f"`{subject} = unknown` can never hold", value.span,
                           f"a missing or unknown {subject} makes the comparison UNKNOWN; test "
                           "the known values instead")
            elif word not in allowed:
                shown = word or (value.value if isinstance(value, r.Text)
                                 else str(getattr(value, "number", "")))
                self.error("bad-value", f"`{shown}` is not a value of {subject}", value.span,
                           _suggest(shown, allowed) or f"{subject} is one of "
                           + ", ".join(v for v in allowed if v != "unknown"))

    def check_cycles(self) -> None:
        names = {d.name for d in self.protocol.defines}

        def uses(expr: r.Expr) -> list[r.Reference]:
            found = []
            for n in walk(expr):
                if isinstance(n, r.Reference) and n.name in names:
                    found.append(n)
                elif isinstance(n, r.ChildbearingPotential) and OWN_WOCBP in names:
                    # the built-in rule means the protocol's own definition when it has one
                    found.append(r.Reference(OWN_WOCBP, n.span))
            return found

        graph = {d.name: uses(d.expr) for d in self.protocol.defines}
        done: set[str] = set()
        for root in graph:
            if root in done:
                continue
            # Depth-first without recursion; `path` is the chain of defines being expanded.
            path: list[str] = [root]
            pending: list[list[r.Reference]] = [list(reversed(graph[root]))]
            while pending:
                if not pending[-1]:
                    done.add(path.pop())
                    pending.pop()
                    continue
                ref = pending[-1].pop()
                if ref.name in path:
                    cycle = [*path[path.index(ref.name):], ref.name]
                    self.error("define-cycle", "defines refer to each other in a cycle: "
                               + " -> ".join(cycle), ref.span,
                               "a define may only use defines that do not use it back")
                elif ref.name not in done:
                    path.append(ref.name)
                    pending.append(list(reversed(graph[ref.name])))


def _range_shape_problem(ref: r.CodeRef) -> str | None:
    """ICD-10-CM ranges that are not `LOW-HIGH` (checked before the codes themselves)."""
    if ref.system != "icd10cm" or "-" not in ref.code:
        return None
    if ref.match == "descendants":
        return f"the range {ref.code} cannot take `*`"
    if ref.code.endswith("-"):
        return f"the range {ref.code} has no upper end"
    return None


def _code_hint(ref: r.CodeRef, backwards: bool) -> str | None:
    """What to write instead of an invalid code, per code system."""
    label = SYSTEM_LABELS.get(ref.system, ref.system)
    if ref.system == "icd10cm" and "-" in ref.code:
        if ref.match == "descendants":
            return f"a range already covers the codes under both ends; write {ref.code}"
        if ref.code.endswith("-"):
            return "write both ends of the range, e.g. C00-C96"
    if backwards:
        low, _, high = ref.code.partition("-")
        return f"write the lower code first: {high}-{low}"
    if ref.match == "descendants" and ref.system != "icd10cm":
        return f"write `{ref.code}` without `*`, and list its {label} descendants one by one"
    if ref.match == "range":
        if ref.system != "icd10cm":
            return f"list the {label} codes one by one"
        return "both ends of a range must be valid ICD-10-CM codes, e.g. C00-C96"
    block = icd10cm_chapter_block(ref.code) if ref.system == "icd10cm" else None
    if block:
        return f"chapter {ref.code} covers {block}; write that range"
    if ref.system == "icd10cm":
        near = nearest_icd10cm(ref.code)
        if near:
            return "nearest valid codes: " + ", ".join(near)
        return "look the code up in the ICD-10-CM tabular list"
    if ref.system == "snomed" and ref.code.isdigit() and 6 <= len(ref.code) <= 18:
        return "the last digit is a check digit, so one digit is probably mistyped; " \
               "copy the identifier from a SNOMED CT browser"
    return f"copy the code from the {label} release or browser"


def _converts(unit: str, target: str | None) -> bool:
    """Whether a value written in ``unit`` converts to ``target`` (UCUM, via eligo.units)."""
    if target is None:
        return False
    try:
        return units.same_dimension(unit, target)
    except units.UnitError:
        return False


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def compile_source(source: Source) -> r.Protocol:
    """Parse and check a protocol text; raise one :class:`ProtocolError` with all problems."""
    protocol, diagnostics = parse_protocol(source)
    checker = _Checker(protocol, source)
    checker.run()
    diagnostics.extend(checker.diagnostics)
    if diagnostics:
        raise ProtocolError(source, diagnostics)
    return replace(protocol, source_hash=content_hash(source.text))


def compile_text(text: str, name: str = "<string>") -> r.Protocol:
    return compile_source(Source(text, name))


def compile_file(path: Path) -> r.Protocol:
    return compile_source(Source(path.read_text(encoding="utf-8"), str(path)))
