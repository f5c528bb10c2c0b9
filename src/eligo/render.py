"""Renderers for screening results: a terminal checklist (rich) and JSON."""

from __future__ import annotations

from rich.text import Text

from eligo.result import CriterionResult, Evidence, ScreeningResult, Status, Verdict

MARKS = {Status.PASS: ("✔", "green"), Status.FAIL: ("✘", "red"), Status.UNKNOWN: ("?", "yellow")}
VERDICT_STYLE = {
    Verdict.ELIGIBLE: "bold green",
    Verdict.INELIGIBLE: "bold red",
    Verdict.NEEDS_REVIEW: "bold yellow",
}


def evidence_text(e: Evidence) -> str:
    parts: list[str] = [e.record_type]
    if e.code:
        parts.append(f"{e.system} {e.code}" if e.system else e.code)
    if e.display:
        parts.append(e.display)
    if e.value:
        parts.append(f"= {e.value}")
    if e.date:
        parts.append(f"({e.date})")
    if e.note:
        parts.append(f"[{e.note}]")
    if e.record_id:
        parts.append(f"#{e.record_id}")
    return " ".join(parts)


def _criterion(out: Text, c: CriterionResult) -> None:
    mark, style = MARKS[c.status]
    out.append(f"  {mark} ", style=style)
    out.append(f"{c.id:<4}", style="bold")
    out.append(f" {c.text}\n")
    out.append(f"       rule: {c.expression}\n", style="dim")
    out.append(f"       {c.reason}\n")
    for e in c.evidence:
        out.append(f"       evidence: {evidence_text(e)}\n", style="cyan")
    for m in c.missing:
        out.append(f"       missing: {m}\n", style="yellow")


def checklist(result: ScreeningResult) -> Text:
    """The per-criterion checklist a coordinator reads (plain text via ``.plain``)."""
    out = Text()
    version = f" (version {result.protocol_version})" if result.protocol_version else ""
    out.append(f"{result.protocol_id}{version}\n", style="bold")
    out.append(f"patient {result.patient_id} · as of {result.as_of}"
               f" · eligo {result.engine_version}\n")
    out.append("verdict: ")
    out.append(result.verdict.value.replace("_", " "), style=VERDICT_STYLE[result.verdict])
    counts = {s: sum(1 for c in result.criteria if c.status is s) for s in Status}
    out.append(f"  ({counts[Status.PASS]} passed, {counts[Status.FAIL]} failed, "
               f"{counts[Status.UNKNOWN]} unknown)\n")
    for kind in ("inclusion", "exclusion"):
        items = [c for c in result.criteria if c.kind == kind]
        if items:
            out.append(f"\n{kind.capitalize()} criteria\n", style="bold underline")
            for c in items:
                _criterion(out, c)
    if result.to_resolve:
        out.append("\nTo resolve\n", style="bold underline")
        for item in result.to_resolve:
            out.append(f"  □ {item.criterion}: {item.item}\n")
    return out


def to_json(result: ScreeningResult) -> str:
    return result.model_dump_json(indent=2)
