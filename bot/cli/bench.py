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
    http: bool = typer.Option(
        False, "--http", help="Drive the server over loopback with signed Slack /policy commands instead."
    ),
    url: str | None = typer.Option(
        None, help="With --http: a running server's URL (default: start one); needs SLACK_SIGNING_SECRET."
    ),
    per_level: int = typer.Option(64, min=8, help="With --http: commands sent per concurrency level."),
    teams: bool = typer.Option(False, "--teams", help="Teams reply latency over loopback HTTP at 1 and 16."),
) -> None:
    """Embedding floor, answer latency p50/p99, build time, cold start and RSS, at 1x and at a synthetic 100x.

    With --http: ack latency p50/p99 and answered questions/s at concurrency 1, 8, 16 and 32, the bare model's
    batched-embedding throughput and the server's RSS. With --teams: Teams reply latency at 1 and 16."""
    if http:
        _bench_http(as_json=as_json, url=url, per_level=per_level)
        return
    if teams:
        from bot.devtools.bench_teams import run_teams_benchmark

        figures = run_teams_benchmark(
            settings(), turns=repeats, say=lambda m: err_console.print(f"[dim]{m}[/]")
        )
        console.print_json(json.dumps(figures))
        return
    from bot.devtools.bench import run_benchmark

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


def _bench_http(*, as_json: bool, url: str | None, per_level: int) -> None:
    from bot.devtools.loadtest import run_http_bench

    result = run_http_bench(
        settings(), url=url, per_level=per_level, say=lambda m: err_console.print(f"[dim]{m}[/]")
    )
    data = result.to_json()
    if as_json:
        console.print_json(json.dumps(data))
        return
    table = Table(title="policybot bench --http (signed Slack /policy over loopback)")
    for col in ("concurrency", "requests", "ack p50 (ms)", "ack p99 (ms)", "answered", "answered q/s"):
        table.add_column(col, justify="right")
    for level in result.levels:
        table.add_row(
            str(level.concurrency),
            str(level.requests),
            f"{level.ack_ms_p50:.1f}",
            f"{level.ack_ms_p99:.1f}",
            str(level.answered),
            f"{level.answered_per_s:.1f}",
        )
    console.print(table)
    console.print(f"bare model batched embedding: {result.embed_texts_per_s:.1f} texts/s (batches of 32)")
    rss = "n/a (external server)" if result.server_rss_mb is None else f"{result.server_rss_mb:.0f} MB"
    console.print(f"server peak RSS: {rss}")
    for floor, ok in result.floors.items():
        console.print(f"{'[green]met[/]' if ok else '[red]NOT met[/]'}  {floor}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
