"""Helpers shared by the CLI submodules: consoles, settings, failing with a clear message."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from bot.config import Settings

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def settings() -> Settings:
    """Settings for one CLI invocation (environment + policybot.toml)."""
    return Settings.load()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit non-zero, without a traceback."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)
