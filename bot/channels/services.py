"""Everything a running policybot needs, opened together: the assistant, the reports core, shared repositories.

The server, the worker and the CLI build one ``Services`` each and pass it down; nothing is a module global.
The model and index load in a worker thread so start-up does not block the event loop; the examples policy
owners taught are read from the database first and built into the index with the corpus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bot.clock import Clock
from bot.config import Settings
from bot.core.assistant import Assistant, SafeguardingContact
from bot.core.conversation import ConversationMemory
from bot.core.insights import InsightsRecorder
from bot.core.teaching import Teaching
from bot.errors import StorageUnavailable
from bot.reports.app import Reports, open_reports
from bot.reports.directory import Directory
from bot.reports.subjects import safeguarding_route
from bot.storage.sent import SentReplies
from bot.storage.shared import (
    ConversationRefs,
    ConversationTurns,
    FeedbackRepository,
    ProcessedEvents,
)

__all__ = ["DatabaseConversations", "Services", "routed_safeguarding_contact", "safeguarding_contact"]

log = logging.getLogger(__name__)


class DatabaseConversations:
    """Follow-up context in the shared database, so a thread keeps its context whichever replica answers."""

    def __init__(self, turns: ConversationTurns) -> None:
        self._turns = turns

    async def recent(self, key: str) -> list[str]:
        return await self._turns.recent(key)

    async def remember(self, key: str, question: str) -> None:
        await self._turns.append(key, question)


def safeguarding_contact(directory: Directory) -> SafeguardingContact:
    """Who urgent messages name: the DSL (or deputy) from the directory, with how to reach them."""
    for role in ("dsl", "deputy_dsl"):
        people = [p for p in directory.people.values() if role in p.roles]
        if people:
            person = people[0]
            title = (
                "the Designated Safeguarding Lead"
                if role == "dsl"
                else "the Deputy Designated Safeguarding Lead"
            )
            how = person.email or ""
            return SafeguardingContact(name=f"{title}, {person.name}", how=how)
    return SafeguardingContact(name="the Designated Safeguarding Lead")


def routed_safeguarding_contact(directory: Directory) -> SafeguardingContact:
    """The contact urgent replies name, computed per message from report routing (``safeguarding_route``): a
    message about the DSL names whoever a report of it would reach instead."""
    base = safeguarding_contact(directory)

    def resolve(text: str, sender: str | None) -> SafeguardingContact:
        found = safeguarding_route(directory, text, sender)
        if found is None:
            return base
        person, role, reaches = found
        return SafeguardingContact(
            name=f"{role}, {person.name}", how=person.email or "", reaches=" and ".join(reaches)
        )

    return replace(base, resolve=resolve)


@dataclass
class Services:
    settings: Settings
    assistant: Assistant
    reports: Reports
    feedback: FeedbackRepository
    events: ProcessedEvents
    conversation_refs: ConversationRefs
    sent_replies: SentReplies
    memory: ConversationMemory
    insights: InsightsRecorder
    teaching: Teaching
    _reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        assistant: Assistant | None = None,
        clock: Clock | None = None,
        start_worker: bool | None = None,
        on_rebuild: Callable[[str], None] | None = None,
    ) -> Services:
        """Open the database (migrating it), load the directory, the model and the index; start the worker."""
        reports = await open_reports(settings, clock=clock)
        try:
            memory = DatabaseConversations(ConversationTurns(reports.db, clock=reports.clock))
            contact = routed_safeguarding_contact(reports.directory)
            insights = InsightsRecorder(
                reports.db, retention_days=settings.insights_retention_days, clock=reports.clock
            )
            teaching = Teaching(reports.db, insights, clock=reports.clock)
            observers = (insights.observe,)
            if assistant is None:
                taught = await teaching.examples()
                assistant = await asyncio.to_thread(
                    Assistant.from_settings,
                    settings,
                    memory=memory,
                    safeguarding=contact,
                    on_rebuild=on_rebuild,
                    observers=observers,
                    taught=taught,
                )
            else:
                assistant = assistant.with_context(memory=memory, safeguarding=contact, observers=observers)
        except BaseException:
            await reports.close()
            raise
        services = cls(
            settings=settings,
            assistant=assistant,
            reports=reports,
            feedback=FeedbackRepository(reports.db, clock=reports.clock),
            events=ProcessedEvents(reports.db, clock=reports.clock),
            conversation_refs=ConversationRefs(reports.db, clock=reports.clock),
            sent_replies=SentReplies(reports.db, clock=reports.clock),
            memory=memory,
            insights=insights,
            teaching=teaching,
        )
        if settings.worker if start_worker is None else start_worker:
            reports.start_worker()
        return services

    async def readiness(self) -> list[str]:
        """Why this process should not take traffic yet (empty: ready). Checked by ``GET /readyz``:
        the index is loaded, the database answers, and its schema is at this code's newest migration."""
        problems: list[str] = []
        if not self.assistant.index.passages:
            problems.append("index: no passages loaded (run `policybot index build`)")
        db = self.reports.db
        if not await db.ping():
            problems.append("database: unreachable")
            return problems
        try:
            current = await db.migrations_current()
        except StorageUnavailable:
            problems.append("database: unreachable")
        else:
            if not current:
                problems.append("database: migrations not current (run `policybot db migrate`)")
        return problems

    async def reload(self, *, on_rebuild: Callable[[str], None] | None = None) -> Assistant:
        """Serve the current corpus: build (beside the old index) or load the new index off the event loop,
        then swap ``self.assistant`` in one assignment. Requests already running finish on the assistant they
        started with and new ones get the new one, so none is dropped; when the build fails (``CorpusError``)
        the old assistant keeps serving. Edges must read ``services.assistant`` per request.

        The taught examples are read from the database first (``StorageUnavailable``: nothing changes)."""
        async with self._reload_lock:
            taught = await self.teaching.examples()
            fresh = await asyncio.to_thread(
                self.assistant.reloaded, self.settings, on_rebuild=on_rebuild, taught=taught
            )
            self.assistant = fresh
            return fresh

    async def close(self) -> None:
        await self.assistant.settle()
        await self.insights.close()
        await self.sent_replies.close()
        await self.reports.close()
