"""``PolicyBot``, the activity handler: translates personal chats and channel @mentions into ``Message``s and
report submissions for the core, renders its replies with ``cards``, records feedback, and runs the case actions
of notice cards. Sensitive replies asked for in a channel continue in the personal chat."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import ClientError
from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.channels.services import Services
from bot.channels.teams import cards
from bot.channels.teams.activities import MSTEAMS, MessageEntity, aad, card_activity, is_personal, status_of
from bot.channels.teams.delivery import Courier
from bot.channels.teams.forms import form_values, parse_command, submission_from_value
from bot.domain import Channel, Message, Reply, ReplyKind, User
from bot.errors import InputError, NotAuthorised, NotFound, StorageUnavailable
from bot.reports.model import Reporter
from bot.reports.validate import clean_submission
from bot.storage.sent import SentReply

__all__ = ["CANNOT_DM", "PRIVATE_NOTE", "REPLIES_CHANNEL", "PolicyBot"]

log = logging.getLogger(__name__)

PRIVATE_NOTE = "I've sent you a private message."
CANNOT_DM = "Please open a private chat with me (policybot) to continue; I couldn't start one for you."
#: Channel name under which sent messages are recorded (``SentReplies``).
REPLIES_CHANNEL = "teams"
#: What a case reference can look like (anything else is never echoed back or looked up).
_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,40}")


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
        if any(m.id == bot_id for m in members_added) or is_personal(turn_context.activity):
            organisation = self._services().reports.directory.organisation
            await turn_context.send_activity(card_activity(cards.welcome_card(organisation)))

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
        personal = is_personal(activity)
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
        person = services.reports.directory.by_teams_id(aad(activity))
        user = User(
            id=aad(activity),
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
        activity = card_activity(
            cards.answer_card(reply, feedback_buttons=not personal), text=cards.message_text(reply)
        )
        if personal:
            if reply.citations:
                activity.entities = [MessageEntity(cards.citation_entity(reply.citations))]
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
            ids = await self._courier.send(aad(activity), activities, member_id=member)
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
            user_key=f"teams:{aad(activity)}",
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
            await self._send_answer(turn_context, reply, personal=is_personal(activity))
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
        if is_personal(turn_context.activity):
            await turn_context.send_activity(card_activity(card))
        else:
            await self._move_to_private(turn_context, [card_activity(card)])

    def _report_card(self, **kwargs: Any) -> dict[str, Any]:
        people = sorted(
            ((p.id, p.name) for p in self._services().reports.directory.people.values()), key=lambda p: p[1]
        )
        return cards.report_card(people=people, **kwargs)

    async def _submit_report(self, turn_context: TurnContext, value: Mapping[str, Any]) -> None:
        activity = turn_context.activity
        if not is_personal(activity):
            await self._move_to_private(
                turn_context, [card_activity(self._report_card(key=uuid.uuid4().hex))]
            )
            return
        reports = self._services().reports
        key = str(value.get("key") or "") or uuid.uuid4().hex
        sender = aad(activity)
        person = reports.directory.by_teams_id(sender)
        reporter = Reporter(channel=Channel.TEAMS, id=sender, person_id=person.id if person else None)
        submission = submission_from_value(value)
        try:
            clean_submission(submission, reporter, reports.directory)
            receipt = await reports.service.submit(submission, reporter, idempotency_key=key)
        except InputError as exc:
            card = self._report_card(
                key=key, values=form_values(value), error=str(exc), error_field=exc.field
            )
            await turn_context.send_activity(card_activity(card))
            return
        except StorageUnavailable as exc:
            # Nothing was saved: say so, and give the form back with everything they typed.
            card = self._report_card(key=key, values=form_values(value), error=str(exc))
            await turn_context.send_activity(card_activity(card))
            return
        log.info("teams report filed: case %s", receipt.reference)
        # The reply card shows the reference, so it stands for the reporter's RECEIVED notice: its lease is
        # taken first (no worker sends it too) and it is marked delivered once the reply is through. A crash
        # in between leaves the notice to the worker, so the confirmation is never lost.
        claim = await reports.worker.claim_reply(receipt.reference)
        try:
            await turn_context.send_activity(card_activity(cards.confirmation_card(receipt)))
        except Exception as exc:
            if claim is not None:
                await reports.worker.settle_reply(claim, "teams", delivered=False, detail=type(exc).__name__)
            raise
        if claim is not None:
            await reports.worker.settle_reply(claim, "teams", delivered=True)

    async def _case_action(self, turn_context: TurnContext, action: str, reference: str) -> None:
        """Only a routed recipient or case administrator may open or acknowledge (the service decides)."""
        activity = turn_context.activity
        reports = self._services().reports
        actor = reports.directory.by_teams_id(aad(activity))
        refused = f"There is no case {reference or '(no reference)'} that you can open."
        if actor is None or not reference:
            await turn_context.send_activity(Activity(type=ActivityTypes.message, text=refused))
            return
        try:
            if action == "open_case":
                view = await reports.service.show(reference, actor)
                names = {p.id: p.name for p in reports.directory.people.values()}
                await turn_context.send_activity(card_activity(cards.case_card(view, names)))
                return
            first = await reports.service.acknowledge(reference, actor)
        except (NotFound, NotAuthorised):
            await turn_context.send_activity(Activity(type=ActivityTypes.message, text=refused))
            return
        except InputError as exc:
            await turn_context.send_activity(Activity(type=ActivityTypes.message, text=str(exc)))
            return
        if activity.reply_to_id:
            update = card_activity(cards.acknowledged_card(reference))
            update.id = activity.reply_to_id
            try:
                await turn_context.update_activity(update)
            except HttpOperationError as exc:
                log.info("could not update notice card: HTTP %s", status_of(exc))
        text = (
            f"Acknowledged {reference}. The reporter has been told it is in hand."
            if first
            else f"You had already acknowledged {reference}."
        )
        await turn_context.send_activity(Activity(type=ActivityTypes.message, text=text))
