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
    socket_mode: bool = typer.Option(
        False,
        "--socket-mode",
        help="Connect to Slack over Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN; no public URL).",
    ),
) -> None:
    """Start policybot's server."""
    from aiohttp import web

    from bot.server import create_app

    overrides: dict[str, object] = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if socket_mode:
        overrides["slack_socket_mode"] = True
    cfg = settings().model_copy(update=overrides)
    console.print(f"policybot starting on {cfg.base_url} (loading the model and index takes a few seconds)")
    web.run_app(create_app(cfg), host=cfg.host, port=cfg.port, print=None, shutdown_timeout=30)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
