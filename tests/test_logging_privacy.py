"""No message text, answer text or report content in any log record at INFO or above, over a full report
flow (submit, a failed then successful webhook delivery, escalation, acknowledgement, note, decision, close)
and questions through the assistant, with every logger captured at DEBUG. And the production handler's guard:
JSON lines with the request id, ``Sensitive`` arguments redacted at INFO+, exception messages dropped."""

from __future__ import annotations

import io
import json
import logging
import traceback
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from fakes_reports import FakeClock, WebhookReceiver
from pydantic import SecretStr

from bot.channels.keys import SERVICES
from bot.channels.services import Services
from bot.config import Settings
from bot.domain import Channel, Message, User
from bot.errors import PolicybotError
from bot.logs import REQUEST_ID, Sensitive, configure_logging
from bot.reports import Reporter, Submission
from bot.server import create_app

HOOK_SECRET = "privacy-hook-secret"

REPORT = Submission(
    category="safeguarding",
    description="Yesterday Mr Fenwick messaged a Year 9 pupil on Instagram at midnight asking to meet.",
    where="Instagram direct messages, account @fenwick_pe_coach",
    when="Tuesday 24 November around 23:50",
    subject_text="the PE supply teacher with the blue van",
    evidence=("https://example.org/screenshots/fenwick-dm-0001.png",),
    concerns_children=True,
)
NOTE = "Spoke to the pupil's mother; she has kept the phone and will bring it on Monday morning."
ACTION = "Referred to the LADO and suspended the supply booking pending the investigation."
REASON = "Contact with a pupil outside school channels meets the harm threshold in part four."
OUTCOME = "LADO strategy meeting held; agency informed; allegation substantiated and recorded."
QUESTIONS = [
    "Can I accept a friend request on Facebook from the mother of a pupil in my tutor group?",
    "what about on Instagram instead",
    "A man keeps posting my home address under my council posts and threatening me",
    "I think a child in my class is being groomed online and I am scared for her tonight",
    "help",
]


