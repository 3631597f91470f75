"""`policybot serve`: run the server (Slack, Teams, local console, health and metrics on one port).

SIGTERM (or Ctrl-C) shuts down gracefully: the listening socket closes first, requests in flight get up to
``SHUTDOWN_SECONDS`` to finish, then the delivery worker finishes the batch in hand and stops; notices not yet
sent stay in the outbox for the next worker (a lease left by a killed process simply runs out).
"""

from __future__ import annotations

import logging

import typer

from bot.cli._common import console, fail, settings
from bot.errors import PolicybotError

__all__ = ["register"]

log = logging.getLogger("policybot.serve")

#: Kubernetes waits 30 s (terminationGracePeriodSeconds) before SIGKILL; leave room for the worker to stop.
SHUTDOWN_SECONDS = 20.0


def serve(
    host: str | None = typer.Option(
        None, help="Interface to listen on (default POLICYBOT_HOST or 127.0.0.1)."
    ),
    port: int | None = typer.Option(None, help="Port (default POLICYBOT_PORT or 8080)."),
    socket_mode: bool = typer.Option(
        False,
        "--socket-mode",
        help="Connect to Slack over Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN; no public URL).",
    ),
) -> None:
    """Start policybot's server."""
    from aiohttp import web

    from bot.logs import configure_logging
    from bot.server import create_app
    from bot.server.admin import install_sighup
    from bot.server.heap import settle_heap

    overrides: dict[str, object] = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if socket_mode:
        overrides["slack_socket_mode"] = True
    cfg = settings().model_copy(update=overrides)
    configure_logging(cfg.log_level, cfg.log_format)
    console.print(f"policybot starting on {cfg.base_url} (loading the model and index takes a few seconds)")
    app = create_app(cfg)

    async def announce(app: web.Application) -> None:
        settle_heap()  # the model and index are loaded: keep full garbage collections off them
        log.info("policybot ready on %s:%d", cfg.host, cfg.port)

    async def stopping(app: web.Application) -> None:
        log.info("policybot stopping: no new connections; stopping the delivery worker")

    app.on_startup.append(announce)
    app.on_shutdown.append(stopping)
    install_sighup(app)  # SIGHUP reloads the index, like POST /admin/reload
    try:
        web.run_app(
            app,
            host=cfg.host,
            port=cfg.port,
            print=None,
            access_log=None,  # the middleware logs each request (route template, hashed user, no query string)
            shutdown_timeout=SHUTDOWN_SECONDS,
        )
    except PolicybotError as exc:  # e.g. the database file is missing, or the key does not match: say why
        fail(str(exc))
    log.info("policybot stopped")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
