"""Shared tables: feedback (latest click wins, hashed users), event deduplication across replicas, Teams
conversation references, and encrypted conversation turns with a TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fakes_reports import FakeClock
from sqlalchemy import select, text

from bot.config import Settings
from bot.storage import ConversationRefs, ConversationTurns, Database, FeedbackRepository, ProcessedEvents
from bot.storage.schema import conversation_turns, feedback


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = await Database.open(settings)
    yield database
    await database.dispose()


async def test_feedback_latest_click_wins_and_users_are_hashed(db: Database) -> None:
    clock = FakeClock()
    repo = FeedbackRepository(db, clock=clock)
    await repo.record(
        reply_id="r1",
        user_key="U0SAM0001",
        helpful=True,
        channel="slack",
        doc_id="smp",
        doc_version="3.1",
        sections=["6.3", "8"],
    )
    clock.advance(minutes=1)
    await repo.record(
        reply_id="r1",
        user_key="U0SAM0001",
        helpful=False,
        channel="slack",
        doc_id="smp",
        doc_version="3.1",
        sections=["6.3"],
    )
    await repo.record(reply_id="r1", user_key="U0BEN0001", helpful=True, channel="teams")
    got = await repo.get("r1", "U0SAM0001")
    assert got is not None and got.helpful is False and got.sections == ("6.3",)
    assert got.updated_at > got.created_at
    counts = await repo.counts()
    assert (counts.helpful, counts.not_helpful) == (1, 1)
    assert (await repo.counts(doc_id="smp")).not_helpful == 1
    async with db.transaction() as conn:
        hashes = list((await conn.execute(select(feedback.c.user_hash))).scalars())
    assert len(hashes) == 2 and all("U0" not in h for h in hashes)
    assert await repo.get("r1", "nobody") is None


async def test_processed_events_claim_once_across_replicas(db: Database, settings: Settings) -> None:
    other = await Database.open(settings)  # a second replica: its own engine and connections
    try:
        repos = [ProcessedEvents(db), ProcessedEvents(other)]
        results = await asyncio.gather(*(repos[i % 2].claim("Ev0123") for i in range(10)))
        assert sum(results) == 1
        assert await repos[1].claim("Ev0456")
    finally:
        await other.dispose()


async def test_processed_events_purge_forgets_old_keys(db: Database) -> None:
    clock = FakeClock()
    events = ProcessedEvents(db, clock=clock)
    assert await events.claim("old")
    clock.advance(hours=30)
    assert await events.claim("new")
    from datetime import timedelta

    assert await events.purge(timedelta(days=1)) == 1
    assert await events.claim("old")  # forgotten, so claimable again
    assert not await events.claim("new")


async def test_conversation_refs_upsert_and_get(db: Database) -> None:
    refs = ConversationRefs(db)
    assert await refs.get("teams", "aad-1") is None
    await refs.save("teams", "aad-1", {"conversation": {"id": "a:1"}, "serviceUrl": "http://127.0.0.1/"})
    await refs.save("teams", "aad-1", {"conversation": {"id": "a:2"}, "serviceUrl": "http://127.0.0.1/"})
    assert await refs.get("teams", "aad-1") == {
        "conversation": {"id": "a:2"},
        "serviceUrl": "http://127.0.0.1/",
    }
    assert await refs.get("slack", "aad-1") is None


async def test_conversation_turns_keep_the_last_few_encrypted_with_a_ttl(db: Database) -> None:
    clock = FakeClock()
    turns = ConversationTurns(db, keep=3, clock=clock)
    for i in range(5):
        await turns.append("slack:D1", f"question number {i}")
        clock.advance(minutes=1)
    await turns.append("slack:D2", "another conversation")
    assert await turns.recent("slack:D1") == ["question number 2", "question number 3", "question number 4"]
    async with db.transaction() as conn:
        stored = list((await conn.execute(select(conversation_turns.c.text_enc))).scalars())
        raw = " ".join(str(v) for v in (await conn.execute(text("SELECT * FROM conversation_turns"))).all())
    assert len(stored) == 4
    assert "question" not in raw
    clock.advance(hours=2)
    assert await turns.recent("slack:D1") == []
    assert await turns.purge() == 4


async def test_many_concurrent_writers_and_readers_all_succeed(db: Database) -> None:
    """Writers take turns (SQLite: an in-process queue before SQLite's write lock); reads run beside them."""
    events = ProcessedEvents(db)
    turns = ConversationTurns(db)
    outcomes = await asyncio.gather(
        *(events.claim(f"burst:{i % 40}") for i in range(80)),
        *(turns.append(f"burst:{i % 5}", f"question {i}") for i in range(40)),
        *(turns.recent(f"burst:{i % 5}") for i in range(40)),
    )
    claims = outcomes[:80]
    assert sum(1 for c in claims if c) == 40, "each key claimed exactly once"
    kept = [len(await turns.recent(f"burst:{k}")) for k in range(5)]
    assert kept == [5] * 5, kept
