"""The delivery worker: claims due outbox notices, sends them through the registry, records results.

Claims are leases: a claim commits ``claimed_until`` (with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, under
SQLite's single writer lock otherwise), so several worker processes never take the same notice, and a worker
killed mid-delivery leaves a lease that simply runs out. Before sending a notice a second time (its lease ran
out, or an earlier attempt failed) the worker asks the notifier whether the first send got through after all
(``DeliveryCheck``: Slack reads the DM's history for the notice's key), so a send lost with a killed worker is
not repeated: effectively once on Slack, at-least-once where a channel cannot tell (Teams).

Transient failures back off exponentially with full jitter. Nothing is given up on: when the fast retries run
out the notice keeps retrying hourly, and at that moment the case goes to the next in line and every case
administrator is told, by another channel where one reaches them. A notice no channel can deliver is recorded
as undeliverable, with the same escalation. ``attention`` counts both for the dashboard and the metrics.

Over 400 lines: claiming, the check before a second send, recording each result and the in-person reply's
claim are one lease protocol over the same rows; split up, its invariants would be spread over modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock, SystemClock
from bot.errors import StorageUnavailable
from bot.reports.casefile import SYSTEM, add_event, tell_administrators
from bot.reports.model import CaseStatus, Category, EventKind, Reporter, to_whom
from bot.reports.notify import (
    ADMIN_ALERTS,
    REPORTER,
    Address,
    Delivery,
    DeliveryCheck,
    DeliveryStatus,
    Notice,
    NoticeEvent,
    NotifierRegistry,
    render_notice,
)
from bot.reports.routing import role_phrase, stored_role
from bot.reports.service import CaseService
from bot.storage.schema import case_events, case_recipients, cases, outbox

__all__ = ["Attention", "DeliveryWorker", "RetryPolicy", "attention"]

log = logging.getLogger(__name__)

#: How far before a lost claim to look for the notice in what the channel shows (clock skew, slow sends).
LOOK_BACK = timedelta(minutes=2)
#: The detail of a delivery found to have gone through on an earlier claim (recorded in the chronology).
_FOUND = "found already delivered"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits up to ``base * 2**(n-1)`` (capped)."""

    base_seconds: float = 5.0
    cap_seconds: float = 900.0
    #: Fast attempts; after these the notice is "undelivered" (escalated, administrators told) and
    #: retried every ``slow_seconds`` until it goes through.
    max_attempts: int = 12
    slow_seconds: float = 3600.0

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        if attempts >= self.max_attempts:
            return timedelta(seconds=rng.uniform(self.slow_seconds * 0.9, self.slow_seconds))
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


@dataclass(frozen=True, slots=True)
class Attention:
    """What needs a person: notices not getting through, and open cases nobody is left to escalate to."""

    undelivered: int
    exhausted_chains: int


async def attention(conn: AsyncConnection) -> Attention:
    """Counted over cases still open or acknowledged (a closed case needs no more notices)."""
    live = cases.c.status.in_([CaseStatus.OPEN.value, CaseStatus.ACKNOWLEDGED.value])
    stuck = outbox.c.status.in_(["pending", "undeliverable"]) & outbox.c.undelivered_since.is_not(None)
    undelivered = await conn.execute(
        select(func.count())
        .select_from(outbox.join(cases, cases.c.id == outbox.c.case_id))
        .where(stuck, live)
    )
    exhausted = await conn.execute(
        select(func.count(func.distinct(cases.c.id)))
        .select_from(cases.join(case_events, case_events.c.case_id == cases.c.id))
        .where(
            cases.c.status == CaseStatus.OPEN.value,
            case_events.c.kind == EventKind.ESCALATION_EXHAUSTED.value,
        )
    )
    return Attention(int(undelivered.scalar_one()), int(exhausted.scalar_one()))


@dataclass(frozen=True, slots=True)
class _Job:
    id: int
    case_id: int
    recipient: str
    event: NoticeEvent
    attempts: int
    #: Claimed before (a lease ran out or an attempt failed): look for a lost send from this time on.
    since: datetime | None = None
    #: The fast retries have already run out (escalated and told once; now retried slowly).
    undelivered: bool = False


