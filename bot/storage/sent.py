"""Which policybot reply a sent chat message carries (Teams' own feedback buttons name only the message).

Shared by every replica through the database, so a thumbs up or down reaching another replica, or arriving after
a restart, is still recorded against the reply and the sections it cited. Rows are written shortly after the
answer goes out, several per transaction (``WriteBehind``); until then this process finds them in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from bot.clock import Clock, SystemClock
from bot.storage.batched import WriteBehind
from bot.storage.database import Database
from bot.storage.schema import sent_replies

__all__ = ["SentReplies", "SentReply"]


@dataclass(frozen=True, slots=True)
class SentReply:
    """The reply a sent chat message carries, with what feedback on it is about."""

    reply_id: str
    doc_id: str | None
    doc_version: str | None
    sections: tuple[str, ...]


class SentReplies:
    """Chat message id -> the reply it carries (see ``schema.sent_replies``)."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self._rows = WriteBehind(db, sent_replies, ["channel", "message_id"])

    def record(self, channel: str, message_id: str, sent: SentReply) -> None:
        """Remember it (written within a moment; call from the event loop)."""
        self._rows.add(
            {
                "channel": channel,
                "message_id": message_id,
                "reply_id": sent.reply_id,
                "doc_id": sent.doc_id,
                "doc_version": sent.doc_version,
                "sections": list(sent.sections),
                "created_at": self._clock.now(),
            }
        )

    async def get(self, channel: str, message_id: str) -> SentReply | None:
        """The reply message ``message_id`` carries, if it carried one."""
        return self._one(lambda r: r["channel"] == channel and r["message_id"] == message_id) or (
            await self._stored(sent_replies.c.channel == channel, sent_replies.c.message_id == message_id)
        )

    async def by_reply(self, channel: str, reply_id: str) -> SentReply | None:
        """The record of reply ``reply_id`` sent on ``channel``, if it was."""
        return self._one(lambda r: r["channel"] == channel and r["reply_id"] == reply_id) or (
            await self._stored(sent_replies.c.channel == channel, sent_replies.c.reply_id == reply_id)
        )

    async def flush(self) -> None:
        await self._rows.flush()

    async def close(self) -> None:
        await self._rows.close()

    async def purge(self, older_than: timedelta) -> int:
        """Forget messages older than ``older_than`` (feedback comes within days, if at all)."""
        cutoff = self._clock.now() - older_than
        async with self._db.transaction() as conn:
            result = await conn.execute(delete(sent_replies).where(sent_replies.c.created_at < cutoff))
        return int(result.rowcount)

    def _one(self, match: Any) -> SentReply | None:
        for row in reversed(self._rows.pending):  # recorded here, not written yet
            if match(row):
                return _sent(row)
        return None

    async def _stored(self, *where: Any) -> SentReply | None:
        async with self._db.transaction(read_only=True) as conn:
            row = (await conn.execute(select(sent_replies).where(*where).limit(1))).first()
        return None if row is None else _sent(row._mapping)


def _sent(row: Any) -> SentReply:
    return SentReply(
        row["reply_id"], row["doc_id"], row["doc_version"], tuple(str(s) for s in row["sections"])
    )
