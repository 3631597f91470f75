"""Validation of what reporters and recipients type: every error names its field and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from bot.errors import InputError, TooLong
from bot.reports.directory import Directory
from bot.reports.model import Category, Reporter, Submission

__all__ = ["MAX_TEXT", "Clean", "clean_submission", "required_text"]

#: The documented limit for free text (a description, a note, a reason, an outcome).
MAX_TEXT = 10_000
_MAX_SHORT = 2_000
_MAX_EVIDENCE = 20


@dataclass(frozen=True, slots=True)
class Clean:
    """A submission that passed validation, with the category parsed and text trimmed."""

    category: Category
    description: str
    where: str
    when: str
    subject_person_id: str | None
    subject_text: str
    evidence: tuple[str, ...]
    consent_to_name: bool
    concerns_children: bool
    tell_hr: bool


def required_text(value: str | None, *, field: str, what: str, limit: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if not text:
        raise InputError(f"Please fill in {what}; it cannot be empty.", field=field)
    return optional_text(text, field=field, what=what, limit=limit)


def optional_text(value: str | None, *, field: str, what: str, limit: int = _MAX_SHORT) -> str:
    text = (value or "").strip()
    if "\x00" in text:
        raise InputError(f"{what.capitalize()} contains a character that cannot be stored.", field=field)
    if len(text) > limit:
        raise TooLong(
            f"{what.capitalize()} is {len(text):,} characters; the limit is {limit:,}. Please shorten it.",
            field=field,
        )
    return text


def clean_submission(submission: Submission, reporter: Reporter, directory: Directory) -> Clean:
    """Check every field of a report; raise InputError(field=...) on the first problem."""
    category = Category.parse(submission.category)
    description = required_text(submission.description, field="description", what="what happened")
    where = optional_text(submission.where, field="where", what="where it happened")
    when = optional_text(submission.when, field="when", what="when it happened", limit=200)
    subject_text = optional_text(
        submission.subject_text, field="subject_text", what="who it is about", limit=500
    )
    subject = (submission.subject_person_id or "").strip() or None
    if subject is not None and directory.person(subject) is None:
        raise InputError(
            f'Unknown person "{subject}": choose someone from the directory.', field="subject_person_id"
        )
    if reporter.person_id is not None and directory.person(reporter.person_id) is None:
        raise InputError(f'Unknown person "{reporter.person_id}".', field="reporter")
    if not reporter.id.strip():
        raise InputError("The reporter's identity is missing.", field="reporter")
    if subject is not None and subject == reporter.person_id:
        raise InputError("A report cannot be about the person making it.", field="subject_person_id")
    evidence = tuple(e.strip() for e in submission.evidence if e and e.strip())
    if len(evidence) > _MAX_EVIDENCE:
        raise TooLong(f"At most {_MAX_EVIDENCE} evidence links, please.", field="evidence")
    for link in evidence:
        optional_text(link, field="evidence", what="an evidence link")
        parsed = urlparse(link)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InputError("Evidence links must start with http:// or https://.", field="evidence")
    return Clean(
        category=category,
        description=description,
        where=where,
        when=when,
        subject_person_id=subject,
        subject_text=subject_text,
        evidence=evidence,
        consent_to_name=bool(submission.consent_to_name),
        concerns_children=bool(submission.concerns_children),
        tell_hr=bool(submission.tell_hr),
    )
