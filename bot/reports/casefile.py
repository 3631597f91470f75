"""Low-level writes to a case file shared by the service, escalation and the worker: references, chronology
entries, recipients and outbox rows. Each runs inside the caller's transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.reports.model import EventKind
from bot.reports.notify import NoticeEvent
from bot.reports.routing import Routed
from bot.reports.views import possibly_about, stored_reason
from bot.storage.crypto import Keys
from bot.storage.schema import case_events, case_recipients, cases, outbox

__all__ = [
    "SYSTEM",
    "add_event",
    "add_recipient",
    "enqueue",
    "new_reference",
    "normalise_reference",
    "subject_hash",
    "tell_administrators",
]

#: The actor of entries policybot itself writes.
SYSTEM = "system"
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_reference() -> str:
    """``R-XXXX-XXXX``: 40 random bits, easy to read aloud, impossible to guess."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"R-{chars[:4]}-{chars[4:]}"


def normalise_reference(text: str) -> str:
    """Accept what people type: any case, O for 0, I or L for 1, with or without the R- prefix."""
    ref = text.strip().upper()
    ref = ref[2:] if ref.startswith("R-") else ref
    return "R-" + ref.replace("O", "0").replace("I", "1").replace("L", "1")


def subject_hash(keys: Keys, person_id: str | None) -> str | None:
    """Keyed hash of who a case is about: lets queries keep people out of cases about themselves."""
    return keys.hash("subject", person_id) if person_id else None


async def add_event(
    conn: AsyncConnection,
    case_id: int,
    at: datetime,
    kind: EventKind,
    actor: str,
    data: dict[str, Any],
    text_enc: str | None = None,
) -> None:
    """Append to the chronology (there is no update or delete of entries, except by retention)."""
    await conn.execute(
        insert(case_events).values(
            case_id=case_id, at=at, kind=kind.value, actor=actor, data=data, text_enc=text_enc
        )
    )


async def enqueue(
    conn: AsyncConnection,
    case_id: int,
    recipient: str,
    event: NoticeEvent,
    now: datetime,
    *,
    data: dict[str, Any] | None = None,
    due: datetime | None = None,
) -> None:
    """One outbox row per (case, recipient, event); the unique constraint makes a second one impossible.

    ``due`` (default ``now``) holds the first attempt back, e.g. while the channel answers in person."""
    exists = (
        await conn.execute(
            select(outbox.c.id).where(
                outbox.c.case_id == case_id, outbox.c.recipient == recipient, outbox.c.event == event.value
            )
        )
    ).first()
    if exists is not None:
        return
    await conn.execute(
        insert(outbox).values(
            case_id=case_id,
            recipient=recipient,
            event=event.value,
            status="pending",
            attempts=0,
            next_attempt_at=due or now,
            created_at=now,
        )
    )
    notified = {"recipient": recipient, "event": event.value, **(data or {})}
    await add_event(conn, case_id, now, EventKind.NOTIFIED, SYSTEM, notified)


async def add_recipient(
    conn: AsyncConnection,
    case_id: int,
    recipient: Routed,
    now: datetime,
    event: NoticeEvent,
    *,
    keys: Keys | None = None,
) -> None:
    """Route the case to one more person: recipient row, chronology entry, notice in the outbox. With ``keys``
    the reason is stored in clear only as the role, the whole reason sealed (``views.stored_reason``)."""
    reason, sealed = stored_reason(recipient, keys)
    await conn.execute(
        insert(case_recipients).values(
            case_id=case_id,
            person_id=recipient.person_id,
            reason=reason[:200],
            routed_at=now,
            undeliverable=False,
        )
    )
    kind = EventKind.ROUTED if event == NoticeEvent.NEW_CASE else EventKind.ESCALATED
    await add_event(
        conn, case_id, now, kind, SYSTEM, {"person_id": recipient.person_id, "reason": reason}, sealed
    )
    await enqueue(conn, case_id, recipient.person_id, event, now)


async def tell_administrators(
    conn: AsyncConnection,
    case_id: int,
    administrators: Iterable[str],
    keys: Keys,
    event: NoticeEvent,
    now: datetime,
    *,
    data: dict[str, Any] | None = None,
) -> None:
    """A notice to every case administrator (once per case and event: the outbox's unique key), except one
    the case is or may be about: even a bland notice would tell them that a concern exists."""
    row = (await conn.execute(select(cases).where(cases.c.id == case_id))).one_or_none()
    if row is None:
        return
    for person_id in administrators:
        if row.subject_hash is not None and row.subject_hash == subject_hash(keys, person_id):
            continue
        if possibly_about(row, keys, person_id):
            continue
        await enqueue(conn, case_id, person_id, event, now, data=data)
