"""Slack events as the core's ``Message``: the follow-up context key of a DM or thread, mentions stripped, and
whether a reply is report-like (and so kept to the DM)."""

from __future__ import annotations

import re
from typing import Any

from bot.domain import Channel, Intent, Message, Reply, User
from bot.reports.directory import Person

__all__ = ["conversation_key", "is_direct", "report_like", "to_message"]

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def conversation_key(channel: str, thread_ts: str | None, *, direct: bool) -> str:
    """Follow-up context key: a DM (or a thread in it), or a channel thread."""
    if direct and not thread_ts:
        return f"slack:{channel}"
    return f"slack:{channel}:{thread_ts}"


def is_direct(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == "im" or str(event.get("channel", "")).startswith("D")


def to_message(event: dict[str, Any], *, person: Person | None = None) -> Message:
    """A ``message`` / ``app_mention`` event as the core's Message (mentions stripped)."""
    channel = str(event.get("channel", ""))
    direct = is_direct(event)
    thread = event.get("thread_ts") or (None if direct else event.get("ts"))
    text = _MENTION.sub(" ", str(event.get("text") or "")).strip()
    user = User(
        id=str(event.get("user", "")), channel=Channel.SLACK, directory_id=person.id if person else None
    )
    return Message(
        text=text,
        user=user,
        conversation=conversation_key(channel, thread, direct=direct),
        channel=Channel.SLACK,
        private=direct,
    )


def report_like(reply: Reply) -> bool:
    return reply.suggest_report or reply.intent in (Intent.REPORT, Intent.URGENT)
