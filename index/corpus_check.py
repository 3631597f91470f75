"""What a policy owner should fix in the corpus: documents past their review date or without one, documents
without an owner, sections with no text of their own and nothing under them, and how each file was read
(a version taken from the file's date, contacts that could not be read). `policybot corpus check` and
`policybot config check` print these; none stops the index from building."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from index.corpus import Corpus, Document

__all__ = ["Finding", "check_corpus"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing to fix: which document (and section), what, and how."""

    entry: str
    message: str
    fix: str = ""


def check_corpus(corpus: Corpus, today: date) -> list[Finding]:
    findings: list[Finding] = []
    for doc in corpus.documents:
        findings.extend(_document(doc, today))
        aside = [e for e in corpus.set_aside if e.doc_id == doc.id]
        if aside:
            findings.append(
                Finding(
                    f"{doc.path.name} ({doc.id})",
                    f"{len(aside)} taught example(s) set aside: the text they were taught on has changed",
                    "review them on the insights page (or re-stamp the file's lines) so they count again",
                )
            )
    return findings


def _document(doc: Document, today: date) -> list[Finding]:
    out: list[Finding] = []
    where = f"{doc.path.name} ({doc.id})"
    due = doc.review_by()
    if due is None:
        out.append(Finding(where, "no review date", "add review_due: YYYY-MM to the front matter"))
    elif today > due:
        out.append(
            Finding(
                where,
                f"overdue for review since {due.strftime('%B %Y')}",
                "review it, then update version and review_due in the front matter",
            )
        )
    if not (doc.owner or "").strip():
        out.append(Finding(where, "no owner", "add owner: (the team that owns it) to the front matter"))
    parents = {s.parent for s in doc.sections if s.parent}
    for section in doc.sections:
        if not section.body.strip() and section.number not in parents:
            name = f"{section.label} {section.title}".strip() or section.number
            out.append(
                Finding(f"{where} {name}", "section has no text", "add its text or remove the heading")
            )
    out.extend(Finding(where, warning) for warning in doc.warnings)
    return out
