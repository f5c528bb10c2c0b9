"""Oncology: a tumour's stage, TNM categories and histology, and tumour biomarkers.

`has condition V with stage >= III` asks of each counted condition in V whether its stage
satisfies the rule (prefix semantics, see :mod:`eligo.staging`); the checks here are
combined per condition by :mod:`eligo.evaluate_details`. A condition with no recorded stage,
histology or basis of diagnosis leaves the answer UNKNOWN, naming what is missing.

Biomarkers are read from the profile's biomarker results: the most recent result for the
gene (and alteration) decides; a gene-level negative ("EGFR wild-type") answers every
alteration of that gene, a gene-level positive answers none in particular.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from eligo import rules as r
from eligo import staging
from eligo.evaluate_core import COMPARE, Decision, Env, Node, build_period, decision_node
from eligo.patient import Biomarker, Coding, Condition, Stage
from eligo.records import (
    Context,
    Truth,
    matching_coding,
    record_evidence,
)
from eligo.result import Evidence
from eligo.terminology import CodeMatcher

# One qualifier asked of one condition: (truth, what it found, what is missing).
Check = Callable[[Condition], tuple[Truth, str, str | None]]



# ---- stage, TNM and histology ------------------------------------------------------------

_BASIS_PREFIX = re.compile(r"^\s*(y?)([cp])(?=[TNM])", re.IGNORECASE)


def _basis_of(stage: Stage) -> str | None:
    if stage.basis is not None:
        return stage.basis
    for label in (stage.t, stage.n, stage.m):
        m = _BASIS_PREFIX.match(label or "")
        if m:
            return "clinical" if m.group(2).lower() == "c" else "pathological"
    return None


def _axis_label(stage: Stage, axis: str) -> str | None:
    return {"stage": stage.group, "T": stage.t, "N": stage.n, "M": stage.m}[axis]


def stage_check(q: r.StageTest) -> Check:
    axis, basis, op, labels = q.axis, q.basis, q.op, q.labels
    wanted = (f"{op} {labels[0]}" if op != "in" else f"in [{', '.join(labels)}]")
    what = f"{basis + ' ' if basis else ''}{'stage' if axis == 'stage' else axis}"

    def check(c: Condition) -> tuple[Truth, str, str | None]:
        stagings = [s for s in c.stages if _axis_label(s, axis)
                    and (basis is None or _basis_of(s) == basis)]
        if not stagings:
            return None, f"no {what} recorded", f"the {what} of the tumour"
        # The latest staging; on the same day (or undated) pathological outranks clinical.
        latest = max(stagings, key=lambda s: (s.date or date.min,
                                              _basis_of(s) == "pathological"))
        label = _axis_label(latest, axis) or ""
        recorded = staging.read_recorded(axis, label)
        when = f" ({latest.date})" if latest.date else ""
        if recorded is None:
            return (None, f"{what} `{label}`{when} cannot be compared",
                    f"a readable {what} of the tumour")
        truth = staging.compare(axis, recorded, op, labels)
        said = {True: "is", False: "is not", None: "may or may not be"}[truth]
        return truth, f"{what} {label}{when} {said} {wanted}", (
            f"a more specific {what} of the tumour" if truth is None else None)

    return check


def histology_check(matcher: CodeMatcher, label: str) -> Check:
    def check(c: Condition) -> tuple[Truth, str, str | None]:
        if not c.morphology:
            return None, "histology not recorded", "the tumour's histology (ICD-O-3 morphology)"
        hit = matching_coding(c.morphology, matcher)
        if hit is not None:
            return True, f"histology {hit.code} is in {label}", None
        shown = ", ".join(m.code for m in c.morphology)
        return False, f"histology {shown} is not in {label}", None

    return check


def confirmed_check(wanted: r.ConfirmationBasis) -> Callable[[Condition],
                                                            tuple[Truth, str, str | None]]:
    """``confirmed by histology|cytology|pathology``: pathology is either examination."""
    accepted = ("histology", "cytology") if wanted == "pathology" else (wanted,)
    said = "histology or cytology" if wanted == "pathology" else wanted

    def check(c: Condition) -> tuple[Truth, str, str | None]:
        basis = c.diagnosis_basis
        if basis is None or basis == "unknown":
            return None, "how the diagnosis was confirmed is not recorded", (
                f"whether the diagnosis was confirmed by {said}")
        if basis in accepted:
            return True, f"confirmed by {basis}", None
        return False, f"diagnosed by {basis}, not {said}", None

    return check


def tumour_evidence(c: Condition, coding: Coding) -> Evidence:
    base = record_evidence(c, coding)
    extra: list[str] = []
    for s in c.stages:
        parts = [p for p in (s.group and f"stage {s.group}", s.t, s.n, s.m) if p]
        bits = ", ".join(x for x in (_basis_of(s), s.date and s.date.isoformat()) if x)
        extra.append(" ".join(parts) + (f" ({bits})" if bits else ""))
    if c.morphology:
        extra.append("histology " + ", ".join(m.code for m in c.morphology))
    if c.diagnosis_basis:
        extra.append(f"diagnosed by {c.diagnosis_basis}")
    note = "; ".join(x for x in [base.note or "", *extra] if x)
    return Evidence(record_type=base.record_type, record_id=base.record_id, system=base.system,
                    code=base.code, display=base.display, date=base.date, note=note or None)


# ---- biomarkers --------------------------------------------------------------------------

# Common names of biomarker genes and proteins -> HGNC symbols (HGNC, genenames.org):
# HER2 is ERBB2, PD-L1 is CD274, HER3 is ERBB3, c-MET is MET, c-KIT is KIT; the oestrogen and
# progesterone receptors ER and PR are ESR1 and PGR.
GENE_SYMBOLS = {"HER2": "ERBB2", "HER-2": "ERBB2", "HER2/NEU": "ERBB2", "PD-L1": "CD274",
                "PDL1": "CD274", "HER3": "ERBB3", "C-MET": "MET", "C-KIT": "KIT",
                "MSI-H": "MSI", "DMMR": "MSI", "ER": "ESR1", "PR": "PGR", "PGR": "PGR"}


def gene_symbol(name: str) -> str:
    upper = name.strip().upper()
    return GENE_SYMBOLS.get(upper, upper)


def _alteration_key(text: str | None) -> str | None:
    if text is None:
        return None
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def _biomarker_evidence(b: Biomarker) -> Evidence:
    value: str | None = b.result
    if b.measure is not None and b.value is not None:
        value = f"{b.measure} {b.value:g}{' ' + b.unit if b.unit else ''}"
    return Evidence(record_type="biomarker", record_id=b.id,
                    display=" ".join(x for x in (b.gene, b.alteration) if x), value=value,
                    date=b.date)


def _in_time(b: Biomarker, period: tuple[date, date] | None, as_of: date) -> Truth:
    if b.date is not None and b.date > as_of:
        return False
    if period is None:
        return True
    if b.date is None:
        return True if period[0] == date.min else None
    return period[0] <= b.date <= period[1]


def build_biomarker_result(node: r.BiomarkerResult, env: Env) -> Node:
    gene = gene_symbol(node.gene)
    alteration = _alteration_key(node.alteration)
    named = " ".join(x for x in (node.gene, node.alteration) if x)
    wants_positive = node.result == "positive"
    period_of, when = build_period(node.timing, env)
    ask = f"{_article(named)} {named} result{when}"

    def positive(ctx: Context) -> tuple[Truth, str, tuple[Evidence, ...]]:
        period, _ = period_of(ctx)
        relevant = [b for b in ctx.patient.biomarkers
                    if gene_symbol(b.gene) == gene and b.measure is None]
        timed = [(b, _in_time(b, period, ctx.as_of)) for b in relevant]
        found = [b for b, t in timed if t is True]
        undated = [b for b, t in timed if t is None]
        if not found:
            if undated:
                return (None, f"{named} results{when} are undated",
                        tuple(_biomarker_evidence(b) for b in undated))
            return None, f"no {named} result{when}", ()
        # The latest result per alteration (None: the gene as a whole).
        latest: dict[str | None, Biomarker] = {}
        for b in sorted(found, key=lambda b: b.date or date.min):
            latest[_alteration_key(b.alteration)] = b
        evidence = tuple(_biomarker_evidence(b) for b in latest.values())
        whole = latest.get(None)
        if whole is not None and whole.result == "negative":
            # A newer test of the gene as a whole supersedes older results of its parts.
            since = whole.date or date.min
            latest = {k: b for k, b in latest.items()
                      if k is None or (b.date is not None and b.date > since)}
        if alteration is None:
            hits = [b for b in latest.values() if b.result == "positive"]
            if hits:
                return True, f"{_label(hits[0])} is positive", (_biomarker_evidence(hits[0]),)
            if whole is not None and whole.result == "negative":
                return False, f"{_label(whole)} is negative", evidence
            if whole is not None:
                return None, f"{node.gene} result is {whole.result or 'not stated'}", evidence
            tested = ", ".join(sorted(b.alteration or "" for k, b in latest.items() if k))
            return (None, f"only some {node.gene} alterations were tested ({tested}), all "
                    "negative or inconclusive", evidence)
        own = latest.get(alteration)
        if own is not None and own.result in ("positive", "negative"):
            return own.result == "positive", f"{_label(own)} is {own.result}", (
                _biomarker_evidence(own),)
        if whole is not None and whole.result == "negative":
            return False, f"{_label(whole)} is negative for the gene as a whole", evidence
        if own is not None:
            return None, f"{_label(own)} is {own.result or 'not stated'}", evidence
        return None, f"{named} was not tested", evidence

    def decide(ctx: Context) -> Decision:
        truth, said, evidence = positive(ctx)
        if not wants_positive and truth is not None:
            truth = not truth
        return truth, said, evidence, (ask,)

    return decision_node(decide)


def _article(word: str) -> str:
    # "an EGFR", "an HER2", "a KRAS": by how the letters are said.
    return "an" if word[:1].upper() in "AEFHILMNORSX" else "a"


def _label(b: Biomarker) -> str:
    return " ".join(x for x in (b.gene, b.alteration) if x) + (f" ({b.date})" if b.date else "")


def build_biomarker_measure(node: r.BiomarkerMeasure, env: Env) -> Node:
    gene = gene_symbol(node.gene)
    measure = node.measure.upper()
    assert isinstance(node.value, r.Quantity), "the compiler checks the value"
    bound, unit = float(node.value.number), node.value.unit
    compare = COMPARE[node.op]
    rule = f"{node.gene} {node.measure} {node.op} {node.value.number}" + (
        f" {unit}" if unit else "")
    period_of, when = build_period(node.timing, env)

    def decide(ctx: Context) -> Decision:
        period, _ = period_of(ctx)
        found = [b for b in ctx.patient.biomarkers
                 if gene_symbol(b.gene) == gene and (b.measure or "").upper() == measure
                 and b.value is not None and _in_time(b, period, ctx.as_of) is True]
        if not found:
            return (None, f"no {node.gene} {node.measure} result{when}", (),
                    (f"{_article(node.gene)} {node.gene} {node.measure} result{when}",))
        b = max(found, key=lambda b: b.date or date.min)
        evidence = (_biomarker_evidence(b),)
        if unit is not None and b.unit not in (None, unit):
            return (None, f"{node.gene} {node.measure} is in {b.unit}, not {unit}", evidence,
                    (f"{_article(node.gene)} {node.gene} {node.measure} result in {unit}",))
        assert b.value is not None
        ok = compare(b.value, bound)
        dated = f" ({b.date})" if b.date else " (undated)"
        return (ok, f"{node.gene} {node.measure} {b.value:g}{' ' + unit if unit else ''}"
                f"{dated} {'meets' if ok else 'does not meet'} {rule}", evidence, ())

    return decision_node(decide)
