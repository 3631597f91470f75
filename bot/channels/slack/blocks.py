"""Block Kit rendering of a ``Reply`` (answers, quick guidance, notices), kept inside Block Kit's limits.

Limits (slack_sdk / docs.slack.dev): section text 3,000 characters, 50 blocks per message, 100 per view,
button value 2,000, context elements 10. Quotes are verbatim policy text: they are only escaped (``&<>``,
which Slack renders back as the same characters), never rewritten; a quote too long for one section is split
across several, never cut.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.domain import Citation, Reply, ReplyKind

__all__ = [
    "ACTION_FEEDBACK",
    "ACTION_READ_POLICY",
    "ACTION_REPORT",
    "MAX_MESSAGE_BLOCKS",
    "MAX_SECTION_TEXT",
    "MAX_VIEW_BLOCKS",
    "Block",
    "answer_blocks",
    "escape",
    "fallback_text",
    "feedback_value",
    "guidance_blocks",
    "parse_feedback_value",
    "section",
    "sections",
]

Block = dict[str, Any]

MAX_SECTION_TEXT = 3000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_BUTTON_VALUE = 2000
#: Notification/fallback ``text`` kept well under Slack's 40k truncation.
MAX_FALLBACK_TEXT = 3000

ACTION_REPORT = "report_open"
ACTION_READ_POLICY = "read_policy"
ACTION_FEEDBACK = "feedback"  # action ids feedback_helpful / feedback_not_helpful


def escape(text: str) -> str:
    """Slack mrkdwn control characters (the only escaping Slack asks for)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _split(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` characters, broken at paragraph, line or word ends where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut <= limit // 2:
            cut = limit
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ") if cut < limit else rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def section(text: str) -> Block:
    """One mrkdwn section; ``text`` must already fit (use ``sections`` for long text)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}}


def sections(text: str, *, quote: bool = False) -> list[Block]:
    """Long text as as many sections as it needs (each under 3,000 characters after quoting)."""
    return _sections(escape(text), quote, MAX_SECTION_TEXT - 200 if quote else MAX_SECTION_TEXT)


def _sections(escaped: str, quote: bool, limit: int) -> list[Block]:
    out = []
    for piece in _split(escaped, limit):
        body = "\n".join("> " + line for line in piece.split("\n")) if quote else piece
        if len(body) > MAX_SECTION_TEXT:  # many short quoted lines: split this piece finer
            out.extend(_sections(piece, quote, limit // 2))
        else:
            out.append(section(body))
    return out


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}]}


def citation_line(c: Citation) -> str:
    """Document, section number and title, version and link: the context line under each quote."""
    parts = [f"*{escape(c.doc_title)}*", escape(c.place)]
    if c.version:
        parts.append(f"version {escape(c.version)}")
    if c.url:
        parts.append(f"<{c.url}|open the document>")
    return " · ".join(parts)


def _citation_blocks(c: Citation) -> list[Block]:
    return [*sections(c.quote, quote=True), _context(citation_line(c))]


def _button(text: str, action_id: str, value: str = "", *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
    }
    if value:
        button["value"] = value[:MAX_BUTTON_VALUE]
    if style:
        button["style"] = style
    return button


def feedback_value(reply: Reply) -> str:
    """What a feedback click needs to store: reply id and the cited document, version and sections."""
    first = reply.citations[0] if reply.citations else None
    data: dict[str, Any] = {
        "r": reply.id,
        "d": first.doc_id if first else None,
        "v": first.version if first else None,
        "s": [c.section for c in reply.citations][:20],
    }
    value = json.dumps(data, separators=(",", ":"))
    while len(value) > MAX_BUTTON_VALUE and data["s"]:
        data["s"] = data["s"][:-1]
        value = json.dumps(data, separators=(",", ":"))
    return value


def parse_feedback_value(value: str) -> dict[str, Any]:
    """The stored fields of a feedback button; raises ValueError when it is not ours."""
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("r"), str) or not data["r"]:
        raise ValueError("not a feedback value")
    return data


def _fit(body: list[Block], tail: list[Block], limit: int) -> list[Block]:
    """Body blocks then tail blocks, dropping body blocks from the end (with a note) to stay within limit."""
    if len(body) + len(tail) <= limit:
        return body + tail
    keep = body[: max(0, limit - len(tail) - 1)]
    return [*keep, _context("_(Shortened to fit in Slack; ask a narrower question for the rest.)_"), *tail]


def prose(reply: Reply) -> str:
    """The reply's own words without the quotes it renders inline (the blocks show those as quotes)."""
    text = reply.text
    for c in reply.citations:
        head = c.heading
        text = text.replace(f"{head} ({c.doc_title}, version {c.version}):\n“{c.quote}”", "")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def answer_blocks(reply: Reply, *, feedback: bool = True, report_button: bool | None = None) -> list[Block]:
    """An answer: text, verbatim quotes each with its context line, report and feedback buttons."""
    body: list[Block] = sections(prose(reply))
    for citation in reply.citations:
        body.extend(_citation_blocks(citation))
    if reply.kind is ReplyKind.NO_ANSWER and reply.nearest:
        near = "; ".join(
            f"{escape(s.doc_title)} {escape(s.section)} {escape(s.section_title)}" for s in reply.nearest
        )
        body.append(_context(f"Nearest sections: {near}"))
    if reply.related:
        rel = "; ".join(f"{escape(r.title)} (owner: {escape(r.owner)})" for r in reply.related)
        body.append(_context(f"Related documents: {rel}"))
    if reply.contacts and reply.kind is not ReplyKind.ANSWER:
        who = "; ".join(
            f"{escape(c.name)}, {escape(c.role)}" + (f" ({escape(c.how)})" if c.how else "")
            for c in reply.contacts
        )
        body.append(_context(f"Who to ask: {who}"))
    buttons: list[Block] = []
    if reply.suggest_report if report_button is None else report_button:
        buttons.append(_button("Report this privately", ACTION_REPORT, "reply", style="primary"))
    if feedback and reply.id:
        value = feedback_value(reply)
        buttons.append(_button("Helpful", f"{ACTION_FEEDBACK}_helpful", value))
        buttons.append(_button("Not helpful", f"{ACTION_FEEDBACK}_not_helpful", value))
    tail = [{"type": "actions", "block_id": "reply_actions", "elements": buttons}] if buttons else []
    return _fit(body, tail, MAX_MESSAGE_BLOCKS)


def guidance_blocks(
    reply: Reply, *, policy_url: str | None, doc_id: str | None, limit: int = MAX_MESSAGE_BLOCKS
) -> list[Block]:
    """Quick guidance: the rules staff most need, quoted and cited, with Report and Read-the-policy buttons."""
    body: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Quick guidance", "emoji": True}},
        *sections(reply.text),
    ]
    for citation in reply.citations:
        body.extend(_citation_blocks(citation))
    read = _button("Read the full policy", ACTION_READ_POLICY, doc_id or "")
    if policy_url:
        read["url"] = policy_url
    tail = [
        {
            "type": "actions",
            "block_id": "guidance_actions",
            "elements": [_button("Report a concern", ACTION_REPORT, "guidance", style="primary"), read],
        }
    ]
    return _fit(body, tail, limit)


def fallback_text(reply: Reply) -> str:
    """The notification / screen-reader text of a message (plain, bounded)."""
    text = reply.text
    if reply.citations:
        c = reply.citations[0]
        text += f"\n\n“{c.quote}” ({c.doc_title}, {c.place})"
    return text[:MAX_FALLBACK_TEXT]


def quotes_of(blocks: Sequence[Block]) -> str:
    """All section text of some blocks (tests and logs-free debugging)."""
    return "\n".join(b["text"]["text"] for b in blocks if b.get("type") == "section")
