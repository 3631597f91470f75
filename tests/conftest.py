"""Shared fixtures.

Database fixtures run each database test on SQLite and on PostgreSQL (127.0.0.1:5432), each PostgreSQL test
in a fresh database with a random name; PostgreSQL tests skip, saying why, when the server cannot be reached.
The real embedding model and a real index over the shipped corpus are loaded once per session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import asyncpg
import pytest

from bot.config import PROJECT_ROOT, Settings

PG_HOST = os.environ.get("POLICYBOT_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("POLICYBOT_TEST_PG_PORT", "5432"))
TEST_SECRET = "test-secret-key-0123456789abcdef"

_pg_user: str | bool | None = False  # False: not probed yet


async def pg_user() -> str | None:
    """The user that reaches the test server (postgres or root, trust auth), or None when unreachable."""
    global _pg_user
    if _pg_user is False:
        _pg_user = None
        for user in ("postgres", "root"):
            try:
                conn = await asyncpg.connect(
                    host=PG_HOST, port=PG_PORT, user=user, database="test", timeout=3
                )
            except Exception:  # noqa: S112 - try the next user
                continue
            await conn.close()
            _pg_user = user
            break
    return _pg_user if isinstance(_pg_user, str) else None


async def create_pg_database(template: str | None = None) -> str:
    """A new database (empty, or a copy of ``template``); returns its async SQLAlchemy URL. Skips when
    PostgreSQL is unreachable."""
    user = await pg_user()
    if user is None:
        pytest.skip(f"PostgreSQL unreachable at {PG_HOST}:{PG_PORT} (database test)")
    name = f"pbtest_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database="test")
    try:
        copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    return f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"


async def drop_pg_database(url: str) -> None:
    user = await pg_user()
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database="test")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def pg_template(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str | None]:
    """A migrated PostgreSQL database (key: TEST_SECRET) that tests copy: cheaper than migrating each time."""
    if await pg_user() is None:
        yield None
        return
    from bot.storage import Database

    url = await create_pg_database()
    settings = Settings.load(var_dir=tmp_path_factory.mktemp("pg"), database_url=url, secret_key=TEST_SECRET)
    await (await Database.open(settings)).dispose()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, pg_template: str | None) -> AsyncIterator[str | None]:
    """None for SQLite under the test's var/; otherwise a fresh PostgreSQL database, already migrated."""
    if request.param == "sqlite":
        yield None
        return
    if pg_template is None:
        pytest.skip(f"PostgreSQL unreachable at {PG_HOST}:{PG_PORT} (database test)")
    url = await create_pg_database(template=pg_template)
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """Like ``database_url`` but never migrated: for tests of the migrations themselves."""
    if request.param == "sqlite":
        yield None
        return
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for tests that only make sense there."""
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


def make_settings(var_dir: Path, database_url: str | None) -> Settings:
    return Settings.load(
        var_dir=var_dir,
        database_url=database_url,
        secret_key=TEST_SECRET,
        webhook_url=None,
        webhook_secret=None,
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    """Settings for one test: its own var/, its own database, a fixed key, the example directory."""
    return make_settings(tmp_path / "var", database_url)


@pytest.fixture
def empty_settings(tmp_path: Path, empty_database_url: str | None) -> Settings:
    """Settings whose database has no tables yet."""
    return make_settings(tmp_path / "var", empty_database_url)


# --- the answer core ---------------------------------------------------------------------------------

CORPUS_DIR = PROJECT_ROOT / "policy_corpus"
DEV_QUESTIONS = PROJECT_ROOT / "tests" / "eval" / "dev_questions.jsonl"
STAFF_QUESTIONS = PROJECT_ROOT / "tests" / "eval" / "staff_questions.jsonl"


@pytest.fixture(scope="session")
def core_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state directory for the session's shared index (built once)."""
    return tmp_path_factory.mktemp("core-var")


@pytest.fixture(scope="session")
def core_settings(core_var_dir: Path) -> Settings:
    return Settings.load(var_dir=core_var_dir, corpus_dir=CORPUS_DIR)


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    from index.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def assistant(core_settings: Settings, embedder):  # type: ignore[no-untyped-def]
    """The real assistant: bundled model, FAISS and bm25s over the shipped corpus."""
    from bot.core.assistant import Assistant

    return Assistant.from_settings(core_settings, embedder=embedder)


@pytest.fixture
async def fake() -> AsyncIterator[Any]:
    """A fake Slack Web API on 127.0.0.1 (tests/fake_slack.py), recording every call."""
    from fake_slack import FakeSlack

    slack = await FakeSlack().start()
    yield slack
    await slack.close()


@pytest.fixture
async def h(tmp_path: Path, assistant: Any, fake: Any) -> AsyncIterator[Any]:
    """The real app with the Slack edge mounted against ``fake`` (tests/slack_harness.py), SQLite state."""
    from slack_harness import running, slack_settings

    async with running(slack_settings(tmp_path / "var", None, fake), assistant, fake) as harness:
        yield harness


@pytest.fixture
async def connector() -> AsyncIterator[Any]:
    """A fake Bot Framework connector on 127.0.0.1 (tests/fake_connector.py), recording what the bot sends."""
    from tests.fake_connector import FakeConnector

    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the corpus, for tests that change it."""
    import shutil

    target = tmp_path / "policy_corpus"
    shutil.copytree(CORPUS_DIR, target)
    yield target
