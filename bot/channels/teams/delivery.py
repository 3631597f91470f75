"""Delivery to Bot Framework: ``Courier`` reaches a person's personal chat proactively (a stored conversation
reference, else ``create_conversation`` with the tenant id); ``TeamsNotifier`` sends the reports core's bland
notices through it. Logs carry ids and error classes only.

Teams delivery is AT-LEAST-ONCE, not effectively once. Each notice carries a stable delivery key (the outbox's
``case/recipient/event``, in the activity's ``channelData`` as ``{"policybotDelivery": key}``) and logs name
it, but the Bot Framework connector offers a bot no way to read back a personal conversation's history, so a
worker killed after Teams accepted a notice and before the outbox recorded it cannot find out: the next worker
sends it again (the recipient sees the same notice, same key, twice). ``TeamsNotifier`` therefore does not
implement ``DeliveryCheck``; Slack does (see ``bot/channels/slack/notifier.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    ErrorResponseException,
)
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.channels.services import Services
from bot.channels.teams import cards
from bot.channels.teams.activities import MSTEAMS, aad, card_activity, is_personal, status_of, tenant
from bot.reports.notify import Address, Delivery, DeliveryStatus, Notice, NoticeEvent

__all__ = ["DELIVERY_KEY", "REFS_CHANNEL", "Courier", "TeamsNotifier"]

log = logging.getLogger(__name__)

#: The ``channel`` under which personal-chat references are stored (keyed by lower-case AAD object id).
REFS_CHANNEL = "teams"
#: The ``channelData`` field carrying a notice's stable delivery key.
DELIVERY_KEY = "policybotDelivery"


@dataclass
class Courier:
    """Delivers activities to a person's personal chat: by stored reference, or by creating the chat."""

    adapter: CloudAdapter
    services: Callable[[], Services]
    app_id: str
    tenant_id: str | None
    service_url: str | None
    bot_id: str | None
    #: AAD ids whose personal-chat reference this process has stored or seen in the database.
    known: set[str] = field(default_factory=set)
    #: The reference last stored per AAD id by this process: an unchanged one is not written again.
    _saved: dict[str, dict[str, Any]] = field(default_factory=dict)

    def learn(self, activity: Activity) -> None:
        """Remember the tenant, service URL and bot id Teams uses, for chats nobody has opened yet."""
        self.tenant_id = self.tenant_id or tenant(activity)
        self.service_url = self.service_url or activity.service_url
        recipient = activity.recipient
        if recipient is not None and recipient.id and not self.bot_id:
            self.bot_id = recipient.id

    async def save(self, activity: Activity) -> None:
        """Store the personal-chat reference of the sender (never a channel's: notices must stay private)."""
        if not is_personal(activity) or activity.from_property is None:
            return
        key = aad(activity)
        reference = TurnContext.get_conversation_reference(activity).serialize()
        reference.pop("activityId", None)  # changes every message; not needed to continue the chat
        if self._saved.get(key) == reference:
            return
        await self.services().conversation_refs.save(REFS_CHANNEL, key, reference)
        self._saved[key] = reference
        self.known.add(key)

    def can_reach(self, aad: str) -> bool:
        return aad.lower() in self.known or bool(self.tenant_id and self.service_url)

    async def send(
        self, aad: str, activities: Sequence[Activity], *, member_id: str | None = None
    ) -> list[str]:
        """Send to ``aad``'s personal chat; returns the new activity ids. Connector errors propagate."""
        key = aad.lower()
        stored = await self.services().conversation_refs.get(REFS_CHANNEL, key)
        sent: list[str] = []
        failure: list[BaseException] = []

        async def deliver(turn: TurnContext) -> None:
            try:
                for activity in activities:
                    response = await turn.send_activity(activity)
                    sent.append(getattr(response, "id", "") or "")
            except Exception as exc:  # surfaced after the turn (the adapter would swallow it)
                failure.append(exc)

        if stored is not None:
            reference = ConversationReference().deserialize(stored)
            await self.adapter.continue_conversation(reference, deliver, bot_app_id=self.app_id)
        else:
            if not (self.tenant_id and self.service_url):
                raise LookupError("no conversation reference and no tenant id")
            bot = ChannelAccount(id=self.bot_id or f"28:{self.app_id}")
            member = ChannelAccount(id=member_id or key)
            params = ConversationParameters(
                is_group=False,
                bot=bot,
                members=[member],
                tenant_id=self.tenant_id,
                channel_data={"tenant": {"id": self.tenant_id}},
            )
            service_url = self.service_url

            async def created(turn: TurnContext) -> None:
                conversation = turn.activity.conversation
                reference = ConversationReference(
                    channel_id=MSTEAMS,
                    service_url=service_url,
                    bot=bot,
                    user=ChannelAccount(id=member.id, aad_object_id=key),
                    conversation=ConversationAccount(
                        id=conversation.id, conversation_type="personal", tenant_id=self.tenant_id
                    ),
                )
                await self.services().conversation_refs.save(REFS_CHANNEL, key, reference.serialize())
                self._saved.pop(key, None)
                self.known.add(key)
                await deliver(turn)

            await self.adapter.create_conversation(self.app_id, created, params, MSTEAMS, service_url)
        if failure:
            raise failure[0]
        return sent


class TeamsNotifier:
    """The reports core's notifier for Teams: bland notices with "Open case" / "Acknowledge" actions.

    At-least-once (see the module docstring): there is no ``already_delivered``, because a bot cannot read
    a personal chat's history through the Bot Framework connector."""

    name = "teams"

    def __init__(self, courier: Courier) -> None:
        self._courier = courier

    def can_reach(self, address: Address) -> bool:
        return bool(address.teams_id) and self._courier.can_reach(address.teams_id or "")

    async def send(self, address: Address, notice: Notice) -> Delivery:
        recipient = address.is_reporter is False and notice.event is not NoticeEvent.ACKNOWLEDGED
        card = cards.notice_card(notice.text, reference=notice.reference, actions=recipient)
        activity = card_activity(card, text=notice.text)
        activity.channel_data = {DELIVERY_KEY: notice.key}
        try:
            await self._courier.send(address.teams_id or "", [activity])
        except LookupError as exc:
            return Delivery(DeliveryStatus.UNDELIVERABLE, str(exc))
        except (ErrorResponseException, HttpOperationError) as exc:
            status = status_of(exc)
            log.warning("teams notice %s to %s refused: HTTP %s", notice.key, address.label, status)
            if status is not None and (status == 429 or status >= 500):
                return Delivery(DeliveryStatus.RETRY, f"HTTP {status}")
            return Delivery(DeliveryStatus.UNDELIVERABLE, f"HTTP {status}")
        except (ClientRequestError, ClientError, OSError, TimeoutError) as exc:
            return Delivery(DeliveryStatus.RETRY, type(exc).__name__)
        return Delivery(DeliveryStatus.DELIVERED)

    async def close(self) -> None:
        return None
