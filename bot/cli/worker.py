"""`policybot worker`: the delivery worker alone (notices and escalation), for deployments that run it apart
from the servers. Any number may run against one PostgreSQL database: claims are leases, never shared."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from bot.cli._common import console, settings
from bot.cli._reports import with_reports
from bot.logs import configure_logging
from bot.reports import Reports
from bot.reports.app import default_notifiers

__all__ = ["register"]

log = logging.getLogger(__name__)


def worker(once: bool = typer.Option(False, "--once", help="One pass, then exit.")) -> None:
    """Deliver notices and escalate overdue cases until stopped (SIGTERM / Ctrl-C).

    On SIGTERM the batch in hand finishes; everything not yet sent stays in the outbox for the next worker."""
    cfg = settings()
    configure_logging(cfg.log_level, cfg.log_format)

    async def body(reports: Reports) -> None:
        if once:
            handled = await reports.worker.run_once()
            console.print(f"{handled} notice(s) handled.")
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        console.print(
            f"delivery worker {reports.worker.worker_id} running ({', '.join(reports.notifiers.names)})"
        )
        log.info("delivery worker %s running", reports.worker.worker_id)
        await reports.worker.run_forever(stop)
        log.info("delivery worker %s stopped", reports.worker.worker_id)

    asyncio.run(with_reports(cfg, body, notifiers=default_notifiers(cfg, echo=True)))


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
