"""``open_reports``: one call for the database, directory, service and worker."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.errors import ConfigError
from bot.reports.directory import Directory
from bot.reports.directory_file import load_directory
from bot.reports.notify import ConsoleNotifier, Notifier, NotifierRegistry
from bot.reports.outbox import DeliveryWorker, RetryPolicy
from bot.reports.retention import PurgeResult, purge_closed
from bot.reports.service import CaseService
from bot.reports.webhook import WebhookNotifier
from bot.storage.database import Database
from bot.storage.sent import SentReplies
from bot.storage.shared import ProcessedEvents

__all__ = ["NOTICES_FILE", "Reports", "default_notifiers", "open_reports"]

NOTICES_FILE = "notifications.log"
#: Slack and Teams retry a webhook within minutes; a day of deduplication keys is plenty.
PROCESSED_EVENTS_KEPT = timedelta(days=1)
#: Feedback on an answer comes within days if at all; after this a click is recorded without the sections.
SENT_REPLIES_KEPT = timedelta(days=30)


@dataclass
class Reports:
    """Everything reports need, opened together and closed together."""

    settings: Settings
    db: Database
    directory: Directory
    service: CaseService
    notifiers: NotifierRegistry
    worker: DeliveryWorker
    clock: Clock
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def start_worker(self) -> asyncio.Task[None]:
        """Run the delivery worker in this process until ``close``."""
        if self._task is None:
            self._task = asyncio.create_task(self.worker.run_forever(self._stop), name="policybot-delivery")
        return self._task

    async def purge(self, *, dry_run: bool = False) -> PurgeResult:
        return await purge_closed(
            self.db,
            self.clock,
            retention_days=self.settings.case_retention_days,
            mode=self.settings.case_retention_mode,
            dry_run=dry_run,
        )

    async def housekeeping(self) -> None:
        """Run by the worker hourly: retention of closed cases, forgetting old deduplication keys and which
        reply old chat messages carried."""
        await self.purge()
        await ProcessedEvents(self.db, clock=self.clock).purge(PROCESSED_EVENTS_KEPT)
        await SentReplies(self.db, clock=self.clock).purge(SENT_REPLIES_KEPT)

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.notifiers.close()
        await self.db.dispose()


def default_notifiers(
    settings: Settings, *, clock: Clock | None = None, echo: bool = False
) -> list[Notifier]:
    """The webhook notifier when configured, then the console notifier (local mode, reaches everyone)."""
    notifiers: list[Notifier] = []
    if settings.webhook_url:
        if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
            raise ConfigError(
                "POLICYBOT_WEBHOOK_URL is set but POLICYBOT_WEBHOOK_SECRET is not: notices must be signed."
            )
        notifiers.append(
            WebhookNotifier(
                settings.webhook_url,
                settings.webhook_secret.get_secret_value(),
                timeout=settings.webhook_timeout,
                clock=clock,
            )
        )
    path = settings.var_dir / NOTICES_FILE
    notifiers.append(ConsoleNotifier.printing(path) if echo else ConsoleNotifier(path, clock=clock))
    return notifiers


async def open_reports(
    settings: Settings,
    *,
    clock: Clock | None = None,
    directory: Directory | None = None,
    notifiers: list[Notifier] | None = None,
    migrate: bool = True,
) -> Reports:
    """Load the directory, open (and migrate) the database, check the key, and build the service and worker.

    Raises ConfigError (bad directory), StorageUnavailable (database down) or KeyMismatch (wrong key)."""
    clock = clock or SystemClock()
    directory = directory or load_directory(settings.directory_file)
    registry = NotifierRegistry(default_notifiers(settings, clock=clock) if notifiers is None else notifiers)
    db = await Database.open(settings, migrate=migrate)
    service = CaseService(db, directory, clock=clock)
    worker = DeliveryWorker(
        service,
        registry,
        base_url=settings.base_url,
        clock=clock,
        retry=RetryPolicy(base_seconds=settings.delivery_retry_base_seconds),
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        poll_seconds=settings.worker_poll_seconds,
        batch=settings.delivery_batch,
    )
    reports = Reports(settings, db, directory, service, registry, worker, clock)
    worker.housekeeping = reports.housekeeping
    return reports
