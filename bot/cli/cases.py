"""`policybot cases list|show|ack|note|decide|close|login|purge`: work on cases from the terminal (local mode).

Every command but purge needs ``--as PERSON``; only the case's recipients and case administrators get anything
back, and a refusal reads the same whether or not the case exists.
"""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from bot.cli._common import console, settings
from bot.cli._reports import actor, with_reports
from bot.reports import CaseView, Reports

__all__ = ["register"]

cases_app = typer.Typer(
    help="Read and act on reported cases (recipients and case administrators only).", no_args_is_help=True
)

AS = typer.Option(..., "--as", help="Who you are: your person id in the directory (e.g. priya.shah).")


@cases_app.command("list")
def list_cases(
    who: str = AS,
    include_closed: bool = typer.Option(False, "--all", help="Include closed cases."),
) -> None:
    """Cases routed to you (every case, for a case administrator)."""

    async def body(reports: Reports) -> None:
        rows = await reports.service.cases_for(actor(reports.directory, who), include_closed=include_closed)
        if not rows:
            console.print("No cases.")
            return
        table = Table("reference", "category", "status", "received", "acknowledge by")
        for row in rows:
            due = "-" if row.ack_due_at is None else f"{row.ack_due_at:%Y-%m-%d %H:%M} UTC"
            table.add_row(
                row.reference, row.category.short, row.status.value, f"{row.created_at:%Y-%m-%d %H:%M}", due
            )
        console.print(table)

    asyncio.run(with_reports(settings(), body))


@cases_app.command("show")
def show(reference: str, who: str = AS) -> None:
    """The whole case and its chronology (your reading it is recorded)."""

    async def body(reports: Reports) -> None:
        print_case(await reports.service.show(reference, actor(reports.directory, who)), reports)

    asyncio.run(with_reports(settings(), body))


@cases_app.command("ack")
def ack(reference: str, who: str = AS) -> None:
    """Acknowledge: you have it in hand (stops escalation; the reporter is told it was received)."""

    async def body(reports: Reports) -> None:
        changed = await reports.service.acknowledge(reference, actor(reports.directory, who))
        console.print("Acknowledged." if changed else "You had already acknowledged it.")

    asyncio.run(with_reports(settings(), body))


@cases_app.command("note")
def note(reference: str, text: str = typer.Argument(..., help="The note (quote it)."), who: str = AS) -> None:
    """Add a note to the chronology."""

    async def body(reports: Reports) -> None:
        await reports.service.add_note(reference, actor(reports.directory, who), text)
        console.print("Note added.")

    asyncio.run(with_reports(settings(), body))


@cases_app.command("decide")
def decide(
    reference: str,
    action: str = typer.Option(..., help="The action taken or decision made."),
    reason: str = typer.Option(..., help="Why."),
    who: str = AS,
) -> None:
    """Record an action or decision and the reason for it."""

    async def body(reports: Reports) -> None:
        await reports.service.record_decision(reference, actor(reports.directory, who), action, reason)
        console.print("Decision recorded.")

    asyncio.run(with_reports(settings(), body))


@cases_app.command("close")
def close(reference: str, outcome: str = typer.Option(..., help="The outcome."), who: str = AS) -> None:
    """Close the case with its outcome (retention starts now)."""

    async def body(reports: Reports) -> None:
        await reports.service.close(reference, actor(reports.directory, who), outcome)
        console.print("Closed.")

    asyncio.run(with_reports(settings(), body))


@cases_app.command("login")
def login(
    who: str = AS,
    next_path: str = typer.Option("/cases", "--next", help="The page to open after signing in."),
) -> None:
    """Print a one-time sign-in link for the case dashboard (short-lived; works once)."""
    from bot.channels.web.auth import make_signin_link

    async def body(reports: Reports) -> None:
        person = actor(reports.directory, who)
        cfg = reports.settings
        link = make_signin_link(cfg, person.id, next_path, keys=reports.db.keys, clock=reports.clock)
        console.print(
            f"One-time sign-in link for {person.name} (valid {cfg.signin_link_minutes:g} minutes, works once):"
        )
        console.print(link, markup=False, soft_wrap=True)

    asyncio.run(with_reports(settings(), body))


@cases_app.command("purge")
def purge(dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be purged.")) -> None:
    """Delete or anonymise closed cases older than the retention period (POLICYBOT_CASE_RETENTION_DAYS)."""

    async def body(reports: Reports) -> None:
        result = await reports.purge(dry_run=dry_run)
        verb = "would be" if dry_run else "were"
        done = "deleted" if result.mode == "delete" else "anonymised"
        console.print(f"{len(result.references)} closed case(s) {verb} {done}.")
        for reference in result.references:
            console.print(f"  {reference}")

    asyncio.run(with_reports(settings(), body))


def print_case(case: CaseView, reports: Reports) -> None:
    directory = reports.directory

    def name(person_id: str | None) -> str:
        person = directory.person(person_id or "")
        return f"{person.name} ({person.id})" if person else (person_id or "-")

    console.print(f"[bold]{case.reference}[/]  {case.category.label}  [{case.status.value}]", markup=True)
    reporter = "asked not to be named"
    if case.reporter is not None:
        reporter = name(case.reporter.person_id) if case.reporter.person_id else case.reporter.id
    rows = [
        ("received", f"{case.created_at:%Y-%m-%d %H:%M} UTC"),
        ("reporter", reporter),
        ("about", name(case.subject_person_id) if case.subject_person_id else (case.subject_text or "-")),
        ("where", case.where or "-"),
        ("when", case.when or "-"),
        ("evidence", "\n".join(case.evidence) or "-"),
        ("involves children", "yes" if case.concerns_children else "no"),
        ("outcome", case.outcome or "-"),
    ]
    table = Table(show_header=False, box=None)
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    console.print("[bold]What happened[/]", markup=True)
    console.print(case.description, markup=False)
    console.print("[bold]Recipients[/]", markup=True)
    for r in case.recipients:
        state = "acknowledged" if r.acknowledged_at else ("undeliverable" if r.undeliverable else "notified")
        console.print(f"  {name(r.person_id)}: {r.reason} [{state}]", markup=False)
    console.print("[bold]Chronology[/]", markup=True)
    for e in case.chronology:
        detail = " ".join(f"{k}={v}" for k, v in e.data.items())
        text = f" {e.text}" if e.text else ""
        reason = f" (reason: {e.reason})" if e.reason else ""
        console.print(
            f"  {e.at:%Y-%m-%d %H:%M:%S} {e.kind.value:<20} {e.actor:<14} {detail}{text}{reason}",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(cases_app, name="cases")
