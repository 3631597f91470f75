"""``POST /api/messages`` and mounting: the Teams edge's HTTP endpoint in front of the adapter, and ``mount``,
which builds the adapter, the courier and the handler and registers the Teams notifier on start-up.

The endpoint is our own aiohttp handler: the 4.17.1 ``CloudAdapter.process`` double-serialises invoke responses
and answers 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from bot.channels.keys import SERVICES, note_user
from bot.channels.services import Services
from bot.channels.teams.activities import aad
from bot.channels.teams.auth import make_adapter
from bot.channels.teams.delivery import REFS_CHANNEL, Courier, TeamsNotifier
from bot.channels.teams.handler import PolicyBot
from bot.config import Settings

__all__ = ["mount"]

log = logging.getLogger(__name__)


def _handler(adapter: CloudAdapter, bot: PolicyBot) -> Callable[[web.Request], Awaitable[web.Response]]:
    """POST /api/messages. Our own handler: CloudAdapter.process in 4.17.1 fails on every invoke response."""

    async def messages(request: web.Request) -> web.Response:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "expected an Activity object"}, status=400)
        activity = Activity().deserialize(body)
        if not activity.type:
            return web.json_response({"error": "expected an Activity"}, status=400)
        try:
            response = await adapter.process_activity(
                request.headers.get("Authorization", ""), activity, bot.on_turn
            )
        except PermissionError:
            return web.json_response({"error": "unauthorized"}, status=401)
        if activity.from_property is not None:  # authenticated (or dev mode): log a hash of who it was
            note_user(request, aad(activity))
        if response is None:
            return web.Response(status=201)
        payload = response.body
        if hasattr(payload, "serialize"):
            payload = payload.serialize()
        if payload is None:
            return web.Response(status=response.status or 200)
        return web.json_response(payload, status=response.status or 200)

    return messages


def mount(app: web.Application, settings: Settings) -> None:
    """Mount the Teams edge when credentials (or POLICYBOT_TEAMS_DEV=1) say so; register its notifier."""
    if not settings.microsoft_app_id:
        if not settings.teams_dev:
            return
        log.warning(
            "TEAMS DEV MODE: /api/messages is mounted WITHOUT AUTHENTICATION (POLICYBOT_TEAMS_DEV=1 and no "
            "MicrosoftAppId). Anyone who can reach this server can talk to the bot as anyone. Local testing only."
        )
    adapter = make_adapter(settings)

    def services() -> Services:
        return app[SERVICES]

    app_id = settings.microsoft_app_id or ""
    courier = Courier(
        adapter=adapter,
        services=services,
        app_id=app_id,
        tenant_id=settings.microsoft_app_tenant_id,
        service_url=settings.teams_service_url,
        bot_id=f"28:{app_id}" if app_id else None,
    )
    bot = PolicyBot(courier, services)
    app.router.add_post("/api/messages", _handler(adapter, bot))

    async def register_notifier(app: web.Application) -> None:
        running = app[SERVICES]
        for person in running.reports.directory.people.values():
            if person.teams_id and await running.conversation_refs.get(REFS_CHANNEL, person.teams_id.lower()):
                courier.known.add(person.teams_id.lower())
        running.reports.notifiers.register(TeamsNotifier(courier))

    app.on_startup.append(register_notifier)
