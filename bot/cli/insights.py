"""`policybot insights [--json]`: what staff could not find, for the people who own the policies."""

from __future__ import annotations

import asyncio
import json

import typer
from rich.table import Table

from bot.cli._common import console, fail, settings
from bot.core.insights import InsightsReport

__all__ = ["register"]


def insights(
    as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object."),
    top: int = typer.Option(10, min=1, help="How many unanswered themes to show."),
) -> None:
    """Top unanswered themes, helpful / not-helpful rate per section, question volume per day."""
    from bot.errors import PolicybotError

    try:
        report = asyncio.run(_report(top))
    except PolicybotError as exc:
        fail(str(exc))
    if as_json:
        console.print_json(json.dumps(report.to_json(), default=str))
        return
    _print(report)


async def _report(top: int) -> InsightsReport:
    from bot.core.insights import InsightsRecorder, build_report
    from bot.storage import Database
    from index.embed import SentenceTransformerEmbedder

    cfg = settings()
    db = await Database.open(cfg)
    try:
        recorder = InsightsRecorder(db, retention_days=cfg.insights_retention_days)
        embedder = await asyncio.to_thread(SentenceTransformerEmbedder, cfg.model)
        return await build_report(recorder, embedder, top=top)
    finally:
        await db.dispose()


def _print(report: InsightsReport) -> None:
    console.print(
        f"last {report.retention_days} days: {report.questions} questions, {report.unanswered} unanswered, "
        f"{report.not_helpful} answers marked not helpful",
        soft_wrap=True,
    )
    themes = Table(title="Top unanswered themes", show_lines=True)
    for col in ("#", "theme (nearest question)", "asked", "people", "no answer", "not helpful", "also asked"):
        themes.add_column(col)
    for n, t in enumerate(report.themes, start=1):
        themes.add_row(
            str(n),
            t.label,
            str(t.count),
            str(t.people),
            str(t.no_answer),
            str(t.not_helpful),
            "\n".join(t.examples),
        )
    console.print(themes if report.themes else "No unanswered or not-helpful questions kept.")
    sections = Table(title="Feedback per section")
    for col in ("document", "section", "helpful", "not helpful", "helpful rate", "versions"):
        sections.add_column(col)
    for s in report.sections:
        sections.add_row(
            s["doc_id"], s["section"], str(s["helpful"]), str(s["not_helpful"]), f"{s['helpful_rate']:.0%}",
            ", ".join(s["versions"]),
        )  # fmt: skip
    console.print(sections if report.sections else "No feedback yet.")
    volume = Table(title="Questions per day")
    for col in ("day", "questions", "answered", "no answer", "related document"):
        volume.add_column(col, justify="right")
    for v in report.volume:
        volume.add_row(
            v["day"], str(v["questions"]), str(v.get("answer", 0)), str(v.get("no_answer", 0)),
            str(v.get("related_document", 0)),
        )  # fmt: skip
    console.print(volume if report.volume else "No questions recorded yet.")


def register(app: typer.Typer) -> None:
    app.command("insights")(insights)
