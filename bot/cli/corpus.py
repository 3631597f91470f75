"""`policybot corpus add FILE`: import a Word, PDF, web or text policy into policy_corpus/ as Markdown, for review."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import typer

from bot.cli._common import console, fail, settings

__all__ = ["register"]

corpus_app = typer.Typer(help="Manage the policy documents in policy_corpus/.", no_args_is_help=True)

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-\d{2})?$")


@corpus_app.command("add")
def add(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="A .docx, .pdf, .html, .md or .txt policy."
    ),
    doc_id: str | None = typer.Option(None, "--id", help="Document id (default: from the file name)."),
    title: str | None = typer.Option(None, help="Title (default: found in the document)."),
    owner: str | None = typer.Option(None, help="Team that owns the document, e.g. HR."),
    organisation: str | None = typer.Option(None, help="Organisation the policy belongs to."),
    version: str | None = typer.Option(
        None, help="Version (default: found in the document, else the file's date, YYYY-MM-DD)."
    ),
    review_due: str | None = typer.Option(None, "--review-due", help="YYYY-MM (default: found in the text)."),
    url: str | None = typer.Option(None, help="Link to the published copy."),
    corpus_dir: Path | None = typer.Option(
        None,
        "--corpus-dir",
        "--out",
        help="Output directory (default: the configured corpus directory, POLICYBOT_CORPUS_DIR).",
    ),
    force: bool = typer.Option(False, help="Overwrite an existing document with the same id."),
) -> None:
    """Clean FILE (contents page, running headers and footers, page numbers removed), write Markdown with front
    matter, and report what was found so the policy owner can review it before rebuilding the index."""
    from index.corpus import parse_markdown
    from index.errors import CorpusError
    from index.importing import import_file, render_markdown
    from index.importing.result import order_meta

    doc_id = doc_id or re.sub(r"[^a-z0-9-]+", "-", file.stem.lower()).strip("-")
    if not _ID.match(doc_id):
        fail(f"--id {doc_id!r}: use lower-case letters, digits and hyphens")
    if review_due is not None and not _MONTH.match(review_due):
        fail(f"--review-due {review_due!r}: use YYYY-MM, e.g. 2027-03")
    target_dir = corpus_dir or settings().corpus_dir
    inside = _inside_installed_package(target_dir)
    if inside is not None:
        fail(
            f"the corpus directory {target_dir} is inside an installed package ({inside}): documents "
            "written there are lost when policybot is upgraded or reinstalled. Set POLICYBOT_CORPUS_DIR (or "
            "pass --corpus-dir) to a directory of your own, e.g. /srv/policybot/policy_corpus; nothing was written."
        )
    target = target_dir / f"{doc_id}.md"
    if target.exists() and not force:
        fail(f"{target} exists; pass --force to replace it")
    try:
        imported = import_file(
            file,
            id=doc_id,
            title=title,
            owner=owner,
            organisation=organisation,
            version=version,
            review_due=review_due,
            url=url,
        )
    except CorpusError as exc:
        fail(str(exc))
    if imported.meta.get("version") in (None, ""):
        stamp = datetime.fromtimestamp(file.stat().st_mtime, tz=UTC).date().isoformat()
        imported.meta = order_meta({**imported.meta, "version": stamp})
        console.print(
            f"warning: no version found in {file.name}: using the file's date ({stamp}); "
            "pass --version to set it",
            markup=False,
            soft_wrap=True,
        )
    text = render_markdown(imported)
    try:  # what we write must load: check before anything lands in the corpus
        parse_markdown(text, target)
    except CorpusError as exc:
        fail(f"the cleaned document would not load ({exc}); nothing was written")
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    console.print(
        f"wrote {target} ({imported.report.source_format}, version {imported.meta['version']})",
        soft_wrap=True,
    )
    for line in imported.report.summary():
        console.print(f"  {line}", markup=False, soft_wrap=True)
    console.print(
        "Review the file, then run `policybot index build` and reload the server "
        "(`POST /admin/reload` or SIGHUP) to serve it."
    )


@corpus_app.command("check")
def check() -> None:
    """What policy owners should fix: documents past their review date or without one, documents without an
    owner, sections without text, how each file was read, and taught examples set aside. Exits 1 when the corpus
    does not load; findings alone are warnings (an overdue policy still serves)."""
    import asyncio
    from datetime import date

    from bot.core.teaching import stored_examples
    from index.corpus import load_corpus
    from index.corpus_check import check_corpus
    from index.errors import CorpusError

    cfg = settings()
    try:
        corpus = load_corpus(cfg.corpus_dir).with_examples(asyncio.run(stored_examples(cfg)))
    except CorpusError as exc:
        fail(str(exc))
    findings = check_corpus(corpus, date.today())
    for doc in corpus.documents:
        due = f", review due {doc.review_due}" if doc.review_due else ""
        console.print(f"{doc.id}: {doc.title}, version {doc.version}{due}", markup=False, soft_wrap=True)
    if not findings:
        console.print("[green]ok[/]  nothing to fix")
        return
    for finding in findings:
        fix = f" ({finding.fix})" if finding.fix else ""
        console.print(f"  - {finding.entry}: {finding.message}{fix}", markup=False, soft_wrap=True)


def _inside_installed_package(directory: Path) -> str | None:
    """Why ``directory`` lies inside an installed package (a site-packages/dist-packages path, or the folder of
    the installed ``bot``/``index`` packages when they are not a source checkout), else None."""
    import bot
    import index

    resolved = directory.expanduser().resolve()
    for part in resolved.parts:
        if part in ("site-packages", "dist-packages"):
            return f"a {part} path"
    for package in (bot, index):
        if package.__file__ is None:
            continue
        folder = Path(package.__file__).resolve().parent
        checkout = (folder.parent / "pyproject.toml").is_file() or (folder.parent / ".git").exists()
        if not checkout and resolved.is_relative_to(folder):
            return f"the installed {package.__name__} package in {folder}"
    return None


def register(app: typer.Typer) -> None:
    app.add_typer(corpus_app, name="corpus")
