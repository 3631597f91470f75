"""Document freshness: whether a policy is past its review date, and the sentence every answer from it carries;
and the document's own details (version, dates, owner) for questions about the document itself."""

from __future__ import annotations

import re
from datetime import date

from index.corpus import Document

__all__ = [
    "about_the_document",
    "asks_about_the_document",
    "overdue_notice",
    "review_month",
    "review_overdue",
]

_ABOUT = re.compile(
    r"\b(review(ed)?|next (looked at|updated|revised)|up to date|out of date|outdated|current version|"
    r"latest version|what version|which version|version (is|of)|last updated|when was (it|this|the policy) "
    r"(written|updated|agreed|ratified|approved)|who (owns|wrote|is responsible for|looks after) (this|the)|"
    r"owner of (this|the)|still (valid|current|in force))\b",
    re.IGNORECASE,
)


def review_month(doc: Document) -> date | None:
    """The last day of the month the document is due for review (None: it does not say)."""
    return doc.review_by()


def review_overdue(doc: Document, today: date) -> bool:
    due = review_month(doc)
    return due is not None and today > due


def overdue_notice(doc: Document, today: date, ask: str) -> str | None:
    """ "The Hybrid and Home Working Policy was due for review in March 2026; check with Human Resources that it
    is still current." None while the document is within its review date."""
    due = review_month(doc)
    if due is None or today <= due:
        return None
    return (
        f"The {doc.title} was due for review in {due.strftime('%B %Y')}; "
        f"check with {ask} that it is still current."
    )


def asks_about_the_document(text: str) -> bool:
    """A question about the document itself (its review date, version or owner), not about a rule in it."""
    return bool(_ABOUT.search(text))


def about_the_document(doc: Document, today: date) -> str:
    """The document's details from its front matter, in a sentence or two."""
    parts = [f"The {doc.title} is version {doc.version}"]
    if doc.ratified:
        parts[-1] += f", approved {doc.ratified}"
    if doc.owner:
        parts[-1] += f", and is owned by {doc.owner}"
    text = parts[0] + "."
    due = review_month(doc)
    if due is not None:
        when = due.strftime("%B %Y")
        text += (
            f" It was due for review in {when}, so it is overdue."
            if today > due
            else f" It is next due for review in {when}."
        )
    return text
