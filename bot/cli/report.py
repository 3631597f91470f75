"""`policybot report`: file a report from the terminal (`policybot worker` lives in ``bot.cli.worker``)."""

from __future__ import annotations

import asyncio
import sys
import uuid

import typer

from bot.cli._common import console, fail, settings
from bot.cli._reports import actor, with_reports
from bot.domain import Channel
from bot.reports import Category, Reporter, Reports, Submission

__all__ = ["register"]

_CATEGORIES = ", ".join(c.value for c in Category)


def report(
    category: str = typer.Option(..., help=f"One of: {_CATEGORIES}."),
    description: str = typer.Option(..., help="What happened, in your own words ('-' reads standard input)."),
    who: str | None = typer.Option(None, "--as", help="Your person id in the directory."),
    reporter_id: str | None = typer.Option(
        None, help="Your id on --channel when you are not in the directory."
    ),
    channel: str = typer.Option(
        "local", help="The channel --reporter-id belongs to: local, slack, teams, web."
    ),
    where: str = typer.Option("", help="Where it happened (platform, links)."),
    when: str = typer.Option("", help="When it happened."),
    about: str | None = typer.Option(None, help="Who it is about: a person id from the directory."),
    about_text: str = typer.Option("", help="Who it is about, in words (someone not in the directory)."),
    evidence: list[str] | None = typer.Option(None, help="A link to evidence (repeat for several)."),
    consent_to_name: bool = typer.Option(
        False, "--name-me/--anonymous", help="May recipients see who you are?"
    ),
    children: bool = typer.Option(False, "--children", help="The concern involves children."),
    tell_hr: bool = typer.Option(False, "--tell-hr", help="Also tell HR."),
    key: str | None = typer.Option(
        None, help="Idempotency key: the same key files the same report only once."
    ),
    deliver: bool = typer.Option(
        True, help="Send the notices now (local mode) instead of leaving them to a worker."
    ),
) -> None:
    """File a private report. The reference is printed only once the report is saved."""
    text = sys.stdin.read() if description == "-" else description

    async def body(reports: Reports) -> None:
        if who is not None:
            person = actor(reports.directory, who)
            reporter = Reporter(channel=Channel.LOCAL, id=person.id, person_id=person.id)
        elif reporter_id:
            try:
                reporter = Reporter(channel=Channel(channel), id=reporter_id)
            except ValueError:
                fail(f"unknown channel {channel!r}: use local, slack, teams or web")
        else:
            fail("say who you are: --as PERSON (in the directory) or --reporter-id ID")
        receipt = await reports.service.submit(
            Submission(
                category=category,
                description=text,
                where=where,
                when=when,
                subject_person_id=about,
                subject_text=about_text,
                evidence=tuple(evidence or ()),
                consent_to_name=consent_to_name,
                concerns_children=children,
                tell_hr=tell_hr,
            ),
            reporter,
            idempotency_key=key or str(uuid.uuid4()),
        )
        console.print(f"Report saved: {receipt.reference}")
        if not receipt.created:
            console.print("(this report had already been received; nothing new was filed)")
        console.print(f"It has been routed to {receipt.recipients} person/people. Keep the reference.")
        if deliver:
            await reports.worker.run_once()

    asyncio.run(with_reports(settings(), body))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
