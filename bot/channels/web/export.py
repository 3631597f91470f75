"""The case record for a safeguarding file, as Markdown and as PDF.

Shaped the way a safeguarding record is kept: who (reporter, who it is about, who received it), what (the
reporter's own words, verbatim), when and where, then the actions and decisions with their reasons, the outcome,
and the full chronology. The PDF uses DejaVu Sans (Debian's fonts-dejavu-core) so any script prints; without
the font the export fails with a message saying what to install, rather than dropping characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from bot.errors import ConfigError
from bot.reports.directory import Directory, Person
from bot.reports.model import CaseView, ChronologyEntry, EventKind

__all__ = ["FONT_DIR", "about_line", "case_markdown", "case_pdf", "event_line", "reporter_line"]

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_EVENT_LABELS = {
    EventKind.CREATED: "Report received",
    EventKind.ROUTED: "Routed",
    EventKind.NOTIFIED: "Notice queued",
    EventKind.DELIVERED: "Notice delivered",
    EventKind.UNDELIVERABLE: "Notice undeliverable",
    EventKind.DELIVERY_FAILED: "Notice not yet delivered (still retrying)",
    EventKind.READ: "Case opened",
    EventKind.ACCESS_REFUSED: "Access refused",
    EventKind.ACKNOWLEDGED: "Acknowledged",
    EventKind.ESCALATED: "Escalated",
    EventKind.ESCALATION_EXHAUSTED: "Escalation exhausted",
    EventKind.NOTE: "Note",
    EventKind.DECISION: "Action or decision",
    EventKind.CLOSED: "Closed",
}


def _name(directory: Directory, person_id: str | None) -> str:
    if not person_id:
        return "-"
    if person_id == "system":
        return "policybot"
    if person_id == "reporter":
        return "the reporter"
    person = directory.person(person_id)
    if person is None:
        return person_id
    return f"{person.name}, {person.title}" if person.title else person.name


def reporter_line(case: CaseView, directory: Directory) -> str:
    if case.reporter is None:
        return "Not named (the reporter asked not to be named)"
    if case.reporter.person_id:
        return _name(directory, case.reporter.person_id)
    return f"{case.reporter.channel.value} user {case.reporter.id}"


def about_line(case: CaseView, directory: Directory) -> str:
    parts = []
    if case.subject_person_id:
        parts.append(_name(directory, case.subject_person_id))
    if case.subject_text:
        parts.append(case.subject_text)
    return "; ".join(parts) or "Not stated"


def event_line(entry: ChronologyEntry, directory: Directory) -> str:
    """One chronology entry in words (the timestamp is added by the caller)."""
    label = _EVENT_LABELS.get(entry.kind, entry.kind.value)
    who = _name(directory, entry.actor)
    details = []
    if "person_id" in entry.data:
        details.append(f"to {_name(directory, str(entry.data['person_id']))}")
    if entry.data.get("reason"):
        details.append(f"({entry.data['reason']})")
    if entry.kind == EventKind.NOTIFIED and entry.data.get("recipient"):
        details.append(f"for {_name(directory, str(entry.data['recipient']))}")
    if entry.kind == EventKind.CREATED:
        rule = entry.data.get("rule")
        return f"{label} from the reporter" + (f" (routing rule: {rule})" if rule else "")
    line = f"{label} by {who}" + (" " + " ".join(details) if details else "")
    if entry.text:
        line += f": {entry.text}"
    if entry.reason:
        line += f" (reason: {entry.reason})"
    return line


def _sections(
    case: CaseView, directory: Directory, exported_by: Person, now: datetime
) -> list[tuple[str, list[str]]]:
    """The record as (heading, paragraphs), shared by both formats so they never disagree."""
    tz = ZoneInfo(directory.timezone)

    def when(value: datetime | None) -> str:
        return "-" if value is None else value.astimezone(tz).strftime("%d %B %Y, %H:%M %Z")

    recipients = [
        f"{_name(directory, r.person_id)}: {r.reason}; routed {when(r.routed_at)}"
        + (f"; acknowledged {when(r.acknowledged_at)}" if r.acknowledged_at else "; not acknowledged")
        for r in case.recipients
    ]
    actions = [
        f"{when(e.at)}, {_name(directory, e.actor)}: {e.text}" + (f"\nReason: {e.reason}" if e.reason else "")
        for e in case.chronology
        if e.kind == EventKind.DECISION
    ]
    notes = [
        f"{when(e.at)}, {_name(directory, e.actor)}: {e.text}"
        for e in case.chronology
        if e.kind == EventKind.NOTE
    ]
    return [
        (
            "Case",
            [
                f"Reference: {case.reference}",
                f"Category: {case.category.label}",
                f"Status: {case.status.value}",
                f"Organisation: {directory.organisation or '-'}",
                f"Exported {when(now)} by {_name(directory, exported_by.id)}. Confidential.",
            ],
        ),
        (
            "Who",
            [
                f"Reported by: {reporter_line(case, directory)}",
                f"About: {about_line(case, directory)}",
                "Involves children: " + ("yes" if case.concerns_children else "no"),
                "Received by:",
                *[f"- {r}" for r in recipients],
            ],
        ),
        (
            "When and where",
            [
                f"Reported: {when(case.created_at)}",
                f"When it happened (reporter's words): {case.when or 'not stated'}",
                f"Where it happened (reporter's words): {case.where or 'not stated'}",
                f"Acknowledged: {when(case.acknowledged_at)}",
            ],
        ),
        ("What happened, in the reporter's own words", [case.description]),
        ("Evidence", list(case.evidence) or ["None given"]),
        ("Actions and decisions, with reasons", actions or ["None recorded"]),
        ("Notes", notes or ["None"]),
        (
            "Outcome",
            [case.outcome or "Open: no outcome yet"]
            + ([f"Closed: {when(case.closed_at)}"] if case.closed_at else []),
        ),
        ("Chronology", [f"{when(e.at)}  {event_line(e, directory)}" for e in case.chronology]),
    ]


def case_markdown(case: CaseView, directory: Directory, *, exported_by: Person, now: datetime) -> str:
    lines = [f"# Case record {case.reference}", ""]
    for heading, paragraphs in _sections(case, directory, exported_by, now):
        lines += [f"## {heading}", ""]
        if heading.startswith("What happened"):
            lines += ["> " + line for line in case.description.splitlines() or [""]]
            lines.append("")
            continue
        bullet = heading in ("Evidence", "Actions and decisions, with reasons", "Notes", "Chronology")
        for paragraph in paragraphs:
            text = paragraph.replace("\n", "  \n  ")
            lines.append(f"- {text}" if bullet and not paragraph.startswith("- ") else f"{text}  ")
        lines.append("")
    return "\n".join(lines)


def _font_paths() -> tuple[Path, Path]:
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    for path in (regular, bold):
        if not path.is_file():
            raise ConfigError(
                f"PDF export needs the DejaVu fonts ({path} is missing). Install them: "
                "apt-get install fonts-dejavu-core"
            )
    return regular, bold


def case_pdf(case: CaseView, directory: Directory, *, exported_by: Person, now: datetime) -> bytes:
    regular, bold = _font_paths()
    pdf = FPDF(format="A4")
    pdf.set_title(f"Case record {case.reference}")
    pdf.set_creator("policybot")
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    _para(pdf, [f"Case record {case.reference}"], height=9)
    pdf.set_font("DejaVu", "", 9)
    _para(pdf, ["CONFIDENTIAL: safeguarding record. Store and share only as your policy allows."])
    for heading, paragraphs in _sections(case, directory, exported_by, now):
        pdf.ln(3)
        pdf.set_font("DejaVu", "B", 12)
        _para(pdf, [heading], height=7)
        pdf.set_font("DejaVu", "", 10)
        _para(pdf, paragraphs)
    return bytes(pdf.output())


def _para(pdf: FPDF, paragraphs: Iterable[str], *, height: float = 5.5) -> None:
    for paragraph in paragraphs:
        pdf.multi_cell(0, height, paragraph, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
