"""Fuzz the real app (real services, real assistant) with more than 5,000 malformed or random requests:
random methods, known and unknown paths, random bodies and content types, bad JSON, absurd nesting, form
junk, huge headers and bodies, broken percent-encoding, plus raw malformed HTTP on a socket. Nothing may
answer 5xx, every error body is JSON without a traceback, and /healthz still answers afterwards."""

from __future__ import annotations

import asyncio
import json
import random
import string
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import make_settings
from yarl import URL

from bot.channels.services import Services
from bot.server import create_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

REQUESTS = 5_200
RAW_REQUESTS = 300
SEED = 20261126
#: Routes of every edge, mounted or not on this branch (unmounted ones must answer a clean 404).
EDGE_PATHS = ["/", "/slack/events", "/api/messages", "/console", "/cases", "/reports", "/static/x.css"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-16",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=zzz",
    "multipart/form-data",
    "text/plain",
    "application/xml",
    "a/b;;;=",
    "",
]


def random_text(rng: random.Random, n: int) -> str:
    alphabet = string.printable + "éß漢😀\u202e\x00"
    return "".join(rng.choice(alphabet) for _ in range(n))


def random_body(rng: random.Random) -> bytes:
    kind = rng.randrange(12)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 4096))
    if kind == 1:
        return b'{"type": "event_callback", "event": {"text": ' + random_text(rng, 50).encode()
    if kind == 2:
        depth = rng.choice([100, 5_000, 200_000])
        return b"[" * depth + b"]" * depth
    if kind == 3:
        return ("&".join(f"{random_text(rng, 5)}={random_text(rng, 20)}" for _ in range(20))).encode()
    if kind == 4:
        return b'--zzz\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + rng.randbytes(
            100
        )  # unterminated
    if kind == 5:
        return json.dumps({"type": "message", "text": random_text(rng, 200), "from": None}).encode()
    if kind == 6:
        return json.dumps(rng.choice([[], 1, "x", None, {"a": [1, {"b": None}]}])).encode()
    if kind == 7:
        return b"\xff\xfe\x00{" + rng.randbytes(30)
    if kind == 8:
        return b"payload=" + random_text(rng, 300).encode("utf-8", "replace")
    if kind == 9:
        return b"x" * (1024 * 1024 + rng.randrange(1, 5000))  # over the limit: 413
    if kind == 10:
        return b'{"a": 1e999999, "b": "\\ud800"}'
    return b""


def random_path(rng: random.Random, known: list[str]) -> str:
    kind = rng.randrange(6)
    if kind < 3:
        path = rng.choice(known)
    elif kind == 3:
        path = "/" + "/".join(random_text(rng, rng.randrange(1, 12)) for _ in range(rng.randrange(1, 5)))
        path = quote(path, safe="/")
    elif kind == 4:
        path = rng.choice(known) + rng.choice(["/", "/..", "/%zz", "%00", "/" + "a" * 3000, ";x=1"])
    else:
        path = rng.choice(["//", "/..%2f..%2fetc/passwd", "/%", "/%e9", "/metrics/../readyz"])
    if rng.random() < 0.3:
        path += "?" + rng.choice(
            [
                "%zz=1",
                "a=" + "b" * 5000,
                "x=%00&y",
                "&&&==",
                "q=" + quote(random_text(rng, 10), safe=""),
            ]
        )
    return path


def random_headers(rng: random.Random) -> dict[str, str]:
    headers: dict[str, str] = {}
    content_type = rng.choice(CONTENT_TYPES)
    if content_type:
        headers["Content-Type"] = content_type
    roll = rng.random()
    if roll < 0.05:
        headers["X-Huge"] = "h" * rng.choice([9_000, 20_000, 70_000])  # over aiohttp's 8190-byte field limit
    elif roll < 0.1:
        headers.update({f"X-Many-{i}": "v" for i in range(rng.choice([50, 150]))})
    elif roll < 0.2:
        headers["X-Request-Id"] = rng.choice(["", "x" * 500, "../../etc", "ok-id-1"])
    if rng.random() < 0.1:
        headers["X-Slack-Signature"] = "v0=" + rng.randbytes(32).hex()
        headers["X-Slack-Request-Timestamp"] = str(rng.randrange(0, 2**33))
    if rng.random() < 0.1:
        headers["Authorization"] = "Bearer " + random_text(rng, 40).strip().replace("\n", "")
    # Only what a client library will put on the wire (it refuses control characters itself).
    return {k: "".join(c for c in v if " " <= c <= "~") for k, v in headers.items()}


