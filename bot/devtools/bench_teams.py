"""`policybot bench --teams`: reply latency of the Teams edge over HTTP on loopback.

The real app (create_app, CloudAdapter in dev mode, the real assistant) serves 127.0.0.1; personal-chat
message Activities are POSTed to /api/messages with ``serviceUrl`` pointing at a small recording connector on
127.0.0.1. A turn's latency runs from the POST to the moment its reply (the card, not the typing indicator)
reaches the connector. Concurrency C means C conversations, each sending its next question as soon as its
previous answer arrived. State goes to a temporary SQLite database, or to DATABASE_URL when that is set (give
it a scratch database: the bench writes conversation turns and references); the index is the configured one.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from pydantic import SecretStr

from bot.config import Settings

__all__ = ["FLOOR_P99_MS", "run_teams_benchmark"]

FLOOR_P99_MS = 500.0
QUESTIONS = (
    "Can I accept a friend request from a parent on Facebook?",
    "Can I use social media for personal use at work?",
    "Can I post photos of pupils online?",
    "How should I set my privacy settings?",
    "Can I discuss colleagues on WhatsApp?",
    "What should I do if I am abused on social media?",
    "Can I use my personal phone to contact a service user?",
    "Am I allowed to say where I work on LinkedIn?",
)


class _Connector:
    """Records when each conversation's reply arrives (typing indicators are not replies)."""

    def __init__(self) -> None:
        self.arrived: dict[str, asyncio.Event] = {}
        self.at: dict[str, float] = {}
        self._ids = itertools.count(1)

    async def handle(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json() if request.can_read_body else {}
        if request.method == "POST" and body.get("type") == "message":
            conversation = (body.get("conversation") or {}).get("id", "")
            self.at[conversation] = time.perf_counter()
            self.arrived.setdefault(conversation, asyncio.Event()).set()
        return web.json_response({"id": f"bench-{next(self._ids)}"})


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def _activity(service_url: str, conversation: str, n: int, text: str) -> dict[str, Any]:
    user = f"bench-user-{conversation}"
    return {
        "type": "message",
        "id": f"bench-{conversation}-{n}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": f"29:{user}", "name": "Bench", "aadObjectId": user},
        "conversation": {"conversationType": "personal", "id": conversation, "tenantId": "bench-tenant"},
        "recipient": {"id": "28:bench-bot", "name": "policybot"},
        "textFormat": "plain",
        "text": text,
        "channelData": {"tenant": {"id": "bench-tenant"}},
    }


async def _level(
    http: ClientSession,
    app_url: str,
    connector: _Connector,
    service_url: str,
    *,
    concurrency: int,
    turns: int,
) -> list[float]:
    latencies: list[float] = []
    per = max(1, turns // concurrency)

    async def conversation(index: int) -> None:
        conv = f"a:bench-{concurrency}-{index}"
        for n in range(per):
            event = connector.arrived.setdefault(conv, asyncio.Event())
            event.clear()
            question = QUESTIONS[(index + n) % len(QUESTIONS)]
            started = time.perf_counter()
            async with http.post(
                f"{app_url}/api/messages", json=_activity(service_url, conv, n, question)
            ) as response:
                if response.status != 201:
                    raise RuntimeError(f"/api/messages answered {response.status}")
            await asyncio.wait_for(event.wait(), 30)
            latencies.append(1e3 * (connector.at[conv] - started))

    await asyncio.gather(*(conversation(i) for i in range(concurrency)))
    return latencies


async def _core_level(services: Any, *, concurrency: int, turns: int) -> list[float]:
    """The same questions straight into ``assistant.handle`` (same database-backed memory), no HTTP, no SDK:
    what the edge adds is the difference."""
    from bot.domain import Channel, Message

    latencies: list[float] = []
    per = max(1, turns // concurrency)

    async def conversation(index: int) -> None:
        for n in range(per):
            started = time.perf_counter()
            text = QUESTIONS[(index + n) % len(QUESTIONS)]
            key = f"core-{concurrency}-{index}"
            await services.assistant.handle(Message(text, conversation=key, channel=Channel.TEAMS))
            latencies.append(1e3 * (time.perf_counter() - started))

    await asyncio.gather(*(conversation(i) for i in range(concurrency)))
    return latencies


def _figures(lat: list[float]) -> dict[str, float]:
    return {
        "turns": len(lat),
        "p50_ms": round(statistics.median(lat), 1),
        "p99_ms": round(_pct(lat, 0.99), 1),
        "max_ms": round(max(lat), 1),
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(
    settings: Settings, levels: tuple[int, ...], turns: int, say: Callable[[str], None]
) -> dict[str, Any]:
    from bot.channels.services import Services
    from bot.core.assistant import Assistant
    from bot.server import create_app
    from bot.server.heap import settle_heap

    say("loading the model and index")
    assistant = await asyncio.to_thread(Assistant.from_settings, settings)
    connector = _Connector()
    connector_app = web.Application()
    connector_app.router.add_route("*", "/{tail:.*}", connector.handle)
    connector_runner, connector_url = await _serve(connector_app)
    with tempfile.TemporaryDirectory(prefix="policybot-bench-teams-") as tmp:
        bench_settings = settings.model_copy(
            update={
                "var_dir": Path(tmp),
                "database_url": settings.database_url,
                "secret_key": SecretStr(secrets.token_urlsafe(32)),
                "teams_dev": True,
                "microsoft_app_id": None,
                "worker": False,
                "webhook_url": None,
            }
        )
        services = await Services.open(bench_settings, assistant=assistant, start_worker=False)
        runner, app_url = await _serve(create_app(bench_settings, services=services))
        settle_heap()  # as `policybot serve` does once the model and index are loaded
        service_url = connector_url + "/"
        result: dict[str, Any] = {"turns_per_level": turns}
        try:
            async with ClientSession() as http:
                say("warming up")
                await _level(http, app_url, connector, service_url, concurrency=4, turns=16)
                for concurrency in levels:
                    say(f"{turns} turns at {concurrency} concurrent conversation(s)")
                    lat = await _level(
                        http, app_url, connector, service_url, concurrency=concurrency, turns=turns
                    )
                    result[f"c{concurrency}"] = _figures(lat)
                    say(f"the same questions straight into the core at {concurrency}")
                    core = await _core_level(services, concurrency=concurrency, turns=turns)
                    result[f"core_only_c{concurrency}"] = _figures(core)
        finally:
            await runner.cleanup()
            await services.close()
            await connector_runner.cleanup()
    top = result.get(f"c{max(levels)}", {})
    result["cpus"] = os.cpu_count()
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    result["floor"] = {
        f"p99 < {FLOOR_P99_MS:.0f} ms at {max(levels)} conversations": bool(
            top and top["p99_ms"] < FLOOR_P99_MS
        )
    }
    return result


def run_teams_benchmark(
    settings: Settings,
    *,
    levels: tuple[int, ...] = (1, 16),
    turns: int = 160,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure p50/p99 reply latency at each concurrency level; returns a JSON-able dict."""
    return asyncio.run(_run(settings, levels, turns, say))
