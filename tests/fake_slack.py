"""A fake Slack at its HTTP boundary: the Web API (``/api/<method>``) and response_url receivers on 127.0.0.1.

Records every call (method, decoded params, headers); answers the way Slack does (``{"ok": true, ...}``,
``{"ok": false, "error": ...}`` with HTTP 429 + Retry-After for ``ratelimited``). ``fail(method, ...)`` queues
failures. Posted messages are kept per channel with their ``metadata`` (``chat.postMessage`` sends it as a
JSON object) and ``conversations.history`` answers from them, newest first, filtered by ``oldest`` and
``limit``, metadata included only with ``include_all_metadata``, as Slack does. ``hold(method)`` keeps the next
call's response back (the call itself has taken effect) until ``release()``: a worker killed mid-post.
Also here: signing and the payload shapes Slack sends to the app (slash command form bodies,
``event_callback`` JSON, ``payload=`` interactions), per PROTOCOLS.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

BOT_USER = "UBOTPOLICY"
AUTH_TEST = {
    "ok": True,
    "url": "https://oakfield.slack.com/",
    "team": "Oakfield",
    "user": "policybot",
    "team_id": "T0OAKFIELD",
    "user_id": BOT_USER,
    "bot_id": "B0POLICYBOT",
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]

    def blocks(self) -> list[dict[str, Any]]:
        value = self.params.get("blocks") or []
        return json.loads(value) if isinstance(value, str) else list(value)

    def text_of_blocks(self) -> str:
        """Every text in the blocks (sections, contexts, buttons), joined."""
        out: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if isinstance(node.get("text"), str):
                    out.append(node["text"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.blocks())
        view = self.params.get("view")
        if view:
            walk(json.loads(view) if isinstance(view, str) else view)
        return "\n".join(out)


@dataclass
class _Failure:
    status: int
    error: str
    retry_after: int | None


@dataclass
class FakeSlack:
    """Start with ``await fake.start()``; ``api_url`` is what SLACK_API_URL should be."""

    calls: list[Call] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition | None = None
    #: channel -> messages posted there (as conversations.history returns them), oldest first.
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _held: dict[str, asyncio.Event] = field(default_factory=dict)
    _last_ts: float = 0.0
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.base}/response/{name}"

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._changed = asyncio.Condition()
        return self

    async def close(self) -> None:
        self.release()
        for ws in self.sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- scripting ------------------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        *,
        times: int = 1,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int | None = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` fail (429 ratelimited by default, or e.g. 503)."""
        self._failures.setdefault(method, []).extend(
            _Failure(status, error, retry_after if status == 429 else None) for _ in range(times)
        )

    def hold(self, method: str) -> None:
        """The next call of ``method`` takes effect but gets no answer until ``release()``."""
        self._held[method] = asyncio.Event()

    def release(self) -> None:
        for event in self._held.values():
            event.set()
        self._held.clear()

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts_to(self, channel: str) -> list[Call]:
        return [c for c in self.of("chat.postMessage") if c.params.get("channel") == channel]

    async def wait_for(self, method: str, count: int = 1, *, timeout: float = 15.0) -> list[Call]:
        """Block until ``count`` calls of ``method`` have arrived (listeners run after the ack)."""
        assert self._changed is not None
        deadline = time.monotonic() + timeout
        async with self._changed:
            while len(self.of(method)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [c.method for c in self.calls]
                    raise AssertionError(f"expected {count} {method} call(s); calls so far: {got}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)
        return self.of(method)

    async def settle(self, seconds: float = 0.5) -> None:
        """Wait a little for background listeners (used before asserting that nothing more arrived)."""
        await asyncio.sleep(seconds)

    # --- HTTP -------------------------------------------------------------------------------------------
    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        if request.content_type == "application/json":
            params: dict[str, Any] = json.loads(raw or b"{}")
        else:
            params = dict(parse_qsl(raw.decode()))
        params = {**dict(request.query), **params}
        await self._record(Call(method, params, dict(request.headers)))
        if not request.headers.get("Authorization", "").startswith(("Bearer xox", "Bearer xapp")):
            return web.json_response({"ok": False, "error": "not_authed"})
        queued = self._failures.get(method)
        if queued:
            failure = queued.pop(0)
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )
        answer = self._answer(method, params)
        held = self._held.get(method)
        if held is not None:
            self._held.pop(method, None)
            await held.wait()
        return web.json_response(answer)

    def _post(self, params: dict[str, Any]) -> str:
        """Keep a posted message the way conversations.history returns it; returns its ts."""
        ts = f"{max(time.time(), self._last_ts + 0.000001):.6f}"
        self._last_ts = float(ts)
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": params.get("text", ""),
            "ts": ts,
            "bot_id": AUTH_TEST["bot_id"],
            "app_id": "A0POLICYBOT",
        }
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata:
            message["metadata"] = metadata
        self.history.setdefault(str(params.get("channel")), []).append(message)
        return ts

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        found = [m for m in self.history.get(str(params.get("channel")), []) if float(m["ts"]) > oldest]
        newest_first = list(reversed(found))
        page = [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in newest_first]
        return {
            "ok": True,
            "messages": page[:limit],
            "has_more": len(page) > limit,
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": ""},
        }

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return AUTH_TEST
        if method == "conversations.open":
            users = str(params.get("users", ""))
            if users in self.unreachable:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "channel": {"id": "D" + users.lstrip("UW")[:10]}}
        if method == "conversations.history":
            return self._history(params)
        if method == "chat.postMessage":
            ts = self._post(params)
            return {
                "ok": True,
                "channel": params.get("channel"),
                "ts": ts,
                "message": self.history[str(params.get("channel"))][-1],
            }
        if method in ("chat.update", "chat.postEphemeral"):
            ts = f"{1700000000 + next(self._ts)}.000100"
            return {
                "ok": True,
                "channel": params.get("channel"),
                "ts": params.get("ts") or ts,
                "message_ts": ts,
            }
        if method == "chat.getPermalink":
            channel, ts = params.get("channel"), str(params.get("message_ts", "")).replace(".", "")
            return {"ok": True, "permalink": f"https://oakfield.slack.com/archives/{channel}/p{ts}"}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            return {"ok": True, "view": {"id": f"V{next(self._ts):08d}"}}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}
        if method == "conversations.replies":
            return {"ok": True, "messages": []}
        return {"ok": True}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then relay envelopes queued with ``send_envelope`` and record acks."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await self._record(Call("socket.connected", {}, dict(request.headers)))
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake"},
                "connection_info": {"app_id": "A0POLICYBOT"},
            }
        )
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                await self._record(Call("socket.ack", json.loads(message.data), {}))
        return ws

    async def send_envelope(self, envelope_id: str, body: dict[str, Any], kind: str = "events_api") -> None:
        """Deliver one request over the open Socket Mode connection, as Slack does."""
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": body,
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self._record(Call("response_url", body, dict(request.headers)))
        return web.Response(text="ok")


