"""Property-based fuzzing (hypothesis) of the edges that take input from outside: POST /slack/events, signed
and unsigned, and the web console's and report form's POST endpoints, on the real app (real services, real
assistant, SQLite) with Slack faked at its HTTP boundary. Properties: no answer is 5xx; nothing logs a
traceback or an ERROR; no log line at INFO or above repeats what was sent (a canary in every text); and every
refused Slack request is a 4xx with a small fixed body. The cases a tester found (JSON ``[]``, ``null``, ``"x"``,
``payload=[]``, timestamps ``abc`` and ``1e20``, a numeric ``type``, a string ``event``, no
``view.state.values``, ``user`` a list) are explicit examples.

The server runs on its own event loop in a thread, built once for the module, so hypothesis drives ordinary
synchronous tests (and can shrink a failure to the one request that caused it); each example sends a batch.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import html
import itertools
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from conftest import create_pg_database, drop_pg_database
from fake_slack import BOT_USER, FakeSlack, signed_headers
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_harness import SIGNING_SECRET, slack_settings

from bot.channels.services import Services
from bot.config import Settings
from bot.reports.model import Category
from bot.server import create_app
from tests.web_helpers import INDEX_CACHE, cached_core_var_dir, csrf_of

if INDEX_CACHE:
    core_var_dir = cached_core_var_dir

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

T = TypeVar("T")
#: SQLite by default (fast); POLICYBOT_FUZZ_DATABASE=postgresql runs the same fuzz against PostgreSQL.
FUZZ_DATABASE = os.environ.get("POLICYBOT_FUZZ_DATABASE", "sqlite")
CANARY = "zqxcanary"
SLACK_BATCH = 25  # requests per hypothesis example
SLACK_EXAMPLES = 200  # x 25 = 5,000 signed and 5,000 unsigned requests
WEB_PER_PATH = 2  # requests per web endpoint per example
WEB_EXAMPLES = 300  # x 2 = 600 per web endpoint
FUZZ = settings(
    max_examples=SLACK_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


# --- the app, on its own loop ----------------------------------------------------------------------------


class Records(logging.Handler):
    """Every log record from any thread, kept for the properties below."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        with self._lock:
            taken, self.records = self.records, []
        return taken


class Server:
    """The two running apps and what the tests share about them. Not a dataclass: hypothesis prints the
    arguments of a failing example, and this one should print as one word."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        slack_url: str,
        web_url: str,
        session: aiohttp.ClientSession,
        fake: FakeSlack,
        records: Records,
    ) -> None:
        self.loop, self.slack_url, self.web_url = loop, slack_url, web_url
        self.session, self.fake, self.records = session, fake, records
        self.web_csrf = ""
        self.feedback_meta = ""
        self.people: list[str] = []
        self.seen: Counter[tuple[str, int]] = Counter()
        self.last_records: list[logging.LogRecord] = []

    def __repr__(self) -> str:
        return "Server(...)"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def settle(self, before: set[asyncio.Task[Any]]) -> None:
        """Wait until listener work started by the last batch has finished (at most ten seconds): log records
        then belong to the example that caused them."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            started = [t for t in asyncio.all_tasks(self.loop) - before if not _serves_a_connection(t)]
            if not started:
                return
            await asyncio.sleep(0.01)


def _serves_a_connection(task: asyncio.Task[Any]) -> bool:
    """aiohttp's per-connection tasks (server and client side) live as long as the keep-alive connection."""
    name = getattr(task.get_coro(), "__qualname__", "")
    return name.startswith(("RequestHandler.", "ResponseHandler.", "Connector.")) or "_send" in name


