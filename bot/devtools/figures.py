"""The issue's figures for one document's messages (``DocFigures``) and how a set of replies is scored against its
labels: top-section accuracy, answered right at 1, wrong refusals, correct refusals, report recall and questions
flagged, with every quoted sentence checked verbatim against its source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.devtools.evaluation import EvalItem, ranking
from bot.domain import Intent, Reply, ReplyKind

__all__ = ["DocFigures", "pooled", "score"]


@dataclass
class DocFigures:
    """The issue's figures for one document's messages."""

    answerable: int = 0
    unanswerable: int = 0
    reports: int = 0
    hit1: float = 0.0
    hit3: float = 0.0
    answered_right_at_1: float = 0.0
    false_abstention: float = 0.0
    correct_abstention: float = 0.0
    report_recall: float = 0.0
    questions_flagged: float = 0.0
    verbatim_checked: int = 0
    verbatim_violations: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items() if k != "misses"
        }


def score(items: Sequence[EvalItem], replies: Sequence[Reply], bodies: dict[str, str]) -> DocFigures:
    """The issue's figures: top-section accuracy, answered right at 1, wrong refusals, correct refusals of
    related-but-unanswered questions, report recall and questions flagged, every quote checked verbatim."""
    f = DocFigures()
    right1 = 0
    flagged_questions = 0
    flagged_reports = 0
    for item, reply in zip(items, replies, strict=True):
        for c in reply.citations:
            for sentence in c.sentences or (c.quote,):
                f.verbatim_checked += 1
                if sentence not in bodies.get(c.doc_id, ""):
                    f.verbatim_violations += 1
        flagged = reply.intent in (Intent.REPORT, Intent.URGENT)
        if item.kind == "report":
            f.reports += 1
            flagged_reports += flagged
            continue
        flagged_questions += flagged
        answered = reply.kind in (ReplyKind.ANSWER, ReplyKind.RELATED_DOCUMENT) and bool(reply.citations)
        if flagged:
            answered = bool(reply.citations)
        if not item.answerable:
            f.unanswerable += 1
            f.correct_abstention += 0 if answered else 1
            if answered:
                f.misses.append(
                    {"q": item.q[:140], "gold": [], "got": ranking(reply)[:1], "kind": "answered"}
                )
            continue
        f.answerable += 1
        gold = {f"{item.doc}#{s}" for s in item.sections} | set(item.also)
        order = ranking(reply)
        f.hit1 += 1 if order[:1] and order[0] in gold else 0
        f.hit3 += 1 if gold & set(order[:3]) else 0
        if answered:
            first = reply.citations[0]
            right1 += 1 if f"{first.doc_id}#{first.section}" in gold else 0
        else:
            f.false_abstention += 1
        if not (order[:1] and order[0] in gold) or not answered:
            f.misses.append(
                {"q": item.q[:140], "gold": sorted(gold), "got": order[:3], "kind": reply.kind.value}
            )
    if f.answerable:
        f.hit1 /= f.answerable
        f.hit3 /= f.answerable
        f.false_abstention /= f.answerable
        f.answered_right_at_1 = right1 / f.answerable
    if f.unanswerable:
        f.correct_abstention /= f.unanswerable
    if f.reports:
        f.report_recall = flagged_reports / f.reports
    questions = f.answerable + f.unanswerable
    f.questions_flagged = flagged_questions / questions if questions else 0.0
    return f


def pooled(figures: Sequence[DocFigures]) -> DocFigures:
    """Every document's messages counted as one set: each rate weighted by the messages it is a share of, so a
    document with many questions counts for more than one with few (what "overall" means in the README)."""
    out = DocFigures()
    out.answerable = sum(f.answerable for f in figures)
    out.unanswerable = sum(f.unanswerable for f in figures)
    out.reports = sum(f.reports for f in figures)

    def mean(rate: str, weight: str) -> float:
        total = sum(getattr(f, weight) for f in figures)
        return sum(getattr(f, rate) * getattr(f, weight) for f in figures) / total if total else 0.0

    for rate in ("hit1", "hit3", "answered_right_at_1", "false_abstention"):
        setattr(out, rate, mean(rate, "answerable"))
    out.correct_abstention = mean("correct_abstention", "unanswerable")
    out.report_recall = mean("report_recall", "reports")
    questions = out.answerable + out.unanswerable
    flagged = sum(f.questions_flagged * (f.answerable + f.unanswerable) for f in figures)
    out.questions_flagged = flagged / questions if questions else 0.0
    out.verbatim_checked = sum(f.verbatim_checked for f in figures)
    out.verbatim_violations = sum(f.verbatim_violations for f in figures)
    return out