class DeliveryWorker:
    """Run ``run_forever`` as a task (or ``policybot worker``); tests call ``run_once`` with a fake clock."""

    def __init__(
        self,
        service: CaseService,
        notifiers: NotifierRegistry,
        *,
        base_url: str,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        lease: timedelta = timedelta(seconds=120),
        batch: int = 20,
        poll_seconds: float = 2.0,
        seed: int | None = None,
        housekeeping: Callable[[], Awaitable[object]] | None = None,
        housekeeping_every: timedelta = timedelta(hours=1),
    ) -> None:
        self.service = service
        self.db = service.db
        self.notifiers = notifiers
        self.base_url = base_url
        self.clock = clock or service.clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.lease = lease
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.worker_id = f"{socket.gethostname()[:30]}:{os.getpid()}:{random.randrange(16**6):06x}"
        self._rng = random.Random(seed)
        self.housekeeping = housekeeping
        self.housekeeping_every = housekeeping_every
        self._last_housekeeping: datetime | None = None

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Deliver and escalate until ``stop`` is set; an unreachable database is waited out, not fatal."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            busy = False
            try:
                busy = await self.run_once(stop) > 0
            except StorageUnavailable:
                log.warning("worker: database unavailable; retrying")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """One pass: escalate overdue cases, deliver every due notice; returns how many were handled.

        With ``stop`` set (shutdown), the pass ends after the batch in hand: the rest stays in the outbox."""
        await self._housekeeping()
        await self.service.escalate_due()
        handled = 0
        while stop is None or not stop.is_set():
            jobs = await self._claim()
            if not jobs:
                return handled
            for job in jobs:
                await self._deliver(job)
                handled += 1
        return handled

    async def claim_reply(self, reference: str) -> _Job | None:
        """The channel answers the reporter in person with their reference (Teams: the card replying to the
        submit): take the lease on their RECEIVED notice first, so no worker sends it as well. None when a
        worker has it already. Settle with ``settle_reply``; a process dying in between leaves a lease that
        runs out, and a worker then sends the notice (at least once: never lost)."""
        now = self.clock.now()
        free = (outbox.c.status == "pending") & (
            outbox.c.claimed_until.is_(None) | (outbox.c.claimed_until < now)
        )
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(
                    select(outbox)
                    .join(cases, cases.c.id == outbox.c.case_id)
                    .where(
                        cases.c.reference == reference,
                        outbox.c.recipient == REPORTER,
                        outbox.c.event == NoticeEvent.RECEIVED.value,
                        free,
                    )
                )
            ).first()
            if row is None:
                return None
            taken = await conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id, free)
                .values(claimed_until=now + self.lease, claimed_by=self.worker_id, claimed_at=now)
            )
        if not taken.rowcount:
            return None
        return _Job(row.id, row.case_id, REPORTER, NoticeEvent.RECEIVED, row.attempts)

    async def settle_reply(self, claim: _Job, channel: str, *, delivered: bool, detail: str = "") -> None:
        """Record the in-person reply as the notice's delivery, or hand the notice back to the worker."""
        result = Delivery(DeliveryStatus.DELIVERED) if delivered else Delivery(DeliveryStatus.RETRY, detail)
        await self._record(claim, result, channel)

    async def _housekeeping(self) -> None:
        """Retention and other purges, at most once per ``housekeeping_every`` (failures only logged)."""
        now = self.clock.now()
        if self.housekeeping is None:
            return
        if self._last_housekeeping is not None and now - self._last_housekeeping < self.housekeeping_every:
            return
        self._last_housekeeping = now
        try:
            await self.housekeeping()
        except StorageUnavailable:
            raise
        except Exception as exc:
            log.error("housekeeping failed: %s", type(exc).__name__)

    async def _claim(self) -> list[_Job]:
        now = self.clock.now()
        due = (
            (outbox.c.status == "pending")
            & (outbox.c.next_attempt_at <= now)
            & (outbox.c.claimed_until.is_(None) | (outbox.c.claimed_until < now))
        )
        async with self.db.transaction() as conn:
            query = (
                select(outbox).where(due).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(self.batch)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = (await conn.execute(query)).all()
            if not rows:
                return []
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]), due)
                .values(claimed_until=now + self.lease, claimed_by=self.worker_id, claimed_at=now)
            )
        return [
            _Job(
                r.id,
                r.case_id,
                r.recipient,
                NoticeEvent(r.event),
                r.attempts,
                since=(r.claimed_at or r.created_at) - LOOK_BACK if r.claimed_by is not None else None,
                undelivered=r.undelivered_since is not None,
            )
            for r in rows
        ]

    async def _deliver(self, job: _Job) -> None:
        prepared = await self._prepare(job)
        if isinstance(prepared, Delivery):
            result = prepared
            channel = None
        else:
            address, notice = prepared
            avoid = await self._failing_channels(job) if job.event in ADMIN_ALERTS else ()
            notifier = self.notifiers.choose(address, avoid=avoid)
            if notifier is None:
                result, channel = Delivery(DeliveryStatus.UNDELIVERABLE, "no notifier reaches them"), None
            else:
                channel = notifier.name
                try:
                    async with asyncio.timeout(self.lease.total_seconds() * 0.8):
                        if await self._sent_before(job, notifier, address, notice):
                            result = Delivery(DeliveryStatus.DELIVERED, _FOUND)
                        else:
                            result = await notifier.send(address, notice)
                except Exception as exc:  # a notifier bug or timeout must not stop the worker
                    log.warning("notifier %s failed for outbox %d: %s", channel, job.id, type(exc).__name__)
                    result = Delivery(DeliveryStatus.RETRY, type(exc).__name__)
        await self._record(job, result, channel)

    async def _sent_before(self, job: _Job, notifier: object, address: Address, notice: Notice) -> bool:
        """Did an earlier claim's send get through after all? Only asked on a second attempt; a check that
        fails is not an answer (the notice is sent: at least once rather than not at all)."""
        if job.since is None or not isinstance(notifier, DeliveryCheck):
            return False
        try:
            found = await notifier.already_delivered(address, notice, job.since)
        except Exception as exc:
            log.warning("outbox %d: delivery check failed (%s); sending", job.id, type(exc).__name__)
            return False
        if found:
            log.info("outbox %d was delivered before the last claim ran out; not sent again", job.id)
        return found

    async def _failing_channels(self, job: _Job) -> set[str]:
        """The channels of this case's notices that are not getting through (an alert goes another way)."""
        async with self.db.transaction() as conn:
            rows = await conn.execute(
                select(outbox.c.channel).where(
                    outbox.c.case_id == job.case_id,
                    outbox.c.status.in_(["pending", "undeliverable"]),
                    outbox.c.undelivered_since.is_not(None),
                )
            )
            return {c for c in rows.scalars() if c}

    async def _prepare(self, job: _Job) -> tuple[Address, Notice] | Delivery:
        async with self.db.transaction() as conn:
            case = (await conn.execute(select(cases).where(cases.c.id == job.case_id))).one_or_none()
            if case is None:
                return Delivery(DeliveryStatus.UNDELIVERABLE, "case no longer exists")
            acknowledged_by = (
                await self._acknowledger(conn, job) if job.event == NoticeEvent.ACKNOWLEDGED else None
            )
            received_by = await self._received_by(conn, job) if job.event == NoticeEvent.RECEIVED else ""
        directory = self.service.directory
        if job.recipient == REPORTER:
            if not case.reporter_enc:
                return Delivery(DeliveryStatus.UNDELIVERABLE, "reporter unknown")
            reporter = Reporter.from_json(json.loads(self.db.keys.decrypt(case.reporter_enc)))
            address = Address.of_reporter(reporter, directory.person(reporter.person_id or ""))
        else:
            person = directory.person(job.recipient)
            if person is None:
                return Delivery(DeliveryStatus.UNDELIVERABLE, "not in the directory")
            address = Address.of_person(person)
        category = Category(case.category)
        text, link = render_notice(
            job.event,
            reference=case.reference,
            category=category,
            base_url=self.base_url,
            acknowledged_by=acknowledged_by,
            **({"went_to": received_by} if received_by else {}),
        )
        key = f"{case.reference}/{job.recipient}/{job.event.value}"
        return address, Notice(
            key=key, event=job.event, reference=case.reference, category=category, text=text, link=link
        )

    async def _received_by(self, conn: AsyncConnection, job: _Job) -> str:
        """The roles the case went to, as the in-channel reply names them (the same routing, never a name)."""
        reasons = await conn.execute(
            select(case_recipients.c.reason)
            .where(case_recipients.c.case_id == job.case_id)
            .order_by(case_recipients.c.id)
        )
        directory = self.service.directory
        roles = tuple(
            dict.fromkeys(role_phrase(stored_role(r, directory), directory) for r in reasons.scalars())
        )
        return to_whom(roles)

    async def _acknowledger(self, conn: AsyncConnection, job: _Job) -> str | None:
        if not self.service.directory.reveal_acknowledger:
            return None
        actor = (
            await conn.execute(
                select(case_events.c.actor)
                .where(
                    case_events.c.case_id == job.case_id, case_events.c.kind == EventKind.ACKNOWLEDGED.value
                )
                .order_by(case_events.c.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        person = self.service.directory.person(actor or "")
        return person.name if person else None

    async def _record(self, job: _Job, result: Delivery, channel: str | None) -> None:
        now = self.clock.now()
        mine = (
            (outbox.c.id == job.id) & (outbox.c.claimed_by == self.worker_id) & (outbox.c.status == "pending")
        )
        data: dict[str, Any] = {"recipient": job.recipient, "event": job.event.value}
        async with self.db.transaction() as conn:
            if result.status == DeliveryStatus.DELIVERED:
                done = await conn.execute(
                    update(outbox)
                    .where(mine)
                    .values(
                        status="delivered",
                        delivered_at=now,
                        channel=channel,
                        claimed_until=None,
                        last_error=None,
                    )
                )
                if done.rowcount and job.undelivered:  # got through in the end (after the case moved on)
                    await conn.execute(
                        update(case_recipients)
                        .where(
                            case_recipients.c.case_id == job.case_id,
                            case_recipients.c.person_id == job.recipient,
                        )
                        .values(undeliverable=False)
                    )
                if done.rowcount:
                    found = {"found": True} if result.detail == _FOUND else {}
                    await add_event(
                        conn,
                        job.case_id,
                        now,
                        EventKind.DELIVERED,
                        SYSTEM,
                        {**data, "channel": channel, **found},
                    )
                log.info("delivered outbox %d via %s", job.id, channel)
                return
            attempts = job.attempts + 1
            gone = result.status == DeliveryStatus.UNDELIVERABLE
            values: dict[str, Any] = {
                "attempts": attempts,
                "claimed_until": None,
                "last_error": result.detail[:200],
                "channel": channel,
            }
            if gone:
                values["status"] = "undeliverable"
            else:  # never given up on: fast retries, then hourly
                values["next_attempt_at"] = now + self.retry.delay(attempts, self._rng)
            newly = not job.undelivered and (gone or attempts >= self.retry.max_attempts)
            if newly:
                values["undelivered_since"] = now
            done = await conn.execute(update(outbox).where(mine).values(**values))
            if not done.rowcount:
                return
            if not newly:
                log.info("outbox %d attempt %d failed (%s); will retry", job.id, attempts, result.detail)
                return
            kind = EventKind.UNDELIVERABLE if gone else EventKind.DELIVERY_FAILED
            details = {**data, "channel": channel, "error": result.detail[:200]}
            await add_event(conn, job.case_id, now, kind, SYSTEM, details)
            state = "undeliverable" if gone else "still failing; retried hourly"
            log.warning("outbox %d %s (%s)", job.id, state, result.detail)
            if job.event in ADMIN_ALERTS:
                return  # an alert about delivery is not itself escalated (it is counted on the dashboard)
            if job.recipient != REPORTER:
                await self._next_in_line(conn, job, why=f"a notice could not be delivered ({kind.value})")
            await tell_administrators(
                conn,
                job.case_id,
                self.service.directory.case_administrators,
                self.db.keys,
                NoticeEvent.UNDELIVERED,
                now,
                data={"about": job.recipient, "notice": job.event.value},
            )

    async def _next_in_line(self, conn: AsyncConnection, job: _Job, *, why: str) -> None:
        await conn.execute(
            update(case_recipients)
            .where(case_recipients.c.case_id == job.case_id, case_recipients.c.person_id == job.recipient)
            .values(undeliverable=True)
        )
        case: Row[Any] | None = (
            await conn.execute(select(cases).where(cases.c.id == job.case_id))
        ).one_or_none()
        if case is not None and case.status != "closed":
            await self.service.escalation.advance(conn, case, why=why)
