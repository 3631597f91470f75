"""What arrives from Teams, read without the SDK: commands typed to the bot, and card submissions.

``Action.Submit`` values arrive as flat dicts of strings (toggles are "true"/"false"); these helpers turn them
into the core's ``Submission`` and keep exactly what the reporter typed for re-showing the form on an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.reports.model import Submission

__all__ = ["FORM_FIELDS", "Command", "form_values", "parse_command", "submission_from_value"]

#: The report card's input ids (also the ``InputError.field`` names of bot/reports/validate.py).
FORM_FIELDS = (
    "category",
    "description",
    "where",
    "when",
    "subject_person_id",
    "subject_text",
    "concerns_children",
    "tell_hr",
    "consent_to_name",
)

_COMMAND = re.compile(r"^\s*/?(policy|help|report)\b[\s:,-]*(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Command:
    """``name`` is "policy" (a question; also anything not a command), "help" or "report"."""

    name: str
    text: str


def parse_command(text: str) -> Command:
    """``policy <question>``, ``help``, ``report``; other text is a question as typed."""
    match = _COMMAND.match(text or "")
    if match is None:
        return Command("policy", (text or "").strip())
    name, rest = match.group(1).lower(), match.group(2).strip()
    if name in ("help", "report") and rest:
        # "help me with a complaint" and "report writing guidance" are questions, not commands.
        return Command("policy", (text or "").strip())
    return Command(name, rest)


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def form_values(value: Mapping[str, Any]) -> dict[str, str]:
    """The report fields as typed (strings), for re-showing the card after a validation error."""
    return {name: "" if value.get(name) is None else str(value.get(name)) for name in FORM_FIELDS}


def submission_from_value(value: Mapping[str, Any]) -> Submission:
    """The card's values as a ``Submission``; validation is the reports core's job (bot/reports/validate.py)."""
    fields = form_values(value)
    return Submission(
        category=fields["category"],
        description=fields["description"],
        where=fields["where"],
        when=fields["when"],
        subject_person_id=fields["subject_person_id"].strip() or None,
        subject_text=fields["subject_text"],
        consent_to_name=_flag(fields["consent_to_name"]),
        concerns_children=_flag(fields["concerns_children"]),
        tell_hr=_flag(fields["tell_hr"]),
    )