async def _start_app(settings_: Settings, assistant: Any, stack: list[Any]) -> str:
    services = await Services.open(settings_, assistant=assistant, start_worker=False)
    stack.append(services.close)
    runner = aiohttp.web.AppRunner(create_app(settings_, services=services), access_log=None)
    await runner.setup()
    stack.append(runner.cleanup)
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, assistant: Any) -> Iterator[Server]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    records = Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(records)
    root.setLevel(logging.INFO)
    stack: list[Any] = []

    async def start() -> Server:
        fake = await FakeSlack().start()
        stack.append(fake.close)
        base = tmp_path_factory.mktemp("fuzz-slack-web")
        urls: list[str | None] = [None, None]
        if FUZZ_DATABASE == "postgresql":
            urls = [await create_pg_database(), await create_pg_database()]
            stack.extend(functools.partial(drop_pg_database, url) for url in urls if url)
        slack_url = await _start_app(slack_settings(base / "slack", urls[0], fake), assistant, stack)
        local = Settings.load(
            var_dir=base / "web",
            database_url=urls[1],
            secret_key="k" * 32,
            webhook_url=None,
            webhook_secret=None,
            worker=False,
        )
        web_url = await _start_app(local, assistant, stack)
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        stack.append(session.close)
        return Server(loop, slack_url, web_url, session, fake, records)

    srv = asyncio.run_coroutine_threadsafe(start(), loop).result(300)
    try:
        srv.run(_prepare_web(srv))
        records.take()
        yield srv
    finally:

        async def stop() -> None:
            for close in reversed(stack):
                await close()

        srv.run(stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        root.removeHandler(records)
        root.setLevel(old_level)


async def _prepare_web(srv: Server) -> None:
    """A console session acting as someone in the directory, its CSRF token, and one real feedback value."""
    async with srv.session.get(srv.web_url + "/") as r:
        page = await r.text()
    srv.web_csrf = csrf_of(page)
    people = re.findall(r'<option value="([a-z.]+)"', page)
    srv.people = sorted(set(people))
    assert srv.people, "the console lists the directory"
    form = {"csrf": srv.web_csrf, "person_id": srv.people[0]}
    async with srv.session.post(srv.web_url + "/console/as", data=form, allow_redirects=False) as r:
        assert r.status == 303
    ask = {"csrf": srv.web_csrf, "text": "Can I accept a friend request from a parent?"}
    async with srv.session.post(srv.web_url + "/console/ask", data=ask) as r:
        answer = await r.text()
        assert r.status == 200
    meta = re.search(r'name="meta" value="([^"]+)"', answer)
    assert meta, "an answer carries feedback buttons"
    srv.feedback_meta = html.unescape(meta.group(1))


# --- the properties ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    path: str
    body: bytes
    headers: dict[str, str]


async def _send(srv: Server, base: str, batch: list[Req]) -> list[tuple[Req, int, bytes]]:
    before = asyncio.all_tasks(srv.loop)

    async def one(req: Req) -> tuple[Req, int, bytes]:
        async with srv.session.post(
            base + req.path, data=req.body, headers=req.headers, allow_redirects=False
        ) as response:
            return req, response.status, await response.read()

    results = await asyncio.gather(*(one(r) for r in batch))
    await srv.settle(before)
    return list(results)


def check(srv: Server, base: str, batch: list[Req], *, slack: bool, kind: str = "") -> list[int]:
    """Send the batch; assert the properties of the module docstring; the statuses, in order."""
    results = srv.run(_send(srv, base, batch))
    srv.seen.update((kind or req.path, status) for req, status, _ in results)
    records = srv.last_records = srv.records.take()
    for req, status, payload in results:
        assert status < 500, (status, req, payload[:300])
        assert b"Traceback" not in payload and b'File "' not in payload, (req, payload[:300])
        if slack and status >= 400:
            assert len(payload) < 200, payload  # a small fixed body, nothing echoed
            assert CANARY.encode() not in payload
    for record in records:
        shown = record.getMessage()
        assert record.exc_info is None and "Traceback" not in shown, (record.name, shown)
        assert record.levelno < logging.ERROR, (record.name, shown)
        if record.levelno >= logging.INFO:
            assert CANARY not in shown, (record.name, shown)
    return [status for _, status, _ in results]


# --- Slack requests ----------------------------------------------------------------------------------------

SAM = "U0SAM0001"
#: Stands for the fake Slack's response_url until a request is sent (strategies are built before the server).
RESPONSE_URL = "RESPONSEURLX"
#: Replaced by a new id in every request, so the retry check lets each event through to the listeners.
EVENT_ID = "EVENTIDX"
_event_ids = itertools.count(1)


def _user(user: str = SAM) -> dict[str, Any]:
    return {"id": user, "username": "sam", "name": "sam", "team_id": "T0OAKFIELD"}


def _envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": "XXYYZZ",
        "team_id": "T0OAKFIELD",
        "api_app_id": "A0POLICYBOT",
        "event": event,
        "type": "event_callback",
        "event_id": EVENT_ID,
        "event_time": 1700000000,
        "authorizations": [
            {"enterprise_id": None, "team_id": "T0OAKFIELD", "user_id": BOT_USER, "is_bot": True}
        ],
        "is_ext_shared_channel": False,
    }


