"""Protocol text -> rule objects. Syntax errors become :class:`ProtocolError` with positions.

The transformer only builds nodes; it never raises, so no ``VisitError`` can escape.
Structural problems visible in the tree (missing, repeated or empty sections) are
returned as diagnostics for the compiler to report together with the semantic ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.tree import Meta, Tree

from eligo import rules as r
from eligo.errors import Diagnostic, ProtocolError
from eligo.grammar import parser
from eligo.source import Source, Span

# What each terminal means, in words, for "expected ..." messages.
_TERMINAL_WORDS: dict[str, str] = {
    "NAME": "a name",
    "CRITERION_ID": 'a criterion id and its quoted text (I1 "...")',
    "TRIAL_ID": "the trial id",
    "STRING": "a quoted text",
    "CODE": "a code",
    "COMPARATOR": "a comparison (=, !=, <, <=, >, >=)",
    "NUMBER": "a number",
    "INT": "a whole number",
    "UNIT": "a unit",
    "TIME_UNIT": "days, weeks, months or years",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "SEMICOLON": "`;`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "DOT": "`.`",
    "CHILDBEARING_POTENTIAL": "`childbearing potential`",
    "GESTATIONAL_AGE": "`gestational age`",
    "ANOTHER_STUDY": "`another study`",
    "INVESTIGATIONAL_PRODUCT": "`investigational product`",
    "STAGE_AXIS": "stage, T, N or M",
    "STAGE_LABEL": "a stage label (such as IIIB, T2 or N1)",
    "ALLERGY_CATEGORY": "drug, food or environment",
    "BIOMARKER_WORD": "a gene, alteration or measure name (such as EGFR, V600E or TPS)",
    "EVENT": "`event`",
    "ENCOUNTER_SETTING": ("a setting (inpatient, intensive_care, emergency, outpatient, home, "
                          "virtual, long_term_care, palliative_care)"),
    "SEVERITY_LABEL": "mild, moderate or severe",
    "DAILY_DOSE": "`daily dose`",
    "SCHEDULED_FOR": "`scheduled for`",
    "FAMILY_HISTORY": "`family history`",
    "STUDY": "`study`",
    "FAMILY_RECORDED": "`family history recorded`",
    "FIRST_DEGREE_RELATIVE": "`first degree relative`",
    "DISEASE_PROGRESSION": "`disease progression`",
    "DISEASE_RECURRENCE": "`disease recurrence`",
    "$END": "the end of the file",
}

_CRITERION_SHAPE = (
    'a criterion is its id, the protocol\'s text in quotes, a colon and a rule: '
    'I1 "Aged 18-70 years": age between 18 and 70 years'
)


_HEADER_SHAPE = 'a protocol starts with its header: trial NCT01224327 "Title"'

# Terminals that can start a rule; when all are expected they are named as one.
_RULE_START = frozenset({
    "LPAR", "AT", "HAD", "HAS", "MANUAL", "NOT", "PREGNANT", "TAKING", "NAME", "ANY",
    "BREASTFEEDING", "CHILDBEARING_POTENTIAL", "GESTATIONAL_AGE", "ALLERGIC", "INTOLERANT",
    "ENROLLED", "BIOMARKER", "ADVERSE", "SPEAKS", "RESIDES", "ENCOUNTER", "VACCINATED",
    "SCHEDULED_FOR", "FAMILY_HISTORY",
})
_A_RULE = "a rule (such as `age >= 18 years`, `has condition NAME`, `pregnant` or a define's name)"

# Tokens that a criterion id written without its quoted text is lexed as.
_ID_LIKE = frozenset({"NAME", "TRIAL_ID", "CODE", "UNIT"})

# Keywords a name may begin with by accident (`andx` is a name, not `and x`).
_KEYWORDS = ("and", "or", "not", "within", "of")

# Deeper nesting than this is refused before the (recursive) tree transformation.
MAX_DEPTH = 100

# Whole numbers (counts, windows) longer than this are refused rather than converted.
MAX_INT_DIGITS = 9


def _words(terminal: str) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    return f"`{terminal.lower()}`"


def _expected_words(expected: set[str]) -> str:
    shown = {t for t in expected if not t.startswith("__")}
    words: set[str] = set()
    if shown >= _RULE_START:
        shown -= _RULE_START
        words.add(_A_RULE)
    names = sorted(words | {_words(t) for t in shown})
    if not names:
        return "something else"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _describe(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    value = str(token.value)
    if len(value) > 40:
        value = value[:37] + "..."
    return f"`{value}`"


def _accepted(err: UnexpectedInput, fallback: set[str]) -> set[str]:
    """The terminals the parser could really take here (LALR's lookahead sets are merged)."""
    interactive = getattr(err, "interactive_parser", None)
    if interactive is None:
        return fallback
    accepts = cast(set[str], interactive.accepts())
    return accepts or fallback


def _next_char(text: str, pos: int) -> str:
    rest = text[pos:].lstrip(" \t")
    return rest[:1]


def _bleed_note(token: Token, expected: set[str]) -> str | None:
    """`andx` where `and` was possible: say that it is one name, not the keyword."""
    if token.type not in _ID_LIKE:
        return None
    word = str(token.value)
    for keyword in _KEYWORDS:
        if word.startswith(keyword) and len(word) > len(keyword) and keyword.upper() in expected:
            return (f"`{word}` is one name, not the keyword `{keyword}`; "
                    f"if you meant `{keyword}`, put a space after it")
    return None


def _syntax_diagnostic(source: Source, err: UnexpectedInput) -> Diagnostic:
    text = source.text
    if isinstance(err, UnexpectedToken):
        token = err.token
        expected = _accepted(err, set(err.expected))
        hint = f"expected {_expected_words(expected)}"
        if token.type == "$END":
            # $END borrows the position of the last token: point just past it.
            end = token.end_pos if token.end_pos is not None else len(text.rstrip())
            end = max(0, min(end, len(text)))
            span = Span(end, end)
            message = "unexpected end of file"
            if "TRIAL" in expected:
                message, hint = "the protocol is empty", _HEADER_SHAPE
            return Diagnostic("syntax", message, span, hint)
        span = _tok_span(token)
        span = Span(span.start, max(span.end, span.start + 1))
        message = f"unexpected {_describe(token)}"
        if "TRIAL" in expected:
            hint = f"{hint}; {_HEADER_SHAPE}"
        elif "CRITERION_ID" in expected and token.type == "STRING":
            message = f"criterion {_describe(token)} has no id"
            hint = f'start each criterion with its id: I1 {_describe(token)[1:-1]}: ...'
        elif ("CRITERION_ID" in expected and token.type in _ID_LIKE
              and _next_char(text, span.end) == ":"):
            message = f"criterion {_describe(token)} has no quoted text"
            hint = ("write the protocol's wording in quotes between the id and the colon: "
                    f'{token.value} "...": ...')
        elif expected == {"COLON", "LSQB"}:
            hint = ("expected `:` between the criterion's text and its rule "
                    "(or `[open world]` / `[closed world]` before the colon)")
        elif note := _bleed_note(token, expected):
            hint = f"{note}; {hint}"
        elif expected & {"CRITERION_ID", "COLON"} or (
            expected == {"STRING"} and token.type == "COLON"
        ):
            hint = f"{hint}; {_CRITERION_SHAPE}"
        return Diagnostic("syntax", message, span, hint)
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        allowed = _accepted(err, set(err.allowed or ()))
        char_hint = f"expected {_expected_words(allowed)}" if allowed else None
        if char == '"':
            return Diagnostic(
                "unterminated-text",
                "quoted text is not closed on this line",
                Span(pos, pos + 1),
                'close the text with `"`; write a quote inside it as \\"',
            )
        shown = char if char.isprintable() else f"U+{ord(char):04X}" if char else "end of file"
        return Diagnostic(
            "syntax", f"unexpected character `{shown}`", Span(pos, min(pos + 1, len(text))),
            char_hint,
        )
    if isinstance(err, UnexpectedEOF):
        end = len(text)
        return Diagnostic("syntax", "unexpected end of file", Span(max(0, end - 1), end))
    raise AssertionError(f"unhandled lark error {type(err).__name__}")  # pragma: no cover


def _span(meta: Meta) -> Span:
    if getattr(meta, "empty", True):
        return r.NO_SPAN
    return Span(meta.start_pos, meta.end_pos)


def _tok_span(token: Token) -> Span:
    start = token.start_pos or 0
    return Span(start, token.end_pos if token.end_pos is not None else start)


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tokens(children: list[Any], *types: str) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type in types]


