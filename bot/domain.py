"""The core's vocabulary: frozen dataclasses that cross every boundary, and the Protocols for seams.

Edges (Slack, Teams, web, CLI) translate their native payloads into a ``Message`` and render a ``Reply``;
nothing here knows about any SDK. ``Reply.to_json()`` is the stable JSON contract of ``policybot ask --json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

__all__ = [
    "Channel",
    "Citation",
    "Contact",
    "Intent",
    "Message",
    "RelatedDocument",
    "Reply",
    "ReplyKind",
    "SectionRef",
    "User",
]


class Channel(StrEnum):
    LOCAL = "local"
    SLACK = "slack"
    TEAMS = "teams"
    WEB = "web"


class ReplyKind(StrEnum):
    ANSWER = "answer"
    NO_ANSWER = "no_answer"
    RELATED_DOCUMENT = "related_document"
    HELP = "help"


class Intent(StrEnum):
    """What the person is doing: asking, telling us about a problem, raising an urgent risk, or asking for help."""

    QUESTION = "question"
    REPORT = "report"
    URGENT = "urgent"
    HELP = "help"


@dataclass(frozen=True, slots=True)
class User:
    """Who sent a message, in the channel's own terms; ``directory_id`` once matched to the directory."""

    id: str
    channel: Channel = Channel.LOCAL
    name: str | None = None
    directory_id: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One message to the assistant. ``conversation`` keys follow-up context (a DM, a thread)."""

    text: str
    user: User | None = None
    conversation: str | None = None
    channel: Channel = Channel.LOCAL
    #: False when the message was posted where others can read it (a public channel): edges then keep
    #: anything sensitive out of the public reply.
    private: bool = True


@dataclass(frozen=True, slots=True)
class Citation:
    """One quoted passage. ``quote`` is verbatim source text (several sentences joined by `` … ``)."""

    doc_id: str
    doc_title: str
    section: str
    section_title: str
    quote: str
    score: float
    url: str | None = None
    passage_id: str = ""
    version: str | None = None
    review_due: str | None = None
    sentences: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How people refer to the section: "6.3", "Appendix 1", or nothing for an unnumbered heading."""
        return section_label(self.section)

    @property
    def heading(self) -> str:
        """ "6.3 Breaks", or just "Breaks" where the document does not number its headings."""
        return section_heading(self.section, self.section_title)

    @property
    def place(self) -> str:
        """Where the quote is, in a sentence: "section 6.3 Breaks", or "Breaks"."""
        return section_place(self.section, self.section_title)

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "doc_title": self.doc_title,
            "section": self.section,
            "section_title": self.section_title,
            "quote": self.quote,
            "score": round(self.score, 4),
            "url": self.url,
            "passage_id": self.passage_id,
            "version": self.version,
            "review_due": self.review_due,
        }


@dataclass(frozen=True, slots=True)
class SectionRef:
    """A section named without quoting it: the nearest sections of a no-answer."""

    doc_id: str
    doc_title: str
    section: str
    section_title: str
    score: float
    url: str | None = None

    @property
    def label(self) -> str:
        return section_label(self.section)

    @property
    def heading(self) -> str:
        return section_heading(self.section, self.section_title)

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "doc_title": self.doc_title,
            "section": self.section,
            "section_title": self.section_title,
            "score": round(self.score, 4),
            "url": self.url,
        }


@dataclass(frozen=True, slots=True)
class Contact:
    """Someone to ask when the policy does not answer (from corpus.toml)."""

    name: str
    role: str
    how: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role, "how": self.how}


@dataclass(frozen=True, slots=True)
class RelatedDocument:
    """A document the policy names but the corpus does not hold."""

    id: str
    title: str
    owner: str
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "owner": self.owner, "url": self.url}


@dataclass(frozen=True, slots=True)
class Reply:
    """The core's answer to one message. Edges render it; ``to_json`` is the stable CLI contract."""

    question: str
    kind: ReplyKind
    text: str
    citations: tuple[Citation, ...] = ()
    suggest_report: bool = False
    urgent: bool = False
    intent: Intent = Intent.QUESTION
    confidence: float = 0.0
    nearest: tuple[SectionRef, ...] = ()
    contacts: tuple[Contact, ...] = ()
    related: tuple[RelatedDocument, ...] = ()
    #: Stable id of this reply (feedback is keyed on it).
    id: str = ""
    #: The question actually searched, when a follow-up was resolved against earlier context.
    resolved_question: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "kind": self.kind.value,
            "text": self.text,
            "citations": [c.to_json() for c in self.citations],
            "suggest_report": self.suggest_report,
            "urgent": self.urgent,
            "intent": self.intent.value,
            "confidence": round(self.confidence, 4),
            "nearest_sections": [s.to_json() for s in self.nearest],
            "contacts": [c.to_json() for c in self.contacts],
            "related_documents": [r.to_json() for r in self.related],
            "id": self.id,
            "resolved_question": self.resolved_question,
        }


_NUMBERED_SECTION = re.compile(r"^(?:\d+(?:\.\d+)*|A(?:\d+|[A-Z]))$")


def section_label(section: str) -> str:
    """ "A1" -> "Appendix 1"; numbered sections stay as they are; an unnumbered heading's id (a slug of its
    heading path) is not for people to read, so it has no label and is cited by its title."""
    if not _NUMBERED_SECTION.match(section):
        return ""
    if section.startswith("A"):
        return f"Appendix {section[1:]}"
    return section


def section_heading(section: str, title: str) -> str:
    """ "6.3 Breaks", "Appendix 1 Checklist", or "Breaks" for an unnumbered heading."""
    return f"{section_label(section)} {title}".strip()


def section_place(section: str, title: str) -> str:
    """ "section 6.3 Breaks" or, unnumbered, "Breaks"."""
    label = section_label(section)
    return f"section {label} {title}".strip() if label else title or "the document"


class AnswerService(Protocol):
    """What an edge needs from the core."""

    async def handle(self, message: Message) -> Reply: ...
