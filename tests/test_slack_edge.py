"""The Slack edge over HTTP, called the way Slack calls it (signed requests, real payload shapes), answering
through the real assistant into a fake Slack Web API: signatures, retries, /policy, mentions, DMs, privacy of
report-like messages, feedback, friendly failure, the assistant container."""

from __future__ import annotations

import html
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fake_slack import (
    FakeSlack,
    block_action,
    direct_message,
    event_callback,
    mention,
    slash_command,
)
from slack_harness import Harness, running, slack_settings, view_of

from bot.channels.services import Services
from bot.channels.slack.edge import FRIENDLY, GREETING
from bot.config import PROJECT_ROOT, Settings
from bot.server import create_app

POLICY = (PROJECT_ROOT / "policy_corpus" / "social-media-policy.md").read_text(encoding="utf-8")
SAM = "U0SAM0001"
FRIEND = "Can I accept a friend request from a parent?"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def assert_verbatim_quotes(blocks: list[dict[str, Any]]) -> int:
    """Every quoted section is the policy's own text; returns how many quotes were checked."""
    body = _norm(POLICY)
    quotes = 0
    for block in blocks:
        text = block.get("text", {}).get("text", "") if block.get("type") == "section" else ""
        if text.startswith("> "):
            quote = _norm("\n".join(line[2:] for line in text.split("\n")))
            for part in quote.split(" … "):
                assert part.strip(" .…") in body, part
            quotes += 1
    return quotes


async def test_not_mounted_without_credentials(tmp_path: Path, assistant: Any) -> None:
    settings = Settings.load(var_dir=tmp_path / "var", secret_key="k" * 32, worker=False)
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    from aiohttp.test_utils import TestClient, TestServer

    client = TestClient(TestServer(create_app(settings, services=services), host="127.0.0.1"))
    await client.start_server()
    try:
        response = await client.post("/slack/events", data=b"x")
        assert response.status in (404, 405)
        assert "slack" not in services.reports.notifiers.names
    finally:
        await client.close()
        await services.close()


async def test_bad_or_missing_signature_is_401_and_nothing_happens(h: Harness, fake: FakeSlack) -> None:
    body = slash_command(FRIEND, user=SAM, response_url=fake.response_url())
    bad = await h.post(body, secret="not-the-secret")
    assert bad.status == 401
    missing = await h.client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert missing.status == 401
    event = event_callback(mention(FRIEND, user=SAM), event_id="EvBAD")
    assert (await h.post(event, json_body=True, secret="wrong")).status == 401
    await fake.settle(1.0)
    assert fake.calls == []


async def test_access_log_carries_a_hash_of_the_verified_user_only(
    h: Harness, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="policybot.access")
    body = slash_command(FRIEND, user=SAM, response_url=fake.response_url())
    assert (await h.post(body, secret="not-the-secret")).status == 401
    assert (await h.post(body)).status == 200
    await h.event(direct_message(FRIEND, user=SAM, ts="1700000100.000100"), event_id="EvLOG1")
    users = [vars(r)["user"] for r in caplog.records if getattr(r, "route", "") == "/slack/events"]
    hashed = h.services.reports.db.keys.hash("log-user", SAM)[:16]
    assert users == [None, hashed, hashed], (
        "a forged request names nobody; verified ones a hash, never the id"
    )
    assert all(SAM not in r.getMessage() for r in caplog.records if r.name == "policybot.access")


async def test_stale_timestamp_is_401_fresh_is_accepted(h: Harness, fake: FakeSlack) -> None:
    body = slash_command(FRIEND, user=SAM, response_url=fake.response_url())
    stale = await h.post(body, timestamp=int(time.time()) - 301)
    assert stale.status == 401
    await fake.settle(0.5)
    assert fake.calls == []
    fresh = await h.post(body, timestamp=int(time.time()) - 200)
    assert fresh.status == 200
    await fake.wait_for("response_url")


