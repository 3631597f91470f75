"""Teams token checking without blocking the server: the signing keys come from a local OpenID metadata + JWKS
fake (tests/teams_harness.py ``FakeKeys``) or from an endpoint that accepts and never answers.

(a) a hanging key endpoint freezes nothing: /healthz and signed Slack acks stay fast while forged tokens get
401 promptly, with one fetch in all; (b) a token signed by the published key is accepted (the SDK's own
validation runs on our cached keys, offline) and forgeries are 401 with one WARNING and no traceback; (c) the
cache: one fetch for many tokens, a failure remembered, a background refresh that picks up a rotated key;
(d) no callback on the loop takes longer than 50 ms (asyncio debug mode) while Slack, Teams and web are driven.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp import ClientSession
from conftest import make_settings
from fake_connector import BOT, FakeConnector, TeamsUser, personal_message
from fake_slack import FakeSlack, signed_headers, slash_command
from slack_harness import SIGNING_SECRET, slack_settings
from teams_harness import (
    APP_ID,
    SAM,
    FakeKeys,
    HangingServer,
    new_rsa_key,
    running_app,
    secured_settings,
    token,
)

from bot.config import Settings

SERVICE_URL = "http://127.0.0.1:9/"  # never contacted: the activities below need no reply


def channel_join(service_url: str = SERVICE_URL) -> dict[str, Any]:
    """A conversationUpdate in a team channel where someone else joined: a real turn that sends nothing."""
    other = TeamsUser("New Starter", "0b7c5b0e-1111-4a55-9d2e-6f0000000001")
    return {
        "type": "conversationUpdate",
        "id": "f:join-1",
        "timestamp": "2026-11-26T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": SAM.account(),
        "conversation": {"isGroup": True, "conversationType": "channel", "id": "19:general@thread.tacv2"},
        "recipient": dict(BOT),
        "membersAdded": [other.account()],
        "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}},
    }


@pytest.fixture
def base(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "var", None)


@pytest.fixture
async def keys() -> AsyncIterator[FakeKeys]:
    fake = await FakeKeys({"key-1": new_rsa_key()}).start()
    yield fake
    await fake.stop()


async def post(app: Any, body: dict[str, Any], auth: str | None) -> int:
    headers = {"Authorization": auth} if auth is not None else {}
    return (await app.post(body, **headers)).status


# --- (b) valid and forged tokens --------------------------------------------------------------------------


async def test_a_signed_token_is_accepted_and_forgeries_are_401(
    base: Settings, assistant: Any, keys: FakeKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = keys.keys["key-1"]
    other = new_rsa_key()
    body = channel_join()
    async with running_app(secured_settings(base, keys.metadata_url), assistant, None) as app:
        good = token(key, service_url=SERVICE_URL)
        assert await post(app, body, f"Bearer {good}") == 201
        forgeries = {
            "other key, same kid": token(other, service_url=SERVICE_URL),
            "unknown kid": token(other, kid="key-9", service_url=SERVICE_URL),
            "wrong audience": token(key, audience="someone-else", service_url=SERVICE_URL),
            "wrong issuer": token(key, issuer="https://sts.windows.net/x/", service_url=SERVICE_URL),
            "expired": token(key, expires_in=-3600, service_url=SERVICE_URL),
            "other serviceUrl": token(key, service_url="https://smba.trafficmanager.net/amer/"),
            "HS256 with the public key": jwt.encode(
                {"iss": "https://api.botframework.com", "aud": APP_ID, "exp": int(time.time()) + 600},
                "a-shared-secret-that-is-long-enough-0123456789",
                algorithm="HS256",
                headers={"kid": "key-1"},
            ),
            "alg none": jwt.encode(
                {"iss": "https://api.botframework.com", "aud": APP_ID, "exp": int(time.time()) + 600},
                None,
                algorithm="none",
                headers={"kid": "key-1"},
            ),
        }
        for name, forged in forgeries.items():
            caplog.clear()
            assert await post(app, body, f"Bearer {forged}") == 401, name
            warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(warnings) == 1 and "refused (401)" in warnings[0].getMessage(), (name, warnings)
            assert not any(r.exc_info for r in caplog.records), name
            assert forged not in caplog.text and forged[:20] not in caplog.text
        for header in (
            "Bearer garbage",
            "Bearer a.b.c",
            "Basic dXNlcjpwdw==",
            "Bearer",
            "",
            f"bearer {good}",
        ):
            assert await post(app, body, header) == 401, header
        assert await post(app, body, None) == 401
        # The good token for another activity's serviceUrl is refused by the SDK's own check.
        assert await post(app, channel_join("http://127.0.0.1:10/"), f"Bearer {good}") == 401
        assert await post(app, body, f"Bearer {good}") == 201
        assert keys.hits == {"metadata": 1, "jwks": 1}
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_key_without_the_channel_endorsement_is_refused(base: Settings, assistant: Any) -> None:
    keys = await FakeKeys({"key-1": new_rsa_key()}, endorsements=("skype",)).start()
    try:
        async with running_app(secured_settings(base, keys.metadata_url), assistant, None) as app:
            good = token(keys.keys["key-1"], service_url=SERVICE_URL)
            assert await post(app, channel_join(), f"Bearer {good}") == 401
    finally:
        await keys.stop()


# --- (c) the cache --------------------------------------------------------------------------------------


async def test_one_fetch_for_many_tokens_and_unknown_keys_do_not_refetch(
    base: Settings, assistant: Any, keys: FakeKeys
) -> None:
    key = keys.keys["key-1"]
    async with running_app(secured_settings(base, keys.metadata_url), assistant, None) as app:
        statuses = await asyncio.gather(
            *(post(app, channel_join(), f"Bearer {token(key, service_url=SERVICE_URL)}") for _ in range(20))
        )
        assert statuses == [201] * 20
        forged = [token(new_rsa_key(), kid=f"k{i}", service_url=SERVICE_URL) for i in range(3)]
        for i in range(30):
            assert await post(app, channel_join(), f"Bearer {forged[i % 3]}") == 401
        assert keys.hits == {"metadata": 1, "jwks": 1}


async def test_a_failed_fetch_is_remembered(base: Settings, assistant: Any, keys: FakeKeys) -> None:
    keys.mode = "fail"
    forged = token(new_rsa_key(), service_url=SERVICE_URL)
    async with running_app(secured_settings(base, keys.metadata_url), assistant, None) as app:
        statuses = await asyncio.gather(*(post(app, channel_join(), f"Bearer {forged}") for _ in range(50)))
        assert set(statuses) == {401}
        keys.mode = "ok"  # recovered, but the failure is remembered for teams_keys_retry_seconds (30 s)
        good = token(keys.keys["key-1"], service_url=SERVICE_URL)
        assert await post(app, channel_join(), f"Bearer {good}") == 401
        assert keys.hits == {"metadata": 1, "jwks": 0}


async def test_a_failed_fetch_is_retried_in_the_background(
    base: Settings, assistant: Any, keys: FakeKeys
) -> None:
    settings = secured_settings(base, keys.metadata_url, teams_keys_retry_seconds=0.3)
    keys.mode = "fail"
    good = token(keys.keys["key-1"], service_url=SERVICE_URL)
    async with running_app(settings, assistant, None) as app:
        assert await post(app, channel_join(), f"Bearer {good}") == 401
        keys.mode = "ok"  # the endpoint recovers: the background retry loads the keys, no request waiting
        await asyncio.sleep(1.0)
        assert (keys.hits or {})["jwks"] >= 1
        before = dict(keys.hits or {})
        assert await post(app, channel_join(), f"Bearer {good}") == 201
        assert keys.hits == before  # answered from the cache the background loaded


async def test_a_rotated_key_is_picked_up_by_the_background_refresh(
    base: Settings, assistant: Any, keys: FakeKeys
) -> None:
    # retry 60 s: an unknown key id cannot trigger a fetch of its own, so only the refresh can load key-2.
    settings = secured_settings(
        base, keys.metadata_url, teams_keys_refresh_seconds=0.3, teams_keys_retry_seconds=60
    )
    async with running_app(settings, assistant, None) as app:
        good = token(keys.keys["key-1"], service_url=SERVICE_URL)
        assert await post(app, channel_join(), f"Bearer {good}") == 201
        keys.keys["key-2"] = new_rsa_key()
        rotated = token(keys.keys["key-2"], kid="key-2", service_url=SERVICE_URL)
        assert await post(app, channel_join(), f"Bearer {rotated}") == 401  # not known yet, no fetch
        assert keys.hits == {"metadata": 1, "jwks": 1}
        await asyncio.sleep(1.0)
        assert (keys.hits or {})["jwks"] >= 2
        assert await post(app, channel_join(), f"Bearer {rotated}") == 201


# --- (a) a key endpoint that hangs freezes nothing ------------------------------------------------------


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) > 1 else samples[0]


async def slack_ack(app: Any, fake: FakeSlack, text: str, n: int) -> float:
    """Post one signed slash command; the seconds until its ack (asserting it was a 200)."""
    body = slash_command(text, user="U0SAM0001", response_url=fake.response_url(f"r{n}"))
    started = time.perf_counter()
    async with app.http.post(
        f"{app.url}/slack/events", data=body, headers=signed_headers(SIGNING_SECRET, body)
    ) as response:
        await response.read()
        assert response.status == 200
    return time.perf_counter() - started


async def timed_get(app: Any, path: str) -> float:
    started = time.perf_counter()
    async with app.http.get(f"{app.url}{path}") as response:
        await response.read()
        assert response.status == 200
    return time.perf_counter() - started


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = await FakeSlack().start()
    yield slack
    await slack.close()


async def test_a_hanging_key_endpoint_freezes_nothing(
    tmp_path: Path, assistant: Any, fake: FakeSlack
) -> None:
    hanging = await HangingServer().start()
    settings = secured_settings(
        slack_settings(tmp_path / "var", None, fake), hanging.url, teams_keys_timeout=0.5
    )
    forged = token(new_rsa_key(), service_url=SERVICE_URL)  # well formed, right issuer and audience
    try:
        async with running_app(settings, assistant, None) as app:
            await slack_ack(app, fake, "help", 0)  # warm up: the first request builds what it caches
            await fake.wait_for("response_url", 1)

            async def forged_request() -> float:
                started = time.perf_counter()
                assert await post(app, channel_join(), f"Bearer {forged}") == 401
                return time.perf_counter() - started

            first_wave = asyncio.gather(*(forged_request() for _ in range(20)))
            health: list[float] = []
            acks: list[float] = []
            for n in range(60):  # while the fetch hangs and after: health checks and Slack acks
                health.append(await timed_get(app, "/healthz"))
                acks.append(await slack_ack(app, fake, "help", n + 1))
                await asyncio.sleep(0.01)
            waits = await first_wave
            later = [await forged_request() for _ in range(50)]
            # Each waited for the one shared fetch at most, which gave up at its 0.5 s timeout (1.5 s of slack:
            # these 20 share the loop with 120 health checks and acks on a busy 2-core CI machine; a hang is
            # unbounded).
            assert max(waits) < 0.5 + 1.5, waits
            assert p99(later) < 0.1, later  # the failure is remembered: refused at once
            assert p99(health) < 0.1, health
            assert p99(acks) < 0.1, acks
            assert hanging.connections == 1  # one fetch for all 70 forged tokens
    finally:
        await hanging.stop()


def test_the_sdk_reads_keys_from_our_source_never_its_own() -> None:
    """After mounting, the SDK's channel metadata is our source (no blocking ``requests.get``)."""
    from botframework.connector.auth import AuthenticationConstants
    from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor, _OpenIdMetadata

    from bot.channels.teams.signing_keys import KeySource, install_in_sdk

    source = KeySource("http://127.0.0.1:9/metadata", timeout=1, refresh_seconds=60, retry_seconds=60)
    install_in_sdk(source)
    metadata = JwtTokenExtractor.get_open_id_metadata(
        AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    )
    assert not isinstance(metadata, _OpenIdMetadata)
    assert metadata._source is source


