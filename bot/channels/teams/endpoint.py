"""``POST /api/messages`` and mounting: the Teams edge's HTTP endpoint in front of the adapter, and ``mount``,
which builds the adapter, the courier and the handler and registers the Teams notifier on start-up.

The endpoint is our own aiohttp handler: the 4.17.1 ``CloudAdapter.process`` double-serialises invoke responses
and answers 500, and it let a malformed header or Activity through to the SDK, which answered 500 with a
traceback. Here the token is checked first (``auth.TokenCheck``, keys from ``signing_keys``, never blocking the
loop), then the body; every malformed request is a fixed 4xx with one WARNING line naming the class of
problem, never its content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from bot.channels.keys import SERVICES, note_user
from bot.channels.services import Services
from bot.channels.teams import activities
from bot.channels.teams.activities import aad
from bot.channels.teams.app_token import AppTokenSource
from bot.channels.teams.auth import TokenCheck, Unauthorized, app_token_source, make_adapter
from bot.channels.teams.delivery import REFS_CHANNEL, Courier, TeamsNotifier
from bot.channels.teams.handler import PolicyBot
from bot.channels.teams.signing_keys import KeySource, install_in_sdk
from bot.config import Settings

__all__ = ["TEAMS_APP_TOKENS", "TEAMS_KEYS", "mount"]

log = logging.getLogger(__name__)

#: The signing-key source of a mounted Teams edge with auth on (for tests and health reporting).
TEAMS_KEYS = web.AppKey("teams_keys", KeySource)
#: The source of the bot's outbound token of a mounted Teams edge with auth on (for tests and health reporting).
TEAMS_APP_TOKENS = web.AppKey("teams_app_tokens", AppTokenSource)


def _refuse(status: int, problem: str) -> web.HTTPException:
    """A fixed answer for a refused request; the log gets one WARNING line with the class of problem."""
    log.warning("teams request refused (%d): %s", status, problem)
    if status == 401:
        return web.HTTPUnauthorized(reason="unauthorized", headers={"WWW-Authenticate": "Bearer"})
    if status == 415:
        return web.HTTPUnsupportedMediaType(reason="expected application/json")
    return web.HTTPBadRequest(reason="expected a Bot Framework Activity")


def _handler(
    adapter: CloudAdapter, bot: PolicyBot, tokens: TokenCheck | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """POST /api/messages. Our own handler: CloudAdapter.process in 4.17.1 fails on every invoke response.

    Order: the token (from the header alone, before the body is read), the content type, the body's JSON and
    its shape, then the SDK's own authentication of the activity, then the turn. Every refusal is a fixed
    4xx (the middleware answers 413 for an oversized body)."""

    async def messages(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if tokens is not None:
            try:
                await tokens.check(header)
            except Unauthorized as exc:
                raise _refuse(401, str(exc)) from None
        else:
            header = ""  # dev mode: auth is off, and the SDK would try to validate any header it is given
        if request.content_type != "application/json":
            raise _refuse(415, "content type")
        body = await request.read()
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise _refuse(400, "body is not JSON") from None
        if not isinstance(data, dict):
            raise _refuse(400, "body is not a JSON object")
        problem = activities.problem(data)
        if problem is not None:
            raise _refuse(400, f"activity: {problem}")
        try:
            activity = Activity().deserialize(data)
        except (
            ValueError,
            TypeError,
            AttributeError,
            RecursionError,
        ):  # msrest's DeserializationError is a ValueError
            raise _refuse(400, "activity: a field has the wrong type") from None
        try:
            authenticated = await adapter.bot_framework_authentication.authenticate_request(activity, header)
        except Exception as exc:  # the SDK raises PermissionError, jwt errors and bare Exceptions alike
            raise _refuse(401, f"sdk {type(exc).__name__}") from None
        response = await adapter.process_activity(authenticated, activity, bot.on_turn)
        note_user(request, aad(activity))  # authenticated (or dev mode): log a hash of who it was
        if response is None:
            return web.Response(status=201)
        if (response.status or 200) >= 500:
            # The SDK's answer to an invoke nobody handles (an unknown name, or no invoke response): 501.
            # It is the request that is unsupported, not the server that failed.
            raise _refuse(400, f"invoke answered {response.status}")
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
    app_tokens = app_token_source(settings)
    adapter = make_adapter(settings, app_tokens)
    if app_tokens is not None:
        app[TEAMS_APP_TOKENS] = app_tokens

        async def close_app_tokens(app: web.Application) -> None:
            await app_tokens.close()

        app.on_cleanup.append(close_app_tokens)

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
    tokens = None
    if app_id:
        keys = KeySource(
            settings.teams_openid_metadata_url,
            timeout=settings.teams_keys_timeout,
            refresh_seconds=settings.teams_keys_refresh_seconds,
            retry_seconds=settings.teams_keys_retry_seconds,
        )
        install_in_sdk(keys)
        tokens = TokenCheck(keys, app_id)
        app[TEAMS_KEYS] = keys

        async def close_keys(app: web.Application) -> None:
            await keys.close()

        app.on_cleanup.append(close_keys)
    app.router.add_post("/api/messages", _handler(adapter, bot, tokens))

    async def register_notifier(app: web.Application) -> None:
        running = app[SERVICES]
        for person in running.reports.directory.people.values():
            if person.teams_id and await running.conversation_refs.get(REFS_CHANNEL, person.teams_id.lower()):
                courier.known.add(person.teams_id.lower())
        running.reports.notifiers.register(TeamsNotifier(courier))

    app.on_startup.append(register_notifier)
