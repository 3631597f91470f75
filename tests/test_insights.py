"""What staff could not find: recorded by the core's observer hook, pseudonymised, forgotten on time, reported."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.channels.services import Services
from bot.cli import app
from bot.config import Settings
from bot.core.insights import FLUSH_AFTER_S, PENDING, build_report
from bot.domain import Channel, Intent, Message, Reply, ReplyKind, User
from bot.errors import StorageUnavailable
from bot.storage.schema import insight_questions
from tests.conftest import TEST_SECRET

HOLIDAY = [
    "How many days of annual leave do I get each year?",
    "Can I carry over unused holiday days into next year?",
    "how much holiday am i entitled to",
]
PENSION = "What is the employer pension contribution rate?"
ANSWERED = "Can I accept a friend request from a parent?"
REPORT = "A colleague keeps posting abusive comments about me on Facebook and I want to report it"


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def _msg(text: str, user: str = "staff-one") -> Message:
    return Message(text=text, user=User(id=user, channel=Channel.SLACK), channel=Channel.SLACK)


async def _ask(services: Services, text: str, user: str = "staff-one") -> Reply:
    return await services.assistant.handle(_msg(text, user))


async def test_unanswered_and_not_helpful_are_kept_reports_never(settings: Settings, assistant) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    services = await Services.open(settings, assistant=assistant, clock=clock, start_worker=False)
    try:
        replies = [await _ask(services, q, user=f"staff-{i}") for i, q in enumerate(HOLIDAY)]
        assert all(r.kind is ReplyKind.NO_ANSWER for r in replies)
        assert (await _ask(services, PENSION)).kind is ReplyKind.NO_ANSWER
        answered = await _ask(services, ANSWERED)
        assert answered.kind is ReplyKind.ANSWER
        report = await _ask(services, REPORT)
        assert report.intent in (Intent.REPORT, Intent.URGENT)
        await services.feedback.record(
            reply_id=answered.id,
            user_key="staff-one",
            helpful=False,
            channel="slack",
            doc_id=answered.citations[0].doc_id,
            doc_version=answered.citations[0].version,
            sections=[c.section for c in answered.citations],
        )

        await services.insights.flush()  # rows are written shortly after the reply, several at a time
        async with services.reports.db.transaction() as conn:
            rows = (await conn.execute(select(insight_questions))).all()
        assert len(rows) == 5, "the report-like message must not be kept"
        stored = " ".join(json.dumps([str(v) for v in row]) for row in rows)
        assert "staff-" not in stored, "a user id was stored"
        assert "holiday" not in stored and "abusive" not in stored, "question text stored in the clear"
        keys = services.reports.db.keys
        texts = {keys.decrypt(r.question_enc) for r in rows}
        assert REPORT not in texts and ANSWERED in texts
        cited = next(r for r in rows if r.reply_id == answered.id)
        assert cited.doc_id == "social-media-policy" and cited.doc_version == "2.0"
        assert {c["version"] for c in cited.citations} == {"2.0"}

        result = await build_report(services.insights, assistant.embedder)
        assert (result.questions, result.unanswered, result.not_helpful) == (5, 4, 1)
        holiday_theme = next(t for t in result.themes if t.label in HOLIDAY)
        assert holiday_theme.count == 3 and holiday_theme.people == 3 and holiday_theme.no_answer == 3
        assert all(PENSION not in (t.label, *t.examples) for t in result.themes if t is holiday_theme)
        assert any(t.label == ANSWERED and t.not_helpful == 1 for t in result.themes)
        assert result.volume == [{"day": "2026-11-02", "questions": 5, "answer": 1, "no_answer": 4}]
        sections = {(s["doc_id"], s["section"]): s for s in result.sections}
        first = sections[("social-media-policy", answered.citations[0].section)]
        assert first["not_helpful"] == 1 and first["helpful_rate"] == 0.0 and first["versions"] == ["2.0"]
    finally:
        await services.close()


async def test_retention_and_pending_text(settings: Settings, assistant) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    short = settings.model_copy(update={"insights_retention_days": 30})
    services = await Services.open(short, assistant=assistant, clock=clock, start_worker=False)
    try:
        unanswered = await _ask(services, PENSION)
        kept = await _ask(services, ANSWERED, user="staff-two")
        forgotten = await _ask(
            services, "Can I use Facebook on my phone during working hours?", user="staff-three"
        )
        assert kept.kind is ReplyKind.ANSWER and forgotten.kind is ReplyKind.ANSWER
        await services.feedback.record(reply_id=kept.id, user_key="staff-two", helpful=False, channel="slack")
        clock.at += PENDING + timedelta(hours=1)
        await services.insights.purge()
        by_id = {r["reply_id"]: r for r in await services.insights.rows()}
        assert by_id[unanswered.id]["question"] == PENSION
        assert by_id[kept.id]["question"] == ANSWERED, "marked not helpful: kept"
        assert by_id[forgotten.id]["question"] is None, "answered, nobody objected: text forgotten"
        clock.at += timedelta(days=30)
        assert await services.insights.purge() == 3
        assert await services.insights.rows() == []
    finally:
        await services.close()


async def test_a_failing_observer_never_costs_an_answer(settings: Settings, assistant) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    async def broken(message: Message, reply: Reply) -> None:
        raise RuntimeError("database down")

    async def counting(message: Message, reply: Reply) -> None:
        seen.append(reply.id)

    services = await Services.open(settings, assistant=assistant, start_worker=False)
    try:
        view = services.assistant.with_context(
            memory=services.memory, safeguarding=services.assistant.safeguarding, observers=(broken, counting)
        )
        reply = await view.handle(_msg(ANSWERED))
        assert reply.kind is ReplyKind.ANSWER and seen == [reply.id]
        assert assistant.observers == (), "the shared assistant is never changed by a view"
    finally:
        await services.close()


async def _stored(services: Services) -> int:
    async with services.reports.db.transaction(read_only=True) as conn:
        return len((await conn.execute(select(insight_questions.c.id))).all())


async def test_questions_are_written_shortly_after_and_none_is_lost_at_shutdown(
    settings: Settings, assistant
) -> None:  # type: ignore[no-untyped-def]
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    try:
        await asyncio.gather(*(_ask(services, q, user=f"staff-{i}") for i, q in enumerate(HOLIDAY)))
        for _ in range(50):  # written together, within FLUSH_AFTER_S of the first, without anyone asking
            if await _stored(services) == 3:
                break
            await asyncio.sleep(FLUSH_AFTER_S / 5)
        assert await _stored(services) == 3
        await _ask(services, PENSION)
    finally:
        await services.close()  # the question asked just before shutdown is written, not dropped
    again = await Services.open(settings, assistant=assistant, start_worker=False)
    try:
        assert await _stored(again) == 4
    finally:
        await again.close()


async def test_questions_wait_in_memory_while_the_database_is_down(tmp_path: Path, assistant) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.load(var_dir=tmp_path / "var", database_url=None, secret_key=TEST_SECRET)
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    try:
        settings.var_dir.rename(tmp_path / "away")  # the SQLite file is gone from under the server
        await _ask(services, PENSION)
        with pytest.raises(StorageUnavailable):
            await services.insights.flush()
        (tmp_path / "away").rename(settings.var_dir)
        await services.insights.flush()
        assert await _stored(services) == 1
    finally:
        await services.close()


def test_retention_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICYBOT_INSIGHTS_RETENTION_DAYS", "14")
    assert Settings.load().insights_retention_days == 14
    monkeypatch.setenv("POLICYBOT_INSIGHTS_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="POLICYBOT_INSIGHTS_RETENTION_DAYS"):
        Settings.load()


def test_cli_prints_themes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assistant) -> None:  # type: ignore[no-untyped-def]
    var = tmp_path / "var"
    settings = Settings.load(var_dir=var, secret_key=TEST_SECRET, database_url=None)

    async def fill() -> None:
        services = await Services.open(settings, assistant=assistant, start_worker=False)
        try:
            for i, q in enumerate([*HOLIDAY, PENSION]):
                await _ask(services, q, user=f"staff-{i}")
        finally:
            await services.close()

    asyncio.run(fill())
    monkeypatch.setenv("POLICYBOT_VAR_DIR", str(var))
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["insights", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stderr may carry log lines
    assert data["questions"] == 4 and data["unanswered"] == 4 and data["retention_days"] == 90
    assert data["themes"][0]["count"] == 3 and data["themes"][0]["label"] in HOLIDAY
    table = CliRunner().invoke(app, ["insights"])
    assert table.exit_code == 0 and "Top unanswered themes" in table.output
