"""App Home: what policybot is for, quick guidance, a Report button, my reports and (for recipients) my cases.

Only statuses, references and categories appear here (never report text): the Home tab is often on screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.channels.slack.blocks import MAX_VIEW_BLOCKS, Block, guidance_blocks, section
from bot.channels.slack.notifier import ACTION_CASE_OPEN
from bot.domain import Reply
from bot.reports.model import CaseSummary, ReportStatus

__all__ = ["INTRO", "home_view"]

INTRO = (
    "*policybot* answers questions about the council's social media policy, quoting the policy's own words "
    "with the section they come from. Message me here, mention me in a channel, or type `/policy` anywhere.\n"
    "You can also *report a concern privately*: it goes only to the right person, never to the person it is "
    "about. If anyone is in immediate danger, call 999."
)
MAX_LISTED = 15


def _report_line(r: ReportStatus) -> str:
    ack = "acknowledged" if r.acknowledged else "not yet acknowledged"
    return f"• *{r.reference}* · {r.category.short} · {r.status.value} · {ack} · sent {r.created_at:%d %b %Y}"


def home_view(
    *,
    guidance: Reply,
    policy_url: str | None,
    doc_id: str | None,
    reports: Sequence[ReportStatus],
    cases: Sequence[CaseSummary] | None,
) -> dict[str, Any]:
    """The Home tab for one user; ``cases`` is None for someone who is not in the directory."""
    top: list[Block] = [section(INTRO)]
    mine: list[Block] = [{"type": "divider"}, section("*Your reports*")]
    if reports:
        lines = [_report_line(r) for r in reports[:MAX_LISTED]]
        if len(reports) > MAX_LISTED:
            lines.append(f"…and {len(reports) - MAX_LISTED} older")
        mine.append(section("\n".join(lines)))
    else:
        mine.append(section("You have not made any reports."))
    routed: list[Block] = []
    if cases:
        routed = [{"type": "divider"}, section("*Cases routed to you*")]
        for case in cases[:MAX_LISTED]:
            due = f" · acknowledge by {case.ack_due_at:%d %b %H:%M} UTC" if case.ack_due_at else ""
            state = "acknowledged" if case.acknowledged else "not acknowledged"
            block = section(f"*{case.reference}* · {case.category.short} · {state}{due}")
            block["accessory"] = {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open case"},
                "action_id": ACTION_CASE_OPEN,
                "value": case.reference,
            }
            routed.append(block)
    room = MAX_VIEW_BLOCKS - len(top) - len(mine) - len(routed)
    guide = guidance_blocks(guidance, policy_url=policy_url, doc_id=doc_id, limit=max(room, 3))
    return {"type": "home", "blocks": [*top, *guide, *mine, *routed]}
