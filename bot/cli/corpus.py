"""`policybot corpus add FILE`: import a converted policy into policy_corpus/ as Markdown, for review."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli._common import console, fail, settings

__all__ = ["register"]

corpus_app = typer.Typer(help="Manage the policy documents in policy_corpus/.", no_args_is_help=True)


@corpus_app.command("add")
def add(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="A .txt or .md export."
    ),
    doc_id: str | None = typer.Option(None, "--id", help="Document id (default: from the file name)."),
    title: str | None = typer.Option(None, help="Title (default: found in the page footers)."),
    owner: str | None = typer.Option(None, help="Team that owns the document, e.g. HR."),
    organisation: str | None = typer.Option(None, help="Organisation the policy belongs to."),
    version: str | None = typer.Option(None, help="Version (default: found in the page footers)."),
    review_due: str | None = typer.Option(None, "--review-due", help="YYYY-MM (default: found in the text)."),
    url: str | None = typer.Option(None, help="Link to the published copy."),
    out: Path | None = typer.Option(None, help="Output directory (default: the configured policy_corpus/)."),
    force: bool = typer.Option(False, help="Overwrite an existing document with the same id."),
) -> None:
    """Clean FILE (table of contents, page footers, HTML debris removed), write Markdown, report what was found."""
    from index.importer import clean_text, render_markdown

    if file.suffix.lower() not in (".txt", ".md"):
        fail(f"{file.name}: only .txt and .md exports can be imported so far")
    doc_id = doc_id or file.stem.lower().replace("_", "-").replace(" ", "-")
    imported = clean_text(
        file.read_text(encoding="utf-8"),
        id=doc_id,
        title=title,
        owner=owner,
        organisation=organisation,
        version=version,
        review_due=review_due,
        url=url,
    )
    target_dir = out or settings().corpus_dir
    target = target_dir / f"{doc_id}.md"
    if target.exists() and not force:
        fail(f"{target} exists; pass --force to replace it")
    target_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(render_markdown(imported), encoding="utf-8")
    console.print(f"wrote {target}")
    for line in imported.report.summary():
        console.print(f"  {line}")
    console.print("Review the file, then run `policybot index build` (or restart) to serve it.")


def register(app: typer.Typer) -> None:
    app.add_typer(corpus_app, name="corpus")
