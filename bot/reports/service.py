"""The case service: submit (idempotent), read (recorded), acknowledge, note, decide, close, list, escalate.

Everything a case needs in one transaction: the case, its chronology and its outbox notices commit together,
so the reporter's reference is only ever shown for a saved case, and a notice is never lost nor sent for one
that was not saved. Only routed recipients and case administrators may read or act on a case; a refusal reads
exactly like a case that does not exist, and is itself recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock, SystemClock
from bot.errors import InputError, NotFound, StorageUnavailable
from bot.reports.casefile import (
    SYSTEM,
    add_event,
    add_recipient,
    enqueue,
    new_reference,
    normalise_reference,
    subject_hash,
    tell_administrators,
)
from bot.reports.directory import Directory, Person
from bot.reports.escalation import Escalation
from bot.reports.model import (
    CaseStatus,
    CaseSummary,
    CaseView,
    Category,
    EventKind,
    Receipt,
    Reporter,
    ReportStatus,
    Submission,
)
from bot.reports.notify import REPORTER, NoticeEvent
from bot.reports.routing import Route, RoutingInput, public_reason, route, went_to
from bot.reports.subjects import possible_subjects
from bot.reports.validate import clean_submission, required_text
from bot.reports.views import not_about, possible_subject_flag, possibly_about, read_case, seal
from bot.storage.database import Database
from bot.storage.schema import case_recipients, cases

__all__ = ["NOT_SAVED", "CaseService"]

log = logging.getLogger(__name__)

NOT_SAVED = (
    "Your report was NOT saved: policybot cannot reach its database right now. Please try again in a few "
    "minutes, or contact the Designated Safeguarding Lead directly."
)


class CaseService:
    """Cases for one organisation. Actors are directory ``Person``s; reporters are ``Reporter`` identities."""

    def __init__(self, db: Database, directory: Directory, *, clock: Clock | None = None) -> None:
        self.db = db
        self.directory = directory
        self.clock = clock or SystemClock()
        self.escalation = Escalation(db, directory, self.clock)

    # --- reporters --------------------------------------------------------------------------------------
    async def submit(self, submission: Submission, reporter: Reporter, *, idempotency_key: str) -> Receipt:
        """File a report. The same ``idempotency_key`` from the same reporter returns the first case again."""
        clean = clean_submission(submission, reporter, self.directory)
        if not idempotency_key.strip():
            raise InputError("A submission key is required to make retries safe.", field="idempotency_key")
        idem = self.db.keys.hash("idempotency", reporter.key, idempotency_key)
        named = possible_subjects(clean.description, clean.subject_text, self.directory, reporter.person_id)
        routed = route(
            RoutingInput(
                category=clean.category,
                reporter_person_id=reporter.person_id,
                subject_person_id=clean.subject_person_id,
                concerns_children=clean.concerns_children,
                tell_hr=clean.tell_hr,
                possible_subjects=frozenset(p.person_id for p in named),
                named_staff_subject=any(p.in_who_field for p in named),
            ),
            self.directory,
        )
        details = {
            "description": clean.description,
            "where": clean.where,
            "when": clean.when,
            "subject_person_id": clean.subject_person_id,
            "subject_text": clean.subject_text,
            "evidence": list(clean.evidence),
            "concerns_children": clean.concerns_children,
            "tell_hr": clean.tell_hr,
            "possible_subjects": [{"person_id": p.person_id, "why": p.why} for p in named],
        }
        try:
            for _ in range(5):
                try:
                    return await self._insert_case(
                        clean.category, clean.consent_to_name, details, reporter, idem, routed
                    )
                except IntegrityError:
                    continue  # the key committed concurrently (found next time), or a reference collided
        except StorageUnavailable as exc:
            raise StorageUnavailable(NOT_SAVED) from exc
        raise StorageUnavailable(NOT_SAVED)

    async def _existing(self, conn: AsyncConnection, idem: str) -> Receipt | None:
        row = (await conn.execute(select(cases).where(cases.c.idempotency_hash == idem))).one_or_none()
        if row is None:
            return None
        found = await conn.execute(select(case_recipients.c.id).where(case_recipients.c.case_id == row.id))
        return Receipt(row.reference, Category(row.category), recipients=len(found.all()), created=False)

    async def _insert_case(
        self,
        category: Category,
        consent: bool,
        details: dict[str, Any],
        reporter: Reporter,
        idem: str,
        routed: Route,
    ) -> Receipt:
        """Insert the case, its chronology and its notices in one transaction (unless the key was seen)."""
        now = self.clock.now()
        keys = self.db.keys
        reference = new_reference()
        async with self.db.transaction() as conn:
            existing = await self._existing(conn, idem)
            if existing is not None:
                return existing
            case_id = (
                await conn.execute(
                    insert(cases)
                    .values(
                        reference=reference,
                        idempotency_hash=idem,
                        category=category.value,
                        status=CaseStatus.OPEN.value,
                        created_at=now,
                        updated_at=now,
                        ack_due_at=self.directory.ack_due(category, now),
                        escalation_level=0,
                        escalation_chain=[
                            {"person_id": r.person_id, "reason": public_reason(r)} for r in routed.escalation
                        ],
                        reporter_hash=keys.hash("reporter", reporter.key),
                        subject_hash=subject_hash(keys, details["subject_person_id"]),
                        reporter_enc=keys.encrypt(json.dumps(reporter.to_json())),
                        details_enc=keys.encrypt(json.dumps(details)),
                        consent_to_name=consent,
                    )
                    .returning(cases.c.id)
                )
            ).scalar_one()
            await add_event(conn, case_id, now, EventKind.CREATED, "reporter", {"rule": routed.rule})
            if flag := possible_subject_flag(details, keys):  # for a case administrator to confirm
                await add_event(conn, case_id, now, EventKind.POSSIBLE_SUBJECT, SYSTEM, *flag)
            for recipient in routed.recipients:
                await add_recipient(conn, case_id, recipient, now, NoticeEvent.NEW_CASE, keys=keys)
            # The reporter's confirmation (their reference) goes through the outbox too: never lost.
            await enqueue(conn, case_id, REPORTER, NoticeEvent.RECEIVED, now)
            if not routed.recipients:
                # Saved all the same (never lost): administrators see every case and are told. Loud in the logs.
                log.error("case %s: routing found nobody eligible; check the directory's fallback", reference)
                await add_event(
                    conn, case_id, now, EventKind.ESCALATION_EXHAUSTED, SYSTEM, {"why": "nobody eligible"}
                )
                await tell_administrators(
                    conn,
                    case_id,
                    not_about(self.directory.case_administrators, details),
                    keys,
                    NoticeEvent.CHAIN_EXHAUSTED,
                    now,
                )
        log.info("case %s created (%s), %d recipient(s)", reference, category.value, len(routed.recipients))
        return Receipt(
            reference=reference,
            category=category,
            recipients=len(routed.recipients),
            created=True,
            went_to=went_to(routed, self.directory),
        )

    async def my_reports(self, reporter: Reporter) -> list[ReportStatus]:
        """The reporter's own reports, newest first (status only: reporters never see the case file)."""
        reporter_hash = self.db.keys.hash("reporter", reporter.key)
        async with self.db.transaction() as conn:
            rows = (
                await conn.execute(
                    select(cases)
                    .where(cases.c.reporter_hash == reporter_hash)
                    .order_by(cases.c.created_at.desc())
                )
            ).all()
        return [
            ReportStatus(
                reference=r.reference,
                category=Category(r.category),
                status=CaseStatus(r.status),
                created_at=r.created_at,
                acknowledged=r.acknowledged_at is not None,
            )
            for r in rows
        ]

    # --- recipients and administrators --------------------------------------------------------------------
    async def cases_for(self, actor: Person, *, include_closed: bool = False) -> list[CaseSummary]:
        """Cases routed to ``actor`` (every case, for a case administrator), oldest deadline first."""
        query = select(cases).where(cases.c.status != CaseStatus.ANONYMISED.value)
        if not include_closed:
            query = query.where(cases.c.status != CaseStatus.CLOSED.value)
        if not self.directory.is_admin(actor.id):
            mine = select(case_recipients.c.case_id).where(case_recipients.c.person_id == actor.id)
            query = query.where(cases.c.id.in_(mine))
        own = subject_hash(self.db.keys, actor.id)
        query = query.where(or_(cases.c.subject_hash.is_(None), cases.c.subject_hash != own))
        async with self.db.transaction() as conn:
            rows = (await conn.execute(query.order_by(cases.c.created_at))).all()
        rows = [r for r in rows if not possibly_about(r, self.db.keys, actor.id)]
        return [
            CaseSummary(
                reference=r.reference,
                category=Category(r.category),
                status=CaseStatus(r.status),
                created_at=r.created_at,
                ack_due_at=r.ack_due_at,
                acknowledged=r.acknowledged_at is not None,
            )
            for r in rows
        ]

    async def show(self, reference: str, actor: Person) -> CaseView:
        """The whole case for a recipient or administrator; the read is written to the chronology first."""
        async with self._open_case(reference, actor) as (conn, row):
            await add_event(conn, row.id, self.clock.now(), EventKind.READ, actor.id, {})
            return await read_case(conn, row, self.db.keys)

    async def acknowledge(self, reference: str, actor: Person) -> bool:
        """``actor`` has it in hand. The first acknowledgement stops escalation and tells the reporter.

        Returns False when ``actor`` had already acknowledged (nothing changes)."""
        now = self.clock.now()
        async with self._open_case(reference, actor, for_update=True) as (conn, row):
            if row.status == CaseStatus.CLOSED.value:
                raise InputError(f"{row.reference} is closed.", field="reference")
            result = await conn.execute(
                update(case_recipients)
                .where(
                    case_recipients.c.case_id == row.id,
                    case_recipients.c.person_id == actor.id,
                    case_recipients.c.acknowledged_at.is_(None),
                )
                .values(acknowledged_at=now)
            )
            mine = await conn.execute(
                select(case_recipients.c.id).where(
                    case_recipients.c.case_id == row.id, case_recipients.c.person_id == actor.id
                )
            )
            is_recipient = mine.first() is not None
            if is_recipient and result.rowcount == 0:
                return False
            if not is_recipient and row.acknowledged_at is not None:
                return False
            await add_event(conn, row.id, now, EventKind.ACKNOWLEDGED, actor.id, {})
            if row.acknowledged_at is None:
                await conn.execute(
                    update(cases)
                    .where(cases.c.id == row.id)
                    .values(
                        status=CaseStatus.ACKNOWLEDGED.value,
                        acknowledged_at=now,
                        ack_due_at=None,
                        updated_at=now,
                    )
                )
                await enqueue(conn, row.id, REPORTER, NoticeEvent.ACKNOWLEDGED, now, data={"by": actor.id})
        return True

    async def add_note(self, reference: str, actor: Person, text: str) -> None:
        note = required_text(text, field="note", what="the note")
        async with self._open_case(reference, actor) as (conn, row):
            await add_event(
                conn, row.id, self.clock.now(), EventKind.NOTE, actor.id, {}, seal(self.db.keys, note)
            )

    async def record_decision(self, reference: str, actor: Person, action: str, reason: str) -> None:
        """An action or decision and the reason for it (KCSIE: every decision and reason in writing)."""
        what = required_text(action, field="action", what="the action or decision", limit=2_000)
        why = required_text(reason, field="reason", what="the reason")
        async with self._open_case(reference, actor) as (conn, row):
            await add_event(
                conn,
                row.id,
                self.clock.now(),
                EventKind.DECISION,
                actor.id,
                {},
                seal(self.db.keys, what, why),
            )

    async def close(self, reference: str, actor: Person, outcome: str) -> None:
        """Close with an outcome; from now the retention clock runs."""
        text = required_text(outcome, field="outcome", what="the outcome")
        now = self.clock.now()
        async with self._open_case(reference, actor, for_update=True) as (conn, row):
            if row.status == CaseStatus.CLOSED.value:
                raise InputError(f"{row.reference} is already closed.", field="reference")
            await conn.execute(
                update(cases)
                .where(cases.c.id == row.id)
                .values(
                    status=CaseStatus.CLOSED.value,
                    closed_at=now,
                    ack_due_at=None,
                    updated_at=now,
                    outcome_enc=self.db.keys.encrypt(text),
                )
            )
            await add_event(conn, row.id, now, EventKind.CLOSED, actor.id, {}, seal(self.db.keys, text))

    # --- access ---------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def _open_case(
        self, reference: str, actor: Person, *, for_update: bool = False
    ) -> AsyncIterator[tuple[AsyncConnection, Row[Any]]]:
        """The case row in a transaction if ``actor`` may see it; else NotFound, worded alike either way."""
        ref = normalise_reference(reference)
        try:
            async with self.db.transaction() as conn:
                query = select(cases).where(
                    cases.c.reference == ref, cases.c.status != CaseStatus.ANONYMISED.value
                )
                if for_update and conn.dialect.name == "postgresql":
                    query = query.with_for_update()
                row = (await conn.execute(query)).one_or_none()
                if row is None:
                    raise NotFound(_no_case(ref))
                if not await self._may_open(conn, row, actor):
                    raise _Refused(row.id)
                yield conn, row
        except _Refused as refused:
            log.info("access to %s refused for %s", ref, actor.id)
            async with self.db.transaction() as conn:
                await add_event(
                    conn, refused.case_id, self.clock.now(), EventKind.ACCESS_REFUSED, actor.id, {}
                )
            raise NotFound(_no_case(ref)) from None

    async def _may_open(self, conn: AsyncConnection, row: Row[Any], actor: Person) -> bool:
        """Routed recipients and administrators; never the person the case is about."""
        if row.subject_hash is not None and row.subject_hash == subject_hash(self.db.keys, actor.id):
            return False
        if possibly_about(row, self.db.keys, actor.id):
            return False
        if self.directory.is_admin(actor.id):
            return True
        found = await conn.execute(
            select(case_recipients.c.id).where(
                case_recipients.c.case_id == row.id, case_recipients.c.person_id == actor.id
            )
        )
        return found.first() is not None

    # --- escalation ---------------------------------------------------------------------------------------
    async def escalate_due(self) -> list[str]:
        """Pass every overdue case to the next in line (the worker calls this on every pass)."""
        return await self.escalation.escalate_due()


class _Refused(Exception):
    def __init__(self, case_id: int) -> None:
        super().__init__(case_id)
        self.case_id = case_id


def _no_case(reference: str) -> str:
    return f"There is no case {reference} that you can open."
