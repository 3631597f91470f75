"""The Teams edge: the ONLY module importing botbuilder / botframework (the SDK is archived upstream; a move to
the Microsoft 365 Agents SDK should touch this file alone).

``mount(app, settings)`` puts a CloudAdapter behind ``POST /api/messages`` with our own aiohttp handler (the
4.17.1 ``CloudAdapter.process`` double-serialises invoke responses and answers 500), and registers the Teams
notifier on start-up. ``PolicyBot`` translates activities into ``Message``s and submissions for the core and
renders its answers with ``bot.teams.cards``; ``Courier`` reaches a person's personal chat proactively (a
stored conversation reference, else ``create_conversation`` with the tenant id); ``TeamsNotifier`` uses it.
Logs carry ids and error classes only, never message or report text.

Over 500 lines on purpose: the one-file rule for the SDK keeps the handler, the courier and the notifier
together here; everything SDK-free lives beside it (cards.py, forms.py, package.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import ClientError, web
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    Entity,
    ErrorResponseException,
)
from msrest.exceptions import ClientRequestError, HttpOperationError
from msrest.universal_http.requests import ClientRetryPolicy

from bot.config import Settings
from bot.domain import Channel, Message, Reply, ReplyKind, User
from bot.errors import ConfigError, InputError, NotAuthorised, NotFound, PolicybotError, StorageUnavailable
from bot.middleware import note_user
from bot.reports.model import Reporter
from bot.reports.notify import Address, Delivery, DeliveryStatus, Notice, NoticeEvent
from bot.reports.validate import clean_submission
from bot.server import SERVICES
from bot.services import Services
from bot.storage.sent import SentReply
from bot.teams import cards
from bot.teams.forms import form_values, parse_command, submission_from_value

__all__ = ["REFS_CHANNEL", "Courier", "PolicyBot", "TeamsNotifier", "mount"]

log = logging.getLogger(__name__)

#: The ``channel`` under which personal-chat references are stored (keyed by lower-case AAD object id).
REFS_CHANNEL = "teams"
MSTEAMS = "msteams"
PRIVATE_NOTE = "I've sent you a private message."
CANNOT_DM = "Please open a private chat with me (policybot) to continue; I couldn't start one for you."
#: Channel name under which sent messages are recorded (``SentReplies``).
REPLIES_CHANNEL = "teams"
SORRY = "Sorry, something went wrong on my side. Please try again in a minute."
#: What a case reference can look like (anything else is never echoed back or looked up).
_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,40}")


# msrest (under botframework-connector) builds a ClientRetryPolicy for every outbound request, and its
# constructor tests 999 status codes for membership in a 500-item *list*: ~19 ms of CPU per message sent,
# more than the rest of the edge. The same codes as a frozenset give the same policy at ~0.1 ms. Measured with
# bot/bench_teams.py; remove with the SDK.
if not isinstance(ClientRetryPolicy.safe_codes, frozenset):
    ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)  # type: ignore[assignment]


class _AuthConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads. An empty APP_ID turns auth off."""

    def __init__(self, settings: Settings) -> None:
        password = settings.microsoft_app_password
        self.APP_ID = settings.microsoft_app_id or ""
        self.APP_PASSWORD = password.get_secret_value() if password else ""
        # Without an app id (dev mode) the SDK's single-tenant factory would insist on one; auth is off anyway.
        self.APP_TYPE = settings.microsoft_app_type if self.APP_ID else "MultiTenant"
        self.APP_TENANTID = settings.microsoft_app_tenant_id or ""


class _MessageEntity(Entity):
    """An Entity that keeps every property (botbuilder's ``Entity`` would drop all but ``type``)."""

    _attribute_map: ClassVar[dict[str, dict[str, str]]] = {
        "type": {"key": "type", "type": "str"},
        "additional_properties": {"key": "", "type": "{object}"},
    }

    def __init__(self, content: Mapping[str, Any]) -> None:
        rest = {k: v for k, v in content.items() if k != "type"}
        super().__init__(type=content["type"])
        self.additional_properties = rest


def _card_activity(card: dict[str, Any], *, text: str | None = None) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        text=text,
        attachments=[Attachment(content_type=cards.CARD_CONTENT_TYPE, content=card)],
    )


def _aad(activity: Activity) -> str:
    """The person's stable identity: the Entra ID (AAD) object id, else the Teams user id."""
    sender = activity.from_property
    return str(getattr(sender, "aad_object_id", None) or sender.id).lower()


