"""Small repositories over the shared tables the Slack, Teams and web edges use.

``FeedbackRepository`` (helpful / not helpful per reply and user, latest click wins), ``ProcessedEvents``
(deduplication of retried webhooks across replicas), ``ConversationRefs`` (Teams proactive references),
``ConversationTurns`` (recent questions per conversation, for follow-ups across replicas; stored encrypted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock, SystemClock
from bot.storage.database import Database
from bot.storage.schema import conversation_refs, conversation_turns, feedback, processed_events

__all__ = [
    "ConversationRefs",
    "ConversationTurns",
    "FeedbackCounts",
    "FeedbackRecord",
    "FeedbackRepository",
    "ProcessedEvents",
    "dialect_insert",
]


def dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    """An INSERT that knows ON CONFLICT on both backends (the dialects spell it alike)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    reply_id: str
    user_hash: str
    helpful: bool
    channel: str
    doc_id: str | None
    doc_version: str | None
    sections: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    helpful: int
    not_helpful: int


class FeedbackRepository:
    """One row per (reply, user); users are stored only as a keyed hash of their channel identity."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()

    def user_hash(self, user_key: str) -> str:
        return self._db.keys.hash("feedback", user_key)

    async def record(
        self,
        *,
        reply_id: str,
        user_key: str,
        helpful: bool,
        channel: str,
        doc_id: str | None = None,
        doc_version: str | None = None,
        sections: Sequence[str] = (),
    ) -> None:
        """Store a click; a later click by the same user on the same reply replaces the earlier one."""
        now = self._clock.now()
        async with self._db.transaction() as conn:
            stmt = dialect_insert(conn, feedback).values(
                reply_id=reply_id,
                user_hash=self.user_hash(user_key),
                helpful=helpful,
                channel=channel,
                doc_id=doc_id,
                doc_version=doc_version,
                sections=list(sections),
                created_at=now,
                updated_at=now,
            )
            update = {
                c: stmt.excluded[c] for c in ("helpful", "channel", "doc_id", "doc_version", "sections")
            }
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["reply_id", "user_hash"], set_={**update, "updated_at": now}
                )
            )

    async def get(self, reply_id: str, user_key: str) -> FeedbackRecord | None:
        async with self._db.transaction() as conn:
            row = (
                await conn.execute(
                    select(feedback).where(
                        feedback.c.reply_id == reply_id, feedback.c.user_hash == self.user_hash(user_key)
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return FeedbackRecord(
            reply_id=row.reply_id,
            user_hash=row.user_hash,
            helpful=row.helpful,
            channel=row.channel,
            doc_id=row.doc_id,
            doc_version=row.doc_version,
            sections=tuple(row.sections),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def counts(self, *, doc_id: str | None = None) -> FeedbackCounts:
        """Totals, optionally for one document (for the dashboard and metrics)."""
        query = select(feedback.c.helpful, func.count()).group_by(feedback.c.helpful)
        if doc_id is not None:
            query = query.where(feedback.c.doc_id == doc_id)
        async with self._db.transaction() as conn:
            rows: dict[bool, int] = {bool(r[0]): int(r[1]) for r in await conn.execute(query)}
        return FeedbackCounts(helpful=rows.get(True, 0), not_helpful=rows.get(False, 0))


class ProcessedEvents:
    """Deduplication keys (e.g. Slack ``event_id``): the first ``claim`` wins, on any replica."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()

    async def claim(self, key: str) -> bool:
        """True exactly once per key across every process (INSERT .. ON CONFLICT DO NOTHING)."""
        async with self._db.transaction() as conn:
            stmt = dialect_insert(conn, processed_events).values(key=key, created_at=self._clock.now())
            result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        return bool(result.rowcount == 1)

    async def purge(self, older_than: timedelta) -> int:
        """Forget keys older than ``older_than`` (retries arrive within minutes; a day is plenty)."""
        cutoff = self._clock.now() - older_than
        async with self._db.transaction() as conn:
            result = await conn.execute(
                delete(processed_events).where(processed_events.c.created_at < cutoff)
            )
        return int(result.rowcount)


class ConversationRefs:
    """A Teams conversation reference (its JSON) per (channel, user key such as the AAD object id)."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()

    async def save(self, channel: str, user_key: str, reference: dict[str, Any]) -> None:
        async with self._db.transaction() as conn:
            stmt = dialect_insert(conn, conversation_refs).values(
                channel=channel, user_key=user_key, reference=reference, updated_at=self._clock.now()
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["channel", "user_key"],
                    set_={"reference": stmt.excluded.reference, "updated_at": stmt.excluded.updated_at},
                )
            )

    async def get(self, channel: str, user_key: str) -> dict[str, Any] | None:
        async with self._db.transaction(read_only=True) as conn:
            value = (
                await conn.execute(
                    select(conversation_refs.c.reference).where(
                        conversation_refs.c.channel == channel, conversation_refs.c.user_key == user_key
                    )
                )
            ).scalar_one_or_none()
        return dict(value) if value is not None else None


class ConversationTurns:
    """The last few questions per conversation key, encrypted, forgotten after ``ttl``."""

    def __init__(
        self, db: Database, *, keep: int = 5, ttl: timedelta = timedelta(hours=1), clock: Clock | None = None
    ) -> None:
        self._db = db
        self._keep = keep
        self._ttl = ttl
        self._clock = clock or SystemClock()

    async def append(self, conversation_key: str, text: str) -> None:
        """Remember a question; only the newest ``keep`` per conversation are kept."""
        async with self._db.transaction() as conn:
            await conn.execute(
                conversation_turns.insert().values(
                    conversation_key=conversation_key,
                    text_enc=self._db.keys.encrypt(text),
                    created_at=self._clock.now(),
                )
            )
            keep_ids = (
                select(conversation_turns.c.id)
                .where(conversation_turns.c.conversation_key == conversation_key)
                .order_by(conversation_turns.c.id.desc())
                .limit(self._keep)
                .scalar_subquery()
            )
            await conn.execute(
                delete(conversation_turns).where(
                    conversation_turns.c.conversation_key == conversation_key,
                    conversation_turns.c.id.not_in(keep_ids),
                )
            )

    async def recent(self, conversation_key: str) -> list[str]:
        """The remembered questions, oldest first, ignoring any past the TTL."""
        cutoff = self._clock.now() - self._ttl
        async with self._db.transaction(read_only=True) as conn:
            tokens = (
                await conn.execute(
                    select(conversation_turns.c.text_enc)
                    .where(
                        conversation_turns.c.conversation_key == conversation_key,
                        conversation_turns.c.created_at >= cutoff,
                    )
                    .order_by(conversation_turns.c.id.desc())
                    .limit(self._keep)
                )
            ).scalars()
            texts = [self._db.keys.decrypt(t) for t in tokens]
        return list(reversed(texts))

    async def purge(self) -> int:
        """Delete turns past the TTL (run periodically by the worker)."""
        cutoff = self._clock.now() - self._ttl
        async with self._db.transaction() as conn:
            result = await conn.execute(
                delete(conversation_turns).where(conversation_turns.c.created_at < cutoff)
            )
        return int(result.rowcount)