async def test_fuzz_never_5xx(tmp_path: Path, assistant: Any) -> None:
    settings = make_settings(tmp_path / "var", None)
    services = await Services.open(settings, assistant=assistant, start_worker=False)
    app = create_app(settings, services=services)
    known = sorted(
        {r.canonical.replace("{", "").replace("}", "") for r in app.router.resources()} | set(EDGE_PATHS)
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    rng = random.Random(SEED)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    disconnects = 0
    semaphore = asyncio.Semaphore(16)

    async def one(method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        nonlocal disconnects
        async with semaphore:
            try:
                async with client.session.request(
                    method,
                    URL(
                        f"http://{client.host}:{client.port}{path}", encoded=True
                    ),  # the path exactly as made
                    data=body or None,
                    headers=headers,
                    allow_redirects=False,
                ) as response:
                    payload = await response.read()
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientResponseError):
                # The server may close after refusing an oversized request, and aiohttp's client cannot parse
                # the server's 400 for too many headers; the raw-socket requests below read those statuses.
                disconnects += 1
                return
            statuses[response.status] += 1
            if response.status >= 500 or b"Traceback" in payload:
                failures.append(f"{method} {path[:80]} {headers.get('Content-Type')} -> {response.status}")
            elif response.status >= 400 and method != "HEAD" and response.content_type == "application/json":
                body = json.loads(payload)  # edges may use their own shape; an "error" is the contract
                if "error" not in body or body.get("status", response.status) != response.status:
                    failures.append(f"{method} {path[:80]} -> {response.status} with body {payload[:100]!r}")

    try:
        jobs = []
        for _ in range(REQUESTS):
            method = rng.choice(METHODS)
            body = random_body(rng) if method not in ("GET", "HEAD") or rng.random() < 0.1 else b""
            jobs.append(one(method, random_path(rng, known), body, random_headers(rng)))
        await asyncio.gather(*jobs)
        raw = await raw_requests(client.host, client.port, rng)
        health = await client.get("/healthz")
        assert health.status == 200 and (await health.json()) == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status == 200
    finally:
        await client.close()
        await services.close()

    print(f"fuzz statuses: {dict(sorted(statuses.items()))}; disconnects: {disconnects}; raw: {dict(raw)}")
    assert not failures, failures[:40]
    assert not [s for s in raw if s >= 500], raw
    assert raw[400] >= 2 * 8, raw  # each malformed request above is answered 400 (twice each)
    assert sum(statuses.values()) + disconnects == REQUESTS
    assert disconnects < REQUESTS * 0.05, "most requests must get an answer"
    assert {404, 405, 413} <= set(statuses), statuses  # the fuzzer really reached the error paths


async def raw_requests(host: str, port: int, rng: random.Random) -> Counter[int]:
    """Malformed HTTP no client library would send; each answer's status line is parsed (0: no answer)."""
    garbage = [
        b"GARBAGE\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nnothex\r\n\r\n",
        b"GET /\x00\x01 HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on the plain port
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"h" * 20_000 + b"\r\n\r\n",
    ]
    statuses: Counter[int] = Counter()
    for i in range(RAW_REQUESTS):
        payload = garbage[i % len(garbage)] if i < 2 * len(garbage) else rng.randbytes(rng.randrange(1, 300))
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(payload)
            await writer.drain()
            async with asyncio.timeout(3):  # random bytes may look like a request still arriving: no answer
                line = await reader.readline()
        except (ConnectionError, TimeoutError):
            line = b""
        finally:
            writer.close()
        parts = line.split()
        statuses[int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0] += 1
    return statuses
