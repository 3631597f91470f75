"""Reading and building Bot Framework activities: whether a posted body is structurally an Activity at all,
who sent one (their Entra object id), in which tenant, whether it came from a personal chat, and a card wrapped
as an activity.

Why ``problem`` exists: msrest's deserialiser accepts a number where a string belongs (``from.id: [1]``) and
the handler would trip over it later; everything the edge and the handler read is checked here first, so a
broken body is a 400 with a fixed reason, never a 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from botbuilder.schema import Activity, ActivityTypes, Attachment, Entity

from bot.channels.teams import cards

__all__ = [
    "MSTEAMS",
    "MessageEntity",
    "aad",
    "card_activity",
    "is_personal",
    "problem",
    "status_of",
    "tenant",
]

MSTEAMS = "msteams"

_TOP_STRINGS = ("id", "channelId", "text", "name", "locale", "replyToId", "textFormat", "callerId", "action")
_ACCOUNTS = {
    "from": ("id", "name", "aadObjectId", "role"),
    "recipient": ("id", "name", "aadObjectId", "role"),
    "conversation": ("id", "name", "tenantId", "conversationType", "aadObjectId", "role"),
}
_LISTS = ("entities", "attachments", "membersAdded", "membersRemoved", "reactionsAdded", "reactionsRemoved")


def problem(body: Mapping[str, Any]) -> str | None:
    """Why this JSON object is not an Activity the edge can handle (a fixed phrase naming the field), or None."""
    kind = body.get("type")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        return "'type' is not a string"
    for key in _TOP_STRINGS:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"'{key}' is not a string"
    service_url = body.get("serviceUrl")
    if not isinstance(service_url, str):
        return "'serviceUrl' is not a string"
    try:
        parts = urlsplit(service_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "'serviceUrl' is not an http(s) URL"
    except ValueError:
        return "'serviceUrl' is not an http(s) URL"
    for key, fields in _ACCOUNTS.items():
        account = body.get(key)
        if not isinstance(account, dict):
            return f"'{key}' is not an object"
        if not isinstance(account.get("id"), str) or not account["id"]:
            return f"'{key}.id' is not a string"
        if any(account.get(f) is not None and not isinstance(account[f], str) for f in fields):
            return f"'{key}' has a field that is not a string"
        if account.get("isGroup") is not None and not isinstance(account["isGroup"], bool):
            return f"'{key}.isGroup' is not a boolean"
    if body.get("channelData") is not None and not isinstance(body["channelData"], dict):
        return "'channelData' is not an object"
    for key in _LISTS:
        items = body.get(key)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
            return f"'{key}' is not a list of objects"
    for item in body.get("entities") or []:
        if not isinstance(item.get("type"), str):
            return "'entities' has an entity without a type"
    for item in body.get("attachments") or []:
        if item.get("contentType") is not None and not isinstance(item["contentType"], str):
            return "'attachments' has a contentType that is not a string"
    for item in (body.get("membersAdded") or []) + (body.get("membersRemoved") or []):
        if not isinstance(item.get("id"), str):
            return "'members' has a member without an id"
    return None


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
        given = activity.channel_data.get("tenant")
        tenant = given.get("id") if isinstance(given, Mapping) else None
    return str(tenant) if tenant else None


def is_personal(activity: Activity) -> bool:
    conversation = activity.conversation
    kind = getattr(conversation, "conversation_type", None)
    return kind == "personal" or (kind is None and not getattr(conversation, "is_group", False))


def status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(code) if code else None
