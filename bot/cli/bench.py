"""`policybot bench`: speed and memory of the answer core (and, with --http, of the running server)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from bot.cli._common import console, err_console, settings

__all__ = ["register"]


def bench(
    as_json: bool = typer.Option(False, "--json", help="One JSON object with every figure."),
    repeats: int = typer.Option(200, min=20, help="Answers timed per corpus size."),
    scale: int = typer.Option(100, min=2, help="Size of the synthetic corpus, in multiples of the real one."),
    teams: bool = typer.Option(False, "--teams", help="Teams reply latency over loopback HTTP at 1 and 16."),
) -> None:
    """Embedding floor, answer latency p50/p99, build time, cold start and RSS, at 1x and at a synthetic 100x."""
    if teams:
        from bot.bench_teams import run_teams_benchmark

        figures = run_teams_benchmark(
            settings(), turns=repeats, say=lambda m: err_console.print(f"[dim]{m}[/]")
        )
        console.print_json(json.dumps(figures))
        return
    from bot.bench import run_benchmark

    result = run_benchmark(
        settings(), repeats=repeats, scale=scale, say=lambda m: err_console.print(f"[dim]{m}[/]")
    )
    if as_json:
        console.print_json(json.dumps(result))
        return
    big = result[f"scale_{scale}x"]
    table = Table(title="policybot bench (in-process)")
    for col in ("figure", "1x", f"{scale}x"):
        table.add_column(col, justify="right")
    rows = [
        ("passages indexed", "passages", "{:.0f}"),
        ("bare query embedding p50 (ms)", "embed_ms_p50", "{:.1f}"),
        ("answer p50 (ms)", "answer_ms_p50", "{:.1f}"),
        ("answer p99 (ms)", "answer_ms_p99", "{:.1f}"),
        ("answer p50 / embedding p50", "ratio_p50", "{:.2f}"),
        ("index build (s)", "build_s", "{:.1f}"),
        ("cold start to first answer (s)", "cold_start_s", "{:.1f}"),
        ("peak RSS of a serving process (MB)", "rss_mb", "{:.0f}"),
    ]
    for label, key, fmt in rows:
        table.add_row(label, fmt.format(result[key]), fmt.format(big[key]))
    console.print(table)
    for floor, ok in result["floors"].items():
        console.print(f"{'[green]met[/]' if ok else '[red]NOT met[/]'}  {floor}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
