"""The keys every edge and the server share on the aiohttp application and request: the running services, the
settings, the reload the server performs (``POST /admin/reload``), and the verified user the access log hashes.

They live here, below the channels, and not in the composition root (``bot.server.app``), so that an edge can
find its services without importing the module that mounts it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.channels.services import Services
from bot.config import Settings

__all__ = ["RELOAD", "SERVICES", "SETTINGS", "Reload", "note_user", "noted_user", "reload_of", "services_of"]

SERVICES = web.AppKey("services", Services)
SETTINGS = web.AppKey("settings", Settings)
_USER = web.RequestKey("policybot_user", str)

#: Serve the current corpus and taught examples, describing what now serves (``bot.server.admin`` sets it).
Reload = Callable[[Services], Awaitable[dict[str, object]]]
RELOAD: web.AppKey[Reload] = web.AppKey("reload")


def services_of(request: web.Request) -> Services:
    """The running services, for edge handlers."""
    return request.app[SERVICES]


def reload_of(request: web.Request) -> Reload:
    """The server's reload (the same as ``POST /admin/reload``), else a plain ``Services.reload``."""
    found = request.app.get(RELOAD)
    if found is not None:
        return found

    async def plain(services: Services) -> dict[str, object]:
        assistant = await services.reload()
        return {"status": "reloaded", "index": assistant.index.path.name}

    return plain


def note_user(request: web.Request, user_id: str | None) -> None:
    """Tell the access log who made this request (logged only as a keyed hash)."""
    if user_id:
        request[_USER] = user_id


def noted_user(request: web.Request) -> str | None:
    """The user an edge verified for this request, if any (read by the access log)."""
    user = request.get(_USER)
    return user if isinstance(user, str) else None
