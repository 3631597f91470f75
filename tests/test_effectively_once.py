"""Effectively-once delivery across a killed worker, on SQLite and PostgreSQL: a real worker process is killed
with SIGKILL while its ``chat.postMessage`` is in flight (the fake Slack has taken the message and holds its
answer back), then a new worker delivers what is left. Slack: the new worker finds the notice's delivery key
in the DM's history and does not post it again, so each person has exactly one message. Teams: a bot cannot
read a personal chat's history, so the notice arrives twice (the same delivery key both times): the honest
at-least-once behaviour, documented here. Run as a script, this file is the worker process itself."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_SECRET
from fake_slack import FakeSlack
from sqlalchemy import select

from bot.config import PROJECT_ROOT, Settings
from bot.domain import Channel
from bot.reports import EventKind, Reporter, Submission, open_reports
from bot.storage.schema import case_events, outbox
from tests.fake_connector import FakeConnector

SAM_SLACK, JO_SLACK = "U0SAM0001", "U0JO00001"
SAM_AAD = "b0a3a71a-c06a-5dba-8115-e057a4bfc5e2"
JO_AAD = "4f451d32-b777-5e2a-97a2-cf33571b0816"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # worker processes (each loads the edges)


# --- the worker process ----------------------------------------------------------------------------------


async def _worker(kind: str, url: str) -> None:
    """`policybot worker`, with the Slack or Teams notifier pointed at the fake (as `serve` registers it)."""
    from types import SimpleNamespace

    from bot.channels.slack.notifier import SlackNotifier
    from bot.channels.teams.auth import make_adapter
    from bot.channels.teams.delivery import Courier, TeamsNotifier
    from bot.storage.shared import ConversationRefs

    settings = Settings.load()
    reports = await open_reports(settings, notifiers=[])
    if kind == "slack":
        reports.notifiers.register(SlackNotifier(token="xoxb-test", base_url=url, max_wait=1.0))
    else:
        refs = SimpleNamespace(conversation_refs=ConversationRefs(reports.db))
        courier = Courier(
            adapter=make_adapter(settings),
            services=lambda: refs,  # type: ignore[arg-type,return-value]
            app_id="",
            tenant_id=TENANT,
            service_url=url,
            bot_id="28:policybot",
        )
        reports.notifiers.register(TeamsNotifier(courier))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("worker running", flush=True)
    try:
        await reports.worker.run_forever(stop)
    finally:
        await reports.close()


# --- the tests -------------------------------------------------------------------------------------------


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYBOT_", "DATABASE_URL", "SLACK_"))}
    env.update(
        POLICYBOT_VAR_DIR=str(settings.var_dir),
        POLICYBOT_SECRET_KEY=TEST_SECRET,
        POLICYBOT_DELIVERY_LEASE_SECONDS="3",
        POLICYBOT_WORKER_POLL_SECONDS="0.2",
        POLICYBOT_DELIVERY_RETRY_BASE_SECONDS="0.2",
        PYTHONPATH=str(PROJECT_ROOT),
        HF_HUB_OFFLINE="1",
    )
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    return env


async def _start(kind: str, url: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        kind,
        url,
        env=env,
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("ab"),
    )
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        line = await proc.stdout.readline()
    assert b"running" in line, log.read_text()
    return proc


async def _stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        return await proc.wait()


async def _file(settings: Settings, reporter: Reporter) -> str:
    """A report whose case goes to Jo Evans (line manager) plus the reporter's own confirmation."""
    reports = await open_reports(settings, notifiers=[])
    try:
        receipt = await reports.service.submit(
            Submission(category="online_abuse", description="Abusive replies under my post."),
            reporter,
            idempotency_key="k1",
        )
    finally:
        await reports.close()
    return receipt.reference


