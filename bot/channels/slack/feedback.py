"""The feedback buttons of a Slack answer ("Helpful" / "Not helpful"): stored per reply and user, latest click
wins. A mixin of ``SlackEdge`` (kept apart so each module stays small); it uses only ``self.services``."""

from __future__ import annotations

import logging
from typing import Any

from bot.channels.services import Services
from bot.channels.slack.blocks import parse_feedback_value
from bot.channels.slack.messages import has_nul
from bot.domain import Channel

__all__ = ["FeedbackListeners"]

log = logging.getLogger(__name__)


class FeedbackListeners:
    services: Services

    async def _on_feedback(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        """Store the click before acknowledging it, so clicks are stored in the order Slack sent them (the
        latest wins); a single upsert is well inside the 3 seconds."""
        try:
            data = parse_feedback_value(str(action.get("value", "")))
        except (ValueError, RecursionError):
            data = {}
        sections = data.get("s") or []
        readable = _optional_str(data.get("d"), data.get("v")) and isinstance(sections, list)
        if not data or not readable or has_nul(data):  # NUL: PostgreSQL cannot store it
            await ack()
            log.warning("slack feedback with an unreadable value ignored")
            return
        helpful = action.get("action_id") == "feedback_helpful"
        try:
            await self.services.feedback.record(
                reply_id=data["r"],
                user_key=f"slack:{body['user']['id']}",
                helpful=helpful,
                channel=Channel.SLACK.value,
                doc_id=data.get("d"),
                doc_version=data.get("v"),
                sections=[str(s) for s in sections],
            )
        finally:
            await ack()
        if body.get("response_url"):
            thanks = (
                "Thanks, glad it helped."
                if helpful
                else "Thanks for telling me; it helps improve the answers."
            )
            await respond(text=thanks, response_type="ephemeral", replace_original=False)


def _optional_str(*values: object) -> bool:
    return all(v is None or isinstance(v, str) for v in values)
