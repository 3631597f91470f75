"""The case service on SQLite and PostgreSQL: submit, idempotency, validation, access, reads recorded,
acknowledgement, notes, decisions, closing, "my reports", escalation with a fake clock, undeliverable notices,
retention, and no plaintext anywhere in the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fakes_reports import FakeClock, ScriptedNotifier
from sqlalchemy import func, select, text

from bot.config import Settings
from bot.domain import Channel
from bot.errors import InputError, NotFound, TooLong
from bot.reports import (
    CaseStatus,
    EventKind,
    Reporter,
    Reports,
    Submission,
    open_reports,
)
from bot.reports.notify import ConsoleNotifier
from bot.storage.schema import case_events, cases, metadata, outbox

SAM = Reporter(Channel.SLACK, "U0SAM0001", "sam.patel")
OUTSIDER = Reporter(Channel.TEAMS, "0f8e7d6c-aaaa-bbbb-cccc-000000000001")


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def reports(settings: Settings, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Reports]:
    notifiers: list[Any] = [ConsoleNotifier(tmp_path / "notices.log", clock=clock)]
    opened = await open_reports(settings, clock=clock, notifiers=notifiers)
    yield opened
    await opened.close()


def person(reports: Reports, pid: str) -> Any:
    found = reports.directory.person(pid)
    assert found is not None
    return found


async def count(reports: Reports, table: Any, *where: Any) -> int:
    async with reports.db.transaction() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


def abuse(**kw: Any) -> Submission:
    fields: dict[str, Any] = {"category": "online_abuse", "description": "Abusive replies under my post."}
    fields.update(kw)
    return Submission(**fields)


async def kinds(reports: Reports, reference: str) -> list[str]:
    view = await reports.service.show(reference, person(reports, "priya.shah"))  # an administrator
    return [e.kind.value for e in view.chronology]


async def test_submit_commits_case_chronology_and_notices_together(reports: Reports) -> None:
    receipt = await reports.service.submit(abuse(tell_hr=True), SAM, idempotency_key="k1")
    assert receipt.created and receipt.recipients == 3
    assert receipt.reference.startswith("R-") and len(receipt.reference) == 11
    view = await reports.service.show(receipt.reference, person(reports, "jo.evans"))
    assert view.description == "Abusive replies under my post."
    assert [r.person_id for r in view.recipients] == ["jo.evans", "helen.ward", "marcus.bell"]
    assert [e.kind for e in view.chronology][:3] == [EventKind.CREATED, EventKind.ROUTED, EventKind.NOTIFIED]
    assert view.chronology[-1].kind == EventKind.READ and view.chronology[-1].actor == "jo.evans"
    assert view.reporter is None  # did not agree to be named
    assert await count(reports, outbox) == 4  # three recipients and the reporter's confirmation
    assert await count(reports, outbox, outbox.c.recipient == "reporter", outbox.c.event == "received") == 1


async def test_same_idempotency_key_files_one_case(reports: Reports) -> None:
    first = await reports.service.submit(abuse(), SAM, idempotency_key="form-123")
    again = await reports.service.submit(abuse(), SAM, idempotency_key="form-123")
    assert again.reference == first.reference and not again.created
    racing = await asyncio.gather(
        *(reports.service.submit(abuse(), SAM, idempotency_key="form-456") for _ in range(5))
    )
    assert len({r.reference for r in racing}) == 1 and sum(r.created for r in racing) == 1
    other = await reports.service.submit(
        abuse(), OUTSIDER, idempotency_key="form-123"
    )  # keys are per reporter
    assert other.reference != first.reference
    assert await count(reports, cases) == 3


@pytest.mark.parametrize(
    ("submission", "reporter", "field", "words"),
    [
        (abuse(description="   "), SAM, "description", "cannot be empty"),
        (abuse(description="x" * 10_001), SAM, "description", "the limit is 10,000"),
        (abuse(category="cyberbullying"), SAM, "category", 'Unknown category "cyberbullying"'),
        (abuse(subject_person_id="sam.patell"), SAM, "subject_person_id", 'Unknown person "sam.patell"'),
        (
            abuse(),
            Reporter(Channel.LOCAL, "x", "no.such.person"),
            "reporter",
            'Unknown person "no.such.person"',
        ),
        (abuse(evidence=("my phone",)), SAM, "evidence", "http"),
        (abuse(where="w" * 2_001), SAM, "where", "the limit is 2,000"),
        (
            abuse(subject_person_id="sam.patel"),
            SAM,
            "subject_person_id",
            "cannot be about the person making it",
        ),
    ],
)
async def test_bad_input_names_the_field_and_stores_nothing(
    reports: Reports, submission: Submission, reporter: Reporter, field: str, words: str
) -> None:
    with pytest.raises(InputError) as err:
        await reports.service.submit(submission, reporter, idempotency_key="k")
    assert err.value.field == field and words in str(err.value)
    if "limit" in words:
        assert isinstance(err.value, TooLong)
    assert await count(reports, cases) == 0 and await count(reports, case_events) == 0


async def test_a_refusal_does_not_reveal_whether_the_case_exists_and_is_recorded(reports: Reports) -> None:
    receipt = await reports.service.submit(abuse(), SAM, idempotency_key="k")
    ben = person(reports, "ben.taylor")
    with pytest.raises(NotFound) as exists:
        await reports.service.show(receipt.reference, ben)
    with pytest.raises(NotFound) as missing:
        await reports.service.show("R-0000-0000", ben)
    assert str(exists.value).replace(receipt.reference, "REF") == str(missing.value).replace(
        "R-0000-0000", "REF"
    )
    for action in (
        reports.service.acknowledge(receipt.reference, ben),
        reports.service.add_note(receipt.reference, ben, "note"),
        reports.service.record_decision(receipt.reference, ben, "act", "why"),
        reports.service.close(receipt.reference, ben, "done"),
    ):
        with pytest.raises(NotFound):
            await action
    assert await reports.service.cases_for(ben) == []
    view = await reports.service.show(receipt.reference, person(reports, "helen.ward"))  # administrator
    refused = [e for e in view.chronology if e.kind == EventKind.ACCESS_REFUSED]
    assert len(refused) == 5 and {e.actor for e in refused} == {"ben.taylor"}
    notes = [e for e in view.chronology if e.kind == EventKind.NOTE]
    assert notes == []


async def test_every_read_is_recorded(reports: Reports) -> None:
    receipt = await reports.service.submit(abuse(), SAM, idempotency_key="k")
    jo = person(reports, "jo.evans")
    for _ in range(3):
        await reports.service.show(receipt.reference, jo)
    view = await reports.service.show(receipt.reference.lower(), person(reports, "priya.shah"))
    reads = [e.actor for e in view.chronology if e.kind == EventKind.READ]
    assert reads == ["jo.evans"] * 3 + ["priya.shah"]


async def test_an_administrator_never_sees_a_case_about_themselves(reports: Reports) -> None:
    receipt = await reports.service.submit(
        Submission(category="safeguarding", description="About the DSL.", subject_person_id="priya.shah"),
        SAM,
        idempotency_key="k",
    )
    priya = person(reports, "priya.shah")
    with pytest.raises(NotFound):
        await reports.service.show(receipt.reference, priya)
    assert await reports.service.cases_for(priya) == []
    helen = person(reports, "helen.ward")  # the other administrator still can
    assert [c.reference for c in await reports.service.cases_for(helen)] == [receipt.reference]


async def test_acknowledge_note_decide_close(reports: Reports) -> None:
    receipt = await reports.service.submit(abuse(consent_to_name=True), SAM, idempotency_key="k")
    jo = person(reports, "jo.evans")
    assert await reports.service.acknowledge(receipt.reference, jo)
    assert not await reports.service.acknowledge(receipt.reference, jo)
    await reports.service.add_note(receipt.reference, jo, "Spoke to Sam.")
    with pytest.raises(InputError) as err:
        await reports.service.record_decision(receipt.reference, jo, "Report to the platform", " ")
    assert err.value.field == "reason"
    await reports.service.record_decision(
        receipt.reference, jo, "Report to the platform", "Policy Appendix 1"
    )
    await reports.service.close(receipt.reference, jo, "Posts removed by the platform.")
    with pytest.raises(InputError):
        await reports.service.close(receipt.reference, jo, "again")
    with pytest.raises(InputError):
        await reports.service.acknowledge(receipt.reference, person(reports, "helen.ward"))
    view = await reports.service.show(receipt.reference, jo)
    assert view.status == CaseStatus.CLOSED and view.outcome == "Posts removed by the platform."
    assert view.reporter == SAM  # agreed to be named
    decision = next(e for e in view.chronology if e.kind == EventKind.DECISION)
    assert (decision.text, decision.reason, decision.actor) == (
        "Report to the platform",
        "Policy Appendix 1",
        "jo.evans",
    )
    assert next(e for e in view.chronology if e.kind == EventKind.NOTE).text == "Spoke to Sam."
    assert await count(reports, outbox, outbox.c.recipient == "reporter") == 2  # received, acknowledged
    assert await reports.service.cases_for(jo) == []
    assert len(await reports.service.cases_for(jo, include_closed=True)) == 1


async def test_my_reports_by_channel_identity(reports: Reports) -> None:
    a = await reports.service.submit(abuse(), OUTSIDER, idempotency_key="1")
    await reports.service.submit(abuse(), SAM, idempotency_key="2")
    mine = await reports.service.my_reports(OUTSIDER)
    assert [(m.reference, m.acknowledged) for m in mine] == [(a.reference, False)]
    helen = person(reports, "helen.ward")  # reporter outside the directory: HR stands in for the line manager
    await reports.service.acknowledge(a.reference, helen)
    assert (await reports.service.my_reports(OUTSIDER))[0].acknowledged
    # the same person reaching us from another channel is the same reporter when they are in the directory
    same_sam = Reporter(Channel.TEAMS, "teams-id", "sam.patel")
    assert len(await reports.service.my_reports(same_sam)) == 1


async def test_escalation_after_the_deadline(reports: Reports, clock: FakeClock) -> None:
    receipt = await reports.service.submit(
        Submission(category="safeguarding", description="A pupil disclosed something."),
        SAM,
        idempotency_key="k",
    )
    clock.advance(minutes=59)
    assert await reports.service.escalate_due() == []
    clock.advance(minutes=2)
    assert await reports.service.escalate_due() == [receipt.reference]
    amira = person(reports, "amira.okafor")
    view = await reports.service.show(receipt.reference, amira)  # the headteacher is next in line
    escalated = [e for e in view.chronology if e.kind == EventKind.ESCALATED]
    assert [e.data["person_id"] for e in escalated] == ["amira.okafor"]
    assert "not acknowledged within 1 hour(s)" in escalated[0].data["reason"]
    assert await count(reports, outbox, outbox.c.event == "escalated") == 1
    for _ in range(4):
        clock.advance(minutes=61)
        await reports.service.escalate_due()
    view = await reports.service.show(receipt.reference, amira)
    assert [e.data["person_id"] for e in view.chronology if e.kind == EventKind.ESCALATED] == [
        "amira.okafor",
        "helen.ward",
        "marcus.bell",
    ]
    assert [e.kind for e in view.chronology].count(EventKind.ESCALATION_EXHAUSTED) == 1
    assert view.ack_due_at is None


async def test_acknowledged_cases_do_not_escalate(reports: Reports, clock: FakeClock) -> None:
    receipt = await reports.service.submit(abuse(), SAM, idempotency_key="k")
    await reports.service.acknowledge(receipt.reference, person(reports, "jo.evans"))
    clock.advance(days=10)
    assert await reports.service.escalate_due() == []


async def test_undeliverable_notice_moves_the_case_to_the_next_in_line(reports: Reports) -> None:
    slack = ScriptedNotifier("slack", answers={"jo.evans": "undeliverable"})
    reports.notifiers.register(slack)
    receipt = await reports.service.submit(abuse(), SAM, idempotency_key="k")
    await reports.worker.run_once()
    await reports.worker.run_once()
    assert ("jo.evans", f"{receipt.reference}/jo.evans/new_case") in slack.sent
    assert ("helen.ward", f"{receipt.reference}/helen.ward/escalated") in slack.sent
    view = await reports.service.show(receipt.reference, person(reports, "helen.ward"))
    undeliverable = [e for e in view.chronology if e.kind == EventKind.UNDELIVERABLE]
    assert [e.data["recipient"] for e in undeliverable] == ["jo.evans"]
    assert [r.undeliverable for r in view.recipients] == [True, False]
    delivered = [e.data for e in view.chronology if e.kind == EventKind.DELIVERED]
    assert delivered == [
        {"recipient": "reporter", "event": "received", "channel": "slack"},
        {"recipient": "helen.ward", "event": "escalated", "channel": "slack"},
        # the case administrators are told (by the console here: the only channel besides the failing one)
        {"recipient": "priya.shah", "event": "undelivered", "channel": "console"},
        {"recipient": "helen.ward", "event": "undelivered", "channel": "console"},
    ]


async def test_the_reporter_is_told_when_acknowledged_but_not_by_whom(
    reports: Reports, tmp_path: Path
) -> None:
    receipt = await reports.service.submit(abuse(), SAM, idempotency_key="k")
    await reports.service.acknowledge(receipt.reference, person(reports, "jo.evans"))
    await reports.worker.run_once()
    lines = (tmp_path / "notices.log").read_text().splitlines()
    told = [line for line in lines if "to=reporter" in line]
    assert len(told) == 2  # the confirmation of the report, then the acknowledgement
    assert f"key={receipt.reference}/reporter/received Thank you. Your report {receipt.reference}" in told[0]
    assert f"Your report {receipt.reference} has been received and acknowledged." in told[1]
    assert "Jo" not in told[1]
    for line in lines:
        assert "Abusive" not in line and "Sam" not in line


async def test_retention_purges_closed_cases_only_after_the_period(
    reports: Reports, clock: FakeClock
) -> None:
    closed = await reports.service.submit(abuse(), SAM, idempotency_key="1")
    still_open = await reports.service.submit(abuse(), SAM, idempotency_key="2")
    jo = person(reports, "jo.evans")
    await reports.service.close(closed.reference, jo, "Resolved.")
    clock.advance(days=reports.settings.case_retention_days - 1)
    assert (await reports.purge()).references == ()
    clock.advance(days=2)
    dry = await reports.purge(dry_run=True)
    assert dry.references == (closed.reference,) and dry.dry_run
    await reports.service.show(closed.reference, jo)  # still there after a dry run
    assert (await reports.purge()).references == (closed.reference,)
    with pytest.raises(NotFound):
        await reports.service.show(closed.reference, jo)
    async with reports.db.transaction() as conn:
        row = (await conn.execute(select(cases).where(cases.c.reference == closed.reference))).one()
    assert row.status == "anonymised" and row.details_enc is None and row.reporter_enc is None
    assert await count(reports, case_events, case_events.c.case_id == row.id) == 0
    assert (await reports.service.show(still_open.reference, jo)).status == CaseStatus.OPEN
    assert (await reports.purge()).references == ()


async def test_no_plaintext_in_the_database(reports: Reports, settings: Settings) -> None:
    secret_words = {
        "description": "Zanzibar-orchid-description",
        "where": "Quixotic-where-platform",
        "subject_text": "Marmalade-subject-person",
        "evidence": "https://example.org/Xylophone-evidence",
        "note": "Pomegranate-note",
        "action": "Kumquat-action",
        "reason": "Rhubarb-reason",
        "outcome": "Tamarind-outcome",
        "reporter": "U0HIDDENREPORTER",
    }
    reporter = Reporter(Channel.SLACK, secret_words["reporter"])
    receipt = await reports.service.submit(
        abuse(
            description=secret_words["description"],
            where=secret_words["where"],
            subject_text=secret_words["subject_text"],
            evidence=(secret_words["evidence"],),
        ),
        reporter,
        idempotency_key="k",
    )
    helen = person(reports, "helen.ward")
    await reports.service.add_note(receipt.reference, helen, secret_words["note"])
    await reports.service.record_decision(
        receipt.reference, helen, secret_words["action"], secret_words["reason"]
    )
    await reports.service.close(receipt.reference, helen, secret_words["outcome"])
    view = await reports.service.show(receipt.reference, helen)
    assert view.description == secret_words["description"]  # it is there, just not readable without the key
    if reports.db.dialect == "sqlite":
        await reports.db.dispose()
        raw = b"".join(p.read_bytes() for p in settings.var_dir.glob("policybot.db*"))
        haystack = raw.decode("latin-1")
    else:
        parts = []
        async with reports.db.transaction() as conn:
            for table in metadata.tables:
                rows = await conn.execute(text(f"SELECT t::text FROM {table} t"))  # noqa: S608 - our table names
                parts += [r[0] for r in rows]
        haystack = "\n".join(parts)
    assert receipt.reference in haystack  # the search does see the data
    for word in secret_words.values():
        assert word.split("/")[-1] not in haystack, word


async def test_the_worker_runs_retention_hourly(reports: Reports, clock: FakeClock) -> None:
    receipt = await reports.service.submit(abuse(), SAM, idempotency_key="k")
    jo = person(reports, "jo.evans")
    await reports.service.close(receipt.reference, jo, "Resolved.")
    await reports.worker.run_once()
    clock.advance(days=reports.settings.case_retention_days + 1)
    await reports.worker.run_once()
    with pytest.raises(NotFound):
        await reports.service.show(receipt.reference, jo)


async def test_the_reporter_may_be_told_who_acknowledged_when_configured(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    from dataclasses import replace

    from bot.reports import load_directory

    directory = replace(load_directory(settings.directory_file), reveal_acknowledger=True)
    log = tmp_path / "n.log"
    opened = await open_reports(settings, clock=clock, directory=directory, notifiers=[ConsoleNotifier(log)])
    try:
        receipt = await opened.service.submit(abuse(), SAM, idempotency_key="k")
        await opened.service.acknowledge(receipt.reference, person(opened, "jo.evans"))
        await opened.worker.run_once()
    finally:
        await opened.close()
    assert "has been received and acknowledged by Jo Evans." in log.read_text()
