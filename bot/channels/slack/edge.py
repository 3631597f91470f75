"""The Slack edge: a Bolt ``AsyncApp`` whose listeners translate Slack events into ``Message``s and back.

Conversation (DMs, @mentions answered in the thread, the assistant container), ``/policy``, the report modal
and its shortcuts, case buttons and App Home all live here; every Web API call goes through one
``AsyncWebClient`` whose base URL is ``SLACK_API_URL``. Over HTTP the route (``__init__.py``) has already
checked the signature and the payload's shape (``messages.shape_problem``) before Bolt verifies the signature
again (bad or older than five minutes: 401, nothing runs); a middleware claims each ``event_id`` in the
shared database so a retried event is answered once across every replica, and answer work runs after the
acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncAssistant
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.services import Services
from bot.channels.slack.blocks import (
    ACTION_READ_POLICY,
    ACTION_REPORT,
    Block,
    answer_blocks,
    fallback_text,
    guidance_blocks,
    section,
)
from bot.channels.slack.cases import ReportListeners
from bot.channels.slack.feedback import FeedbackListeners
from bot.channels.slack.home import home_view
from bot.channels.slack.messages import report_like, to_message
from bot.channels.slack.modal import (
    CALLBACK_CASE,
    CALLBACK_REPORT,
    policy_view,
    report_view,
)
from bot.channels.slack.notifier import (
    ACTION_CASE_ACK,
    ACTION_CASE_OPEN,
    SlackNotifier,
    Transient,
    send_with_retries,
)
from bot.config import Settings
from bot.domain import Channel, Message, Reply, User
from bot.errors import StorageUnavailable
from bot.reports.model import Reporter

__all__ = [
    "COMMAND",
    "FRIENDLY",
    "SHORTCUT_MESSAGE",
    "SHORTCUT_REPORT",
    "SlackEdge",
]

log = logging.getLogger(__name__)

COMMAND = "/policy"
SHORTCUT_REPORT = "report_concern"
SHORTCUT_MESSAGE = "report_message"
FRIENDLY = (
    "Sorry, I couldn't post my answer just now. Please try again in a minute; if it keeps happening, "
    "tell your IT team."
)
SORRY = "Sorry, something went wrong while I was looking that up. Please try again in a minute."
GREETING = (
    "Hi! I answer questions about the social media policy, quoting it word for word, and I can take a "
    "private report of a concern. If anyone is in immediate danger, call 999."
)
PROMPTS = [
    {"title": "Friend requests from parents", "message": "Can I accept a friend request from a parent?"},
    {"title": "Report a concern privately", "message": "I want to report a concern privately"},
    {"title": "Quick guidance", "message": "What are the most important rules?"},
]


class SlackEdge(ReportListeners, FeedbackListeners):
    """One Bolt app over the running ``Services``; build it after the services opened."""

    def __init__(
        self,
        settings: Settings,
        services: Services,
        *,
        session: aiohttp.ClientSession | None = None,
        progress_after: float | None = None,
    ) -> None:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        self.settings = settings
        self.services = services
        self.progress_after = settings.slack_progress_after if progress_after is None else progress_after
        self.client = AsyncWebClient(token=token, base_url=settings.slack_api_url, session=session)
        bolt_log = logging.getLogger("bot.channels.slack.bolt")
        bolt_log.setLevel(logging.ERROR)  # Bolt's warnings can quote request bodies (message text)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=secret,
            request_verification_enabled=bool(secret),
            logger=bolt_log,
            process_before_response=False,
        )
        self._socket: Any = None
        self._register()

    # --- wiring -----------------------------------------------------------------------------------------
    def notifier(self) -> SlackNotifier:
        """The Slack notifier over this edge's client (one connection pool)."""
        return SlackNotifier(token="", base_url=self.settings.slack_api_url, client=self.client)

    def _register(self) -> None:
        app = self.app
        app.use(self._dedupe)
        app.error(self._on_error)
        assistant = AsyncAssistant(logger=logging.getLogger("bot.channels.slack.bolt"))
        assistant.thread_started(self._assistant_started)
        assistant.user_message(self._assistant_message)
        app.assistant(assistant)
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.event("app_home_opened")(self._on_home)
        app.command(COMMAND)(self._on_command)
        app.action(ACTION_REPORT)(self._on_report_button)
        app.action(ACTION_READ_POLICY)(self._on_read_policy)
        app.action(re.compile(r"^feedback_(helpful|not_helpful)$"))(self._on_feedback)
        app.action(ACTION_CASE_OPEN)(self._on_case_open)
        app.action(ACTION_CASE_ACK)(self._on_case_ack)
        app.shortcut(SHORTCUT_REPORT)(self._on_report_shortcut)
        app.shortcut(SHORTCUT_MESSAGE)(self._on_message_shortcut)
        app.view(CALLBACK_REPORT)(self._on_report_submit)
        app.view_closed(CALLBACK_REPORT)(self._ack_only)
        app.view(CALLBACK_CASE)(self._ack_only)

    async def start_socket_mode(self) -> None:
        """Connect over Socket Mode with SLACK_APP_TOKEN (no public URL needed)."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        token = self.settings.slack_app_token.get_secret_value() if self.settings.slack_app_token else ""
        self._socket = AsyncSocketModeHandler(self.app, token, web_client=self.client)
        await self._socket.connect_async()

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None

    # --- middleware ---------------------------------------------------------------------------------------
    async def _dedupe(self, body: dict[str, Any], next: Any) -> BoltResponse | None:
        """Claim each Events API ``event_id`` once in the shared database; a retry (any replica) stops here."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            try:
                first = await self.services.events.claim(f"slack:{event_id}")
            except StorageUnavailable:
                log.error("slack event %s: database unavailable; letting Slack retry", event_id)
                return BoltResponse(status=503, body="")
            if not first:
                log.info("slack event %s already handled; ignoring the retry", event_id)
                return BoltResponse(status=200, body="")
        await next()
        return None

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("slack listener failed (%s) for a %s request", type(error).__name__, body.get("type"))

    async def _ack_only(self, ack: Any) -> None:
        await ack()

    # --- answering ----------------------------------------------------------------------------------------
    async def _reply_for(self, message: Message) -> Reply | None:
        """The core's reply, or None (logged by error class only) so the person gets a friendly message."""
        try:
            return await self.services.assistant.handle(message)
        except Exception as exc:
            log.error("slack answer failed (%s)", type(exc).__name__)
            return None

    async def _post_answer(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str | None,
        reply: Reply | None,
        intro: list[Block] | None = None,
    ) -> bool:
        """Post the answer; if Slack refuses it, post a short friendly message instead."""
        if reply is not None:
            blocks = [*(intro or []), *answer_blocks(reply)][:50]
            try:
                await send_with_retries(
                    lambda: client.chat_postMessage(
                        channel=channel,
                        thread_ts=thread_ts,
                        text=fallback_text(reply),
                        blocks=blocks,
                        unfurl_links=False,
                    ),
                    attempts=2,
                    max_wait=2.0,
                )
                return True
            except (Transient, SlackApiError) as exc:
                log.warning("slack answer not posted (%s)", getattr(exc, "detail", type(exc).__name__))
        try:
            await client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=FRIENDLY if reply else SORRY
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.error("slack friendly message not posted either (%s)", type(exc).__name__)
        return False

    async def _answer_event(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        user_id = str(event.get("user", ""))
        message = to_message(event, person=self._person(user_id))
        channel = str(event.get("channel", ""))
        if not message.text:
            message = Message(
                text="help",
                user=message.user,
                conversation=message.conversation,
                channel=Channel.SLACK,
                private=message.private,
            )
        task = asyncio.ensure_future(self._reply_for(message))
        done, _ = await asyncio.wait({task}, timeout=self.progress_after)
        if not done:  # taking more than a moment: show that work is in progress
            try:
                await client.reactions_add(channel=channel, timestamp=str(event.get("ts")), name="eyes")
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.info("slack progress reaction failed (%s)", type(exc).__name__)
        reply = await task
        if reply is not None and not message.private and report_like(reply):
            await self._answer_privately(client, user_id=user_id, channel=channel, reply=reply)
            return
        thread = event.get("thread_ts") or (None if message.private else event.get("ts"))
        await self._post_answer(client, channel=channel, thread_ts=thread, reply=reply)

    async def _answer_privately(
        self, client: AsyncWebClient, *, user_id: str, channel: str, reply: Reply
    ) -> None:
        """Report-like text in a shared channel: guidance and the report button by DM, nothing in the channel."""
        try:
            opened = await send_with_retries(lambda: client.conversations_open(users=user_id), max_wait=2.0)
        except (Transient, SlackApiError) as exc:
            log.error(
                "slack private reply: cannot open a DM (%s)", getattr(exc, "detail", type(exc).__name__)
            )
            return
        intro = [
            section(
                f"You mentioned me in <#{channel}>. I'm replying here, privately, so nothing you "
                "wrote is repeated in the channel."
            )
        ]
        await self._post_answer(
            client, channel=opened["channel"]["id"], thread_ts=None, reply=reply, intro=intro
        )

    async def _on_mention(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        await self._answer_event(event, client)

    async def _on_message(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return  # only people's own DMs (edits, joins and bot messages are not questions)
        await self._answer_event(event, client)

    # --- assistant container --------------------------------------------------------------------------
    async def _assistant_started(self, say: Any, set_suggested_prompts: Any) -> None:
        await say(GREETING)
        await set_suggested_prompts(prompts=PROMPTS, title="Try asking")

    async def _assistant_message(
        self, payload: dict[str, Any], say: Any, set_status: Any, set_title: Any
    ) -> None:
        await set_status("is looking in the policy…")
        user_id = str(payload.get("user", ""))
        message = to_message(payload, person=self._person(user_id))
        reply = await self._reply_for(message)
        if reply is None:
            await say(SORRY)
            return
        title = "A private conversation" if report_like(reply) else message.text[:60]
        await set_title(title)
        await say(text=fallback_text(reply), blocks=answer_blocks(reply))

    # --- /policy ----------------------------------------------------------------------------------------
    def _policy_doc(self, reply: Reply | None = None) -> tuple[str | None, str | None]:
        """(doc id, url) of the policy the guidance cites (or the first document)."""
        corpus = self.services.assistant.index.corpus
        doc_id = reply.citations[0].doc_id if reply and reply.citations else None
        docs = [d for d in corpus.documents if d.id == doc_id] or list(corpus.documents[:1])
        return (docs[0].id, docs[0].url) if docs else (None, None)

    async def _guidance(self) -> tuple[Reply, str | None, str | None]:
        reply = await asyncio.to_thread(self.services.assistant.quick_guidance)
        doc_id, url = self._policy_doc(reply)
        return reply, doc_id, url

    async def _on_command(
        self, ack: Any, command: dict[str, Any], respond: Any, client: AsyncWebClient
    ) -> None:
        text = str(command.get("text") or "").strip()
        word = text.lower()
        await ack()
        if word == "report":
            await client.views_open(trigger_id=command["trigger_id"], view=report_view(source="command"))
            return
        user_id = str(command.get("user_id", ""))
        if word in ("", "help"):
            reply, doc_id, url = await self._guidance()
            blocks = guidance_blocks(reply, policy_url=url, doc_id=doc_id)
        else:
            person = self._person(user_id)
            message = Message(
                text=text,
                user=User(id=user_id, channel=Channel.SLACK, directory_id=person.id if person else None),
                conversation=f"slack:{command.get('channel_id')}:{user_id}:command",
                channel=Channel.SLACK,
                private=True,  # the answer is ephemeral: only the asker sees it
            )
            found = await self._reply_for(message)
            if found is None:
                await respond(text=SORRY, response_type="ephemeral", replace_original=False)
                return
            reply, blocks = found, answer_blocks(found)
        try:
            await respond(
                text=fallback_text(reply), blocks=blocks, response_type="ephemeral", replace_original=False
            )
        except (aiohttp.ClientError, TimeoutError, SlackApiError) as exc:
            log.warning("slack /policy answer not posted (%s)", type(exc).__name__)
            try:
                await client.chat_postEphemeral(
                    channel=str(command.get("channel_id")), user=user_id, text=FRIENDLY
                )
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as again:
                log.error("slack friendly message not posted either (%s)", type(again).__name__)

    # --- buttons ----------------------------------------------------------------------------------------
    async def _on_read_policy(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        if action.get("url"):
            return  # a link button: Slack opened the document itself
        corpus = self.services.assistant.index.corpus
        docs = [d for d in corpus.documents if d.id == action.get("value")] or list(corpus.documents[:1])
        if docs:
            await client.views_open(trigger_id=body["trigger_id"], view=policy_view(docs[0]))

    # --- App Home ---------------------------------------------------------------------------------------
    async def _on_home(self, event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = str(event.get("user", ""))
        person = self._person(user_id)
        service = self.services.reports.service
        reporter = Reporter(channel=Channel.SLACK, id=user_id, person_id=person.id if person else None)
        reports = await service.my_reports(reporter)
        cases = await service.cases_for(person) if person is not None else None
        guidance, doc_id, url = await self._guidance()
        view = home_view(guidance=guidance, policy_url=url, doc_id=doc_id, reports=reports, cases=cases)
        await client.views_publish(user_id=user_id, view=view)
