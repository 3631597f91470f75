"""Examples taught by policy owners on the insights page: stored encrypted, served after a reload (the corpus
digest changes), set aside when the text they were taught on changes, confirmed ("still right") or removed."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from typer.testing import CliRunner

from bot.channels.services import Services
from bot.cli import app
from bot.config import Settings
from bot.core.insights import InsightsRecorder
from bot.core.teaching import Teaching
from bot.domain import Channel, Message, Reply, ReplyKind, SectionRef, User
from bot.errors import InputError, NotFound
from bot.storage import Database, TaughtExamples
from bot.storage.taught import REMOVED
from index.corpus import load_corpus
from index.examples import EXAMPLES_DIR, taught_on
from tests.conftest import TEST_SECRET
from tests.test_web_cases import _Forms, sign_in
from tests.web_helpers import INDEX_CACHE, cached_core_var_dir, page, web_client

if INDEX_CACHE:
    core_var_dir = cached_core_var_dir

DOC = "social-media-policy"
OWNER = "marcus.bell"  # holds the policy_owner role in deploy/directory.example.toml
ADMIN = "priya.shah"  # a case administrator, not a policy owner
STAFF = "ahmed.karim"
UNHELPFUL = "Can I accept a friend request from a parent?"  # answered from A1, then marked not helpful
PENSION = "What is the employer pension contribution rate?"  # no answer; section 2 named as nearest
LEAVE = "How many days of annual leave do I get each year?"  # no answer, near no document
KEPT_EXAMPLES = 20  # of the shipped file, in the corpus copy: a rebuild then takes seconds, not a minute


@pytest.fixture
def small_corpus(corpus_copy: Path) -> Path:
    """The shipped corpus with only the first few examples of its file (the documents are unchanged)."""
    path = corpus_copy / EXAMPLES_DIR / f"{DOC}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()[:KEPT_EXAMPLES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return corpus_copy


@pytest.fixture
def web_settings(tmp_path: Path, small_corpus: Path) -> Settings:
    """SQLite state of this test's own (the web flow; the repository runs on both databases below)."""
    return Settings.load(
        var_dir=tmp_path / "var",
        corpus_dir=small_corpus,
        database_url=None,
        secret_key=TEST_SECRET,
        webhook_url=None,
        webhook_secret=None,
    )


def _msg(text: str) -> Message:
    return Message(text=text, user=User(id="U-staff", channel=Channel.WEB), channel=Channel.WEB)


async def _kept_questions(services: Services) -> dict[str, Reply]:
    """Three kept questions: one marked not helpful, two unanswered."""
    replies = {q: await services.assistant.handle(_msg(q)) for q in (UNHELPFUL, PENSION, LEAVE)}
    assert replies[UNHELPFUL].kind is ReplyKind.ANSWER and replies[UNHELPFUL].citations[0].section == "A1"
    assert replies[PENSION].kind is ReplyKind.NO_ANSWER and replies[LEAVE].kind is ReplyKind.NO_ANSWER
    await services.feedback.record(
        reply_id=replies[UNHELPFUL].id, user_key="U-staff", helpful=False, channel="web"
    )
    await services.insights.flush()
    return replies


def _served(services: Services) -> set[tuple[str, str, tuple[str, ...]]]:
    """The examples the serving index was built from (the index itself keeps no example text on disk)."""
    return {(e.doc_id, e.text, e.sections) for e in services.assistant.index.corpus.examples}


def _to_teach(html: str) -> set[str]:
    """The reply ids the page offers to teach."""
    return set(re.findall(r'name="question" value="([^"]+)"', html))


def _accessible(html: str) -> None:
    forms = _Forms()
    forms.feed(html)
    assert forms.posts and all(forms.posts), "every form carries the CSRF token"
    assert all(c in forms.labels for c in forms.controls), "every control has a label"


async def _post(client: TestClient[Any, Any], path: str, data: dict[str, str]) -> tuple[int, str]:
    response = await client.post(path, data=data, allow_redirects=False)
    return response.status, unescape(await response.text())


async def _rebuild(client: TestClient[Any, Any], csrf: str) -> None:
    status, body = await _post(client, "/insights/rebuild", {"csrf": csrf})
    assert status == 303, body