def _tenant(activity: Activity) -> str | None:
    conversation = activity.conversation
    tenant = getattr(conversation, "tenant_id", None)
    if not tenant and isinstance(activity.channel_data, Mapping):
        tenant = (activity.channel_data.get("tenant") or {}).get("id")
    return str(tenant) if tenant else None


def _is_personal(activity: Activity) -> bool:
    conversation = activity.conversation
    kind = getattr(conversation, "conversation_type", None)
    return kind == "personal" or (kind is None and not getattr(conversation, "is_group", False))


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(code) if code else None


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
        self.tenant_id = self.tenant_id or _tenant(activity)
        self.service_url = self.service_url or activity.service_url
        recipient = activity.recipient
        if recipient is not None and recipient.id and not self.bot_id:
            self.bot_id = recipient.id

    async def save(self, activity: Activity) -> None:
        """Store the personal-chat reference of the sender (never a channel's: notices must stay private)."""
        if not _is_personal(activity) or activity.from_property is None:
            return
        key = _aad(activity)
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
    """The reports core's notifier for Teams: bland notices with "Open case" / "Acknowledge" actions."""

    name = "teams"

    def __init__(self, courier: Courier) -> None:
        self._courier = courier

    def can_reach(self, address: Address) -> bool:
        return bool(address.teams_id) and self._courier.can_reach(address.teams_id or "")

    async def send(self, address: Address, notice: Notice) -> Delivery:
        recipient = address.is_reporter is False and notice.event is not NoticeEvent.ACKNOWLEDGED
        card = cards.notice_card(notice.text, reference=notice.reference, actions=recipient)
        try:
            await self._courier.send(address.teams_id or "", [_card_activity(card, text=notice.text)])
        except LookupError as exc:
            return Delivery(DeliveryStatus.UNDELIVERABLE, str(exc))
        except (ErrorResponseException, HttpOperationError) as exc:
            status = _status(exc)
            log.warning("teams notice %s to %s refused: HTTP %s", notice.key, address.label, status)
            if status is not None and (status == 429 or status >= 500):
                return Delivery(DeliveryStatus.RETRY, f"HTTP {status}")
            return Delivery(DeliveryStatus.UNDELIVERABLE, f"HTTP {status}")
        except (ClientRequestError, ClientError, OSError, TimeoutError) as exc:
            return Delivery(DeliveryStatus.RETRY, type(exc).__name__)
        return Delivery(DeliveryStatus.DELIVERED)

    async def close(self) -> None:
        return None