def _action(action_id: str, value: str, response_url: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": _user(),
        "api_app_id": "A0POLICYBOT",
        "token": "XXYYZZ",
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "D0DM00001"},
        "trigger_id": "335.1234.abcdef",
        "team": {"id": "T0OAKFIELD", "domain": "oakfield"},
        "channel": {"id": "D0DM00001", "name": "directmessage"},
        "message": {"type": "message", "ts": "1.2", "text": f"notice {CANARY}", "blocks": []},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": value}],
    }


def _state() -> dict[str, Any]:
    def text(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    return {
        "category": {"category": {"type": "static_select", "selected_option": {"value": "other"}}},
        "description": {"description": text(f"Something happened {CANARY}")},
        "where": {"where": text("staffroom")},
        "subject_user": {"subject_user": {"type": "users_select", "selected_user": None}},
        "options": {"options": {"type": "checkboxes", "selected_options": [{"value": "tell_hr"}]}},
    }


def slack_templates(response_url: str = RESPONSE_URL) -> list[dict[str, Any] | str]:
    """One well-formed example of everything the edge handles (JSON payloads; strings are form bodies)."""
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": SAM,
        "text": f"help {CANARY}",
        "ts": "1.1",
        "channel": "D0DM00001",
    }
    thread = {"user_id": SAM, "context": {}, "channel_id": "D0ASSIST1", "thread_ts": "1.2"}
    view = {"id": "V0FUZZ", "type": "modal", "callback_id": "report_submit", "state": {"values": _state()}}
    return [
        {"type": "url_verification", "token": "t", "challenge": f"abc{CANARY}"},
        _envelope({**dm, "type": "app_mention", "channel": "C0STAFF", "text": f"<@{BOT_USER}> {CANARY}"}),
        _envelope(dm),
        _envelope({**dm, "subtype": "message_changed", "message": {"type": "message", "ts": "1.0"}}),
        _envelope({"type": "app_home_opened", "user": SAM, "tab": "home", "channel": "D0HOME"}),
        _envelope({"type": "assistant_thread_started", "assistant_thread": thread, "event_ts": "1.3"}),
        _envelope({"type": "assistant_thread_context_changed", "assistant_thread": thread}),
        _envelope({"type": "reaction_added", "user": SAM, "item": {"channel": "C1", "ts": "1.1"}}),
        {"token": "t", "type": "app_rate_limited", "team_id": "T0OAKFIELD", "minute_rate_limited": 1},
        _action(
            "feedback_helpful", json.dumps({"r": "rep-1", "d": "doc", "v": "1", "s": ["2"]}), response_url
        ),
        _action("feedback_not_helpful", "not json", response_url),
        _action("report_open", "", response_url),
        _action("read_policy", "social-media-policy", response_url),
        _action("case_open", "R-0000-0000", response_url),
        _action("case_ack", "R-0000-0000", response_url),
        {"type": "view_submission", "user": _user(), "team": {"id": "T0OAKFIELD"}, "view": view},
        {"type": "view_closed", "user": _user(), "view": view, "is_cleared": False},
        {"type": "shortcut", "user": _user(), "callback_id": "report_concern", "trigger_id": "1.2.3"},
        {
            "type": "message_action",
            "user": _user(),
            "callback_id": "report_message",
            "trigger_id": "1.2.3",
            "channel": {"id": "C0STAFF"},
            "message": {"type": "message", "ts": "1.1", "text": CANARY},
            "message_ts": "1.1",
            "response_url": response_url,
        },
        urlencode(
            {
                "command": "/policy",
                "text": f"can I post photos {CANARY}",
                "user_id": SAM,
                "channel_id": "C0STAFF",
                "team_id": "T0OAKFIELD",
                "trigger_id": "1.2.3",
                "response_url": response_url,
            }
        ),
    ]


