"""Sign-in and sign-out pages: a one-time link shows "Continue as ..."; the POST redeems it.

Opening the link changes nothing (chat apps fetch links to preview them); only the button press uses it up.
Redeeming starts a brand-new session, so a session cookie planted before sign-in is never promoted.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.channels.web.auth import read_signin_token
from bot.channels.web.pages import directory_of, render, replace_session, services, session_of, web_state
from bot.errors import InputError

__all__ = ["routes"]

log = logging.getLogger(__name__)


async def signin_page(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    keys = web_state(request).sessions.keys
    try:
        signin = read_signin_token(keys, token, services(request).reports.clock.now())
    except InputError as exc:
        return await render(request, "message.html", {"title": "Sign-in link", "text": str(exc)}, status=400)
    person = directory_of(request).person(signin.person_id)
    if person is None:
        return await render(
            request,
            "message.html",
            {"title": "Sign-in link", "text": "This link is for nobody in the directory."},
            status=400,
        )
    return await render(request, "signin.html", {"person": person, "token": token})


async def signin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    state = web_state(request)
    try:
        signin = read_signin_token(
            state.sessions.keys, str(form.get("token", "")), services(request).reports.clock.now()
        )
        if directory_of(request).person(signin.person_id) is None:
            raise InputError("This link is for nobody in the directory.", field="token")
        if not await state.sessions.redeem(signin):
            raise InputError("This sign-in link has already been used. Ask for a new one.", field="token")
    except InputError as exc:
        log.info("web: sign-in refused (%s)", type(exc).__name__)
        return await render(request, "message.html", {"title": "Sign-in link", "text": str(exc)}, status=403)
    old = session_of(request)
    if old is not None:
        await state.sessions.end(old)
    replace_session(request, await state.sessions.create(person_id=signin.person_id))
    log.info("web: %s signed in", signin.person_id)
    return web.Response(status=303, headers={"Location": signin.next_path})


async def signout(request: web.Request) -> web.StreamResponse:
    state = web_state(request)
    old = session_of(request)
    if old is not None:
        await state.sessions.end(old)
    replace_session(request, await state.sessions.create())
    return await render(request, "message.html", {"title": "Signed out", "text": "You are signed out."})


def routes(app: web.Application) -> None:
    app.router.add_get("/signin/{token}", signin_page, name="web.signin_page")
    app.router.add_post("/signin", signin, name="web.signin")
    app.router.add_post("/signout", signout, name="web.signout")
