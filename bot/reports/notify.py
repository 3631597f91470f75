"""The notifier seam: ``Notifier``, the per-recipient ``NotifierRegistry``, the console/file notifier.

Slack and Teams notifiers plug in by registering with the registry: the first registered notifier that
``can_reach`` an address (for a reporter: preferring the channel they reported from) is used. A notifier
answers DELIVERED, RETRY (transient: the worker backs off and tries again) or UNDELIVERABLE (e.g. Teams 403:
the app is not installed for that person), which the worker records before routing the case onwards.
Notice text is deliberately bland: a reference, a category and a link; never names or report text.

Effectively once: a worker killed while a send was in flight leaves a lease that runs out, and the next worker
would send again. A notifier that can see what it already sent (Slack: the notice's delivery key rides in the
message metadata and the DM's history can be read) implements ``DeliveryCheck``; the worker asks it before any
second attempt. One that cannot (Teams: a bot cannot read a personal chat's history) stays at-least-once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol, TextIO, runtime_checkable

from bot.clock import Clock, SystemClock
from bot.domain import Channel
from bot.reports.directory import Person
from bot.reports.model import Category, Reporter

__all__ = [
    "ADMIN_ALERTS",
    "REPORTER",
    "Address",
    "ConsoleNotifier",
    "Delivery",
    "DeliveryCheck",
    "DeliveryStatus",
    "Notice",
    "NoticeEvent",
    "Notifier",
    "NotifierRegistry",
    "render_notice",
]

#: The outbox recipient meaning "the person who reported".
REPORTER = "reporter"


class NoticeEvent(StrEnum):
    NEW_CASE = "new_case"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    #: To the reporter: their report is saved (its reference), enqueued with the case itself.
    RECEIVED = "received"
    #: To case administrators: a notice about the case keeps failing (sent by another channel if any).
    UNDELIVERED = "undelivered"
    #: To case administrators: nobody is left in the case's escalation chain.
    CHAIN_EXHAUSTED = "chain_exhausted"


#: Notices to case administrators about delivery itself (never escalated further when they fail).
ADMIN_ALERTS = frozenset({NoticeEvent.UNDELIVERED, NoticeEvent.CHAIN_EXHAUSTED})


@dataclass(frozen=True, slots=True)
class Address:
    """Where a notice goes: channel identities of a directory person, or of a reporter not in it."""

    person_id: str | None = None
    slack_id: str | None = None
    teams_id: str | None = None
    email: str | None = None
    #: For notices to a reporter: the channel they reported from (preferred for the reply).
    channel: Channel | None = None
    is_reporter: bool = False

    @classmethod
    def of_person(
        cls, person: Person, *, is_reporter: bool = False, channel: Channel | None = None
    ) -> Address:
        return cls(
            person_id=person.id,
            slack_id=person.slack_id,
            teams_id=person.teams_id,
            email=person.email,
            channel=channel,
            is_reporter=is_reporter,
        )

    @classmethod
    def of_reporter(cls, reporter: Reporter, person: Person | None) -> Address:
        if person is not None:
            return cls.of_person(person, is_reporter=True, channel=reporter.channel)
        return cls(
            slack_id=reporter.id if reporter.channel == Channel.SLACK else None,
            teams_id=reporter.id if reporter.channel == Channel.TEAMS else None,
            channel=reporter.channel,
            is_reporter=True,
        )

    @property
    def label(self) -> str:
        """For logs and the console file: a person id, or "reporter" (never a name)."""
        return REPORTER if self.is_reporter else (self.person_id or "?")


@dataclass(frozen=True, slots=True)
class Notice:
    """One bland notification; ``key`` is stable per (case, recipient, event) for deduplication."""

    key: str
    event: NoticeEvent
    reference: str
    category: Category
    text: str
    link: str


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    UNDELIVERABLE = "undeliverable"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notifier's answer; ``detail`` is an error class or HTTP status, never content."""

    status: DeliveryStatus
    detail: str = ""


@runtime_checkable
class Notifier(Protocol):
    """Sends notices on one channel; ``name`` ("slack", "teams", "webhook" ...) goes in the chronology."""

    name: str

    def can_reach(self, address: Address) -> bool: ...

    async def send(self, address: Address, notice: Notice) -> Delivery: ...

    async def close(self) -> None: ...


