"""Sessions and used sign-in links in the database (SQLite and PostgreSQL); the middleware's reach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.services import Services
from bot.channels.web.auth import SessionStore, SignIn, csrf_token
from bot.config import Settings
from bot.server import create_app
from bot.storage.database import Database
from tests.web_helpers import INDEX_CACHE, cached_core_var_dir

if INDEX_CACHE:
    core_var_dir = cached_core_var_dir


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 26, 12, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


async def test_sessions_expire_end_and_links_redeem_once(settings: Settings) -> None:
    db = await Database.open(settings)
    clock = Clock()
    try:
        store = SessionStore(db, lifetime=timedelta(hours=1), clock=clock)
        session = await store.create(person_id="priya.shah")
        found = await store.get(session.token)
        assert found is not None and found.person_id == "priya.shah" and found.acting_as is None
        await store.act_as(session, "sam.patel")
        assert (await store.get(session.token)).acting_as == "sam.patel"  # type: ignore[union-attr]
        assert await store.get("not-a-token") is None and await store.get(None) is None
        assert csrf_token(db.keys, session.token) != csrf_token(db.keys, "other")
        clock.at += timedelta(hours=2)
        assert await store.get(session.token) is None  # expired
        again = await store.create()
        await store.end(again)
        assert await store.get(again.token) is None
        signin = SignIn("priya.shah", "/cases", clock.at + timedelta(minutes=5), "nonce-1")
        assert await store.redeem(signin) is True
        assert await store.redeem(signin) is False
        other = SessionStore(db, lifetime=timedelta(hours=1), clock=clock)  # another replica
        assert await other.redeem(signin) is False
    finally:
        await db.dispose()


async def test_middleware_leaves_other_edges_alone(settings: Settings, assistant: Any) -> None:
    """Slack and Teams POST to the same app without our CSRF token: only web.* routes are checked."""
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    app = create_app(settings, services=services)

    async def webhook(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_post("/api/other-edge", webhook)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        response = await client.post("/api/other-edge", data={"x": "1"})
        assert response.status == 200 and "Content-Security-Policy" not in response.headers
        assert (await client.post("/console/ask", data={"text": "hi"})).status == 403
    finally:
        await client.close()
        await services.close()
