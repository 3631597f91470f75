"""Prometheus metrics, one ``CollectorRegistry`` per application (no module-global registry, so several apps
live in one test process). Replies are counted by an assistant observer that ``create_app`` installs, whichever
edge asked (the assistant times each reply); the middleware counts requests; case and outbox gauges are read from the shared
database at scrape time, so every replica reports the same cluster-wide truth.

Metric names (all ``policybot_``): ``http_requests_total{route,method,status}``,
``http_request_duration_seconds{route}``, ``answer_latency_seconds{channel}``, ``replies_total{channel,kind}``
(kind: answer, no_answer, report_offer, urgent, related_document, help), ``cases{state}``,
``outbox_pending``, ``outbox_oldest_undelivered_seconds``, ``notices_undelivered`` (past their fast retries
or undeliverable: someone should look), ``escalation_chains_exhausted``, ``escalations_total``, ``database_up``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.clock import Clock
from bot.domain import Channel, Reply
from bot.errors import StorageUnavailable
from bot.reports.model import CaseStatus, EventKind
from bot.reports.outbox import attention
from bot.storage.database import Database
from bot.storage.schema import case_events, cases, outbox

__all__ = ["CONTENT_TYPE", "METRICS", "Metrics", "metrics_of", "reply_kind"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Answers take 10-300 ms when warm; the long tail is a cold model or a saturated CPU.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def reply_kind(reply: Reply) -> str:
    """The label a reply is counted under: urgent and report offers first, then the core's kind."""
    if reply.urgent:
        return "urgent"
    if reply.suggest_report:
        return "report_offer"
    return reply.kind.value


@dataclass
class _DbSnapshot:
    """What the last scrape read from the database (None: unreachable)."""

    cases: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    oldest_age: float = 0.0
    escalations: int = 0
    undelivered: int = 0
    exhausted_chains: int = 0


class _DatabaseCollector(Collector):
    """Yields the snapshot ``Metrics.refresh`` read just before ``generate_latest`` runs."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snap = self._metrics.snapshot
        up = GaugeMetricFamily("policybot_database_up", "1 when the last scrape could read the database.")
        up.add_metric([], 0.0 if snap is None else 1.0)
        yield up
        if snap is None:
            return
        by_state = GaugeMetricFamily("policybot_cases", "Cases by state (all replicas).", labels=["state"])
        for state in CaseStatus:
            by_state.add_metric([state.value], float(snap.cases.get(state.value, 0)))
        yield by_state
        yield GaugeMetricFamily(
            "policybot_outbox_pending", "Notices waiting to be delivered.", value=float(snap.pending)
        )
        yield GaugeMetricFamily(
            "policybot_outbox_oldest_undelivered_seconds",
            "Age of the oldest notice still waiting (0 when none).",
            value=snap.oldest_age,
        )
        yield GaugeMetricFamily(
            "policybot_notices_undelivered",
            "Notices past their fast retries (retried hourly) or undeliverable, on cases not closed.",
            value=float(snap.undelivered),
        )
        yield GaugeMetricFamily(
            "policybot_escalation_chains_exhausted",
            "Open, unacknowledged cases with nobody left in their escalation chain.",
            value=float(snap.exhausted_chains),
        )
        yield CounterMetricFamily(
            "policybot_escalations",
            "Cases passed to the next person in line (all time, all replicas).",
            value=float(snap.escalations),
        )


class Metrics:
    """The application's metrics and its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.snapshot: _DbSnapshot | None = None
        self.requests = Counter(
            "policybot_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "policybot_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answer_seconds = Histogram(
            "policybot_answer_latency_seconds",
            "Time the assistant took to reply to one message.",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.replies = Counter(
            "policybot_replies",
            "Replies by channel and kind (answer, no_answer, report_offer, urgent, related_document, help).",
            ["channel", "kind"],
            registry=self.registry,
        )
        self.registry.register(_DatabaseCollector(self))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def observe_reply(self, reply: Reply, seconds: float, channel: Channel | str = Channel.LOCAL) -> None:
        """Count one reply and its latency (called by the observer ``create_app`` installs)."""
        name = channel.value if isinstance(channel, Channel) else channel
        self.answer_seconds.labels(name).observe(seconds)
        self.replies.labels(name, reply_kind(reply)).inc()

    async def refresh(self, db: Database, clock: Clock) -> None:
        """Read cases, outbox and escalations from the database (at scrape time); ages by ``clock``, the
        one the reports core writes with."""
        try:
            async with db.transaction() as conn:
                counts = (
                    await conn.execute(select(cases.c.status, func.count()).group_by(cases.c.status))
                ).all()
                waiting = outbox.c.status == "pending"
                pending = (await conn.execute(select(func.count()).where(waiting))).scalar_one()
                # ORDER BY + LIMIT rather than MIN(): the column type turns the value into an aware datetime.
                oldest = (
                    await conn.execute(
                        select(outbox.c.created_at).where(waiting).order_by(outbox.c.created_at).limit(1)
                    )
                ).scalar_one_or_none()
                escalations = (
                    await conn.execute(
                        select(func.count()).where(case_events.c.kind == EventKind.ESCALATED.value)
                    )
                ).scalar_one()
                needs = await attention(conn)
        except StorageUnavailable:
            self.snapshot = None
            return
        self.snapshot = _DbSnapshot(
            cases={str(status): int(n) for status, n in counts},
            pending=int(pending),
            oldest_age=0.0 if oldest is None else max(0.0, (clock.now() - oldest).total_seconds()),
            escalations=int(escalations),
            undelivered=needs.undelivered,
            exhausted_chains=needs.exhausted_chains,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)


def metrics_of(app: web.Application) -> Metrics:
    """The application's metrics (created by ``create_app``)."""
    return app[METRICS]