def _safe_text(text: str) -> str:
    """Never a URL: a fuzzed response_url must not send the app to the internet."""
    return "x" + text if "://" in text or text.lower().startswith("http") else text


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30).map(_safe_text),
    st.sampled_from(["", "1", "true", "/policy", "report", "U0SAM0001", "event_callback", CANARY]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, templates: list[dict[str, Any] | str]) -> bytes | str:
    """A real payload with one to three fields replaced by junk, deleted, or wrapped; JSON or ``payload=``."""
    template = draw(st.sampled_from(templates))
    if isinstance(template, str):  # a slash command: form fields (always strings on the wire)
        fields = dict(pair.split("=", 1) for pair in template.split("&"))
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from([*fields, "payload", "type", "ssl_check"]))
            if draw(st.booleans()):
                fields.pop(key, None)
            else:
                fields[key] = quote(draw(st.text(max_size=20).map(_safe_text)), safe="")
        return "&".join(f"{k}={v}" for k, v in fields.items())
    body = copy.deepcopy(template)
    for _ in range(draw(st.integers(0, 3))):
        node: Any = body
        path = []
        while isinstance(node, (dict, list)) and node and draw(st.integers(0, 2)) > 0:
            key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
            if not isinstance(node[key], (dict, list)):
                break
            path.append(key)
            node = node[key]
        if not isinstance(node, (dict, list)) or not node:
            continue
        key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        action = draw(st.sampled_from(["same kind", "same kind", "junk", "delete", "wrap"]))
        if action == "delete":
            del node[key]
        elif action == "wrap":
            node[key] = [node[key]]
        elif action == "same kind" and isinstance(node[key], (str, bool, int)):
            node[key] = draw(
                st.from_type(type(node[key])).map(lambda v: _safe_text(v) if isinstance(v, str) else v)
            )
        else:
            node[key] = draw(json_values)
    text = json.dumps(body)
    if body.get("type") in (None, "url_verification", "event_callback", "app_rate_limited"):
        return text.encode() if draw(st.booleans()) else "payload=" + quote(text, safe="")
    return "payload=" + quote(text, safe="") if draw(st.integers(0, 4)) else text.encode()


def slack_request(
    body: bytes | str,
    *,
    secret: str | None,
    extra: dict[str, str] | None = None,
    response_url: str = "http://127.0.0.1:9/response",
) -> Req:
    """``str`` bodies are form-encoded, ``bytes`` JSON; signed with ``secret`` (None: no signature)."""
    form = isinstance(body, str)
    raw = body.encode() if isinstance(body, str) else body
    raw = raw.replace(
        RESPONSE_URL.encode(), (quote(response_url, safe="") if form else response_url).encode()
    )
    raw = raw.replace(EVENT_ID.encode(), f"EvFUZZ{next(_event_ids)}".encode())
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    headers = signed_headers(secret or "not-the-secret", raw, content_type=content_type)
    if secret is None:
        headers.pop("X-Slack-Signature")
    return Req("/slack/events", raw, {**headers, **(extra or {})})


