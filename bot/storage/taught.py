"""``TaughtExamples``: the example staff messages policy owners taught, stored with the question encrypted.

Plain rows only (storage sits beside ``index``, not above it): ``bot.core.teaching`` stamps them against the
corpus and turns them into ``index.examples.ExampleQuestion``. An example is never deleted, only marked
``removed``, so the insights page keeps knowing which questions were taught (``source``, unique).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import Clock, SystemClock
from bot.errors import InputError, NotFound
from bot.storage.database import Database
from bot.storage.schema import taught_examples

__all__ = ["ACTIVE", "REMOVED", "TaughtExamples", "TaughtRow"]

ACTIVE = "active"
REMOVED = "removed"
ALREADY_TAUGHT = "This question has already been taught."


@dataclass(frozen=True, slots=True)
class TaughtRow:
    """One taught example, decrypted. ``sections`` empty: the document does not cover the question."""

    id: int
    doc_id: str
    doc_version: str
    sections: tuple[str, ...]
    taught_on: str
    text: str
    status: str
    taught_by: str
    taught_at: datetime
    source: str | None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class TaughtExamples:
    """The ``taught_examples`` table (see ``schema.taught_examples``)."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()

    async def teach(
        self,
        *,
        doc_id: str,
        doc_version: str,
        sections: Sequence[str],
        taught_on: str,
        text: str,
        taught_by: str,
        source: str | None = None,
    ) -> TaughtRow:
        """Store a new active example; a ``source`` question taught before is an ``InputError``."""
        now = self._clock.now()
        values = {
            "doc_id": doc_id,
            "doc_version": doc_version,
            "sections": list(dict.fromkeys(sections)),
            "taught_on": taught_on,
            "text_enc": self._db.keys.encrypt(text),
            "status": ACTIVE,
            "taught_by": taught_by,
            "taught_at": now,
            "source": source,
        }
        try:
            async with self._db.transaction() as conn:
                if source is not None and await conn.scalar(
                    select(taught_examples.c.id).where(taught_examples.c.source == source)
                ):
                    raise InputError(ALREADY_TAUGHT, field="question")
                result = await conn.execute(taught_examples.insert().values(**values))
                key = result.inserted_primary_key
                assert key is not None
                new_id = int(key[0])
        except IntegrityError:  # taught by someone else a moment ago (the unique source)
            raise InputError(ALREADY_TAUGHT, field="question") from None
        return self._row({**values, "id": new_id}, text)

    async def get(self, example_id: int) -> TaughtRow:
        async with self._db.transaction(read_only=True) as conn:
            row = (
                await conn.execute(select(taught_examples).where(taught_examples.c.id == example_id))
            ).one_or_none()
        if row is None:
            raise NotFound("No such taught example.")
        return self._row(row._asdict())

    async def active(self) -> list[TaughtRow]:
        """Every example in use, oldest first (what the index is built with)."""
        return await self._select(only_active=True)

    async def listing(self) -> list[TaughtRow]:
        """Every example ever taught, removed ones included, by document then oldest first (for the page)."""
        rows = await self._select(only_active=False)
        return sorted(rows, key=lambda r: (r.doc_id, r.id))

    async def sources(self) -> set[str]:
        """The insight questions (reply ids) already taught, removed examples included."""
        async with self._db.transaction(read_only=True) as conn:
            found = await conn.execute(
                select(taught_examples.c.source).where(taught_examples.c.source.is_not(None))
            )
            return {str(s) for s in found.scalars()}

    async def remove(self, example_id: int) -> TaughtRow:
        """Stop using an example (kept as removed, so its question stays taught)."""
        await self._set(example_id, status=REMOVED)
        return await self.get(example_id)

    async def restamp(self, example_id: int, *, taught_on: str, doc_version: str) -> TaughtRow:
        """Confirm an example after review: stamp it against the text it now stands for."""
        await self._set(example_id, taught_on=taught_on, doc_version=doc_version)
        return await self.get(example_id)

    async def _set(self, example_id: int, **values: str) -> None:
        async with self._db.transaction() as conn:
            result = await conn.execute(
                update(taught_examples).where(taught_examples.c.id == example_id).values(**values)
            )
        if result.rowcount != 1:
            raise NotFound("No such taught example.")

    async def _select(self, *, only_active: bool) -> list[TaughtRow]:
        query = select(taught_examples).order_by(taught_examples.c.id)
        if only_active:
            query = query.where(taught_examples.c.status == ACTIVE)
        async with self._db.transaction(read_only=True) as conn:
            rows = (await conn.execute(query)).all()
        return [self._row(r._asdict()) for r in rows]

    def _row(self, data: dict[str, Any], text: str | None = None) -> TaughtRow:
        return TaughtRow(
            id=int(data["id"]),
            doc_id=str(data["doc_id"]),
            doc_version=str(data["doc_version"]),
            sections=tuple(str(s) for s in data["sections"]),
            taught_on=str(data["taught_on"]),
            text=text if text is not None else self._db.keys.decrypt(data["text_enc"]),
            status=str(data["status"]),
            taught_by=str(data["taught_by"]),
            taught_at=data["taught_at"],
            source=data["source"],
        )
