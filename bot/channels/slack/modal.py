"""Modals: the private report form (and reading it back), a case for its recipient, a refusal, the policy.

The report form's block ids are the ``InputError.field`` names of ``bot/reports/validate.py`` (or map to them
in ``FIELD_BLOCKS``), so a validation error is shown beside the field it concerns (``response_action:
errors``) and the reporter's text stays in the form.
"""

from __future__ import annotations

import json
from typing import Any

from bot.channels.slack.blocks import MAX_VIEW_BLOCKS, Block, escape, section, sections
from bot.errors import InputError
from bot.reports.directory import Directory
from bot.reports.model import CaseView, Category, Submission
from index.corpus import Document

__all__ = [
    "CALLBACK_CASE",
    "CALLBACK_POLICY",
    "CALLBACK_REPORT",
    "FIELD_BLOCKS",
    "case_view",
    "errors_for",
    "parse_submission",
    "policy_view",
    "refusal_view",
    "report_view",
]

CALLBACK_REPORT = "report_submit"
CALLBACK_CASE = "case_view"
CALLBACK_POLICY = "policy_view"

EMERGENCY = (
    ":rotating_light: *This is not for emergencies.* If anyone is in immediate danger, call *999*. "
    "If a child may be at risk, also contact the Designated Safeguarding Lead straight away."
)
PRIVACY = (
    "Your report goes only to the right person (your manager, HR or the Designated Safeguarding Lead), never "
    "to the person it is about. You will get a direct message with your case reference."
)

OPT_CONSENT = "consent_to_name"
OPT_CHILDREN = "concerns_children"
OPT_HR = "tell_hr"

#: Validation field -> the block that shows its error.
FIELD_BLOCKS = {
    "category": "category",
    "description": "description",
    "where": "where",
    "when": "when",
    "subject_person_id": "subject_user",
    "subject_text": "subject_text",
    "evidence": "evidence",
}


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint)
    return block


def _text_input(
    *, multiline: bool = False, max_length: int | None = None, initial: str = ""
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline}
    if max_length:
        element["max_length"] = max_length
    if initial:
        element["initial_value"] = initial
    return element


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _text(text), "value": value}


