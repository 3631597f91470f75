"""The HTTP server around the channels: the composition root (``create_app``), the request middleware, the
operations and admin routes, metrics, the configuration check and the start-up heap."""

from __future__ import annotations

from bot.server.app import create_app

__all__ = ["create_app"]
