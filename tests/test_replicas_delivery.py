"""Two real `python -m bot serve` processes (different ports, separate var/ directories, one PostgreSQL
database), each running its delivery worker: reports filed through the CLI are delivered to a signed webhook
exactly once each, both workers take part, both replicas report the same cluster-wide metrics, and SIGTERM
stops each cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from conftest import TEST_SECRET
from fakes_reports import WebhookReceiver
from sqlalchemy import select

from bot.config import PROJECT_ROOT, Settings
from bot.reports import open_reports
from bot.storage.schema import outbox

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]

HOOK_SECRET = "replica-test-hook-secret"
REPORTS = [
    ("safeguarding", "A pupil sent me a worrying message late at night."),
    ("online_abuse", "Abusive replies under my post about the library."),
    ("safeguarding", "A colleague shared a child's photo in a public group."),
    ("online_abuse", "Someone made a fake account in my name."),
    ("safeguarding", "A parent asked me to message their child privately."),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver(secret=HOOK_SECRET, delay=0.05)
    await server.start()
    yield server
    await server.stop()


def base_env(database_url: str, var_dir: Path, receiver: WebhookReceiver) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYBOT_", "DATABASE_URL", "SLACK_"))}
    env.update(
        DATABASE_URL=database_url,
        POLICYBOT_VAR_DIR=str(var_dir),
        POLICYBOT_SECRET_KEY=TEST_SECRET,
        POLICYBOT_WEBHOOK_URL=receiver.url,
        POLICYBOT_WEBHOOK_SECRET=HOOK_SECRET,
        POLICYBOT_WORKER_POLL_SECONDS="0.2",
        POLICYBOT_DELIVERY_BATCH="1",
        POLICYBOT_LOG_FORMAT="json",
        PYTHONPATH=str(PROJECT_ROOT),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


async def start_server(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    env = {**env, "POLICYBOT_HOST": "127.0.0.1", "POLICYBOT_PORT": str(port)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        env=env,
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


async def wait_ready(
    session: aiohttp.ClientSession, port: int, proc: asyncio.subprocess.Process, log: Path
) -> None:
    async with asyncio.timeout(600):  # two model loads on a shared 2-core machine
        while True:
            if proc.returncode is not None:
                raise AssertionError(f"server on {port} exited: {log.read_text()[-3000:]}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)


async def file_report(env: dict[str, str], category: str, description: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "report",
        "--as",
        "sam.patel",
        "--category",
        category,
        "--description",
        description,
        "--no-deliver",
        env=env,
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode().split("Report saved: ")[1].split()[0]


async def test_two_replicas_deliver_every_notice_exactly_once(
    pg_url: str, tmp_path: Path, receiver: WebhookReceiver, core_settings: Settings, assistant: object
) -> None:
    # Each replica is its own machine with the read-only index baked in (as the image builds it).
    assert assistant is not None  # the session fixture has built the index under core_settings.var_dir
    ports = [free_port(), free_port()]
    procs: list[asyncio.subprocess.Process] = []
    logs = [tmp_path / f"replica{i}.log" for i in range(2)]
    for i, port in enumerate(ports):
        var_dir = tmp_path / f"replica{i}"
        shutil.copytree(core_settings.index_dir, var_dir / "index")
        procs.append(await start_server(base_env(pg_url, var_dir, receiver), port, logs[i]))
    cli_env = base_env(pg_url, tmp_path / "cli", receiver)
    try:
        async with aiohttp.ClientSession() as session:
            for port, proc, log in zip(ports, procs, logs, strict=True):
                await wait_ready(session, port, proc, log)
            references = [await file_report(cli_env, c, d) for c, d in REPORTS]
            expected = (  # DSL and deputy for safeguarding, else one; and each reporter's confirmation
                2 * sum(c == "safeguarding" for c, _ in REPORTS)
                + sum(c != "safeguarding" for c, _ in REPORTS)
                + len(REPORTS)
            )
            await receiver.wait_for(expected, timeout=120)
            await asyncio.sleep(2.0)  # ten more polls by each worker: nothing more may arrive
            metrics = []
            for port in ports:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as r:
                    metrics.append(await r.text())
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in procs:
            async with asyncio.timeout(60):
                codes.append(await proc.wait())

    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert receiver.bad_signatures == 0
    assert sum(receiver.delivered.values()) == expected
    assert set(receiver.delivered.values()) == {1}, receiver.delivered
    assert {key.split("/")[0] for key in receiver.delivered} == set(references)
    for text in metrics:  # both replicas read the same shared state
        assert f'policybot_cases{{state="open"}} {float(len(REPORTS))}' in text
        assert "policybot_outbox_pending 0.0" in text

    settings = Settings.load(var_dir=tmp_path / "check", database_url=pg_url, secret_key=TEST_SECRET)
    reports = await open_reports(settings)
    try:
        async with reports.db.transaction() as conn:
            rows = (await conn.execute(select(outbox.c.status, outbox.c.claimed_by))).all()
    finally:
        await reports.close()
    assert {status for status, _ in rows} == {"delivered"}
    assert len({by for _, by in rows}) == 2, "both replicas' workers should have delivered notices"

    for log in logs:  # structured logs: JSON lines, a clean shutdown, no report text
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        messages = [line["msg"] for line in lines]
        assert any(m.startswith("policybot ready") for m in messages)
        assert "policybot stopped" in messages
        text = log.read_text()
        assert not any(description in text for _, description in REPORTS)
