"""Property-based fuzzing of ``POST /api/messages`` on the real app (real services, real assistant, replies to a
FakeConnector): with auth on (keys from a local JWKS; forged, expired, wrong-issuer and wrong-audience tokens,
garbage headers) and in dev mode (POLICYBOT_TEAMS_DEV, no auth: structurally broken Activities reach the
shape checks and valid ones run real turns). Over 5,000 requests; no answer may be 5xx or carry a traceback,
every refusal has the fixed JSON error body, and no traceback reaches the log."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import ClientSession
from conftest import make_settings
from fake_connector import FakeConnector, personal_message
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from teams_harness import APP_ID, SAM, FakeKeys, new_rsa_key, running_app, secured_settings, token

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

BATCH = 4  # requests per example, sent concurrently
EXAMPLES = 1_300  # x BATCH > 5,000 requests
TOKEN_SERVICE_URL = (
    "http://127.0.0.1:9/token-only/"  # a valid token's serviceurl claim: no activity matches it
)
ALLOWED = {200, 201, 400, 401, 413, 415}


@dataclass
class Target:
    secured_url: str = ""
    dev_url: str = ""
    connector_url: str = ""
    http: ClientSession | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    #: Log records at INFO or above that carry a traceback (none may).
    tracebacks: list[str] = field(default_factory=list)


class TracebackCatcher(logging.Handler):
    def __init__(self, target: Target) -> None:
        super().__init__(logging.INFO)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.stack_info or "Traceback" in record.getMessage():
            self.target.tracebacks.append(f"{record.name}: {record.getMessage()[:200]}")


TARGET = Target()


def with_header(signed: str, head: dict[str, Any]) -> str:
    """The token with its header swapped (what PyJWT refuses to make: a kid that is not a string)."""
    encoded = base64.urlsafe_b64encode(json.dumps(head).encode()).rstrip(b"=").decode()
    return ".".join([encoded, *signed.split(".")[1:]])


@pytest.fixture(scope="module")
async def target(tmp_path_factory: pytest.TempPathFactory, assistant: Any) -> AsyncIterator[Target]:
    keys = await FakeKeys({"key-1": new_rsa_key()}).start()
    connector = await FakeConnector().start()
    var = tmp_path_factory.mktemp("fuzz-teams")
    secured = secured_settings(make_settings(var / "secured", None), keys.metadata_url)
    dev = make_settings(var / "dev", None).model_copy(
        update={"teams_dev": True, "teams_service_url": connector.url}
    )
    key, other = keys.keys["key-1"], new_rsa_key()
    now = int(time.time())
    claims = {"iss": "https://api.botframework.com", "aud": APP_ID, "exp": now + 3600}
    TARGET.tokens = {
        "valid": token(key, service_url=TOKEN_SERVICE_URL),
        "other key": token(other, service_url=TOKEN_SERVICE_URL),
        "unknown kid": token(other, kid="nope", service_url=TOKEN_SERVICE_URL),
        "wrong issuer": token(key, issuer="https://sts.windows.net/evil/", service_url=TOKEN_SERVICE_URL),
        "wrong audience": token(key, audience="another-bot", service_url=TOKEN_SERVICE_URL),
        "expired": token(key, expires_in=-7200, service_url=TOKEN_SERVICE_URL),
        "alg none": jwt.encode(claims, None, algorithm="none", headers={"kid": "key-1"}),
        "HS256": jwt.encode(claims, "k" * 40, algorithm="HS256", headers={"kid": "key-1"}),
        "kid not a string": with_header(token(key), {"alg": "RS256", "typ": "JWT", "kid": 7}),
        "no exp": jwt.encode({**claims, "exp": None}, key, algorithm="RS256", headers={"kid": "key-1"}),
    }
    async with (
        running_app(secured, assistant, connector) as secured_app,
        running_app(dev, assistant, connector) as dev_app,
    ):
        TARGET.secured_url, TARGET.dev_url = secured_app.url, dev_app.url
        TARGET.connector_url = connector.url
        TARGET.http = secured_app.http
        catcher = TracebackCatcher(TARGET)
        logging.getLogger().addHandler(catcher)
        try:
            yield TARGET
        finally:
            logging.getLogger().removeHandler(catcher)
    await connector.stop()
    await keys.stop()


# --- strategies ------------------------------------------------------------------------------------------

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12).filter(lambda t: "://" not in t),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
SERVICE = "<connector>"  # replaced by the fake connector's URL when sent


def either(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right kind of value, sometimes junk of any type."""
    return st.one_of(good, good, good, junk)


