"""The channel-agnostic core: ``Assistant.handle(Message) -> Reply``.

It reads a message (what it is: question, report, urgent safeguarding, help), searches the policies, and lets
``decisions`` compose a reply that quotes them verbatim or says honestly that they do not answer. It never files a
report: it only offers the private report flow. It knows nothing of Slack, Teams or HTTP; the edges translate.

Embedding is the expensive step, so concurrent ``handle`` calls are micro-batched: requests that arrive while a
forward pass runs are embedded together in the next one.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

import numpy as np

from bot.config import Settings
from bot.core.answer import Composer
from bot.core.batching import MicroBatcher
from bot.core.conversation import ConversationMemory, InMemoryConversations, resolve_follow_up
from bot.core.decisions import QUICK_GUIDANCE_TEXT, Decisions, SafeguardingContact
from bot.core.gate import AnswerPolicy
from bot.core.intent import IntentClassifier, IntentResult, reading
from bot.domain import Contact, Intent, Message, Reply, ReplyKind
from index.embed import Embedder, SentenceTransformerEmbedder, Span, Vectors, encode_spans, model_executor
from index.examples import ExampleQuestion
from index.search import HybridSearcher, SearchResult, Weights
from index.store import BuiltIndex, open_index

__all__ = ["Assistant", "Observer", "SafeguardingContact"]

#: Called with every (message, reply) ``handle`` produces, after composing it (insights, metrics). An observer
#: that fails is logged by error class and never costs the person their answer.
Observer = Callable[[Message, Reply], Awaitable[None]]

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 20_000


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
        self.searcher = HybridSearcher(index, embedder, weights)
        self.decisions = Decisions(
            composer=Composer(index.corpus, policy),
            related=tuple(index.corpus.missing_related),
            report_guidance=self._guidance_sections(),
            titles=tuple(d.title for d in index.corpus.documents),
        )
        if safeguarding is not None:
            self.decisions = replace(self.decisions, safeguarding=safeguarding)
        self._batcher: MicroBatcher[tuple[str, str], tuple[SearchResult, IntentResult]] = MicroBatcher(
            self._analyse_batch, executor=model_executor()
        )
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
        taught: Sequence[ExampleQuestion] = (),
    ) -> Assistant:
        """Load the model and the index (rebuilding it if the corpus or model changed) and the classifier.

        ``taught`` are the examples policy owners taught (read from the database beforehand, ``Teaching``)."""
        embedder = embedder or SentenceTransformerEmbedder(settings.model)
        index = open_index(
            settings.corpus_dir, settings.index_dir, embedder, on_rebuild=on_rebuild, taught=taught
        )
        classifier = IntentClassifier.load_or_train(settings.index_dir / "intent", embedder)
        return cls(
            index=index,
            embedder=embedder,
            classifier=classifier,
            memory=memory,
            safeguarding=safeguarding,
            observers=observers,
        )

    def reloaded(
        self,
        settings: Settings,
        *,
        on_rebuild: Callable[[str], None] | None = None,
        taught: Sequence[ExampleQuestion] = (),
    ) -> Assistant:
        """A new assistant over the current corpus and index (built beside the old one if the corpus or the
        ``taught`` examples changed), sharing this one's model, classifier, memory, contact and observers.
        Blocking: call it off the loop.

        The build embeds in small batches, so questions answered meanwhile by this assistant interleave with
        it instead of waiting for the whole corpus. Raises ``CorpusError`` (this assistant keeps serving)."""
        index = open_index(
            settings.corpus_dir,
            settings.index_dir,
            self.embedder,
            on_rebuild=on_rebuild,
            progress=lambda _stage, _done, _total: None,
            taught=taught,
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
        clone.decisions = replace(self.decisions, safeguarding=safeguarding)
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
        reply = self.decisions.compose(message, text, query, result, intent)
        if (
            message.conversation
            and reply.kind in (ReplyKind.ANSWER, ReplyKind.NO_ANSWER)
            and intent.intent not in (Intent.REPORT, Intent.URGENT)  # reports are never kept as context
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
                contacts=self.decisions.composer.contacts("help"),
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
            self.decisions.compose(Message(text=t), t, t, result, intent)
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

    def _guidance_sections(self) -> frozenset[tuple[str, str]]:
        """Sections holding the policy's guidance for someone being abused or worried: found by search."""
        probe = (
            "I am being abused or harassed online. Report it to my manager and to the site. Raise concerns."
        )
        found = self.searcher.search(probe, k=2)
        return frozenset((h.doc_id, h.section) for h in found.hits)

    @property
    def policy(self) -> AnswerPolicy:
        return self.decisions.policy

    @property
    def safeguarding(self) -> SafeguardingContact:
        return self.decisions.safeguarding

    @property
    def contacts(self) -> tuple[Contact, ...]:
        return self.decisions.contacts


def _clean(text: str) -> str:
    text = (text or "").replace("\x00", " ").strip()
    return text[:MAX_MESSAGE_CHARS]
