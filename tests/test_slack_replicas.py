"""Two real `policybot serve` processes on one PostgreSQL database: the same Slack event delivered to both (as
Slack's retries may land on different replicas) is answered exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fake_slack import FakeSlack, event_callback, mention, signed_headers
from slack_harness import BOT_TOKEN, SIGNING_SECRET, TEST_SECRET

from bot.config import PROJECT_ROOT, Settings
from bot.storage import Database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _healthy(port: int, process: subprocess.Popen[bytes], within: float = 900) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"replica on {port} exited with {process.returncode}"
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.5)
    raise AssertionError(f"replica on {port} never became healthy")


@pytest.fixture
async def replicas(
    pg_url: str, core_settings: Settings, assistant: Any, tmp_path: Path
) -> AsyncIterator[tuple[FakeSlack, list[int]]]:
    """Two servers sharing PostgreSQL and the session's built index; Slack pointed at one fake."""
    # Migrate once up front, as a deployment's migration job does, so the replicas do not race to do it.
    await (
        await Database.open(Settings.load(var_dir=tmp_path, database_url=pg_url, secret_key=TEST_SECRET))
    ).dispose()
    fake = await FakeSlack().start()
    ports = [_free_port(), _free_port()]
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "POLICYBOT_VAR_DIR": str(core_settings.var_dir),
        "POLICYBOT_SECRET_KEY": TEST_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "POLICYBOT_SLACK_PROGRESS_AFTER": "30",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        await asyncio.gather(*(_healthy(port, p) for port, p in zip(ports, processes, strict=True)))
        yield fake, ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        await fake.close()


async def test_same_event_on_two_replicas_is_answered_once(replicas: tuple[FakeSlack, list[int]]) -> None:
    fake, ports = replicas
    body = event_callback(
        mention("Can I accept a friend request from a parent?", user="U0SAM0001", ts="1700001000.000100"),
        event_id="EvREPLICA1",
    )

    async def send(session: aiohttp.ClientSession, port: int, retry: int | None) -> int:
        headers = signed_headers(SIGNING_SECRET, body, content_type="application/json")
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        async with session.post(
            f"http://127.0.0.1:{ports[port]}/slack/events", data=body, headers=headers
        ) as response:
            return response.status

    async with aiohttp.ClientSession() as session:
        statuses = await asyncio.gather(send(session, 0, None), send(session, 1, 1))
        assert statuses == [200, 200]
        await fake.wait_for("chat.postMessage", timeout=120)
        await fake.settle(3.0)
        assert len(fake.of("chat.postMessage")) == 1
        # and a later retry, to either replica, changes nothing
        assert await send(session, 1, 2) == 200
        assert await send(session, 0, 3) == 200
        await fake.settle(3.0)
    posted = fake.of("chat.postMessage")
    assert len(posted) == 1 and posted[0].params["thread_ts"] == "1700001000.000100"
