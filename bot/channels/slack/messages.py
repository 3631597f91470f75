"""What Slack sends us, checked and translated: ``shape_problem`` says whether a parsed payload has the shape
Slack documents for the types we handle (Bolt and the listeners index into payloads, so a signed payload of
the wrong shape must be refused before them, not fail inside them), and events become the core's ``Message``
(the follow-up context key of a DM or thread, mentions stripped, whether a reply is report-like)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from yarl import URL

from bot.domain import Channel, Intent, Message, Reply, User
from bot.reports.directory import Person

__all__ = ["conversation_key", "fits", "has_nul", "is_direct", "report_like", "shape_problem", "to_message"]

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


# --- what a Slack request must look like -------------------------------------------------------------------
# Bolt and the listeners index into payloads (``body["user"]["id"]``, ``body["actions"][0]``, regexes over
# ``action_id``); a signed payload of the wrong shape would otherwise fail inside them. ``shape_problem`` checks
# every field either of them reads, with the types Slack documents, before Bolt sees the payload.


@dataclass(frozen=True)
class Obj:
    """A JSON object: ``fields`` (if present) have these shapes; ``required`` must be present."""

    fields: dict[str, Any]
    required: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ListOf:
    item: Any
    min_len: int = 0


@dataclass(frozen=True)
class MapOf:
    """A JSON object with any keys whose values all have the shape ``item``."""

    item: Any


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Any, ...]


def _obj(*required: str, **fields: Any) -> Obj:
    return Obj(fields, frozenset(required))


def fits(value: Any, spec: Any) -> bool:
    """Whether ``value`` has the shape ``spec`` (a type, a tuple of types, ``Obj``, ``ListOf``, ``MapOf``,
    ``AnyOf``)."""
    if isinstance(spec, Obj):
        return (
            isinstance(value, dict)
            and spec.required <= value.keys()
            and all(fits(value[k], s) for k, s in spec.fields.items() if k in value)
        )
    if isinstance(spec, ListOf):
        return (
            isinstance(value, list) and len(value) >= spec.min_len and all(fits(v, spec.item) for v in value)
        )
    if isinstance(spec, MapOf):
        return isinstance(value, dict) and all(fits(v, spec.item) for v in value.values())
    if isinstance(spec, AnyOf):
        return any(fits(value, s) for s in spec.options)
    return isinstance(value, spec)


_NONE = type(None)
_OPT = (str, _NONE)
_USER = AnyOf((str, _obj("id", id=str, team_id=_OPT)))
_TEAM = AnyOf((_NONE, str, _obj(id=_OPT, enterprise_id=_OPT, domain=str)))
_CHANNEL = AnyOf((str, _obj("id", id=str)))
_MESSAGE = _obj(
    type=str, subtype=_OPT, ts=str, thread_ts=_OPT, user=_USER, text=_OPT, bot_id=_OPT, blocks=ListOf(dict)
)
_EVENT = _obj(
    "type",
    type=str,
    subtype=_OPT,
    user=_USER,
    user_id=str,
    user_team=_OPT,
    team=_TEAM,
    team_id=_OPT,
    enterprise=AnyOf((_NONE, str, _obj(id=_OPT))),
    enterprise_id=_OPT,
    channel=_CHANNEL,
    channel_id=str,
    channel_type=str,
    text=_OPT,
    ts=str,
    thread_ts=_OPT,
    event_ts=str,
    bot_id=_OPT,
    tab=str,
    callback_id=str,
    message=_MESSAGE,
    previous_message=_MESSAGE,
    item=_obj(channel=_CHANNEL, ts=str),
    assistant_thread=_obj(channel_id=str, thread_ts=str, user_id=str, context=dict),
    function_execution_id=str,
    inputs=dict,
    bot_access_token=str,
    blocks=ListOf(dict),
)
_STATE = _obj(
    type=str,
    value=_OPT,
    selected_option=AnyOf((_NONE, _obj("value", value=str))),
    selected_options=ListOf(_obj("value", value=str)),
    selected_user=_OPT,
)
_VIEW = _obj(
    id=str,
    type=str,
    callback_id=str,
    team_id=_OPT,
    app_installed_team_id=_OPT,
    private_metadata=str,
    hash=str,
    root_view_id=_OPT,
    previous_view_id=_OPT,
    blocks=ListOf(dict),
    state=_obj("values", values=MapOf(MapOf(_STATE))),
)
#: Every field Bolt's context builder, matchers and middleware read, whatever the payload type.
_ENVELOPE = _obj(
    type=str,
    token=str,
    team_id=_OPT,
    enterprise_id=_OPT,
    context_team_id=_OPT,
    context_enterprise_id=_OPT,
    api_app_id=str,
    user_id=str,
    channel_id=str,
    thread_ts=_OPT,
    event_id=str,
    event_time=int,
    response_url=str,
    trigger_id=str,
    callback_id=str,
    command=str,
    action_id=str,
    challenge=str,
    text=str,
    ssl_check=str,
    is_enterprise_install=(bool, str),
    is_ext_shared_channel=bool,
    authorizations=ListOf(
        _obj(team_id=_OPT, enterprise_id=_OPT, user_id=_OPT, is_bot=bool, is_enterprise_install=bool)
    ),
    enterprise=AnyOf((_NONE, str, _obj(id=_OPT))),
    team=_TEAM,
    user=_USER,
    channel=_CHANNEL,
    view=_VIEW,
    event=_EVENT,
    message=_MESSAGE,
    previous_message=_MESSAGE,
    item=dict,
    assistant_thread=dict,
    actions=ListOf(
        _obj("action_id", action_id=str, block_id=str, type=str, value=str, url=str, action_ts=str), 1
    ),
    container=_obj(type=str, message_ts=str, channel_id=str, view_id=str),
    response_urls=ListOf(_obj(response_url=str)),
    function_execution_id=str,
    function_data=_obj(execution_id=str, inputs=dict),
    bot_access_token=str,
)
_PERSON = _obj("id", id=str)
#: What each payload type we handle must carry (real Slack always sends these).
_BY_TYPE: dict[str | None, Obj] = {
    "url_verification": _obj("challenge"),
    "event_callback": _obj("event", "event_id"),
    "block_actions": _obj(
        "user",
        "actions",
        "trigger_id",
        user=_PERSON,
        channel=AnyOf((_NONE, _PERSON)),
        view=AnyOf((_NONE, _obj("id"))),
    ),
    "view_submission": _obj("user", "view", user=_PERSON, view=_obj("id", "type", "callback_id", "state")),
    "view_closed": _obj("user", "view", user=_PERSON, view=_obj("id", "type", "callback_id")),
    "shortcut": _obj("user", "callback_id", "trigger_id", user=_PERSON),
    "message_action": _obj(
        "user", "callback_id", "trigger_id", "channel", "message", user=_PERSON, channel=_PERSON
    ),
    "app_rate_limited": _obj(),
    None: _obj("command", "user_id", "channel_id", "trigger_id", "response_url"),  # a slash command
}
#: Events a listener reads closely: their fields must be the plain kinds Slack sends.
_BY_EVENT: dict[str, Obj] = {
    "app_mention": _obj("user", "channel", "ts", user=str),
    "message": _obj("channel", "ts", user=str),
    "app_home_opened": _obj("user", user=str),
    "assistant_thread_started": _obj("assistant_thread", assistant_thread=_obj("channel_id", "thread_ts")),
    "assistant_thread_context_changed": _obj(
        "assistant_thread", assistant_thread=_obj("channel_id", "thread_ts", "context")
    ),
}


def has_nul(value: Any) -> bool:
    """Whether any key or string anywhere in a parsed payload holds NUL (Slack never sends one, and
    PostgreSQL cannot store it). Iterative, so absurd nesting cannot exhaust the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def shape_problem(body: dict[str, Any]) -> str | None:
    """Why this parsed payload is not one Slack sends us (a fixed phrase, never its content), or None."""
    if body.get("ssl_check") == "1" and "command" not in body:
        return None if fits(body, _ENVELOPE) else "malformed ssl_check"
    if not fits(body, _ENVELOPE):
        return "malformed payload fields"
    kind = body.get("type")
    wanted = _BY_TYPE.get(kind)
    if wanted is None:
        return "unsupported payload type"
    if not fits(body, wanted):
        return "payload missing required fields"
    urls = [body.get("response_url")] + [u.get("response_url") for u in body.get("response_urls") or ()]
    if not all(_is_web_url(u) for u in urls if u is not None):
        return "malformed response_url"
    event = body.get("event")
    if isinstance(event, dict):
        rule = _BY_EVENT.get(event["type"])
        if rule is not None and not event.get("subtype") and not fits(event, rule):
            return "malformed event"
    return None


def _is_web_url(value: Any) -> bool:
    """An absolute http(s) URL with a host: what the HTTP client needs to answer on a response_url."""
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        url = URL(value)
    except (ValueError, TypeError):
        return False
    return url.scheme in ("http", "https") and bool(url.host) and url.is_absolute()
