"""Compose replies from search hits: cited, verbatim answers, honest no-answers, related-document pointers.

Nothing here writes policy. The only policy text in a reply is sentences copied from the indexed documents, and
``verbatim_or_drop`` checks each one against its source document before it is shown: a sentence that does not
occur verbatim is dropped (and logged by id), so an answer can lose a quote but never misquote.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain import Citation, Contact, RelatedDocument, Reply, ReplyKind, SectionRef, section_label
from index.corpus import Corpus, Document, RelatedDoc
from index.search import Hit, SearchResult, UnitScore

__all__ = [
    "EVIDENCE_GATE",
    "EXAMPLE_GATE",
    "AnswerPolicy",
    "Composer",
    "Gate",
    "answer_probability",
    "gate_inputs",
    "verbatim_or_drop",
]

log = logging.getLogger(__name__)

ELLIPSIS = " … "


@dataclass(frozen=True, slots=True)
class Gate:
    """A logistic model over named evidence (see ``gate_inputs``) and the probability below which we abstain.

    Fitted on labelled real staff phrasing by ``policybot eval --fit-gate``, which prints these numbers with
    their cross-validated correct and false abstention, so every number here can be reproduced."""

    inputs: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    #: A report keeps the policy's guidance unless its probability is below this: a lower bar, because the
    #: guidance on reporting applies to most reports; below it, the reply offers the private report and quotes
    #: nothing (a grievance about parking is not a social-media matter).
    report_threshold: float = 0.0

    def probability(self, values: dict[str, float]) -> float:
        z = self.bias + sum(
            w * values.get(name, 0.0) for name, w in zip(self.inputs, self.weights, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z))


#: For a corpus with example messages: how close the message is to the examples of the section found and to
#: examples the corpus does not answer, the nearest examples' vote, and the classifier's off-topic probability.
#: Cross-validated on tests/eval (141 questions that are not reports): correct abstention 0.868, false abstention
#: 0.058 at 0.5.
EXAMPLE_GATE = Gate(
    inputs=("offtopic", "hit_example", "top_unanswered", "unanswered_share"),
    weights=(-2.083, 2.392, -1.217, -3.397),
    bias=0.109,
    threshold=0.5,
    report_threshold=0.3,
)
#: For a section without examples: absolute evidence (best sentence cosine, the top section's dense and BM25
#: scores) and the off-topic probability. Near-topic questions score like answerable ones on these, so this gate
#: abstains less reliably: refitted on the same questions over the corpus without its examples, reaching 0.816
#: correct abstention costs 0.301 false abstention (cross-validated); at 0.42 it abstains on about half.
EVIDENCE_GATE = Gate(
    inputs=("top_dense", "hit_dense", "log_hit_lexical", "offtopic"),
    weights=(1.425, 1.289, 1.2, -3.06),
    bias=-2.681,
    threshold=0.42,
)


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """What counts as an answer: the gates, and how much of the policy a reply quotes."""

    example_gate: Gate = EXAMPLE_GATE
    evidence_gate: Gate = EVIDENCE_GATE
    #: A second or third section is cited when its fused score (a weighted mean of z-scores) is within this of
    #: the first.
    secondary_margin: float = 0.33
    #: Sections named as "nearest" in a no-answer need at least this sentence cosine.
    nearest_floor: float = 0.35
    max_citations: int = 3
    max_sentences: int = 3
    #: Further sentences of a section are quoted when within this of its best sentence.
    sentence_margin: float = 0.06

    def gate_for(self, features: dict[str, float]) -> Gate:
        """The example gate when the section found has example messages to compare with, else the evidence gate
        (a document added without examples is judged on its text, not refused for lacking them)."""
        return self.example_gate if features.get("hit_has_examples", 0.0) > 0 else self.evidence_gate


def gate_inputs(features: dict[str, float], offtopic: float) -> dict[str, float]:
    """Every value a gate may read: a search's features, ``log_hit_lexical`` and the off-topic probability."""
    derived = dict(features)
    derived["log_hit_lexical"] = math.log1p(max(features.get("hit_lexical", 0.0), 0.0))
    derived["offtopic"] = offtopic
    return derived


def answer_probability(features: dict[str, float], offtopic: float, policy: AnswerPolicy) -> float:
    """How likely the policies answer this message, from the search evidence (see ``Gate``)."""
    return policy.gate_for(features).probability(gate_inputs(features, offtopic))


class Composer:
    """Turns search results into ``Reply`` objects for one corpus."""

    def __init__(self, corpus: Corpus, policy: AnswerPolicy | None = None) -> None:
        self.corpus = corpus
        self.policy = policy or AnswerPolicy()
        self._docs = {d.id: d for d in corpus.documents}

    # --- reply kinds ---------------------------------------------------------------------------------------

    def answer(self, question: str, result: SearchResult, *, confidence: float, lead: str = "") -> Reply:
        """Cite the best sections (one to three), quoting the sentences that match the question."""
        citations = self.citations(result.hits)
        if not citations:
            return self.no_answer(question, result, confidence=confidence)
        body = "\n\n".join(self._render_citation(c) for c in citations)
        text = (lead + "\n\n" if lead else "") + f"Here is what {self._doc_phrase(citations)} says:\n\n{body}"
        text += "\n\nIf you are unsure how this applies to you, talk to your manager and seek advice."
        return Reply(
            question=question,
            kind=ReplyKind.ANSWER,
            text=text,
            citations=tuple(citations),
            confidence=confidence,
            contacts=self.contacts(question),
        )

    def no_answer(self, question: str, result: SearchResult, *, confidence: float, lead: str = "") -> Reply:
        """Say plainly that the policies do not cover it, name close sections, and who to ask."""
        nearest = tuple(self._ref(h) for h in result.hits[:2] if h.dense >= self.policy.nearest_floor)
        contacts = self.contacts(question)
        titles = " or ".join(d.title for d in self.corpus.documents[:3])
        parts = [lead] if lead else []
        if lead:  # a report: the offer to report stands; the policy simply has nothing specific to quote
            parts.append(
                f"I couldn't find a part of the {titles} that speaks to this directly, so I won't quote one."
            )
        else:
            parts.append(f"I couldn't find anything in the {titles} that answers this, so I won't guess.")
        if nearest:
            names = "; ".join(f"{section_label(s.section)} {s.section_title}".strip() for s in nearest)
            parts.append(f"The nearest sections are {names}, but they don't seem to cover your question.")
        parts.append(self._contacts_sentence(contacts))
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
            contacts=self.contacts(question),
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

    def contacts(self, question: str) -> tuple[Contact, ...]:
        """Who to ask, best fit first: contacts whose topics appear in the question lead."""
        words = set(re.findall(r"[a-z]+", question.lower()))
        ranked = sorted(self.corpus.contacts, key=lambda c: -len(words & {t.lower() for t in c.topics}))
        return tuple(Contact(name=c.name, role=c.role, how=c.how) for c in ranked)

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
        head = f"{section_label(c.section)} {c.section_title}".strip()
        return f"{head} ({c.doc_title}, version {c.version}):\n“{c.quote}”"

    @staticmethod
    def _contacts_sentence(contacts: Sequence[Contact]) -> str:
        if not contacts:
            return "Please ask your line manager or HR."
        first = contacts[0]
        others = ", ".join(c.name for c in contacts[1:3])
        tail = f" You can also ask {others}." if others else ""
        return f"Please ask {first.name.lower() if first.name.startswith('Your') else first.name}: {first.how}{tail}"


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
    return f"{doc.url}#section-{section.lower().replace('.', '-')}"
