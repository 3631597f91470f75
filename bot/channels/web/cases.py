"""The case dashboard: the cases routed to me, a case page with its chronology and actions, and exports.

Every read goes through ``CaseService.show``, which records it in the case's chronology and refuses anyone who
is not a routed recipient or a case administrator; a refusal is a 403 page that says nothing about the case
(the same page whether or not it exists). Signed-out visitors are asked to sign in through a one-time link.
Case administrators see a banner counting notices that are not getting through and open cases nobody is left to
escalate to (``outbox.attention``): nothing waits unseen.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.channels.web import export
from bot.channels.web.pages import current_person, directory_of, render, services
from bot.errors import ConfigError, InputError, NotFound, StorageUnavailable
from bot.reports.directory import Directory, Person
from bot.reports.model import CaseView, EventKind
from bot.reports.outbox import Attention, attention

__all__ = ["age", "routes"]

log = logging.getLogger(__name__)

ACTIONS = {
    "acknowledge": "Acknowledged: you have it in hand. The reporter is told it was received.",
    "note": "Note added to the chronology.",
    "decision": "Action or decision recorded, with its reason.",
    "close": "Case closed with its outcome.",
}


#: The case page's form fields (other errors, e.g. "already closed", show at the top of the page).
FIELDS = ("action", "reason", "note", "outcome")


def age(then: datetime, now: datetime) -> str:
    """ "45 minutes", "3 hours", "2 days": how long a case has waited, in words."""
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} minute{'s' * (minutes != 1)}"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{hours // 24} days"


def _local(directory: Directory) -> Callable[[datetime | None], str]:
    tz = ZoneInfo(directory.timezone)

    def fmt(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(tz).strftime("%d %b %Y %H:%M %Z")

    return fmt


async def _signin_needed(request: web.Request) -> web.StreamResponse:
    """Not signed in (links from Slack or Teams were already reloaded same-site by the middleware)."""
    return await render(request, "signin_needed.html", status=401)


Handler = Callable[[web.Request, Person], Awaitable[web.StreamResponse]]


def signed_in(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        person = current_person(request)
        if person is None:
            return await _signin_needed(request)
        try:
            return await handler(request, person)
        except NotFound as exc:
            return await render(
                request, "message.html", {"title": "Not available", "text": str(exc)}, status=403
            )
        except StorageUnavailable as exc:
            return await render(request, "message.html", {"title": "Try again", "text": str(exc)}, status=503)

    return wrapped


@signed_in
async def dashboard(request: web.Request, me: Person) -> web.StreamResponse:
    include_closed = request.query.get("all") == "1"
    service = services(request).reports.service
    rows = await service.cases_for(me, include_closed=include_closed)
    now = service.clock.now()
    items = [
        {
            "row": r,
            "age": age(r.created_at, now),
            "due": r.ack_due_at,
            "overdue": r.ack_due_at is not None and r.ack_due_at < now,
        }
        for r in rows
    ]
    fmt = _local(directory_of(request))
    is_admin = directory_of(request).is_admin(me.id)
    needs: Attention | None = None
    if is_admin:
        async with service.db.transaction() as conn:
            needs = await attention(conn)
    return await render(
        request,
        "cases.html",
        {
            "items": items,
            "include_closed": include_closed,
            "fmt": fmt,
            "attention": needs,
            "is_admin": is_admin,
            "owns_policies": directory_of(request).owns_policies(me.id),
        },
    )


def _names(directory: Directory) -> Callable[[str | None], str]:
    def name(person_id: str | None) -> str:
        if not person_id:
            return ""
        if person_id == "system":
            return "policybot"
        if person_id == "reporter":
            return "the reporter"
        person = directory.person(person_id)
        return (
            f"{person.name} ({person.title})"
            if person and person.title
            else (person.name if person else person_id)
        )

    return name


async def _case_page(
    request: web.Request,
    me: Person,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    service = services(request).reports.service
    case = await service.show(request.match_info["reference"], me)
    directory = directory_of(request)
    done = request.query.get("done", "")
    return await render(
        request,
        "case.html",
        {
            "case": case,
            "name": _names(directory),
            "fmt": _local(directory),
            "age": age(case.created_at, service.clock.now()),
            "overdue": case.ack_due_at is not None and case.ack_due_at < service.clock.now(),
            "mine": next((r for r in case.recipients if r.person_id == me.id), None),
            "errors": errors or {},
            "values": values or {},
            "done": ACTIONS.get(done),
            "decisions": [e for e in case.chronology if e.kind in (EventKind.DECISION, EventKind.NOTE)],
            "reporter": export.reporter_line(case, directory),
            "about": export.about_line(case, directory),
            "event_line": lambda entry: export.event_line(entry, directory),
        },
        status=status,
    )


@signed_in
async def case_page(request: web.Request, me: Person) -> web.StreamResponse:
    return await _case_page(request, me)


@signed_in
async def act(request: web.Request, me: Person) -> web.StreamResponse:
    reference = request.match_info["reference"]
    action = request.match_info["action"]
    service = services(request).reports.service
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if k != "csrf" and isinstance(v, str)}
    try:
        if action == "acknowledge":
            await service.acknowledge(reference, me)
        elif action == "note":
            await service.add_note(reference, me, values.get("note", ""))
        elif action == "decision":
            await service.record_decision(reference, me, values.get("action", ""), values.get("reason", ""))
        elif action == "close":
            await service.close(reference, me, values.get("outcome", ""))
        else:
            raise web.HTTPNotFound()
    except InputError as exc:
        field = exc.field if exc.field in FIELDS else "problem"
        return await _case_page(request, me, errors={field: str(exc)}, values=values, status=400)
    log.info("web case %s: %s by %s", reference, action, me.id)
    location = f"/cases/{request.match_info['reference']}?done={action}"
    return web.Response(status=303, headers={"Location": location})


@signed_in
async def export_case(request: web.Request, me: Person) -> web.StreamResponse:
    fmt = request.match_info["fmt"]
    service = services(request).reports.service
    case: CaseView = await service.show(request.match_info["reference"], me)
    directory = directory_of(request)
    now = service.clock.now()
    log.info("web case %s: exported as %s by %s", case.reference, fmt, me.id)
    headers = {"Content-Disposition": f'attachment; filename="{case.reference}.{fmt}"'}
    if fmt == "md":
        text = export.case_markdown(case, directory, exported_by=me, now=now)
        return web.Response(text=text, content_type="text/markdown", charset="utf-8", headers=headers)
    try:
        body = export.case_pdf(case, directory, exported_by=me, now=now)
    except ConfigError as exc:
        log.error("web case %s: PDF export impossible: %s", case.reference, exc)
        return await render(request, "message.html", {"title": "PDF export", "text": str(exc)}, status=503)
    return web.Response(body=body, content_type="application/pdf", headers=headers)


def routes(app: web.Application) -> None:
    app.router.add_get("/cases", dashboard, name="web.cases")
    app.router.add_get("/cases/{reference}", case_page, name="web.case")
    app.router.add_post("/cases/{reference}/{action}", act, name="web.case_action")
    app.router.add_get("/cases/{reference}/export.{fmt:md|pdf}", export_case, name="web.case_export")