TESTER_BODIES: list[bytes | str] = [b"[]", b"null", b'"x"', "payload=[]", "payload=null", 'payload="x"', b"1"]
TESTER_HEADERS = [
    {"X-Slack-Request-Timestamp": "abc"},
    {"X-Slack-Request-Timestamp": "1e20"},
    {"X-Slack-Request-Timestamp": "-1"},
    {"X-Slack-Request-Timestamp": "99999999999999999999999"},
    {"X-Slack-Request-Timestamp": "١٢٣"},  # Unicode digits: int() would take them
    {"X-Slack-Signature": "v0=zz"},
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/json; charset=utf-16"},
    {"Content-Type": "application/json; charset=nope"},
]
SIGNED_MALFORMED: list[dict[str, Any]] = [
    {
        "type": "event_callback",
        "event": {"type": "app_mention", "channel": "C1", "ts": "1"},
        "event_id": EVENT_ID,
    },
    {"type": 5},
    {"type": "event_callback", "event": "x", "event_id": EVENT_ID},
    {
        "type": "event_callback",
        "event": {"type": "app_mention", "user": ["U1"], "channel": "C1", "ts": "1"},
        "event_id": EVENT_ID,
    },
    {"type": "view_submission", "user": {"id": "U1"}, "view": {"id": "V1", "callback_id": "report_submit"}},
    {
        "type": "view_submission",
        "user": {"id": "U1"},
        "view": {"id": "V1", "callback_id": "report_submit", "state": {}},
    },
    {
        "type": "block_actions",
        "user": ["U1"],
        "trigger_id": "1",
        "actions": [{"action_id": "feedback_helpful", "value": "{}"}],
    },
    {"type": "block_actions", "user": {"id": "U1"}, "trigger_id": "1", "actions": []},
    {"type": "shortcut", "user": "U1", "callback_id": "report_concern", "trigger_id": "1"},
    {
        "type": "block_actions",
        "user": {"id": "U1"},
        "trigger_id": "1",
        "channel": "C1",
        "actions": [{"action_id": "case_ack", "value": "R-1"}],
    },
    {
        "type": "event_callback",
        "event": {"type": "message", "channel": "D1", "ts": "1"},
        "event_id": "Ev\x00",
    },
    {
        "type": "event_callback",
        "event": {"type": "message", "channel": "D1", "ts": "1", "text": "\ud800"},
        "event_id": EVENT_ID,
    },
]
ENVELOPE_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "X-Slack-Retry-Num": st.sampled_from(["1", "x", ""]),
        "X-Request-Id": st.sampled_from(["ok-1", "../x"]),
    },
)
junk_bytes = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"[" * 50_000, b'{"a": "\\ud800"}', b"\xff\xfe{}", b"payload=%ff%fe", b"payload=%7B"]),
)
junk_headers = st.fixed_dictionaries(
    {
        "Content-Type": st.sampled_from(
            ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "a/b;;="]
        ),
    },
    optional={
        "X-Slack-Request-Timestamp": st.one_of(
            st.sampled_from(["abc", "1e20", "", " 1", "0x10", "1.5", str(int(time.time()))]),
            st.integers(-(2**64), 2**64).map(str),
        ),
        "X-Slack-Signature": st.one_of(st.sampled_from(["", "v0=", "v1=ab"]), st.text(max_size=70)),
    },
).map(lambda h: {k: "".join(c for c in v if " " <= c <= "~") for k, v in h.items()})


UNSIGNED = {"Content-Type": "application/json", "X-Slack-Signature": "v0=" + "0" * 64}


def _tester_batch() -> list[Req]:
    """Every case from the tester's report, signed and unsigned."""
    batch = [slack_request(b, secret=s) for b in TESTER_BODIES for s in (SIGNING_SECRET, None)]
    batch += [Req("/slack/events", b"{}", {**UNSIGNED, **h}) for h in TESTER_HEADERS]
    batch += [slack_request(b"{}", secret=SIGNING_SECRET, extra=h) for h in TESTER_HEADERS]
    batch += [slack_request(json.dumps(p).encode(), secret=SIGNING_SECRET) for p in SIGNED_MALFORMED]
    batch += [
        slack_request("payload=" + quote(json.dumps(p)), secret=SIGNING_SECRET) for p in SIGNED_MALFORMED
    ]
    return batch


