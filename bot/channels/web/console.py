"""The console: a direct-message conversation with policybot in the browser.

Questions go through ``Assistant.handle`` like any channel's; follow-ups keep context through a conversation
key derived from the browser's session. Without JavaScript every form posts and the page comes back with the
latest exchange; with it, the small script asks for just the new bubble and appends it. Feedback buttons
record the latest click; "Report this privately" opens the report form with the message already in it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.channels.web.pages import (
    directory_of,
    ensure_session,
    identity,
    is_fragment,
    render,
    services,
    web_state,
)
from bot.core.answer import Composer
from bot.domain import Channel, Message, Reply, ReplyKind, User
from bot.errors import PolicybotError

__all__ = ["Block", "reply_blocks", "routes"]

log = logging.getLogger(__name__)
MAX_QUESTION = 4_000


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of a rendered reply: a paragraph of prose, or the place the citation cards go."""

    kind: str  # "p" | "citations"
    text: str = ""


def reply_blocks(reply: Reply) -> tuple[str | None, list[Block]]:
    """The urgent first line (if any) and the reply's prose, with its quoted passages replaced by one
    ``citations`` block where they stood (the template renders them as cards with section badges)."""
    quoted = {Composer._render_citation(c) for c in reply.citations}
    paragraphs = [p for p in reply.text.split("\n\n") if p.strip()]
    urgent = None
    if reply.urgent and paragraphs:
        urgent = paragraphs.pop(0)
    blocks: list[Block] = []
    placed = False
    for paragraph in paragraphs:
        if paragraph in quoted:
            if not placed:
                blocks.append(Block("citations"))
                placed = True
            continue
        blocks.append(Block("p", paragraph))
    if reply.citations and not placed:
        blocks.append(Block("citations"))
    return urgent, blocks


def _feedback_meta(request: web.Request, reply: Reply) -> str:
    """What a feedback click records about the reply, signed so the form cannot be used to forge it."""
    first = reply.citations[0] if reply.citations else None
    data = json.dumps(
        {
            "r": reply.id,
            "d": first.doc_id if first else None,
            "v": first.version if first else None,
            "s": [c.section for c in reply.citations],
        },
        separators=(",", ":"),
    )
    keys = web_state(request).sessions.keys
    return f"{data}|{keys.hash('feedback-meta', data)}"


def _read_meta(request: web.Request, value: str) -> dict[str, Any] | None:
    data, _, signature = value.rpartition("|")
    if not data or web_state(request).sessions.keys.hash("feedback-meta", data) != signature:
        return None
    parsed: dict[str, Any] = json.loads(data)
    return parsed


async def _conversation_key(request: web.Request) -> str:
    session = await ensure_session(request)
    return "web:" + web_state(request).sessions.keys.hash("conversation", session.token)[:40]


async def _exchange(request: web.Request, reply: Reply, asked: str | None) -> dict[str, Any]:
    urgent, blocks = reply_blocks(reply)
    return {
        "asked": asked,
        "reply": reply,
        "urgent": urgent,
        "blocks": blocks,
        "meta": _feedback_meta(request, reply) if reply.id else "",
        "answered": reply.kind in (ReplyKind.ANSWER, ReplyKind.RELATED_DOCUMENT),
    }


async def _page(request: web.Request, exchanges: list[dict[str, Any]], **extra: Any) -> web.StreamResponse:
    if is_fragment(request):
        return await render(request, "_exchanges.html", {"exchanges": exchanges, **extra})
    people = sorted(directory_of(request).people.values(), key=lambda p: p.name)
    return await render(request, "console.html", {"exchanges": exchanges, "people": people, **extra})


async def console_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, [])


async def ask(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = str(form.get("text", "")).strip()
    if not text:
        return await _page(request, [], error="Type a question first.")
    if len(text) > MAX_QUESTION:
        return await _page(request, [], error=f"Please keep it under {MAX_QUESTION:,} characters.", text=text)
    person = identity(request)
    session = await ensure_session(request)
    user_id = (
        person.id if person else "session:" + web_state(request).sessions.keys.hash("u", session.token)[:24]
    )
    message = Message(
        text=text,
        user=User(
            id=user_id,
            channel=Channel.WEB,
            name=person.name if person else None,
            directory_id=person.id if person else None,
        ),
        conversation=await _conversation_key(request),
        channel=Channel.WEB,
        private=True,
    )
    try:
        reply = await services(request).assistant.handle(message)
    except PolicybotError as exc:
        log.warning("web console: answer failed (%s)", type(exc).__name__)
        return await _page(
            request, [], error="Sorry, I could not answer just now. Please try again.", text=text
        )
    log.info("web console: reply %s kind=%s", reply.id, reply.kind.value)
    return await _page(request, [await _exchange(request, reply, text)])


async def guidance(request: web.Request) -> web.StreamResponse:
    reply = await asyncio.to_thread(services(request).assistant.quick_guidance)
    return await _page(request, [await _exchange(request, reply, None)])


async def feedback(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    meta = _read_meta(request, str(form.get("meta", "")))
    helpful = form.get("helpful")
    if meta is None or helpful not in ("yes", "no"):
        raise web.HTTPBadRequest(text="That feedback could not be read.")
    person = identity(request)
    session = await ensure_session(request)
    user_key = f"person:{person.id}" if person else "web-session:" + session.token
    await services(request).feedback.record(
        reply_id=str(meta["r"]),
        user_key=user_key,
        helpful=helpful == "yes",
        channel=Channel.WEB.value,
        doc_id=meta.get("d"),
        doc_version=meta.get("v"),
        sections=[str(s) for s in meta.get("s", [])],
    )
    thanks = "Thanks: marked helpful." if helpful == "yes" else "Thanks: marked not helpful."
    if is_fragment(request):
        return web.Response(text=thanks, content_type="text/plain")
    return await _page(request, [], notice=thanks)


async def act_as(request: web.Request) -> web.StreamResponse:
    """Local mode: choose who the console acts as (not a sign-in: it opens no cases)."""
    state = web_state(request)
    if not state.local_mode:
        raise web.HTTPForbidden(text="Choosing who you are is only for local mode.")
    form = await request.post()
    person_id = str(form.get("person_id", "")).strip() or None
    if person_id is not None and directory_of(request).person(person_id) is None:
        raise web.HTTPBadRequest(text="Choose someone from the directory.")
    session = await ensure_session(request)
    await state.sessions.act_as(session, person_id)
    nxt = str(form.get("next", ""))
    location = nxt if nxt in ("/report", "/reports") else "/"
    return web.Response(status=303, headers={"Location": location})


def routes(app: web.Application, *, at_root: bool) -> None:
    base = "/" if at_root else "/console"
    app.router.add_get(base, console_page, name="web.console")
    if at_root:
        app.router.add_get("/console", console_page, name="web.console_alias")
    app.router.add_post("/console/ask", ask, name="web.ask")
    app.router.add_get("/console/guidance", guidance, name="web.guidance")
    app.router.add_post("/console/feedback", feedback, name="web.feedback")
    app.router.add_post("/console/as", act_as, name="web.act_as")
