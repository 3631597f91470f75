"""Storage that refuses to lose data: a vanished SQLite file stops start-up (naming the path) instead of being
replaced by an empty one, until `policybot db start-over`; the database files are 0600; and the web report
form keeps what was typed, with "not saved" and HTTP 503, when the database is down before the handler runs."""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_SECRET, make_settings
from sqlalchemy import text

from bot.errors import ConfigError
from bot.reports.app import open_reports
from bot.reports.service import NOT_SAVED
from bot.storage.database import MARKER_FILE_NAME, Database
from tests.cli_helpers import run
from tests.web_helpers import INDEX_CACHE, cached_core_var_dir, page, web_client

if INDEX_CACHE:
    core_var_dir = cached_core_var_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_files_are_private_even_under_a_loose_umask(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", None)
    old = os.umask(0o002)  # group- and world-readable by default
    try:
        db = await Database.open(settings)
        try:
            async with db.transaction() as conn:
                await conn.execute(text("CREATE TABLE scratch (x TEXT)"))
                await conn.execute(text("INSERT INTO scratch VALUES ('a')"))
            path = settings.sqlite_path
            companions = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
            assert all(p.exists() for p in companions), "WAL mode keeps -wal and -shm while open"
            for file in (path, *companions, path.parent / MARKER_FILE_NAME):
                assert _mode(file) == 0o600, (file.name, oct(_mode(file)))
        finally:
            await db.dispose()
    finally:
        os.umask(old)


async def test_an_existing_loose_database_is_made_private(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", None)
    db = await Database.open(settings)
    await db.dispose()
    settings.sqlite_path.chmod(0o644)
    db = await Database.open(settings)
    await db.dispose()
    assert _mode(settings.sqlite_path) == 0o600


async def _open_and_close(settings: Any) -> None:
    reports = await open_reports(settings)
    await reports.close()


def test_missing_database_file_stops_start_up_until_start_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path / "var", None)
    asyncio.run(_open_and_close(settings))
    marker = settings.var_dir / MARKER_FILE_NAME
    assert marker.exists()
    for suffix in ("", "-wal", "-shm"):
        Path(str(settings.sqlite_path) + suffix).unlink(missing_ok=True)

    with pytest.raises(ConfigError) as err:
        asyncio.run(_open_and_close(settings))
    assert str(settings.sqlite_path) in str(err.value) and "start-over" in str(err.value)
    assert not settings.sqlite_path.exists(), "no empty database was created in its place"

    # The server says so and exits non-zero (it fails before loading the model).
    monkeypatch.setenv("POLICYBOT_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("POLICYBOT_SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    code, out = run(capsys, monkeypatch, "serve", "--port", "0")
    assert code == 1 and "policybot.db is missing" in out.replace("\n", "")
    assert not settings.sqlite_path.exists()

    # Starting over is explicit, and then an empty database is created.
    code, out = run(capsys, monkeypatch, "db", "start-over")
    assert code == 0 and "empty database" in out
    asyncio.run(_open_and_close(settings))
    assert settings.sqlite_path.exists() and marker.exists()
    code, out = run(capsys, monkeypatch, "db", "start-over")
    assert code == 1 and "move it aside" in out


async def test_a_database_from_before_the_marker_gets_one(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", None)
    db = await Database.open(settings)
    await db.dispose()
    (settings.var_dir / MARKER_FILE_NAME).unlink()
    db = await Database.open(settings)
    await db.dispose()
    assert (settings.var_dir / MARKER_FILE_NAME).exists()


@pytest.mark.slow
async def test_report_form_keeps_typed_text_when_the_database_is_down(tmp_path: Path, assistant: Any) -> None:
    settings = make_settings(tmp_path / "var", None)
    async with web_client(settings, assistant) as (client, _):
        html, csrf = await page(client, "/report")
        key = re.search(r'name="key" value="([^"]+)"', html)
        assert key
        words = "The caretaker keeps shouting at the lunchtime staff <b>every</b> day."
        form = {
            "csrf": csrf,
            "key": key.group(1),
            "as_person": "sam.patel",
            "category": "colleague_bullying",
            "description": words,
            "where": "Dining hall",
            "subject_text": "the caretaker",
        }
        settings.var_dir.rename(tmp_path / "away")  # the database is gone before the session can be read
        try:
            response = await client.post("/report", data=form)
            body = await response.text()
        finally:
            (tmp_path / "away").rename(settings.var_dir)
        assert response.status == 503, body[:300]
        assert response.content_type == "text/html"
        assert "NOT saved" in body and NOT_SAVED.split(":")[0] in body
        assert "The caretaker keeps shouting at the lunchtime staff &lt;b&gt;every&lt;/b&gt; day." in body
        assert 'value="Dining hall"' in body and 'value="the caretaker"' in body
        # The form can be sent again once the database is back: same key, a fresh CSRF token from the page.
        again = await client.post(
            "/report", data={**form, "csrf": re.findall(r'name="csrf" value="([^"]+)"', body)[0]}
        )
        assert again.status == 200 and "Reference" in await again.text()
