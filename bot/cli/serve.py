"""`policybot serve`: run the server (Slack, Teams, local console, health and metrics on one port)."""

from __future__ import annotations

import typer

from bot.cli._common import console, settings

__all__ = ["register"]


def serve(
    host: str | None = typer.Option(
        None, help="Interface to listen on (default POLICYBOT_HOST or 127.0.0.1)."
    ),
    port: int | None = typer.Option(None, help="Port (default POLICYBOT_PORT or 8080)."),
) -> None:
    """Start policybot's server."""
    from aiohttp import web

    from bot.admin import install_sighup
    from bot.server import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    cfg = settings().model_copy(update=overrides)
    console.print(f"policybot starting on {cfg.base_url} (loading the model and index takes a few seconds)")
    app = create_app(cfg)
    install_sighup(app)  # SIGHUP reloads the index, like POST /admin/reload
    web.run_app(app, host=cfg.host, port=cfg.port, print=None, shutdown_timeout=30)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
