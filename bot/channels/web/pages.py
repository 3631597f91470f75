"""What every web page shares: the web state on the app, templates, sessions per request, security headers.

The middleware only touches routes named ``web.*`` (the Slack and Teams endpoints on the same app are not
its business): it loads the session, refuses any POST without the session's CSRF token (403), and adds a strict
Content-Security-Policy and friends to every response.
"""

from __future__ import annotations

import hmac
import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.channels.keys import services_of
from bot.channels.web.auth import COOKIE, Session, SessionStore, csrf_token
from bot.config import Settings
from bot.errors import StorageUnavailable
from bot.reports.directory import Directory, Person

if TYPE_CHECKING:
    from bot.channels.services import Services

__all__ = [
    "WEB",
    "WebState",
    "current_person",
    "ensure_session",
    "identity",
    "is_fragment",
    "render",
    "security_middleware",
    "session_of",
    "web_state",
]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_SESSION: web.RequestKey[Session | None] = web.RequestKey("policybot.session")
_NEW_SESSION: web.RequestKey[Session] = web.RequestKey("policybot.new_session")
#: Set when the session could not be read because the database is down (see ``security_middleware``).
STORAGE_DOWN: web.RequestKey[bool] = web.RequestKey("policybot.storage_down")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class WebState:
    settings: Settings
    sessions: SessionStore
    templates: Environment
    #: True when the console is served at "/" (local mode: no chat credentials).
    local_mode: bool
    console_enabled: bool


WEB = web.AppKey("web", WebState)


def make_templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(("html",)),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def web_state(request: web.Request) -> WebState:
    return request.app[WEB]


def directory_of(request: web.Request) -> Directory:
    return services(request).reports.directory


def session_of(request: web.Request) -> Session | None:
    return request.get(_SESSION)


async def ensure_session(request: web.Request) -> Session:
    """The visitor's session, starting one (cookie set by the middleware) when they have none."""
    session = session_of(request)
    if session is None:
        session = await web_state(request).sessions.create()
        request[_SESSION] = session
        request[_NEW_SESSION] = session
    return session


def current_person(request: web.Request) -> Person | None:
    """The person signed in through a one-time link (the only way to the case dashboard)."""
    session = session_of(request)
    if session is None or session.person_id is None:
        return None
    return directory_of(request).person(session.person_id)


def identity(request: web.Request) -> Person | None:
    """Who reports and asks: the signed-in person, else (local mode only) who the console acts as."""
    person = current_person(request)
    if person is not None:
        return person
    session = session_of(request)
    if session is not None and session.acting_as and web_state(request).local_mode:
        return directory_of(request).person(session.acting_as)
    return None


def is_fragment(request: web.Request) -> bool:
    """The console's script asks for just the new part of the page."""
    return request.headers.get("X-Policybot-Fragment") == "1"


async def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """A page with what the layout needs (who is signed in, the CSRF token, where the console lives)."""
    state = web_state(request)
    session = await ensure_session(request)
    base: dict[str, Any] = {
        "csrf": csrf_token(state.sessions.keys, session.token),
        "me": current_person(request),
        "acting": identity(request),
        "local_mode": state.local_mode,
        "console_path": console_path(state),
        "organisation": directory_of(request).organisation,
        "path": request.path,
    }
    body = state.templates.get_template(template).render({**base, **(context or {})})
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def console_path(state: WebState) -> str | None:
    if not state.console_enabled:
        return None
    return "/" if state.local_mode else "/console"


def set_session_cookie(request: web.Request, response: web.StreamResponse, session: Session) -> None:
    settings = web_state(request).settings
    secure = request.secure or settings.base_url.startswith("https://")
    max_age = int(settings.web_session_hours * 3600)
    response.set_cookie(
        COOKIE, session.token, max_age=max_age, path="/", httponly=True, secure=secure, samesite="Strict"
    )


def replace_session(request: web.Request, session: Session) -> None:
    """After sign-in or sign-out: the response carries the new cookie."""
    request[_SESSION] = session
    request[_NEW_SESSION] = session


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    if not (route.name or "").startswith("web."):
        return await handler(request)
    state = web_state(request)
    if _arrived_without_strict_cookie(request):
        return _bounce(request)
    try:
        request[_SESSION] = await state.sessions.get(request.cookies.get(COOKIE))
    except StorageUnavailable:
        # The database is down: the cookie alone still checks the CSRF token, so a form can come back with
        # what was typed and "not saved" (503) instead of the typed text being lost to a bare error.
        token = request.cookies.get(COOKIE)
        request[_SESSION] = Session(token, None, None, datetime.now(UTC)) if token else None
        request[STORAGE_DOWN] = True
    if request.method == "POST" and not await _csrf_ok(request):
        log.info("web: POST %s refused: missing or wrong CSRF token", route.name)
        response: web.StreamResponse = await render(
            request,
            "message.html",
            {
                "title": "Refused",
                "text": "This form could not be accepted (its security token was missing or out of date). "
                "Go back, reload the page and try again.",
            },
            status=403,
        )
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
    new = request.get(_NEW_SESSION)
    if new is not None:
        set_session_cookie(request, response, new)
    _harden(response)
    if isinstance(response, web.HTTPException) and response.status >= 300:
        raise response
    return response


def _arrived_without_strict_cookie(request: web.Request) -> bool:
    """A link followed from another site (a Slack or Teams notice) carries no SameSite=Strict cookie.
    Answering it normally would start a new session and overwrite the signed-in one in the browser."""
    return (
        request.method == "GET"
        and COOKIE not in request.cookies
        and request.headers.get("Sec-Fetch-Site") == "cross-site"
        and "again" not in request.query
    )


def _bounce(request: web.Request) -> web.Response:
    """Reload the same page from this site (the browser then sends the cookie); no cookie is set here."""
    target = request.path_qs + ("&" if request.query_string else "?") + "again=1"
    body = BOUNCE.format(target=html.escape(target, quote=True))
    response = web.Response(text=body, content_type="text/html", charset="utf-8")
    _harden(response)
    return response


BOUNCE = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>policybot</title>
<link rel="stylesheet" href="/static/policybot.css"></head>
<body><main id="main"><p><a href="{target}">Continue to policybot</a></p></main></body></html>
"""


async def _csrf_ok(request: web.Request) -> bool:
    session = session_of(request)
    if session is None:
        return False
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        form = await request.post()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not sent:
        return False
    expected = csrf_token(web_state(request).sessions.keys, session.token)
    return hmac.compare_digest(sent.encode(), expected.encode())


def _harden(response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers.setdefault("Cache-Control", "no-store")


def session_lifetime(settings: Settings) -> timedelta:
    return timedelta(hours=settings.web_session_hours)


def services(request: web.Request) -> Services:
    """The running services."""
    return services_of(request)
