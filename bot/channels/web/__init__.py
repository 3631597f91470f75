"""The web edge: the local console (a DM with policybot in the browser), the report form and "My reports",
the case dashboard with exports, and the insights page where policy owners teach policybot, all
server-rendered and served by policybot itself.

``mount(app, settings)`` adds the routes to the one application. The dashboard, sign-in and "My reports" are
always mounted (Slack and Teams notices link to them); the console only when ``settings.console_enabled``, at
``/`` in local mode (no chat credentials) and at ``/console`` otherwise.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.channels.keys import SERVICES
from bot.channels.web.auth import make_signin_link
from bot.config import Settings

log = logging.getLogger(__name__)

__all__ = ["console_url", "make_signin_link", "mount"]


def console_url(settings: Settings) -> str:
    """Where a person starts: the console (at / in local mode), else the case dashboard."""
    if not settings.console_enabled:
        return f"{settings.base_url}/cases"
    local = not (settings.slack_enabled or settings.teams_enabled)
    return f"{settings.base_url}/" if local else f"{settings.base_url}/console"


def mount(app: web.Application, settings: Settings) -> None:
    """Add the web pages to ``app`` (their state is built on start-up, once the services are open).

    The page modules are imported here, not at the top, so `policybot cases login` (which only needs
    ``make_signin_link``) does not load the model stack."""
    from bot.channels.web import cases, console, insights, reports_form, signin
    from bot.channels.web.auth import SessionStore
    from bot.channels.web.pages import (
        HERE,
        WEB,
        WebState,
        make_templates,
        security_middleware,
        session_lifetime,
    )

    local_mode = settings.console_enabled and not (settings.slack_enabled or settings.teams_enabled)

    async def start(app: web.Application) -> None:
        services = app[SERVICES]
        app[WEB] = WebState(
            settings=settings,
            sessions=SessionStore(
                services.reports.db, lifetime=session_lifetime(settings), clock=services.reports.clock
            ),
            templates=make_templates(),
            local_mode=local_mode,
            console_enabled=settings.console_enabled,
        )

        log.info("web pages ready at %s", console_url(settings))

    app.on_startup.append(start)
    app.middlewares.append(security_middleware)
    if settings.console_enabled:
        console.routes(app, at_root=local_mode)
    if not local_mode:
        app.router.add_get("/", _home, name="web.home")
    reports_form.routes(app)
    cases.routes(app)
    insights.routes(app)
    signin.routes(app)
    app.router.add_static("/static", HERE / "static", name="static")


async def _home(request: web.Request) -> web.StreamResponse:
    from bot.channels.web.pages import WEB

    location = "/console" if request.app[WEB].console_enabled else "/cases"
    return web.Response(status=303, headers={"Location": location})
