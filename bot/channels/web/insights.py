"""The insights page (``/insights``): what staff could not find, and where policy owners teach policybot from it.

Case administrators and policy owners (directory role ``policy_owner``) see the themes; policy owners also see,
per document, the kept questions not taught yet, each with a form to choose the section that answers it (or "not
covered"), the taught examples, and those set aside because their text changed ("still right" or "remove").
What is taught is served from the next reload; "Rebuild now" runs the same reload as ``POST /admin/reload``.
Every POST carries the page's CSRF token (the middleware refuses it otherwise); bad input is a 4xx page and
changes nothing. Question text is never logged.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.channels.keys import reload_of
from bot.channels.web.cases import signed_in
from bot.channels.web.pages import directory_of, render, services
from bot.core.insights import build_report
from bot.core.teaching import answering_sections, describe
from bot.errors import InputError, NotFound, StorageUnavailable
from bot.reports.directory import Person
from index.corpus import Corpus
from index.errors import IndexPackageError

__all__ = ["routes"]

log = logging.getLogger(__name__)

DONE = {
    "taught": "Taught. The index will pick it up on the next reload.",
    "confirmed": "Confirmed as still right: it is used again from the next reload.",
    "removed": "Removed: it stops being used at the next reload.",
    "rebuilt": "Rebuilt: policybot now answers with everything taught so far.",
}


def _sees(request: web.Request, me: Person) -> bool:
    directory = directory_of(request)
    return directory.is_admin(me.id) or directory.owns_policies(me.id)


async def _refused(request: web.Request, text: str) -> web.StreamResponse:
    return await render(request, "message.html", {"title": "Not available", "text": text}, status=403)


async def _problem(request: web.Request, title: str, text: str, status: int) -> web.StreamResponse:
    return await render(
        request, "message.html", {"title": title, "text": text, "back": "/insights"}, status=status
    )


def _choices(corpus: Corpus, doc_id: str | None) -> list[dict[str, Any]]:
    """The select's groups: the question's document, or (near none) every document."""
    docs = [d for d in corpus.documents if doc_id is None or d.id == doc_id]
    return [
        {
            "title": d.title,
            "options": [(f"{d.id}:{number}", heading) for number, heading in answering_sections(d)],
            "not_covered": f"{d.id}:",
        }
        for d in docs
    ]


@signed_in
async def insights_page(request: web.Request, me: Person) -> web.StreamResponse:
    """The figures of `policybot insights`; for policy owners, the questions to teach and the examples."""
    if not _sees(request, me):
        return await _refused(request, "Insights are for case administrators and policy owners.")
    svc = services(request)
    report = await build_report(svc.insights, svc.assistant.embedder)
    teaches = directory_of(request).owns_policies(me.id)
    context: dict[str, Any] = {
        "report": report,
        "teaches": teaches,
        "done": DONE.get(request.query.get("done", "")),
    }
    if teaches:
        corpus = svc.assistant.index.corpus
        pending = await svc.teaching.pending(corpus)
        directory = directory_of(request)

        def name(person_id: str) -> str:
            person = directory.person(person_id)
            return person.name if person else person_id

        def day(value: datetime) -> str:
            return value.strftime("%d %b %Y")

        context |= {
            "pending": [(group, _choices(corpus, group.doc_id)) for group in pending],
            "overview": await svc.teaching.overview(corpus),
            "describe": lambda doc_id, sections: describe(corpus, doc_id, sections),
            "title_of": lambda doc_id: next((d.title for d in corpus.documents if d.id == doc_id), doc_id),
            "name": name,
            "day": day,
        }
    return await render(request, "insights.html", context)


@signed_in
async def teach(request: web.Request, me: Person) -> web.StreamResponse:
    """Teach one kept question: ``question`` (its reply id) and ``answer`` ("doc id:section", or "doc id:")."""
    if not directory_of(request).owns_policies(me.id):
        return await _refused(request, "Teaching policybot is for policy owners.")
    form = await request.post()
    reply_id, answer = str(form.get("question") or ""), str(form.get("answer") or "")
    doc_id, colon, section = answer.partition(":")
    if not reply_id or not colon or not doc_id:
        return await _problem(
            request, "Not taught", "Choose the section that answers the question, or “not covered”.", 400
        )
    svc = services(request)
    try:
        row = await svc.teaching.teach(
            svc.assistant.index.corpus, reply_id=reply_id, doc_id=doc_id, section=section or None, by=me.id
        )
    except InputError as exc:
        return await _problem(request, "Not taught", str(exc), 400)
    log.info(
        "insights: example %d taught for %s (%d sections) by %s", row.id, row.doc_id, len(row.sections), me.id
    )
    return web.Response(status=303, headers={"Location": "/insights?done=taught#teach"})


@signed_in
async def example_action(request: web.Request, me: Person) -> web.StreamResponse:
    """ "Still right" (``confirm``: restamp against the served text) or ``remove`` for one taught example."""
    if not directory_of(request).owns_policies(me.id):
        return await _refused(request, "Reviewing taught examples is for policy owners.")
    action = request.match_info["action"]
    example_id = int(request.match_info["id"])
    svc = services(request)
    try:
        if action == "confirm":
            await svc.teaching.confirm(svc.assistant.index.corpus, example_id)
        else:
            await svc.teaching.remove(example_id)
    except NotFound as exc:
        return await _problem(request, "Not found", str(exc), 404)
    except InputError as exc:
        return await _problem(request, "Not changed", str(exc), 400)
    log.info(
        "insights: example %d %s by %s", example_id, "confirmed" if action == "confirm" else "removed", me.id
    )
    done = "confirmed" if action == "confirm" else "removed"
    return web.Response(status=303, headers={"Location": f"/insights?done={done}#review"})


@signed_in
async def rebuild(request: web.Request, me: Person) -> web.StreamResponse:
    """ "Rebuild now": the reload of ``POST /admin/reload`` (off the event loop; the old index serves meanwhile)."""
    if not directory_of(request).owns_policies(me.id):
        return await _refused(request, "Rebuilding the index is for policy owners.")
    try:
        result = await reload_of(request)(services(request))
    except IndexPackageError as exc:  # names the corpus file and line; holds no user text
        return await _problem(request, "Not rebuilt", f"{exc} The previous index keeps serving.", 409)
    except StorageUnavailable:
        raise
    except Exception as exc:
        log.error("insights: rebuild failed: %s", type(exc).__name__)
        return await _problem(
            request,
            "Not rebuilt",
            f"The rebuild failed ({type(exc).__name__}); the previous index keeps serving.",
            500,
        )
    log.info("insights: rebuilt by %s, now serving %s", me.id, result.get("index"))
    return web.Response(status=303, headers={"Location": "/insights?done=rebuilt"})


def routes(app: web.Application) -> None:
    app.router.add_get("/insights", insights_page, name="web.insights")
    app.router.add_post("/insights/teach", teach, name="web.insights_teach")
    app.router.add_post(
        r"/insights/examples/{id:\d{1,12}}/{action:confirm|remove}",
        example_action,
        name="web.insights_example",
    )
    app.router.add_post("/insights/rebuild", rebuild, name="web.insights_rebuild")
