"""The report and case listeners of the Slack edge: the report modal (button, shortcuts, submission) and the
"Open case" / "Acknowledge" buttons of a recipient's notice.

A mixin of ``SlackEdge`` (kept apart so each module stays small); it uses only ``self.services``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.services import Services
from bot.channels.slack.blocks import escape, section
from bot.channels.slack.modal import (
    CALLBACK_CASE,
    case_view,
    errors_for,
    parse_submission,
    refusal_view,
    report_view,
)
from bot.channels.slack.notifier import ACTION_CASE_OPEN
from bot.domain import Channel
from bot.errors import InputError, NotFound, StorageUnavailable
from bot.reports.directory import Person
from bot.reports.model import Reporter
from bot.reports.service import NOT_SAVED
from bot.reports.validate import clean_submission

__all__ = ["ReportListeners"]

log = logging.getLogger(__name__)


class ReportListeners:
    """Listeners for reports and cases; ``SlackEdge`` registers them."""

    services: Services

    def _person(self, slack_id: str) -> Person | None:
        return self.services.reports.directory.by_slack_id(slack_id) if slack_id else None

    async def _on_report_button(self, ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=report_view(source="button"))

    async def _on_case_open(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        reference = str(action.get("value", ""))
        person = self._person(body["user"]["id"])
        view = refusal_view(reference)
        if person is not None:
            # refused or unknown: the same words either way (the core records a refused attempt)
            with contextlib.suppress(NotFound, InputError):
                view = case_view(
                    await self.services.reports.service.show(reference, person),
                    self.services.reports.directory,
                )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def _on_case_ack(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        await ack()
        reference = str(action.get("value", ""))
        person = self._person(body["user"]["id"])
        try:
            if person is None:
                raise NotFound(reference)
            first = await self.services.reports.service.acknowledge(reference, person)
            note = (
                f"You acknowledged {reference}. The reporter has been told it is in hand."
                if first
                else f"You had already acknowledged {reference}."
            )
        except NotFound:
            note = refusal_view(reference)["blocks"][0]["text"]["text"]
        except InputError as exc:
            note = str(exc)
        container = body.get("container") or {}
        if container.get("type") == "view" and body.get("view"):
            await client.views_update(
                view_id=body["view"]["id"],
                view={
                    "type": "modal",
                    "callback_id": CALLBACK_CASE,
                    "title": {"type": "plain_text", "text": "Case"},
                    "close": {"type": "plain_text", "text": "Close"},
                    "blocks": [section(escape(note))],
                },
            )
            return
        message = body.get("message") or {}
        if container.get("type") == "message" and message.get("ts") and (body.get("channel") or {}).get("id"):
            kept = [b for b in message.get("blocks", []) if b.get("type") != "actions"]
            kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(note)}]})
            kept.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open case"},
                            "action_id": ACTION_CASE_OPEN,
                            "value": reference,
                        }
                    ],
                }
            )
            await client.chat_update(channel=body["channel"]["id"], ts=message["ts"], text=note, blocks=kept)
        elif body.get("response_url"):
            await respond(text=note, response_type="ephemeral", replace_original=False)

    # --- reports ----------------------------------------------------------------------------------------
    async def _on_report_shortcut(self, ack: Any, shortcut: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=shortcut["trigger_id"], view=report_view(source="shortcut"))

    async def _on_message_shortcut(self, ack: Any, shortcut: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        channel = (shortcut.get("channel") or {}).get("id")
        ts = (shortcut.get("message") or {}).get("ts") or shortcut.get("message_ts")
        link = ""
        if channel and ts:
            try:
                link = str((await client.chat_getPermalink(channel=channel, message_ts=ts))["permalink"])
            except (SlackApiError, aiohttp.ClientError, TimeoutError, KeyError) as exc:
                log.warning("slack permalink not found (%s)", type(exc).__name__)
        await client.views_open(
            trigger_id=shortcut["trigger_id"], view=report_view(evidence=link, source="message")
        )

    async def _on_report_submit(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Validate (errors beside the field, text kept), save, show the reference in the modal; the
        confirmation DM is the outbox's RECEIVED notice."""
        user_id = str(body["user"]["id"])
        person = self._person(user_id)
        directory = self.services.reports.directory
        reporter = Reporter(channel=Channel.SLACK, id=user_id, person_id=person.id if person else None)
        try:
            submission = parse_submission(view, directory)
            clean_submission(submission, reporter, directory)
            receipt = await asyncio.wait_for(
                self.services.reports.service.submit(submission, reporter, idempotency_key=str(view["id"])),
                timeout=2.5,
            )
        except InputError as exc:
            await ack(response_action="errors", errors=errors_for(exc))
            return
        except (StorageUnavailable, TimeoutError) as exc:
            log.error("slack report not saved (%s)", type(exc).__name__)
            await ack(response_action="errors", errors={"description": NOT_SAVED})
            return
        # The modal shows the reference (the answer to their own click); the confirmation DM with it comes
        # from the outbox, so it is sent even if this process dies right after the commit.
        text = (
            f"Thank you. Your report *{receipt.reference}* ({receipt.category.short}) is saved and has gone "
            f"privately to {receipt.to_whom}, never to the person it is about. I'll message you when it has "
            "been acknowledged; your reports are listed on my Home tab. If anyone is in immediate danger, "
            "call 999."
        )
        await ack(
            response_action="update",
            view={
                "type": "modal",
                "title": {"type": "plain_text", "text": "Report saved"},
                "close": {"type": "plain_text", "text": "Close"},
                "blocks": [section(text)],
            },
        )
        log.info("slack report saved as %s", receipt.reference)
