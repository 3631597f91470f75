"""The delivery worker: claims due outbox notices, sends them through the registry, records results.

Claims are leases: a claim commits ``claimed_until`` (with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, under
SQLite's single writer lock otherwise), so several worker processes never take the same notice, and a worker
killed mid-delivery leaves a lease that simply runs out. Transient failures back off exponentially with full
jitter; an undeliverable notice (or one that keeps failing) is recorded and the case goes to the next in line.
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

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock, SystemClock
from bot.errors import StorageUnavailable
from bot.reports.casefile import SYSTEM, add_event
from bot.reports.model import Category, EventKind, Reporter
from bot.reports.notify import (
    REPORTER,
    Address,
    Delivery,
    DeliveryStatus,
    Notice,
    NoticeEvent,
    NotifierRegistry,
    render_notice,
)
from bot.reports.service import CaseService
from bot.storage.schema import case_events, case_recipients, cases, outbox

__all__ = ["DeliveryWorker", "RetryPolicy"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits up to ``base * 2**(n-1)`` (capped)."""

    base_seconds: float = 5.0
    cap_seconds: float = 900.0
    max_attempts: int = 12

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


@dataclass(frozen=True, slots=True)
class _Job:
    id: int
    case_id: int
    recipient: str
    event: NoticeEvent
    attempts: int


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
                .values(claimed_until=now + self.lease, claimed_by=self.worker_id)
            )
        return [_Job(r.id, r.case_id, r.recipient, NoticeEvent(r.event), r.attempts) for r in rows]

    async def _deliver(self, job: _Job) -> None:
        prepared = await self._prepare(job)
        if isinstance(prepared, Delivery):
            result = prepared
            channel = None
        else:
            address, notice = prepared
            notifier = self.notifiers.choose(address)
            if notifier is None:
                result, channel = Delivery(DeliveryStatus.UNDELIVERABLE, "no notifier reaches them"), None
            else:
                channel = notifier.name
                try:
                    async with asyncio.timeout(self.lease.total_seconds() * 0.8):
                        result = await notifier.send(address, notice)
                except Exception as exc:  # a notifier bug or timeout must not stop the worker
                    log.warning("notifier %s failed for outbox %d: %s", channel, job.id, type(exc).__name__)
                    result = Delivery(DeliveryStatus.RETRY, type(exc).__name__)
        await self._record(job, result, channel)

    async def _prepare(self, job: _Job) -> tuple[Address, Notice] | Delivery:
        async with self.db.transaction() as conn:
            case = (await conn.execute(select(cases).where(cases.c.id == job.case_id))).one_or_none()
            if case is None:
                return Delivery(DeliveryStatus.UNDELIVERABLE, "case no longer exists")
            acknowledged_by = (
                await self._acknowledger(conn, job) if job.event == NoticeEvent.ACKNOWLEDGED else None
            )
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
        )
        key = f"{case.reference}/{job.recipient}/{job.event.value}"
        return address, Notice(
            key=key, event=job.event, reference=case.reference, category=category, text=text, link=link
        )

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
                if done.rowcount:
                    await add_event(
                        conn, job.case_id, now, EventKind.DELIVERED, SYSTEM, {**data, "channel": channel}
                    )
                log.info("delivered outbox %d via %s", job.id, channel)
                return
            attempts = job.attempts + 1
            if result.status == DeliveryStatus.RETRY and attempts < self.retry.max_attempts:
                await conn.execute(
                    update(outbox)
                    .where(mine)
                    .values(
                        attempts=attempts,
                        next_attempt_at=now + self.retry.delay(attempts, self._rng),
                        claimed_until=None,
                        last_error=result.detail[:200],
                        channel=channel,
                    )
                )
                log.info("outbox %d attempt %d failed (%s); will retry", job.id, attempts, result.detail)
                return
            final = "undeliverable" if result.status == DeliveryStatus.UNDELIVERABLE else "failed"
            done = await conn.execute(
                update(outbox)
                .where(mine)
                .values(
                    status=final,
                    attempts=attempts,
                    claimed_until=None,
                    last_error=result.detail[:200],
                    channel=channel,
                )
            )
            if not done.rowcount:
                return
            kind = EventKind.UNDELIVERABLE if final == "undeliverable" else EventKind.DELIVERY_FAILED
            await add_event(
                conn,
                job.case_id,
                now,
                kind,
                SYSTEM,
                {**data, "channel": channel, "error": result.detail[:200]},
            )
            log.warning("outbox %d %s (%s)", job.id, final, result.detail)
            if job.recipient != REPORTER:
                await self._next_in_line(conn, job, why=f"a notice could not be delivered ({final})")

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
