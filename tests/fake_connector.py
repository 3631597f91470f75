"""A fake Bot Framework connector (the Teams side of ``serviceUrl``): aiohttp on 127.0.0.1, catch-all route.

It records what the bot sends the way Teams receives it: replies and sends (POST .../activities[/id]),
updates (PUT), typing activities, and conversation creations (POST /v3/conversations), with conversation ids
percent-decoded from the raw path. ``forbid(user)`` makes it answer 403 for that user, as Teams does when the
app is not installed for them (creating their chat, or posting into a conversation of theirs). ``hold()``
keeps the answer to the next message send back (the message itself has arrived) until ``release()``: a worker
killed while Teams was answering.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

__all__ = ["FakeConnector", "Sent"]


@dataclass
class Sent:
    """One request from the bot: ``kind`` is "send", "reply", "update", "typing" or "create"."""

    kind: str
    method: str
    raw_path: str
    conversation: str | None
    body: dict[str, Any]
    at: float = 0.0
    #: The activity id the fake answered with (what Teams later puts in ``replyToId``).
    response_id: str = ""

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [
            a["content"]
            for a in self.body.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    @property
    def card_text(self) -> str:
        """Every TextBlock/label text of the first card, joined (for assertions)."""
        out: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key in ("text", "label", "title", "value"):
                    if isinstance(node.get(key), str):
                        out.append(node[key])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(self.cards[0] if self.cards else {})
        return "\n".join(out)


@dataclass
class FakeConnector:
    """Start with ``await connector.start()``; ``url`` is the serviceUrl to put in activities."""

    forbidden: set[str] = field(default_factory=set)
    records: list[Sent] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    #: conversation id -> the user it was created for (so 403s follow the user into their chat).
    _members: dict[str, str] = field(default_factory=dict)
    _held: asyncio.Event | None = None

    async def start(self) -> FakeConnector:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def stop(self) -> None:
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()

    def forbid(self, user_id: str) -> None:
        """Answer 403 for anything addressed to this user (Teams id or AAD object id)."""
        self.forbidden.add(user_id.lower())

    def clear(self) -> None:
        self.records.clear()

    def hold(self) -> None:
        """The next message send (or reply) arrives and is recorded, but is answered only on ``release()``."""
        self._held = asyncio.Event()

    def release(self) -> None:
        if self._held is not None:
            self._held.set()
        self._held = None

    # --- queries ----------------------------------------------------------------------------------------
    def of(self, kind: str, conversation: str | None = None) -> list[Sent]:
        return [
            r
            for r in self.records
            if r.kind == kind and (conversation is None or r.conversation == conversation)
        ]

    def messages(self, conversation: str | None = None) -> list[Sent]:
        """Sends and replies (not typing, not updates), in order."""
        return [
            r
            for r in self.records
            if r.kind in ("send", "reply") and (conversation is None or r.conversation == conversation)
        ]

    async def wait_for(self, count: int, kind: str = "message", timeout: float = 10.0) -> list[Sent]:
        """Wait until at least ``count`` records of ``kind`` ("message" = sends + replies) arrived."""

        def matching() -> list[Sent]:
            return self.messages() if kind == "message" else self.of(kind)

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()

    # --- the wire ---------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        raw = request.raw_path.split("?", 1)[0]
        parts = raw.strip("/").split("/")
        body: dict[str, Any] = await request.json() if request.can_read_body else {}
        now = asyncio.get_running_loop().time()
        if parts[:2] != ["v3", "conversations"]:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        if len(parts) == 2 and request.method == "POST":
            members = [m.get("id", "").lower() for m in body.get("members") or []]
            if any(m in self.forbidden for m in members):
                await self._record(Sent("create", "POST", raw, None, body, now), forbidden=True)
                return _forbidden()
            conversation = f"a:created-{next(self._ids)}"
            self._members[conversation] = members[0] if members else ""
            await self._record(Sent("create", "POST", raw, conversation, body, now))
            return web.json_response(
                {"id": conversation, "activityId": f"created-activity-{next(self._ids)}"}
            )
        conversation = unquote(parts[2]) if len(parts) > 2 else None
        recipient = (
            (body.get("recipient") or {}).get("aadObjectId") or (body.get("recipient") or {}).get("id") or ""
        )
        if recipient.lower() in self.forbidden or self._members.get(conversation or "", "") in self.forbidden:
            await self._record(
                Sent("forbidden", request.method, raw, conversation, body, now), forbidden=True
            )
            return _forbidden()
        if request.method == "PUT":
            kind = "update"
        elif body.get("type") == "typing":
            kind = "typing"
        else:
            kind = "reply" if len(parts) > 4 else "send"
        new_id = f"activity-{next(self._ids)}"
        await self._record(Sent(kind, request.method, raw, conversation, body, now, new_id))
        held = self._held
        if held is not None and kind in ("send", "reply"):
            self._held = None
            await held.wait()
        return web.json_response({"id": new_id}, status=200)

    async def _record(self, sent: Sent, *, forbidden: bool = False) -> None:
        async with self._changed:
            self.records.append(sent)
            self._changed.notify_all()


def _forbidden() -> web.Response:
    return web.json_response(
        {"error": {"code": "Forbidden", "message": "The bot is not installed for this user."}}, status=403
    )


# --- activities of real shape (PROTOCOLS.md 2.1), as Teams posts them to /api/messages ---------------------

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
BOT = {"id": "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c", "name": "policybot"}
CHANNEL = "19:6848757105754c8981c67612732d9aa7@thread.tacv2"
TEAM = "19:66P469zibfbsGI-_a0aN_toLTZpyzS6u7CT3TsXdgPw1@thread.tacv2"
_activity_ids = itertools.count(1485983408511)


@dataclass(frozen=True)
class TeamsUser:
    """A person in Teams: ``aad`` is their Entra ID object id (the directory's teams_id)."""

    name: str
    aad: str

    @property
    def id(self) -> str:
        return f"29:1{self.aad.replace('-', '')}"

    @property
    def chat(self) -> str:
        """Their personal chat with the bot."""
        return f"a:1{self.aad.replace('-', '')}"

    def account(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad}


def _base(service_url: str, user: TeamsUser, conversation: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(next(_activity_ids)),
        "timestamp": "2026-11-26T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": user.account(),
        "conversation": {**conversation, "tenantId": TENANT},
        "recipient": dict(BOT),
        "locale": "en-GB",
        "entities": [{"type": "clientInfo", "locale": "en-GB", "country": "GB", "platform": "Web"}],
        "channelData": {"tenant": {"id": TENANT}},
    }


def personal_message(service_url: str, user: TeamsUser, text: str) -> dict[str, Any]:
    activity = _base(service_url, user, {"conversationType": "personal", "id": user.chat})
    return {**activity, "type": "message", "textFormat": "plain", "text": text}


def channel_mention(
    service_url: str, user: TeamsUser, text: str, *, thread: str = "1759881511856"
) -> dict[str, Any]:
    activity = _base(
        service_url,
        user,
        {"isGroup": True, "conversationType": "channel", "id": f"{CHANNEL};messageid={thread}"},
    )
    mention = f"<at>{BOT['name']}</at>"
    return {
        **activity,
        "type": "message",
        "textFormat": "plain",
        "text": f"{mention} {text}",
        "entities": [{"type": "mention", "text": mention, "mentioned": dict(BOT)}, *activity["entities"]],
        "attachments": [{"contentType": "text/html", "content": f"<p>{BOT['name']}&nbsp;{text}</p>"}],
        "channelData": {
            "teamsChannelId": CHANNEL,
            "teamsTeamId": TEAM,
            "channel": {"id": CHANNEL},
            "team": {"id": TEAM},
            "tenant": {"id": TENANT},
        },
    }


def card_submit(service_url: str, user: TeamsUser, value: dict[str, Any], *, reply_to: str) -> dict[str, Any]:
    """An Action.Submit click: a message with no text and the card's data merged with its inputs."""
    activity = _base(service_url, user, {"conversationType": "personal", "id": user.chat})
    return {**activity, "type": "message", "replyToId": reply_to, "value": value}


def installed(service_url: str, user: TeamsUser) -> dict[str, Any]:
    """conversationUpdate when a person installs the app in personal scope (the bot is the member added)."""
    activity = _base(service_url, user, {"conversationType": "personal", "id": user.chat})
    return {**activity, "type": "conversationUpdate", "membersAdded": [dict(BOT)]}


def feedback_invoke(service_url: str, user: TeamsUser, *, reply_to: str, reaction: str) -> dict[str, Any]:
    """A click on Teams' own thumbs up/down (feedback loop), then "Submit" on its dialog."""
    activity = _base(service_url, user, {"conversationType": "personal", "id": user.chat})
    return {
        **activity,
        "type": "invoke",
        "name": "message/submitAction",
        "replyToId": reply_to,
        "value": {
            "actionName": "feedback",
            "actionValue": {"reaction": reaction, "feedback": '{"feedbackText":"typed by the user"}'},
        },
    }