async def _outbox(settings: Settings) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    reports = await open_reports(settings, notifiers=[])
    try:
        async with reports.db.transaction() as conn:
            rows = (await conn.execute(select(outbox.c.recipient, outbox.c.status))).all()
            events = (
                await conn.execute(
                    select(case_events.c.data).where(case_events.c.kind == EventKind.DELIVERED.value)
                )
            ).scalars()
            return sorted((r, s) for r, s in rows), list(events)
    finally:
        await reports.close()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    yield fake
    await fake.close()


@pytest.fixture
async def teams_connector() -> AsyncIterator[FakeConnector]:
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


async def test_slack_notice_in_flight_when_the_worker_is_killed_is_posted_once(
    settings: Settings, slack: FakeSlack, tmp_path: Path
) -> None:
    reference = await _file(settings, Reporter(Channel.SLACK, SAM_SLACK, "sam.patel"))
    env = _env(settings)
    slack.hold("chat.postMessage")  # the first post is taken by Slack, its answer never reaches the worker
    first = await _start("slack", slack.api_url, env, tmp_path / "worker1.log")
    await slack.wait_for("chat.postMessage", 1, timeout=30)
    first.send_signal(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL
    slack.release()
    [lost] = slack.of("chat.postMessage")
    assert lost.params["metadata"] == {
        "event_type": "policybot_notice",
        "event_payload": {"delivery": f"{reference}/jo.evans/new_case"},
    }

    second = await _start("slack", slack.api_url, env, tmp_path / "worker2.log")
    try:
        async with asyncio.timeout(30):  # after the dead worker's lease (3 s) has run out
            while len(slack.of("chat.postMessage")) < 2 or len(await _delivered(settings)) < 2:
                await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # several more polls: nothing more may be posted
    finally:
        assert await _stop(second) == 0

    jo_dm, sam_dm = "D" + JO_SLACK[1:], "D" + SAM_SLACK[1:]
    assert len(slack.posts_to(jo_dm)) == 1, "the notice in flight at the kill was posted again"
    assert len(slack.posts_to(sam_dm)) == 1 and reference in slack.posts_to(sam_dm)[0].params["text"]
    history = slack.of("conversations.history")
    assert history and all(c.params.get("include_all_metadata") in ("1", "true", True) for c in history)
    rows, events = await _outbox(settings)
    assert rows == [("jo.evans", "delivered"), ("reporter", "delivered")]
    found = [e for e in events if e.get("found")]
    assert [(e["recipient"], e["channel"]) for e in found] == [("jo.evans", "slack")]


async def _delivered(settings: Settings) -> list[tuple[str, str]]:
    rows, _ = await _outbox(settings)
    return [r for r in rows if r[1] == "delivered"]


async def test_teams_notice_in_flight_when_the_worker_is_killed_arrives_twice_at_least_once(
    settings: Settings, teams_connector: FakeConnector, tmp_path: Path
) -> None:
    """Teams is at-least-once: no history to read back, so the lost send is repeated, with the same key."""
    reference = await _file(settings, Reporter(Channel.TEAMS, SAM_AAD, "sam.patel"))
    env = _env(settings)
    teams_connector.hold()
    first = await _start("teams", teams_connector.url, env, tmp_path / "worker1.log")
    await teams_connector.wait_for(1, timeout=30)
    first.send_signal(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL
    teams_connector.release()

    second = await _start("teams", teams_connector.url, env, tmp_path / "worker2.log")
    try:
        async with asyncio.timeout(30):
            while len(await _delivered(settings)) < 2:
                await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)
    finally:
        assert await _stop(second) == 0

    keys = [m.body.get("channelData", {}).get("policybotDelivery") for m in teams_connector.messages()]
    jo_key, sam_key = f"{reference}/jo.evans/new_case", f"{reference}/reporter/received"
    assert keys.count(jo_key) == 2, keys  # the send in flight at the kill is repeated: same key, twice
    assert keys.count(sam_key) == 1
    rows, events = await _outbox(settings)
    assert rows == [("jo.evans", "delivered"), ("reporter", "delivered")]
    assert not any(e.get("found") for e in events)


if __name__ == "__main__":
    asyncio.run(_worker(sys.argv[1], sys.argv[2]))
