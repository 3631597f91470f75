"""Real worker processes: one killed with SIGKILL mid-delivery (after the commit, before the notice got
through) delivers exactly once after a restart; two workers side by side never deliver a notice twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import TEST_SECRET
from fakes_reports import WebhookReceiver
from sqlalchemy import select

from bot.config import Settings
from bot.domain import Channel
from bot.reports import Reporter, Submission, open_reports
from bot.storage.schema import outbox

POLICYBOT = str(Path(sys.executable).parent / "policybot")
HOOK_SECRET = "process-test-hook-secret"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver(secret=HOOK_SECRET, hang_seconds=15)
    await server.start()
    yield server
    await server.stop()


def env_for(settings: Settings, receiver: WebhookReceiver, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYBOT_", "DATABASE_URL"))}
    env.update(
        POLICYBOT_VAR_DIR=str(settings.var_dir),
        POLICYBOT_SECRET_KEY=TEST_SECRET,
        POLICYBOT_WEBHOOK_URL=receiver.url,
        POLICYBOT_WEBHOOK_SECRET=HOOK_SECRET,
        POLICYBOT_WEBHOOK_TIMEOUT="30",
        POLICYBOT_DELIVERY_LEASE_SECONDS="3",
        POLICYBOT_WORKER_POLL_SECONDS="0.2",
        POLICYBOT_DELIVERY_RETRY_BASE_SECONDS="0.2",
        HF_HUB_OFFLINE="1",
    )
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    env.update(extra)
    return env


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    """Start `policybot worker` and wait until it says it is running."""
    proc = await asyncio.create_subprocess_exec(
        POLICYBOT, "worker", env=env, stdout=asyncio.subprocess.PIPE, stderr=log.open("ab")
    )
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise AssertionError(f"worker exited early: {log.read_text()}")
            if b"running" in line:
                break
    asyncio.get_running_loop().create_task(_drain(proc.stdout))
    return proc


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        return await proc.wait()


async def test_worker_killed_mid_delivery_delivers_exactly_once_after_restart(
    settings: Settings, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    env = env_for(settings, receiver)
    # File through the CLI, leaving delivery to the worker: the reference is printed after the commit.
    filed = await asyncio.create_subprocess_exec(
        POLICYBOT,
        "report",
        "--as",
        "sam.patel",
        "--category",
        "online_abuse",
        "--description",
        "Abusive replies under my post.",
        "--no-deliver",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await filed.communicate()
    assert filed.returncode == 0, err.decode()
    reference = out.decode().split("Report saved: ")[1].split()[0]
    key = f"{reference}/jo.evans/new_case"
    receipt_key = f"{reference}/reporter/received"  # the reporter's confirmation, also from the outbox

    receiver.script = ["hang"]  # the first attempt reaches the receiver and gets no answer ...
    first = await start_worker(env, tmp_path / "worker1.log")
    async with asyncio.timeout(30):
        while not receiver.requests:
            await asyncio.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # ... and the worker dies with the notice claimed but not delivered
    assert await first.wait() == -signal.SIGKILL
    assert sum(receiver.delivered.values()) == 0

    second = await start_worker(env, tmp_path / "worker2.log")
    try:
        await receiver.wait_for(1, timeout=30)  # after the dead worker's lease runs out
        await asyncio.sleep(1.5)  # several more polls: nothing more may arrive
    finally:
        assert await stop(second) == 0
    assert receiver.delivered == {key: 1, receipt_key: 1}

    reports = await open_reports(settings)
    try:
        async with reports.db.transaction() as conn:
            rows = (await conn.execute(select(outbox.c.status, outbox.c.recipient))).all()
        assert sorted(rows) == [("delivered", "jo.evans"), ("delivered", "reporter")]
    finally:
        await reports.close()


async def test_two_workers_never_deliver_twice(
    settings: Settings, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    env = env_for(settings, receiver, POLICYBOT_DELIVERY_BATCH="1")
    receiver.delay = 0.1
    reports = await open_reports(settings)  # opened first: migrations done before the workers start
    workers = [await start_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        for i in range(10):  # safeguarding: two recipients and the reporter's confirmation -> 30 notices
            await reports.service.submit(
                Submission(category="safeguarding", description=f"Concern {i}."),
                Reporter(Channel.LOCAL, "sam.patel", "sam.patel"),
                idempotency_key=f"k{i}",
            )
        await receiver.wait_for(30, timeout=60)
        await asyncio.sleep(1.5)
        async with reports.db.transaction() as conn:
            claimed_by = set((await conn.execute(select(outbox.c.claimed_by))).scalars())
            statuses = set((await conn.execute(select(outbox.c.status))).scalars())
    finally:
        codes = [await stop(w) for w in workers]
        await reports.close()
    assert codes == [0, 0]
    assert len(receiver.delivered) == 30 and set(receiver.delivered.values()) == {1}
    assert statuses == {"delivered"}
    assert len(claimed_by) == 2, "both workers should have delivered some notices"
