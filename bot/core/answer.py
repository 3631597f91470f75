"""Compose replies from search hits: cited, verbatim answers, honest no-answers, related-document pointers.

Nothing here writes policy. The only policy text in a reply is sentences copied from the indexed documents, and
``verbatim_or_drop`` checks each one against its source document before it is shown: a sentence that does not
occur verbatim is dropped (and logged by id), so an answer can lose a quote but never misquote.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import date

from bot.core.contacts import WhoToAsk
from bot.core.freshness import about_the_document, asks_about_the_document, overdue_notice
from bot.core.gate import AnswerPolicy
from bot.domain import Citation, Contact, RelatedDocument, Reply, ReplyKind, SectionRef
from index.corpus import Corpus, Document, RelatedDoc
from index.search import Hit, SearchResult, UnitScore

__all__ = ["AnswerPolicy", "Composer", "verbatim_or_drop"]

log = logging.getLogger(__name__)

ELLIPSIS = " … "


class Composer:
    """Turns search results into ``Reply`` objects for one corpus."""

    def __init__(
        self, corpus: Corpus, policy: AnswerPolicy | None = None, *, today: Callable[[], date] = date.today
    ) -> None:
        self.corpus = corpus
        self.policy = policy or AnswerPolicy()
        self.today = today
        self.who = WhoToAsk(corpus)
        self._docs = {d.id: d for d in corpus.documents}

    # --- reply kinds ---------------------------------------------------------------------------------------

    def answer(self, question: str, result: SearchResult, *, confidence: float, lead: str = "") -> Reply:
        """Cite the best sections (one to three), quoting the sentences that match the question."""
        citations = self.citations(result.hits)
        if not citations:
            return self.no_answer(question, result, confidence=confidence)
        body = "\n\n".join(self._render_citation(c) for c in citations)
        text = (lead + "\n\n" if lead else "") + self._about(question, citations[0].doc_id)
        text += f"Here is what {self._doc_phrase(citations)} says:\n\n{body}"
        for notice in self._freshness(c.doc_id for c in citations):
            text += f"\n\n{notice}"
        contacts = self.contacts(question, citations[0].doc_id)
        ask = self.who.sentence(contacts)
        text += "\n\nIf you are unsure how this applies to you, " + ask[:1].lower() + ask[1:]
        return Reply(
            question=question,
            kind=ReplyKind.ANSWER,
            text=text,
            citations=tuple(citations),
            confidence=confidence,
            contacts=contacts,
        )

    def no_answer(self, question: str, result: SearchResult, *, confidence: float, lead: str = "") -> Reply:
        """Say plainly that the policies do not cover it, name close sections, and who to ask."""
        nearest = tuple(self._ref(h) for h in result.hits[:2] if h.dense >= self.policy.nearest_floor)
        asked = self._asked_about(question, result)
        contacts = self.contacts(question, asked)
        titles = self._titles(result)
        parts = [lead] if lead else []
        about = self._about(question, asked).strip()
        if about:
            parts.append(about)
        if lead:  # a report: the offer to report stands; the policy simply has nothing specific to quote
            parts.append(
                f"I couldn't find a part of the {titles} that speaks to this directly, so I won't quote one."
            )
        else:
            parts.append(f"I couldn't find anything in the {titles} that answers this, so I won't guess.")
        if nearest:
            names = "; ".join(s.heading for s in nearest)
            parts.append(f"The nearest sections are {names}, but they don't seem to cover your question.")
        parts.append(self.who.sentence(contacts))
        return Reply(
            question=question,
            kind=ReplyKind.NO_ANSWER,
            text="\n\n".join(parts),
            confidence=confidence,
            nearest=nearest,
            contacts=contacts,
        )

    def related_document(
        self, question: str, related: Sequence[RelatedDoc], result: SearchResult, *, confidence: float
    ) -> Reply:
        """The question is about a document the policy names but we do not hold: say so, and who owns it."""
        docs = tuple(RelatedDocument(id=r.id, title=r.title, owner=r.owner, url=r.url) for r in related)
        mentions = self._mentions(related)
        lines = []
        for r in docs:
            where = f" (see {r.url})" if r.url else ""
            lines.append(
                f"The {r.title} is not one of the documents I hold, so I can't quote it. "
                f"It is owned by {r.owner}: ask them for the current version{where}."
            )
        if mentions:
            lines.append(
                "Here is where the policy refers to it:\n\n"
                + "\n\n".join(map(self._render_citation, mentions))
            )
        return Reply(
            question=question,
            kind=ReplyKind.RELATED_DOCUMENT,
            text="\n\n".join(lines),
            citations=tuple(mentions),
            confidence=confidence,
            related=docs,
            contacts=self.contacts(question, mentions[0].doc_id if mentions else None),
        )

    # --- pieces ----------------------------------------------------------------------------------------------

    def citations(self, hits: Sequence[Hit]) -> list[Citation]:
        """One citation per chosen section: the top hit, plus close runners-up."""
        if not hits:
            return []
        chosen = [hits[0]]
        for hit in hits[1:]:
            if len(chosen) >= self.policy.max_citations:
                break
            if hit.score >= hits[0].score - self.policy.secondary_margin:
                chosen.append(hit)
        out: list[Citation] = []
        for hit in chosen:
            citation = self._citation(hit)
            if citation is not None:
                out.append(citation)
        return out

    def contacts(self, question: str, doc_id: str | None = None) -> tuple[Contact, ...]:
        """Who to ask about ``doc_id`` (the document the reply is about), best fit first."""
        return self.who.contacts(question, doc_id)

    def _asked_about(self, question: str, result: SearchResult) -> str | None:
        """The document a question is about: one it names by title, else the one holding the best section."""
        lowered = question.lower()
        for doc in self.corpus.documents:
            name = doc.title.lower().replace(" policy", "").replace(" procedure", "").strip()
            if len(name) > 3 and name in lowered:
                return doc.id
        if result.hits:
            return result.hits[0].doc_id
        return self.corpus.documents[0].id if len(self.corpus.documents) == 1 else None

    def _about(self, question: str, doc_id: str | None) -> str:
        """The document's own details when the question is about the document (its review date, version)."""
        doc = self._docs.get(doc_id or "")
        if doc is None or not asks_about_the_document(question):
            return ""
        return about_the_document(doc, self.today()) + "\n\n"

    def _freshness(self, doc_ids: Iterable[str]) -> list[str]:
        """One sentence per document past its review date, naming who to check with."""
        notices = []
        for doc_id in dict.fromkeys(doc_ids):
            doc = self._docs[doc_id]
            owners = self.who.owners(doc)
            ask = owners[0].name if owners else "your line manager"
            notice = overdue_notice(doc, self.today(), ask)
            if notice:
                notices.append(notice)
        return notices

    def _titles(self, result: SearchResult) -> str:
        """The documents a no-answer speaks of: those of the nearest sections, else all (up to three)."""
        near = list(dict.fromkeys(h.doc_id for h in result.hits[:3]))
        docs = [self._docs[d] for d in near] or list(self.corpus.documents[:3])
        return " or the ".join(d.title for d in docs[:2])

    def _citation(self, hit: Hit) -> Citation | None:
        doc = self._docs[hit.doc_id]
        section = doc.section(hit.section)
        sentences = self._pick_sentences(hit.units)
        verified = verbatim_or_drop(sentences, doc)
        if not verified:
            return None
        quote = _join(verified, doc)
        best_passage = hit.units[0].unit.passage_id if hit.units else f"{doc.id}#{hit.section}"
        return Citation(
            doc_id=doc.id,
            doc_title=doc.title,
            section=section.number,
            section_title=section.title,
            quote=quote,
            score=hit.score,
            url=_section_url(doc, section.number),
            passage_id=best_passage,
            version=doc.version,
            review_due=doc.review_due,
            sentences=tuple(verified),
        )

    def _pick_sentences(self, units: Sequence[UnitScore]) -> list[str]:
        """The best sentence, close runners-up from the same section, and the lead-in of a quoted sub-point."""
        if not units:
            return []
        best = units[0].score
        picked = [
            u for u in units[: self.policy.max_sentences] if u.score >= best - self.policy.sentence_margin
        ]
        # Document order reads naturally; unit ids end in their position within the passage.
        picked.sort(key=lambda u: (u.unit.block, _position(u.unit.id)))
        out: list[str] = []
        for u in picked:
            if u.unit.context and u.unit.context not in out:
                out.append(u.unit.context)
            if u.unit.text not in out:
                out.append(u.unit.text)
        return out

    def mention_sections(self, related: Sequence[RelatedDoc]) -> set[tuple[str, str]]:
        """(document, section) of the held sections that name one of these related documents."""
        return {(c.doc_id, c.section) for c in self._mentions(related, limit=None)}

    def _mentions(self, related: Sequence[RelatedDoc], limit: int | None = 2) -> list[Citation]:
        """Sentences of the held documents that name one of these related documents."""
        out: list[Citation] = []
        for doc in self.corpus.documents:
            for section in doc.sections:
                for sentence in _sentences_naming(section.body, related):
                    out.append(
                        Citation(
                            doc_id=doc.id,
                            doc_title=doc.title,
                            section=section.number,
                            section_title=section.title,
                            quote=sentence,
                            score=1.0,
                            url=_section_url(doc, section.number),
                            passage_id=f"{doc.id}#{section.number}",
                            version=doc.version,
                            review_due=doc.review_due,
                            sentences=(sentence,),
                        )
                    )
                    break
                if limit is not None and len(out) >= limit:
                    return out
        return out

    def _ref(self, hit: Hit) -> SectionRef:
        doc = self._docs[hit.doc_id]
        section = doc.section(hit.section)
        return SectionRef(
            doc_id=doc.id,
            doc_title=doc.title,
            section=section.number,
            section_title=section.title,
            score=hit.score,
            url=_section_url(doc, section.number),
        )

    def _doc_phrase(self, citations: Sequence[Citation]) -> str:
        titles = list(dict.fromkeys(c.doc_title for c in citations))
        return "the " + " and the ".join(titles)

    @staticmethod
    def _render_citation(c: Citation) -> str:
        head = c.heading
        return f"{head} ({c.doc_title}, version {c.version}):\n“{c.quote}”"