class PolicyBot(ActivityHandler):
    """Personal chats and channel @mentions: answers, help, the report card, and card actions."""

    def __init__(self, courier: Courier, services: Callable[[], Services]) -> None:
        super().__init__()
        self._courier = courier
        self._services = services

    # --- activities ------------------------------------------------------------------------------------
    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.channel_id == MSTEAMS or activity.service_url:
            self._courier.learn(activity)
        try:
            await super().on_turn(turn_context)
        finally:
            # After the reply is out (it is first contact that writes; later turns find it unchanged).
            if activity.type in (ActivityTypes.message, ActivityTypes.conversation_update):
                await self._courier.save(activity)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        """Welcome when the bot itself is installed (personal, team or group chat), not on every join."""
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(m.id == bot_id for m in members_added) or _is_personal(turn_context.activity):
            organisation = self._services().reports.directory.organisation
            await turn_context.send_activity(_card_activity(cards.welcome_card(organisation)))

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        # The Bot Framework redelivers an activity it thinks failed; the shared table makes every replica
        # answer each activity once (report submissions are idempotent anyway).
        conversation = activity.conversation.id if activity.conversation else ""
        if activity.id and not await self._services().events.claim(f"teams:{conversation}:{activity.id}"):
            log.info("teams: activity delivered again; already handled")
            return
        if isinstance(activity.value, Mapping) and activity.value.get(cards.ACTION):
            await self._on_submit(turn_context, activity.value)
            return
        personal = _is_personal(activity)
        text = activity.text or ""
        if not personal:
            text = TurnContext.remove_recipient_mention(activity) or ""
        command = parse_command(text)
        if command.name == "report":
            await self._offer_report(turn_context)
        elif command.name == "help":
            reply = await asyncio.to_thread(self._services().assistant.quick_guidance)
            await self._send_answer(turn_context, reply, personal=personal)
        else:
            await self._answer(turn_context, command.text, personal=personal)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name == "message/submitAction":
            await self._feedback_loop(turn_context)
            return InvokeResponse(status=200, body={})
        return await super().on_invoke_activity(turn_context)

    # --- answers ---------------------------------------------------------------------------------------
    async def _answer(self, turn_context: TurnContext, text: str, *, personal: bool) -> None:
        activity = turn_context.activity
        services = self._services()
        if not text.strip():
            reply = await asyncio.to_thread(services.assistant.quick_guidance)
            await self._send_answer(turn_context, reply, personal=personal)
            return
        # The typing indicator goes out while the core works; it is awaited before the reply so it comes first.
        typing = asyncio.create_task(turn_context.send_activity(Activity(type=ActivityTypes.typing)))
        person = services.reports.directory.by_teams_id(_aad(activity))
        user = User(
            id=_aad(activity),
            channel=Channel.TEAMS,
            name=activity.from_property.name,
            directory_id=person.id if person else None,
        )
        message = Message(
            text=text,
            user=user,
            conversation=f"teams:{activity.conversation.id}",
            channel=Channel.TEAMS,
            private=personal,
        )
        try:
            reply = await services.assistant.handle(message)
        finally:
            await typing
        if not personal and (reply.suggest_report or reply.urgent):
            await self._move_to_private(turn_context, [self._answer_activity(reply, personal=True)], reply)
            return
        await self._send_answer(turn_context, reply, personal=personal)

    def _answer_activity(self, reply: Reply, *, personal: bool) -> Activity:
        """Card with the verbatim quotes; in chats also Teams' citation entity and its feedback buttons
        (Teams supports neither in channels, where the card carries its own feedback buttons)."""
        activity = _card_activity(
            cards.answer_card(reply, feedback_buttons=not personal), text=cards.message_text(reply)
        )
        if personal:
            if reply.citations:
                activity.entities = [_MessageEntity(cards.citation_entity(reply.citations))]
            if reply.kind is ReplyKind.ANSWER:
                activity.channel_data = {"feedbackLoopEnabled": True}
        return activity

    async def _send_answer(self, turn_context: TurnContext, reply: Reply, *, personal: bool) -> None:
        response = await turn_context.send_activity(self._answer_activity(reply, personal=personal))
        self._remember_sent(getattr(response, "id", None), reply)

    def _remember_sent(self, activity_id: str | None, reply: Reply) -> None:
        """Which reply this message carries, in the shared database: Teams' feedback buttons name only the
        message, and the click may reach another replica, or this one after a restart."""
        if not activity_id or not reply.id:
            return
        first = reply.citations[0] if reply.citations else None
        sent = SentReply(
            reply.id,
            first.doc_id if first else None,
            first.version if first else None,
            tuple(c.section for c in reply.citations),
        )
        self._services().sent_replies.record(REPLIES_CHANNEL, activity_id, sent)

    async def _move_to_private(
        self, turn_context: TurnContext, activities: list[Activity], reply: Reply | None = None
    ) -> None:
        """Sensitive content posted in a channel: continue in the personal chat, leave a neutral note."""
        activity = turn_context.activity
        member = activity.from_property.id
        try:
            ids = await self._courier.send(_aad(activity), activities, member_id=member)
        except (LookupError, HttpOperationError, ClientRequestError, ClientError, OSError) as exc:
            log.warning("could not open a personal chat for activity %s: %s", activity.id, type(exc).__name__)
            await turn_context.send_activity(Activity(type=ActivityTypes.message, text=CANNOT_DM))
            return
        if reply is not None and ids:
            self._remember_sent(ids[0], reply)
        await turn_context.send_activity(Activity(type=ActivityTypes.message, text=PRIVATE_NOTE))

    async def _feedback_loop(self, turn_context: TurnContext) -> None:
        """Teams' thumbs up / down (``message/submitAction``): stored per reply and user, latest click wins."""
        activity = turn_context.activity
        value = activity.value if isinstance(activity.value, Mapping) else {}
        if value.get("actionName") != "feedback":
            return
        reaction = (value.get("actionValue") or {}).get("reaction")
        if reaction not in ("like", "dislike"):
            return
        await self._record_feedback(activity, activity.reply_to_id or "", helpful=reaction == "like")

    async def _record_feedback(self, activity: Activity, activity_id: str, *, helpful: bool) -> None:
        sent = await self._services().sent_replies.get(REPLIES_CHANNEL, activity_id) if activity_id else None
        await self._store_feedback(activity, sent, fallback=f"teams:{activity_id}", helpful=helpful)

    async def _store_feedback(
        self, activity: Activity, sent: SentReply | None, *, fallback: str, helpful: bool
    ) -> None:
        await self._services().feedback.record(
            reply_id=sent.reply_id if sent else fallback,
            user_key=f"teams:{_aad(activity)}",
            helpful=helpful,
            channel=Channel.TEAMS.value,
            doc_id=sent.doc_id if sent else None,
            doc_version=sent.doc_version if sent else None,
            sections=sent.sections if sent else (),
        )

    # --- card actions ----------------------------------------------------------------------------------
    async def _on_submit(self, turn_context: TurnContext, value: Mapping[str, Any]) -> None:
        action = str(value.get(cards.ACTION))
        activity = turn_context.activity
        if action == "report":
            await self._offer_report(turn_context)
        elif action == "help":
            reply = await asyncio.to_thread(self._services().assistant.quick_guidance)
            await self._send_answer(turn_context, reply, personal=_is_personal(activity))
        elif action == "report_submit":
            await self._submit_report(turn_context, value)
        elif action == "feedback":
            reply_id = str(value.get("reply_id") or "")
            helpful = str(value.get("helpful")).lower() == "true"
            sent = (
                await self._services().sent_replies.by_reply(REPLIES_CHANNEL, reply_id) if reply_id else None
            )
            await self._store_feedback(activity, sent, fallback=reply_id or "teams:unknown", helpful=helpful)
            await turn_context.send_activity(
                Activity(type=ActivityTypes.message, text="Thanks for the feedback.")
            )
        elif action in ("open_case", "ack"):
            given = value.get("reference")
            reference = given.strip() if isinstance(given, str) else ""
            await self._case_action(
                turn_context, action, reference if _REFERENCE.fullmatch(reference) else ""
            )
        else:
            log.info("unknown card action from activity %s", activity.id)

    async def _offer_report(self, turn_context: TurnContext) -> None:
        card = self._report_card(key=uuid.uuid4().hex)
        if _is_personal(turn_context.activity):
            await turn_context.send_activity(_card_activity(card))
        else:
            await self._move_to_private(turn_context, [_card_activity(card)])

    def _report_card(self, **kwargs: Any) -> dict[str, Any]:
        people = sorted(
            ((p.id, p.name) for p in self._services().reports.directory.people.values()), key=lambda p: p[1]
        )
        return cards.report_card(people=people, **kwargs)

    async def _submit_report(self, turn_context: TurnContext, value: Mapping[str, Any]) -> None:
        activity = turn_context.activity
        if not _is_personal(activity):
            await self._move_to_private(
                turn_context, [_card_activity(self._report_card(key=uuid.uuid4().hex))]
            )
            return
        reports = self._services().reports
        key = str(value.get("key") or "") or uuid.uuid4().hex
        aad = _aad(activity)
        person = reports.directory.by_teams_id(aad)
        reporter = Reporter(channel=Channel.TEAMS, id=aad, person_id=person.id if person else None)
        submission = submission_from_value(value)
        try:
            clean_submission(submission, reporter, reports.directory)
            receipt = await reports.service.submit(submission, reporter, idempotency_key=key)
        except InputError as exc:
            card = self._report_card(
                key=key, values=form_values(value), error=str(exc), error_field=exc.field
            )
            await turn_context.send_activity(_card_activity(card))
            return
        except StorageUnavailable as exc:
            # Nothing was saved: say so, and give the form back with everything they typed.
            card = self._report_card(key=key, values=form_values(value), error=str(exc))
            await turn_context.send_activity(_card_activity(card))
            return
        log.info("teams report filed: case %s", receipt.reference)
        await turn_context.send_activity(_card_activity(cards.confirmation_card(receipt)))

    async def _case_action(self, turn_context: TurnContext, action: str, reference: str) -> None:
        """Only a routed recipient or case administrator may open or acknowledge (the service decides)."""
        activity = turn_context.activity
        reports = self._services().reports
        actor = reports.directory.by_teams_id(_aad(activity))
        refused = f"There is no case {reference or '(no reference)'} that you can open."
        if actor is None or not reference:
            await turn_context.send_activity(Activity(type=ActivityTypes.message, text=refused))
            return
        try:
            if action == "open_case":
                view = await reports.service.show(reference, actor)
                names = {p.id: p.name for p in reports.directory.people.values()}
                await turn_context.send_activity(_card_activity(cards.case_card(view, names)))
                return
            first = await reports.service.acknowledge(reference, actor)
        except (NotFound, NotAuthorised):
            await turn_context.send_activity(Activity(type=ActivityTypes.message, text=refused))
            return
        except InputError as exc:
            await turn_context.send_activity(Activity(type=ActivityTypes.message, text=str(exc)))
            return
        if activity.reply_to_id:
            update = _card_activity(cards.acknowledged_card(reference))
            update.id = activity.reply_to_id
            try:
                await turn_context.update_activity(update)
            except HttpOperationError as exc:
                log.info("could not update notice card: HTTP %s", _status(exc))
        text = (
            f"Acknowledged {reference}. The reporter has been told it is in hand."
            if first
            else f"You had already acknowledged {reference}."
        )
        await turn_context.send_activity(Activity(type=ActivityTypes.message, text=text))