# --- requests the way Slack sends them ------------------------------------------------------------------


def signed_headers(
    secret: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type}


def slash_command(
    text: str,
    *,
    user: str,
    response_url: str,
    channel: str = "C0STAFFRM",
    command: str = "/policy",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> bytes:
    fields = {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": "T0OAKFIELD",
        "team_domain": "oakfield",
        "channel_id": channel,
        "channel_name": "staffroom",
        "user_id": user,
        "user_name": "someone",
        "command": command,
        "text": text,
        "api_app_id": "A0POLICYBOT",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urlencode(fields).encode()


def event_callback(event: dict[str, Any], *, event_id: str) -> bytes:
    body = {
        "token": "XXYYZZ",
        "team_id": "T0OAKFIELD",
        "api_app_id": "A0POLICYBOT",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "T0OAKFIELD",
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
    }
    return json.dumps(body).encode()


def mention(
    text: str,
    *,
    user: str,
    channel: str = "C0STAFFRM",
    ts: str = "1700000001.000100",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    return _message_event({"type": "app_mention"}, f"<@{BOT_USER}> {text}", user, channel, ts, thread_ts)


def direct_message(
    text: str,
    *,
    user: str,
    channel: str = "D0DM00001",
    ts: str = "1700000002.000200",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    return _message_event({"type": "message", "channel_type": "im"}, text, user, channel, ts, thread_ts)


def _message_event(
    kind: dict[str, Any], text: str, user: str, channel: str, ts: str, thread_ts: str | None
) -> dict[str, Any]:
    event = {
        **kind,
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": "T0OAKFIELD",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def interaction(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def _user(user: str) -> dict[str, Any]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0OAKFIELD"}


def block_action(
    action_id: str,
    value: str,
    *,
    user: str,
    response_url: str | None = None,
    channel: str = "D0DM00001",
    message_ts: str = "1700000003.000300",
    blocks: list[dict[str, Any]] | None = None,
) -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user),
        "api_app_id": "A0POLICYBOT",
        "token": "XXYYZZ",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": "335.1234.abcdef",
        "team": {"id": "T0OAKFIELD", "domain": "oakfield"},
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "ts": message_ts, "text": "notice", "blocks": blocks or []},
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                "value": value,
                "text": {"type": "plain_text", "text": "x"},
                "action_ts": "1700000004.000400",
            }
        ],
    }
    if response_url:
        payload["response_url"] = response_url
    return interaction(payload)


