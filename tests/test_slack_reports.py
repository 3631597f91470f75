"""The private report flow through Slack, end to end: modal (and its shortcuts) -> case -> the reference in the
modal and a confirmation DM from the outbox -> DM to the routed recipients (never the subject) -> Open case (authorised only) -> Acknowledge -> reporter
told; validation errors in the modal; App Home; the Slack notifier's retries against a rate-limiting fake."""

from __future__ import annotations

import json
from typing import Any

from fake_slack import (
    FakeSlack,
    block_action,
    event_callback,
    message_action,
    report_values,
    shortcut,
    view_submission,
)
from slack_harness import Harness, running, slack_settings, view_of

from bot.channels.slack.modal import report_view
from bot.channels.slack.notifier import SlackNotifier
from bot.config import Settings
from bot.domain import Channel
from bot.reports.model import Category, Reporter
from bot.reports.notify import Address, DeliveryStatus, Notice, NoticeEvent

SAM = "U0SAM0001"  # Sam Patel, teaching assistant; line manager Jo Evans
BEN = "U0BEN0001"  # Ben Taylor: the subject of the report
JO = "U0JO00001"  # Jo Evans: Sam's line manager
HELEN, MARCUS = "U0HELEN01", "U0MARCUS1"  # HR
LUCY = "U0LUCY001"  # a colleague with no part in the case
STRANGER = "U0NOTINDIR"  # on Slack, not in the directory
DESCRIPTION = "Ben keeps sending me mocking messages in the staff WhatsApp group after I complained."


async def submit_report(h: Harness, *, user: str = SAM, view_id: str = "V0REPORT01", **values: Any) -> Any:
    fields: dict[str, Any] = {
        "category": "colleague_bullying",
        "description": DESCRIPTION,
        "subject_user": BEN,
        "where": "staff WhatsApp group",
    }
    fields.update(values)
    return await h.post(view_submission(report_view(), report_values(**fields), user=user, view_id=view_id))


def dm_channel(fake: FakeSlack, user: str) -> str | None:
    """The DM channel the app opened with ``user`` (the fake names it after the user)."""
    opened = [c for c in fake.of("conversations.open") if c.params.get("users") == user]
    return ("D" + user.lstrip("UW")[:10]) if opened else None


async def test_report_end_to_end(settings: Settings, assistant: Any, fake: FakeSlack) -> None:
    async with running(slack_settings(settings.var_dir, settings.database_url, fake), assistant, fake) as h:
        response = await submit_report(h)
        assert response.status == 200
        modal = await response.json()  # the modal answers their click with the reference ...
        assert modal["response_action"] == "update"
        sam_reports = await h.services.reports.service.my_reports(
            Reporter(channel=Channel.SLACK, id=SAM, person_id="sam.patel")
        )
        assert len(sam_reports) == 1
        reference = sam_reports[0].reference
        assert reference in json.dumps(modal) and "mocking" not in json.dumps(modal)
        await fake.settle(0.3)
        assert fake.of("chat.postMessage") == []  # ... and the edge sends no DM of its own
        # the reporter's confirmation DM, with the reference, comes from the outbox (worker)
        assert await h.deliver() >= 3
        [confirmation] = fake.posts_to(dm_channel(fake, SAM) or "")
        reporter_dm = json.dumps(confirmation.params)
        assert reference in reporter_dm
        assert "mocking" not in reporter_dm
        # the routed recipients are told by the Slack notifier (the delivery worker runs it)
        notified = {c.params["users"] for c in fake.of("conversations.open")} - {SAM}
        assert JO in notified and HELEN in notified
        assert BEN not in notified  # never the person it is about
        notices = [c for c in fake.of("chat.postMessage") if c.params["channel"] != dm_channel(fake, SAM)]
        for notice in notices:
            assert "mocking" not in json.dumps(notice.params) and "Ben" not in notice.params["text"]
            buttons = {
                e["action_id"]: e["value"]
                for b in notice.blocks()
                if b["type"] == "actions"
                for e in b["elements"]
            }
            assert buttons == {"case_open": reference, "case_ack": reference}
        # Open case: the recipient sees it; the subject and outsiders get a refusal with no content
        await h.post(block_action("case_open", reference, user=JO, channel=dm_channel(fake, JO) or ""))
        shown = view_of((await fake.wait_for("views.open"))[0])
        assert "mocking messages" in json.dumps(shown) and reference in json.dumps(shown)
        for outsider in (BEN, LUCY, STRANGER):
            await h.post(block_action("case_open", reference, user=outsider))
        refusals = [view_of(c) for c in (await fake.wait_for("views.open", 4))[1:]]
        for refusal in refusals:
            assert "can't open case" in json.dumps(refusal) and "mocking" not in json.dumps(refusal)
        # Acknowledge: the case is updated, the button message changes, the reporter is told
        await h.post(
            block_action(
                "case_ack",
                reference,
                user=JO,
                channel=dm_channel(fake, JO) or "",
                response_url=fake.response_url("ack"),
            )
        )
        update = (await fake.wait_for("chat.update"))[0]
        assert "acknowledged" in update.params["text"]
        case = await h.services.reports.service.show(
            reference, h.services.reports.directory.person("jo.evans")
        )
        assert case.acknowledged_at is not None
        before = len(fake.posts_to(dm_channel(fake, SAM) or ""))
        await h.deliver()
        told = fake.posts_to(dm_channel(fake, SAM) or "")
        assert len(told) == before + 1 and reference in told[-1].params["text"]
        assert "acknowledged" in told[-1].params["text"]