async def _on_error(turn_context: TurnContext, error: Exception) -> None:
    """Any failure in a turn: log its class (never the text), tell the person something fixed and friendly."""
    log.error("teams turn %s failed: %s", turn_context.activity.id, type(error).__name__)
    # The traceback only at DEBUG: an exception's message may quote what someone typed.
    log.debug("teams turn %s traceback", turn_context.activity.id, exc_info=error)
    message = str(error) if isinstance(error, PolicybotError) else SORRY
    try:
        await turn_context.send_activity(Activity(type=ActivityTypes.message, text=message))
    except Exception as exc:  # the connector itself may be what failed
        log.warning("could not send the error message: %s", type(exc).__name__)


def _handler(adapter: CloudAdapter, bot: PolicyBot) -> Callable[[web.Request], Awaitable[web.Response]]:
    """POST /api/messages. Our own handler: CloudAdapter.process in 4.17.1 fails on every invoke response."""

    async def messages(request: web.Request) -> web.Response:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected application/json"}, status=415)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "expected an Activity object"}, status=400)
        activity = Activity().deserialize(body)
        if not activity.type:
            return web.json_response({"error": "expected an Activity"}, status=400)
        try:
            response = await adapter.process_activity(
                request.headers.get("Authorization", ""), activity, bot.on_turn
            )
        except PermissionError:
            return web.json_response({"error": "unauthorized"}, status=401)
        if activity.from_property is not None:  # authenticated (or dev mode): log a hash of who it was
            note_user(request, _aad(activity))
        if response is None:
            return web.Response(status=201)
        payload = response.body
        if hasattr(payload, "serialize"):
            payload = payload.serialize()
        if payload is None:
            return web.Response(status=response.status or 200)
        return web.json_response(payload, status=response.status or 200)

    return messages


