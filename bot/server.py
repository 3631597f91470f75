"""The composition root: ``create_app(settings)`` builds the one aiohttp application every channel shares.

Routes are mounted by each edge module according to the settings (a channel without credentials is simply not
mounted); request handlers find the running ``Services`` on the application (``app[SERVICES]``), which are
opened on start-up and closed on clean-up. No module globals hold state, so tests can run several apps at once.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.config import Settings
from bot.services import Services
from bot.teams import mount as mount_teams

__all__ = ["SERVICES", "SETTINGS", "create_app", "services_of"]

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)
SETTINGS = web.AppKey("settings", Settings)
#: Requests larger than this are refused with 413 before any handler runs.
MAX_BODY_BYTES = 1024 * 1024


def services_of(request: web.Request) -> Services:
    """The running services, for edge handlers."""
    return request.app[SERVICES]


def create_app(settings: Settings, *, services: Services | None = None) -> web.Application:
    """The application for these settings. Pass ``services`` to share already-open services (tests)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    owned = services is None

    async def open_services(app: web.Application) -> None:
        app[SERVICES] = services if services is not None else await Services.open(settings)

    async def close_services(app: web.Application) -> None:
        if owned and SERVICES in app:
            await app[SERVICES].close()

    app.on_startup.append(open_services)
    app.on_cleanup.append(close_services)
    app.router.add_get("/healthz", _healthz)
    # Edges mount here, each deciding from the settings whether it is configured.
    mount_teams(app, settings)
    return app


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
