"""`policybot db migrate|status|start-over`: bring the schema up to date (a deployment step, e.g. the Kubernetes Job)
or say whether it is. Servers also migrate at start-up; this lets a deployment do it once, before them."""

from __future__ import annotations

import asyncio
from typing import cast

import typer

from bot.cli._common import console, fail, settings
from bot.errors import PolicybotError
from bot.storage.crypto import Keys
from bot.storage.database import Database, create_engine, forget_database

__all__ = ["register"]

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


@db_app.command("migrate")
def migrate() -> None:
    """Run pending migrations (safe to repeat; replicas starting together wait for each other)."""

    async def run() -> None:
        db = await Database.open(settings(), migrate=True)
        try:
            current = await db.migrations_current()
        finally:
            await db.dispose()
        if not current:
            fail("migrations ran but the schema is still not current")

    try:
        asyncio.run(run())
    except PolicybotError as exc:
        fail(str(exc))
    console.print("database schema is current")


@db_app.command("status")
def status() -> None:
    """Exit 0 when the schema is at this version's newest migration, 1 otherwise (nothing is changed)."""
    cfg = settings()
    if not cfg.database_url and not cfg.sqlite_path.exists():
        fail(f"no database yet at {cfg.sqlite_path}: run `policybot db migrate`")

    async def run() -> bool:
        # No key check and no key file: status must not write anything, and needs no secret.
        db = Database(create_engine(cfg.effective_database_url), cast(Keys, None))
        try:
            return await db.migrations_current()
        finally:
            await db.dispose()

    try:
        current = asyncio.run(run())
    except PolicybotError as exc:
        fail(str(exc))
    if not current:
        fail("database schema is behind: run `policybot db migrate`")
    console.print("database schema is current")


@db_app.command("start-over")
def start_over() -> None:
    """After the SQLite file was lost for good: let the next start create an empty database (needs the file
    to be gone; a backup restored in its place is always better)."""
    cfg = settings()
    if cfg.database_url:
        fail("start-over is for the local SQLite file; DATABASE_URL is set")
    try:
        removed = forget_database(cfg.sqlite_path)
    except PolicybotError as exc:
        fail(str(exc))
    if removed:
        console.print(f"the next start creates an empty database at {cfg.sqlite_path}")
    else:
        console.print("nothing to do: no marker of a lost database")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
