"""The Slack app manifest against what the code handles; Block Kit limits; Socket Mode over a loopback fake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from fake_slack import (
    FakeSlack,
    direct_message,
    event_callback,
    mention,
    message_action,
    shortcut,
    slash_command,
)
from slack_harness import BOT_TOKEN, TEST_SECRET, running, slack_settings

from bot.channels.slack import edge
from bot.channels.slack.blocks import (
    MAX_MESSAGE_BLOCKS,
    MAX_SECTION_TEXT,
    answer_blocks,
    escape,
    guidance_blocks,
)
from bot.config import PROJECT_ROOT, Settings
from bot.domain import Citation, Reply, ReplyKind

MANIFEST = PROJECT_ROOT / "deploy" / "slack" / "manifest.yaml"


def test_manifest_matches_the_code(tmp_path: Path) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    features, settings = manifest["features"], manifest["settings"]
    assert [c["command"] for c in features["slash_commands"]] == [edge.COMMAND]
    shortcuts = {s["callback_id"]: s["type"] for s in features["shortcuts"]}
    assert shortcuts == {edge.SHORTCUT_REPORT: "global", edge.SHORTCUT_MESSAGE: "message"}
    events = set(settings["event_subscriptions"]["bot_events"])
    assert {
        "app_mention",
        "message.im",
        "app_home_opened",
        "assistant_thread_started",
        "assistant_thread_context_changed",
    } <= events
    assert settings["interactivity"]["is_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] and features["app_home"]["home_tab_enabled"]
    assert "assistant_view" in features
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {
        "app_mentions:read",
        "assistant:write",
        "chat:write",
        "commands",
        "im:history",
        "im:write",
        "reactions:write",
    } <= scopes
    urls = {c["url"] for c in features["slash_commands"]} | {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    }
    assert all(u.endswith("/slack/events") for u in urls)


async def test_every_manifest_entry_is_handled(tmp_path: Path, assistant: Any) -> None:
    """Each command, shortcut and event the manifest subscribes to reaches a listener (Bolt answers 404
    for anything nobody listens to)."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    fake = await FakeSlack().start()
    try:
        async with running(slack_settings(tmp_path / "var", None, fake), assistant, fake) as h:
            for command in manifest["features"]["slash_commands"]:
                body = slash_command(
                    "help", user="U0SAM0001", response_url=fake.response_url(), command=command["command"]
                )
                assert (await h.post(body)).status == 200, command
            for item in manifest["features"]["shortcuts"]:
                if item["type"] == "global":
                    body = shortcut(item["callback_id"], user="U0SAM0001")
                else:
                    body = message_action(
                        item["callback_id"],
                        user="U0SAM0001",
                        channel="C0STAFFRM",
                        message_ts="1700000900.000100",
                        response_url=fake.response_url(),
                    )
                assert (await h.post(body)).status == 200, item
            thread = {"user_id": "U0SAM0001", "context": {}, "channel_id": "D0ASSIST1", "thread_ts": "1.2"}
            samples = {
                "app_mention": mention("help", user="U0SAM0001"),
                "message.im": direct_message("help", user="U0SAM0001"),
                "app_home_opened": {
                    "type": "app_home_opened",
                    "user": "U0SAM0001",
                    "tab": "home",
                    "channel": "D0HOME0001",
                    "event_ts": "1.3",
                },
                "assistant_thread_started": {
                    "type": "assistant_thread_started",
                    "assistant_thread": thread,
                    "event_ts": "1.4",
                },
                "assistant_thread_context_changed": {
                    "type": "assistant_thread_context_changed",
                    "assistant_thread": thread,
                    "event_ts": "1.5",
                },
            }
            for n, name in enumerate(manifest["settings"]["event_subscriptions"]["bot_events"]):
                response = await h.event(samples[name], event_id=f"EvMANIFEST{n}")
                assert response.status == 200, name
            await fake.wait_for("views.publish")
    finally:
        await fake.close()


def _citation(n: int, quote: str) -> Citation:
    return Citation(
        doc_id="d",
        doc_title="A Policy",
        section=f"{n}.1",
        section_title="Title",
        quote=quote,
        score=1.0,
        version="2.0",
    )


def test_blocks_respect_block_kit_limits() -> None:
    long_quote = ("A sentence of the policy that goes on & on <with> detail. " * 120).strip()
    reply = Reply(
        question="q",
        kind=ReplyKind.ANSWER,
        text="x " * 4000,
        id="r1",
        suggest_report=True,
        citations=tuple(_citation(n, long_quote) for n in range(40)),
    )
    blocks = answer_blocks(reply)
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    assert blocks[-1]["type"] == "actions"  # the buttons survive shortening
    assert [e["action_id"] for e in blocks[-1]["elements"]] == [
        "report_open",
        "feedback_helpful",
        "feedback_not_helpful",
    ]
    for block in blocks:
        assert len(block.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT
    quoted = "".join(
        b["text"]["text"] for b in blocks[:12] if b.get("text", {}).get("text", "").startswith(">")
    )
    assert escape("on & on <with>") in quoted.replace("\n> ", "")  # escaped, never rewritten
    guide = guidance_blocks(reply, policy_url="https://intranet.example.org/policy", doc_id="d")
    assert len(guide) <= MAX_MESSAGE_BLOCKS
    read = guide[-1]["elements"][1]
    assert (
        read["url"] == "https://intranet.example.org/policy"
        and read["text"]["text"] == "Read the full policy"
    )


async def test_socket_mode_connects_and_answers_over_loopback(tmp_path: Path, assistant: Any) -> None:
    fake = await FakeSlack().start()
    try:
        settings = Settings.load(
            var_dir=tmp_path / "var",
            secret_key=TEST_SECRET,
            slack_bot_token=BOT_TOKEN,
            slack_app_token="xapp-1-A0POLICYBOT-test",
            slack_socket_mode=True,
            slack_api_url=fake.api_url,
            slack_progress_after=0.0,
            worker=False,
        )
        async with running(settings, assistant, fake) as h:
            opened = (await fake.wait_for("apps.connections.open"))[0]
            assert opened.headers["Authorization"] == "Bearer xapp-1-A0POLICYBOT-test"
            await fake.wait_for("socket.connected")
            # no signing secret: the HTTP route is not mounted, Socket Mode is the only way in
            assert (await h.client.post("/slack/events", data=b"{}")).status in (404, 405)
            body = json.loads(
                event_callback(
                    mention("Can I accept a friend request from a parent?", user="U0SAM0001"),
                    event_id="EvSOCKET1",
                )
            )
            await fake.send_envelope("env-1", body)
            ack = (await fake.wait_for("socket.ack"))[0]
            assert ack.params["envelope_id"] == "env-1"
            posted = (await fake.wait_for("chat.postMessage"))[0]
            assert posted.params["channel"] == "C0STAFFRM" and posted.params["thread_ts"]
    finally:
        await fake.close()
