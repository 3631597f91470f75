"""``Database``: engine, transactions (outages become ``StorageUnavailable``), migrations, key check.

SQLite (aiosqlite, under var/) by default, PostgreSQL (asyncpg) when DATABASE_URL is set. Migrations ship in
``bot/storage/migrations`` and run programmatically at start-up; on PostgreSQL an advisory lock serialises
replicas that start together. An encrypted sentinel row proves the configured key is the one the data was
written with, so a lost key stops start-up loudly instead of producing garbage later.

A SQLite file that vanished is never silently replaced by an empty one: when a database is first created a
marker file is written beside it (``var/database.marker``), and while the marker says a database existed,
opening refuses (naming the missing path) until it is restored or ``policybot db start-over`` is run. The file
and its -wal/-shm companions are created 0600 (SQLite gives its companions the main file's mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.config import Settings
from bot.errors import ConfigError, KeyMismatch, StorageUnavailable
from bot.storage.crypto import Keys, load_keys
from bot.storage.schema import meta

__all__ = ["MARKER_FILE_NAME", "MIGRATIONS_DIR", "Database", "forget_database", "is_outage"]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: pg_advisory_xact_lock key serialising migrations across replicas ("pbot" in ASCII).
_MIGRATION_LOCK = 0x70626F74
_SENTINEL_KEY = "key_check"
_SENTINEL_TEXT = "policybot key check v1"
#: Execution option marking a read-only transaction (SQLite: a deferred BEGIN, no turn).
READ_ONLY = "policybot_read_only"
#: How long a transaction waits for its turn on SQLite (the busy timeout set on each connection, in seconds).
SQLITE_WAIT_S = 30.0
#: Written beside the SQLite file when it is first created; its presence with the file missing stops start-up.
MARKER_FILE_NAME = "database.marker"
_OUTAGE = "The database cannot be reached, so nothing was saved. Please try again in a few minutes."


def is_outage(exc: BaseException) -> bool:
    """True for errors meaning "the database is not there" (as opposed to a bug or a constraint)."""
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Database:
    """One engine and the encryption keys; every query runs inside ``transaction()``."""

    def __init__(self, engine: AsyncEngine, keys: Keys) -> None:
        self.engine = engine
        self.keys = keys
        self._turns: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @classmethod
    async def open(cls, settings: Settings, *, keys: Keys | None = None, migrate: bool = True) -> Database:
        """Connect, bring the schema up to date (unless ``migrate`` is False) and verify the key."""
        url = settings.effective_database_url
        local = not settings.database_url
        if url.startswith("sqlite"):
            settings.var_dir.mkdir(parents=True, exist_ok=True)
        if local:
            _refuse_lost_database(settings.sqlite_path)
            _create_private(settings.sqlite_path)
        engine = create_engine(url)
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            await asyncio.to_thread(_ensure_wal, str(engine.url.database))
        db = cls(engine, keys or load_keys(settings))
        try:
            if migrate:
                await db.upgrade()
            await db.check_key()
            if local:
                _make_private(settings.sqlite_path)  # encrypted, but its metadata is nobody else's business
                _write_marker(settings.sqlite_path)
        except BaseException:
            await db.dispose()
            raise
        return db

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self, *, read_only: bool = False) -> AsyncIterator[AsyncConnection]:
        """A committed-or-rolled-back transaction; outages surface as StorageUnavailable (nothing saved).

        On SQLite, writing transactions of this process take turns (an asyncio lock) before asking SQLite for
        its write lock: SQLite makes a waiting connection sleep in growing steps (up to 100 ms at a time), so a
        dozen concurrent requests each writing a row waited up to a second; in turn they take a millisecond
        each. Other processes sharing the file still queue on SQLite's busy timeout. ``read_only`` transactions
        (a plain BEGIN: WAL lets them read beside a writer) neither take a turn nor the write lock."""
        try:
            async with self.engine.connect() as conn:
                if read_only:
                    await conn.execution_options(**{READ_ONLY: True})
                async with self._turn(read_only), conn.begin():
                    yield conn
        except Exception as exc:
            if is_outage(exc):
                log.warning("database unavailable: %s", type(exc).__name__)
                raise StorageUnavailable(_OUTAGE) from exc
            raise

    @asynccontextmanager
    async def _turn(self, read_only: bool) -> AsyncIterator[None]:
        if read_only or self.dialect != "sqlite":
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._turns.get(loop)
        if lock is None:
            self._turns = {lp: lk for lp, lk in self._turns.items() if not lp.is_closed()}
            lock = self._turns[loop] = asyncio.Lock()
        async with asyncio.timeout(SQLITE_WAIT_S):  # what SQLite's own busy timeout would have allowed
            await lock.acquire()
        try:
            yield
        finally:
            lock.release()

    async def ping(self) -> bool:
        """Readiness: can we run a query right now?"""
        try:
            async with asyncio.timeout(5):
                async with self.transaction() as conn:
                    await conn.execute(text("SELECT 1"))
        except (StorageUnavailable, TimeoutError):
            return False
        return True

    # --- migrations ----------------------------------------------------------------------------------------
    async def upgrade(self) -> None:
        """Run pending migrations (idempotent; safe when several replicas start at once)."""
        async with self.transaction() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            await conn.run_sync(_upgrade_sync)

    async def migrations_current(self) -> bool:
        """Readiness: is the schema at the newest migration this code ships?"""
        heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
        async with self.transaction() as conn:
            current = await conn.run_sync(lambda c: set(MigrationContext.configure(c).get_current_heads()))
        return current == heads

    # --- key check ---------------------------------------------------------------------------------------
    async def check_key(self) -> None:
        """Decrypt the sentinel (writing it on a new database); a different key raises KeyMismatch."""
        for _ in range(2):
            async with self.transaction() as conn:
                stored = (
                    await conn.execute(select(meta.c.value).where(meta.c.key == _SENTINEL_KEY))
                ).scalar_one_or_none()
            if stored is not None:
                try:
                    ok = self.keys.decrypt(stored) == _SENTINEL_TEXT
                except KeyMismatch:
                    ok = False
                if not ok:
                    if self.keys.generated is not None:
                        # We just made a key for a database that already has data: the real key is lost or
                        # elsewhere. Remove ours so restoring the original file is all it takes.
                        self.keys.generated.unlink(missing_ok=True)
                    raise KeyMismatch(
                        "The encryption key does not match the one this database was created with "
                        f"(key from {self.keys.source}). Refusing to start: stored reports would be "
                        "unreadable. Restore the original POLICYBOT_SECRET_KEY (or var/secret.key)."
                    )
                return
            try:
                async with self.transaction() as conn:
                    await conn.execute(
                        insert(meta).values(key=_SENTINEL_KEY, value=self.keys.encrypt(_SENTINEL_TEXT))
                    )
                return
            except IntegrityError:
                continue  # another replica wrote it first: read and check theirs


def create_engine(url: str) -> AsyncEngine:
    """An engine tuned per backend (SQLite: busy timeout, BEGIN IMMEDIATE, WAL set by ``Database.open``, a small
    pool of connections checked against the file on every use; PostgreSQL: pre-ping)."""
    if url.startswith("sqlite"):
        # Pooled: opening a connection per transaction (a thread, a file open and two PRAGMAs each time) cost
        # more than answering a question under load. An open connection would go on writing to a file that was
        # moved or deleted, which nobody would ever read, so each checkout first checks the path still names the
        # file the connection opened; if not, the pool opens the path afresh, and that fails loudly
        # ("not saved") when the file is gone.
        engine = create_async_engine(
            url,
            pool_size=4,
            max_overflow=4,
            pool_timeout=30,
            pool_reset_on_return=None,  # every use ends in COMMIT or ROLLBACK (``transaction``): nothing to reset
            connect_args={"timeout": 30},
        )
        path = make_url(url).database or ""

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, record: Any) -> None:
            # Take transactions into our own hands so writers queue (busy timeout) instead of deadlocking.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            record.info["file"] = _file_identity(path)

        @event.listens_for(engine.sync_engine, "checkout")
        def _on_checkout(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
            if record.info.get("file") != _file_identity(path):
                raise DisconnectionError("the SQLite file was moved or replaced")

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(
                "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
            )

        return engine
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args={"timeout": 10}
    )


def _file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a database file, None when it is not there (or in memory)."""
    if not path or path == ":memory:":
        return (0, 0)
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _ensure_wal(path: str) -> None:
    """Put a SQLite file in WAL mode (it persists in the file). Switching needs the database to itself and
    SQLite's busy handler does not wait for that, so replicas starting together retry briefly instead of
    failing with "database is locked". Blocking: runs in a worker thread."""
    for attempt in range(100):
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if attempt == 99 or "locked" not in str(exc):
                raise
            time.sleep(0.05)


def _marker(path: Path) -> Path:
    return path.parent / MARKER_FILE_NAME


def _refuse_lost_database(path: Path) -> None:
    """The marker says a database was here but the file is gone: stop rather than start an empty one."""
    marker = _marker(path)
    if marker.exists() and not path.exists():
        raise ConfigError(
            f"The database file {path} is missing, but {marker} shows a database was created there. "
            "Refusing to start with an empty one: every stored report would be lost. Restore the file from "
            "a backup, or, to really start over, run `policybot db start-over`."
        )


def _create_private(path: Path) -> None:
    """Create a new SQLite file 0600 before SQLite does (its -wal and -shm then get the same mode)."""
    if path.exists():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _make_private(path: Path) -> None:
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def _write_marker(path: Path) -> None:
    marker = _marker(path)
    if path.exists() and not marker.exists():
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{path.name}\n")


def forget_database(path: Path) -> bool:
    """Start over on purpose: remove the marker of a missing database. False when there was none to remove."""
    marker = _marker(path)
    if path.exists():
        raise ConfigError(f"{path} exists: move it aside first if you really mean to start over.")
    if not marker.exists():
        return False
    marker.unlink()
    return True


def _alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade_sync(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")