# --- (d) nothing blocks the loop ------------------------------------------------------------------------


class SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing") and " took " in message:
            self.seen.append(message)


async def test_no_handler_blocks_the_event_loop(
    tmp_path: Path, assistant: Any, fake: FakeSlack, keys: FakeKeys
) -> None:
    """asyncio debug mode logs every callback that runs longer than ``slow_callback_duration``: drive Slack,
    Teams (dev mode with replies, and with auth: key fetch, valid and forged tokens) and web routes."""
    connector = await FakeConnector().start()
    loop = asyncio.get_running_loop()
    watcher = SlowCallbacks()
    asyncio_log = logging.getLogger("asyncio")
    dev = slack_settings(tmp_path / "dev", None, fake).model_copy(
        update={"teams_dev": True, "teams_service_url": connector.url}
    )
    # retry 10 ms: every unknown key id below makes a real fetch of metadata and keys in debug mode
    secured = secured_settings(
        make_settings(tmp_path / "secured", None), keys.metadata_url, teams_keys_retry_seconds=0.01
    )
    key = keys.keys["key-1"]
    try:
        async with (
            running_app(dev, assistant, connector) as app,
            running_app(secured, assistant, None) as auth,
        ):
            # Warm up outside debug mode: the first use of each path loads or compiles what it caches.
            await slack_ack(app, fake, "Can I accept a friend request from a parent?", 0)
            await fake.wait_for("response_url", 1)
            assert (
                await app.post(personal_message(connector.url, SAM, "Can I use my own phone?"))
            ).status == 201
            assert await post(auth, channel_join(), f"Bearer {token(key, service_url=SERVICE_URL)}") == 201
            keys.keys["key-2"] = new_rsa_key()
            async with ClientSession() as http:
                for path in ("/healthz", "/readyz", "/metrics"):
                    await http.get(f"{app.url}{path}")

            forgers = [new_rsa_key() for _ in range(3)]  # key generation is the test's own slow work
            asyncio_log.addHandler(watcher)
            loop.set_debug(True)
            # 250 ms: far above what the GIL costs a step on two busy cores (~0.1 s seen under the full suite),
            # far below a blocking fetch: the fake key server runs on this same loop, so a blocking fetch could
            # never be answered and would stall until its timeout.
            loop.slow_callback_duration = 0.25
            try:
                for n in range(3):
                    await slack_ack(app, fake, "Can I accept a friend request from a parent?", n + 1)
                    await fake.wait_for("response_url", n + 2)
                    message = personal_message(connector.url, SAM, "Can I post photos of pupils?")
                    assert (await app.post(message)).status == 201
                    assert (
                        await post(auth, channel_join(), f"Bearer {token(key, service_url=SERVICE_URL)}")
                        == 201
                    )
                    forged = token(forgers[n], kid=f"forged-{n}", service_url=SERVICE_URL)
                    assert await post(auth, channel_join(), f"Bearer {forged}") == 401
                    assert await post(auth, channel_join(), "Bearer a.b.c") == 401
                    for path in ("/healthz", "/readyz", "/metrics"):
                        await timed_get(app, path)
                await asyncio.sleep(0.2)
                seen = list(watcher.seen)
                # The detector itself works: a callback that blocks for 260 ms is reported.
                loop.call_soon(time.sleep, 0.26)
                await asyncio.sleep(0.05)
                assert len(watcher.seen) == len(seen) + 1
            finally:
                loop.set_debug(False)
                asyncio_log.removeHandler(watcher)
    finally:
        await connector.stop()
    assert keys.hits is not None and keys.hits["jwks"] >= 4  # fetches happened while debug mode watched
    assert not seen, seen