@runtime_checkable
class DeliveryCheck(Protocol):
    """A notifier that can tell whether a notice already reached its recipient (its ``key`` is looked for in
    what was sent since ``since``). Asked before a second attempt; True means "do not send again"."""

    async def already_delivered(self, address: Address, notice: Notice, since: datetime) -> bool: ...


class NotifierRegistry:
    """Chooses a notifier per recipient; registration order is preference order."""

    def __init__(self, notifiers: Sequence[Notifier] = ()) -> None:
        self._notifiers: list[Notifier] = list(notifiers)

    def register(self, notifier: Notifier, *, before_fallbacks: bool = True) -> None:
        """Add a notifier; by default ahead of the webhook and console notifiers, which reach anyone."""
        if before_fallbacks:
            index = next(
                (i for i, n in enumerate(self._notifiers) if n.name in ("webhook", "console")),
                len(self._notifiers),
            )
            self._notifiers.insert(index, notifier)
        else:
            self._notifiers.append(notifier)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self._notifiers)

    def choose(self, address: Address, *, avoid: Collection[str] = ()) -> Notifier | None:
        """The notifier for ``address``; one not named in ``avoid`` (a channel that keeps failing) if any."""
        reachable = [n for n in self._notifiers if n.can_reach(address)]
        other = [n for n in reachable if n.name not in avoid]
        reachable = other or reachable
        if address.channel is not None:
            same = [n for n in reachable if n.name == address.channel.value]
            if same:
                return same[0]
        return reachable[0] if reachable else None

    async def close(self) -> None:
        for notifier in self._notifiers:
            await notifier.close()


def render_notice(
    event: NoticeEvent,
    *,
    reference: str,
    category: Category,
    base_url: str,
    acknowledged_by: str | None = None,
    went_to: str = "the right person",
) -> tuple[str, str]:
    """The text and link of a notice (bland on purpose: anyone glancing at a screen learns nothing)."""
    kind = category.short
    if event == NoticeEvent.NEW_CASE:
        text = f"A new concern ({reference}, {kind}) has been routed to you. Open it in policybot."
    elif event == NoticeEvent.ESCALATED:
        text = f"A concern ({reference}, {kind}) has been passed to you. Open it in policybot."
    elif event == NoticeEvent.RECEIVED:
        text = (
            f"Thank you. Your report {reference} ({kind}) is saved and has gone privately to {went_to}, "
            "never to the person it is about. You will be told here when it has been acknowledged. "
            "If anyone is in immediate danger, call 999."
        )
        return text, f"{base_url}/reports"
    elif event == NoticeEvent.UNDELIVERED:
        text = (
            f"A notice about a concern ({reference}, {kind}) could not be delivered and is being retried; "
            "the case has been passed to the next person in line. Please check it in policybot."
        )
    elif event == NoticeEvent.CHAIN_EXHAUSTED:
        text = (
            f"Nobody is left to escalate a concern ({reference}, {kind}) to, and it is not acknowledged. "
            "Please see to it in policybot."
        )
    else:
        by = f" by {acknowledged_by}" if acknowledged_by else ""
        text = f"Your report {reference} has been received and acknowledged{by}."
        return text, f"{base_url}/reports"
    return text, f"{base_url}/cases/{reference}"


class ConsoleNotifier:
    """Local mode: appends each notice to a file under var/ (and optionally prints it). Reaches everyone."""

    name = "console"

    def __init__(self, path: Path, *, echo: TextIO | None = None, clock: Clock | None = None) -> None:
        self.path = path
        self._echo = echo
        self._clock = clock or SystemClock()

    @classmethod
    def printing(cls, path: Path) -> ConsoleNotifier:
        return cls(path, echo=sys.stdout)

    def can_reach(self, address: Address) -> bool:
        return True

    async def send(self, address: Address, notice: Notice) -> Delivery:
        stamp = self._clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{stamp} to={address.label} key={notice.key} {notice.text} {notice.link}\n"
        await asyncio.to_thread(self._append, line)
        if self._echo is not None:
            self._echo.write(f"[notice to {address.label}] {notice.text} {notice.link}\n")
            self._echo.flush()
        return Delivery(DeliveryStatus.DELIVERED)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)

    async def close(self) -> None:
        return None
