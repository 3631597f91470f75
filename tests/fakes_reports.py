"""Fakes for the reports tests: a settable clock, and a webhook receiver on 127.0.0.1 that verifies
signatures, counts deliveries per notice key, and can be scripted to answer 500s or hang (timeouts) first."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday morning

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)

    def set(self, when: datetime) -> None:
        self._now = when


@dataclass
class WebhookReceiver:
    """Answers each request with the next scripted behaviour ("500", "hang", "404"), then 200.

    ``delivered`` counts requests answered 200, per X-Policybot-Delivery key; a bad signature is answered 401
    and counted in ``bad_signatures``."""

    secret: str
    script: list[str] = field(default_factory=list)
    delay: float = 0.0
    hang_seconds: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    delivered: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Policybot-Signature", "")):
            self.bad_signatures += 1
            return web.Response(status=401)
        payload = json.loads(body)
        self.requests.append(payload)
        action = self.script.pop(0) if self.script else "200"
        if action == "hang":
            await asyncio.sleep(self.hang_seconds)
            return web.Response(status=504)
        if action != "200":
            return web.Response(status=int(action))
        if self.delay:
            await asyncio.sleep(self.delay)
        self.delivered[request.headers["X-Policybot-Delivery"]] += 1
        return web.Response(status=200)

    async def wait_for(self, total: int, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while sum(self.delivered.values()) < total:
                await asyncio.sleep(0.05)


class ScriptedNotifier:
    """A channel notifier at the seam: reaches people with a Slack id, answers as told per person id."""

    def __init__(self, name: str = "slack", *, answers: dict[str, str] | None = None) -> None:
        self.name = name
        self.answers = answers or {}
        self.sent: list[tuple[str, str]] = []
        #: notice key -> the text sent
        self.texts: dict[str, str] = {}

    def can_reach(self, address: Any) -> bool:
        return bool(address.slack_id)

    async def send(self, address: Any, notice: Any) -> Any:
        from bot.reports.notify import Delivery, DeliveryStatus

        self.sent.append((address.label, notice.key))
        self.texts[notice.key] = notice.text
        return Delivery(DeliveryStatus(self.answers.get(address.label, "delivered")), "scripted")

    async def close(self) -> None:
        return None


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a real server; ``cut()`` closes it and its connections (an outage)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()