def _nodes(children: list[Any]) -> list[Any]:
    return [c for c in children if not isinstance(c, Token)]


_TIME_UNITS: dict[str, r.TimeUnit] = {
    "day": "days", "days": "days", "week": "weeks", "weeks": "weeks",
    "month": "months", "months": "months", "year": "years", "years": "years",
}


@v_args(meta=True)
class _ToRules(Transformer[Token, Any]):
    """Each method builds the rule object for the production of the same name.

    Problems found while building (a number too large to hold) are collected in
    ``diagnostics`` instead of raised, so that no ``VisitError`` escapes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.diagnostics: list[Diagnostic] = []

    def _int(self, token: Token, what: str, placeholder: int) -> int:
        digits = str(token).lstrip("0")
        if len(digits) <= MAX_INT_DIGITS:
            return int(str(token))
        self.diagnostics.append(Diagnostic(
            "bad-number", f"{_describe(token)} is too large for {what}", _tok_span(token),
            f"use a whole number of at most {MAX_INT_DIGITS} digits",
        ))
        return placeholder

    # header: TRIAL TRIAL_ID STRING? version?
    def header(self, meta: Meta, ch: list[Any]) -> tuple[str, str | None, str | None]:
        trial_id = str(_tokens(ch, "TRIAL_ID")[0])
        strings = _tokens(ch, "STRING")
        versions = [c for c in ch if isinstance(c, tuple) and c[0] == "version"]
        return (trial_id, _unquote(strings[0]) if strings else None,
                versions[0][1] if versions else None)

    def version(self, meta: Meta, ch: list[Any]) -> tuple[str, str]:
        return ("version", _unquote(_tokens(ch, "STRING")[0]))

    def assume_open_world(self, meta: Meta, ch: list[Any]) -> tuple[str, Span]:
        return ("open_world", _span(meta))

    def assume_research_recorded(self, meta: Meta, ch: list[Any]) -> tuple[str, Span]:
        return ("research_recorded", _span(meta))

    def assume_family_recorded(self, meta: Meta, ch: list[Any]) -> tuple[str, Span]:
        return ("family_recorded", _span(meta))

    # use: USE NAME ("," NAME)*
    def use(self, meta: Meta, ch: list[Any]) -> tuple[str, list[r.LibraryUse]]:
        return ("use", [r.LibraryUse(str(t), _tok_span(t)) for t in _tokens(ch, "NAME")])

    # valueset: VALUESET NAME STRING? "=" code_groups
    def valueset(self, meta: Meta, ch: list[Any]) -> r.ValueSet:
        name = _tokens(ch, "NAME")[0]
        strings = _tokens(ch, "STRING")
        codes, includes = _nodes(ch)[0]
        return r.ValueSet(str(name), _unquote(strings[0]) if strings else None, codes,
                          tuple(inc.name for inc in includes), _span(meta))

    def code_groups(self, meta: Meta, ch: list[Any]
                    ) -> tuple[tuple[r.CodeRef, ...], tuple[r.LibraryUse, ...]]:
        codes = tuple(c for group in ch if not isinstance(group, r.LibraryUse) for c in group)
        return codes, tuple(g for g in ch if isinstance(g, r.LibraryUse))

    # code_group: USE NAME  -- a library value set included in this one
    def included_valueset(self, meta: Meta, ch: list[Any]) -> r.LibraryUse:
        name = _tokens(ch, "NAME")[0]
        return r.LibraryUse(str(name), _tok_span(name))

    # code_group: NAME code ("," code)*  -- the NAME is the code system
    def code_group(self, meta: Meta, ch: list[Any]) -> tuple[r.CodeRef, ...]:
        system_token = ch[0]
        system = str(system_token)
        refs = []
        for token in _tokens(ch, "CODE"):
            text = str(token)
            match: r.CodeMatch = "exact"
            if text.endswith("*"):
                match, text = "descendants", text[:-1]
            elif system == "icd10cm" and "-" in text:
                match = "range"
            refs.append(r.CodeRef(system, text, match, _tok_span(token)))
        return tuple(refs)

    def code(self, meta: Meta, ch: list[Any]) -> Token:
        return cast(Token, ch[0])

    def define(self, meta: Meta, ch: list[Any]) -> r.Define:
        return r.Define(str(_tokens(ch, "NAME")[0]), _nodes(ch)[0], _span(meta))

    def inclusion(self, meta: Meta, ch: list[Any]) -> tuple[str, Span, list[Any]]:
        return ("inclusion", _tok_span(ch[0]), _nodes(ch))

    def exclusion(self, meta: Meta, ch: list[Any]) -> tuple[str, Span, list[Any]]:
        return ("exclusion", _tok_span(ch[0]), _nodes(ch))

    # criterion: CRITERION_ID STRING world? ":" expr  (kind is set by the section)
    def criterion(self, meta: Meta, ch: list[Any]) -> r.Criterion:
        ident = _tokens(ch, "CRITERION_ID")[0]
        text = _unquote(_tokens(ch, "STRING")[0])
        nodes = _nodes(ch)
        world = next((n for n in nodes if isinstance(n, bool)), None)
        expr = nodes[-1]
        return r.Criterion(str(ident), text, r.CriterionKind.INCLUSION, expr, world, _span(meta))

    def open_world(self, meta: Meta, ch: list[Any]) -> bool:
        return True

    def closed_world(self, meta: Meta, ch: list[Any]) -> bool:
        return False

    def or_(self, meta: Meta, ch: list[Any]) -> r.Or:
        return r.Or(tuple(_nodes(ch)), _span(meta))

    def and_(self, meta: Meta, ch: list[Any]) -> r.And:
        return r.And(tuple(_nodes(ch)), _span(meta))

    def not_(self, meta: Meta, ch: list[Any]) -> r.Not:
        return r.Not(_nodes(ch)[0], _span(meta))

    def pregnant(self, meta: Meta, ch: list[Any]) -> r.Pregnant:
        return r.Pregnant(_span(meta))

    def manual(self, meta: Meta, ch: list[Any]) -> r.Manual:
        return r.Manual(_unquote(_tokens(ch, "STRING")[0]), _span(meta))

    def at_least(self, meta: Meta, ch: list[Any]) -> r.AtLeast:
        operands = tuple(_nodes(ch))
        count = self._int(_tokens(ch, "INT")[0], "a count", len(operands))
        return r.AtLeast(count, operands, _span(meta))

    def reference(self, meta: Meta, ch: list[Any]) -> r.Reference:
        return r.Reference(str(ch[0]), _span(meta))

    def subject(self, meta: Meta, ch: list[Any]) -> tuple[str, Span]:
        return ".".join(str(t) for t in _tokens(ch, "NAME")), _span(meta)

    def comparison(self, meta: Meta, ch: list[Any]) -> r.Compare:
        subject, _ = ch[0]
        op = cast(r.Comparator, str(_tokens(ch, "COMPARATOR")[0]))
        value = next(n for n in _nodes(ch[1:]) if isinstance(n, _VALUES))
        return r.Compare(subject, op, value, _timing(ch), _span(meta))

    def between(self, meta: Meta, ch: list[Any]) -> r.Between:
        subject, _ = ch[0]
        low, high = (Decimal(str(t)) for t in _tokens(ch, "NUMBER"))
        units = [c for c in _nodes(ch[1:]) if isinstance(c, str)]
        return r.Between(subject, low, high, units[0] if units else None, _timing(ch),
                         _span(meta))

    def membership(self, meta: Meta, ch: list[Any]) -> r.InList:
        subject, _ = ch[0]
        values = tuple(n for n in _nodes(ch[1:]) if isinstance(n, _VALUES))
        return r.InList(subject, values, _timing(ch), _span(meta))

    # result_test: subject IS NAME timing?
    def result_test(self, meta: Meta, ch: list[Any]) -> r.ResultTest:
        subject, _ = ch[0]
        result = str(_tokens(ch, "NAME")[-1])
        return r.ResultTest((subject,), result, False, _timing(ch), _span(meta))

    # ANY OF "[" subject ("," subject)* "]" IS NAME timing?
    def any_result(self, meta: Meta, ch: list[Any]) -> r.ResultTest:
        subjects = tuple(n[0] for n in _nodes(ch) if isinstance(n, tuple))
        result = str(_tokens(ch, "NAME")[-1])
        return r.ResultTest(subjects, result, True, _timing(ch), _span(meta))

    # aggregate: NAME OF LAST INT subject timing? COMPARATOR value
    def aggregate(self, meta: Meta, ch: list[Any]) -> r.Aggregate:
        function = str(ch[0])
        count = self._int(_tokens(ch, "INT")[0], "a count", 1)
        subject = next(n for n in _nodes(ch) if isinstance(n, tuple))[0]
        op = cast(r.Comparator, str(_tokens(ch, "COMPARATOR")[0]))
        value = next(n for n in _nodes(ch) if isinstance(n, _VALUES))
        return r.Aggregate(function, count, subject, op, value, _timing(ch), _span(meta))

    def uln_multiple(self, meta: Meta, ch: list[Any]) -> r.UlnMultiple:
        return r.UlnMultiple(Decimal(str(_tokens(ch, "NUMBER")[0])), _span(meta))

    def quantity(self, meta: Meta, ch: list[Any]) -> r.Quantity:
        number = Decimal(str(_tokens(ch, "NUMBER")[0]))
        units = [c for c in _nodes(ch) if isinstance(c, str)]
        return r.Quantity(number, units[0] if units else None, _span(meta))

    def unit(self, meta: Meta, ch: list[Any]) -> str:
        # A plain str (not a Token) so _nodes() keeps it.
        return str(ch[0])

    def symbol(self, meta: Meta, ch: list[Any]) -> r.Symbol:
        return r.Symbol(str(ch[0]), _span(meta))

    def text(self, meta: Meta, ch: list[Any]) -> r.Text:
        return r.Text(_unquote(ch[0]), _span(meta))

    def _query(self, kind: r.EventKind, meta: Meta, ch: list[Any]) -> r.RecordQuery:
        nodes = _nodes(ch)
        target = nodes[0]
        timings = [n for n in nodes[1:] if isinstance(n, _TIMINGS)]
        durations = [n for n in nodes if isinstance(n, r.Duration)]
        times = [n for n in nodes if isinstance(n, _Times)]
        details = tuple(n for n in nodes if isinstance(n, _DETAILS))
        for extra in (*timings[1:], *durations[1:], *times[1:]):
            self._repeated(extra.span, "give a record query at most one time, one duration "
                           "and one count")
        return r.RecordQuery(kind, target, timings[0] if timings else None,
                             durations[0] if durations else None,
                             times[0].count if times else None, details, _span(meta))

    def _repeated(self, span: Span, hint: str) -> None:
        self.diagnostics.append(Diagnostic(
            "repeated-qualifier", "this query already has one of these", span, hint))

    def has_condition(self, meta: Meta, ch: list[Any]) -> r.RecordQuery:
        return self._query("condition", meta, ch)

    def has_history(self, meta: Meta, ch: list[Any]) -> r.RecordQuery:
        return self._query("history", meta, ch)

    def taking_medication(self, meta: Meta, ch: list[Any]) -> r.RecordQuery:
        return self._query("medication", meta, ch)

    def had_procedure(self, meta: Meta, ch: list[Any]) -> r.RecordQuery:
        return self._query("procedure", meta, ch)

    # WITH stage_basis? STAGE_AXIS stage_test
    def stage(self, meta: Meta, ch: list[Any]) -> r.StageTest:
        bases = [str(n) for n in _nodes(ch) if isinstance(n, str)]
        axis = cast(r.StageAxis, str(_tokens(ch, "STAGE_AXIS")[0]))
        op, labels = next(n for n in _nodes(ch) if isinstance(n, tuple))
        return r.StageTest(axis, cast(r.StageBasis, bases[0]) if bases else None, op, labels,
                           _span(meta))

    def stage_basis(self, meta: Meta, ch: list[Any]) -> str:
        return str(ch[0])

    def stage_test(self, meta: Meta, ch: list[Any]
                   ) -> tuple[r.Comparator | Literal["in"], tuple[str, ...]]:
        labels = tuple(str(t) for t in _tokens(ch, "STAGE_LABEL"))
        comparators = _tokens(ch, "COMPARATOR")
        return (cast(r.Comparator, str(comparators[0])) if comparators else "in"), labels

    def histology(self, meta: Meta, ch: list[Any]) -> r.HistologyTest:
        return r.HistologyTest(_nodes(ch)[0], _span(meta))

    def histology_confirmed(self, meta: Meta, ch: list[Any]) -> r.HistologyConfirmed:
        basis = str(_tokens(ch, "CONFIRMATION_BASIS")[0])
        return r.HistologyConfirmed(cast(r.ConfirmationBasis, basis), _span(meta))

    # WITH SEVERITY severity_test
    def severity(self, meta: Meta, ch: list[Any]) -> r.SeverityTest:
        op, labels = next(n for n in _nodes(ch) if isinstance(n, tuple))
        return r.SeverityTest(op, labels, _span(meta))

    def severity_test(self, meta: Meta, ch: list[Any]
                      ) -> tuple[r.Comparator | Literal["in"], tuple[r.SeverityLabel, ...]]:
        labels = tuple(cast(r.SeverityLabel, str(t)) for t in _tokens(ch, "SEVERITY_LABEL"))
        comparators = _tokens(ch, "COMPARATOR")
        return (cast(r.Comparator, str(comparators[0])) if comparators else "in"), labels

    # WITH ONSET WITHIN INT TIME_UNIT
    def onset_within(self, meta: Meta, ch: list[Any]) -> r.OnsetTest:
        return r.OnsetTest(self.window(meta, ch), _span(meta))

    # WITH ONSET BETWEEN INT AND INT TIME_UNIT AGO
    def onset_ago(self, meta: Meta, ch: list[Any]) -> r.OnsetTest:
        return r.OnsetTest(self.ago_window(meta, ch), _span(meta))

    # WITH ONSET AT AGE COMPARATOR INT TIME_UNIT
    def onset_age(self, meta: Meta, ch: list[Any]) -> r.OnsetAgeTest:
        op = cast(r.Comparator, str(_tokens(ch, "COMPARATOR")[0]))
        amount = int(str(_tokens(ch, "INT")[0]))
        unit = str(_tokens(ch, "TIME_UNIT")[0])
        plural = unit if unit.endswith("s") else unit + "s"
        if plural not in ("years", "months"):
            self.diagnostics.append(Diagnostic(
                "bad-unit", f"an age at onset is counted in years or months, not {plural}",
                _tok_span(_tokens(ch, "TIME_UNIT")[0]), "write `years` or `months`"))
            plural = "years"
        return r.OnsetAgeTest(op, amount, cast(Literal["years", "months"], plural),
                              _span(meta))

    # WITH DAILY_DOSE COMPARATOR NUMBER unit (NAME EQUIVALENT)?
    def daily_dose(self, meta: Meta, ch: list[Any]) -> r.DoseTest:
        op = cast(r.Comparator, str(_tokens(ch, "COMPARATOR")[0]))
        amount = Decimal(str(_tokens(ch, "NUMBER")[0]))
        unit = next(n for n in _nodes(ch) if isinstance(n, str))
        names = _tokens(ch, "NAME")
        return r.DoseTest(op, amount, unit, str(names[0]) if names else None, _span(meta))

    def regularly(self, meta: Meta, ch: list[Any]) -> r.RegularUse:
        return r.RegularUse(_span(meta))

    # WITH BODY_SITE target
    def body_site(self, meta: Meta, ch: list[Any]) -> r.BodySiteTest:
        return r.BodySiteTest(_nodes(ch)[0], _span(meta))

    # ENCOUNTER ENCOUNTER_SETTING (FOR target)? timing?
    def encounter(self, meta: Meta, ch: list[Any]) -> r.EncounterQuery:
        setting = cast(r.EncounterSetting, str(_tokens(ch, "ENCOUNTER_SETTING")[0]))
        targets = [n for n in _nodes(ch) if isinstance(n, _TARGETS)]
        return r.EncounterQuery(setting, targets[0] if targets else None, _timing(ch),
                                _span(meta))

    # VACCINATED WITH target qualifier*
    def vaccinated(self, meta: Meta, ch: list[Any]) -> r.ImmunizationQuery:
        query = self._query("history", meta, ch)
        if query.duration is not None or query.details:
            extra = query.duration or query.details[0]
            self.diagnostics.append(Diagnostic(
                "misplaced-qualifier", "a vaccination is given on a day: it has no duration, "
                "stage or dose", extra.span, "count doses instead: `vaccinated with V at "
                "least 2 times`"))
        return r.ImmunizationQuery(query.target, query.window, query.times, _span(meta))

    # HAS ADVERSE EVENT target? event_qualifier*
    def has_adverse_event(self, meta: Meta, ch: list[Any]) -> r.AdverseEventQuery:
        nodes = _nodes(ch)
        targets = [n for n in nodes if isinstance(n, _TARGETS)]
        timings = [n for n in nodes if isinstance(n, _TIMINGS)]
        grades = [n for n in nodes if isinstance(n, _Grade)]
        for extra in (*timings[1:], *grades[1:]):
            self._repeated(extra.span, "give an adverse-event query at most one time and one "
                           "grade")
        grade = grades[0] if grades else None
        return r.AdverseEventQuery(targets[0] if targets else None,
                                   grade.op if grade else None, grade.grade if grade else None,
                                   timings[0] if timings else None, _span(meta))

    # WITH GRADE COMPARATOR INT
    def grade(self, meta: Meta, ch: list[Any]) -> _Grade:
        op = cast(r.Comparator, str(_tokens(ch, "COMPARATOR")[0]))
        return _Grade(op, self._int(_tokens(ch, "INT")[0], "a grade", 1), _span(meta))

    # ADVERSE EVENT target? RECOVERED TO GRADE COMPARATOR INT
    def adverse_events_recovered(self, meta: Meta, ch: list[Any]) -> r.AdverseEventsRecovered:
        targets = [n for n in _nodes(ch) if isinstance(n, _TARGETS)]
        op = cast(r.Comparator, str(_tokens(ch, "COMPARATOR")[0]))
        grade = self._int(_tokens(ch, "INT")[0], "a grade", 1)
        return r.AdverseEventsRecovered(targets[0] if targets else None, op, grade, _span(meta))

    # (ALLERGIC | INTOLERANT) TO allergen (WITH REACTION target)?
    def allergy(self, meta: Meta, ch: list[Any]) -> r.AllergyQuery:
        relation = cast(Literal["allergic", "intolerant"], str(ch[0]))
        nodes = _nodes(ch)
        tests = [n for n in nodes if isinstance(n, tuple)]
        nodes = [n for n in nodes if not isinstance(n, tuple)]
        allergen, reaction = nodes[0], (nodes[1] if len(nodes) > 1 else None)
        severity = None
        if tests:
            # The severity test's own span: from `severity` to the end of the query.
            op, labels = tests[0]
            start = _tok_span(_tokens(ch, "SEVERITY")[0]).start
            severity = r.SeverityTest(op, labels, Span(start, _span(meta).end))
        if isinstance(allergen, _Category):
            return r.AllergyQuery(relation, None, allergen.name, reaction, severity, _span(meta))
        return r.AllergyQuery(relation, allergen, None, reaction, severity, _span(meta))

    def allergy_category(self, meta: Meta, ch: list[Any]) -> _Category:
        name = str(_tokens(ch, "ALLERGY_CATEGORY")[0])
        return _Category(cast(r.AllergyCategory, name))

    def enrolled(self, meta: Meta, ch: list[Any]) -> r.ResearchQuery:
        phrase = str(_tokens(ch, "ANOTHER_STUDY")[0])
        return r.ResearchQuery("enrolled", _timing(ch), "interventional" in phrase,
                               _span(meta))

    def investigational_product(self, meta: Meta, ch: list[Any]) -> r.ResearchQuery:
        return r.ResearchQuery("investigational product", _timing(ch), span=_span(meta))

    # ENROLLED IN STUDY STRING timing?
    def enrolled_in_study(self, meta: Meta, ch: list[Any]) -> r.StudyEnrollment:
        return r.StudyEnrollment(_unquote(_tokens(ch, "STRING")[0]), _timing(ch), _span(meta))

    # SCHEDULED_FOR PROCEDURE target (WITHIN INT TIME_UNIT)?
    def scheduled_procedure(self, meta: Meta, ch: list[Any]) -> r.PlannedProcedureQuery:
        target = next(n for n in _nodes(ch) if isinstance(n, _TARGETS))
        window = None
        amounts = _tokens(ch, "INT")
        if amounts:
            unit = _tokens(ch, "TIME_UNIT")[0]
            span = Span(_tok_span(_tokens(ch, "WITHIN")[0]).start, _tok_span(unit).end)
            window = r.Window(self._int(amounts[0], "a time window", 1), _TIME_UNITS[str(unit)],
                              span)
        return r.PlannedProcedureQuery(target, window, _span(meta))

    # FAMILY_HISTORY OF target (IN FIRST_DEGREE_RELATIVE)?
    def family_history(self, meta: Meta, ch: list[Any]) -> r.FamilyHistoryQuery:
        target = next(n for n in _nodes(ch) if isinstance(n, _TARGETS))
        first_degree = bool(_tokens(ch, "FIRST_DEGREE_RELATIVE"))
        return r.FamilyHistoryQuery(target, first_degree, _span(meta))

    # HAS DISEASE_PROGRESSION (OF target)? timing?
    def disease_progression(self, meta: Meta, ch: list[Any]) -> r.ProgressionQuery:
        targets = [n for n in _nodes(ch) if isinstance(n, _TARGETS)]
        return r.ProgressionQuery(targets[0] if targets else None, _timing(ch), _span(meta))

    # HAS DISEASE_RECURRENCE OF target timing?
    def disease_recurrence(self, meta: Meta, ch: list[Any]) -> r.RecurrenceQuery:
        target = next(n for n in _nodes(ch) if isinstance(n, _TARGETS))
        return r.RecurrenceQuery(target, _timing(ch), _span(meta))

    # BIOMARKER BIOMARKER_WORD (BIOMARKER_WORD | STRING)? IS NAME timing?
    def biomarker_result(self, meta: Meta, ch: list[Any]) -> r.BiomarkerResult:
        words = _tokens(ch, "BIOMARKER_WORD", "STRING")
        alteration = None
        if len(words) > 1:
            w = words[1]
            alteration = _unquote(w) if w.type == "STRING" else str(w)
        result = str(_tokens(ch, "NAME")[-1])
        return r.BiomarkerResult(str(words[0]), alteration, result, _timing(ch), _span(meta))

    # BIOMARKER BIOMARKER_WORD BIOMARKER_WORD COMPARATOR value timing?
    def biomarker_measure(self, meta: Meta, ch: list[Any]) -> r.BiomarkerMeasure:
        gene, measure = (str(t) for t in _tokens(ch, "BIOMARKER_WORD"))
        op = cast(r.Comparator, str(_tokens(ch, "COMPARATOR")[0]))
        value = next(n for n in _nodes(ch) if isinstance(n, _VALUES))
        return r.BiomarkerMeasure(gene, measure, op, value, _timing(ch), _span(meta))

    def breastfeeding(self, meta: Meta, ch: list[Any]) -> r.Breastfeeding:
        return r.Breastfeeding(_span(meta))

    def childbearing_potential(self, meta: Meta, ch: list[Any]) -> r.ChildbearingPotential:
        return r.ChildbearingPotential(_span(meta))

    # GESTATIONAL_AGE COMPARATOR NUMBER TIME_UNIT
    def gestational_age(self, meta: Meta, ch: list[Any]) -> r.GestationalAge:
        op = cast(r.Comparator, str(_tokens(ch, "COMPARATOR")[0]))
        amount = Decimal(str(_tokens(ch, "NUMBER")[0]))
        unit_token = _tokens(ch, "TIME_UNIT")[0]
        unit = _TIME_UNITS[str(unit_token)]
        if unit not in ("days", "weeks"):
            self.diagnostics.append(Diagnostic(
                "bad-unit", f"gestational age is counted in weeks or days, not {unit}",
                _tok_span(unit_token), f"write it in weeks: gestational age {op} N weeks"))
            unit = "weeks"
        return r.GestationalAge(op, amount, unit, _span(meta))

    def speaks(self, meta: Meta, ch: list[Any]) -> r.Speaks:
        return r.Speaks(str(_tokens(ch, "NAME")[0]), _span(meta))

    # RESIDES IN (COUNTRY | REGION) STRING
    def resides_in(self, meta: Meta, ch: list[Any]) -> r.ResidesIn:
        level = cast(Literal["country", "region"], str(_tokens(ch, "COUNTRY", "REGION")[0]))
        return r.ResidesIn(level, _unquote(_tokens(ch, "STRING")[0]), _span(meta))

    def valueset_ref(self, meta: Meta, ch: list[Any]) -> r.ValueSetRef:
        return r.ValueSetRef(str(ch[0]), _span(meta))

    def inline_codes(self, meta: Meta, ch: list[Any]) -> r.InlineCodes:
        codes, includes = _nodes(ch)[0]
        for inc in includes:
            self.diagnostics.append(Diagnostic(
                "misplaced-use", "`use` is not allowed in an inline code list", inc.span,
                f"refer to the value set by name: `{inc.name}`, or declare "
                f"`valueset NAME = use {inc.name}; ...`"))
        return r.InlineCodes(codes, _span(meta))

    def window(self, meta: Meta, ch: list[Any]) -> r.Window:
        amount = self._int(_tokens(ch, "INT")[0], "a time window", 1)
        unit = _TIME_UNITS[str(_tokens(ch, "TIME_UNIT")[0])]
        return r.Window(amount, unit, _span(meta))

    # BETWEEN INT AND INT TIME_UNIT AGO
    def ago_window(self, meta: Meta, ch: list[Any]) -> r.AgoWindow:
        low, high = (self._int(t, "a time window", 1) for t in _tokens(ch, "INT"))
        unit = _TIME_UNITS[str(_tokens(ch, "TIME_UNIT")[0])]
        return r.AgoWindow(low, high, unit, _span(meta))

    def ever(self, meta: Meta, ch: list[Any]) -> r.Ever:
        return r.Ever(_span(meta))

    def event_kind(self, meta: Meta, ch: list[Any]) -> str:
        return str(ch[0])

    def since_first(self, meta: Meta, ch: list[Any]) -> r.Anchor:
        kind, target = (n for n in _nodes(ch))
        return r.Anchor("since", kind, target, _span(meta))

    def before_first(self, meta: Meta, ch: list[Any]) -> r.Anchor:
        kind, target = (n for n in _nodes(ch))
        return r.Anchor("before", kind, target, _span(meta))

    def duration_at_least(self, meta: Meta, ch: list[Any]) -> r.Duration:
        return self._duration("at least", meta, ch)

    def duration_more_than(self, meta: Meta, ch: list[Any]) -> r.Duration:
        return self._duration("more than", meta, ch)

    def _duration(self, relation: Literal["at least", "more than"], meta: Meta,
                  ch: list[Any]) -> r.Duration:
        amount = self._int(_tokens(ch, "INT")[0], "a duration", 1)
        unit = _TIME_UNITS[str(_tokens(ch, "TIME_UNIT")[0])]
        return r.Duration(relation, amount, unit, _span(meta))

    # AT LEAST INT TIMES
    def frequency(self, meta: Meta, ch: list[Any]) -> _Times:
        return _Times(self._int(_tokens(ch, "INT")[0], "a count", 1), _span(meta))


@dataclass(frozen=True, slots=True)
class _Times:
    count: int
    span: Span


@dataclass(frozen=True, slots=True)
class _Grade:
    op: r.Comparator
    grade: int
    span: Span


@dataclass(frozen=True, slots=True)
class _Category:
    name: r.AllergyCategory


_VALUES = (r.Quantity, r.Symbol, r.Text, r.UlnMultiple)
_TARGETS = (r.ValueSetRef, r.InlineCodes)
_DETAILS = (r.StageTest, r.HistologyTest, r.HistologyConfirmed, r.SeverityTest, r.OnsetTest,
            r.OnsetAgeTest, r.DoseTest, r.RegularUse, r.BodySiteTest)
_TIMINGS = (r.Window, r.AgoWindow, r.Ever, r.Anchor)


def _timing(ch: list[Any]) -> r.Timing | None:
    return next((n for n in ch if isinstance(n, _TIMINGS)), None)


def _assemble(tree: Any, source: Source) -> tuple[r.Protocol, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    first_heading: dict[str, Span] = {}
    trial_id, title, version = tree.children[0]
    open_world = research_recorded = False
    family_recorded = False
    valuesets: list[r.ValueSet] = []
    defines: list[r.Define] = []
    uses: list[r.LibraryUse] = []
    sections: dict[str, list[r.Criterion]] = {}
    for item in tree.children[1:]:
        if isinstance(item, r.ValueSet):
            valuesets.append(item)
        elif isinstance(item, r.Define):
            defines.append(item)
        elif item[0] == "open_world":
            open_world = True
        elif item[0] == "research_recorded":
            research_recorded = True
        elif item[0] == "family_recorded":
            family_recorded = True
        elif item[0] == "use":
            uses.extend(item[1])
        else:
            kind, span, criteria = item
            if kind in first_heading:
                first_line, _ = source.line_col(first_heading[kind].start)
                diagnostics.append(Diagnostic(
                    "duplicate-section", f"a second `{kind}` section", span,
                    f"the first is on line {first_line}; "
                    f"put all {kind} criteria under one `{kind}` heading",
                ))
            first_heading.setdefault(kind, span)
            if not criteria:
                diagnostics.append(Diagnostic(
                    "empty-section", f"the `{kind}` section has no criteria", span,
                    f'add at least one criterion, e.g. {kind[0].upper()}1 "...": ...',
                ))
            target = r.CriterionKind(kind)
            sections.setdefault(kind, []).extend(
                r.Criterion(c.id, c.text, target, c.expr, c.open_world, c.span) for c in criteria
            )
    end = len(source.text.rstrip())
    for kind in ("inclusion", "exclusion"):
        if kind not in sections:
            diagnostics.append(Diagnostic(
                "missing-section", f"the protocol has no `{kind}` section",
                Span(end, end),
                f"every protocol states both sections; write `{kind}` followed by its criteria",
            ))
    protocol = r.Protocol(
        trial_id, title, version, open_world, tuple(valuesets), tuple(defines),
        tuple(sections.get("inclusion", ())), tuple(sections.get("exclusion", ())),
        tuple(uses), Span(0, len(source.text)), research_recorded,
        family_history_recorded=family_recorded,
    )
    return protocol, diagnostics


def parse_protocol(source: Source) -> tuple[r.Protocol, list[Diagnostic]]:
    """Parse ``source`` into an unchecked protocol and its structural diagnostics.

    Raises :class:`ProtocolError` on a syntax error.
    """
    try:
        tree = parser().parse(source.text)
    except UnexpectedInput as err:
        raise ProtocolError(source, [_syntax_diagnostic(source, err)]) from None
    too_deep = _too_deep(tree)
    if too_deep is not None:
        raise ProtocolError(source, [too_deep])
    builder = _ToRules()
    transformed: Any = builder.transform(tree)
    protocol, diagnostics = _assemble(transformed, source)
    return protocol, [*builder.diagnostics, *diagnostics]


def _too_deep(tree: Tree[Token]) -> Diagnostic | None:
    """A diagnostic for the first node nested deeper than MAX_DEPTH, found without recursion."""
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return Diagnostic(
                "too-deep", f"this rule is nested more than {MAX_DEPTH} levels deep",
                _span(node.meta),
                "split it into defines and refer to them by name",
            )
        stack.extend((c, depth + 1) for c in reversed(node.children) if isinstance(c, Tree))
    return None
