"""Allergies, research participation, adverse events, encounters and immunizations.

Allergies: only active records count; an explicit "no known allergy" record answers
FALSE, an empty allergy list UNKNOWN. Research participation is open world unless the
criterion or the protocol says the records are complete; the protocol's own trial never
counts. Adverse events are graded by CTCAE v5.0 (grades 1-5; resolved is grade 0).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from eligo import printer
from eligo import rules as r
from eligo.evaluate_core import (
    COMPARE,
    Decision,
    Env,
    Node,
    PeriodOf,
    build_period,
    closed_for_rarely_recorded,
    decision_node,
    severity_fits,
    target_matcher,
    valueset_contents,
)
from eligo.patient import (
    AdverseEvent,
    Allergy,
    Coding,
    Encounter,
    Immunization,
    ResearchParticipation,
)
from eligo.records import (
    Context,
    Period,
    Truth,
    coding_text,
    episode_overlaps,
    matching_coding,
)
from eligo.result import Evidence
from eligo.terminology import CodeMatcher


def _in_period(first: date | None, last: date | None, going: bool, as_of: date,
               period: Period | None) -> Truth:
    """Overlap of an episode (first..last, or still going) with ``period``; with no period,
    whether it is current at the as-of date. UNKNOWN where a missing date decides."""
    if first is not None and first > as_of:
        return False
    if period is None:
        if last is not None:
            return last >= as_of
        return going
    return episode_overlaps(first, last, going, as_of, period)


# ---- allergies ------------------------------------------------------------------------------

# "No known allergy" records (SNOMED CT, as in the HL7 FHIR R4 AllergyIntolerance examples
# allergyintolerance-nka, -nkda and -nkla): 716186003 no known allergy, 409137002 no known
# drug allergy, 716184000 no known latex allergy.
NO_KNOWN_ALLERGY: dict[str, frozenset[str | None]] = {
    "716186003": frozenset({"drug", "food", "environment", None}),
    "409137002": frozenset({"drug"}),
    "716184000": frozenset(),  # latex only: says nothing about a class as a whole
}
_NO_KNOWN_WORDS = {"716186003": "no known allergy", "409137002": "no known drug allergy",
                   "716184000": "no known latex allergy"}
_CATEGORY = {"drug": "medication", "food": "food", "environment": "environment"}
_ACTIVE = frozenset({"active", None})
_IGNORED = frozenset({"refuted", "entered-in-error"})


def _no_known(a: Allergy) -> Coding | None:
    return next((c for c in a.codes if c.system == "snomed" and c.code in NO_KNOWN_ALLERGY),
                None)


def _drug_codes(target: r.CodeTarget, env: Env) -> bool:
    """Whether a target is coded in drug systems only (ATC, RxNorm)."""
    codes = (target.codes if isinstance(target, r.InlineCodes)
             else valueset_contents(env.protocol).get(target.name, (None, ()))[1])
    return bool(codes) and all(c.system in ("atc", "rxnorm") for c in codes)


def _allergy_evidence(a: Allergy, coding: Coding) -> Evidence:
    note = ", ".join(x for x in (a.type, a.category, a.clinical_status, a.verification_status)
                     if x)
    return Evidence(record_type="allergy", record_id=a.id, system=coding.system,
                    code=coding.code, display=coding.display, date=a.onset, note=note or None)


def build_allergy(node: r.AllergyQuery, env: Env) -> Node:
    relation, category = node.relation, node.category
    matcher: CodeMatcher | None = None
    label = f"any {category}"
    if node.target is not None:
        matcher, label = target_matcher(node.target, env)
    reaction: CodeMatcher | None = None
    reaction_label = ""
    if node.reaction is not None:
        reaction, reaction_label = target_matcher(node.reaction, env)
        reaction_label = f" with a reaction in {reaction_label}"
    severe = severity_fits(node.severity) if node.severity is not None else None
    if node.severity is not None:
        reaction_label += " " + printer.detail_text(node.severity)
    noun = "allergy" if relation == "allergic" else "intolerance"
    open_world = env.open_world
    # What a "no known ... allergy" record must cover to answer: a drug class for a named
    # target coded only in drug systems, the category asked, else allergies of any kind.
    answers: str | None = category
    if node.target is not None:
        answers = "drug" if _drug_codes(node.target, env) else None

    def matches(a: Allergy) -> Coding | None:
        if relation == "allergic" and a.type == "intolerance":
            return None
        if relation == "intolerant" and a.type == "allergy":
            return None
        if matcher is not None:
            return matching_coding(a.codes, matcher)
        if a.category == _CATEGORY[category or "drug"]:
            return a.codes[0]
        return None

    def decide(ctx: Context) -> Decision:
        records = [a for a in ctx.patient.allergies if a.verification_status not in _IGNORED]
        undecided: list[tuple[Allergy, Coding, list[str]]] = []
        no_known: Allergy | None = None
        for a in records:
            nka = _no_known(a)
            if nka is not None:
                if a.clinical_status in _ACTIVE and (
                        answers in NO_KNOWN_ALLERGY[nka.code]
                        or None in NO_KNOWN_ALLERGY[nka.code]):
                    no_known = a
                continue
            if a.clinical_status not in _ACTIVE:
                continue
            coding = matches(a)
            if coding is None:
                continue
            said: list[str] = []
            unsure: list[str] = []
            if reaction is not None:
                hit = matching_coding(a.reactions, reaction)
                if hit is None and a.reactions:
                    continue
                if hit is None:
                    unsure.append("reaction")
                else:
                    said.append(f"reaction {coding_text(hit)}")
            if severe is not None:
                fits = severe(a.severity)
                if fits is False:
                    continue
                if fits is None:
                    unsure.append("reaction's severity")
                else:
                    said.append(f"severity {a.severity}")
            if not unsure:
                return (True, f"{noun} to {coding_text(coding)} is in {label}"
                        + "".join(f", {x}" for x in said), (_allergy_evidence(a, coding),), ())
            undecided.append((a, coding, unsure))
        if undecided:
            a, coding, unsure = undecided[0]
            return (None, f"{noun} to {coding_text(coding)} is in {label} but its "
                    f"{' and '.join(unsure)} {'is' if len(unsure) == 1 else 'are'} not "
                    "recorded", tuple(_allergy_evidence(x, c) for x, c, _ in undecided),
                    tuple(f"the {what} of the {noun} to {coding_text(c)}"
                          for _, c, unsure_ in undecided[:1] for what in unsure_))
        if no_known is not None:
            coding = _no_known(no_known)
            assert coding is not None
            return (False, f"recorded: {_NO_KNOWN_WORDS[coding.code]} ({coding_text(coding)})",
                    (_allergy_evidence(no_known, coding),), ())
        if not records:
            return (None, "no allergy information is recorded", (),
                    (f"whether the patient has an {noun} to {label}{reaction_label}",))
        searched = (f"no active {noun} to {label}{reaction_label} among {len(records)} "
                    f"recorded allerg{'y' if len(records) == 1 else 'ies'}")
        if open_world:
            return (None, searched + "; absence is not proof for this criterion", (),
                    (f"whether the patient has an {noun} to {label}{reaction_label}",))
        return False, searched, (), ()

    return decision_node(decide)


# ---- research participation ----------------------------------------------------------------

# ResearchSubject statuses (FHIR R4) under which the person is or was enrolled.
_ENROLLED = frozenset({"on-study", "on-study-intervention", "on-study-observation",
                       "follow-up", "off-study", "withdrawn", None})
_ONGOING = frozenset({"on-study", "on-study-intervention", "on-study-observation",
                      "follow-up", None})


def _study_evidence(s: ResearchParticipation) -> Evidence:
    note = ", ".join(x for x in (
        s.status, f"until {s.end}" if s.end else None, s.study_type,
        "investigational product" if s.investigational_product else None) if x)
    return Evidence(record_type="research", record_id=s.id, code=s.study, date=s.start,
                    note=note or None)


def _study_type(s: ResearchParticipation) -> str | None:
    """The study's type as recorded; a participant assigned to an intervention arm
    (FHIR status on-study-intervention) is in an interventional study."""
    if s.study_type is None and s.status == "on-study-intervention":
        return "interventional"
    return s.study_type


def build_research(node: r.ResearchQuery, env: Env) -> Node:
    period_of: PeriodOf
    period_of, when = build_period(node.window, env)
    own = env.protocol.trial_id.upper()
    closed = closed_for_rarely_recorded(env, env.protocol.research_recorded)
    product = node.kind == "investigational product"
    interventional = node.interventional
    study = "another interventional study" if interventional else "another study"
    what = ("an investigational product" if product else study) + when
    ask = (f"ask the patient whether they received {what}" if product
           else f"ask the patient whether they took part in {what}")

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        others = [s for s in ctx.patient.research if s.study.upper() != own]
        undecided: list[ResearchParticipation] = []
        for s in others:
            if s.status not in _ENROLLED:
                continue
            t = _in_period(s.start, s.end, s.status in _ONGOING, as_of, period)
            if t is False or (product and s.investigational_product is False):
                continue
            if interventional and _study_type(s) == "observational":
                continue
            if (product and s.investigational_product is None) or (
                    interventional and _study_type(s) is None):
                undecided.append(s)
                continue
            if t:
                done = "received an investigational product in" if product else "enrolled in"
                kind = " (interventional)" if interventional else ""
                return True, f"{done} {s.study}{kind}{when}", (_study_evidence(s),), ()
            if t is None:
                undecided.append(s)
        shown = tuple(_study_evidence(s) for s in others)
        if undecided or problem is not None:
            return (None, f"study records do not show whether the patient had {what}", shown,
                    (ask,))
        searched = (f"no record of {what} among {len(others)} other "
                    f"stud{'y' if len(others) == 1 else 'ies'} on record")
        if closed:
            return False, searched, shown, ()
        return (None, searched + "; participation in studies is rarely recorded", shown,
                (ask,))

    return decision_node(decide)


def build_study_enrollment(node: r.StudyEnrollment, env: Env) -> Node:
    """`enrolled in study "NCT01234567"`: participation in the named study, by the rules of
    `enrolled in another study` (statuses, periods, open world). The identifier is compared
    ignoring case and surrounding spaces; the protocol's own trial is not set apart, since
    the protocol names the study itself."""
    period_of, when = build_period(node.window, env)
    wanted = node.study.strip().casefold()
    closed = closed_for_rarely_recorded(env, env.protocol.research_recorded)
    what = f"study {node.study.strip()}{when}"
    ask = f"ask the patient whether they took part in {what}"

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        records = [s for s in ctx.patient.research if s.study.strip().casefold() == wanted]
        undecided: list[ResearchParticipation] = []
        for s in records:
            if s.status not in _ENROLLED:
                continue
            t = _in_period(s.start, s.end, s.status in _ONGOING, as_of, period)
            if t and problem is None:
                return True, f"enrolled in {s.study}{when}", (_study_evidence(s),), ()
            if t is not False:
                undecided.append(s)
        shown = tuple(_study_evidence(s) for s in records)
        if undecided or problem is not None:
            return (None, f"study records do not show whether the patient took part in {what}",
                    shown, (ask,))
        count = len(ctx.patient.research)
        searched = (f"no record of participation in {what} among {count} "
                    f"stud{'y' if count == 1 else 'ies'} on record")
        if closed:
            return False, searched, shown, ()
        return (None, searched + "; participation in studies is rarely recorded", shown,
                (ask,))

    return decision_node(decide)


# ---- adverse events ---------------------------------------------------------------------------


def _event_evidence(e: AdverseEvent, coding: Coding) -> Evidence:
    parts = [f"grade {e.grade}" if e.grade is not None else "grade not recorded"]
    if e.current_grade is not None:
        parts.append(f"now grade {e.current_grade}"
                     + (f" ({e.assessed})" if e.assessed else ""))
    if e.resolved:
        parts.append(f"resolved {e.resolved}")
    return Evidence(record_type="adverse_event", record_id=e.id, system=coding.system,
                    code=coding.code, display=coding.display, date=e.onset,
                    note=", ".join(parts))


def _event_matcher(target: r.CodeTarget | None, env: Env
                   ) -> tuple[Callable[[AdverseEvent], Coding | None], str]:
    if target is None:
        return (lambda e: e.codes[0]), "any adverse event"
    matcher, label = target_matcher(target, env)
    return (lambda e: matching_coding(e.codes, matcher)), f"an adverse event in {label}"


def build_adverse_event(node: r.AdverseEventQuery, env: Env) -> Node:
    match_event, label = _event_matcher(node.target, env)
    period_of, when = build_period(node.window, env)
    op, grade = node.op, node.grade
    graded = f" with grade {op} {grade}" if grade is not None else ""
    absent: Truth = None if env.open_world else False
    ask = f"whether the patient had {label}{graded}{when}"

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        if problem is not None:
            return None, f"the time{when} cannot be placed", (), (ask,)
        undecided: list[tuple[AdverseEvent, Coding]] = []
        matched: list[tuple[AdverseEvent, Coding]] = []
        for e in ctx.patient.adverse_events:
            coding = match_event(e)
            if coding is None:
                continue
            matched.append((e, coding))
            t = _in_period(e.onset, e.resolved, e.resolved is None, as_of, period) \
                if period is not None else (e.onset is None or e.onset <= as_of)
            if t is False:
                continue
            g: Truth = True
            if grade is not None and op is not None:
                g = None if e.grade is None else COMPARE[op](e.grade, grade)
            if t and g:
                return (True, f"{coding_text(coding)}{graded}{when}: grade {e.grade}"
                        if e.grade is not None else f"{coding_text(coding)}{when}",
                        (_event_evidence(e, coding),), ())
            if g is not False:
                undecided.append((e, coding))
        if undecided:
            e, coding = undecided[0]
            why = "its grade is not recorded" if e.grade is None else "its dates are incomplete"
            return (None, f"{coding_text(coding)} may count but {why}",
                    tuple(_event_evidence(x, c) for x, c in undecided),
                    (f"the CTCAE grade and dates of {coding_text(coding)}",))
        searched = (f"no {label.removeprefix('an ').removeprefix('any ')}{graded}{when} among "
                    f"{len(ctx.patient.adverse_events)} adverse events on record")
        evidence = tuple(_event_evidence(e, c) for e, c in matched)
        if absent is None:
            return None, searched + "; absence is not proof for this criterion", evidence, (ask,)
        return False, searched, evidence, ()

    return decision_node(decide)


def build_recovered(node: r.AdverseEventsRecovered, env: Env) -> Node:
    """Every matching adverse event is now at the grade asked or better: resolved counts
    as grade 0; the last assessed grade, else the worst grade, is the current one."""
    match_event, label = _event_matcher(node.target, env)
    op, grade = node.op, node.grade
    rule = f"grade {op} {grade}"

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        unknown: list[tuple[AdverseEvent, Coding]] = []
        evidence: list[Evidence] = []
        for e in ctx.patient.adverse_events:
            coding = match_event(e)
            if coding is None or (e.onset is not None and e.onset > as_of):
                continue
            evidence.append(_event_evidence(e, coding))
            if e.resolved is not None and e.resolved <= as_of:
                now: int | None = 0
            elif e.current_grade is not None and (e.assessed is None or e.assessed <= as_of):
                now = e.current_grade
            else:
                now = e.grade if e.grade is not None and COMPARE[op](e.grade, grade) else None
            if now is None:
                unknown.append((e, coding))
            elif not COMPARE[op](now, grade):
                return (False, f"{coding_text(coding)} is at grade {now}, not {rule}",
                        (_event_evidence(e, coding),), ())
        if unknown:
            e, coding = unknown[0]
            return (None, f"the current grade of {coding_text(coding)} is not recorded",
                    tuple(evidence), (f"the current CTCAE grade of {coding_text(coding)}",))
        if not evidence:
            said = f"no {label.removeprefix('an ').removeprefix('any ')} on record"
            if env.open_world:
                return (None, said + "; absence is not proof for this criterion", (),
                        (f"whether {label} has not recovered to {rule}",))
            return True, said, (), ()
        return (True, f"all {len(evidence)} matching adverse events are now at {rule}",
                tuple(evidence), ())

    return decision_node(decide)


# ---- encounters -------------------------------------------------------------------------------

_SETTING_WORDS = {
    "inpatient": "hospital stay", "intensive_care": "intensive-care stay",
    "emergency": "emergency visit", "outpatient": "outpatient visit", "home": "home visit",
    "virtual": "virtual visit", "long_term_care": "long-term-care stay",
    "palliative_care": "palliative-care episode",
}
_NOT_HAPPENED = frozenset({"planned", "cancelled", "entered-in-error"})


def _encounter_evidence(e: Encounter) -> Evidence:
    note = ", ".join(x for x in (e.status, f"until {e.end}" if e.end else None) if x)
    reason = e.reasons[0] if e.reasons else None
    return Evidence(record_type="encounter", record_id=e.id,
                    system=reason.system if reason else None,
                    code=reason.code if reason else None, display=e.setting.replace("_", " "),
                    date=e.start, note=note or None)


def build_encounter(node: r.EncounterQuery, env: Env) -> Node:
    """A stay or visit in the setting: without a time, one going on at the as-of date;
    with one, any that overlaps it. An intensive-care stay is also a hospital stay."""
    settings = {node.setting} | ({"intensive_care"} if node.setting == "inpatient" else set())
    period_of, when = build_period(node.window, env)
    matcher: CodeMatcher | None = None
    label = ""
    if node.reason is not None:
        matcher, reason_label = target_matcher(node.reason, env)
        label = f" for {reason_label}"
    words = _SETTING_WORDS[node.setting]
    absent: Truth = None if env.open_world else False
    ask = f"whether the patient had a {words}{label}{when or ' now'}"

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        if problem is not None:
            return None, f"the time{when} cannot be placed", (), (ask,)
        undecided: list[Encounter] = []
        for e in ctx.patient.encounters:
            if e.setting not in settings or e.status in _NOT_HAPPENED:
                continue
            why: Truth = True
            if matcher is not None:
                why = matching_coding(e.reasons, matcher) is not None if e.reasons else None
            going = e.end is None and e.status in ("arrived", "triaged", "in-progress",
                                                  "onleave", None)
            t = _in_period(e.start, e.end, going, as_of, period)
            if t and why:
                until = f" to {e.end}" if e.end else (", ongoing" if going else
                                                      ", end not recorded")
                return (True, f"{words}{label} from {e.start or 'an unknown date'}{until}{when}",
                        (_encounter_evidence(e),), ())
            if t is not False and why is not False:
                undecided.append(e)
        if undecided:
            e = undecided[0]
            what = "its reason is not recorded" if matcher is not None and not e.reasons \
                else "its dates are incomplete"
            return (None, f"a {words} may count but {what}",
                    tuple(_encounter_evidence(x) for x in undecided), (ask,))
        searched = (f"no {words}{label}{when or ' going on at the as-of date'} among "
                    f"{len(ctx.patient.encounters)} encounters on record")
        if absent is None:
            return None, searched + "; absence is not proof for this criterion", (), (ask,)
        return False, searched, (), ()

    return decision_node(decide)


# ---- immunizations ---------------------------------------------------------------------------


def _dose_evidence(i: Immunization, coding: Coding) -> Evidence:
    return Evidence(record_type="immunization", record_id=i.id, system=coding.system,
                    code=coding.code, display=coding.display, date=i.date, note=i.status)


def build_immunization(node: r.ImmunizationQuery, env: Env) -> Node:
    """Doses given: any dose (no time: up to the as-of date), or at least N in the time."""
    matcher, label = target_matcher(node.target, env)
    period_of, when = build_period(node.window, env)
    needed = node.times or 1
    absent: Truth = None if env.open_world else False
    ask = f"the patient's vaccinations with {label}{when}"

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        period, problem = period_of(ctx)
        if problem is not None:
            return None, f"the time{when} cannot be placed", (), (ask,)
        sure: list[tuple[Immunization, Coding]] = []
        maybe: list[tuple[Immunization, Coding]] = []
        for i in ctx.patient.immunizations:
            coding = matching_coding(i.codes, matcher)
            if coding is None or i.status in ("entered-in-error", "not-done"):
                continue
            if i.date is not None and i.date > as_of:
                continue
            if period is None or (i.date is not None and period[0] <= i.date <= period[1]):
                sure.append((i, coding))
            elif i.date is None and period == (date.min, as_of):
                sure.append((i, coding))  # `ever`: given by the as-of date, whenever
            elif i.date is None:
                maybe.append((i, coding))
        evidence = tuple(_dose_evidence(i, c) for i, c in (*sure, *maybe))
        count = f"{len(sure)} dose{'' if len(sure) == 1 else 's'} of {label}{when}"
        if len(sure) >= needed:
            return True, count + (f" (needed at least {needed})" if node.times else ""), \
                evidence, ()
        if len(sure) + len(maybe) >= needed:
            return (None, count + f"; {len(maybe)} undated", evidence,
                    (f"the dates of the doses of {label}",))
        if absent is None:
            return (None, count + "; absence is not proof for this criterion", evidence,
                    (ask,))
        return False, count + (f" (needed at least {needed})" if node.times else ""), \
            evidence, ()

    return decision_node(decide)
