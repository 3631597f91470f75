"""`policybot index build|info`: build the search index with a progress bar, or describe the one on disk."""

from __future__ import annotations

import asyncio
import json

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.cli._common import console, settings

__all__ = ["register"]

index_app = typer.Typer(help="Build or inspect the search index (var/index/).", no_args_is_help=True)


@index_app.command("build")
def build(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Build the index from policy_corpus/ (a new build beside the old, swapped in atomically)."""
    from bot.core.teaching import stored_examples
    from index.corpus import load_corpus
    from index.embed import SentenceTransformerEmbedder
    from index.store import build_index

    cfg = settings()
    corpus = load_corpus(cfg.corpus_dir).with_examples(asyncio.run(stored_examples(cfg)))
    with console.status("loading the embedding model", spinner="dots") if not quiet else _null():
        embedder = SentenceTransformerEmbedder(cfg.model)
    if quiet:
        built = build_index(corpus, embedder, cfg.index_dir)
    else:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("embedding", total=None)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            built = build_index(corpus, embedder, cfg.index_dir, progress=progress)
    m = built.manifest
    console.print(
        f"built {m.passage_count} passages ({m.unit_count} sentences) from {len(corpus.documents)} document(s) "
        f"and {m.example_count} example messages in {m.build_seconds:.1f}s -> {built.path}"
    )
    for pid in m.truncated_passages:
        console.print(
            f"[yellow]note:[/] passage {pid} is longer than the model reads; its sentences are indexed too"
        )


@index_app.command("info")
def info(as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON.")) -> None:
    """Describe the index that serves: model, corpus checksum, counts, when it was built, whether it is stale."""
    from bot.core.teaching import stored_examples
    from index.corpus import load_corpus
    from index.embed import resolve_model
    from index.store import current_manifest

    cfg = settings()
    manifest = current_manifest(cfg.index_dir)
    if manifest is None:
        console.print(f"no index in {cfg.index_dir}: run `policybot index build`")
        raise typer.Exit(1)
    corpus = load_corpus(cfg.corpus_dir).with_examples(asyncio.run(stored_examples(cfg)))
    stale = []
    if manifest.corpus_sha256 != corpus.sha256:
        stale.append("the corpus changed since the build")
    if manifest.model != resolve_model(cfg.model)[0]:
        stale.append("the configured model differs")
    if as_json:
        console.print_json(
            json.dumps({**manifest.to_json(), "stale": stale, "index_dir": str(cfg.index_dir)})
        )
        return
    table = Table(show_header=False, box=None)
    for key, value in manifest.to_json().items():
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    table.add_row("documents", ", ".join(f"{d.id} v{d.version}" for d in corpus.documents))
    table.add_row("status", "; ".join(stale) + " (rebuilt on next start)" if stale else "current")
    console.print(table)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
