"""The bot's own outbound OAuth token (replies and proactive sends with auth on) without blocking the server.

The token endpoint is local: ``FakeTokenEndpoint`` (tests/teams_harness.py) or a ``HangingServer`` that accepts
and never answers; replies reach a ``SigningConnector``, which records each request's Authorization header.

(a) a hanging token endpoint freezes nothing: /healthz stays fast while a message that needs a reply waits
for the token, and the turn then fails cleanly (one WARNING naming the timeout, the turn error logged by class,
a 201, no 5xx, no traceback, one connection for the reply and the error message together), and a proactive
send fails after the timeout with the error class the notifier retries; (b) with a working
endpoint every reply and a proactive send carry ``Bearer <the fake's token>``, fetched once for them all, with
the app id, secret, tenant and scope the Bot Framework expects; (c) the cache: a token near its end is renewed
in the background while the old one is still served; a synchronous caller never fetches.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings
from fake_connector import personal_message
from teams_harness import (
    APP_ID,
    SAM,
    FakeKeys,
    FakeTokenEndpoint,
    HangingServer,
    SigningConnector,
    new_rsa_key,
    running_app,
    secured_settings,
    token,
)

from bot.config import Settings

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # secured_settings' tenant (SingleTenant)
SECRET = "not-a-real-secret"  # secured_settings' app password


@pytest.fixture
def base(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "var", None)


@pytest.fixture
async def keys() -> AsyncIterator[FakeKeys]:
    fake = await FakeKeys({"key-1": new_rsa_key()}).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def connector() -> AsyncIterator[SigningConnector]:
    fake = await SigningConnector().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def endpoint() -> AsyncIterator[FakeTokenEndpoint]:
    fake = await FakeTokenEndpoint().start()
    yield fake
    await fake.stop()


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) > 1 else samples[0]


def signed(keys: FakeKeys, connector: SigningConnector) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(keys.keys['key-1'], service_url=connector.url)}"}


# --- (a) a token endpoint that hangs freezes nothing --------------------------------------------------------


async def test_a_hanging_token_endpoint_freezes_nothing_and_the_turn_fails_cleanly(
    base: Settings,
    assistant: Any,
    keys: FakeKeys,
    connector: SigningConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hanging = await HangingServer().start()
    login_url = hanging.url.rsplit("/", 1)[0]
    settings = secured_settings(base, keys.metadata_url, teams_login_url=login_url, teams_token_timeout=0.5)
    try:
        async with running_app(settings, assistant, connector) as app:
            async with app.http.get(f"{app.url}/healthz") as warm:  # the first request builds its caches
                assert warm.status == 200

            async def message() -> tuple[int, float]:
                started = time.perf_counter()
                response = await app.post(
                    personal_message(connector.url, SAM, "Can I use my own phone?"), **signed(keys, connector)
                )
                return response.status, time.perf_counter() - started

            turn = asyncio.create_task(message())
            # Health checks while the reply waits for the token. The client shares the server's loop, so each
            # sample is a whole round (request, answer and a 10 ms pause): a stalled loop shows up in it.
            health: list[float] = []
            while not turn.done():
                started = time.perf_counter()
                async with app.http.get(f"{app.url}/healthz") as response:
                    await response.read()
                    assert response.status == 200
                await asyncio.sleep(0.01)
                health.append(time.perf_counter() - started - 0.01)
            status, took = await turn
            assert status == 201  # the turn failed cleanly: no 5xx
            assert 0.5 <= took < 0.5 + 2.0, took  # it waited for the token timeout, once
            assert p99(health) < 0.1, health
            assert len(health) >= 20, health
            assert hanging.connections == 1  # the error message did not wait a second timeout
            assert connector.records == []  # nothing was sent unsigned

            # A proactive send (as the notifier makes it) fails the same way, with a ClientRequestError: the
            # class TeamsNotifier answers with "retry later".
            from botbuilder.schema import Activity
            from msrest.exceptions import ClientRequestError

            from bot.channels.teams.auth import app_token_source, make_adapter
            from bot.channels.teams.delivery import Courier

            source = app_token_source(settings)
            assert source is not None
            services = app.services
            courier = Courier(
                adapter=make_adapter(settings, source),
                services=lambda: services,
                app_id=APP_ID,
                tenant_id=TENANT,
                service_url=connector.url,
                bot_id=f"28:{APP_ID}",
            )
            try:
                started = time.perf_counter()
                with pytest.raises(ClientRequestError):
                    await courier.send(SAM.aad, [Activity(type="message", text="A notice")])
                assert 0.5 <= time.perf_counter() - started < 0.5 + 2.0
            finally:
                await source.close()
            assert hanging.connections == 2 and connector.records == []
    finally:
        await hanging.stop()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("teams app token: fetch failed (timeout)" in r.getMessage() for r in warnings), warnings
    assert any("failed: TokenUnavailable" in r.getMessage() for r in warnings), warnings
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.INFO]
    assert SECRET not in caplog.text and "my own phone" not in caplog.text


# --- (b) a working token endpoint: one fetch, every request signed ------------------------------------------


async def test_replies_and_proactive_sends_carry_the_token_fetched_once(
    base: Settings,
    assistant: Any,
    keys: FakeKeys,
    connector: SigningConnector,
    endpoint: FakeTokenEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from botbuilder.schema import Activity

    from bot.channels.teams.auth import app_token_source, make_adapter
    from bot.channels.teams.delivery import Courier

    caplog.set_level(logging.DEBUG)
    settings = secured_settings(base, keys.metadata_url, teams_login_url=endpoint.login_url)
    expected_form = {
        "grant_type": "client_credentials",
        "client_id": APP_ID,
        "client_secret": SECRET,
        "scope": "https://api.botframework.com/.default",
        "tenant": TENANT,
    }
    async with running_app(settings, assistant, connector) as app:
        questions = (
            "Can I use my own phone?",
            "Can I post photos of pupils?",
            "Can I accept a friend request?",
        )
        for n, question in enumerate(questions):
            response = await app.post(
                personal_message(connector.url, SAM, question), **signed(keys, connector)
            )
            assert response.status == 201
            await connector.wait_for(n + 1)
        replies = len(connector.records)
        assert len(connector.messages()) == 3 and connector.of("typing")
        assert connector.authorizations == ["Bearer token-1"] * replies  # typing and replies, one fetch
        assert endpoint.requests == [expected_form]

        # Proactive sends as the notifier makes them (a courier of its own, with its own token source):
        # the chat is created, then posted into, twice; one more fetch for both.
        source = app_token_source(settings)
        assert source is not None
        services = app.services
        courier = Courier(
            adapter=make_adapter(settings, source),
            services=lambda: services,
            app_id=APP_ID,
            tenant_id=TENANT,
            service_url=connector.url,
            bot_id=f"28:{APP_ID}",
        )
        try:
            someone = "0b7c5b0e-2222-4a55-9d2e-6f0000000002"
            await courier.send(someone, [Activity(type="message", text="A notice")])
            await courier.send(someone, [Activity(type="message", text="Another notice")])
        finally:
            await source.close()
        assert len(connector.of("create")) == 1 and len(connector.messages()) == 5
        assert connector.authorizations[replies:] == ["Bearer token-2"] * (len(connector.records) - replies)
        assert endpoint.requests == [expected_form, expected_form]
    assert "token-1" not in caplog.text and SECRET not in caplog.text


# --- (c) the cache --------------------------------------------------------------------------------------------


async def test_a_token_near_its_end_is_renewed_in_the_background(endpoint: FakeTokenEndpoint) -> None:
    from bot.channels.teams.app_token import RENEW_BEFORE_SECONDS, AppTokenSource

    now = [1000.0]
    source = AppTokenSource(
        app_id=APP_ID,
        password=SECRET,
        tenant="botframework.com",
        login_url=endpoint.login_url,
        timeout=2.0,
        clock=lambda: now[0],
    )
    try:
        scope = "https://api.botframework.com"
        assert source.cached(scope) is None
        assert await asyncio.gather(*(source.token(scope) for _ in range(10))) == ["token-1"] * 10
        assert source.fetches == 1  # ten callers, one shared fetch
        now[0] += 3600 - RENEW_BEFORE_SECONDS + 1  # inside the renewal window, not yet expired
        assert await source.token(scope) == "token-1"  # served at once; the renewal runs behind
        for _ in range(100):
            if source.cached(scope) == "token-2":
                break
            await asyncio.sleep(0.01)
        assert await source.token(scope) == "token-2"
        assert source.fetches == 2
        assert endpoint.requests is not None and endpoint.requests[0]["tenant"] == "botframework.com"
    finally:
        await source.close()


async def test_a_synchronous_caller_never_fetches(endpoint: FakeTokenEndpoint) -> None:
    """The SDK's synchronous paths (``signed_session``, ``get_access_token``) read the cache or refuse."""
    import requests

    from bot.channels.teams.app_token import AppTokenCredentials, AppTokenSource, TokenUnavailable

    source = AppTokenSource(
        app_id=APP_ID, password=SECRET, tenant=TENANT, login_url=endpoint.login_url, timeout=2.0
    )
    try:
        credentials = AppTokenCredentials(source, APP_ID, "https://api.botframework.com")
        with pytest.raises(TokenUnavailable):
            credentials.signed_session(requests.Session())
        assert endpoint.requests == [] and source.fetches == 0
        await source.token("https://api.botframework.com")
        session = credentials.signed_session(requests.Session())
        assert session.headers["Authorization"] == "Bearer token-1"
        assert source.fetches == 1
    finally:
        await source.close()
