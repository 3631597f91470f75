"""The Slack ``Notifier``: bland case notices by direct message, with "Open case" and "Acknowledge" buttons.

Registered on start-up with the reports core's ``NotifierRegistry``; reaches anyone whose directory entry (or
reporter identity) has a Slack member id. Transient Web API failures (``ratelimited`` with Retry-After, 5xx,
connection errors) are retried here with backoff a few times, then handed back as RETRY so the outbox worker
backs off further; a person Slack cannot DM (unknown user, deactivated account) is UNDELIVERABLE.

Effectively once: every notice carries its outbox delivery key in the message ``metadata``
(``event_type`` "policybot_notice", ``event_payload`` ``{"delivery": key}``). Before a second attempt the worker
asks ``already_delivered``, which reads the DM's recent history (``conversations.history`` with
``include_all_metadata``, from just before the lost claim) for that key: a post that got through while its
worker was killed is found and not sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack.blocks import Block, escape, section
from bot.reports.notify import Address, Delivery, DeliveryStatus, Notice, NoticeEvent

__all__ = [
    "ACTION_CASE_ACK",
    "ACTION_CASE_OPEN",
    "NOTICE_EVENT_TYPE",
    "SlackNotifier",
    "notice_blocks",
    "send_with_retries",
]

log = logging.getLogger(__name__)

ACTION_CASE_OPEN = "case_open"
ACTION_CASE_ACK = "case_ack"
#: The message metadata type that carries a notice's delivery key.
NOTICE_EVENT_TYPE = "policybot_notice"
#: How many recent DM messages to look through for a notice that may have been sent already.
HISTORY_LIMIT = 50

#: Errors that mean this person cannot be reached on Slack at all (retrying will not help).
UNREACHABLE = frozenset(
    {
        "user_not_found",
        "users_not_found",
        "channel_not_found",
        "account_inactive",
        "user_disabled",
        "cannot_dm_bot",
        "is_archived",
        "not_allowed_token_type",
        "user_is_bot",
    }
)


class Transient(Exception):
    """A failure worth retrying later; ``detail`` is an error class or status, never content."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def notice_blocks(notice: Notice) -> list[Block]:
    """The notice text plus, for recipients, the two case buttons (the reporter's notice has none)."""
    blocks: list[Block] = [section(escape(notice.text))]
    if notice.event in (
        NoticeEvent.NEW_CASE,
        NoticeEvent.ESCALATED,
        NoticeEvent.UNDELIVERED,
        NoticeEvent.CHAIN_EXHAUSTED,
    ):
        blocks.append(
            {
                "type": "actions",
                "block_id": f"case_{notice.reference}",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open case"},
                        "action_id": ACTION_CASE_OPEN,
                        "value": notice.reference,
                        "style": "primary",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Acknowledge"},
                        "action_id": ACTION_CASE_ACK,
                        "value": notice.reference,
                    },
                ],
            }
        )
    return blocks


async def send_with_retries(
    call: Callable[[], Awaitable[Any]],
    *,
    attempts: int = 3,
    max_wait: float = 5.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Any:
    """Run one Web API call, retrying ratelimited (honouring Retry-After, up to ``max_wait``), 5xx and
    connection errors with exponential backoff. Raises Transient when retries run out; other Slack errors
    (``SlackApiError``) are raised as they are."""
    detail = ""
    for attempt in range(attempts):
        wait = min(max_wait, 0.25 * 2**attempt * (1 + random.random()))
        try:
            return await call()
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
            if status == 429 or error == "ratelimited":
                detail = "ratelimited"
                retry_after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                    "retry-after"
                )
                with contextlib.suppress(ValueError):
                    wait = float(retry_after) if retry_after is not None else wait
                if wait > max_wait:
                    raise Transient(detail) from None  # the worker's own backoff waits longer
            elif status >= 500 or error in ("internal_error", "fatal_error", "service_unavailable"):
                detail = f"http_{status}" if status >= 500 else error
            else:
                raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            detail = type(exc).__name__
        if attempt + 1 < attempts:
            await sleep(wait)
    raise Transient(detail or "failed")


class SlackNotifier:
    """Direct messages through the Web API at ``base_url`` (``SLACK_API_URL``)."""

    name = "slack"

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        attempts: int = 3,
        max_wait: float = 5.0,
        client: AsyncWebClient | None = None,
    ) -> None:
        self.client = client or AsyncWebClient(token=token, base_url=base_url)
        self.attempts = attempts
        self.max_wait = max_wait

    def can_reach(self, address: Address) -> bool:
        return bool(address.slack_id)

    async def _dm(self, slack_id: str) -> str:
        opened = await send_with_retries(
            lambda: self.client.conversations_open(users=slack_id),
            attempts=self.attempts,
            max_wait=self.max_wait,
        )
        return str(opened["channel"]["id"])

    async def already_delivered(self, address: Address, notice: Notice, since: datetime) -> bool:
        """Whether a message carrying ``notice.key`` in its metadata is in the DM since ``since``."""
        if not address.slack_id:
            return False
        channel = await self._dm(address.slack_id)
        history = await send_with_retries(
            lambda: self.client.conversations_history(
                channel=channel,
                oldest=f"{since.timestamp():.6f}",
                limit=HISTORY_LIMIT,
                include_all_metadata=True,
            ),
            attempts=self.attempts,
            max_wait=self.max_wait,
        )
        for message in history.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == NOTICE_EVENT_TYPE and payload.get("delivery") == notice.key:
                return True
        return False

    async def send(self, address: Address, notice: Notice) -> Delivery:
        if not address.slack_id:
            return Delivery(DeliveryStatus.UNDELIVERABLE, "no_slack_id")
        try:
            channel = await self._dm(address.slack_id)
            await send_with_retries(
                lambda: self.client.chat_postMessage(
                    channel=channel,
                    text=notice.text,
                    blocks=notice_blocks(notice),
                    metadata={"event_type": NOTICE_EVENT_TYPE, "event_payload": {"delivery": notice.key}},
                ),
                attempts=self.attempts,
                max_wait=self.max_wait,
            )
        except Transient as exc:
            log.warning("slack notice %s to %s: retry later (%s)", notice.key, address.label, exc.detail)
            return Delivery(DeliveryStatus.RETRY, exc.detail)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
            status = DeliveryStatus.UNDELIVERABLE if error in UNREACHABLE else DeliveryStatus.RETRY
            log.warning("slack notice %s to %s: %s (%s)", notice.key, address.label, status.value, error)
            return Delivery(status, error or f"http_{exc.response.status_code}")
        return Delivery(DeliveryStatus.DELIVERED)

    async def close(self) -> None:
        session = getattr(self.client, "session", None)
        if session is not None and not session.closed:
            await session.close()
