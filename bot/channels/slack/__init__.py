"""The Slack edge: ``mount(app, settings)`` adds POST /slack/events (and/or Socket Mode) to the one server.

The HTTP route checks what arrives before Bolt sees it (signature and timestamp over the raw bytes, then the
content type, then the body and its shape), so malformed or forged input gets a fixed 4xx and one WARNING line.

Not mounted at all without credentials: HTTP needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; Socket Mode
(``policybot serve --socket-mode``) needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN. The Bolt app is built on
start-up, after the services opened, and registers the Slack notifier with the reports core.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body

from bot.channels.keys import SERVICES, note_user
from bot.channels.slack.edge import SlackEdge
from bot.channels.slack.messages import has_nul, shape_problem, to_message
from bot.config import Settings
from bot.logs import REQUEST_ID

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


async def _events(request: web.Request) -> web.StreamResponse:
    """Slack's Events API, commands and interactivity. In this order, each failure a 4xx with a fixed body and
    one WARNING naming the class of problem (never the content): the signature and its timestamp over the raw
    bytes (401), the content type (415), the body as UTF-8 JSON or form data (400), its shape (400). Only then
    is it handed to Bolt, which verifies the signature again and runs the listeners."""
    edge = request.app[SLACK_EDGE]
    raw = await request.read()  # bytes only: over the size limit aiohttp answers 413
    problem = _signature_problem(request, raw, edge.settings)
    if problem is not None:
        return _refuse(401, problem)
    if request.content_type not in (_JSON, _FORM) or (request.charset or "utf-8").lower() != "utf-8":
        return _refuse(415, "unsupported content type")
    try:
        text = raw.decode("utf-8")
        body = parse_body(text, _bolt_content_type(request))
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate ("\\ud800") cannot be stored
    except (ValueError, RecursionError):  # Unicode{De,En}codeError and JSONDecodeError are ValueErrors
        return _refuse(400, "malformed body")
    if not isinstance(body, dict):
        return _refuse(400, "body is not an object")
    if has_nul(body):
        return _refuse(400, "NUL in the body")
    problem = shape_problem(body)
    if problem is not None:
        return _refuse(400, problem)
    if body.get("type") == "app_rate_limited":
        log.warning("slack: Slack is rate-limiting our events (app_rate_limited)")
        return web.Response(status=200)
    bolt_request = AsyncBoltRequest(body=text, query=request.query_string, headers=dict(request.headers))
    response = await edge.app.async_dispatch(bolt_request)
    if response.status < 400:  # signature verified: the access log may carry (a hash of) who it was
        note_user(request, bolt_request.context.user_id)  # Bolt reads it from events, commands and actions
    return await to_aiohttp_response(response)


_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
#: Slack's window for a request's timestamp (slack_sdk's SignatureVerifier uses the same).
MAX_SKEW_SECONDS = 60 * 5


def _signature_problem(request: web.Request, raw: bytes, settings: Settings) -> str | None:
    """Why this request is not signed by Slack (a fixed phrase), or None. Nothing in the body is parsed."""
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not secret:
        return "no signing secret configured"
    if not timestamp or not signature:
        return "missing signature headers"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "malformed timestamp"
    if not _SIGNATURE.fullmatch(signature):
        return "malformed signature"
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        return "stale timestamp"
    base = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "bad signature"
    return None


def _bolt_content_type(request: web.Request) -> str | None:
    """The content type exactly as Bolt will read it, so the body is parsed here the way Bolt parses it."""
    header = request.headers.get("Content-Type")
    return header.split(";")[0] if header else None


def _refuse(status: int, problem: str) -> web.Response:
    log.warning("slack request refused (%d): %s", status, problem)
    body = {"error": _REASONS[status], "status": status, "request_id": REQUEST_ID.get()}
    return web.json_response(body, status=status)


_REASONS = {400: "malformed request", 401: "invalid request", 415: "unsupported media type"}