async def test_slash_question_is_answered_privately_with_verbatim_citations(
    h: Harness, fake: FakeSlack
) -> None:
    started = time.perf_counter()
    response = await h.post(slash_command(FRIEND, user=SAM, response_url=fake.response_url()))
    assert response.status == 200
    assert time.perf_counter() - started < 3.0  # acknowledged within Slack's 3 seconds
    answer = (await fake.wait_for("response_url"))[0]
    assert answer.params["response_type"] == "ephemeral"
    blocks = answer.params["blocks"]
    assert len(blocks) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    assert assert_verbatim_quotes(blocks) >= 1
    contexts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any(
        "Acceptable Use of Social Media Policy" in c and "Appendix 1" in c and "version 2.0" in c
        for c in contexts
    )
    actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert {"feedback_helpful", "feedback_not_helpful"} <= set(actions)
    assert "chat.postMessage" not in [c.method for c in fake.calls]  # nothing in the channel


async def test_policy_alone_and_help_give_quick_guidance(h: Harness, fake: FakeSlack) -> None:
    for n, text in enumerate(("", "help")):
        assert (
            await h.post(slash_command(text, user=SAM, response_url=fake.response_url(f"g{n}")))
        ).status == 200
    answers = await fake.wait_for("response_url", 2)
    for answer in answers:
        blocks = answer.params["blocks"]
        assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == "Quick guidance"
        assert assert_verbatim_quotes(blocks) >= 2
        labels = [e["text"]["text"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
        assert labels == ["Report a concern", "Read the full policy"]
        contexts = " ".join(e["text"] for b in blocks if b["type"] == "context" for e in b["elements"])
        assert "Appendix 1" in contexts and "6.3" in contexts


async def test_policy_report_opens_the_report_modal(h: Harness, fake: FakeSlack) -> None:
    assert (await h.post(slash_command("report", user=SAM, response_url=fake.response_url()))).status == 200
    opened = (await fake.wait_for("views.open"))[0]
    view = view_of(opened)
    assert view["callback_id"] == "report_submit"
    assert opened.params["trigger_id"]
    assert "999" in json.dumps(view)
    ids = {b.get("block_id") for b in view["blocks"]}
    assert {"category", "description", "where", "when", "subject_user", "subject_text", "options"} <= ids


async def test_mention_is_answered_in_its_thread_with_progress(h: Harness, fake: FakeSlack) -> None:
    event = mention("Can I go on Facebook during working hours?", user=SAM, ts="1700000100.000100")
    assert (await h.event(event, event_id="EvMENTION1")).status == 200
    posted = (await fake.wait_for("chat.postMessage"))[0]
    assert posted.params["channel"] == "C0STAFFRM"
    assert posted.params["thread_ts"] == "1700000100.000100"
    assert assert_verbatim_quotes(posted.blocks()) >= 1
    reaction = fake.of("reactions.add")[0]
    assert reaction.params["name"] == "eyes" and reaction.params["timestamp"] == "1700000100.000100"


async def test_dm_is_answered_and_follow_ups_keep_context(h: Harness, fake: FakeSlack) -> None:
    await h.event(direct_message(FRIEND, user=SAM, ts="1700000200.000100"), event_id="EvDM1")
    first = (await fake.wait_for("chat.postMessage"))[0]
    assert first.params["channel"] == "D0DM00001" and not first.params.get("thread_ts")
    await h.event(direct_message("what about Instagram?", user=SAM, ts="1700000201.000100"), event_id="EvDM2")
    await fake.wait_for("chat.postMessage", 2)
    await h.services.assistant.settle()  # memory is written just after the reply goes out
    remembered = await h.services.memory.recent("slack:D0DM00001")
    assert FRIEND in remembered[0]  # the DM is the conversation: the follow-up was read against it
    assert len(remembered) == 2 and "friend request" in remembered[1].lower()


async def test_retried_event_is_answered_once(settings: Settings, assistant: Any, fake: FakeSlack) -> None:
    cfg = slack_settings(settings.var_dir, settings.database_url, fake)
    async with running(cfg, assistant, fake) as h:
        event = mention(FRIEND, user=SAM, ts="1700000300.000100")
        assert (await h.event(event, event_id="EvRETRY1")).status == 200
        await fake.wait_for("chat.postMessage")
        retry = await h.event(event, event_id="EvRETRY1", retry=1)
        assert retry.status == 200
        await fake.settle(1.5)
        assert len(fake.of("chat.postMessage")) == 1


async def test_report_like_mention_is_answered_by_dm_and_nothing_in_channel(
    h: Harness, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    text = "My colleague keeps posting abusive comments about me on Facebook and I feel harassed"
    await h.event(mention(text, user=SAM, ts="1700000400.000100"), event_id="EvREPORT1")
    dm = (await fake.wait_for("chat.postMessage"))[0]
    assert fake.of("conversations.open")[0].params["users"] == SAM
    assert dm.params["channel"].startswith("D")
    actions = [e["action_id"] for b in dm.blocks() if b["type"] == "actions" for e in b["elements"]]
    assert "report_open" in actions
    await fake.settle(1.0)
    assert fake.posts_to("C0STAFFRM") == []
    assert "keeps posting" not in dm.text_of_blocks()  # the guidance does not repeat what they wrote
    logged = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert logged and not any("keeps posting" in r.getMessage() for r in logged)  # never logged


async def test_feedback_is_stored_and_the_latest_click_wins(
    settings: Settings, assistant: Any, fake: FakeSlack
) -> None:
    async with running(slack_settings(settings.var_dir, settings.database_url, fake), assistant, fake) as h:
        await h.post(slash_command(FRIEND, user=SAM, response_url=fake.response_url()))
        blocks = (await fake.wait_for("response_url"))[0].params["blocks"]
        buttons = {
            e["action_id"]: e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
        }
        reply_id = json.loads(buttons["feedback_helpful"])["r"]
        for action in ("feedback_helpful", "feedback_not_helpful"):
            ok = await h.post(
                block_action(action, buttons[action], user=SAM, response_url=fake.response_url("fb"))
            )
            assert ok.status == 200
        await fake.wait_for("response_url", 3)
        record = await h.services.feedback.get(reply_id, f"slack:{SAM}")
        assert record is not None and record.helpful is False
        assert record.doc_id == "social-media-policy" and record.sections


async def test_unpostable_answer_gets_a_friendly_message(h: Harness, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", times=2, status=500, error="internal_error")
    await h.event(mention(FRIEND, user=SAM, ts="1700000500.000100"), event_id="EvFAIL1")
    posts = await fake.wait_for("chat.postMessage", 3)
    assert posts[-1].params["text"] == FRIENDLY
    assert posts[-1].params["thread_ts"] == "1700000500.000100"


async def test_assistant_container_greets_sets_status_and_title(h: Harness, fake: FakeSlack) -> None:
    thread = {
        "user_id": SAM,
        "context": {"channel_id": "C0STAFFRM", "team_id": "T0OAKFIELD"},
        "channel_id": "D0ASSIST1",
        "thread_ts": "1700000600.000100",
    }
    await h.event(
        {"type": "assistant_thread_started", "assistant_thread": thread, "event_ts": "1700000600.000200"},
        event_id="EvASSIST1",
    )
    greeting = (await fake.wait_for("chat.postMessage"))[0]
    assert greeting.params["text"] == GREETING and greeting.params["thread_ts"] == "1700000600.000100"
    prompts = (await fake.wait_for("assistant.threads.setSuggestedPrompts"))[0]
    assert "friend request from a parent" in json.dumps(prompts.params)
    message = {
        "type": "message",
        "user": SAM,
        "text": FRIEND,
        "ts": "1700000601.000100",
        "thread_ts": "1700000600.000100",
        "channel": "D0ASSIST1",
        "channel_type": "im",
        "event_ts": "1700000601.000100",
    }
    await h.event(message, event_id="EvASSIST2")
    await fake.wait_for("chat.postMessage", 2)
    assert fake.of("assistant.threads.setStatus")
    assert (await fake.wait_for("assistant.threads.setTitle"))[0].params["title"].startswith("Can I accept")
    answer = fake.of("chat.postMessage")[1]
    assert assert_verbatim_quotes(answer.blocks()) >= 1


async def test_read_the_full_policy_opens_it(h: Harness, fake: FakeSlack) -> None:
    await h.post(
        block_action("read_policy", "social-media-policy", user=SAM, response_url=fake.response_url())
    )
    view = view_of((await fake.wait_for("views.open"))[0])
    text = json.dumps(view)
    assert "Acceptable Use of Social Media Policy" in text and "Appendix 1" in text
    assert len(view["blocks"]) <= 100
