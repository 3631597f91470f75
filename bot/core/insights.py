"""What staff could not find: questions that got no answer or an answer marked not helpful, for policy owners.

``InsightsRecorder.observe`` is an ``Assistant`` observer, so every channel records the same way without each
edge remembering to. Records are pseudonymised: no user id, only a keyed hash of the asker (to count people);
the question is encrypted. Report-like and urgent messages are never recorded. An answered question keeps its
text only for ``PENDING`` (long enough for a "not helpful" click to arrive); after that only questions that
got no answer or were marked not helpful keep their text, and everything goes after the retention period.

``build_report`` clusters the kept questions into themes with the same sentence embeddings search uses, and adds
helpful / not-helpful rates per cited section (from the feedback table) and question volume per day.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update

from bot.clock import Clock, SystemClock
from bot.domain import Intent, Message, Reply, ReplyKind
from bot.storage.batched import WriteBehind
from bot.storage.database import Database
from bot.storage.schema import feedback, insight_questions
from index.embed import Embedder

__all__ = ["PENDING", "InsightsRecorder", "InsightsReport", "Theme", "build_report", "cluster"]

log = logging.getLogger(__name__)

#: How long an answered question's text waits for a "not helpful" click before it is forgotten.
PENDING = timedelta(days=7)
MAX_QUESTION_CHARS = 2000
#: Questions closer than this (cosine distance, average linkage) belong to one theme.
THEME_DISTANCE = 0.55
#: A recorded question is written at most this long after its reply, together with any recorded meanwhile.
FLUSH_AFTER_S = 0.5
_RECORDED_KINDS = (ReplyKind.ANSWER, ReplyKind.NO_ANSWER, ReplyKind.RELATED_DOCUMENT)


class InsightsRecorder:
    """Keeps the questions policy owners learn from, and forgets them on time."""

    def __init__(self, db: Database, *, retention_days: int = 90, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self.retention = timedelta(days=retention_days)
        self._last_purge: datetime | None = None
        self._rows = WriteBehind(
            db, insight_questions, ["reply_id"], delay_s=FLUSH_AFTER_S, after_flush=self._hourly_purge
        )

    @staticmethod
    def keeps(reply: Reply) -> bool:
        """Only questions: never a report, an urgent message or a help request."""
        if (
            reply.intent in (Intent.REPORT, Intent.URGENT, Intent.HELP)
            or reply.suggest_report
            or reply.urgent
        ):
            return False
        return reply.kind in _RECORDED_KINDS and bool(reply.id) and bool(reply.question.strip())

    async def observe(self, message: Message, reply: Reply) -> None:
        """Assistant observer: record one question (idempotent per reply id).

        The row is written shortly after, with the others recorded meanwhile (``flush``), so the reply never
        waits for it and a busy server writes one transaction per batch instead of one per question (on
        SQLite, each of those queued behind answers' own writes)."""
        if not self.keeps(reply):
            return
        asker = None
        if message.user is not None:
            asker = self._db.keys.hash("insights", message.user.channel.value, message.user.id)
        top = reply.citations[0] if reply.citations else None
        # The document the question is about: the one cited, else the one of the nearest section named in a
        # no-answer (what the insights page files it under for its policy owner to teach).
        doc_id = top.doc_id if top else (reply.nearest[0].doc_id if reply.nearest else None)
        self._rows.add(
            {
                "reply_id": reply.id,
                "kind": reply.kind.value,
                "channel": message.channel.value,
                "asker_hash": asker,
                "question_enc": self._db.keys.encrypt(reply.question[:MAX_QUESTION_CHARS]),
                "doc_id": doc_id,
                "doc_version": top.version if top else None,
                "citations": [
                    {"doc_id": c.doc_id, "section": c.section, "version": c.version} for c in reply.citations
                ],
                "created_at": self._clock.now(),
            }
        )

    async def _hourly_purge(self) -> None:
        now = self._clock.now()
        if self._last_purge is None or now - self._last_purge > timedelta(hours=1):
            await self.purge()

    async def flush(self) -> None:
        """Write every question recorded so far (``StorageUnavailable`` while the database is down)."""
        await self._rows.flush()

    async def close(self) -> None:
        """Write what is pending (at shutdown)."""
        await self._rows.close()

    async def purge(self) -> int:
        """Forget what is past the retention period, and answered questions' text after ``PENDING`` unless
        someone marked the answer not helpful. Returns the rows deleted."""
        await self.flush()
        now = self._clock.now()
        self._last_purge = now
        unhelpful = select(feedback.c.reply_id).where(feedback.c.helpful.is_(False))
        async with self._db.transaction() as conn:
            gone = await conn.execute(
                delete(insight_questions).where(insight_questions.c.created_at < now - self.retention)
            )
            await conn.execute(
                update(insight_questions)
                .where(
                    insight_questions.c.kind != ReplyKind.NO_ANSWER.value,
                    insight_questions.c.created_at < now - PENDING,
                    insight_questions.c.question_enc.is_not(None),
                    insight_questions.c.reply_id.not_in(unhelpful),
                )
                .values(question_enc=None)
            )
        return int(gone.rowcount)

    async def rows(self) -> list[dict[str, Any]]:
        """Every kept record within the retention period, decrypted, with its feedback verdicts."""
        await self.flush()
        cutoff = self._clock.now() - self.retention
        async with self._db.transaction() as conn:
            records = (
                await conn.execute(
                    select(insight_questions)
                    .where(insight_questions.c.created_at >= cutoff)
                    .order_by(insight_questions.c.id)
                )
            ).all()
            unhelpful = set(
                (
                    await conn.execute(select(feedback.c.reply_id).where(feedback.c.helpful.is_(False)))
                ).scalars()
            )
        return [
            {
                "reply_id": r.reply_id,
                "kind": r.kind,
                "question": self._db.keys.decrypt_opt(r.question_enc),
                "asker": r.asker_hash,
                "doc_id": r.doc_id,
                "doc_version": r.doc_version,
                "citations": list(r.citations),
                "created_at": r.created_at,
                "not_helpful": r.reply_id in unhelpful,
            }
            for r in records
        ]

    async def question(self, reply_id: str) -> dict[str, Any] | None:
        """One kept record within the retention period, decrypted (None: unknown, forgotten or without text)."""
        await self.flush()
        cutoff = self._clock.now() - self.retention
        async with self._db.transaction(read_only=True) as conn:
            row = (
                await conn.execute(
                    select(insight_questions).where(
                        insight_questions.c.reply_id == reply_id,
                        insight_questions.c.created_at >= cutoff,
                        insight_questions.c.question_enc.is_not(None),
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return {
            "reply_id": row.reply_id,
            "kind": row.kind,
            "doc_id": row.doc_id,
            "question": self._db.keys.decrypt(row.question_enc),
        }

    async def section_feedback(self) -> list[dict[str, Any]]:
        """Helpful / not-helpful clicks per cited section (and the versions they were about)."""
        cutoff = self._clock.now() - self.retention
        async with self._db.transaction() as conn:
            rows = (
                await conn.execute(
                    select(
                        feedback.c.helpful, feedback.c.doc_id, feedback.c.doc_version, feedback.c.sections
                    ).where(feedback.c.updated_at >= cutoff)
                )
            ).all()
        counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        versions: dict[tuple[str, str], set[str]] = defaultdict(set)
        for helpful, doc_id, version, sections in rows:
            for section in sections or ["(none)"]:
                key = (doc_id or "(unknown)", str(section))
                counts[key]["helpful" if helpful else "not_helpful"] += 1
                if version:
                    versions[key].add(str(version))
        out = []
        for (doc_id, section), c in counts.items():
            total = c["helpful"] + c["not_helpful"]
            out.append(
                {
                    "doc_id": doc_id,
                    "section": section,
                    "helpful": c["helpful"],
                    "not_helpful": c["not_helpful"],
                    "helpful_rate": round(c["helpful"] / total, 3),
                    "versions": sorted(versions[(doc_id, section)]),
                }
            )
        return sorted(out, key=lambda r: (-r["not_helpful"], r["helpful_rate"], r["doc_id"], r["section"]))


@dataclass(frozen=True, slots=True)
class Theme:
    """A cluster of questions: ``label`` is the question nearest its centre."""

    label: str
    count: int
    people: int
    no_answer: int
    not_helpful: int
    examples: tuple[str, ...]


@dataclass
class InsightsReport:
    retention_days: int
    questions: int
    unanswered: int
    not_helpful: int
    themes: list[Theme] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    volume: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["themes"] = [{**asdict(t), "examples": list(t.examples)} for t in self.themes]
        return data


def cluster(
    texts: Sequence[str], vectors: np.ndarray, *, distance: float = THEME_DISTANCE
) -> list[list[int]]:
    """Groups of indices (largest first): agglomerative clustering, cosine distance, average linkage."""
    if len(texts) == 0:
        return []
    if len(texts) == 1:
        return [[0]]
    from sklearn.cluster import AgglomerativeClustering

    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average"
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[int(label)].append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


async def build_report(recorder: InsightsRecorder, embedder: Embedder, *, top: int = 10) -> InsightsReport:
    """The figures `policybot insights` prints and the dashboard shows."""
    await recorder.purge()
    rows = await recorder.rows()
    kept = [r for r in rows if r["question"] and (r["kind"] == ReplyKind.NO_ANSWER.value or r["not_helpful"])]
    texts = [str(r["question"]) for r in kept]
    vectors = await asyncio.to_thread(embedder.encode, texts) if texts else np.zeros((0, embedder.dim))
    themes: list[Theme] = []
    for group in cluster(texts, vectors)[:top]:
        members = [kept[i] for i in group]
        centre = vectors[group].mean(axis=0)
        nearest = max(group, key=lambda i: float(vectors[i] @ centre))
        examples = tuple(dict.fromkeys(texts[i] for i in group if i != nearest))[:3]
        themes.append(
            Theme(
                label=texts[nearest],
                count=len(group),
                people=len({m["asker"] for m in members if m["asker"]}),
                no_answer=sum(m["kind"] == ReplyKind.NO_ANSWER.value for m in members),
                not_helpful=sum(bool(m["not_helpful"]) for m in members),
                examples=examples,
            )
        )
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        per_day[r["created_at"].date().isoformat()][r["kind"]] += 1
    volume = [
        {"day": day, "questions": sum(c.values()), **{k: c[k] for k in sorted(c)}}
        for day, c in sorted(per_day.items())
    ]
    return InsightsReport(
        retention_days=recorder.retention.days,
        questions=len(rows),
        unanswered=sum(r["kind"] == ReplyKind.NO_ANSWER.value for r in rows),
        not_helpful=sum(bool(r["not_helpful"]) for r in rows),
        themes=themes,
        sections=await recorder.section_feedback(),
        volume=volume,
    )