async def test_a_policy_owner_teaches_on_the_page_and_a_reload_serves_it(
    web_settings: Settings, assistant: Any
) -> None:
    async with web_client(web_settings, assistant) as (client, services):
        replies = await _kept_questions(services)
        before = (await services.reload()).index.manifest.corpus_sha256  # the copy, nothing taught yet
        await sign_in(client, services, web_settings, OWNER, "/cases")
        assert 'href="/insights"' in await (await client.get("/cases")).text()
        html, csrf = await page(client, "/insights")
        html = unescape(html)
        assert {r.id for r in replies.values()} <= _to_teach(html)
        assert "Questions near no document" in html and "Appendix 1 Employee Guidance" in html
        _accessible(html)

        unhelpful, pension = replies[UNHELPFUL], replies[PENSION]
        status, _ = await _post(
            client, "/insights/teach", {"csrf": csrf, "question": unhelpful.id, "answer": f"{DOC}:A1"}
        )
        assert status == 303
        status, _ = await _post(
            client, "/insights/teach", {"csrf": csrf, "question": pension.id, "answer": f"{DOC}:"}
        )
        assert status == 303
        rows = {r.text: r for r in await services.teaching.store.active()}
        assert rows[UNHELPFUL].sections == ("A1",) and rows[PENSION].sections == ()
        assert rows[UNHELPFUL].source == unhelpful.id and rows[UNHELPFUL].taught_by == OWNER
        assert rows[UNHELPFUL].doc_version == "2.0"
        corpus = load_corpus(web_settings.corpus_dir)
        doc = corpus.document(DOC)
        assert rows[UNHELPFUL].taught_on == taught_on([doc.section("A1").body])
        assert rows[PENSION].taught_on == taught_on([doc.body]), "not covered: stamped on the whole document"

        html = unescape(await (await client.get("/insights?done=taught")).text())
        assert "pick it up on the next reload" in html and "Rebuild now" in html
        _accessible(html)
        assert unhelpful.id not in _to_teach(html) and pension.id not in _to_teach(html)
        assert replies[LEAVE].id in _to_teach(html)

        await _rebuild(client, csrf)
        served = _served(services)
        assert (DOC, UNHELPFUL, ("A1",)) in served and (DOC, PENSION, ()) in served
        assert services.assistant.index.manifest.corpus_sha256 != before, "teaching rebuilds the index"
        html = unescape(await (await client.get("/insights?done=rebuilt")).text())
        assert "Rebuild now" not in html and "Taught examples" in html and UNHELPFUL in html


async def test_only_policy_owners_teach_and_bad_input_changes_nothing(
    web_settings: Settings, assistant: Any
) -> None:
    async with web_client(web_settings, assistant) as (client, services):
        replies = await _kept_questions(services)
        question = replies[PENSION].id
        good = {"question": question, "answer": f"{DOC}:2"}

        await sign_in(client, services, web_settings, STAFF, "/cases")
        refused = await client.get("/insights")
        assert refused.status == 403 and PENSION not in await refused.text()
        _, csrf = await page(client, "/cases")
        for path in ("/insights/teach", "/insights/rebuild", "/insights/examples/1/remove"):
            status, _ = await _post(client, path, {"csrf": csrf, **good})
            assert status == 403, path

        await sign_in(client, services, web_settings, ADMIN, "/cases")
        html, csrf = await page(client, "/insights")  # the themes, without the teaching forms
        assert PENSION in unescape(html) and not _to_teach(html) and "policy_owner" in html
        status, _ = await _post(client, "/insights/teach", {"csrf": csrf, **good})
        assert status == 403
        assert await services.teaching.store.listing() == []

        await sign_in(client, services, web_settings, OWNER, "/cases")
        _, csrf = await page(client, "/insights")
        for data, expected in (
            ({**good, "answer": "no-such-policy:2"}, "no such document"),
            ({**good, "answer": f"{DOC}:6.9"}, "no such section"),
            ({**good, "answer": f"{DOC}:6"}, "no such section"),  # a heading without text of its own
            ({**good, "answer": ""}, "Choose the section"),
            ({**good, "question": "not-a-reply"}, "no longer kept"),
        ):
            status, body = await _post(client, "/insights/teach", {"csrf": csrf, **data})
            assert status == 400 and expected in body, data
        status, body = await _post(client, "/insights/teach", good)  # no CSRF token
        assert status == 403 and "security token" in body
        assert await services.teaching.store.listing() == []

        status, _ = await _post(client, "/insights/teach", {"csrf": csrf, **good})
        assert status == 303
        status, body = await _post(client, "/insights/teach", {"csrf": csrf, **good, "answer": f"{DOC}:"})
        assert status == 400 and "already been taught" in body
        status, _ = await _post(client, "/insights/examples/999/remove", {"csrf": csrf})
        assert status == 404
        [row] = await services.teaching.store.listing()
        assert (row.text, row.sections, row.status) == (PENSION, ("2",), "active")


