"""A database that goes away: the reporter is told plainly the report was NOT saved, and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PG_HOST, PG_PORT
from fakes_reports import TcpProxy
from sqlalchemy import func, select

from bot.config import Settings
from bot.domain import Channel
from bot.errors import StorageUnavailable
from bot.reports import NOT_SAVED, Reporter, Submission, open_reports
from bot.storage import Database
from bot.storage.schema import cases

SAM = Reporter(Channel.SLACK, "U0SAM0001", "sam.patel")


def report() -> Submission:
    return Submission(category="safeguarding", description="Something worrying.")


async def count_cases(settings: Settings) -> int:
    db = await Database.open(settings)
    try:
        async with db.transaction() as conn:
            return int((await conn.execute(select(func.count()).select_from(cases))).scalar_one())
    finally:
        await db.dispose()


async def test_sqlite_gone_means_not_saved(tmp_path: Path) -> None:
    settings = Settings.load(var_dir=tmp_path / "var", database_url=None, secret_key="k" * 32)
    reports = await open_reports(settings)
    try:
        settings.var_dir.rename(tmp_path / "away")
        with pytest.raises(StorageUnavailable) as err:
            await reports.service.submit(report(), SAM, idempotency_key="k")
        assert str(err.value) == NOT_SAVED
        assert "NOT saved" in NOT_SAVED and "Designated Safeguarding Lead" in NOT_SAVED
        (tmp_path / "away").rename(settings.var_dir)
    finally:
        await reports.close()
    assert await count_cases(settings) == 0


async def test_postgresql_going_down_means_not_saved(tmp_path: Path, pg_url: str) -> None:
    database_url = pg_url
    proxy = TcpProxy(PG_HOST, PG_PORT)
    port = await proxy.start()
    via_proxy = database_url.replace(f"{PG_HOST}:{PG_PORT}", f"127.0.0.1:{port}")
    settings = Settings.load(var_dir=tmp_path / "var", database_url=via_proxy, secret_key="k" * 32)
    reports = await open_reports(settings)
    try:
        saved = await reports.service.submit(report(), SAM, idempotency_key="first")
        assert saved.created
        await proxy.cut()
        with pytest.raises(StorageUnavailable) as err:
            await reports.service.submit(report(), SAM, idempotency_key="second")
        assert str(err.value) == NOT_SAVED
        assert not await reports.db.ping()
    finally:
        await reports.close()
        await proxy.cut()
    direct = settings.model_copy(update={"database_url": database_url})
    assert await count_cases(direct) == 1
