"""Escalation: a case nobody acknowledged in time (or whose notice could not be delivered) goes to the next
person in its escalation chain, fixed at routing time (never the subject), then stops, saying so: in the
chronology, and by a notice to every case administrator (nothing is left waiting on nobody)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.reports.casefile import SYSTEM, add_event, add_recipient, tell_administrators
from bot.reports.directory import Directory
from bot.reports.model import CaseStatus, Category, EventKind
from bot.reports.notify import NoticeEvent
from bot.reports.routing import Routed
from bot.storage.database import Database
from bot.storage.schema import case_recipients, cases

__all__ = ["Escalation"]

log = logging.getLogger(__name__)


class Escalation:
    def __init__(self, db: Database, directory: Directory, clock: Clock) -> None:
        self.db = db
        self.directory = directory
        self.clock = clock

    async def escalate_due(self) -> list[str]:
        """Pass every case whose acknowledgement deadline has passed to the next person in line."""
        now = self.clock.now()
        query = (
            select(cases)
            .where(
                cases.c.status == CaseStatus.OPEN.value,
                cases.c.ack_due_at.is_not(None),
                cases.c.ack_due_at <= now,
            )
            .order_by(cases.c.ack_due_at)
            .limit(50)
        )
        escalated: list[str] = []
        async with self.db.transaction() as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(
                    skip_locked=True
                )  # replicas split the overdue cases between them
            for row in (await conn.execute(query)).all():
                deadline = self.directory.deadline_for(Category(row.category))
                await self.advance(conn, row, why=f"not acknowledged within {deadline}")
                escalated.append(row.reference)
        return escalated

    async def advance(self, conn: AsyncConnection, row: Row[Any], *, why: str) -> str | None:
        """Add the next person in the chain not already on the case; None (and a record) when exhausted."""
        now = self.clock.now()
        already = set(
            (
                await conn.execute(
                    select(case_recipients.c.person_id).where(case_recipients.c.case_id == row.id)
                )
            ).scalars()
        )
        chain: Sequence[dict[str, str]] = row.escalation_chain or []
        level = row.escalation_level
        while level < len(chain):
            candidate = chain[level]
            level += 1
            if candidate["person_id"] in already or self.directory.person(candidate["person_id"]) is None:
                continue
            routed = Routed(candidate["person_id"], f"{candidate['reason']}; escalated: {why}")
            await add_recipient(conn, row.id, routed, now, NoticeEvent.ESCALATED)
            due = (
                self.directory.ack_due(Category(row.category), now)
                if row.status == CaseStatus.OPEN.value
                else None
            )
            await conn.execute(
                update(cases)
                .where(cases.c.id == row.id)
                .values(escalation_level=level, ack_due_at=due, updated_at=now)
            )
            log.info("case %s escalated to %s", row.reference, candidate["person_id"])
            return str(candidate["person_id"])
        await conn.execute(
            update(cases)
            .where(cases.c.id == row.id)
            .values(escalation_level=level, ack_due_at=None, updated_at=now)
        )
        await add_event(conn, row.id, now, EventKind.ESCALATION_EXHAUSTED, SYSTEM, {"why": why})
        await tell_administrators(
            conn, row.id, self.directory.case_administrators, self.db.keys, NoticeEvent.CHAIN_EXHAUSTED, now
        )
        log.warning("case %s: nobody left to escalate to", row.reference)
        return None