def verbatim_or_drop(sentences: Sequence[str], doc: Document) -> list[str]:
    """Only sentences that occur verbatim in the source document survive (the verbatim guarantee)."""
    kept: list[str] = []
    for sentence in sentences:
        if sentence and sentence in doc.body:
            kept.append(sentence)
        else:
            log.error("dropped a quote that is not verbatim in %s", doc.id)
    return kept


def _join(sentences: Sequence[str], doc: Document) -> str:
    """Adjacent sentences join with a space (still verbatim); gaps are marked with an ellipsis."""
    out = sentences[0]
    for prev, nxt in itertools.pairwise(sentences):
        out += (" " if f"{prev} {nxt}" in doc.body else ELLIPSIS) + nxt
    return out


def _position(unit_id: str) -> int:
    tail = unit_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _sentences_naming(body: str, related: Sequence[RelatedDoc]) -> list[str]:
    from index.chunk import split_sentences

    names = [n.lower() for r in related for n in r.names]
    out = []
    for line in body.split("\n"):
        text = line.strip().removeprefix("- ").strip()
        for sentence in split_sentences(text):
            if any(n in sentence.lower() for n in names):
                out.append(sentence)
    return out


def _section_url(doc: Document, section: str) -> str | None:
    if not doc.url:
        return None
    return f"{doc.url}#section-{section.lower().replace('.', '-').replace('/', '-')}"
