"""The server's one middleware: request id, access log, metrics, and clean JSON errors for bad input.

Why one middleware and not four: the access log and the request counter need the final status, which is only
known after errors have been turned into responses, so they live around the same ``try``. Errors:

* bodies over ``MAX_BODY_BYTES`` -> 413 (from Content-Length up front, or aiohttp's limit while reading);
* malformed JSON or undecodable text read by a handler -> 400; HTTP errors (404, 405, 415 ...) -> JSON;
* anything unexpected -> 500 with a generic body and the request id, never a traceback (the log has the
  exception class and frames, never its message).

Handlers may call ``read_json(request)`` (content type and shape checked, 4xx otherwise); edges call
``bot.channels.keys.note_user(request, user_id)`` so the access log carries a keyed hash of who asked (never the
id itself).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.keys import SERVICES, noted_user
from bot.logs import REQUEST_ID
from bot.server.observability import METRICS

__all__ = ["MAX_BODY_BYTES", "error_response", "read_json", "request_middleware", "route_of"]

log = logging.getLogger("policybot.access")

#: Requests larger than this are refused with 413.
MAX_BODY_BYTES = 1024 * 1024
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, error: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """The one shape of every error body: ``{"error": ..., "status": ..., "request_id": ...}``."""
    body = {"error": error, "status": status, "request_id": REQUEST_ID.get()}
    return web.json_response(body, status=status, headers=headers)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx: 415 for another content type, 400 when malformed."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="expected application/json")
    body = await request.read()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        raise web.HTTPBadRequest(reason="malformed JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(reason="expected a JSON object")
    return data


def route_of(request: web.Request) -> str:
    """The route template ("/cases/{reference}"), or "unmatched": paths never become label values."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID_OK.match(given) else uuid.uuid4().hex
    token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await _guarded(request, handler)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-Id"] = request_id
        return response
    finally:
        seconds = time.perf_counter() - started
        route = route_of(request)
        metrics = request.app.get(METRICS)
        if metrics is not None:
            metrics.observe_request(route, request.method, status, seconds)
        log.info(
            "%s %s %d %.1fms",
            request.method,
            route,
            status,
            seconds * 1e3,
            extra={
                "route": route,
                "method": request.method,
                "status": status,
                "latency_ms": round(seconds * 1e3, 1),
                "user": _hashed_user(request),
            },
        )
        REQUEST_ID.reset(token)


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        return error_response(413, f"request body over {MAX_BODY_BYTES} bytes")
    try:
        if request.method in ("POST", "PUT", "PATCH") and request.content_type == "multipart/form-data":
            await _parse_multipart(request)
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like are answers, not errors
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After", "WWW-Authenticate")}
        return error_response(exc.status, exc.reason, headers=headers)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error_response(400, "malformed request body")
    except RecursionError:  # a parser given absurdly deep nesting (JSON, form data)
        return error_response(400, "request body nested too deeply")
    except asyncio.CancelledError:
        raise
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # a static-file path longer than the filesystem allows
            return error_response(404, "Not Found")
        log.exception("unhandled %s on %s", type(exc).__name__, route_of(request))
        return error_response(500, "internal error")
    except Exception as exc:
        log.exception("unhandled %s on %s", type(exc).__name__, route_of(request))
        return error_response(500, "internal error")


async def _parse_multipart(request: web.Request) -> None:
    """Parse a multipart form before the handler does: aiohttp's parser answers a broken body (no boundary,
    truncated parts) with ValueError or AssertionError, which would otherwise look like a bug. The result is
    cached on the request, so the handler's own ``await request.post()`` reads it for free."""
    try:
        await request.post()
    except web.HTTPException:
        raise
    except (ValueError, AssertionError, LookupError, UnicodeDecodeError):
        raise web.HTTPBadRequest(reason="malformed multipart form") from None


def _hashed_user(request: web.Request) -> str | None:
    user = noted_user(request)
    if user is None:
        return None
    services = request.app.get(SERVICES)
    if services is not None:
        return str(services.reports.db.keys.hash("log-user", user))[:16]
    return hashlib.sha256(user.encode()).hexdigest()[:16]
