"""Adaptive Cards as plain dicts: version, verbatim quotes, citation entity limits, form re-show, commands."""

from __future__ import annotations

import json

from bot.channels.teams import cards
from bot.channels.teams.forms import parse_command, submission_from_value
from bot.domain import Citation, Reply, ReplyKind
from bot.reports.model import Category, Receipt

QUOTE = "Employees must not accept friend requests from service users. " * 4


def _reply(**kw: object) -> Reply:
    citation = Citation(
        doc_id="social-media-policy",
        doc_title="Acceptable Use of Social Media Policy",
        section="6.3",
        section_title="Friend requests",
        quote=QUOTE.strip(),
        score=1.0,
        url="https://example.org/policy#6.3",
        version="2.0",
    )
    fields: dict[str, object] = {
        "question": "q",
        "kind": ReplyKind.ANSWER,
        "text": "No.",
        "citations": (citation,),
    }
    fields.update(kw)
    return Reply(id="r1", **fields)  # type: ignore[arg-type]


def _walk(node: object) -> list[dict[str, object]]:
    if isinstance(node, dict):
        return [node, *[x for v in node.values() for x in _walk(v)]]
    if isinstance(node, list):
        return [x for v in node for x in _walk(v)]
    return []


def test_answer_card_quotes_verbatim_and_cites() -> None:
    card = cards.answer_card(_reply())
    assert card["version"] == "1.5" and card["type"] == "AdaptiveCard"
    text = json.dumps(card)
    assert QUOTE.strip() in text  # never shortened in the card
    assert "section 6.3 Friend requests, version 2.0" in text and "https://example.org/policy#6.3" in text
    assert "actions" not in card  # no report offer, no feedback buttons in chats (Teams has its own)
    offered = cards.answer_card(_reply(suggest_report=True), feedback_buttons=True)
    assert [a["title"] for a in offered["actions"]] == ["Report this privately", "Helpful", "Not helpful"]
    assert offered["actions"][1]["data"] == {"policybot": "feedback", "reply_id": "r1", "helpful": True}


def test_citation_entity_respects_teams_limits() -> None:
    entity = cards.citation_entity(_reply().citations)
    [claim] = entity["citation"]
    assert claim["@type"] == "Claim" and claim["position"] == 1
    appearance = claim["appearance"]
    assert len(appearance["abstract"]) <= 160 and appearance["abstract"].endswith("\u2026")
    assert len(appearance["name"]) <= 80 and all(len(k) <= 28 for k in appearance["keywords"])
    assert cards.message_text(_reply()) == "No. Sources: [1]"


def test_report_card_reshows_values_and_error_beside_the_field() -> None:
    card = cards.report_card(
        key="k1",
        people=[("ben.taylor", "Ben Taylor")],
        values={"category": "other", "where": "Teams", "tell_hr": "true"},
        error="Please fill in what happened; it cannot be empty.",
        error_field="description",
    )
    inputs = {e["id"]: e for e in card["body"] if "id" in e}
    assert inputs["category"]["value"] == "other" and inputs["where"]["value"] == "Teams"
    assert inputs["tell_hr"]["value"] == "true" and inputs["consent_to_name"]["value"] == "false"
    assert {c["value"] for c in inputs["category"]["choices"]} == {c.value for c in Category}
    body = card["body"]
    at = next(i for i, e in enumerate(body) if e.get("id") == "description")
    assert "cannot be empty" in body[at + 1]["text"]
    assert card["actions"][0]["data"] == {"policybot": "report_submit", "key": "k1"}
    assert all(b.get("type") != "Action.Execute" for b in _walk(card))


def test_notice_cards_are_bland() -> None:
    notice = cards.notice_card("A new concern (PB-1) has been routed to you.", reference="PB-1", actions=True)
    assert [a["data"] for a in notice["actions"]] == [
        {"policybot": "open_case", "reference": "PB-1"},
        {"policybot": "ack", "reference": "PB-1"},
    ]
    assert "actions" not in cards.notice_card(
        "Your report PB-1 was acknowledged.", reference="PB-1", actions=False
    )
    confirmation = json.dumps(cards.confirmation_card(Receipt("PB-1", Category.OTHER, 1, True)))
    assert "PB-1" in confirmation and "already" not in confirmation


def test_commands_and_submission_values() -> None:
    assert parse_command("policy can I post photos?").text == "can I post photos?"
    assert parse_command("help").name == "help" and parse_command("report").name == "report"
    assert parse_command("help me with a complaint").name == "policy"
    assert parse_command("What is the policy on LinkedIn?").name == "policy"
    sub = submission_from_value(
        {"category": "safeguarding", "description": "x", "subject_person_id": "", "concerns_children": "true"}
    )
    assert sub.subject_person_id is None and sub.concerns_children and not sub.tell_hr
