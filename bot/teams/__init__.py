"""The Microsoft Teams edge. ``mount(app, settings)`` adds ``POST /api/messages`` when Teams is configured.

The SDK (botbuilder) is imported only by ``bot.teams.edge``, and only when Teams is mounted, so a server
without Teams credentials never loads it.
"""

from __future__ import annotations

from aiohttp import web

from bot.config import Settings

__all__ = ["mount"]


def mount(app: web.Application, settings: Settings) -> None:
    """Mount the Teams edge if credentials (or POLICYBOT_TEAMS_DEV=1) are set; otherwise do nothing."""
    if not settings.teams_enabled:
        return
    from bot.teams import edge

    edge.mount(app, settings)
