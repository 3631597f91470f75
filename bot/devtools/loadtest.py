"""`policybot bench --http`: the server under concurrent signed Slack slash commands, over loopback.

Starts `policybot serve` as a child process (or targets a running one with ``url``), runs an in-process fake
Slack receiver on 127.0.0.1 (the commands' ``response_url`` and the Web API), and drives ``/policy <question>``
at each concurrency level: acknowledgement latency p50/p99 (request sent -> HTTP 200), answered questions per
second (answers reaching the receiver), and in the same run the bare model's batched-embedding throughput
(texts/s) and the server's peak RSS. Floors (issues 4 and 6): p99 ack < 300 ms at 16 and 32 concurrent
requests, answered/s at 32 >= 50% of the bare batched-embedding throughput, RSS < 1 GB.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.config import Settings
from bot.devtools.bench import benchmark_questions

__all__ = ["HttpBench", "LevelFigures", "run_http_bench"]

Say = Callable[[str], None]
AUTH_TEST = {"ok": True, "team_id": "T0BENCH", "user_id": "UBENCHBOT", "bot_id": "BBENCH", "team": "bench"}


@dataclass(frozen=True, slots=True)
class LevelFigures:
    concurrency: int
    requests: int
    ack_ms_p50: float
    ack_ms_p99: float
    answered: int
    answered_per_s: float


@dataclass
class HttpBench:
    levels: list[LevelFigures] = field(default_factory=list)
    embed_texts_per_s: float = 0.0
    server_rss_mb: float | None = None
    floors: dict[str, bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "levels": [_slots(level) for level in self.levels],
            "embed_texts_per_s": round(self.embed_texts_per_s, 1),
            "server_rss_mb": None if self.server_rss_mb is None else round(self.server_rss_mb, 1),
            "floors": self.floors,
        }


def _slots(level: LevelFigures) -> dict[str, Any]:
    return {
        k: round(getattr(level, k), 2) if isinstance(getattr(level, k), float) else getattr(level, k)
        for k in level.__slots__
    }


class _Receiver:
    """Fake Slack: counts answers posted to response_url; answers Web API calls with ``ok``."""

    def __init__(self) -> None:
        self.answers: dict[str, float] = {}
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.changed = asyncio.Event()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/response/{id}", self._response)
        app.router.add_route("*", "/api/{method}", self._api)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _response(self, request: web.Request) -> web.Response:
        await request.read()
        self.answers[request.match_info["id"]] = time.perf_counter()
        self.changed.set()
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        await request.read()
        if request.match_info["method"] == "auth.test":
            return web.json_response(AUTH_TEST)
        return web.json_response({"ok": True})

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def _sign(secret: str, body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def _command(question: str, response_url: str, n: int) -> bytes:
    return urlencode(
        {
            "token": "bench",
            "team_id": "T0BENCH",
            "team_domain": "bench",
            "channel_id": "C0BENCH",
            "channel_name": "bench",
            "user_id": f"U0BENCH{n % 50:03d}",
            "user_name": "bench",
            "command": "/policy",
            "text": question,
            "api_app_id": "A0BENCH",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"1.2.{n}",
        }
    ).encode()


def _percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


async def _level(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    receiver: _Receiver,
    questions: Sequence[str],
    concurrency: int,
    requests: int,
    offset: int,
) -> LevelFigures:
    acks: list[float] = []
    ids = [f"q{offset + i}" for i in range(requests)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    base = f"http://127.0.0.1:{receiver.port}/response/"

    async def worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = _command(questions[(offset + i) % len(questions)], base + ids[i], offset + i)
            t0 = time.perf_counter()
            async with session.post(url, data=body, headers=_sign(secret, body)) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"the server answered {response.status}")
            acks.append(1e3 * (time.perf_counter() - t0))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    deadline = time.monotonic() + 120
    while not all(i in receiver.answers for i in ids) and time.monotonic() < deadline:
        receiver.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver.changed.wait(), 1.0)
    done = [receiver.answers[i] for i in ids if i in receiver.answers]
    elapsed = (max(done) - started) if done else float("inf")
    return LevelFigures(
        concurrency=concurrency,
        requests=requests,
        ack_ms_p50=_percentile(acks, 50),
        ack_ms_p99=_percentile(acks, 99),
        answered=len(done),
        answered_per_s=len(done) / elapsed if done else 0.0,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float | None:
    """Peak resident set size of a process (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _spawn(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`policybot serve` from this interpreter (its output is not needed: health is polled)."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def embed_throughput(
    settings: Settings, questions: Sequence[str], *, batch: int = 32, rounds: int = 8
) -> float:
    """The bare model's batched-embedding throughput: texts/s encoding batches of ``batch`` questions."""
    from index.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(settings.model, batch_size=batch)
    texts = [questions[i % len(questions)] for i in range(batch)]
    embedder.encode(texts)  # warm-up
    started = time.perf_counter()
    for _ in range(rounds):
        embedder.encode(texts)
    return batch * rounds / (time.perf_counter() - started)


async def _wait_healthy(base: str, process: subprocess.Popen[bytes] | None, within: float = 600) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"policybot serve exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(base + "/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.5)
    raise RuntimeError("the server did not become healthy in time")


