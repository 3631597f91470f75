"""The reports vocabulary: categories, states, chronology kinds, and the values the service returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain import Channel
from bot.errors import InputError

__all__ = [
    "CaseStatus",
    "CaseSummary",
    "CaseView",
    "Category",
    "ChronologyEntry",
    "EventKind",
    "Receipt",
    "RecipientView",
    "ReportStatus",
    "Reporter",
    "Submission",
    "to_whom",
]


class Category(StrEnum):
    """What a report is about; routing rules are per category. (``conduct_online`` keeps its stored value but
    covers a colleague's conduct anywhere.)"""

    ONLINE_ABUSE = "online_abuse"
    COLLEAGUE_BULLYING = "colleague_bullying"
    CONDUCT_ONLINE = "conduct_online"
    SAFEGUARDING = "safeguarding"
    HEALTH_AND_SAFETY = "health_and_safety"
    DATA_BREACH = "data_breach"
    WRONGDOING = "wrongdoing"
    OTHER = "other"

    @property
    def label(self) -> str:
        """What forms show; also the wording of notifications (bland: no detail of the case)."""
        return _LABELS[self]

    @property
    def short(self) -> str:
        return _SHORT[self]

    @classmethod
    def parse(cls, value: str | Category) -> Category:
        """A category from its value; an unknown one is an InputError naming it and the choices."""
        try:
            return cls(str(value).strip().lower().replace("-", "_"))
        except ValueError:
            choices = ", ".join(c.value for c in cls)
            raise InputError(
                f'Unknown category "{value}". Choose one of: {choices}.', field="category"
            ) from None


_LABELS = {
    Category.ONLINE_ABUSE: "Online abuse or harassment aimed at me",
    Category.COLLEAGUE_BULLYING: "Bullying or harassment by a colleague",
    Category.CONDUCT_ONLINE: "Concern about a colleague's conduct (online or at work)",
    Category.SAFEGUARDING: "Safeguarding concern about a child or vulnerable adult",
    Category.HEALTH_AND_SAFETY: "An accident, injury, near miss or danger at work",
    Category.DATA_BREACH: "Personal data lost, stolen or sent to the wrong person",
    Category.WRONGDOING: "Fraud, misuse of money or other wrongdoing (whistleblowing)",
    Category.OTHER: "Something else",
}
_SHORT = {
    Category.ONLINE_ABUSE: "online abuse",
    Category.COLLEAGUE_BULLYING: "bullying or harassment",
    Category.CONDUCT_ONLINE: "conduct concern",
    Category.SAFEGUARDING: "safeguarding",
    Category.HEALTH_AND_SAFETY: "health and safety",
    Category.DATA_BREACH: "data breach",
    Category.WRONGDOING: "whistleblowing",
    Category.OTHER: "other concern",
}


class CaseStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"
    ANONYMISED = "anonymised"


class EventKind(StrEnum):
    """Chronology entry kinds (append-only)."""

    CREATED = "created"
    ROUTED = "routed"
    NOTIFIED = "notified"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    DELIVERY_FAILED = "delivery_failed"
    READ = "read"
    ACCESS_REFUSED = "access_refused"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    ESCALATION_EXHAUSTED = "escalation_exhausted"
    #: The report's words may name people as its subject: they were kept from it; an administrator confirms.
    POSSIBLE_SUBJECT = "possible_subject"
    NOTE = "note"
    DECISION = "decision"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who is reporting, in their channel's terms; ``person_id`` when they are in the directory."""

    channel: Channel
    id: str
    person_id: str | None = None

    @property
    def key(self) -> str:
        """The identity hashed for "my reports" look-ups (a directory person is the same on every channel)."""
        return f"person:{self.person_id}" if self.person_id else f"{self.channel.value}:{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel.value, "id": self.id, "person_id": self.person_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reporter:
        return cls(channel=Channel(data["channel"]), id=data["id"], person_id=data.get("person_id"))


@dataclass(frozen=True, slots=True)
class Submission:
    """What the report form collects. Field names are the ``InputError.field`` values forms show errors by."""

    category: Category | str
    description: str
    where: str = ""
    when: str = ""
    subject_person_id: str | None = None
    subject_text: str = ""
    evidence: tuple[str, ...] = ()
    consent_to_name: bool = False
    concerns_children: bool = False
    tell_hr: bool = False


@dataclass(frozen=True, slots=True)
class Receipt:
    """Given to the reporter only after the case committed. ``created`` is False for a repeated submission."""

    reference: str
    category: Category
    recipients: int
    created: bool
    #: Who it went to, by role ("the Designated Safeguarding Lead"): never a name, never the subject.
    went_to: tuple[str, ...] = ()

    @property
    def to_whom(self) -> str:
        """ "the Headteacher and the Designated Safeguarding Lead" (or a general phrase for a repeat)."""
        return to_whom(self.went_to)


def to_whom(roles: Sequence[str]) -> str:
    """Roles as one phrase for the reporter; a general phrase when they are not known."""
    if not roles:
        return "the people who handle this kind of concern"
    if len(roles) == 1:
        return roles[0]
    return ", ".join(roles[:-1]) + " and " + roles[-1]


@dataclass(frozen=True, slots=True)
class ChronologyEntry:
    at: datetime
    kind: EventKind
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    #: A note, an action or decision, an outcome (decrypted).
    text: str | None = None
    #: The reason given for a decision.
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RecipientView:
    person_id: str
    reason: str
    routed_at: datetime
    acknowledged_at: datetime | None
    undeliverable: bool


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as a recipient or administrator sees it (reading one is recorded in its chronology)."""

    reference: str
    category: Category
    status: CaseStatus
    created_at: datetime
    acknowledged_at: datetime | None
    ack_due_at: datetime | None
    closed_at: datetime | None
    description: str
    where: str
    when: str
    subject_person_id: str | None
    subject_text: str
    evidence: tuple[str, ...]
    concerns_children: bool
    consent_to_name: bool
    #: The reporter, only when they agreed to be named.
    reporter: Reporter | None
    outcome: str | None
    recipients: tuple[RecipientView, ...]
    chronology: tuple[ChronologyEntry, ...]
    #: People the report's words may name as its subject (kept from the case): (person id, kind of match).
    possible_subjects: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One line of "cases routed to me"; no free text."""

    reference: str
    category: Category
    status: CaseStatus
    created_at: datetime
    ack_due_at: datetime | None
    acknowledged: bool


@dataclass(frozen=True, slots=True)
class ReportStatus:
    """One line of a reporter's "my reports"."""

    reference: str
    category: Category
    status: CaseStatus
    created_at: datetime
    acknowledged: bool
