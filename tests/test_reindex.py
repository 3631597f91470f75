"""Safe re-indexing: a failed build leaves the old index serving; a running server reloads without dropping a
question (POST /admin/reload, SIGHUP); answers cite the new text and records keep the version they were about."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.channels.services import Services
from bot.config import Settings
from bot.domain import Channel, Message, ReplyKind, User
from bot.server import create_app
from bot.server.admin import install_sighup
from bot.storage.schema import feedback, insight_questions
from index.corpus import load_corpus
from index.store import build_index, load_index

TOKEN = "admin-token-for-tests-0123456789"
NEW_RULE = (
    "During an unpaid lunch break, employees may use social media on their own phones, away from pupils and "
    "service users."
)
LUNCH = "Can I go on social media on my own phone during my unpaid lunch break?"
QUESTIONS = (
    "Can I accept a friend request from a parent?",
    "Is it ok to use Facebook on my phone during working hours?",
    "How should I set my privacy settings?",
    "What is the employer pension contribution rate?",
)


class FailingEmbedder:
    """The real embedder until ``fail_after`` texts have been encoded, then an error (a build dying midway)."""

    def __init__(self, real, fail_after: int) -> None:  # type: ignore[no-untyped-def]
        self.real, self.left = real, fail_after
        self.name, self.dim, self.max_tokens = real.name, real.dim, real.max_tokens

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.left -= len(texts)
        if self.left < 0:
            raise RuntimeError("out of memory")
        result: np.ndarray = self.real.encode(texts)
        return result

    def count_tokens(self, text: str) -> int:
        return int(self.real.count_tokens(text))


@pytest.fixture
def served(tmp_path: Path, corpus_copy: Path, core_settings: Settings, assistant, database_url: str | None):  # type: ignore[no-untyped-def]
    """Settings over a writable corpus copy whose index starts as a copy of the session's (same corpus)."""
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "var", database_url).model_copy(
        update={"corpus_dir": corpus_copy, "admin_token": __import__("pydantic").SecretStr(TOKEN)}
    )
    shutil.copytree(core_settings.index_dir, settings.index_dir)
    return settings


def _change_policy(corpus: Path, version: str) -> None:
    doc = corpus / "social-media-policy.md"
    text = doc.read_text(encoding="utf-8").replace("version: '2.0'", f"version: '{version}'")
    marker = "## 7. "
    assert marker in text
    text = text.replace(marker, f"### 6.5 Lunch breaks\n\n{NEW_RULE}\n\n{marker}", 1)
    doc.write_text(text, encoding="utf-8")


