"""Facts about the person: breastfeeding, childbearing potential, gestational age, the
languages they speak and where they live.

Each builder returns the (test, explain) pair of :class:`eligo.evaluate_core.Node`; the
decision is made once, in a function both halves share, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from eligo import attributes
from eligo import rules as r
from eligo.evaluate_core import (
    COMPARE,
    Decision,
    Env,
    Node,
    decision_node,
    library_matcher,
)
from eligo.patient import Coding, Condition, Observation, Patient, Procedure
from eligo.records import (
    CHILDBEARING_AGE,
    Context,
    age_in,
    describe_record,
    matching_coding,
    pregnancy_state,
    record_evidence,
    record_truth,
    status_problem,
)
from eligo.result import Evidence
from eligo.terminology import CodeMatcher


def _sex_evidence(sex: str) -> Evidence:
    return Evidence(record_type="patient", display="sex", value=sex)


def _outside_age(p: Patient, as_of: date) -> tuple[int, Evidence] | None:
    """The age of a female outside child-bearing age, with its evidence; else None."""
    if p.birth_date is None or p.birth_date > as_of:
        return None
    age = age_in(p.birth_date, as_of, "years")
    if CHILDBEARING_AGE[0] <= age <= CHILDBEARING_AGE[1]:
        return None
    return age, Evidence(record_type="patient", display="birth date", date=p.birth_date,
                         note=f"age {age} years at {as_of}")


# ---- breastfeeding ------------------------------------------------------------------------

# A recorded status stays usable this long: "not breastfeeding" is re-asked at screening,
# while breastfeeding usually lasts months.
NOT_BREASTFEEDING_VALID_DAYS = 30
BREASTFEEDING_VALID_DAYS = 365


def build_breastfeeding() -> Node:
    """TRUE from a current lactation condition or a recent "breastfeeding" status, FALSE
    from a recent "not breastfeeding" status, for males, and for females outside
    child-bearing age; otherwise UNKNOWN (as for pregnancy)."""
    lactation = library_matcher("lactation")

    def decide(ctx: Context) -> Decision:
        p, as_of = ctx.patient, ctx.as_of
        for c in p.conditions:
            coding = matching_coding(c.codes, lactation)
            if coding is not None and record_truth("condition", c, as_of, None):
                return (True, f"lactation condition {describe_record(coding, c)}",
                        (record_evidence(c, coding),), ())
        status = p.breastfeeding
        stale: str | None = None
        if status is not None and status.status != "unknown":
            said = status.status.replace("_", " ")
            limit = (BREASTFEEDING_VALID_DAYS if status.status == "breastfeeding"
                     else NOT_BREASTFEEDING_VALID_DAYS)
            evidence = (Evidence(record_type="breastfeeding", value=said, date=status.date),)
            stale = status_problem(said, status.date, as_of, limit)
            if stale is None:
                return (status.status == "breastfeeding",
                        f"breastfeeding status recorded as {said} on {status.date}", evidence, ())
        if p.sex == "male":
            return False, "male: breastfeeding does not apply", (_sex_evidence("male"),), ()
        outside = _outside_age(p, as_of) if p.sex == "female" else None
        if outside is not None:
            low, high = CHILDBEARING_AGE
            return (False, f"female aged {outside[0]}, outside child-bearing age {low}–{high}",
                    (outside[1],), ())
        reason = f"no usable breastfeeding status: {stale}" if stale else (
            "breastfeeding status is not recorded")
        return None, reason, (), ("whether the patient is breastfeeding",)

    return decision_node(decide)


# ---- childbearing potential --------------------------------------------------------------

POSTMENOPAUSAL_MONTHS = 12


def build_childbearing_potential(env: Env, build: Callable[[r.Expr, Env], Node]) -> Node:
    """Woman of childbearing potential (CTFG 2020, "Recommendations related to contraception
    and pregnancy testing in clinical trials", section 2): fertile, following menarche and
    until postmenopausal, unless permanently sterile (hysterectomy, bilateral
    oophorectomy, bilateral salpingectomy).

    Operationally: female; in child-bearing age (the same band `pregnant` uses, 10-55
    years: outside it FALSE); no sterilising procedure or status code on record (library
    set `sterilisation_procedures`, searched among procedures and conditions); no menopause
    documented 12 months or more before the as-of date (library set `menopause`; recorded
    less than 12 months ago: UNKNOWN). Males: FALSE, "not applicable". A protocol that
    declares `define childbearing_potential = ...` replaces this definition.
    """
    own = env.protocol.define("childbearing_potential")
    if own is not None:
        return build(r.Reference(own.name, own.span), env)
    sterile = library_matcher("sterilisation_procedures")
    menopause = library_matcher("menopause")
    open_world = env.open_world

    def decide(ctx: Context) -> Decision:
        p, as_of = ctx.patient, ctx.as_of
        if p.sex == "male":
            return (False, "male: childbearing potential does not apply",
                    (_sex_evidence("male"),), ())
        if p.sex != "female":
            return None, "sex is not recorded as female or male", (), ("sex",)
        if p.birth_date is None or p.birth_date > as_of:
            return None, "age unknown: no valid birth date recorded", (), ("birth date",)
        outside = _outside_age(p, as_of)
        if outside is not None:
            low, high = CHILDBEARING_AGE
            return (False, f"female aged {outside[0]}, outside child-bearing age {low}–{high}",
                    (outside[1],), ())
        found = _sterilisation(p, as_of, sterile)
        if found is not None:
            record, how = found
            return (False, f"permanently sterile: {describe_record(how, record)}",
                    (record_evidence(record, how),), ())
        recent: tuple[Condition, Coding] | None = None
        for c in p.conditions:
            coding = matching_coding(c.codes, menopause)
            if coding is None or not record_truth("history", c, as_of, None):
                continue
            if c.onset is None or _months_before(c.onset, as_of) >= POSTMENOPAUSAL_MONTHS:
                return (False, f"postmenopausal: {describe_record(coding, c)}",
                        (record_evidence(c, coding),), ())
            recent = (c, coding)
        if recent is not None:
            c, coding = recent
            return (None, f"menopause recorded less than {POSTMENOPAUSAL_MONTHS} months before "
                    f"the as-of date: {describe_record(coding, c)}", (record_evidence(c, coding),),
                    (f"whether menses have been absent for {POSTMENOPAUSAL_MONTHS} months",))
        age = age_in(p.birth_date, as_of, "years")
        searched = (f"female aged {age}, no sterilising procedure or documented menopause "
                    "on record")
        if open_world:
            return (None, searched + "; absence is not proof for this criterion", (),
                    ("whether the patient is surgically sterile or postmenopausal",))
        return True, searched, (), ()

    return decision_node(decide)


def _sterilisation(p: Patient, as_of: date, matcher: CodeMatcher
                   ) -> tuple[Procedure | Condition, Coding] | None:
    for proc in p.procedures:
        coding = matching_coding(proc.codes, matcher)
        if coding is not None and record_truth("procedure", proc, as_of, None):
            return proc, coding
    for c in p.conditions:  # status codes such as Z90.710 acquired absence of uterus
        coding = matching_coding(c.codes, matcher)
        if coding is not None and record_truth("history", c, as_of, None):
            return c, coding
    return None


def _months_before(day: date, as_of: date) -> int:
    return age_in(day, as_of, "months")


# ---- gestational age ------------------------------------------------------------------------

# LOINC 11884-4 "Gestational age Estimated" (weeks, UCUM `wk`, or days `d`); estimated delivery
# date LOINC 11778-8 and its methods 11779-6 (from last menstrual period), 11780-4 (from
# ovulation date), 11781-2 (ultrasound composite), valued as a date.
GESTATIONAL_AGE_CODES = frozenset({("loinc", "11884-4")})
DELIVERY_DATE_CODES = frozenset({("loinc", "11778-8"), ("loinc", "11779-6"),
                                 ("loinc", "11780-4"), ("loinc", "11781-2")})
TERM_DAYS = 280  # Naegele: the estimated delivery date is 40 weeks after the LMP
LONGEST_DAYS = 44 * 7  # beyond this the record belongs to an earlier pregnancy
_DAY_UNITS = {"d": 1, "day": 1, "days": 1, "wk": 7, "wks": 7, "week": 7, "weeks": 7}
_NOT_RESULTS = ("registered", "cancelled", "entered-in-error")


def _coding_in(o: Observation, codes: frozenset[tuple[str, str]]) -> Coding | None:
    return next((c for c in o.codes if (c.system, c.code) in codes), None)


def _gestation_days(o: Observation, as_of: date) -> tuple[int | None, str]:
    """Gestational age in days at the as-of date from one record, or why not."""
    if o.date is None:
        return None, "it has no date"
    if _coding_in(o, GESTATIONAL_AGE_CODES) is not None:
        if not isinstance(o.value, int | float) or isinstance(o.value, bool):
            return None, "its value is not a number"
        factor = _DAY_UNITS.get((o.unit or "wk").strip().lower())
        if factor is None:
            return None, f"its unit `{o.unit}` is not weeks or days"
        return round(o.value * factor) + (as_of - o.date).days, ""
    if not isinstance(o.value, str):
        return None, "its value is not a date"
    try:
        delivery = date.fromisoformat(o.value.strip())
    except ValueError:
        return None, f"its value `{o.value}` is not a date"
    return TERM_DAYS - (delivery - as_of).days, ""


def build_gestational_age(node: r.GestationalAge) -> Node:
    wanted_days = float(node.amount) * (7 if node.unit == "weeks" else 1)
    op = node.op
    codes = GESTATIONAL_AGE_CODES | DELIVERY_DATE_CODES
    rule = f"{op} {node.amount} {node.unit}"

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        # Records dated after the as-of date are not known yet on it.
        records = [o for o in ctx.patient.observations
                   if _coding_in(o, codes) is not None and o.status not in _NOT_RESULTS
                   and (o.date is None or o.date <= as_of)]
        records.sort(key=lambda o: o.date or date.min, reverse=True)
        for o in records:
            days, problem = _gestation_days(o, as_of)
            code = _coding_in(o, codes)
            assert code is not None
            evidence = (Evidence(record_type="observation", record_id=o.id, system=code.system,
                                 code=code.code, display=code.display,
                                 value=str(o.value) + (f" {o.unit}" if o.unit else ""),
                                 date=o.date),)
            if days is None:
                return (None, f"the gestational-age record cannot be used: {problem}", evidence,
                        ("current gestational age",))
            if days < 0:
                return (None, f"the record of {o.date} puts the pregnancy before conception "
                        "at the as-of date: it cannot be right", evidence,
                        ("current gestational age",))
            if days > LONGEST_DAYS:
                return (None, f"the gestational-age record of {o.date} would put the pregnancy "
                        f"at {_weeks_days(days)} now: it is outdated", evidence,
                        ("current gestational age",))
            weeks = _weeks_days(days)
            ok = COMPARE[op](days, wanted_days)
            return (ok, f"gestational age {weeks} at {as_of} (from the record of {o.date}) is "
                    f"{'' if ok else 'not '}{rule}", evidence, ())
        pregnant, how, _ = pregnancy_state(ctx)
        if pregnant is False:
            return False, f"not pregnant ({how.replace('_', ' ')}): gestational age does not " \
                "apply", (), ()
        return None, "gestational age is not recorded", (), ("current gestational age",)

    return decision_node(decide)


def _weeks_days(days: int) -> str:
    w, d = divmod(days, 7)
    return f"{w} week{'' if w == 1 else 's'} {d} day{'' if d == 1 else 's'}"


# ---- languages and places ------------------------------------------------------------------


def build_speaks(node: r.Speaks) -> Node:
    wanted = attributes.language_code(node.language)
    assert wanted is not None, "the compiler checks language names"
    name = attributes.language_name(wanted)

    def decide(ctx: Context) -> Decision:
        tags = ctx.patient.languages
        if not tags:
            return (None, "no language is recorded", (),
                    (f"whether the patient speaks {name}",))
        evidence = tuple(Evidence(record_type="patient", display="language", value=tag)
                         for tag in tags)
        for tag in tags:
            if attributes.speaks(tag, wanted):
                return True, f"speaks {name} (recorded as {tag})", evidence, ()
        return (False, f"recorded languages ({', '.join(tags)}) do not include {name}",
                evidence, ())

    return decision_node(decide)


def build_resides_in(node: r.ResidesIn) -> Node:
    level, code = node.level, node.code
    place = attributes.place_name(level, code)
    country = attributes.region_country(code) if level == "region" else code

    def decide(ctx: Context) -> Decision:
        as_of = ctx.as_of
        addresses = ctx.patient.addresses
        if not addresses:
            return None, "no address is recorded", (), ("the patient's address",)
        current = [a for a in addresses if (a.start is None or a.start <= as_of)
                   and (a.end is None or a.end >= as_of)]
        if not current:
            return (None, f"no recorded address is valid at {as_of}", (),
                    ("the patient's current address",))
        evidence = tuple(Evidence(record_type="address", value=a.region or a.country,
                                  date=a.start) for a in current)
        undecided = False
        for a in current:
            if level == "country" and a.country == code:
                return True, f"lives in {place}", evidence, ()
            if level == "region":
                if a.region == code:
                    return True, f"lives in {place}", evidence, ()
                if a.region is None and a.country == country:
                    undecided = True
        if undecided:
            return (None, f"the current address gives the country ({country}) but not the "
                    "region", evidence, ("the region of the patient's address",))
        shown = ", ".join(a.region or a.country for a in current)
        return False, f"lives in {shown}, not {place}", evidence, ()

    return decision_node(decide)
