"""`policybot eval --held-out MANIFEST`: the leave-one-document-out table, and (``--fit``) the shipped numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from bot.cli._common import console, err_console, fail, settings

if TYPE_CHECKING:
    from bot.devtools.heldout import HeldOutReport

__all__ = ["run_held_out"]

FLOORS = {
    "hit1": (">=", 0.80),
    "answered_right_at_1": (">=", 0.75),
    "false_abstention": ("<=", 0.10),
    "correct_abstention": (">=", 0.80),
    "report_recall": (">=", 0.95),
    "questions_flagged": ("<=", 0.10),
}


def run_held_out(
    manifest: Path,
    *,
    outside: list[Path],
    only: list[str],
    fit: bool,
    as_json: bool,
    markdown: bool = False,
) -> None:
    from bot.devtools.figures import pooled
    from bot.devtools.heldout import fit_all, held_out, load_manifest
    from index.embed import SentenceTransformerEmbedder

    try:
        documents = load_manifest(manifest, outside=outside)
    except (OSError, ValueError, KeyError) as exc:
        fail(f"{manifest}: {exc}")
    unknown = sorted(set(only) - {d.id for d in documents})
    if unknown:
        fail(f"--only names documents the manifest does not hold: {', '.join(unknown)}")
    with err_console.status("loading the model", spinner="dots"):
        embedder = SentenceTransformerEmbedder(settings().model)
    if fit:
        for line in fit_all(documents, embedder, log=lambda line: err_console.print(f"[dim]{line}[/]")):
            console.print(line, highlight=False, soft_wrap=True)
        return
    report = held_out(documents, embedder, only=only, log=lambda line: err_console.print(f"[dim]{line}[/]"))
    if as_json:
        console.print_json(json.dumps(report.to_json()))
        return
    if markdown:
        for line in markdown_tables(report):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    for mode, docs in report.figures.items():
        title = (
            "leave-one-document-out, each document indexed alone"
            if mode == "alone"
            else "leave-one-document-out, every document loaded together"
        )
        table = Table(title=title)
        for col in COLUMNS:
            table.add_column(col, justify="right")
        developed = [f for d, f in docs.items() if d not in report.outside]
        rows = [*docs.items(), ("all development documents (pooled)", pooled(developed))]
        for doc_id, f in rows:
            name = f"{doc_id} (outside)" if doc_id in report.outside else doc_id
            table.add_row(
                name,
                str(f.answerable + f.unanswerable),
                _mark(f.hit1, "hit1"),
                _mark(f.answered_right_at_1, "answered_right_at_1"),
                _mark(f.false_abstention, "false_abstention", of=f.answerable),
                _mark(f.correct_abstention, "correct_abstention", of=f.unanswerable),
                _mark(f.report_recall, "report_recall", of=f.reports),
                _mark(f.questions_flagged, "questions_flagged"),
            )
        console.print(table)
    violations = sum(f.verbatim_violations for docs in report.figures.values() for f in docs.values())
    checked = sum(f.verbatim_checked for docs in report.figures.values() for f in docs.values())
    console.print(f"verbatim: {checked} quoted sentences checked, {violations} not verbatim")
    console.print(
        "floors: hit@1 >= 0.80, answered right@1 >= 0.75, false abstention <= 0.10, correct abstention >= 0.80, "
        "report recall >= 0.95, questions flagged <= 0.10 (a figure that misses its floor is marked !)"
    )


COLUMNS = (
    "document",
    "questions",
    "hit@1",
    "answered right@1",
    "wrongly refused",
    "refused, not answered",
    "report recall",
    "questions flagged",
)


def markdown_tables(report: HeldOutReport) -> list[str]:
    """The tables as Markdown (what the README shows), a figure that misses its floor in bold."""
    from bot.devtools.figures import pooled

    lines: list[str] = []
    for mode, docs in report.figures.items():
        lines.append(
            f"**{'each document indexed alone' if mode == 'alone' else 'every document loaded together'}**"
        )
        lines.append("")
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "---|" * len(COLUMNS))
        developed = [f for d, f in docs.items() if d not in report.outside]
        rows = [*docs.items(), ("all development documents (pooled)", pooled(developed))]
        for doc_id, f in rows:
            name = f"{doc_id} (outside)" if doc_id in report.outside else doc_id
            cells = [
                name,
                str(f.answerable + f.unanswerable),
                _md(f.hit1, "hit1"),
                _md(f.answered_right_at_1, "answered_right_at_1"),
                _md(f.false_abstention, "false_abstention", of=f.answerable),
                _md(f.correct_abstention, "correct_abstention", of=f.unanswerable),
                _md(f.report_recall, "report_recall", of=f.reports),
                _md(f.questions_flagged, "questions_flagged"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    violations = sum(f.verbatim_violations for docs in report.figures.values() for f in docs.values())
    checked = sum(f.verbatim_checked for docs in report.figures.values() for f in docs.values())
    lines.append(
        f"Quotes: {checked} quoted sentences checked against their source, {violations} not verbatim."
    )
    return lines


def _md(value: float, floor: str, *, of: int | None = None) -> str:
    text = _mark(value, floor, of=of)
    return f"**{text[:-2]}**" if text.endswith(" !") else text


def _mark(value: float, floor: str, *, of: int | None = None) -> str:
    op, limit = FLOORS[floor]
    ok = value >= limit if op == ">=" else value <= limit
    text = f"{value:.3f}" + (f" of {of}" if of is not None else "")
    return text if ok else f"{text} !"
