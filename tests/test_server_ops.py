"""Operations routes on the real app: /healthz, /readyz (200 only when index, database and migrations are
fine; 503 with reasons otherwise), /metrics (per-app registry, database-backed gauges), and the middleware's
clean JSON errors (413, 400 malformed JSON, 415, 404, 405, 500 without a traceback)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conftest import make_settings
from fakes_reports import FakeClock, TcpProxy, WebhookReceiver
from pydantic import SecretStr
from sqlalchemy import select, text

from bot.channels.keys import services_of
from bot.channels.services import Services
from bot.config import Settings
from bot.domain import Channel, Message
from bot.reports import Reporter, Submission
from bot.server import create_app
from bot.server.middleware import read_json
from bot.server.observability import metrics_of
from bot.storage.schema import outbox


async def _client(settings: Settings, assistant: object, clock: FakeClock | None = None) -> TestClient:
    services = await Services.open(settings, assistant=assistant, start_worker=False, clock=clock)  # type: ignore[arg-type]
    app = create_app(settings, services=services)

    async def close(app: web.Application) -> None:
        await services.close()

    app.on_cleanup.append(close)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(settings: Settings, assistant: object, clock: FakeClock) -> AsyncIterator[TestClient]:
    c = await _client(settings, assistant, clock)
    yield c
    await c.close()


async def test_healthz_and_readyz_ready(client: TestClient) -> None:
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()
    assert (await ready.json()) == {"status": "ready"}
    assert re.fullmatch(r"[0-9a-f]{32}", ready.headers["X-Request-Id"])
    mine = await client.get("/readyz", headers={"X-Request-Id": "lb-1234.abc"})
    assert mine.headers["X-Request-Id"] == "lb-1234.abc"


async def test_readyz_503_when_migrations_are_behind(client: TestClient) -> None:
    db = services_of_client(client).reports.db
    async with db.transaction() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0000_older'"))
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unavailable"
    assert body["problems"] == ["database: migrations not current (run `policybot db migrate`)"]
    assert (await client.get("/healthz")).status == 200  # alive, just not ready


@pytest.mark.postgres
async def test_readyz_503_when_the_database_goes_away(pg_url: str, tmp_path: Path, assistant: object) -> None:
    host, port = pg_url.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    url = pg_url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
    c = await _client(make_settings(tmp_path / "var", url), assistant)
    try:
        assert (await c.get("/readyz")).status == 200
        await proxy.cut()
        response = await c.get("/readyz")
        assert response.status == 503
        assert (await response.json())["problems"] == ["database: unreachable"]
        metrics = await (await c.get("/metrics")).text()
        assert "policybot_database_up 0.0" in metrics
        assert (await c.get("/healthz")).status == 200
    finally:
        await c.close()


def services_of_client(client: TestClient) -> Services:
    app = client.server.app
    assert app is not None
    from bot.channels.keys import SERVICES

    return app[SERVICES]


async def test_metrics_counts_requests_replies_cases_and_outbox(
    client: TestClient, assistant: object, clock: FakeClock
) -> None:
    services = services_of_client(client)
    for _ in range(3):
        await client.get("/healthz")
    await client.get("/no/such/route/12345")
    await services.reports.service.submit(
        Submission(category="safeguarding", description="A worrying message to a pupil."),
        Reporter(Channel.LOCAL, "sam.patel", "sam.patel"),
        idempotency_key="ops-1",
    )
    app = client.server.app
    assert app is not None
    await services.assistant.handle(Message("Can I accept a friend request from a parent?"))
    await services.assistant.handle(Message("Someone keeps sending me abusive messages online"))
    clock.advance(seconds=90)  # the oldest undelivered notice is now 90 s old

    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    body = await response.text()
    assert 'policybot_http_requests_total{method="GET",route="/healthz",status="200"} 3.0' in body
    assert 'policybot_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in body
    assert "12345" not in body  # paths never become label values
    assert 'policybot_cases{state="open"} 1.0' in body
    assert 'policybot_cases{state="closed"} 0.0' in body
    assert "policybot_outbox_pending 3.0" in body  # safeguarding: DSL and deputy; the reporter's receipt
    assert "policybot_outbox_oldest_undelivered_seconds 90.0" in body
    assert "policybot_escalations_total 0.0" in body
    assert 'policybot_replies_total{channel="local",kind="answer"} 1.0' in body
    assert 'policybot_replies_total{channel="local",kind="report_offer"} 1.0' in body
    assert 'policybot_answer_latency_seconds_count{channel="local"} 2.0' in body
    assert "policybot_database_up 1.0" in body
    assert "policybot_notices_undelivered 0.0" in body
    assert "policybot_escalation_chains_exhausted 0.0" in body

    await services.reports.worker.run_once()
    body = await (await client.get("/metrics")).text()
    assert "policybot_outbox_pending 0.0" in body
    assert "policybot_outbox_oldest_undelivered_seconds 0.0" in body

    clock.advance(days=10)  # nobody acknowledged: the case goes to the next person in line
    assert await services.reports.service.escalate_due()
    body = await (await client.get("/metrics")).text()
    assert "policybot_escalations_total 1.0" in body
    assert "policybot_outbox_pending 1.0" in body


async def test_each_app_has_its_own_registry(settings: Settings, assistant: object) -> None:
    first = await _client(settings, assistant)
    second = await _client(settings.model_copy(update={"var_dir": settings.var_dir}), assistant)
    try:
        await first.get("/healthz")
        await first.get("/healthz")
        await second.get("/healthz")
        assert first.server.app is not None and second.server.app is not None
        assert metrics_of(first.server.app) is not metrics_of(second.server.app)
        a = await (await first.get("/metrics")).text()
        b = await (await second.get("/metrics")).text()
        assert 'route="/healthz",status="200"} 2.0' in a
        assert 'route="/healthz",status="200"} 1.0' in b
    finally:
        await first.close()
        await second.close()


# --- the middleware's errors ---------------------------------------------------------------------------


@pytest.fixture
async def echo_client(settings: Settings, assistant: object) -> AsyncIterator[TestClient]:
    """The real app plus two routes exercising what edges do: read JSON, and fail unexpectedly."""
    services = await Services.open(settings, assistant=assistant, start_worker=False)  # type: ignore[arg-type]
    app = create_app(settings, services=services)

    async def echo(request: web.Request) -> web.Response:
        assert services_of(request) is services
        return web.json_response(await read_json(request))

    async def raw_json(request: web.Request) -> web.Response:
        return web.json_response(await request.json())  # what a careless handler does

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret message text must not leak")

    app.router.add_post("/test/echo", echo)
    app.router.add_post("/test/raw", raw_json)

    async def form(request: web.Request) -> web.Response:
        fields = await request.post()
        return web.json_response(
            {k: v if isinstance(v, str) else getattr(v, "filename", "") for k, v in fields.items()}
        )

    app.router.add_post("/test/form", form)
    app.router.add_get("/test/broken", broken)
    c = TestClient(TestServer(app))
    await c.start_server()
    yield c
    await c.close()
    await services.close()


async def test_bad_input_gets_clean_json_4xx(echo_client: TestClient) -> None:
    c = echo_client
    ok = await c.post("/test/echo", json={"a": 1})
    assert ok.status == 200 and (await ok.json()) == {"a": 1}
    good_form = aiohttp.FormData({"name": "value"})
    good_form.add_field("file", b"bytes", filename="f.txt")  # forces multipart
    parsed = await c.post("/test/form", data=good_form)  # parsed once by the middleware, read by the handler
    assert parsed.status == 200 and (await parsed.json())["name"] == "value"

    cases = [
        (c.post("/test/echo", data=b"{not json", headers={"Content-Type": "application/json"}), 400),
        (c.post("/test/echo", data=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400),
        (c.post("/test/echo", json=[1, 2]), 400),
        (
            c.post("/test/echo", data=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}),
            415,
        ),
        (c.post("/test/raw", data=b"{oops", headers={"Content-Type": "application/json"}), 400),
        (
            c.post("/test/form", data=b"junk", headers={"Content-Type": "multipart/form-data; boundary=zz"}),
            400,
        ),
        (c.post("/test/form", data=b"junk", headers={"Content-Type": "multipart/form-data"}), 400),
        (c.get("/nowhere"), 404),
        (c.post("/healthz", data=b"x"), 405),
        (c.delete("/metrics"), 405),
    ]
    for request, status in cases:
        response = await request
        assert response.status == status, (status, await response.text())
        body = await response.json()
        assert body["status"] == status and body["error"] and body["request_id"]
    response = await c.post("/healthz")
    assert response.headers["Allow"] == "GET,HEAD"


async def test_oversized_bodies_get_413(echo_client: TestClient) -> None:
    big = b"x" * (1024 * 1024 + 1)
    declared = await echo_client.post("/test/echo", data=big, headers={"Content-Type": "application/json"})
    assert declared.status == 413 and (await declared.json())["status"] == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: caught while the handler reads
        for _ in range(20):
            yield b"[" * 65536

    streamed = await echo_client.post(
        "/test/echo", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status == 413
    exactly = await echo_client.post(
        "/test/echo",
        data=b'{"a":"' + b"y" * (1024 * 1024 - 8) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert exactly.status == 200  # 1 MB itself is allowed


async def test_unexpected_errors_are_500_without_a_traceback(echo_client: TestClient) -> None:
    response = await echo_client.get("/test/broken")
    assert response.status == 500
    body = await response.text()
    assert "Traceback" not in body and "secret message" not in body and "RuntimeError" not in body
    assert (await response.json())["error"] == "internal error"


async def test_shutdown_leaves_undelivered_notices_in_the_outbox(
    settings: Settings, assistant: object
) -> None:
    """Closing (what SIGTERM does after in-flight requests finish) stops the worker after the notice in hand;
    the rest stay pending for the next worker, none is lost or half-sent."""

    receiver = WebhookReceiver(secret="shutdown-secret", delay=0.3)
    await receiver.start()
    settings = settings.model_copy(
        update={
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr("shutdown-secret"),
            "delivery_batch": 1,
            "worker_poll_seconds": 0.05,
        }
    )
    services = await Services.open(settings, assistant=assistant, start_worker=False)  # type: ignore[arg-type]
    try:
        for i in range(6):
            await services.reports.service.submit(
                Submission(category="safeguarding", description=f"Concern number {i}."),
                Reporter(Channel.LOCAL, "sam.patel", "sam.patel"),
                idempotency_key=f"shutdown-{i}",
            )
        services.reports.start_worker()
        await receiver.wait_for(1, timeout=30)
    finally:
        started = asyncio.get_running_loop().time()
        await services.close()
        took = asyncio.get_running_loop().time() - started
        await receiver.stop()
    assert took < 3, took  # not draining eighteen notices at 0.3 s each
    check = await Services.open(settings, assistant=assistant, start_worker=False)  # type: ignore[arg-type]
    try:
        async with check.reports.db.transaction() as conn:
            rows = (await conn.execute(select(outbox.c.status, outbox.c.claimed_until))).all()
    finally:
        await check.close()
    delivered = [r for r in rows if r.status == "delivered"]
    pending = [r for r in rows if r.status == "pending"]
    # two recipients and the reporter's confirmation per case
    assert len(rows) == 18 and len(delivered) == sum(receiver.delivered.values()) >= 1
    assert len(pending) == 18 - len(delivered) >= 14
    assert all(r.claimed_until is None for r in pending), "no notice is left claimed by a stopped worker"
