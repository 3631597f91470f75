"""Nothing silently undelivered (SQLite and PostgreSQL, a fake clock): a notice whose fast retries run out keeps
being retried hourly, and at that moment the case goes to the next in line and the case administrators are told
by another channel; a chain that runs out tells them too; the dashboard's banner and the Prometheus gauges
count both. And the reporter's confirmation goes through the outbox: a crash between the commit and any reply
still gets it delivered."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from fakes_reports import FakeClock, ScriptedNotifier
from sqlalchemy import select, text

from bot.channels.services import Services
from bot.channels.web.auth import make_signin_link
from bot.config import Settings
from bot.domain import Channel
from bot.reports import EventKind, Reporter, Reports, Submission, open_reports
from bot.reports.notify import ConsoleNotifier
from bot.reports.outbox import Attention, RetryPolicy, attention
from bot.server.observability import Metrics
from bot.storage.crypto import load_keys
from bot.storage.database import Database, _alembic_config, create_engine
from bot.storage.schema import outbox
from tests.web_helpers import INDEX_CACHE, cached_core_var_dir, page, web_client

if INDEX_CACHE:
    core_var_dir = cached_core_var_dir

SAM = Reporter(Channel.SLACK, "U0SAM0001", "sam.patel")


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def reports(settings: Settings, clock: FakeClock) -> AsyncIterator[Reports]:
    opened = await open_reports(
        settings, clock=clock, notifiers=[ConsoleNotifier(settings.var_dir / "n.log")]
    )
    opened.worker.retry = RetryPolicy(base_seconds=1, cap_seconds=10, max_attempts=3, slow_seconds=3600)
    yield opened
    await opened.close()


def both_chats(answers: dict[str, str] | None = None) -> tuple[ScriptedNotifier, ScriptedNotifier]:
    """Two chat platforms that both reach everyone with a Slack id (registered in this order)."""
    return ScriptedNotifier("slack", answers=answers), ScriptedNotifier("teams")


async def needs(reports: Reports) -> Attention:
    async with reports.db.transaction() as conn:
        return await attention(conn)


async def outbox_row(reports: Reports, recipient: str, event: str) -> Any:
    async with reports.db.transaction() as conn:
        return (
            await conn.execute(select(outbox).where(outbox.c.recipient == recipient, outbox.c.event == event))
        ).one()


async def test_spent_fast_retries_keep_retrying_hourly_escalate_and_tell_admins_another_way(
    reports: Reports, clock: FakeClock
) -> None:
    slack, teams = both_chats({"jo.evans": "retry"})
    reports.notifiers.register(slack)
    reports.notifiers.register(teams)
    receipt = await reports.service.submit(
        Submission(category="online_abuse", description="x"), SAM, idempotency_key="k"
    )
    ref = receipt.reference
    for _ in range(4):  # three fast attempts (max_attempts=3), then nothing for an hour
        await reports.worker.run_once()
        clock.advance(seconds=30)
    jo_key = f"{ref}/jo.evans/new_case"
    assert slack.sent.count(("jo.evans", jo_key)) == 3
    row = await outbox_row(reports, "jo.evans", "new_case")
    assert row.status == "pending" and row.undelivered_since is not None and row.attempts == 3
    assert row.next_attempt_at - clock.now() > timedelta(minutes=50)  # hourly from now on
    # at that same moment: the next in line (HR) and the case administrators (by the other platform)
    assert ("helen.ward", f"{ref}/helen.ward/escalated") in slack.sent
    alerts = {
        ("priya.shah", f"{ref}/priya.shah/undelivered"),
        ("helen.ward", f"{ref}/helen.ward/undelivered"),
    }
    assert alerts <= set(teams.sent)
    assert not alerts & set(slack.sent)  # not through the channel that is failing
    assert await needs(reports) == Attention(undelivered=1, exhausted_chains=0)

    clock.advance(hours=1)
    await reports.worker.run_once()  # the hourly retry: still failing, told once only
    assert slack.sent.count(("jo.evans", jo_key)) == 4
    helen = reports.directory.person("helen.ward")
    assert helen is not None
    view = await reports.service.show(ref, helen)
    kinds = [e.kind for e in view.chronology]
    assert kinds.count(EventKind.DELIVERY_FAILED) == 1 and kinds.count(EventKind.ESCALATED) == 1
    assert len([s for s in teams.sent if s[1].endswith("/undelivered")]) == 2

    slack.answers.clear()  # Slack recovers: the next hourly retry delivers it after all
    clock.advance(hours=1)
    await reports.worker.run_once()
    assert slack.sent.count(("jo.evans", jo_key)) == 5
    assert (await outbox_row(reports, "jo.evans", "new_case")).status == "delivered"
    view = await reports.service.show(ref, helen)
    assert not next(r for r in view.recipients if r.person_id == "jo.evans").undeliverable
    assert await needs(reports) == Attention(undelivered=0, exhausted_chains=0)


async def test_undeliverable_for_everyone_on_the_chain_tells_admins_and_counts(
    reports: Reports, clock: FakeClock
) -> None:
    slack, _ = both_chats()
    slack.answers = {p: "undeliverable" for p in ("jo.evans", "helen.ward", "marcus.bell", "amira.okafor")}
    reports.notifiers.register(slack)
    receipt = await reports.service.submit(
        Submission(category="online_abuse", description="x"), SAM, idempotency_key="k"
    )
    for _ in range(6):
        await reports.worker.run_once()
    helen = reports.directory.person("priya.shah")
    assert helen is not None
    view = await reports.service.show(receipt.reference, helen)
    assert EventKind.ESCALATION_EXHAUSTED in [e.kind for e in view.chronology]
    # the administrators got both alerts; helen.ward (an administrator unreachable on Slack) by the console
    logged = (reports.settings.var_dir / "n.log").read_text()
    assert f"to=helen.ward key={receipt.reference}/helen.ward/chain_exhausted" in logged
    assert ("priya.shah", f"{receipt.reference}/priya.shah/undelivered") in slack.sent + [
        (m.group(1), m.group(2)) for m in re.finditer(r"to=(\S+) key=(\S+)", logged)
    ]
    found = await needs(reports)
    assert found.exhausted_chains == 1 and found.undelivered >= 2

    metrics = Metrics()
    await metrics.refresh(reports.db, clock)
    text = metrics.render().decode()
    assert f"policybot_notices_undelivered {float(found.undelivered)}" in text
    assert "policybot_escalation_chains_exhausted 1.0" in text

    await reports.service.acknowledge(receipt.reference, helen)  # an administrator takes it in hand
    assert (await needs(reports)).exhausted_chains == 0


async def test_an_administrator_the_case_is_about_is_never_told(reports: Reports, clock: FakeClock) -> None:
    slack, teams = both_chats({"jo.evans": "undeliverable"})
    reports.notifiers.register(slack)
    reports.notifiers.register(teams)
    await reports.service.submit(
        Submission(category="online_abuse", description="x", subject_person_id="helen.ward"),
        SAM,
        idempotency_key="k",
    )
    for _ in range(3):
        await reports.worker.run_once()
    told = [who for who, key in slack.sent + teams.sent if key.endswith("/undelivered")]
    assert told == ["priya.shah"], told  # helen.ward is an administrator, but the case is about her
    async with reports.db.transaction() as conn:
        rows = (await conn.execute(select(outbox.c.recipient))).scalars().all()
    assert "helen.ward" not in rows


async def test_notices_marked_failed_for_good_before_0006_are_retried_again(empty_settings: Settings) -> None:
    empty_settings.var_dir.mkdir(parents=True, exist_ok=True)
    db = Database(create_engine(empty_settings.effective_database_url), load_keys(empty_settings))
    try:
        async with db.transaction() as conn:
            await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0005"))
            await conn.execute(
                text(
                    "INSERT INTO cases (reference, idempotency_hash, category, status, created_at, updated_at,"
                    " escalation_level, escalation_chain, consent_to_name) VALUES ('R-0000-0001', 'h', 'other',"
                    " 'open', :t, :t, 0, '[]', false)"
                ),
                {"t": FakeClock().now()},
            )
            await conn.execute(
                text(
                    "INSERT INTO outbox (case_id, recipient, event, status, attempts, next_attempt_at,"
                    " created_at) SELECT id, 'jo.evans', 'new_case', 'failed', 12, :t, :t FROM cases"
                ),
                {"t": FakeClock().now()},
            )
            await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "0006"))
            row = (await conn.execute(select(outbox))).one()
        assert row.status == "pending" and row.undelivered_since is not None  # retried (hourly), counted
    finally:
        await db.dispose()


async def test_a_chain_that_runs_out_by_deadline_tells_the_case_administrators(
    reports: Reports, clock: FakeClock
) -> None:
    receipt = await reports.service.submit(
        Submission(category="safeguarding", description="A pupil disclosed something."),
        SAM,
        idempotency_key="k",
    )
    for _ in range(6):
        clock.advance(minutes=61)
        await reports.worker.run_once()
    for admin in ("priya.shah", "helen.ward"):
        row = await outbox_row(reports, admin, "chain_exhausted")
        assert row.status == "delivered"
    logged = (reports.settings.var_dir / "n.log").read_text()
    line = next(x for x in logged.splitlines() if "chain_exhausted" in x)
    assert receipt.reference in line and "A pupil" not in logged
    assert await needs(reports) == Attention(undelivered=0, exhausted_chains=1)


# --- the reporter's confirmation -------------------------------------------------------------------------


async def test_a_crash_between_commit_and_reply_still_confirms_to_the_reporter(
    reports: Reports, clock: FakeClock
) -> None:
    slack, _ = both_chats()
    reports.notifiers.register(slack)
    # The edge committed the case and died before it could answer: the worker sends the confirmation.
    receipt = await reports.service.submit(
        Submission(category="online_abuse", description="Private words."), SAM, idempotency_key="k"
    )
    await reports.worker.run_once()
    assert ("reporter", f"{receipt.reference}/reporter/received") in slack.sent
    assert (await outbox_row(reports, "reporter", "received")).status == "delivered"


async def test_the_confirmation_names_who_it_went_to_by_role_never_the_subject(
    reports: Reports, clock: FakeClock
) -> None:
    slack, _ = both_chats()
    reports.notifiers.register(slack)
    about_dsl = await reports.service.submit(
        Submission(category="safeguarding", description="Private words.", subject_person_id="priya.shah"),
        SAM,
        idempotency_key="dsl",
    )
    abuse = await reports.service.submit(
        Submission(category="online_abuse", description="Private words."), SAM, idempotency_key="abuse"
    )
    await reports.worker.run_once()
    to_deputy = slack.texts[f"{about_dsl.reference}/reporter/received"]
    # A concern about the DSL as a member of staff: the headteacher and the deputy, never the DSL.
    assert about_dsl.to_whom == "the Headteacher and the Deputy Designated Safeguarding Lead"
    assert "Priya" not in to_deputy and " the Designated Safeguarding Lead" not in to_deputy
    assert f"privately to {about_dsl.to_whom}," in to_deputy  # the same routing as the in-channel reply
    assert f"privately to {abuse.to_whom}," in slack.texts[f"{abuse.reference}/reporter/received"]
    assert abuse.to_whom == "your line manager"


async def test_an_in_person_reply_stands_for_the_confirmation_and_a_lost_one_is_sent_by_the_worker(
    reports: Reports, clock: FakeClock
) -> None:
    slack, _ = both_chats()
    reports.notifiers.register(slack)
    a = await reports.service.submit(Submission(category="other", description="a"), SAM, idempotency_key="a")
    b = await reports.service.submit(Submission(category="other", description="b"), SAM, idempotency_key="b")
    # a: the channel's reply (Teams' card) went through: no second confirmation from the worker
    claim = await reports.worker.claim_reply(a.reference)
    assert claim is not None
    assert await reports.worker.claim_reply(a.reference) is None  # taken: nobody else sends it
    await reports.worker.settle_reply(claim, "teams", delivered=True)
    # b: the process died after taking the claim and before replying
    assert await reports.worker.claim_reply(b.reference) is not None
    await reports.worker.run_once()
    sent = {key for _, key in slack.sent}
    assert f"{a.reference}/reporter/received" not in sent
    assert f"{b.reference}/reporter/received" not in sent  # its lease has not run out yet
    clock.advance(seconds=reports.worker.lease.total_seconds() + 1)
    await reports.worker.run_once()
    assert [key for _, key in slack.sent].count(f"{b.reference}/reporter/received") == 1
    async with reports.db.transaction() as conn:
        rows = (
            await conn.execute(
                select(outbox.c.status, outbox.c.channel)
                .where(outbox.c.recipient == "reporter")
                .order_by(outbox.c.case_id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [("delivered", "teams"), ("delivered", "slack")]


async def test_dashboard_banner_counts_what_needs_attention_for_administrators(
    settings: Settings, assistant: Any
) -> None:
    async with web_client(settings, assistant) as (client, services):
        reports = services.reports
        everyone = ("jo.evans", "helen.ward", "marcus.bell", "amira.okafor")
        reports.notifiers.register(ScriptedNotifier("slack", answers={p: "undeliverable" for p in everyone}))
        receipt = await reports.service.submit(
            Submission(category="online_abuse", description="x"), SAM, idempotency_key="k"
        )
        for _ in range(6):
            await reports.worker.run_once()
        async with reports.db.transaction() as conn:
            found = await attention(conn)
        assert found.undelivered >= 2 and found.exhausted_chains == 1
        await sign_in(client, services, settings, "priya.shah", "/cases")
        html = await (await client.get("/cases")).text()
        assert 'role="alert" id="attention"' in html
        assert f"{found.undelivered} notices not delivered" in html
        assert "1 open case with nobody left to escalate to" in html
        assert receipt.reference in html
        await sign_in(client, services, settings, "jo.evans", "/cases")  # not an administrator
        assert 'id="attention"' not in await (await client.get("/cases")).text()


async def sign_in(client: Any, services: Services, settings: Settings, who: str, nxt: str) -> None:
    link = make_signin_link(settings, who, nxt, keys=services.reports.db.keys)
    html, csrf = await page(client, link.removeprefix(settings.base_url))
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert token is not None
    response = await client.post(
        "/signin", data={"csrf": csrf, "token": token.group(1)}, allow_redirects=False
    )
    assert response.status == 303
