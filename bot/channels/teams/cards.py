"""Adaptive Cards (schema 1.5, the most Teams renders) for the Teams edge, as plain dicts.

No SDK import: these are JSON documents, testable on their own and reusable by any Teams SDK. Every card's
``Action.Submit`` carries ``data.policybot`` naming the action, which the edge dispatches on when the click
comes back as a ``message`` activity with a ``value``. Report content appears only on the report form (for
its author) and the case card (for an authorised recipient); notices stay bland.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain import Citation, Reply, ReplyKind
from bot.reports.model import CaseView, Category, Receipt

__all__ = [
    "ACTION",
    "CARD_CONTENT_TYPE",
    "VERSION",
    "acknowledged_card",
    "answer_card",
    "case_card",
    "citation_entity",
    "confirmation_card",
    "message_card",
    "message_text",
    "notice_card",
    "report_card",
    "welcome_card",
]

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
VERSION = "1.5"
#: The key in ``Action.Submit`` data naming what was clicked.
ACTION = "policybot"

EMERGENCY_NOTE = (
    "This is not for emergencies. If anyone is in immediate danger, call 999, then tell the Designated "
    "Safeguarding Lead in person."
)
#: Teams' own limits for citation appearances (name 80, abstract 160 characters).
_NAME_MAX = 80
_ABSTRACT_MAX = 160


def _card(body: list[dict[str, Any]], actions: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = list(actions)
    return card


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _submit(title: str, action: str, **data: Any) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": title, "data": {ACTION: action, **data}}


def _source_line(citation: Citation) -> str:
    version = f", version {citation.version}" if citation.version else ""
    title = f"[{citation.doc_title}]({citation.url})" if citation.url else citation.doc_title
    return f"{title}, {citation.place}{version}"


def _quote_block(position: int, citation: Citation) -> dict[str, Any]:
    """A verbatim quote (never reworded) with where it comes from."""
    return {
        "type": "Container",
        "style": "emphasis",
        "items": [
            _text(f"[{position}] \u201c{citation.quote}\u201d", fontType="Default"),
            _text(_source_line(citation), isSubtle=True, size="Small", spacing="Small"),
        ],
    }


def answer_card(reply: Reply, *, feedback_buttons: bool = False) -> dict[str, Any]:
    """The answer: its text, each citation quoted verbatim with document, section, version and link, a
    "Report this privately" action when the core suggests one, and (in channels, where Teams' own feedback
    buttons do not exist) helpful / not helpful buttons."""
    body: list[dict[str, Any]] = [_text(reply.text)]
    if reply.urgent:
        body[0]["color"] = "Attention"
        body[0]["weight"] = "Bolder"
    for position, citation in enumerate(reply.citations, start=1):
        body.append(_quote_block(position, citation))
    if reply.kind is ReplyKind.NO_ANSWER and reply.nearest:
        nearest = "; ".join(f"{s.doc_title} {s.section} {s.section_title}" for s in reply.nearest[:3])
        body.append(_text(f"Nearest sections: {nearest}", isSubtle=True, size="Small"))
    if reply.contacts:
        who = "; ".join(f"{c.name} ({c.role}){': ' + c.how if c.how else ''}" for c in reply.contacts)
        body.append(_text(f"Who to ask: {who}", isSubtle=True, size="Small"))
    actions: list[dict[str, Any]] = []
    if reply.suggest_report:
        actions.append(_submit("Report this privately", "report"))
    if feedback_buttons and reply.kind is ReplyKind.ANSWER:
        actions.append(_submit("Helpful", "feedback", reply_id=reply.id, helpful=True))
        actions.append(_submit("Not helpful", "feedback", reply_id=reply.id, helpful=False))
    return _card(body, actions)


def citation_entity(citations: Sequence[Citation]) -> dict[str, Any]:
    """Teams' AI message entity: its citation claims render as [n] references in the message text."""
    claims = []
    for position, c in enumerate(citations, start=1):
        name = f"{c.doc_title} {c.label or c.section_title}"
        abstract = c.quote if len(c.quote) <= _ABSTRACT_MAX else c.quote[: _ABSTRACT_MAX - 1] + "\u2026"
        appearance: dict[str, Any] = {
            "@type": "DigitalDocument",
            "name": name[:_NAME_MAX],
            "abstract": abstract,
            "keywords": [c.place[:28]] + ([f"version {c.version}"[:28]] if c.version else []),
        }
        if c.url:
            appearance["url"] = c.url
        claims.append({"@type": "Claim", "position": position, "appearance": appearance})
    return {
        "type": "https://schema.org/Message",
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
        "additionalType": ["AIGeneratedContent"],
        "citation": claims,
    }


