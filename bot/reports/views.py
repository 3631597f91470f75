"""Reading a case back: its details, recipients and chronology decrypted into a ``CaseView``, and the sealing of
a chronology entry's free text (encrypted like the report).

What could identify the subject is sealed too: a routing reason ("deputy_dsl (instead of dsl, who is the
subject of the report)") is stored in clear only as the role it was routed for, with the whole reason sealed
in its chronology entry and shown, decrypted, on the dashboard; the people a report's words may name as its
subject are kept in the encrypted details and a sealed chronology entry."""

from __future__ import annotations

import json
from collections.abc import Iterable
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
from bot.reports.routing import Routed, public_reason
from bot.storage.crypto import Keys
from bot.storage.schema import case_events, case_recipients

__all__ = [
    "chronology_entry",
    "not_about",
    "possible_subject_flag",
    "possibly_about",
    "read_case",
    "seal",
    "seal_data",
    "stored_reason",
]


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
    chronology = tuple(chronology_entry(e, keys) for e in events)
    reasons = {
        str(e.data["person_id"]): str(e.data["reason"])
        for e in chronology
        if e.kind in (EventKind.ROUTED, EventKind.ESCALATED) and "person_id" in e.data and "reason" in e.data
    }
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
            RecipientView(
                r.person_id,
                reasons.get(r.person_id, r.reason),
                r.routed_at,
                r.acknowledged_at,
                r.undeliverable,
            )
            for r in recipients
        ),
        chronology=chronology,
        possible_subjects=tuple(
            (str(p["person_id"]), str(p["why"])) for p in details.get("possible_subjects", ())
        ),
    )


def possibly_about(row: Row[Any], keys: Keys, person_id: str) -> bool:
    """Do the report's words (kept in its encrypted details) name ``person_id`` as a possible subject?"""
    if not row.details_enc:
        return False
    details = json.loads(keys.decrypt(row.details_enc))
    return any(p.get("person_id") == person_id for p in details.get("possible_subjects", ()))


def seal_data(keys: Keys, data: dict[str, Any], text: str | None = None) -> str:
    """Chronology data that could identify someone, encrypted; merged back into the entry's data on reading."""
    return keys.encrypt(json.dumps({"text": text, "reason": None, "data": data}))


def stored_reason(routed: Routed, keys: Keys | None) -> tuple[str, str | None]:
    """(the reason stored in clear, the whole reason sealed for the chronology). Without keys (a reason
    already in clear, e.g. from an escalation chain) the reason is stored as it is."""
    if keys is None:
        return routed.reason, None
    return public_reason(routed), seal_data(keys, {"reason": routed.reason})


def seal(keys: Keys, text: str, reason: str | None = None) -> str:
    """A chronology entry's free text (and the reason given), encrypted like the report itself."""
    return keys.encrypt(json.dumps({"text": text, "reason": reason}))


def chronology_entry(row: Row[Any], keys: Keys) -> ChronologyEntry:
    sealed = json.loads(keys.decrypt(row.text_enc)) if row.text_enc else {}
    return ChronologyEntry(
        at=row.at,
        kind=EventKind(row.kind),
        actor=row.actor,
        data={**(row.data or {}), **(sealed.get("data") or {})},
        text=sealed.get("text"),
        reason=sealed.get("reason"),
    )


def possible_subject_flag(details: dict[str, Any], keys: Keys) -> tuple[dict[str, Any], str] | None:
    """The chronology entry flagging who the report's words may name: (data in clear, sealed), or None."""
    named = details.get("possible_subjects") or []
    if not named:
        return None
    text = (
        f"The report's words may name {len(named)} person(s) as its subject; they were kept from the case and "
        "its notices. A case administrator should confirm who it is about."
    )
    return {"count": len(named)}, seal_data(keys, {"possible_subjects": named}, text)


def not_about(people: Iterable[str], details: dict[str, Any]) -> list[str]:
    """``people`` without anyone the case is, or may be, about (from its details)."""
    about = {details.get("subject_person_id")} | {
        p["person_id"] for p in details.get("possible_subjects") or []
    }
    return [p for p in people if p not in about]