async def test_invalid_report_shows_errors_in_the_modal_and_saves_nothing(
    h: Harness, fake: FakeSlack
) -> None:
    empty = await submit_report(h, description="   ")
    body = await empty.json()
    assert body["response_action"] == "errors" and "description" in body["errors"]
    bad_link = await submit_report(h, evidence="not a link")
    assert "evidence" in (await bad_link.json())["errors"]
    no_category = await submit_report(h, category="")
    assert "category" in (await no_category.json())["errors"]
    await fake.settle(0.5)
    assert fake.of("chat.postMessage") == []
    assert await h.deliver() == 0


async def test_shortcuts_open_the_modal_and_the_message_shortcut_attaches_the_link(
    h: Harness, fake: FakeSlack
) -> None:
    await h.post(shortcut("report_concern", user=SAM))
    first = view_of((await fake.wait_for("views.open"))[0])
    assert first["callback_id"] == "report_submit"
    await h.post(
        message_action(
            "report_message",
            user=SAM,
            channel="C0STAFFRM",
            message_ts="1700000700.000100",
            response_url=fake.response_url("ma"),
        )
    )
    second = view_of((await fake.wait_for("views.open", 2))[1])
    evidence = next(b for b in second["blocks"] if b.get("block_id") == "evidence")
    assert (
        evidence["element"]["initial_value"]
        == "https://oakfield.slack.com/archives/C0STAFFRM/p1700000700000100"
    )
    assert fake.of("chat.getPermalink")[0].params["message_ts"] == "1700000700.000100"


async def test_app_home_lists_my_reports_and_my_cases(h: Harness, fake: FakeSlack) -> None:
    saved = await submit_report(h)
    assert (await saved.json())["response_action"] == "update"  # saved before the modal answered
    reference = (await h.services.reports.service.cases_for(h.services.reports.directory.person("jo.evans")))[
        0
    ].reference  # type: ignore[arg-type]
    for user, n in ((SAM, 1), (JO, 2)):
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME0001",
            "tab": "home",
            "event_ts": f"170000080{n}.000100",
        }
        await h.post(event_callback(event, event_id=f"EvHOME{n}"), json_body=True)
        await fake.wait_for("views.publish", n)
    sam_home, jo_home = (view_of(c) for c in fake.of("views.publish"))
    assert fake.of("views.publish")[0].params["user_id"] == SAM
    sam_text, jo_text = json.dumps(sam_home), json.dumps(jo_home)
    assert (
        reference in sam_text and "not yet acknowledged" in sam_text and "Cases routed to you" not in sam_text
    )
    assert "Cases routed to you" in jo_text and reference in jo_text
    assert "mocking" not in sam_text + jo_text
    assert "Quick guidance" in sam_text and "report_open" in sam_text
    assert len(sam_home["blocks"]) <= 100


NOTICE = Notice(
    key="k1",
    event=NoticeEvent.NEW_CASE,
    reference="PB-TEST-1",
    category=Category.OTHER,
    text="A new concern (PB-TEST-1, other concern) has been routed to you.",
    link="http://x/cases/1",
)


async def test_notifier_retries_ratelimited_and_5xx_then_hands_back(fake: FakeSlack) -> None:
    notifier = SlackNotifier(token="xoxb-test", base_url=fake.api_url, max_wait=2.0)
    address = Address(person_id="jo.evans", slack_id=JO)
    try:
        fake.fail("chat.postMessage", times=1, status=429, retry_after=1)
        fake.fail("conversations.open", times=1, status=503, error="service_unavailable")
        delivered = await notifier.send(address, NOTICE)
        assert delivered.status is DeliveryStatus.DELIVERED
        assert len(fake.of("chat.postMessage")) == 2 and len(fake.of("conversations.open")) == 2
        fake.fail("chat.postMessage", times=3, status=429, retry_after=1)
        later = await notifier.send(address, NOTICE)
        assert later.status is DeliveryStatus.RETRY and later.detail == "ratelimited"
        fake.fail("chat.postMessage", times=1, status=429, retry_after=120)  # longer than we wait inline
        assert (await notifier.send(address, NOTICE)).status is DeliveryStatus.RETRY
        fake.unreachable.add("U0GONE001")
        gone = await notifier.send(Address(person_id="x", slack_id="U0GONE001"), NOTICE)
        assert gone.status is DeliveryStatus.UNDELIVERABLE and gone.detail == "user_not_found"
        assert not notifier.can_reach(Address(person_id="y", email="y@example.org"))
    finally:
        await notifier.close()
