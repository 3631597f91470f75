"""Retention: closed cases older than the configured period are deleted or anonymised (default six years).

Anonymising keeps only what statistics need (reference, category, dates) and drops every piece of text, the
reporter's identity, the recipients, the chronology and the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import delete, select, update

from bot.clock import Clock
from bot.reports.model import CaseStatus
from bot.storage.database import Database
from bot.storage.schema import case_events, case_recipients, cases, outbox

__all__ = ["PurgeResult", "purge_closed"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    references: tuple[str, ...]
    mode: str
    dry_run: bool


async def purge_closed(
    db: Database,
    clock: Clock,
    *,
    retention_days: int,
    mode: Literal["delete", "anonymise"] = "anonymise",
    dry_run: bool = False,
) -> PurgeResult:
    """Purge cases closed more than ``retention_days`` ago; ``dry_run`` only lists them."""
    cutoff = clock.now() - timedelta(days=retention_days)
    async with db.transaction() as conn:
        rows = (
            await conn.execute(
                select(cases.c.id, cases.c.reference).where(
                    cases.c.status == CaseStatus.CLOSED.value, cases.c.closed_at < cutoff
                )
            )
        ).all()
        ids = [r.id for r in rows]
        if ids and not dry_run:
            for table in (case_events, case_recipients, outbox):
                await conn.execute(delete(table).where(table.c.case_id.in_(ids)))
            if mode == "delete":
                await conn.execute(delete(cases).where(cases.c.id.in_(ids)))
            else:
                await conn.execute(
                    update(cases)
                    .where(cases.c.id.in_(ids))
                    .values(
                        status=CaseStatus.ANONYMISED.value,
                        details_enc=None,
                        reporter_enc=None,
                        reporter_hash=None,
                        outcome_enc=None,
                        escalation_chain=[],
                        updated_at=clock.now(),
                    )
                )
    if ids and not dry_run:
        log.info("retention: %s %d closed case(s)", "deleted" if mode == "delete" else "anonymised", len(ids))
    return PurgeResult(tuple(r.reference for r in rows), mode, dry_run)
