"""The Microsoft Teams edge. ``mount(app, settings)`` adds ``POST /api/messages`` when Teams is configured.

The SDK (botbuilder, archived upstream) is imported only inside this package, and only when Teams is mounted,
so a server without Teams credentials never loads it; a move to the Microsoft 365 Agents SDK touches this package
alone. The modules: ``activities`` (reading and building activities), ``auth`` (the adapter and its
configuration, and the inbound token check), ``signing_keys`` (the Bot Framework's token signing keys, fetched
off the event loop and cached), ``app_token`` (the bot's own outbound OAuth token for replies and notices,
likewise), ``delivery`` (the courier to personal chats and the notifier), ``handler`` (the activity handler),
``endpoint`` (the HTTP route and mounting); ``cards``, ``forms`` and ``package`` are SDK-free.
"""

from __future__ import annotations

from aiohttp import web

from bot.config import Settings

__all__ = ["mount"]


def mount(app: web.Application, settings: Settings) -> None:
    """Mount the Teams edge if credentials (or POLICYBOT_TEAMS_DEV=1) are set; otherwise do nothing."""
    if not settings.teams_enabled:
        return
    from bot.channels.teams import endpoint

    endpoint.mount(app, settings)