def test_tester_cases_are_refused_with_4xx(server: Server) -> None:
    batch = _tester_batch()
    statuses = check(server, server.slack_url, batch, slack=True)
    assert all(400 <= s < 500 for s in statuses), statuses
    refusals = [
        r.getMessage() for r in server.last_records if r.levelno == logging.WARNING and "refused" in r.msg
    ]
    assert len(refusals) == len(batch), refusals  # one WARNING line each, naming only the kind of problem
    kinds = {m.split(": ", 1)[1] for m in refusals}
    assert {
        "malformed timestamp",
        "body is not an object",
        "unsupported content type",
        "malformed event",
        "malformed payload fields",
    } <= kinds


def test_every_template_is_accepted(server: Server) -> None:
    """The unmutated templates are what Slack sends: accepted, so the fuzz below mutates real payloads."""
    url = server.fake.response_url()
    templates = slack_templates()
    batch = [slack_request(_as_sent(t), secret=SIGNING_SECRET, response_url=url) for t in templates]
    statuses = check(server, server.slack_url, batch, slack=True)
    kinds = [t.split("&", 1)[0] if isinstance(t, str) else t.get("event", t)["type"] for t in templates]
    # No listener for reaction_added: Bolt's 404 "unhandled request" (a 4xx, never a 5xx)
    expected = [404 if kind == "reaction_added" else 200 for kind in kinds]
    assert statuses == expected, [x for x in zip(statuses, expected, kinds, strict=True) if x[0] != x[1]]


def _as_sent(payload: dict[str, Any] | str) -> bytes | str:
    if isinstance(payload, str):
        return payload
    if payload.get("type") in ("url_verification", "event_callback", "app_rate_limited"):
        return json.dumps(payload).encode()
    return "payload=" + quote(json.dumps(payload), safe="")


TEMPLATES = slack_templates()


@FUZZ
@given(
    bodies=st.lists(mutated(TEMPLATES), min_size=SLACK_BATCH, max_size=SLACK_BATCH),
    extra=ENVELOPE_HEADERS,
)
@example(bodies=TESTER_BODIES, extra={})
@example(bodies=[json.dumps(p).encode() for p in SIGNED_MALFORMED], extra={})
@example(bodies=["payload=" + quote(json.dumps(p)) for p in SIGNED_MALFORMED], extra={})
def test_signed_fuzz_never_5xx(server: Server, bodies: list[bytes | str], extra: dict[str, str]) -> None:
    url = server.fake.response_url()
    batch = [slack_request(b, secret=SIGNING_SECRET, extra=extra, response_url=url) for b in bodies]
    check(server, server.slack_url, batch, slack=True, kind="signed")


@FUZZ
@given(
    bodies=st.lists(junk_bytes, min_size=SLACK_BATCH, max_size=SLACK_BATCH),
    headers=st.lists(junk_headers, min_size=SLACK_BATCH, max_size=SLACK_BATCH),
)
@example(bodies=[b"{}"] * len(TESTER_HEADERS), headers=[{**UNSIGNED, **h} for h in TESTER_HEADERS])
@example(bodies=[b if isinstance(b, bytes) else b.encode() for b in TESTER_BODIES], headers=[UNSIGNED] * 7)
def test_unsigned_fuzz_is_refused(server: Server, bodies: list[bytes], headers: list[dict[str, str]]) -> None:
    batch = [Req("/slack/events", b, h) for b, h in zip(bodies, headers, strict=True)]
    statuses = check(server, server.slack_url, batch, slack=True, kind="unsigned")
    assert all(400 <= s < 500 for s in statuses), statuses


# --- web console and report form ------------------------------------------------------------------------

WEB_PATHS = ["/console/ask", "/console/feedback", "/report", "/report/draft", "/console/as"]
FORM_FIELDS = [
    "csrf", "text", "meta", "helpful", "person_id", "next", "key", "as_person", "category", "description",
    "where", "when", "subject_person_id", "subject_text", "evidence", "consent_to_name", "concerns_children",
    "tell_hr",
]  # fmt: skip
web_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", "on", "yes", "no", "/report", "x" * 5000, "\x00", CANARY, *[c.value for c in Category]]
    ),
)