def message_text(reply: Reply) -> str:
    """The message text Teams shows above the card: the first line and [n] markers its citations attach to."""
    first = reply.text.strip().split("\n", 1)[0]
    if not reply.citations:
        return first
    markers = " ".join(f"[{i}]" for i in range(1, len(reply.citations) + 1))
    return f"{first} Sources: {markers}"


def welcome_card(organisation: str) -> dict[str, Any]:
    """Shown on install: what policybot does and how to report privately."""
    return _card(
        [
            _text("Hello, I'm policybot", size="Large", weight="Bolder"),
            _text(
                f"I answer questions about {organisation}'s policies with the policy's own words, and "
                "say which document and section each quote comes from."
            ),
            _text(
                "Ask me anything, e.g. **policy can I accept a friend request from a parent?**  \n"
                "Type **help** for the rules staff most need.  \n"
                "Type **report** to tell the right person about abuse, bullying or a safeguarding concern. "
                "Reports go privately to the right person, never to the person they are about."
            ),
            _text(EMERGENCY_NOTE, isSubtle=True, size="Small"),
        ],
        [_submit("Quick guidance", "help"), _submit("Report privately", "report")],
    )


def report_card(
    *,
    key: str,
    people: Sequence[tuple[str, str]],
    values: Mapping[str, Any] | None = None,
    error: str | None = None,
    error_field: str | None = None,
) -> dict[str, Any]:
    """The private report form. ``key`` makes a double submit file one case; ``values`` and ``error``
    re-show what the reporter typed, with the problem beside the field it concerns."""
    values = values or {}
    body: list[dict[str, Any]] = [
        _text("Report a concern privately", size="Large", weight="Bolder"),
        _text(
            "Only the right person sees this (your manager, HR or the Designated Safeguarding Lead), "
            "never the person it is about."
        ),
        _text(EMERGENCY_NOTE, color="Attention", size="Small"),
    ]
    if error:
        body.append(_text(f"Please check the form: {error}", color="Attention", weight="Bolder"))

    def field_error(name: str) -> list[dict[str, Any]]:
        if error and error_field == name:
            return [_text(error, color="Attention", size="Small", spacing="None")]
        return []

    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "category",
            "label": "What kind of concern is it?",
            "isRequired": True,
            "errorMessage": "Choose a kind of concern.",
            "choices": [{"title": c.label, "value": c.value} for c in Category],
            "value": str(values.get("category", "")),
        }
    )
    body += field_error("category")
    body.append(
        {
            "type": "Input.Text",
            "id": "description",
            "label": "What happened?",
            "isMultiline": True,
            "isRequired": True,
            "errorMessage": "Please say what happened.",
            "maxLength": 10000,
            "value": str(values.get("description", "")),
        }
    )
    body += field_error("description")
    for name, label in (("where", "Where did it happen?"), ("when", "When did it happen?")):
        body.append({"type": "Input.Text", "id": name, "label": label, "value": str(values.get(name, ""))})
        body += field_error(name)
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "subject_person_id",
            "label": "Who is it about? (a colleague, if any)",
            "choices": [{"title": "Nobody here / someone else", "value": ""}]
            + [{"title": name, "value": pid} for pid, name in people],
            "value": str(values.get("subject_person_id", "")),
        }
    )
    body += field_error("subject_person_id")
    body.append(
        {
            "type": "Input.Text",
            "id": "subject_text",
            "label": "Or describe who it is about",
            "value": str(values.get("subject_text", "")),
        }
    )
    body += field_error("subject_text")
    toggles = (
        ("concerns_children", "It concerns a child or vulnerable adult"),
        ("tell_hr", "Please also tell HR"),
        ("consent_to_name", "I agree to be named to the person handling this"),
    )
    for name, title in toggles:
        body.append(
            {
                "type": "Input.Toggle",
                "id": name,
                "title": title,
                "valueOn": "true",
                "valueOff": "false",
                "value": "true" if str(values.get(name, "false")).lower() == "true" else "false",
            }
        )
    return _card(body, [_submit("Send privately", "report_submit", key=key)])