class Capture(logging.Handler):
    """Every record, every logger, every level: the raw records, before any production filter."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def rendered(record: logging.LogRecord) -> str:
    """Everything a handler could write for this record: message, extras, exception and stack."""
    parts = [record.getMessage(), json.dumps({k: str(v) for k, v in vars(record).items() if k != "msg"})]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append("".join(traceback.format_exception(record.exc_info[1])))
    return "\n".join(parts)


def fragments(text: str) -> list[str]:
    """The text and its first 30 characters: a log line quoting part of it is as bad as all of it."""
    return [text, text[:30]] if len(text) > 30 else [text]


async def test_no_content_at_info_or_above_over_a_full_report_flow(
    settings: Settings, assistant: object, capture: Capture
) -> None:
    receiver = WebhookReceiver(secret=HOOK_SECRET, script=["500"])
    await receiver.start()
    clock = FakeClock()
    settings = settings.model_copy(
        update={
            "webhook_url": receiver.url,
            "webhook_secret": HOOK_SECRET,
            "delivery_retry_base_seconds": 0.01,
        }
    )

    settings = settings.model_copy(update={"webhook_secret": SecretStr(HOOK_SECRET)})
    services = await Services.open(settings, assistant=assistant, clock=clock, start_worker=False)  # type: ignore[arg-type]
    app = create_app(settings, services=services)
    client = TestClient(TestServer(app))
    await client.start_server()
    replies = []
    try:
        reports = services.reports
        directory = reports.directory
        receipt = await reports.service.submit(
            REPORT, Reporter(Channel.SLACK, "U0SAM0001", "sam.patel"), idempotency_key="privacy-1"
        )
        ref = receipt.reference
        await reports.worker.run_once()  # first webhook call answers 500: retried
        clock.advance(seconds=5)
        await reports.worker.run_once()
        clock.advance(days=10)  # nobody acknowledged: escalation to the next in line
        await reports.worker.run_once()
        dsl = directory.person("priya.shah")
        assert dsl is not None
        with pytest.raises(PolicybotError):
            await reports.service.show(ref, directory.person("grace.lee"))  # type: ignore[arg-type]
        view = await reports.service.show(ref, dsl)
        assert REPORT.description in str(view)  # the content is really there to leak
        assert await reports.service.acknowledge(ref, dsl)
        await reports.service.add_note(ref, dsl, NOTE)
        await reports.service.record_decision(ref, dsl, ACTION, REASON)
        await reports.service.close(ref, dsl, OUTCOME)
        await reports.worker.run_once()
        assert sum(receiver.delivered.values()) >= 3  # DSL, deputy, escalation, acknowledgement

        user = User("U0JO00001", Channel.SLACK, directory_id="jo.evans")
        for question in QUESTIONS:
            message = Message(question, user=user, conversation="slack:D0JO:thread-1", channel=Channel.SLACK)
            replies.append(await services.assistant.handle(message))
        for path in ("/healthz", "/readyz", "/metrics", "/nope"):
            await client.get(path)
    finally:
        await client.close()
        await services.close()
        await receiver.stop()

    secrets = [REPORT.description, REPORT.where, REPORT.when, REPORT.subject_text, *REPORT.evidence]
    secrets += [NOTE, ACTION, REASON, OUTCOME, *QUESTIONS[:-1]]
    for reply in replies:
        secrets.append(reply.text)
        secrets += [c.quote for c in reply.citations]
    assert any(r.citations for r in replies), "at least one answer quoted the policy"

    loud = [r for r in capture.records if r.levelno >= logging.INFO]
    assert any("created" in r.getMessage() for r in loud), "the case service's INFO records were captured"
    assert any(getattr(r, "route", None) == "/readyz" for r in loud), "the access log was captured"
    assert any(r.levelno == logging.DEBUG for r in capture.records)
    for record in loud:
        text = rendered(record)
        for secret in secrets:
            for fragment in fragments(secret):
                assert fragment not in text, (
                    f"{record.name} {record.levelname} leaked {fragment!r}: {text[:300]}"
                )


def test_production_handler_redacts_and_stamps_request_ids() -> None:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", "auto", stream)  # not a TTY: JSON
    log = logging.getLogger("policybot.test")
    token = REQUEST_ID.set("req-42")
    try:
        log.debug("question %s", Sensitive("where do I report a fake account"))
        log.info("question %s", Sensitive("where do I report a fake account"), extra={"route": "/x"})
        try:
            raise ValueError("the pupil's name is Alex Smith")
        except ValueError:
            log.exception("failed")
    finally:
        REQUEST_ID.reset(token)
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["level"] for line in lines] == ["DEBUG", "INFO", "ERROR"]
    assert {line["request_id"] for line in lines} == {"req-42"}
    assert lines[0]["msg"] == "question where do I report a fake account"  # DEBUG may show text
    assert lines[1]["msg"] == "question <redacted 32 chars>" and lines[1]["route"] == "/x"
    assert "ValueError" in lines[2]["exc"] and "test_logging_privacy.py" in lines[2]["exc"]
    assert "Alex Smith" not in stream.getvalue()


def test_text_format_for_terminals() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    handler = configure_logging("INFO", "auto", stream)
    try:
        logging.getLogger("policybot.test").info("hello %s", Sensitive("secret"), extra={"status": 200})
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue()
    assert not line.startswith("{") and "[-] hello <redacted 6 chars> status=200" in line


async def test_access_log_has_route_status_latency_and_a_hashed_user(
    settings: Settings, assistant: object, capture: Capture
) -> None:
    from aiohttp import web

    from bot.channels.keys import note_user

    services = await Services.open(settings, assistant=assistant, start_worker=False)  # type: ignore[arg-type]
    app = create_app(settings, services=services)

    async def who(request: web.Request) -> web.Response:
        note_user(request, "U0JO00001")
        return web.json_response({})

    app.router.add_get("/test/who/{name}", who)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await client.get("/test/who/jo", headers={"X-Request-Id": "abc-123"})
    finally:
        await client.close()
        await services.close()
    access = [
        r
        for r in capture.records
        if r.name == "policybot.access" and getattr(r, "route", "") == "/test/who/{name}"
    ]
    assert len(access) == 1
    record = access[0]
    assert record.levelno == logging.INFO
    assert (
        vars(record)["status"] == 200 and vars(record)["latency_ms"] >= 0 and vars(record)["method"] == "GET"
    )
    assert vars(record)["user"] == services.reports.db.keys.hash("log-user", "U0JO00001")[:16]
    assert "U0JO00001" not in rendered(record)
    assert app[SERVICES] is services