@st.composite
def web_request(draw: st.DrawFn, srv: Server, path: str) -> Req:
    fields = draw(st.dictionaries(st.sampled_from(FORM_FIELDS), web_text, max_size=8))
    csrf = draw(st.sampled_from(["valid", "valid", "valid", "missing", "junk"]))
    if csrf == "valid":
        fields["csrf"] = srv.web_csrf
    elif csrf == "missing":
        fields.pop("csrf", None)
    if path == "/console/feedback" and draw(st.booleans()):
        fields["meta"] = srv.feedback_meta if draw(st.booleans()) else srv.feedback_meta[:-3] + "abc"
        fields["helpful"] = draw(st.sampled_from(["yes", "no", "maybe"]))
    if path == "/report" and draw(st.booleans()):  # mostly what the form sends, so reports are filed too
        fields = {
            "csrf": srv.web_csrf,
            "as_person": srv.people[0],  # the form's "You are:" (the console's choice may have been undone)
            "key": draw(st.text(max_size=30)),
            "category": draw(st.sampled_from([c.value for c in Category])),
            "description": f"{draw(st.text(max_size=200))} {CANARY}",
            "where": draw(st.text(max_size=30)),
            "when": draw(st.text(max_size=30)),
            "subject_person_id": draw(st.sampled_from(["", *srv.people[1:], "nobody"])),
            "subject_text": draw(st.text(max_size=30)),
            "evidence": draw(st.sampled_from(["", "https://example.org/post/1", "not a link"])),
            **{flag: "on" for flag in draw(st.sets(st.sampled_from(["consent_to_name", "tell_hr"])))},
        }
    if path == "/console/ask" and "text" in fields:
        fields["text"] = f"{fields['text']} {CANARY}"[:300]
    encoding = draw(st.sampled_from(["form", "form", "multipart", "json", "raw"]))
    headers: dict[str, str] = {}
    if draw(st.booleans()):
        headers["X-Policybot-Fragment"] = "1"
    if encoding == "form":
        body = urlencode(fields).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif encoding == "multipart":
        boundary = "fuzzboundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        ]
        body = ("".join(parts) + draw(st.sampled_from([f"--{boundary}--\r\n", "", "--"]))).encode(
            "utf-8", "surrogatepass"
        )
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif encoding == "json":
        body = json.dumps(fields).encode()
        headers["Content-Type"] = "application/json"
    else:
        body = draw(st.one_of(st.binary(max_size=200), st.sampled_from([b"text=%ff%fe", b"csrf=%zz&text=%"])))
        headers["Content-Type"] = draw(
            st.sampled_from(["application/x-www-form-urlencoded", "text/plain", ""])
        )
        if draw(st.booleans()):
            headers["X-CSRF-Token"] = srv.web_csrf
    return Req(path, body, headers)


@settings(max_examples=WEB_EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(data=st.data())
def test_web_posts_never_5xx(server: Server, data: st.DataObject) -> None:
    batch = [data.draw(web_request(server, path)) for path in WEB_PATHS for _ in range(WEB_PER_PATH)]
    check(server, server.web_url, batch, slack=False)


def test_the_fuzz_reached_every_layer(server: Server) -> None:
    """The fuzz above is only worth something if it got past each check: count what it saw."""
    seen = server.seen
    if sum(n for (kind, _), n in seen.items() if kind == "signed") < SLACK_BATCH * SLACK_EXAMPLES:
        pytest.skip("run together with the fuzz tests of this module")
    print(sorted(seen.items()))
    signed = {status for (kind, status) in seen if kind == "signed"}
    assert {200, 400} <= signed, seen  # accepted (listeners ran) and refused for its shape
    assert sum(n for (kind, _), n in seen.items() if kind == "unsigned") >= 5_000
    for path in WEB_PATHS:
        assert sum(n for (kind, _), n in seen.items() if kind == path) >= WEB_EXAMPLES * WEB_PER_PATH
    for path in WEB_PATHS:  # each one answered normally too, not only refused
        assert (path, 200 if path != "/console/as" else 303) in seen, (path, seen)
    methods = {c.method for c in server.fake.calls}
    assert {"chat.postMessage", "views.open", "views.publish", "response_url"} <= methods, sorted(methods)
