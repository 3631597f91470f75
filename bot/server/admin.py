"""Administrator endpoints: ``POST /admin/reload`` (serve a rebuilt index without a restart) and
``GET /admin/insights`` (what staff could not find), both behind ``Authorization: Bearer <admin_token>``;
plus SIGHUP, which reloads the same way for operators on the host.

Without ``POLICYBOT_ADMIN_TOKEN`` the endpoints answer 403: an unset token never means "open".
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import signal
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.channels.keys import RELOAD, SERVICES, services_of
from bot.channels.services import Services
from bot.config import Settings
from bot.core.insights import build_report
from bot.server.heap import settle_heap
from index.errors import IndexPackageError

__all__ = ["install_sighup", "mount", "reload_services"]

log = logging.getLogger(__name__)

RELOADS: web.AppKey[set[asyncio.Task[None]]] = web.AppKey("admin_reload_tasks")


def mount(app: web.Application, settings: Settings) -> None:
    """Add the admin routes (always mounted; they refuse everyone until a token is configured), and offer
    the reload to the web pages (the insights page's "Rebuild now")."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    app[RELOAD] = reload_services
    app.router.add_post("/admin/reload", _guard(token, _reload))
    app.router.add_get("/admin/insights", _guard(token, _insights))


async def reload_services(services: Services) -> dict[str, object]:
    """Reload and describe what now serves; raises what the reload raised (the old index keeps serving)."""
    started = time.perf_counter()
    assistant = await services.reload(on_rebuild=lambda why: log.info("reload: %s", why))
    if gc.get_freeze_count():  # serve froze its heap at start-up: let the old index go, freeze the new one
        settle_heap()
    manifest = assistant.index.manifest
    return {
        "status": "reloaded",
        "index": assistant.index.path.name,
        "corpus_sha256": manifest.corpus_sha256,
        "built_at": manifest.built_at,
        "documents": [{"id": d.id, "version": d.version} for d in assistant.index.corpus.documents],
        "seconds": round(time.perf_counter() - started, 3),
    }


def install_sighup(app: web.Application) -> None:
    """Reload on SIGHUP while ``app`` runs (the serve command only: one handler per process)."""
    app[RELOADS] = set()

    async def start(app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, _on_sighup, app)

    async def stop(app: web.Application) -> None:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        pending: set[asyncio.Task[None]] = app[RELOADS]
        await asyncio.gather(*pending, return_exceptions=True)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def _on_sighup(app: web.Application) -> None:
    if SERVICES not in app:
        return
    task = asyncio.get_running_loop().create_task(_logged_reload(app[SERVICES]))
    app[RELOADS].add(task)
    task.add_done_callback(app[RELOADS].discard)


async def _logged_reload(services: Services) -> None:
    try:
        result = await reload_services(services)
    except IndexPackageError as exc:
        log.error("SIGHUP reload failed; the previous index keeps serving: %s", exc)
    except Exception as exc:
        log.error("SIGHUP reload failed; the previous index keeps serving: %s", type(exc).__name__)
    else:
        log.info("SIGHUP reload: now serving %s", result["index"])


def _guard(token: str, handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not token:
            return web.json_response({"error": "the admin API is off: set POLICYBOT_ADMIN_TOKEN"}, status=403)
        given = request.headers.get("Authorization", "")
        if not given.startswith("Bearer "):
            return web.json_response(
                {"error": "admin token required"}, status=401, headers={"WWW-Authenticate": "Bearer"}
            )
        if not hmac.compare_digest(given.removeprefix("Bearer ").strip().encode(), token.encode()):
            return web.json_response({"error": "wrong admin token"}, status=403)
        return await handler(request)

    return guarded


async def _reload(request: web.Request) -> web.Response:
    try:
        result = await reload_services(services_of(request))
    except IndexPackageError as exc:  # names the corpus file and line; holds no user text
        return web.json_response(
            {"status": "failed", "error": str(exc), "serving": "previous index"}, status=409
        )
    except Exception as exc:
        log.error("reload failed: %s", type(exc).__name__)
        return web.json_response(
            {"status": "failed", "error": type(exc).__name__, "serving": "previous index"}, status=500
        )
    return web.json_response(result)


async def _insights(request: web.Request) -> web.Response:
    services = services_of(request)
    top = int(request.query.get("top", "10")) if request.query.get("top", "10").isdigit() else 10
    report = await build_report(services.insights, services.assistant.embedder, top=top)
    return web.json_response(report.to_json(), dumps=_dumps)


def _dumps(data: object) -> str:
    import json

    return json.dumps(data, default=str)
