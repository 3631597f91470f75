"""The composition root: ``create_app(settings)`` builds the one aiohttp application every channel shares.

Routes are mounted by each edge module according to the settings (a channel without credentials is simply not
mounted); request handlers find the running ``Services`` on the application (``app[SERVICES]``, the keys live in
``bot.channels.keys`` so that edges never import this module), which are
opened on start-up and closed on clean-up. No module globals hold state, so tests can run several apps at once.
Operations routes live here: ``/healthz`` (the process answers), ``/readyz`` (index loaded, database reachable,
migrations current) and ``/metrics`` (Prometheus text, from the app's own registry).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.channels.keys import SERVICES, SETTINGS
from bot.channels.services import Services
from bot.channels.slack import mount as mount_slack
from bot.channels.teams import mount as mount_teams
from bot.channels.web import mount as mount_web
from bot.config import Settings
from bot.domain import Message, Reply
from bot.server.admin import mount as mount_admin
from bot.server.middleware import MAX_BODY_BYTES, request_middleware
from bot.server.observability import CONTENT_TYPE, METRICS, Metrics

__all__ = ["create_app"]

log = logging.getLogger(__name__)


class SharedCheck:
    """Callers arriving while ``check`` runs share its result instead of starting another: a burst of
    load-balancer probes or scrapes must not queue for SQLite's write lock or fill the connection pool."""

    def __init__(self, check: Callable[[], Awaitable[list[str]]]) -> None:
        self._check = check
        self._task: asyncio.Task[list[str]] | None = None

    async def __call__(self) -> list[str]:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._check())
        return list(await asyncio.shield(self._task))


READINESS = web.AppKey("readiness", SharedCheck)
SCRAPE = web.AppKey("scrape", SharedCheck)


def create_app(settings: Settings, *, services: Services | None = None) -> web.Application:
    """The application for these settings. Pass ``services`` to share already-open services (tests)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[request_middleware])
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    owned = services is None

    async def open_services(app: web.Application) -> None:
        opened = services if services is not None else await Services.open(settings)
        app[SERVICES] = opened
        metrics = app[METRICS]

        async def count_reply(message: Message, reply: Reply) -> None:
            metrics.observe_reply(reply, float(reply.extra.get("seconds", 0.0)), message.channel)

        # Every channel's replies are counted and timed here, once, whichever edge asked.
        opened.assistant.observers = (*opened.assistant.observers, count_reply)

        async def refresh() -> list[str]:
            await app[METRICS].refresh(opened.reports.db, opened.reports.clock)
            return []

        app[READINESS] = SharedCheck(opened.readiness)
        app[SCRAPE] = SharedCheck(refresh)

    async def close_services(app: web.Application) -> None:
        if owned and SERVICES in app:
            await app[SERVICES].close()

    app.on_startup.append(open_services)
    app.on_cleanup.append(close_services)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    # Edges mount here, each deciding from the settings whether it is configured.
    mount_web(app, settings)
    mount_admin(app, settings)
    mount_slack(app, settings)
    mount_teams(app, settings)
    return app


async def _healthz(request: web.Request) -> web.Response:
    """Liveness: the process and its event loop answer. Nothing else (a database outage is not a restart)."""
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    """Readiness: 200 when this replica can serve, else 503 with every reason."""
    check = request.app.get(READINESS)
    problems = ["starting: services not open yet"] if check is None else await check()
    if problems:
        return web.json_response({"status": "unavailable", "problems": problems}, status=503)
    return web.json_response({"status": "ready"})


async def _metrics(request: web.Request) -> web.Response:
    scrape = request.app.get(SCRAPE)
    if scrape is not None:
        await scrape()
    return web.Response(body=request.app[METRICS].render(), headers={"Content-Type": CONTENT_TYPE})