def test_a_failed_build_leaves_the_old_index_serving(corpus_copy: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    index_dir = tmp_path / "index"
    good = build_index(load_corpus(corpus_copy), embedder, index_dir)
    _change_policy(corpus_copy, "2.1")
    with pytest.raises(RuntimeError, match="out of memory"):
        build_index(
            load_corpus(corpus_copy), FailingEmbedder(embedder, 100), index_dir, progress=lambda *_: None
        )
    assert (index_dir / "CURRENT").read_text().strip() == good.path.name
    assert sorted(p.name for p in index_dir.iterdir()) == sorted(["CURRENT", good.path.name])
    served = load_index(index_dir, load_corpus(corpus_copy))
    assert served.path == good.path and NEW_RULE not in " ".join(p.text for p in served.passages)


async def test_questions_keep_being_answered_during_a_reload(served: Settings, assistant) -> None:  # type: ignore[no-untyped-def]
    services = await Services.open(served, assistant=await asyncio.to_thread(assistant.reloaded, served))
    old = services.assistant
    assert old.index.path.parent == served.index_dir
    before = await services.assistant.handle(
        Message(text=LUNCH, user=User(id="staff-a", channel=Channel.SLACK), channel=Channel.SLACK)
    )
    assert all(NEW_RULE not in c.quote for c in before.citations)
    async with TestClient(TestServer(create_app(served, services=services))) as client:
        assert (await client.post("/admin/reload")).status == 401
        wrong = await client.post("/admin/reload", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 403
        _change_policy(served.corpus_dir, "2.1")

        answered, errors = 0, []
        done = asyncio.Event()

        async def keep_asking(n: int) -> None:
            nonlocal answered
            i = n
            while not done.is_set():
                try:
                    reply = await services.assistant.handle(Message(text=QUESTIONS[i % len(QUESTIONS)]))
                    assert reply.kind in (ReplyKind.ANSWER, ReplyKind.NO_ANSWER), reply.kind
                    answered += 1
                except Exception as exc:  # every failure is counted; none may happen
                    errors.append(repr(exc))
                i += 1

        askers = [asyncio.create_task(keep_asking(n)) for n in range(4)]
        started = time.perf_counter()
        response = await client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        body = await response.json()
        seconds = time.perf_counter() - started
        during = answered
        done.set()
        await asyncio.gather(*askers)
        assert response.status == 200, body
        assert errors == []
        assert during >= 4, f"only {during} questions answered during a {seconds:.1f}s reload"
        print(f"reload took {seconds:.1f}s; {during} questions answered meanwhile, 0 errors")
        assert body["documents"] == [{"id": "social-media-policy", "version": "2.1"}]
        assert services.assistant is not old and services.assistant.index.path != old.index.path

    after = await services.assistant.handle(
        Message(text=LUNCH, user=User(id="staff-b", channel=Channel.SLACK), channel=Channel.SLACK)
    )
    cited = [c for c in after.citations if NEW_RULE in c.quote]
    assert cited and cited[0].version == "2.1", after.text
    # Records keep the version they were about: the one before the change says 2.0, the one after 2.1.
    for reply in (before, after):
        await services.feedback.record(
            reply_id=reply.id,
            user_key="staff-a",
            helpful=False,
            channel="slack",
            doc_id=reply.citations[0].doc_id if reply.citations else None,
            doc_version=reply.citations[0].version if reply.citations else None,
            sections=[c.section for c in reply.citations],
        )
    await services.insights.flush()
    async with services.reports.db.transaction() as conn:
        kept = dict((await conn.execute(select(feedback.c.reply_id, feedback.c.doc_version))).all())
        seen = dict(
            (await conn.execute(select(insight_questions.c.reply_id, insight_questions.c.citations))).all()
        )
    assert kept[after.id] == "2.1"
    assert {c["version"] for c in seen[after.id]} == {"2.1"}
    if before.citations:
        assert kept[before.id] == "2.0" and {c["version"] for c in seen[before.id]} == {"2.0"}
    await services.close()


async def test_a_broken_corpus_is_refused_and_the_old_index_keeps_serving(
    served: Settings, assistant
) -> None:  # type: ignore[no-untyped-def]
    services = await Services.open(served, assistant=await asyncio.to_thread(assistant.reloaded, served))
    old = services.assistant
    (served.corpus_dir / "broken.md").write_text("---\nid: broken\n", encoding="utf-8")
    async with TestClient(TestServer(create_app(served, services=services))) as client:
        response = await client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        body = await response.json()
    assert response.status == 409 and "broken.md" in body["error"] and body["serving"] == "previous index"
    assert services.assistant is old
    reply = await services.assistant.handle(Message(text=QUESTIONS[0]))
    assert reply.kind is ReplyKind.ANSWER
    await services.close()


async def test_admin_api_is_off_without_a_token(served: Settings, assistant) -> None:  # type: ignore[no-untyped-def]
    settings = served.model_copy(update={"admin_token": None})
    services = await Services.open(settings, assistant=assistant)
    async with TestClient(TestServer(create_app(settings, services=services))) as client:
        response = await client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 403
        assert (await client.get("/admin/insights")).status == 403
    await services.close()


async def test_sighup_reloads_a_running_server(served: Settings, assistant) -> None:  # type: ignore[no-untyped-def]
    services = await Services.open(served, assistant=await asyncio.to_thread(assistant.reloaded, served))
    old = services.assistant
    app = create_app(served, services=services)
    install_sighup(app)
    async with TestClient(TestServer(app)) as client:
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(600):
            if services.assistant is not old:
                break
            await asyncio.sleep(0.1)
        assert services.assistant is not old, "SIGHUP did not reload"
        assert services.assistant.index.path == old.index.path, "corpus unchanged: same build, loaded again"
        insights = await client.get("/admin/insights", headers={"Authorization": f"Bearer {TOKEN}"})
        assert insights.status == 200 and "themes" in await insights.json()
    await services.close()