def view_submission(
    view: dict[str, Any], values: dict[str, Any], *, user: str, view_id: str = "V0REPORT01"
) -> bytes:
    submitted = {
        **view,
        "id": view_id,
        "team_id": "T0OAKFIELD",
        "state": {"values": values},
        "hash": "156772938.1827394",
        "app_id": "A0POLICYBOT",
        "bot_id": "B0POLICYBOT",
    }
    payload = {
        "type": "view_submission",
        "team": {"id": "T0OAKFIELD", "domain": "oakfield"},
        "user": _user(user),
        "api_app_id": "A0POLICYBOT",
        "token": "XXYYZZ",
        "trigger_id": "12345.98765.abcd",
        "view": submitted,
        "response_urls": [],
    }
    return interaction(payload)


def shortcut(callback_id: str, *, user: str) -> bytes:
    return interaction(
        {
            "type": "shortcut",
            "token": "XXYYZZ",
            "action_ts": "1700000005.000500",
            "team": {"id": "T0OAKFIELD", "domain": "oakfield"},
            "user": _user(user),
            "callback_id": callback_id,
            "trigger_id": "944799105734.773906753841.38b5894552bdd4a780554ee59d1f3638",
        }
    )


def message_action(callback_id: str, *, user: str, channel: str, message_ts: str, response_url: str) -> bytes:
    return interaction(
        {
            "type": "message_action",
            "token": "XXYYZZ",
            "action_ts": "1700000006.000600",
            "team": {"id": "T0OAKFIELD", "domain": "oakfield"},
            "user": _user(user),
            "channel": {"id": channel, "name": "staffroom"},
            "callback_id": callback_id,
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "message_ts": message_ts,
            "message": {"type": "message", "user": "U0BEN0001", "ts": message_ts, "text": "a message"},
            "response_url": response_url,
        }
    )


def report_values(
    *,
    category: str,
    description: str,
    subject_user: str | None = None,
    where: str = "",
    evidence: str = "",
    options: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A filled-in report form's ``state.values`` as Slack sends it."""

    def text(block: str, value: str) -> dict[str, Any]:
        return {block: {block: {"type": "plain_text_input", "value": value or None}}}

    values: dict[str, Any] = {
        "category": {
            "category": {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": category}, "value": category}
                if category
                else None,
            }
        },
        **text("description", description),
        **text("where", where),
        **text("when", ""),
        "subject_user": {"subject_user": {"type": "users_select", "selected_user": subject_user}},
        **text("subject_text", ""),
        **text("evidence", evidence),
        "options": {
            "options": {
                "type": "checkboxes",
                "selected_options": [
                    {"text": {"type": "plain_text", "text": o}, "value": o} for o in options
                ],
            }
        },
    }
    return values
