"""Rows written shortly after they are recorded, many per transaction: for records nobody waits for.

An answer should not wait for bookkeeping (which questions went unanswered, which reply a chat message carries),
and on SQLite every write transaction queues behind the others: one transaction per batch instead of one per
answer keeps that queue short under load. Rows are inserted with ON CONFLICT DO NOTHING on the table's natural
key, so writing one twice is harmless. While the database is unreachable rows wait in memory (the newest
``max_pending``); at shutdown ``close`` writes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Table

from bot.errors import StorageUnavailable
from bot.storage.database import Database
from bot.storage.shared import dialect_insert

__all__ = ["WriteBehind"]

log = logging.getLogger(__name__)


class WriteBehind:
    """Pending rows for one table, flushed ``delay_s`` after the first of a batch is recorded."""

    def __init__(
        self,
        db: Database,
        table: Table,
        key: Sequence[str],
        *,
        delay_s: float = 0.5,
        rows_per_insert: int = 200,
        max_pending: int = 2000,
        after_flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._db = db
        self._table = table
        self._key = list(key)
        self._delay_s = delay_s
        self._rows_per_insert = rows_per_insert
        self._max_pending = max_pending
        self._after_flush = after_flush
        self.pending: list[dict[str, Any]] = []
        self._flusher: asyncio.Task[None] | None = None

    def add(self, row: dict[str, Any]) -> None:
        """Record a row; it is written within ``delay_s`` (call from the event loop)."""
        self.pending.append(row)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def flush(self) -> None:
        """Write every pending row now. While the database is unreachable they stay pending and
        ``StorageUnavailable`` is raised."""
        while self.pending:
            rows = self.pending[: self._rows_per_insert]
            self.pending = self.pending[self._rows_per_insert :]
            try:
                async with self._db.transaction() as conn:
                    stmt = dialect_insert(conn, self._table).values(rows)
                    await conn.execute(stmt.on_conflict_do_nothing(index_elements=self._key))
            except (StorageUnavailable, asyncio.CancelledError):
                self.pending = (rows + self.pending)[-self._max_pending :]
                raise
            except Exception as exc:  # not an outage: these rows would fail again; never log their values
                log.error("%s: %d row(s) not written (%s)", self._table.name, len(rows), type(exc).__name__)

    async def close(self) -> None:
        """Write what is pending (at shutdown)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self._try_flush("at shutdown; not written")

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self._delay_s)
        await self._try_flush("kept for the next write")
        if self._after_flush is not None:
            with contextlib.suppress(StorageUnavailable):
                await self._after_flush()

    async def _try_flush(self, outcome: str) -> None:
        try:
            await self.flush()
        except StorageUnavailable:
            log.warning(
                "%s: database unavailable; %d row(s) %s", self._table.name, len(self.pending), outcome
            )
