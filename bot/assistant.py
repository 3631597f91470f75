"""The channel-agnostic core: ``Assistant.handle(Message) -> Reply``.

It decides what a message is (question, report, urgent safeguarding, help), searches the policies, and composes a
reply that quotes them verbatim or says honestly that they do not answer. It never files a report: it only offers
the private report flow. It knows nothing of Slack, Teams or HTTP; the edges translate.

Embedding is the expensive step, so concurrent ``handle`` calls are micro-batched: requests that arrive while a
forward pass runs are embedded together in the next one.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bot.answer import AnswerPolicy, Composer, answer_probability
from bot.batching import MicroBatcher
from bot.config import Settings
from bot.conversation import ConversationMemory, InMemoryConversations, resolve_follow_up
from bot.domain import Contact, Intent, Message, Reply, ReplyKind
from bot.intent import IntentClassifier, IntentResult, is_help, reading
from index.corpus import RelatedDoc
from index.embed import Embedder, SentenceTransformerEmbedder, Span, Vectors, encode_spans, model_executor
from index.search import HybridSearcher, SearchResult, Weights
from index.store import BuiltIndex, open_index

__all__ = ["Assistant", "Observer", "SafeguardingContact"]

#: Called with every (message, reply) ``handle`` produces, after composing it (insights, metrics). An observer
#: that fails is logged by error class and never costs the person their answer.
Observer = Callable[[Message, Reply], Awaitable[None]]

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 20_000
#: Added to the fused score of the sections that hold the policy's guidance for people reporting (z-score units).
REPORT_BOOST = 0.25


@dataclass(frozen=True, slots=True)
class SafeguardingContact:
    """Who an urgent message should go to now (from the directory)."""

    name: str
    how: str = ""


HELP_TEXT = (
    "I'm policybot. I answer questions about the {titles} and quote the exact wording, with the section, so you "
    'can check it. Try: "Can I accept a friend request from a parent?" or "Am I allowed on Facebook at lunch?"\n\n'
    "If you are being abused or harassed online, or you have a concern about a colleague or about a child's "
    'safety, you can report it privately: use "Report a concern" and it goes only to the right person '
    "(your manager, HR or the Designated Safeguarding Lead), never to the person it is about.\n\n"
    "If anyone is in immediate danger, call 999."
)


QUICK_GUIDANCE_TEXT = (
    "The rules staff most often need, in the policy's own words. Ask me anything else about it, or report a "
    "concern privately. If anyone is in immediate danger, call 999."
)


class Assistant:
    """Answers one message at a time (``handle``) or many at once (``answer_many``: one forward pass)."""

    def __init__(
        self,
        *,
        index: BuiltIndex,
        embedder: Embedder,
        classifier: IntentClassifier,
        memory: ConversationMemory | None = None,
        safeguarding: SafeguardingContact | None = None,
        weights: Weights | None = None,
        policy: AnswerPolicy | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.index = index
        self.observers: tuple[Observer, ...] = tuple(observers)
        self.embedder = embedder
        self.classifier = classifier
        self.memory = memory or InMemoryConversations()
        self.safeguarding = safeguarding or SafeguardingContact(name="the Designated Safeguarding Lead")
        self.searcher = HybridSearcher(index, embedder, weights)
        self.composer = Composer(index.corpus, policy)
        self.policy = self.composer.policy
        self._batcher: MicroBatcher[tuple[str, str], tuple[SearchResult, IntentResult]] = MicroBatcher(
            self._analyse_batch, executor=model_executor()
        )
        self._related = index.corpus.missing_related
        self._report_guidance = self._guidance_sections()
        self._quick: Reply | None = None
        #: Questions being written to conversation memory, by conversation (see ``handle``).
        self._remembering: dict[str, asyncio.Task[None]] = {}

    # --- construction --------------------------------------------------------------------------------------

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        memory: ConversationMemory | None = None,
        safeguarding: SafeguardingContact | None = None,
        on_rebuild: Callable[[str], None] | None = None,
        observers: Sequence[Observer] = (),
    ) -> Assistant:
        """Load the model and the index (rebuilding it if the corpus or model changed) and the classifier."""
        embedder = embedder or SentenceTransformerEmbedder(settings.model)
        index = open_index(settings.corpus_dir, settings.index_dir, embedder, on_rebuild=on_rebuild)
        classifier = IntentClassifier.load_or_train(settings.index_dir / "intent", embedder)
        return cls(
            index=index,
            embedder=embedder,
            classifier=classifier,
            memory=memory,
            safeguarding=safeguarding,
            observers=observers,
        )

    def reloaded(self, settings: Settings, *, on_rebuild: Callable[[str], None] | None = None) -> Assistant:
        """A new assistant over the current corpus and index (built beside the old one if the corpus changed),
        sharing this one's model, classifier, memory, contact and observers. Blocking: call it off the loop.

        The build embeds in small batches, so questions answered meanwhile by this assistant interleave with
        it instead of waiting for the whole corpus. Raises ``CorpusError`` (this assistant keeps serving)."""
        index = open_index(
            settings.corpus_dir,
            settings.index_dir,
            self.embedder,
            on_rebuild=on_rebuild,
            progress=lambda _stage, _done, _total: None,
        )
        return Assistant(
            index=index,
            embedder=self.embedder,
            classifier=self.classifier,
            memory=self.memory,
            safeguarding=self.safeguarding,
            weights=self.searcher.weights,
            policy=self.policy,
            observers=self.observers,
        )

    def with_context(
        self,
        *,
        memory: ConversationMemory,
        safeguarding: SafeguardingContact,
        observers: Sequence[Observer] | None = None,
    ) -> Assistant:
        """This assistant (same model, index, classifier and batcher) with another memory and DSL contact
        (and observers, when given).

        Each ``Services`` takes its own view, so several servers in one process (tests) never change each
        other's assistant."""
        clone = copy.copy(self)
        clone.memory = memory
        clone.safeguarding = safeguarding
        if observers is not None:
            clone.observers = tuple(observers)
        return clone

    def variant(self, mode: str, *, examples: float | None = None) -> Assistant:
        """The same assistant searching with one signal only ("dense" or "lexical"), or weighing the example
        messages differently (``examples=0``: not at all), for evaluation."""
        weights = replace(self.searcher.weights, mode=mode)
        if examples is not None:
            weights = replace(weights, examples=examples)
        policy = self.policy
        return Assistant(
            index=self.index,
            embedder=self.embedder,
            classifier=self.classifier,
            memory=self.memory,
            safeguarding=self.safeguarding,
            weights=weights,
            policy=policy,
        )

    # --- entry points ----------------------------------------------------------------------------------------

    async def handle(self, message: Message) -> Reply:
        """Answer one message; concurrent calls share forward passes. CPU work runs off the event loop."""
        text = _clean(message.text)
        context: list[str] = []
        if message.conversation:
            await self._remembered(message.conversation)
            context = await self.memory.recent(message.conversation)
        query = resolve_follow_up(text, context)
        started = time.perf_counter()
        result, intent = await self._batcher.submit((text, query))
        reply = self._compose(message, text, query, result, intent)
        if (
            message.conversation
            and reply.kind in (ReplyKind.ANSWER, ReplyKind.NO_ANSWER)
            and not _private(intent)
        ):
            self._remember(message.conversation, query)
        reply = replace(reply, extra={**reply.extra, "seconds": time.perf_counter() - started})
        for observer in self.observers:
            try:
                await observer(message, reply)
            except Exception as exc:  # an observer (insights) failing never costs anyone their answer
                log.warning("reply observer failed: %s", type(exc).__name__)
        log.debug(
            "answered kind=%s intent=%s in %.1f ms", reply.kind, reply.intent, 1e3 * reply.extra["seconds"]
        )
        return reply

    def _remember(self, conversation: str, query: str) -> None:
        """Write the question to conversation memory without holding the reply for it: the next message of the
        same conversation waits for the write (``_remembered``), so a follow-up always sees its context."""

        async def write(previous: asyncio.Task[None] | None) -> None:
            if previous is not None:
                await asyncio.wait([previous])  # in order, whatever became of the one before
            try:
                await self.memory.remember(conversation, query)
            except Exception as exc:  # a lost turn costs a follow-up its context, never the answer
                log.warning("conversation memory not written: %s", type(exc).__name__)

        task = asyncio.get_running_loop().create_task(write(self._remembering.get(conversation)))
        self._remembering[conversation] = task
        task.add_done_callback(
            lambda done: (
                self._remembering.pop(conversation, None)
                if self._remembering.get(conversation) is done
                else None
            )
        )

    async def _remembered(self, conversation: str) -> None:
        pending = self._remembering.get(conversation)
        if pending is not None and pending.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([pending])

    async def settle(self) -> None:
        """Wait for conversation-memory writes still in flight (before closing the database)."""
        loop = asyncio.get_running_loop()
        pending = [t for t in self._remembering.values() if t.get_loop() is loop]
        if pending:
            await asyncio.wait(pending)

    def quick_guidance(self) -> Reply:
        """The rules staff most need, quoted: each ``[quick_guidance]`` topic of corpus.toml answered from the
        documents (its best citation), so the guidance is the policy's own words and follows its changes.

        Cached: the index is read-only while this assistant lives."""
        if self._quick is None:
            topics = self.index.corpus.quick_guidance
            seen: set[str] = set()
            citations = []
            for reply in self.answer_many(list(topics)) if topics else []:
                if reply.kind is ReplyKind.ANSWER and reply.citations:
                    best = reply.citations[0]
                    if best.quote not in seen:
                        seen.add(best.quote)
                        citations.append(best)
            self._quick = Reply(
                question="help",
                kind=ReplyKind.HELP,
                text=QUICK_GUIDANCE_TEXT,
                citations=tuple(citations),
                intent=Intent.HELP,
                contacts=self.composer.contacts("help"),
                id="quick-guidance",
            )
        return self._quick

    def answer(self, text: str) -> Reply:
        """Synchronous single answer without conversation context (CLI, evaluation, benchmarks)."""
        return self.answer_many([text])[0]

    def answer_many(self, texts: Sequence[str]) -> list[Reply]:
        """Answer many messages with one batched forward pass."""
        cleaned = [_clean(t) for t in texts]
        analysed = self._analyse_batch([(t, t) for t in cleaned])
        return [
            self._compose(Message(text=t), t, t, result, intent)
            for t, (result, intent) in zip(cleaned, analysed, strict=True)
        ]

    # --- pipeline --------------------------------------------------------------------------------------------

    def _analyse_batch(self, items: Sequence[tuple[str, str]]) -> list[tuple[SearchResult, IntentResult]]:
        """Embed every query's segments in one pass; search and classify each."""
        plans = [self.searcher.plan(query) for _, query in items]
        # The classifier reads the message in the policy's vocabulary, which is what search embeds first;
        # only a follow-up (searched together with its context) needs its own text embedded.
        wanted: list[tuple[str, tuple[Span, ...]]] = []
        for (text, query), plan in zip(items, plans, strict=True):
            wanted.append((plan.text, plan.spans))
            if query != text:
                wanted.append((reading(text), ()))
        vectors = encode_spans(self.embedder, wanted)
        results: list[SearchResult] = []
        message_vectors: list[Vectors] = []
        at = 0
        for (text, query), plan in zip(items, plans, strict=True):
            vecs = vectors[at]
            message_vectors.append(vectors[at + 1][0] if query != text else vecs[0])
            at += 2 if query != text else 1
            results.append(self.searcher.search(query, vectors=vecs, plan=plan, k=8))
        intents = self.classifier.classify_many([text for text, _ in items], np.stack(message_vectors))
        return list(zip(results, intents, strict=True))

    def _compose(
        self, message: Message, text: str, query: str, result: SearchResult, intent: IntentResult
    ) -> Reply:
        reply_id = uuid.uuid4().hex
        resolved = query if query != text else None
        if intent.intent is Intent.HELP or is_help(text):
            reply = self._help(text)
        elif intent.intent in (Intent.REPORT, Intent.URGENT):
            reply = self._report(text, result, urgent=intent.intent is Intent.URGENT)
        else:
            reply = self._question(text, result, intent)
        extra = {
            "probabilities": intent.probabilities,
            "ranking": [h.section for h in result.hits],
            "ranking_docs": [f"{h.doc_id}#{h.section}" for h in result.hits],
        }
        return replace(reply, id=reply_id, resolved_question=resolved, extra=extra)

    def _question(self, text: str, result: SearchResult, intent: IntentResult) -> Reply:
        confidence = self.confidence(result, intent)
        related = self._related_mentioned(text)
        if not _has_words(text) or intent.offtopic:
            return replace(
                self.composer.no_answer(text, result, confidence=confidence), intent=Intent.QUESTION
            )
        gate = self.policy.gate_for(result.features).threshold
        # Naming a document we do not hold gets that said, unless the policy clearly answers the question itself
        # (where the best section is only where the policy refers to that document, say so instead).
        pointer = bool(related and result.hits) and result.hits[0].key in self.composer.mention_sections(
            related
        )
        if related and (confidence < gate + 0.1 or pointer):
            return self.composer.related_document(text, related, result, confidence=confidence)
        if confidence < gate:
            return self.composer.no_answer(text, result, confidence=confidence)
        return self.composer.answer(text, result, confidence=confidence)

    def _report(self, text: str, result: SearchResult, *, urgent: bool) -> Reply:
        """Guidance the policy offers to someone reporting, plus the private report offer."""
        hits = sorted(
            result.hits,
            key=lambda h: h.score + (REPORT_BOOST if (h.doc_id, h.section) in self._report_guidance else 0.0),
            reverse=True,
        )
        boosted = replace(result, hits=tuple(hits))
        confidence = self.confidence(result, None)
        if urgent:
            who = self.safeguarding
            how = f" ({who.how})" if who.how else ""
            lead = (
                "If anyone is in immediate danger, call 999 now. "
                f"Then contact {who.name}{how} straight away: do not wait for a reply here.\n\n"
                "You can also report this privately below; it goes to the safeguarding lead, never to the "
                "person it is about."
            )
        else:
            lead = (
                "I'm sorry this is happening. You can report it privately: it goes only to the right person "
                "(your manager, HR or the Designated Safeguarding Lead), never to the person it is about. "
                "Keep a record (screenshots, links, dates) before anything is deleted."
            )
        if confidence < self.policy.gate_for(result.features).report_threshold:
            reply = self.composer.no_answer(text, boosted, confidence=confidence, lead=lead)
        else:
            reply = self.composer.answer(text, boosted, confidence=confidence, lead=lead)
        if reply.kind is not ReplyKind.ANSWER and not reply.text.startswith(lead):
            reply = replace(reply, text=lead + "\n\n" + reply.text)
        return replace(
            reply, suggest_report=True, urgent=urgent, intent=Intent.URGENT if urgent else Intent.REPORT
        )

    def _help(self, text: str) -> Reply:
        titles = " and the ".join(d.title for d in self.index.corpus.documents[:3])
        return Reply(
            question=text,
            kind=ReplyKind.HELP,
            text=HELP_TEXT.format(titles=titles),
            intent=Intent.HELP,
            contacts=self.composer.contacts(text),
        )

    def confidence(self, result: SearchResult, intent: IntentResult | None) -> float:
        """Calibrated probability that the policies answer this message (what the gate compares)."""
        if not result.hits:
            return 0.0
        offtopic = intent.probabilities.get("offtopic", 0.0) if intent else 0.0
        return answer_probability(result.features, offtopic, self.policy)

    def _related_mentioned(self, text: str) -> list[RelatedDoc]:
        lowered = text.lower()
        return [r for r in self._related if any(name.lower() in lowered for name in r.names)]

    def _guidance_sections(self) -> set[tuple[str, str]]:
        """Sections holding the policy's guidance for someone being abused or worried: found by search."""
        probe = (
            "I am being abused or harassed online. Report it to my manager and to the site. Raise concerns."
        )
        found = self.searcher.search(probe, k=2)
        return {(h.doc_id, h.section) for h in found.hits}

    @property
    def contacts(self) -> tuple[Contact, ...]:
        return self.composer.contacts("")


def _clean(text: str) -> str:
    text = (text or "").replace("\x00", " ").strip()
    return text[:MAX_MESSAGE_CHARS]


def _has_words(text: str) -> bool:
    """English words present: emoji-only or non-Latin text cannot be matched to the policies."""
    words = re.findall(r"[A-Za-z]{2,}", text)
    letters = sum(ch.isalpha() for ch in text)
    return bool(words) and sum(len(w) for w in words) >= 0.6 * max(letters, 1)


def _private(intent: IntentResult) -> bool:
    """Reports are never kept as conversation context."""
    return intent.intent in (Intent.REPORT, Intent.URGENT)