account = st.fixed_dictionaries(
    {"id": either(st.sampled_from([SAM.id, "29:x", ""]))},
    optional={"name": either(st.text(max_size=10)), "aadObjectId": either(st.sampled_from([SAM.aad, "x"]))},
)
conversation = st.fixed_dictionaries(
    {"id": either(st.sampled_from([SAM.chat, "19:c@thread.tacv2;messageid=1", ""]))},
    optional={
        "conversationType": either(st.sampled_from(["personal", "channel", "groupChat"])),
        "isGroup": either(st.booleans()),
        "tenantId": either(st.just("72f988bf-86f1-41af-91ab-2d7cd011db47")),
    },
)
activity = st.fixed_dictionaries(
    {
        "type": either(
            st.sampled_from(["message", "conversationUpdate", "invoke", "typing", "event", "messageReaction"])
        ),
        "serviceUrl": either(st.sampled_from([SERVICE, "", "not a url", "ftp://127.0.0.1/", "http://"])),
        "from": either(account),
        "conversation": either(conversation),
        "recipient": either(account),
    },
    optional={
        "id": either(st.text(max_size=8)),
        "channelId": either(st.sampled_from(["msteams", "emulator", ""])),
        "text": either(st.sampled_from(["help", "Can I accept a friend request?", "report", ""])),
        "name": either(st.sampled_from(["adaptiveCard/action", "message/submitAction", "task/fetch", "x"])),
        "value": junk,
        "channelData": either(st.fixed_dictionaries({}, optional={"tenant": junk})),
        "entities": either(st.lists(st.fixed_dictionaries({"type": either(st.just("mention"))}), max_size=2)),
        "attachments": either(st.lists(junk, max_size=2)),
        "membersAdded": either(st.lists(account, max_size=2)),
        "timestamp": either(st.sampled_from(["2026-11-26T10:00:00.000Z", "garbage"])),
        "replyToId": either(st.text(max_size=8)),
    },
)
body = st.one_of(
    activity.map(lambda a: json.dumps(a).encode()),
    activity.map(lambda a: json.dumps(a).encode()),
    junk.map(lambda j: json.dumps(j).encode()),
    st.binary(max_size=200),
    st.just(b"[" * 50_000 + b"]" * 50_000),
    st.just(b'{"type": "message", "text": "' + b"x" * (1024 * 1024) + b'"}'),  # over the 1 MB limit: 413
)
header = st.one_of(
    st.none(),
    st.sampled_from(["Bearer garbage", "Bearer a.b.c", "Bearer", "Basic dXNlcjpwdw==", "Bearer ..", ""]),
    st.sampled_from(["valid", "other key", "unknown kid", "wrong issuer", "wrong audience", "expired"]),
    st.sampled_from(["alg none", "HS256", "kid not a string", "no exp"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(
        lambda t: "Bearer " + t
    ),
)
content_type = st.sampled_from(
    ["application/json"] * 4 + ["text/plain", "application/json; charset=utf-8", ""]
)
request = st.tuples(st.booleans(), header, content_type, body)  # (secured?, header, content type, body)


async def send(target: Target, secured: bool, auth: str | None, ctype: str, raw: bytes) -> None:
    assert target.http is not None
    raw = raw.replace(SERVICE.encode(), target.connector_url.encode())
    headers = {"Content-Type": ctype} if ctype else {}
    if auth is not None:
        headers["Authorization"] = f"Bearer {target.tokens[auth]}" if auth in target.tokens else auth
    url = (target.secured_url if secured else target.dev_url) + "/api/messages"
    async with target.http.post(url, data=raw, headers=headers) as response:
        payload = await response.read()
    target.statuses[response.status] += 1
    if response.status not in ALLOWED or b"Traceback" in payload:
        target.failures.append(f"{response.status} secured={secured} auth={auth!r:.30} body={raw[:160]!r}")
    elif response.status >= 400:
        error = json.loads(payload)
        if set(error) != {"error", "status", "request_id"} or error["status"] != response.status:
            target.failures.append(f"{response.status} unexpected error body {payload[:120]!r}")


def broken(**changes: Any) -> bytes:
    base = personal_message(SERVICE, SAM, "Can I accept a friend request from a parent?")
    return json.dumps({**base, **changes}).encode()


GOOD = json.dumps(personal_message(SERVICE, SAM, "help")).encode()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(batch=st.lists(request, min_size=BATCH, max_size=BATCH))
@example(batch=[(True, "Bearer garbage", "application/json", GOOD)] * BATCH)
@example(batch=[(True, "Bearer a.b.c", "application/json", GOOD)] * BATCH)
@example(batch=[(True, "valid", "application/json", broken(**{"from": "Sam"}))] * BATCH)
@example(batch=[(True, "valid", "application/json", broken(conversation=42))] * BATCH)
@example(batch=[(False, None, "application/json", broken(**{"from": "Sam"}))] * BATCH)
@example(batch=[(False, None, "application/json", broken(conversation=42))] * BATCH)
@example(batch=[(False, "Bearer garbage", "application/json", broken(conversation=42))] * BATCH)
@example(batch=[(False, "Bearer a.b.c", "application/json", GOOD)] * BATCH)
@example(
    batch=[
        (True, s, "application/json", GOOD)
        for s in ("wrong issuer", "wrong audience", "expired", "other key")
    ]
)
async def test_api_messages_never_answers_5xx(
    target: Target, batch: list[tuple[bool, str | None, str, bytes]]
) -> None:
    await asyncio.gather(*(send(target, *one) for one in batch))
    assert not target.failures, target.failures[:20]


async def test_fuzz_totals(target: Target) -> None:
    """After the property test: it really sent over 5,000 requests, reached every kind of answer, and no
    traceback reached the log at INFO or above."""
    total = sum(target.statuses.values())
    print(f"teams fuzz statuses: {dict(sorted(target.statuses.items()))}")
    assert total >= 5_000, total
    assert {201, 400, 401, 413, 415} <= set(target.statuses), target.statuses
    assert not target.failures
    assert not target.tracebacks, target.tracebacks[:10]
