"""Database: migrations (programmatic, concurrent-safe, matching the models), readiness, keys, outages."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bot.config import Settings
from bot.errors import KeyMismatch, StorageUnavailable
from bot.storage import Database
from bot.storage.crypto import KEY_FILE_NAME, load_keys
from bot.storage.database import create_engine
from bot.storage.schema import metadata


async def test_migrations_create_every_table_and_match_the_models(empty_settings: Settings) -> None:
    settings = empty_settings
    db = await Database.open(settings)
    try:
        assert await db.migrations_current()
        assert await db.ping()
        async with db.transaction() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
        assert set(metadata.tables) <= tables
        assert diff == [], f"models and migrations differ: {diff}"
        await db.upgrade()  # a second run is a no-op
        assert await db.migrations_current()
    finally:
        await db.dispose()


async def test_a_fresh_database_is_not_current_until_migrated(empty_settings: Settings) -> None:
    settings = empty_settings
    # Database.open checks the key, which needs the tables: build one by hand to see the schema missing.
    db = Database(create_engine(settings.effective_database_url), load_keys(settings))
    try:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        assert not await db.migrations_current()
        await db.upgrade()
        assert await db.migrations_current()
    finally:
        await db.dispose()


async def test_replicas_starting_together_migrate_once(empty_settings: Settings) -> None:
    settings = empty_settings
    opened = await asyncio.gather(*(Database.open(settings) for _ in range(3)))
    try:
        for db in opened:
            assert await db.migrations_current()
    finally:
        for db in opened:
            await db.dispose()


async def test_wrong_key_at_start_up_is_a_loud_key_mismatch(settings: Settings) -> None:
    await (await Database.open(settings)).dispose()
    wrong = settings.model_copy(update={"secret_key": type(settings.secret_key)("another-secret-key-999999")})
    with pytest.raises(KeyMismatch, match="does not match"):
        await Database.open(wrong)
    db = await Database.open(settings)  # the right key still opens it
    await db.dispose()


async def test_a_generated_key_is_private_and_reused(tmp_path: Path) -> None:
    settings = Settings.load(var_dir=tmp_path / "var", database_url=None, secret_key=None)
    db = await Database.open(settings)
    await db.dispose()
    key_file = settings.var_dir / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    db = await Database.open(settings)
    await db.dispose()
    assert key_file.read_text() == first


async def test_a_lost_key_file_is_a_key_mismatch_and_leaves_no_new_key_behind(tmp_path: Path) -> None:
    settings = Settings.load(var_dir=tmp_path / "var", database_url=None, secret_key=None)
    await (await Database.open(settings)).dispose()
    key_file = settings.var_dir / KEY_FILE_NAME
    original = key_file.read_text()
    key_file.unlink()
    with pytest.raises(KeyMismatch):
        await Database.open(settings)
    assert not key_file.exists()  # so restoring the original is all it takes
    key_file.write_text(original)
    os.chmod(key_file, 0o600)
    await (await Database.open(settings)).dispose()


async def test_unreachable_postgresql_is_storage_unavailable(tmp_path: Path) -> None:
    settings = Settings.load(
        var_dir=tmp_path, database_url="postgresql://postgres@127.0.0.1:1/none", secret_key="x" * 32
    )
    with pytest.raises(StorageUnavailable, match="nothing was saved"):
        await Database.open(settings)


async def test_ping_is_false_when_the_database_goes_away(tmp_path: Path) -> None:
    settings = Settings.load(var_dir=tmp_path / "var", database_url=None, secret_key="x" * 32)
    db = await Database.open(settings)
    try:
        assert await db.ping()
        settings.var_dir.rename(tmp_path / "moved")
        assert not await db.ping()
    finally:
        await db.dispose()
