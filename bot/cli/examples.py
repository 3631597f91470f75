"""`policybot examples list [--json]`: the example messages policy owners taught, per document, and those set aside."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli._common import console, fail, settings
from bot.errors import PolicybotError

__all__ = ["register"]

examples_app = typer.Typer(
    help="Example staff messages taught on the insights page (/insights).", no_args_is_help=True
)


@dataclass
class _Listing:
    documents: list[dict[str, Any]]
    set_aside: list[dict[str, Any]]


@examples_app.command("list")
def list_examples(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """What is taught, per document, and what is set aside because the text it was taught on changed (checked
    against the corpus on disk: what the next reload will serve)."""
    from index.errors import IndexPackageError

    try:
        listing = asyncio.run(_listing())
    except (PolicybotError, IndexPackageError) as exc:
        fail(str(exc))
    if as_json:
        console.print_json(json.dumps({"documents": listing.documents, "set_aside": listing.set_aside}))
        return
    _print(listing)


async def _listing() -> _Listing:
    from bot.core.teaching import Teaching, describe
    from bot.storage import Database
    from index.corpus import load_corpus

    cfg = settings()
    on_disk = await asyncio.to_thread(load_corpus, cfg.corpus_dir)
    db = await Database.open(cfg)
    try:
        teaching = Teaching(db)
        corpus = on_disk.with_examples(await teaching.examples())
        overview = await teaching.overview(corpus)
    finally:
        await db.dispose()
    documents = [
        {
            "id": doc.id,
            "title": doc.title,
            "file_examples": sum(e.doc_id == doc.id for e in on_disk.examples),
            "taught": [
                {
                    "id": row.id,
                    "text": row.text,
                    "sections": list(row.sections),
                    "answered_by": describe(corpus, row.doc_id, row.sections),
                    "doc_version": row.doc_version,
                    "taught_by": row.taught_by,
                    "taught_at": row.taught_at.isoformat(timespec="seconds"),
                }
                for row in overview.taught
                if row.doc_id == doc.id
            ],
        }
        for doc in corpus.documents
    ]
    set_aside = [
        {
            "id": e.id,
            "from": "database" if e.id is not None else f"questions/{e.doc_id}.jsonl",
            "doc_id": e.doc_id,
            "text": e.text,
            "sections": list(e.sections),
            "why": "its section is no longer in the document"
            if e.gone
            else "the text it was taught on changed",
        }
        for e in overview.set_aside
    ]
    return _Listing(documents, set_aside)


def _print(listing: _Listing) -> None:
    for doc in listing.documents:
        console.print(
            f"[bold]{escape(doc['title'])}[/] ({doc['id']}): {len(doc['taught'])} taught on the insights page, "
            f"{doc['file_examples']} from questions/{doc['id']}.jsonl",
            soft_wrap=True,
        )
        if not doc["taught"]:
            continue
        table = Table(show_lines=False)
        for col in ("id", "question", "answered by", "taught by", "taught at"):
            table.add_column(col)
        for row in doc["taught"]:
            table.add_row(
                str(row["id"]),
                escape(row["text"]),
                escape(row["answered_by"]),
                row["taught_by"],
                row["taught_at"],
            )
        console.print(table)
    if not listing.set_aside:
        console.print("Nothing is set aside.")
        return
    table = Table(title="Set aside for review (confirm or remove them on /insights)")
    for col in ("id", "document", "question", "sections", "why"):
        table.add_column(col)
    for e in listing.set_aside:
        table.add_row(
            str(e["id"]) if e["id"] is not None else e["from"],
            e["doc_id"],
            escape(e["text"]),
            escape(", ".join(e["sections"]) or "not covered"),
            e["why"],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(examples_app, name="examples")
