"""The Slack edge: ``mount(app, settings)`` adds POST /slack/events (and/or Socket Mode) to the one server.

Not mounted at all without credentials: HTTP needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; Socket Mode
(``policybot serve --socket-mode``) needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN. The Bolt app is built on
start-up, after the services opened, and registers the Slack notifier with the reports core.
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

from bot.channels.keys import SERVICES, note_user
from bot.channels.slack.edge import SlackEdge
from bot.channels.slack.messages import to_message
from bot.config import Settings

__all__ = ["EVENTS_PATH", "SLACK_EDGE", "SlackEdge", "mount", "socket_mode_ready", "to_message"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SLACK_EDGE = web.AppKey("slack_edge", SlackEdge)
_SESSION = web.AppKey("slack_session", aiohttp.ClientSession)


def socket_mode_ready(settings: Settings) -> bool:
    """Socket Mode asked for and possible (bot token and app-level token set)."""
    return bool(settings.slack_socket_mode and settings.slack_bot_token and settings.slack_app_token)


def mount(app: web.Application, settings: Settings) -> None:
    """Mount the Slack edge when Slack is configured; otherwise do nothing."""
    http = settings.slack_enabled
    socket = socket_mode_ready(settings)
    if not (http or socket):
        if settings.slack_socket_mode:
            log.error("--socket-mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN; Slack is not mounted")
        return

    async def start(app: web.Application) -> None:
        services = app[SERVICES]
        session = aiohttp.ClientSession()
        app[_SESSION] = session
        edge = SlackEdge(settings, services, session=session)
        app[SLACK_EDGE] = edge
        services.reports.notifiers.register(edge.notifier())
        if socket:
            await edge.start_socket_mode()
        log.info("slack edge mounted (http=%s, socket_mode=%s)", http, socket)

    async def stop(app: web.Application) -> None:
        if SLACK_EDGE in app:
            await app[SLACK_EDGE].close()
        if _SESSION in app:
            await app[_SESSION].close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    if http:
        app.router.add_post(EVENTS_PATH, _events)


async def _events(request: web.Request) -> web.Response:
    """Slack's Events API, commands and interactivity: handed to Bolt (which verifies the signature)."""
    edge = request.app[SLACK_EDGE]
    bolt_request = await to_bolt_request(request)
    response = await edge.app.async_dispatch(bolt_request)
    if response.status < 400:  # signature verified: the access log may carry (a hash of) who it was
        note_user(request, bolt_request.context.user_id)  # Bolt reads it from events, commands and actions
    return await to_aiohttp_response(response)