async def _run(
    settings: Settings, url: str | None, levels: Sequence[int], per_level: int, say: Say
) -> HttpBench:
    questions = benchmark_questions()
    receiver = _Receiver()
    await receiver.start()
    process: subprocess.Popen[bytes] | None = None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    try:
        if url is None:
            secret = secrets.token_hex(16)
            port = _free_port()
            env = {
                **os.environ,
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": secret,
                "SLACK_API_URL": f"http://127.0.0.1:{receiver.port}/api/",
                "POLICYBOT_VAR_DIR": str(settings.var_dir.resolve()),
                "POLICYBOT_WORKER": "false",
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
            }
            say(f"starting policybot serve on 127.0.0.1:{port} (loading the model and index)")
            process = _spawn(port, env)
            base = f"http://127.0.0.1:{port}"
        else:
            if not secret:
                raise RuntimeError("--url needs SLACK_SIGNING_SECRET (the target server's) to sign requests")
            base = url.rstrip("/").removesuffix("/slack/events")
        await _wait_healthy(base, process)
        result = HttpBench()
        connector = aiohttp.TCPConnector(limit=max(levels) + 4)
        async with aiohttp.ClientSession(connector=connector) as session:
            say("warming up")
            await _level(session, base + "/slack/events", secret, receiver, questions, 4, 16, 100_000)
            offset = 0
            for concurrency in levels:
                requests = max(per_level, concurrency * 4)
                say(f"concurrency {concurrency}: {requests} signed /policy commands")
                result.levels.append(
                    await _level(
                        session,
                        base + "/slack/events",
                        secret,
                        receiver,
                        questions,
                        concurrency,
                        requests,
                        offset,
                    )
                )
                offset += requests
        if process is not None:
            result.server_rss_mb = _rss_mb(process.pid)
        say("bare model: batched-embedding throughput (the server is idle meanwhile)")
        result.embed_texts_per_s = await asyncio.to_thread(embed_throughput, settings, questions)
        by = {level.concurrency: level for level in result.levels}
        for c in (16, 32):
            if c in by:
                result.floors[f"p99_ack_lt_300ms_at_{c}"] = by[c].ack_ms_p99 < 300
        if 32 in by:
            result.floors["answered_at_32_ge_half_embed"] = (
                by[32].answered_per_s >= 0.5 * result.embed_texts_per_s
            )
        if result.server_rss_mb is not None:
            result.floors["rss_lt_1gb"] = result.server_rss_mb < 1024
        return result
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        await receiver.close()


def run_http_bench(
    settings: Settings,
    *,
    url: str | None = None,
    levels: Sequence[int] = (1, 8, 16, 32),
    per_level: int = 64,
    say: Say | None = None,
) -> HttpBench:
    """Run the HTTP benchmark (see the module docstring)."""
    return asyncio.run(_run(settings, url, levels, per_level, say or (lambda _: None)))