def confirmation_card(receipt: Receipt) -> dict[str, Any]:
    """After the case committed: the reference (only ever shown for a saved case)."""
    again = "" if receipt.created else " (you had already sent this; nothing was sent twice)"
    return _card(
        [
            _text("Your report has been sent", size="Large", weight="Bolder", color="Good"),
            _text(f"Reference: **{receipt.reference}**{again}"),
            _text(
                f"It has gone privately to {receipt.to_whom}, never to the person it is about. "
                "I'll tell you here when it is acknowledged. "
                "Keep the reference if you want to ask about it."
            ),
            _text(EMERGENCY_NOTE, isSubtle=True, size="Small"),
        ]
    )


def notice_card(text: str, *, reference: str, actions: bool) -> dict[str, Any]:
    """A bland proactive notice; recipients get "Open case" and "Acknowledge", reporters just the text."""
    buttons = (
        [
            _submit("Open case", "open_case", reference=reference),
            _submit("Acknowledge", "ack", reference=reference),
        ]
        if actions
        else []
    )
    return _card([_text("policybot", weight="Bolder"), _text(text)], buttons)


def acknowledged_card(reference: str) -> dict[str, Any]:
    """Replaces a notice once its recipient acknowledged it (no buttons left to click twice)."""
    return _card(
        [
            _text("policybot", weight="Bolder"),
            _text(f"You acknowledged {reference}. The reporter has been told."),
        ],
        [_submit("Open case", "open_case", reference=reference)],
    )


def case_card(view: CaseView, names: Mapping[str, str]) -> dict[str, Any]:
    """The case for an authorised recipient (the read is recorded by the service before this is built)."""
    facts = [
        {"title": "Reference", "value": view.reference},
        {"title": "Kind", "value": view.category.label},
        {"title": "Status", "value": view.status.value},
        {"title": "Reported", "value": view.created_at.strftime("%Y-%m-%d %H:%M UTC")},
    ]
    if view.where:
        facts.append({"title": "Where", "value": view.where})
    if view.when:
        facts.append({"title": "When", "value": view.when})
    about = names.get(view.subject_person_id or "", "") or view.subject_text
    if about:
        facts.append({"title": "About", "value": about})
    if view.reporter is not None:
        reporter = names.get(view.reporter.person_id or "", "") or "named reporter (not in directory)"
        facts.append({"title": "Reporter", "value": reporter})
    else:
        facts.append({"title": "Reporter", "value": "not named (no consent)"})
    body = [
        _text(f"Case {view.reference}", size="Large", weight="Bolder"),
        {"type": "FactSet", "facts": facts},
        _text("What happened", weight="Bolder"),
        _text(view.description),
    ]
    actions = [] if view.acknowledged_at else [_submit("Acknowledge", "ack", reference=view.reference)]
    return _card(body, actions)


def message_card(text: str) -> dict[str, Any]:
    """A one-paragraph card for short answers (refusals, errors, "I've sent you a private message")."""
    return _card([_text(text)])
