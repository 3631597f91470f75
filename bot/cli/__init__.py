"""The `policybot` command. Thin: each submodule parses its options, calls the core, prints the result.

Submodules register their commands on the one Typer app; domain errors become one-line messages here, never
tracebacks (``--debug`` shows them).
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from bot.cli import ask as _ask
from bot.cli import bench as _bench
from bot.cli import cases as _cases
from bot.cli import config as _config
from bot.cli import corpus as _corpus
from bot.cli import db as _db
from bot.cli import evaluate as _evaluate
from bot.cli import examples as _examples
from bot.cli import index as _index
from bot.cli import insights as _insights
from bot.cli import report as _report
from bot.cli import serve as _serve
from bot.cli import teams as _teams
from bot.cli import worker as _worker
from bot.cli._common import console, fail
from bot.errors import PolicybotError
from index.errors import IndexPackageError

__all__ = ["app", "main"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

app = typer.Typer(
    name="policybot",
    help="Answers staff questions from the organisation's policies, with verbatim citations; takes private reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (
    _ask,
    _bench,
    _evaluate,
    _index,
    _corpus,
    _cases,
    _report,
    _config,
    _serve,
    _worker,
    _db,
    _insights,
    _examples,
    _teams,
):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        app()
    except (PolicybotError, IndexPackageError) as exc:
        if debug:
            console.print_exception()
        try:
            fail(str(exc))
        except typer.Exit as done:  # outside the Typer app nobody turns Exit into an exit code
            raise SystemExit(done.exit_code) from None
