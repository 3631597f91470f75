"""Reading and building Bot Framework activities: who sent one (their Entra object id), in which tenant,
whether it came from a personal chat, and a card wrapped as an activity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from botbuilder.schema import Activity, ActivityTypes, Attachment, Entity

from bot.channels.teams import cards

__all__ = ["MSTEAMS", "MessageEntity", "aad", "card_activity", "is_personal", "status_of", "tenant"]

MSTEAMS = "msteams"


class MessageEntity(Entity):
    """An Entity that keeps every property (botbuilder's ``Entity`` would drop all but ``type``)."""

    _attribute_map: ClassVar[dict[str, dict[str, str]]] = {
        "type": {"key": "type", "type": "str"},
        "additional_properties": {"key": "", "type": "{object}"},
    }

    def __init__(self, content: Mapping[str, Any]) -> None:
        rest = {k: v for k, v in content.items() if k != "type"}
        super().__init__(type=content["type"])
        self.additional_properties = rest


def card_activity(card: dict[str, Any], *, text: str | None = None) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        text=text,
        attachments=[Attachment(content_type=cards.CARD_CONTENT_TYPE, content=card)],
    )


def aad(activity: Activity) -> str:
    """The person's stable identity: the Entra ID (AAD) object id, else the Teams user id."""
    sender = activity.from_property
    return str(getattr(sender, "aad_object_id", None) or sender.id).lower()


def tenant(activity: Activity) -> str | None:
    conversation = activity.conversation
    tenant = getattr(conversation, "tenant_id", None)
    if not tenant and isinstance(activity.channel_data, Mapping):
        tenant = (activity.channel_data.get("tenant") or {}).get("id")
    return str(tenant) if tenant else None


def is_personal(activity: Activity) -> bool:
    conversation = activity.conversation
    kind = getattr(conversation, "conversation_type", None)
    return kind == "personal" or (kind is None and not getattr(conversation, "is_group", False))


def status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(code) if code else None
