"""Private reports in Teams over HTTP: the report card, validation errors re-shown, the case created, proactive
notices to the routed recipient (never the subject), Open case / Acknowledge, the reporter told, 403s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import Settings
from bot.reports.model import EventKind
from tests.fake_connector import TENANT, FakeConnector, Sent, TeamsUser, card_submit, personal_message
from tests.teams_harness import AMIRA, BEN, HELEN, PRIYA, SAM, Harness, running_app

DESCRIPTION = "Posted photos of a pupil on a public Instagram account during the school trip."


@pytest.fixture
async def teams(settings: Settings, assistant: Any, connector: FakeConnector) -> AsyncIterator[Harness]:
    dev = settings.model_copy(
        update={"teams_dev": True, "teams_service_url": connector.url, "microsoft_app_tenant_id": TENANT}
    )
    async with running_app(dev, assistant, connector) as harness:
        yield harness


def _submit_data(form: Sent) -> dict[str, Any]:
    """What Teams sends back for the card's Send button: its data merged with the inputs' current values."""
    card = form.cards[0]
    data: dict[str, Any] = dict(card["actions"][0]["data"])
    for element in card["body"]:
        if element.get("type", "").startswith("Input."):
            data[element["id"]] = element.get("value", "")
    return data


async def _say(teams: Harness, user: TeamsUser, text: str) -> None:
    assert (await teams.post(personal_message(teams.connector.url, user, text))).status == 201


async def _click(teams: Harness, user: TeamsUser, value: dict[str, Any], reply_to: str) -> list[Sent]:
    before = len(teams.connector.messages(user.chat))
    response = await teams.post(card_submit(teams.connector.url, user, value, reply_to=reply_to))
    assert response.status == 201
    return teams.connector.messages(user.chat)[before:]


async def _deliver(teams: Harness) -> None:
    """One pass of the delivery worker (what runs in the background in production)."""
    await teams.services.reports.worker.run_once()


async def test_report_end_to_end_notice_reaches_recipient_never_the_subject(
    teams: Harness, connector: FakeConnector
) -> None:
    # Amira (headteacher) and Ben (the subject) have talked to the bot, so both have personal chats.
    for user in (AMIRA, BEN, SAM):
        await _say(teams, user, "hello")
    connector.clear()

    await _say(teams, SAM, "report")
    form = connector.messages(SAM.chat)[-1]
    data = _submit_data(form)
    key = data["key"]
    # An empty description: the card comes back with the error and what was typed.
    data.update(
        category="conduct_online", where="Instagram", subject_person_id="ben.taylor", description="  "
    )
    [again] = await _click(teams, SAM, data, form.response_id)
    assert "Please fill in what happened" in again.card_text
    shown = {e["id"]: e.get("value") for e in again.cards[0]["body"] if "id" in e}
    assert shown["category"] == "conduct_online" and shown["where"] == "Instagram"
    assert shown["subject_person_id"] == "ben.taylor"
    assert _submit_data(again)["key"] == key  # the same submission, so a retry files one case

    data = _submit_data(again) | {"description": DESCRIPTION, "consent_to_name": "true"}
    [confirmation] = await _click(teams, SAM, data, again.response_id)
    assert "Your report has been sent" in confirmation.card_text
    reference = next(f for f in confirmation.card_text.split() if f.startswith("**")).strip("*")
    [repeat] = await _click(teams, SAM, data, again.response_id)
    assert reference in repeat.card_text and "already sent" in repeat.card_text

    view = await teams.services.reports.service.show(
        reference,
        teams.services.reports.directory.person("priya.shah"),  # type: ignore[arg-type]
    )
    assert view.description == DESCRIPTION and view.reporter is not None
    assert view.reporter.person_id == "sam.patel" and view.reporter.id == SAM.aad

    connector.clear()
    await _deliver(teams)
    [notice] = connector.messages(AMIRA.chat)
    assert reference in notice.card_text and DESCRIPTION not in notice.body.get("text", "")
    # the reply card (with the reference) stood for the reporter's confirmation notice: no second one
    assert connector.messages(SAM.chat) == []
    assert [a["title"] for a in notice.cards[0]["actions"]] == ["Open case", "Acknowledge"]
    assert connector.messages(BEN.chat) == []  # never the subject
    assert all(BEN.aad not in r.raw_path and r.conversation != BEN.chat for r in connector.records)

    # The subject cannot open it by clicking a forwarded button; the recipient can.
    [refused] = await _click(teams, BEN, {"policybot": "open_case", "reference": reference}, "x")
    assert "no case" in refused.body["text"] and DESCRIPTION not in str(refused.body)
    [case] = await _click(
        teams, AMIRA, {"policybot": "open_case", "reference": reference}, notice.response_id
    )
    assert DESCRIPTION in case.card_text and "Sam Patel" in case.card_text

    [acknowledged] = await _click(
        teams, AMIRA, {"policybot": "ack", "reference": reference}, notice.response_id
    )
    assert f"Acknowledged {reference}" in acknowledged.body["text"]
    [update] = connector.of("update", AMIRA.chat)
    assert update.raw_path.endswith(f"/activities/{notice.response_id}")
    assert "Acknowledge" not in [a["title"] for a in update.cards[0]["actions"]]

    connector.clear()
    await _deliver(teams)
    [told] = connector.messages(SAM.chat)
    assert reference in told.body["text"] and "acknowledged" in told.body["text"]
    assert "actions" not in told.cards[0]
    assert connector.messages(BEN.chat) == []


async def test_connector_403_is_recorded_and_the_fallback_route_used(
    teams: Harness, connector: FakeConnector
) -> None:
    """Amira has no chat with the bot and Teams refuses to create one (app not installed for her)."""
    connector.forbid(AMIRA.aad)
    await _say(teams, SAM, "report")
    form = connector.messages(SAM.chat)[-1]
    data = _submit_data(form) | {"category": "conduct_online", "description": DESCRIPTION}
    [confirmation] = await _click(teams, SAM, data, form.response_id)
    reference = next(f for f in confirmation.card_text.split() if f.startswith("**")).strip("*")

    await _deliver(teams)
    await _deliver(teams)
    attempts = [(c.body["members"][0]["id"], c.conversation) for c in connector.of("create")]
    assert attempts[0] == (AMIRA.aad, None)  # refused: no conversation was created
    # The next in line (HR) gets the case, in Teams: their chat is created and the notice posted there.
    [helen_chat] = [conversation for member, conversation in attempts if member == HELEN.aad]
    assert helen_chat is not None
    [notice] = connector.messages(helen_chat)
    assert reference in notice.body["text"] and "passed to you" in notice.body["text"]
    assert connector.messages() == [*connector.messages(SAM.chat), notice]

    priya = teams.services.reports.directory.person("priya.shah")
    assert priya is not None
    view = await teams.services.reports.service.show(reference, priya)
    kinds = [(e.kind, e.data.get("recipient"), e.data.get("channel")) for e in view.chronology]
    assert (EventKind.UNDELIVERABLE, "amira.okafor", "teams") in kinds
    undeliverable = next(e for e in view.chronology if e.kind is EventKind.UNDELIVERABLE)
    assert undeliverable.data["error"] == "HTTP 403"
    assert any(
        e.kind is EventKind.DELIVERED and e.data.get("recipient") == "helen.ward" for e in view.chronology
    )
    amira = next(r for r in view.recipients if r.person_id == "amira.okafor")
    assert amira.undeliverable
    assert PRIYA.aad  # the administrator reads the case; she was never a recipient here