def _change_section(corpus_dir: Path, number: str) -> None:
    """Add a sentence to one section of the copy's document."""
    path = corpus_dir / f"{DOC}.md"
    before = load_corpus(corpus_dir).document(DOC).section(number)
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[before.line : before.line] = ["", "From this term the guidance also covers messaging apps.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    assert load_corpus(corpus_dir).document(DOC).section(number).body != before.body


async def test_a_changed_section_sets_its_example_aside_until_confirmed_or_removed(
    web_settings: Settings, assistant: Any
) -> None:
    async with web_client(web_settings, assistant) as (client, services):
        replies = await _kept_questions(services)
        await sign_in(client, services, web_settings, OWNER, "/cases")
        _, csrf = await page(client, "/insights")
        data = {"csrf": csrf, "question": replies[UNHELPFUL].id, "answer": f"{DOC}:A1"}
        assert (await _post(client, "/insights/teach", data))[0] == 303
        await _rebuild(client, csrf)
        example = (DOC, UNHELPFUL, ("A1",))
        assert example in _served(services)
        [row] = await services.teaching.store.active()

        _change_section(web_settings.corpus_dir, "A1")
        await _rebuild(client, csrf)
        corpus = services.assistant.index.corpus
        assert example not in _served(services), "taught on text that changed: not used"
        assert example in {(e.doc_id, e.text, e.sections) for e in corpus.set_aside}
        html, csrf = await page(client, "/insights")
        review = unescape(html).split('id="review"')[1].split('id="taught"')[0]
        assert UNHELPFUL in review and f"/insights/examples/{row.id}/confirm" in review
        _accessible(html)
        assert "None yet." in unescape(html).split('id="taught"')[1]  # not listed as in use

        assert (await _post(client, f"/insights/examples/{row.id}/confirm", {"csrf": csrf}))[0] == 303
        confirmed = await services.teaching.store.get(row.id)
        assert confirmed.taught_on == taught_on([corpus.document(DOC).section("A1").body]) != row.taught_on
        assert "Rebuild now" in await (await client.get("/insights")).text()
        await _rebuild(client, csrf)
        assert example in _served(services), '"still right" brings it back'
        assert not services.assistant.index.corpus.set_aside

        assert (await _post(client, f"/insights/examples/{row.id}/remove", {"csrf": csrf}))[0] == 303
        await _rebuild(client, csrf)
        assert example not in _served(services)
        assert (await services.teaching.store.get(row.id)).status == REMOVED
        status, body = await _post(client, f"/insights/examples/{row.id}/confirm", {"csrf": csrf})
        assert status == 400 and "was removed" in body, "confirming never brings a removed example back"
        html = await (await client.get("/insights")).text()
        assert replies[UNHELPFUL].id not in _to_teach(html), "a question taught once stays taught"


async def test_the_repository_on_both_databases(settings: Settings) -> None:
    db = await Database.open(settings)
    try:
        store = TaughtExamples(db)
        first = await store.teach(
            doc_id=DOC, doc_version="2.0", sections=["6.3", "6.3"], taught_on="abc", text="tiktok at lunch?",
            taught_by=OWNER, source="reply-1",
        )  # fmt: skip
        other = await store.teach(
            doc_id=DOC, doc_version="2.0", sections=[], taught_on="def", text="my pension?", taught_by=OWNER
        )
        again = await store.teach(
            doc_id=DOC, doc_version="2.0", sections=[], taught_on="def", text="no source", taught_by=OWNER
        )  # several examples without a source question
        assert first.sections == ("6.3",) and first.active and again.source is None
        with pytest.raises(InputError, match="already been taught"):
            await store.teach(
                doc_id=DOC, doc_version="2.0", sections=[], taught_on="x", text="t", taught_by=OWNER,
                source="reply-1",
            )  # fmt: skip

        def racer() -> Any:
            return store.teach(
                doc_id=DOC, doc_version="2.0", sections=[], taught_on="x", text="t", taught_by=OWNER,
                source="reply-2",
            )  # fmt: skip

        racing = await asyncio.gather(*(racer() for _ in range(3)), return_exceptions=True)
        assert sum(isinstance(r, InputError) for r in racing) == 2, racing
        assert await store.sources() == {"reply-1", "reply-2"}

        await store.remove(other.id)
        restamped = await store.restamp(first.id, taught_on="new", doc_version="2.1")
        assert (restamped.taught_on, restamped.doc_version) == ("new", "2.1")
        assert [r.text for r in await store.active()] == ["tiktok at lunch?", "no source", "t"]
        assert [r.status for r in await store.listing()][:2] == ["active", REMOVED]
        with pytest.raises(NotFound):
            await store.remove(12345)
        examples = await Teaching(db).examples()
        assert examples[0].text == "tiktok at lunch?" and examples[0].taught_on == "new"
        assert examples[0].sections == ("6.3",) and examples[0].doc_id == DOC
    finally:
        await db.dispose()


async def test_a_no_answer_is_filed_under_its_nearest_document(settings: Settings) -> None:
    db = await Database.open(settings)
    recorder = InsightsRecorder(db)
    try:
        near = SectionRef(doc_id=DOC, doc_title="Social media", section="2", section_title="Scope", score=0.4)
        reply = Reply(question=PENSION, kind=ReplyKind.NO_ANSWER, text="", nearest=(near,), id="r-near")
        await recorder.observe(_msg(PENSION), reply)
        record = await recorder.question("r-near")
        assert record is not None and record["doc_id"] == DOC and record["question"] == PENSION
        assert await recorder.question("r-unknown") is None
    finally:
        await recorder.close()
        await db.dispose()


async def test_taught_questions_are_encrypted_at_rest(tmp_path: Path) -> None:
    settings = Settings.load(var_dir=tmp_path / "var", database_url=None, secret_key=TEST_SECRET)
    words = "may I livestream the nativity play on zebrafish-tv"
    db = await Database.open(settings)
    try:
        await TaughtExamples(db).teach(
            doc_id=DOC, doc_version="2.0", sections=["6.4"], taught_on="x", text=words, taught_by=OWNER
        )
        assert [r.text for r in await TaughtExamples(db).active()] == [words]
    finally:
        await db.dispose()
    stored = b"".join(p.read_bytes() for p in settings.var_dir.glob("policybot.db*"))
    assert b"zebrafish" not in stored and OWNER.encode() in stored  # the row is there, its text is not


@pytest.fixture
def cli_env(web_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("POLICYBOT_VAR_DIR", str(web_settings.var_dir))
    monkeypatch.setenv("POLICYBOT_CORPUS_DIR", str(web_settings.corpus_dir))
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    yield web_settings


def test_cli_lists_what_is_taught_and_what_is_set_aside(cli_env: Settings) -> None:
    async def fill() -> None:
        db = await Database.open(cli_env)
        try:
            doc = load_corpus(cli_env.corpus_dir).document(DOC)
            store = TaughtExamples(db)
            for text, section in (("is snapchat ok at lunch", "6.3"), ("can I post about my class", "A1")):
                await store.teach(
                    doc_id=DOC, doc_version=doc.version, sections=[section], text=text, taught_by=OWNER,
                    taught_on=taught_on([doc.section(section).body]),
                )  # fmt: skip
        finally:
            await db.dispose()

    asyncio.run(fill())
    _change_section(cli_env.corpus_dir, "A1")
    result = CliRunner().invoke(app, ["examples", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [doc] = data["documents"]
    assert doc["file_examples"] == KEPT_EXAMPLES
    assert [(t["text"], t["sections"]) for t in doc["taught"]] == [("is snapchat ok at lunch", ["6.3"])]
    assert [(e["text"], e["from"]) for e in data["set_aside"]] == [("can I post about my class", "database")]
    table = CliRunner().invoke(app, ["examples", "list"])
    assert table.exit_code == 0 and "snapchat" in table.output and "Set aside for review" in table.output
