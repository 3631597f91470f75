"""Delivery: the webhook notifier against a real receiver on 127.0.0.1 (500s, timeouts, recovery, 4xx),
signatures, backoff, running out of fast retries (never giving up), and how the registry picks a notifier per recipient."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes_reports import FakeClock, ScriptedNotifier, WebhookReceiver
from pydantic import SecretStr
from sqlalchemy import select

from bot.config import Settings
from bot.domain import Channel
from bot.reports import EventKind, Reporter, Reports, Submission, open_reports
from bot.reports.notify import Address, ConsoleNotifier, NotifierRegistry
from bot.reports.outbox import RetryPolicy
from bot.reports.webhook import WebhookNotifier, sign
from bot.storage.schema import outbox

SECRET = "webhook-shared-secret"
SAM = Reporter(Channel.SLACK, "U0SAM0001", "sam.patel")


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver(secret=SECRET)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def reports(settings: Settings, receiver: WebhookReceiver, clock: FakeClock) -> AsyncIterator[Reports]:
    configured = settings.model_copy(
        update={"webhook_url": receiver.url, "webhook_secret": SecretStr(SECRET), "webhook_timeout": 0.3}
    )
    opened = await open_reports(configured, clock=clock)
    assert opened.notifiers.names == ("webhook", "console")
    yield opened
    await opened.close()


async def safeguarding(reports: Reports) -> str:
    receipt = await reports.service.submit(
        Submission(category="safeguarding", description="Nobody may read this in a notice."),
        SAM,
        idempotency_key="k",
    )
    return receipt.reference


async def test_500s_and_timeouts_then_recovery_deliver_exactly_once(
    reports: Reports, receiver: WebhookReceiver, clock: FakeClock
) -> None:
    reference = await safeguarding(reports)  # two recipients: DSL and deputy DSL (and the reporter's receipt)
    receiver.script = ["500", "hang", "200", "503", "hang"]
    await reports.worker.run_once()  # 500 and a timeout (the reporter's confirmation goes through)
    assert dict(receiver.delivered) == {f"{reference}/reporter/received": 1}
    await reports.worker.run_once()  # nothing is due yet: backing off
    assert len(receiver.requests) == 3
    clock.advance(minutes=20)
    await reports.worker.run_once()  # 503 and a timeout again
    clock.advance(minutes=20)
    await reports.worker.run_once()  # recovered
    for _ in range(3):
        clock.advance(minutes=5)  # (within the 1-hour deadline: no escalation notices)
        await reports.worker.run_once()
    assert receiver.delivered == {
        f"{reference}/priya.shah/new_case": 1,
        f"{reference}/tom.reid/new_case": 1,
        f"{reference}/reporter/received": 1,
    }
    assert receiver.bad_signatures == 0
    async with reports.db.transaction() as conn:
        rows = (await conn.execute(select(outbox.c.status, outbox.c.attempts, outbox.c.last_error))).all()
    assert sorted(rows) == [("delivered", 0, None), ("delivered", 2, None), ("delivered", 2, None)]
    view = await reports.service.show(reference, reports.directory.person("priya.shah"))  # type: ignore[arg-type]
    delivered = [e for e in view.chronology if e.kind == EventKind.DELIVERED]
    assert len(delivered) == 3 and {e.data["channel"] for e in delivered} == {"webhook"}


async def test_notices_are_bland_and_signed_over_the_exact_body(
    reports: Reports, receiver: WebhookReceiver
) -> None:
    reference = await safeguarding(reports)
    await reports.worker.run_once()
    assert len(receiver.requests) == 3  # DSL, deputy DSL, and the reporter's confirmation
    first = receiver.requests[0]
    assert first["text"] == (
        f"A new concern ({reference}, safeguarding) has been routed to you. Open it in policybot."
    )
    assert first["link"] == f"{reports.settings.base_url}/cases/{reference}"
    assert first["recipient"]["person_id"] == "priya.shah" and first["recipient"]["slack_id"] == "U0PRIYA01"
    receipt = receiver.requests[2]
    assert receipt["recipient"]["person_id"] == "sam.patel" and receipt["event"] == "received"
    assert reference in receipt["text"] and receipt["link"] == f"{reports.settings.base_url}/reports"
    dumped = json.dumps(receiver.requests)
    assert "Nobody may read" not in dumped and "Sam" not in dumped and "Priya" not in dumped


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"a":1}'
    assert (
        sign(SECRET.encode(), body)
        == "sha256=" + __import__("hmac").new(SECRET.encode(), body, "sha256").hexdigest()
    )
    assert sign(SECRET.encode(), body) != sign(SECRET.encode(), body + b" ")


async def test_a_4xx_is_undeliverable_and_the_case_moves_on(
    reports: Reports, receiver: WebhookReceiver
) -> None:
    receipt = await reports.service.submit(
        Submission(category="online_abuse", description="x"), SAM, idempotency_key="k"
    )
    receiver.script = ["404"]
    await reports.worker.run_once()  # jo.evans: 404 -> undeliverable -> HR (next in line) notified
    await reports.worker.run_once()
    keys = set(receiver.delivered)
    ref = receipt.reference  # the case administrators are told too (priya.shah, helen.ward)
    assert keys == {f"{ref}/helen.ward/escalated", f"{ref}/reporter/received"}
    # ... by another channel than the one failing (here the notifications log, not the webhook)
    logged = (reports.settings.var_dir / "notifications.log").read_text()
    assert f"to=priya.shah key={ref}/priya.shah/undelivered" in logged
    assert f"to=helen.ward key={ref}/helen.ward/undelivered" in logged
    view = await reports.service.show(receipt.reference, reports.directory.person("helen.ward"))  # type: ignore[arg-type]
    assert [e.data.get("error") for e in view.chronology if e.kind == EventKind.UNDELIVERABLE] == ["http 404"]


async def test_running_out_of_fast_retries_moves_the_case_on_without_giving_up(
    reports: Reports, clock: FakeClock
) -> None:
    slack = ScriptedNotifier("slack", answers={"jo.evans": "retry"})
    reports.notifiers.register(slack)
    reports.worker.retry = RetryPolicy(base_seconds=1, cap_seconds=10, max_attempts=3)
    receipt = await reports.service.submit(
        Submission(category="online_abuse", description="x"), SAM, idempotency_key="k"
    )
    for _ in range(5):
        await reports.worker.run_once()
        clock.advance(seconds=30)
    assert [s for s in slack.sent if s[0] == "jo.evans"] == [
        ("jo.evans", f"{receipt.reference}/jo.evans/new_case")
    ] * 3
    view = await reports.service.show(receipt.reference, reports.directory.person("helen.ward"))  # type: ignore[arg-type]
    kinds = [e.kind for e in view.chronology]
    assert kinds.count(EventKind.DELIVERY_FAILED) == 1 and kinds.count(EventKind.ESCALATED) == 1
    async with reports.db.transaction() as conn:
        status = (
            await conn.execute(select(outbox.c.status).where(outbox.c.recipient == "jo.evans"))
        ).scalar_one()
    assert status == "pending"  # still retried (hourly): see test_undelivered.py


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_seconds=5, cap_seconds=900)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 5), (2, 10), (3, 20), (6, 160), (11, 900)]:
        delays = {policy.delay(attempt, rng) for _ in range(20)}
        assert all(timedelta(seconds=ceiling / 2) <= d <= timedelta(seconds=ceiling) for d in delays)
        assert len(delays) > 1  # jittered
    for attempt in (12, 30, 500):  # fast retries spent: hourly from then on, never given up
        delays = {policy.delay(attempt, rng) for _ in range(20)}
        assert all(timedelta(minutes=54) <= d <= timedelta(hours=1) for d in delays)


async def test_registry_prefers_channels_and_the_reporters_own_channel(tmp_path: Path) -> None:
    console = ConsoleNotifier(tmp_path / "n.log")
    webhook = WebhookNotifier("http://127.0.0.1:9/hook", "s")
    registry = NotifierRegistry([webhook, console])
    slack = ScriptedNotifier("slack")
    teams: Any = ScriptedNotifier("teams")
    teams.can_reach = lambda a: bool(a.teams_id)
    registry.register(slack)
    registry.register(teams)
    assert registry.names == ("slack", "teams", "webhook", "console")
    assert registry.choose(Address(person_id="p", slack_id="U1", teams_id="t")) is slack
    assert registry.choose(Address(person_id="p", teams_id="t")) is teams
    assert (
        registry.choose(Address(slack_id="U1", teams_id="t", channel=Channel.TEAMS, is_reporter=True))
        is teams
    )
    assert registry.choose(Address(person_id="p")) is webhook
    assert NotifierRegistry([]).choose(Address(person_id="p")) is None
    await registry.close()


async def test_the_worker_runs_in_process_until_close(settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    quick = settings.model_copy(update={"worker_poll_seconds": 0.05})
    opened = await open_reports(quick, notifiers=[ConsoleNotifier(log)])
    task = opened.start_worker()
    try:
        receipt = await opened.service.submit(
            Submission(category="other", description="x"), SAM, idempotency_key="k"
        )
        async with asyncio.timeout(10):
            while not log.exists() or receipt.reference not in log.read_text():
                await asyncio.sleep(0.02)
    finally:
        await opened.close()
    assert task.done() and not task.cancelled()
    assert f"to=jo.evans key={receipt.reference}/jo.evans/new_case" in log.read_text()


def test_a_reporter_outside_the_directory_is_addressed_on_their_own_channel() -> None:
    teams = Address.of_reporter(Reporter(Channel.TEAMS, "aad-123"), None)
    assert (teams.teams_id, teams.slack_id, teams.is_reporter, teams.label) == (
        "aad-123",
        None,
        True,
        "reporter",
    )
    slack = Address.of_reporter(Reporter(Channel.SLACK, "U999"), None)
    assert (slack.slack_id, slack.channel) == ("U999", Channel.SLACK)
