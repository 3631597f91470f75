"""Teaching example messages from what staff asked: the policy owner's side of ``index.examples``.

Insights keep the questions that got no answer or were marked not helpful; a policy owner picks the section that
answers one (or says the document does not cover it) and it becomes a taught example: stored encrypted
(``bot.storage.taught``), stamped with the text it was taught on (``index.examples.taught_on``), and passed to
``open_index`` at the next reload, where it is folded into the corpus digest (so the index is rebuilt). When that
text changes the example is set aside until the owner confirms it ("still right": restamped) or removes it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import Clock
from bot.config import Settings
from bot.core.insights import InsightsRecorder
from bot.domain import ReplyKind, section_heading
from bot.errors import InputError
from bot.storage.database import Database
from bot.storage.taught import TaughtExamples, TaughtRow
from index.corpus import Corpus, Document
from index.examples import MAX_EXAMPLE_CHARS, ExampleQuestion, taught_on

__all__ = [
    "MAX_LISTED",
    "Asked",
    "DocumentQuestions",
    "Overview",
    "SetAside",
    "Teaching",
    "answering_sections",
    "describe",
    "stored_examples",
    "to_example",
]

log = logging.getLogger(__name__)

#: At most this many questions are listed per document (most asked first); the rest are counted.
MAX_LISTED = 100


def to_example(row: TaughtRow) -> ExampleQuestion:
    """A stored example as search uses it."""
    return ExampleQuestion(doc_id=row.doc_id, text=row.text, sections=row.sections, taught_on=row.taught_on)


def answering_sections(doc: Document) -> tuple[tuple[str, str], ...]:
    """(number, heading) of the sections an example may point at: those with text of their own."""
    return tuple(
        (s.number, section_heading(s.number, s.title) or s.number) for s in doc.sections if s.body.strip()
    )


def describe(corpus: Corpus, doc_id: str, sections: Sequence[str]) -> str:
    """ "6.3 Access to social media at work, for personal use", "not covered", or a section number that is gone."""
    if not sections:
        return "not covered"
    names = []
    for number in sections:
        try:
            section = corpus.document(doc_id).section(number)
        except KeyError:
            names.append(f"{number} (no longer in the document)")
        else:
            names.append(section_heading(section.number, section.title) or number)
    return "; ".join(names)


@dataclass(frozen=True, slots=True)
class Asked:
    """A kept question to teach (the same words asked several times are listed once)."""

    reply_id: str
    text: str
    no_answer: bool
    times: int
    last: datetime


@dataclass(frozen=True, slots=True)
class DocumentQuestions:
    """The questions to teach for one document; ``doc_id`` None: no document was near enough to name."""

    doc_id: str | None
    title: str
    questions: tuple[Asked, ...]
    more: int = 0


@dataclass(frozen=True, slots=True)
class SetAside:
    """An example not in use because the text it was taught on changed (or its section is gone)."""

    doc_id: str
    text: str
    sections: tuple[str, ...]
    #: The database row; None for an example from ``questions/<doc id>.jsonl`` (reviewed by editing the file).
    id: int | None = None
    #: Its sections are no longer in the document: only removing it makes sense.
    gone: bool = False
    taught_by: str | None = None


@dataclass(frozen=True, slots=True)
class Overview:
    """What has been taught, what is set aside for review, and how many changes wait for the next reload."""

    taught: list[TaughtRow] = field(default_factory=list)
    set_aside: list[SetAside] = field(default_factory=list)
    waiting: int = 0


class Teaching:
    """Taught examples over the database, checked and stamped against a corpus (the one being served)."""

    def __init__(self, db: Database, recorder: InsightsRecorder | None = None, *, clock: Clock | None = None):
        self.store = TaughtExamples(db, clock=clock)
        self._recorder = recorder

    async def examples(self) -> list[ExampleQuestion]:
        """The active examples, for ``open_index(..., taught=...)``."""
        return [to_example(r) for r in await self.store.active()]

    async def teach(
        self, corpus: Corpus, *, reply_id: str, doc_id: str, section: str | None, by: str
    ) -> TaughtRow:
        """Teach a kept question: answered by ``section`` of ``doc_id``, or (None) not covered by it.

        ``InputError`` for an unknown document or section, a question no longer kept, or one taught before."""
        try:
            doc = corpus.document(doc_id)
        except KeyError:
            raise InputError("There is no such document.", field="answer") from None
        sections: tuple[str, ...] = ()
        if section is not None:
            if section not in {number for number, _ in answering_sections(doc)}:
                raise InputError("That document has no such section.", field="answer")
            sections = (section,)
        record = await self._recorder.question(reply_id) if self._recorder is not None else None
        text = " ".join(str(record["question"]).split())[:MAX_EXAMPLE_CHARS] if record else ""
        if not text:
            raise InputError("That question is no longer kept (or was never recorded).", field="question")
        if any(r.doc_id == doc.id and _words(r.text) == _words(text) for r in await self.store.active()):
            raise InputError("This question has already been taught.", field="question")
        bodies = corpus.example_bodies(ExampleQuestion(doc_id=doc.id, text=text, sections=sections))
        assert bodies is not None  # the document and section were checked above
        return await self.store.teach(
            doc_id=doc.id,
            doc_version=doc.version,
            sections=sections,
            taught_on=taught_on(bodies),
            text=text,
            taught_by=by,
            source=reply_id,
        )

    async def confirm(self, corpus: Corpus, example_id: int) -> TaughtRow:
        """ "Still right": restamp an example against the corpus's current text (and document version)."""
        row = await self.store.get(example_id)
        if not row.active:
            raise InputError("This example was removed: teach the question again instead.", field="example")
        bodies = corpus.example_bodies(to_example(row))
        if bodies is None:
            raise InputError(
                "Its section is no longer in the document: remove it, and teach the question again if needed.",
                field="example",
            )
        version = corpus.document(row.doc_id).version
        return await self.store.restamp(example_id, taught_on=taught_on(bodies), doc_version=version)

    async def remove(self, example_id: int) -> TaughtRow:
        return await self.store.remove(example_id)

    async def overview(self, corpus: Corpus) -> Overview:
        """The active examples that are current, those set aside (the database's and the file's), and how many
        changes the served index does not have yet (taught, confirmed or removed since it was built)."""
        rows = await self.store.listing()
        taught: list[TaughtRow] = []
        aside: list[SetAside] = []
        for row in (r for r in rows if r.active):
            bodies = corpus.example_bodies(to_example(row))
            if bodies is not None and taught_on(bodies) == row.taught_on:
                taught.append(row)
            else:
                aside.append(
                    SetAside(row.doc_id, row.text, row.sections, row.id, bodies is None, row.taught_by)
                )
        stored = {(r.doc_id, r.text, r.sections) for r in rows}
        for example in corpus.set_aside:
            if (example.doc_id, example.text, example.sections) not in stored:
                gone = corpus.example_bodies(example) is None
                aside.append(SetAside(example.doc_id, example.text, example.sections, gone=gone))
        served = set(corpus.examples) | set(corpus.set_aside)
        active = {to_example(r) for r in rows if r.active}
        waiting = sum(e not in served for e in active) + sum(
            to_example(r) in served and to_example(r) not in active for r in rows if not r.active
        )
        return Overview(taught=taught, set_aside=aside, waiting=waiting)

    async def pending(self, corpus: Corpus) -> list[DocumentQuestions]:
        """The kept questions (no answer, or marked not helpful) not taught yet, per document: the document of
        the section cited or named nearest; questions near no document come last, under ``doc_id`` None. A
        question taught once never returns; the same words asked again return only if that example is removed."""
        if self._recorder is None:
            return []
        records = await self._recorder.rows()
        rows = await self.store.listing()
        sources = {r.source for r in rows if r.source}
        taught_words = {(r.doc_id, _words(r.text)) for r in rows if r.active}
        documents = {d.id: d for d in corpus.documents}
        found: dict[str | None, dict[str, Asked]] = {}
        for record in records:  # oldest first: the newest asking of the same words is the one listed
            text = record["question"]
            if not text or record["reply_id"] in sources:
                continue
            no_answer = record["kind"] == ReplyKind.NO_ANSWER.value
            if not (no_answer or record["not_helpful"]):
                continue
            doc_id = record["doc_id"] if record["doc_id"] in documents else None
            words = _words(text)
            if any((d, words) in taught_words for d in ([doc_id] if doc_id else documents)):
                continue
            bucket = found.setdefault(doc_id, {})
            before = bucket.get(words)
            bucket[words] = Asked(
                reply_id=record["reply_id"],
                text=text,
                no_answer=no_answer or (before is not None and before.no_answer),
                times=1 + (before.times if before else 0),
                last=record["created_at"],
            )
        out: list[DocumentQuestions] = []
        for doc_id in [*documents, None]:
            if doc_id not in found:
                continue
            asked = sorted(found[doc_id].values(), key=lambda a: (-a.times, -a.last.timestamp(), a.text))
            title = documents[doc_id].title if doc_id else "Questions near no document"
            out.append(
                DocumentQuestions(doc_id, title, tuple(asked[:MAX_LISTED]), max(0, len(asked) - MAX_LISTED))
            )
        return out


def _words(text: str) -> str:
    """The same question however it was spaced or capitalised."""
    return " ".join(text.lower().split())


async def stored_examples(settings: Settings) -> list[ExampleQuestion]:
    """The taught examples in the configured database, for commands that build or compare the index outside the
    server (so they build what the server serves). A database that cannot be opened yields none, and says so."""
    from bot.errors import PolicybotError

    try:
        db = await Database.open(settings)
    except PolicybotError as exc:
        log.warning("taught examples not read (%s): the index is built without them", type(exc).__name__)
        return []
    try:
        return await Teaching(db).examples()
    finally:
        await db.dispose()
