"""Teams conversations over HTTP: personal chat, channel @mentions, commands, welcome, feedback, auth."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from bot.channels.teams.handler import PRIVATE_NOTE
from bot.config import Settings
from tests.fake_connector import (
    BOT,
    CHANNEL,
    FakeConnector,
    channel_mention,
    feedback_invoke,
    installed,
    personal_message,
)
from tests.teams_harness import SAM, Harness, running_app, verbatim

FRIEND_REQUEST = "Can I accept a friend request from a parent on Facebook?"
ABUSE = "A parent keeps sending me abusive messages on Facebook and I feel harassed. What do I do?"


@pytest.fixture
async def teams(settings: Settings, assistant: Any, connector: FakeConnector) -> AsyncIterator[Harness]:
    dev = settings.model_copy(update={"teams_dev": True, "teams_service_url": connector.url})
    async with running_app(dev, assistant, connector) as harness:
        yield harness


async def test_personal_question_gets_cited_card_with_teams_citations_and_feedback_loop(
    teams: Harness, connector: FakeConnector
) -> None:
    response = await teams.post(personal_message(connector.url, SAM, FRIEND_REQUEST))
    assert response.status == 201
    typing = connector.of("typing", SAM.chat)
    replies = connector.messages(SAM.chat)
    assert len(typing) == 1 and len(replies) == 1
    assert typing[0].at <= replies[0].at
    reply = replies[0]
    assert reply.kind == "reply"  # threaded to the incoming activity (.../activities/{id})
    card = reply.cards[0]
    assert card["version"] == "1.5"
    quotes = [i for c in card["body"] if c["type"] == "Container" for i in c["items"][:1]]
    assert quotes, "the answer quotes the policy"
    for block in quotes:
        quote = block["text"].split(" \u201c", 1)[1].rstrip("\u201d")
        assert verbatim(quote), quote
    assert "Acceptable Use of Social Media Policy" in reply.card_text
    assert "version 2.0" in reply.card_text
    entity = next(e for e in reply.body["entities"] if e["type"] == "https://schema.org/Message")
    assert entity["additionalType"] == ["AIGeneratedContent"]
    claims = entity["citation"]
    assert [c["position"] for c in claims] == list(range(1, len(quotes) + 1))
    assert all(len(c["appearance"]["abstract"]) <= 160 for c in claims)
    assert "[1]" in reply.body["text"]
    assert reply.body["channelData"]["feedbackLoopEnabled"] is True
    stored = await teams.services.conversation_refs.get("teams", SAM.aad)
    assert stored is not None and stored["conversation"]["id"] == SAM.chat


async def test_redelivered_activity_is_answered_once(teams: Harness, connector: FakeConnector) -> None:
    activity = personal_message(connector.url, SAM, FRIEND_REQUEST)
    assert (await teams.post(activity)).status == 201
    assert (await teams.post(activity)).status in (200, 201)
    assert len(connector.messages(SAM.chat)) == 1
    other = {**personal_message(connector.url, SAM, FRIEND_REQUEST), "id": "another-activity-id"}
    assert (await teams.post(other)).status == 201
    assert len(connector.messages(SAM.chat)) == 2


async def test_channel_mention_is_stripped_and_answered_in_the_thread(
    teams: Harness, connector: FakeConnector
) -> None:
    await teams.post(personal_message(connector.url, SAM, FRIEND_REQUEST))
    personal = connector.messages(SAM.chat)[0]
    response = await teams.post(channel_mention(connector.url, SAM, FRIEND_REQUEST))
    assert response.status == 201
    thread = f"{CHANNEL};messageid=1759881511856"
    replies = connector.messages(thread)
    assert len(replies) == 1
    # The conversation id is percent-encoded on the wire, decoded by the connector.
    assert "%3Bmessageid%3D1759881511856" in replies[0].raw_path
    # Same question without the mention gives the same quotes: the <at> text was stripped.
    assert replies[0].cards[0]["body"][1:] == personal.cards[0]["body"][1:]
    titles = [a["title"] for a in replies[0].cards[0].get("actions", [])]
    assert titles == ["Helpful", "Not helpful"]  # Teams has no feedback loop in channels
    assert "feedbackLoopEnabled" not in (replies[0].body.get("channelData") or {})
    # A channel conversation is never stored as the person's (notices must go to their personal chat).
    stored = await teams.services.conversation_refs.get("teams", SAM.aad)
    assert stored is not None and stored["conversation"]["id"] == SAM.chat


async def test_report_like_message_in_channel_moves_to_the_personal_chat(
    teams: Harness, connector: FakeConnector
) -> None:
    await teams.post(channel_mention(connector.url, SAM, ABUSE))
    thread = f"{CHANNEL};messageid=1759881511856"
    public = connector.messages(thread)
    assert [m.body.get("text") for m in public] == [PRIVATE_NOTE]
    assert not public[0].cards
    created = connector.of("create")
    assert len(created) == 1
    assert created[0].body["members"][0]["id"] == SAM.id
    assert created[0].body["channelData"]["tenant"]["id"]
    private = connector.messages(created[0].conversation)
    assert len(private) == 1
    assert "Report this privately" in private[0].card_text
    # The new personal chat is remembered for later notices.
    stored = await teams.services.conversation_refs.get("teams", SAM.aad)
    assert stored is not None and stored["conversation"]["id"] == created[0].conversation


async def test_help_gives_quick_guidance_quoted_and_cited(teams: Harness, connector: FakeConnector) -> None:
    await teams.post(personal_message(connector.url, SAM, "help"))
    card = connector.messages(SAM.chat)[0]
    quotes = [c for c in card.cards[0]["body"] if c["type"] == "Container"]
    assert len(quotes) >= 3
    assert all(verbatim(q["items"][0]["text"].split(" \u201c", 1)[1].rstrip("\u201d")) for q in quotes)


async def test_policy_command_and_report_command(teams: Harness, connector: FakeConnector) -> None:
    await teams.post(personal_message(connector.url, SAM, f"policy {FRIEND_REQUEST}"))
    assert "[1]" in connector.messages(SAM.chat)[0].body["text"]
    await teams.post(personal_message(connector.url, SAM, "report"))
    form = connector.messages(SAM.chat)[1].cards[0]
    ids = {e.get("id") for e in form["body"]}
    assert {"category", "description", "where", "when", "subject_person_id", "consent_to_name"} <= ids
    assert "not for emergencies" in connector.messages(SAM.chat)[1].card_text


async def test_welcome_card_on_install(teams: Harness, connector: FakeConnector) -> None:
    response = await teams.post(installed(connector.url, SAM))
    assert response.status == 201
    welcome = connector.messages(SAM.chat)
    assert len(welcome) == 1
    assert "report" in welcome[0].card_text.lower() and "policies" in welcome[0].card_text
    assert await teams.services.conversation_refs.get("teams", SAM.aad) is not None


async def test_feedback_loop_invoke_is_stored_latest_click_wins(
    teams: Harness, connector: FakeConnector
) -> None:
    await teams.post(personal_message(connector.url, SAM, FRIEND_REQUEST))
    answered = connector.messages(SAM.chat)[0]
    activity_id = answered.response_id  # Teams puts the bot message's id in replyToId
    for reaction in ("like", "dislike"):
        response = await teams.post(
            feedback_invoke(connector.url, SAM, reply_to=activity_id, reaction=reaction)
        )
        assert response.status == 200
        assert await response.json() == {}
    counts = await teams.services.feedback.counts(doc_id="social-media-policy")
    assert (counts.helpful, counts.not_helpful) == (0, 1)


async def test_feedback_reaching_another_replica_keeps_the_reply_and_its_sections(
    settings: Settings, assistant: Any, connector: FakeConnector
) -> None:
    """Teams' feedback names only the message; a click landing on another replica (or after a restart) is
    still recorded against the reply and the sections it cited, from the shared database."""
    dev = settings.model_copy(update={"teams_dev": True, "teams_service_url": connector.url})
    async with running_app(dev, assistant, connector) as first:
        await first.post(personal_message(connector.url, SAM, FRIEND_REQUEST))
    answered = connector.messages(SAM.chat)[0]
    async with running_app(dev, assistant, connector) as second:  # another process, same database
        response = await second.post(
            feedback_invoke(connector.url, SAM, reply_to=answered.response_id, reaction="dislike")
        )
        assert response.status == 200
        sent = await second.services.sent_replies.get("teams", answered.response_id)
        assert sent is not None and sent.sections
        record = await second.services.feedback.get(sent.reply_id, f"teams:{SAM.aad.lower()}")
        assert record is not None, "recorded against the reply, not the message id"
        assert record.doc_id == "social-media-policy" and record.sections == sent.sections
        assert record.doc_version == "2.0" and not record.helpful


async def test_access_log_carries_a_hash_of_the_teams_user(
    teams: Harness, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="policybot.access")
    assert (await teams.post(personal_message(connector.url, SAM, FRIEND_REQUEST))).status == 201
    [record] = [r for r in caplog.records if getattr(r, "route", "") == "/api/messages"]
    assert vars(record)["user"] == teams.services.reports.db.keys.hash("log-user", SAM.aad.lower())[:16]
    assert SAM.aad not in record.getMessage()


async def test_app_id_configured_and_no_token_is_401(settings: Settings, assistant: Any) -> None:
    secured = settings.model_copy(
        update={
            "microsoft_app_id": "c9e8c047-2a74-40a2-b28a-b162d5f5327c",
            "microsoft_app_tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "microsoft_app_password": SecretStr("not-a-real-secret"),
        }
    )
    async with running_app(secured, assistant, None) as app:
        response = await app.post(personal_message("http://127.0.0.1:9/", SAM, FRIEND_REQUEST))
        assert response.status == 401


async def test_not_mounted_without_credentials_and_bad_content_type(
    settings: Settings, assistant: Any, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(settings, assistant, None) as app:
        response = await app.post(personal_message(connector.url, SAM, FRIEND_REQUEST))
        assert response.status in (404, 405)
    assert not [r for r in caplog.records if "WITHOUT AUTHENTICATION" in r.getMessage()]
    dev = settings.model_copy(update={"teams_dev": True})
    async with running_app(dev, assistant, connector) as app:
        [warning] = [r for r in caplog.records if "WITHOUT AUTHENTICATION" in r.getMessage()]
        assert warning.levelname == "WARNING"
        response = await app.http.post(
            f"{app.url}/api/messages", data=b"{}", headers={"Content-Type": "text/plain"}
        )
        assert response.status == 415
    assert BOT["id"].startswith("28:")


async def test_channel_feedback_buttons_are_stored(teams: Harness, connector: FakeConnector) -> None:
    await teams.post(channel_mention(connector.url, SAM, FRIEND_REQUEST))
    card = connector.messages()[0].cards[0]
    helpful, not_helpful = (a["data"] for a in card["actions"])
    thread = f"{CHANNEL};messageid=1759881511856"
    for data in (not_helpful, helpful):  # changed their mind: the later click counts
        click = channel_mention(connector.url, SAM, "")
        click.update(text=None, value=data, replyToId=connector.messages(thread)[0].response_id)
        click["entities"] = click["entities"][1:]
        assert (await teams.post(click)).status == 201
    counts = await teams.services.feedback.counts(doc_id="social-media-policy")
    assert (counts.helpful, counts.not_helpful) == (1, 0)


async def test_odd_card_values_are_never_echoed(
    teams: Harness, connector: FakeConnector, caplog: pytest.LogCaptureFixture
) -> None:
    """A forged Action.Submit payload (a reference that is not one) gets a fixed answer, echoes nothing."""
    secret = "my private words"
    activity = personal_message(connector.url, SAM, secret)
    activity["value"] = {"policybot": "open_case", "reference": ["not", "a", "string", secret]}
    response = await teams.post(activity)
    assert response.status == 201
    texts = [m.body.get("text", "") for m in connector.messages(SAM.chat)]
    assert texts and all(secret not in t for t in texts)
    assert all(secret not in r.getMessage() for r in caplog.records if r.levelno >= 20)
