"""Who to ask, from the document asked about: its owner and contacts (front matter), the organisation's contacts
for that document (corpus.toml), and the line manager; a safeguarding contact only when the question is about a
child or vulnerable adult, or the document is theirs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.domain import Contact
from index.corpus import Corpus, Document

__all__ = ["WhoToAsk"]

LINE_MANAGER = Contact(name="Your line manager", role="Line manager")
_CONTACT_DETAILS = re.compile(r"[@\d]|\bext\b|https?://", re.IGNORECASE)


class WhoToAsk:
    """The contacts for a question about one document, best fit first, and the sentence that names them."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self._docs = {d.id: d for d in corpus.documents}

    def contacts(self, question: str, doc_id: str | None) -> tuple[Contact, ...]:
        """Contacts scoped to ``doc_id`` (or to no document) whose topics the question mentions lead; then the
        line manager; then the document's owner and its own contacts; then the rest of those scoped to it."""
        words = set(re.findall(r"[a-z]+", question.lower()))
        doc = self._docs.get(doc_id or "")
        scoped = [
            c for c in self.corpus.contacts if not c.documents or (doc is not None and doc.id in c.documents)
        ]
        matched = sorted(
            (c for c in scoped if words & {t.lower() for t in c.topics}),
            key=lambda c: -len(words & {t.lower() for t in c.topics}),
        )
        manager = next((c for c in scoped if _is_line_manager(c.name, c.role)), None)
        out: list[Contact] = [_plain(c) for c in matched]
        out.append(_plain(manager) if manager is not None else LINE_MANAGER)
        out.extend(self.owners(doc))
        out.extend(_plain(c) for c in scoped if c not in matched and c is not manager and not c.topics)
        return tuple(dict.fromkeys(out))

    def owners(self, doc: Document | None) -> list[Contact]:
        """The document's own contacts; the first that is its owner is marked as such (role "Policy owner")."""
        if doc is None:
            return []
        found: list[Contact] = []
        owner = (doc.owner or "").strip()
        for c in doc.contacts:
            is_owner = bool(owner) and c.name.strip().lower() == owner.lower()
            found.append(Contact(name=c.name, role="Policy owner" if is_owner else c.role, how=c.how))
        if owner and not any(c.role == "Policy owner" for c in found):
            if found and not any(c.name.lower() == owner.lower() for c in found):
                found.insert(0, Contact(name=owner, role="Policy owner"))
            elif not found:
                found.append(Contact(name=owner, role="Policy owner"))
        return found

    @staticmethod
    def sentence(contacts: Sequence[Contact]) -> str:
        """ "Please ask your line manager, or ICT Service Desk (ext. 4357), who own this policy." Contact details
        go in brackets; a contact's advice that is a sentence follows on its own."""
        if not contacts:
            return "Please ask your line manager."
        named: list[str] = []
        advice: list[str] = []
        for c in contacts[:2]:
            name = "your line manager" if _is_line_manager(c.name, c.role) else c.name
            how = c.how.strip()
            if how and _CONTACT_DETAILS.search(how) and len(how) <= 80:
                name += f" ({how})"
            elif how:
                advice.append(how if how.endswith((".", "!", "?")) else how + ".")
            if c.role == "Policy owner":
                name += ", who own this policy"
            named.append(name)
        text = "Please ask " + ", or ".join(named) + "."
        return " ".join([text, *advice])


def _is_line_manager(name: str, role: str) -> bool:
    return "line manager" in f"{name} {role}".lower()


def _plain(contact: object) -> Contact:
    """A corpus contact as the reply carries it (name, role, how)."""
    return Contact(
        name=str(getattr(contact, "name", "")),
        role=str(getattr(contact, "role", "")),
        how=str(getattr(contact, "how", "")),
    )
