"""`policybot config check`: run every check in ``bot.server.checks`` and print problems with their fixes."""

from __future__ import annotations

import asyncio

import typer

from bot.cli._common import console, settings

__all__ = ["register"]

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("check")
def check() -> None:
    """Show what is configured, then check the directory, database and key, channels, index and model.

    Every problem is printed with its fix; secrets never are. Exits 1 when there is a problem (warnings, such
    as a policy past its review date, do not fail it)."""
    from bot.core.teaching import stored_examples
    from bot.server.checks import run_checks, summary

    cfg = settings()
    for item, value in summary(cfg, asyncio.run(stored_examples(cfg))):
        console.print(f"{item:>17}: {value}", markup=False)
    console.print()
    results = asyncio.run(run_checks(cfg))
    for result in results:
        mark = "[green]ok[/]" if result.ok else "[yellow]warning[/]" if result.advisory else "[red]problem[/]"
        console.print(f"{mark}  {result.name}", markup=True)
        for problem in result.problems:
            console.print(f"      - {problem}", markup=False)
    if not all(r.ok or r.advisory for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
