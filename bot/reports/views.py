"""Reading a case back: its details, recipients and chronology decrypted into a ``CaseView``, and the sealing of
a chronology entry's free text (encrypted like the report)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.reports.model import (
    CaseStatus,
    CaseView,
    Category,
    ChronologyEntry,
    EventKind,
    RecipientView,
    Reporter,
)
from bot.storage.crypto import Keys
from bot.storage.schema import case_events, case_recipients

__all__ = ["chronology_entry", "read_case", "seal"]


async def read_case(conn: AsyncConnection, row: Row[Any], keys: Keys) -> CaseView:
    """The case as its readers see it: details, recipients and chronology, decrypted."""
    details = json.loads(keys.decrypt(row.details_enc)) if row.details_enc else {}
    reporter = Reporter.from_json(json.loads(keys.decrypt(row.reporter_enc))) if row.reporter_enc else None
    recipients = (
        await conn.execute(
            select(case_recipients).where(case_recipients.c.case_id == row.id).order_by(case_recipients.c.id)
        )
    ).all()
    events = (
        await conn.execute(
            select(case_events).where(case_events.c.case_id == row.id).order_by(case_events.c.id)
        )
    ).all()
    return CaseView(
        reference=row.reference,
        category=Category(row.category),
        status=CaseStatus(row.status),
        created_at=row.created_at,
        acknowledged_at=row.acknowledged_at,
        ack_due_at=row.ack_due_at,
        closed_at=row.closed_at,
        description=details.get("description", ""),
        where=details.get("where", ""),
        when=details.get("when", ""),
        subject_person_id=details.get("subject_person_id"),
        subject_text=details.get("subject_text", ""),
        evidence=tuple(details.get("evidence", ())),
        concerns_children=bool(details.get("concerns_children")),
        consent_to_name=row.consent_to_name,
        reporter=reporter if row.consent_to_name else None,
        outcome=keys.decrypt_opt(row.outcome_enc),
        recipients=tuple(
            RecipientView(r.person_id, r.reason, r.routed_at, r.acknowledged_at, r.undeliverable)
            for r in recipients
        ),
        chronology=tuple(chronology_entry(e, keys) for e in events),
    )


def seal(keys: Keys, text: str, reason: str | None = None) -> str:
    """A chronology entry's free text (and the reason given), encrypted like the report itself."""
    return keys.encrypt(json.dumps({"text": text, "reason": reason}))


def chronology_entry(row: Row[Any], keys: Keys) -> ChronologyEntry:
    sealed = json.loads(keys.decrypt(row.text_enc)) if row.text_enc else {}
    return ChronologyEntry(
        at=row.at,
        kind=EventKind(row.kind),
        actor=row.actor,
        data=dict(row.data or {}),
        text=sealed.get("text"),
        reason=sealed.get("reason"),
    )
