"""The private report form and the reporter's own "My reports" page.

Reports are filed as the person the browser is signed in as (or, in local mode, acting as) through
``CaseService.submit`` with the form's hidden submission key, so a double click or a resent form files one
case. An error is shown beside its field and everything typed comes back in the form; nothing is lost, even when
the database is down before the handler runs (the session cannot be read): then the form comes back, typed
text and all, with "not saved" and HTTP 503.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiohttp import web

from bot.channels.web.pages import (
    STORAGE_DOWN,
    directory_of,
    ensure_session,
    identity,
    render,
    services,
    web_state,
)
from bot.domain import Channel
from bot.errors import InputError, StorageUnavailable
from bot.reports.directory import Person
from bot.reports.model import Category, Reporter, Submission
from bot.reports.service import NOT_SAVED

__all__ = ["routes"]

log = logging.getLogger(__name__)

FIELDS = ("category", "description", "where", "when", "subject_person_id", "subject_text", "evidence")
FLAGS = ("consent_to_name", "concerns_children", "tell_hr")


def _reporter(person_id: str) -> Reporter:
    return Reporter(channel=Channel.WEB, id=person_id, person_id=person_id)


async def _form(
    request: web.Request,
    values: dict[str, Any] | None = None,
    *,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> web.StreamResponse:
    values = dict(values or {})
    values.setdefault("key", secrets.token_urlsafe(18))
    me = identity(request)
    directory = directory_of(request)
    people = sorted((p for p in directory.people.values() if not me or p.id != me.id), key=lambda p: p.name)
    return await render(
        request,
        "report_form.html",
        {
            "values": values,
            "errors": errors or {},
            "problem": problem,
            "categories": list(Category),
            "people": people,
            "all_people": sorted(directory.people.values(), key=lambda p: p.name),
        },
        status=status,
    )


async def _choose_reporter(request: web.Request, person_id: str) -> Person | None:
    """Local mode: the form's "You are:" choice, remembered for the rest of the session."""
    state = web_state(request)
    person = directory_of(request).person(person_id) if person_id else None
    if person is None or not state.local_mode:
        return None
    await state.sessions.act_as(await ensure_session(request), person.id)
    return person


async def report_form(request: web.Request) -> web.StreamResponse:
    return await _form(request)


async def draft(request: web.Request) -> web.StreamResponse:
    """From the console's "Report this privately": the form, with the message already in "what happened"."""
    form = await request.post()
    return await _form(request, {"description": str(form.get("description", ""))[:10_000]})


async def submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values: dict[str, Any] = {name: str(form.get(name, "")) for name in (*FIELDS, "key", "as_person")}
    for flag in FLAGS:
        values[flag] = form.get(flag) == "on"
    try:
        if request.get(STORAGE_DOWN):
            raise StorageUnavailable(NOT_SAVED)
        me = identity(request) or await _choose_reporter(request, values["as_person"])
    except StorageUnavailable:
        log.warning("web report: not saved (database unavailable)")
        return await _form(request, values, problem=NOT_SAVED, status=503)
    if me is None:
        errors = {"as_person": "Choose who you are before sending a report."}
        return await _form(request, values, errors=errors, status=400)
    submission = Submission(
        category=values["category"],
        description=values["description"],
        where=values["where"],
        when=values["when"],
        subject_person_id=values["subject_person_id"] or None,
        subject_text=values["subject_text"],
        evidence=tuple(line.strip() for line in values["evidence"].splitlines() if line.strip()),
        consent_to_name=values["consent_to_name"],
        concerns_children=values["concerns_children"],
        tell_hr=values["tell_hr"],
    )
    try:
        if not values["category"]:
            raise InputError("Choose what kind of concern this is.", field="category")
        receipt = await services(request).reports.service.submit(
            submission, _reporter(me.id), idempotency_key=values["key"] or ""
        )
    except InputError as exc:
        field = exc.field if exc.field in (*FIELDS, *FLAGS) else None
        errors = {field: str(exc)} if field else {}
        return await _form(request, values, errors=errors, problem=None if field else str(exc), status=400)
    except StorageUnavailable:
        log.warning("web report: not saved (database unavailable)")
        return await _form(request, values, problem=NOT_SAVED, status=503)
    log.info("web report: case %s (created=%s)", receipt.reference, receipt.created)
    return await render(request, "report_done.html", {"receipt": receipt})


async def my_reports(request: web.Request) -> web.StreamResponse:
    """The reporter's reports and their state (the "acknowledged" notice links here)."""
    me = identity(request)
    rows = await services(request).reports.service.my_reports(_reporter(me.id)) if me else []
    return await render(request, "my_reports.html", {"rows": rows})


def routes(app: web.Application) -> None:
    app.router.add_get("/report", report_form, name="web.report_form")
    app.router.add_post("/report/draft", draft, name="web.report_draft")
    app.router.add_post("/report", submit, name="web.report_submit")
    app.router.add_get("/reports", my_reports, name="web.my_reports")
