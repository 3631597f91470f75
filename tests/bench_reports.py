"""Benchmark (not a test): submit N reports, then deliver every notice, on SQLite and on PostgreSQL; prints
reports per second and notices per second. Run: .venv/bin/python tests/bench_reports.py [N]"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from bot.config import Settings
from bot.domain import Channel
from bot.reports import Reporter, Submission, open_reports
from bot.reports.notify import ConsoleNotifier


async def bench(database_url: str | None, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(
            var_dir=Path(tmp), database_url=database_url, secret_key="bench-secret-0123456789"
        )
        reports = await open_reports(settings, notifiers=[ConsoleNotifier(Path(tmp) / "n.log")])
        try:
            reporter = Reporter(Channel.LOCAL, "sam.patel", "sam.patel")
            start = time.perf_counter()
            for i in range(n):
                await reports.service.submit(
                    Submission(category="safeguarding", description=f"Concern {i}. " * 40),
                    reporter,
                    idempotency_key=str(i),
                )
            submitted = time.perf_counter() - start
            start = time.perf_counter()
            notices = await reports.worker.run_once()
            delivered = time.perf_counter() - start
        finally:
            await reports.close()
    name = "postgresql" if database_url else "sqlite"
    print(
        f"{name:>10}: {n} reports in {submitted:.2f}s ({n / submitted:.0f}/s, "
        f"{1000 * submitted / n:.1f} ms each); "
        f"{notices} notices delivered in {delivered:.2f}s ({notices / delivered:.0f}/s)"
    )


async def main(n: int) -> None:
    await bench(None, n)
    name = f"pbbench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await bench(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", n)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