def mount(app: web.Application, settings: Settings) -> None:
    """Mount the Teams edge when credentials (or POLICYBOT_TEAMS_DEV=1) say so; register its notifier."""
    if not settings.microsoft_app_id:
        if not settings.teams_dev:
            return
        log.warning(
            "TEAMS DEV MODE: /api/messages is mounted WITHOUT AUTHENTICATION (POLICYBOT_TEAMS_DEV=1 and no "
            "MicrosoftAppId). Anyone who can reach this server can talk to the bot as anyone. Local testing only."
        )
    elif settings.microsoft_app_type == "SingleTenant" and not (
        settings.microsoft_app_tenant_id and settings.microsoft_app_password
    ):
        raise ConfigError(
            "MicrosoftAppType is SingleTenant: set MicrosoftAppTenantId and MicrosoftAppPassword as well as "
            "MicrosoftAppId (see docs/teams.md)."
        )
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_AuthConfig(settings)))
    adapter.on_turn_error = _on_error

    def services() -> Services:
        return app[SERVICES]

    app_id = settings.microsoft_app_id or ""
    courier = Courier(
        adapter=adapter,
        services=services,
        app_id=app_id,
        tenant_id=settings.microsoft_app_tenant_id,
        service_url=settings.teams_service_url,
        bot_id=f"28:{app_id}" if app_id else None,
    )
    bot = PolicyBot(courier, services)
    app.router.add_post("/api/messages", _handler(adapter, bot))

    async def register_notifier(app: web.Application) -> None:
        running = app[SERVICES]
        for person in running.reports.directory.people.values():
            if person.teams_id and await running.conversation_refs.get(REFS_CHANNEL, person.teams_id.lower()):
                courier.known.add(person.teams_id.lower())
        running.reports.notifiers.register(TeamsNotifier(courier))

    app.on_startup.append(register_notifier)