def report_view(*, evidence: str = "", source: str = "") -> dict[str, Any]:
    """The report modal; ``evidence`` pre-fills the links box (the message shortcut's permalink)."""
    blocks: list[Block] = [
        section(EMERGENCY),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": PRIVACY}]},
        _input(
            "category",
            "What kind of concern is it?",
            {"type": "static_select", "options": [_option(c.label, c.value) for c in Category]},
        ),
        _input("description", "What happened?", _text_input(multiline=True, max_length=10_000)),
        _input(
            "where",
            "Where did it happen?",
            _text_input(max_length=2_000),
            optional=True,
            hint="For example: Facebook, a staff WhatsApp group, the school car park.",
        ),
        _input("when", "When did it happen?", _text_input(max_length=200), optional=True),
        _input(
            "subject_user", "Who is it about? (if they are on Slack)", {"type": "users_select"}, optional=True
        ),
        _input(
            "subject_text",
            "Who is it about? (otherwise, in words)",
            _text_input(max_length=500),
            optional=True,
        ),
        _input(
            "evidence",
            "Links to evidence (one per line)",
            _text_input(multiline=True, initial=evidence),
            optional=True,
            hint="Screenshots are best kept yourself; add links to posts or messages here.",
        ),
        _input(
            "options",
            "Options",
            {
                "type": "checkboxes",
                "options": [
                    _option("I agree to be named to the person who receives this report", OPT_CONSENT),
                    _option("It involves a child or a vulnerable adult", OPT_CHILDREN),
                    _option("Please also tell HR", OPT_HR),
                ],
            },
            optional=True,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_REPORT,
        "title": _text("Report a concern"),
        "submit": _text("Send privately"),
        "close": _text("Cancel"),
        "private_metadata": json.dumps({"source": source})[:3000],
        "blocks": blocks,
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _value(values: dict[str, Any], block: str) -> dict[str, Any]:
    return _dict(_dict(values.get(block)).get(block))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_submission(view: dict[str, Any], directory: Directory) -> Submission:
    """The form's state as a Submission (validation happens in the reports core). The edge has checked the
    payload's shape; anything of another kind still counts as not filled in rather than failing here."""
    values = _dict(_dict(view.get("state")).get("values"))
    selected = _dict(_value(values, "category").get("selected_option"))
    subject_slack = _str(_value(values, "subject_user").get("selected_user"))
    subject_text = _str(_value(values, "subject_text").get("value")).strip()
    subject_person_id = None
    if subject_slack:
        person = directory.by_slack_id(subject_slack)
        if person is not None:
            subject_person_id = person.id
        else:  # someone on Slack but not in the directory: keep who it is, in words
            subject_text = (f"<@{subject_slack}> " + subject_text).strip()
    chosen = _value(values, "options").get("selected_options")
    options = {_str(_dict(o).get("value")) for o in chosen} if isinstance(chosen, list) else set()
    evidence = tuple(line.strip() for line in _str(_value(values, "evidence").get("value")).splitlines())
    if not _str(selected.get("value")):
        raise InputError("Please choose what kind of concern it is.", field="category")
    return Submission(
        category=selected["value"],
        description=_str(_value(values, "description").get("value")),
        where=_str(_value(values, "where").get("value")),
        when=_str(_value(values, "when").get("value")),
        subject_person_id=subject_person_id,
        subject_text=subject_text,
        evidence=tuple(e for e in evidence if e),
        consent_to_name=OPT_CONSENT in options,
        concerns_children=OPT_CHILDREN in options,
        tell_hr=OPT_HR in options,
    )


def errors_for(error: InputError) -> dict[str, str]:
    """``response_action: errors`` for a validation error (unknown fields show under "What happened?")."""
    block = FIELD_BLOCKS.get(error.field or "", "description")
    return {block: str(error)}


def _modal(callback_id: str, title: str, blocks: list[Block]) -> dict[str, Any]:
    if len(blocks) > MAX_VIEW_BLOCKS:
        blocks = [*blocks[: MAX_VIEW_BLOCKS - 1], section("_(Shortened to fit in Slack.)_")]
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _text(title[:24]),
        "close": _text("Close"),
        "blocks": blocks,
    }


def case_view(case: CaseView, directory: Directory) -> dict[str, Any]:
    """A case for an authorised recipient (opening it was recorded by the core)."""

    def who(person_id: str | None) -> str:
        person = directory.person(person_id) if person_id else None
        return escape(person.name) if person else escape(person_id or "")

    facts = [
        f"*Reference:* {case.reference}",
        f"*Category:* {escape(case.category.label)}",
        f"*Status:* {case.status.value}",
        f"*Received:* {case.created_at:%d %b %Y %H:%M} UTC",
    ]
    if case.ack_due_at and not case.acknowledged_at:
        facts.append(f"*Acknowledge by:* {case.ack_due_at:%d %b %Y %H:%M} UTC")
    blocks: list[Block] = [section("\n".join(facts)), {"type": "divider"}, section("*What happened*")]
    blocks.extend(sections(case.description, quote=True))
    details = []
    if case.where:
        details.append(f"*Where:* {escape(case.where)}")
    if case.when:
        details.append(f"*When:* {escape(case.when)}")
    if case.subject_person_id or case.subject_text:
        about = ", ".join(x for x in (who(case.subject_person_id), case.subject_text) if x)
        details.append(f"*About:* {about}")
    if case.concerns_children:
        details.append("*Involves a child or vulnerable adult:* yes")
    if case.reporter is not None:
        reporter = who(case.reporter.person_id) if case.reporter.person_id else f"<@{case.reporter.id}>"
        details.append(f"*Reported by:* {reporter} (agreed to be named)")
    else:
        details.append("*Reported by:* not named (the reporter did not agree to be named)")
    blocks.extend(sections("\n".join(details)) if details else [])
    if case.evidence:
        links = "\n".join(f"• <{e}>" for e in case.evidence)
        blocks.append(section(f"*Evidence*\n{links}"[:3000]))
    people = "\n".join(
        f"• {who(r.person_id)}: " + ("acknowledged" if r.acknowledged_at else "not yet acknowledged")
        for r in case.recipients
    )
    if people:
        blocks.append(section(f"*Routed to*\n{people}"))
    blocks.append(
        {
            "type": "actions",
            "block_id": "case_actions",
            "elements": [
                {
                    "type": "button",
                    "text": _text("Acknowledge"),
                    "action_id": "case_ack",
                    "value": case.reference,
                    "style": "primary",
                }
            ],
        }
    )
    return _modal(CALLBACK_CASE, f"Case {case.reference}", blocks)


def refusal_view(reference: str) -> dict[str, Any]:
    """What anyone who may not see a case gets: the same words as for a case that does not exist."""
    text = (
        f"You can't open case {escape(reference[:40])}: it does not exist or it was not routed to you. "
        "If you think you should have it, ask the Designated Safeguarding Lead."
    )
    return _modal(CALLBACK_CASE, "Case not available", [section(text)])


def policy_view(document: Document) -> dict[str, Any]:
    """The whole policy document, section by section (a modal holds 100 blocks of 3,000 characters)."""
    blocks: list[Block] = [section(f"*{escape(document.title)}* · version {escape(document.version)}")]
    for sec in document.sections:
        blocks.append(section(f"*{escape(f'{sec.label} {sec.title}'.strip())}*"))
        if sec.body.strip():
            blocks.extend(sections(sec.body.strip()))
    return _modal(CALLBACK_POLICY, "The policy", blocks)
