"""`policybot eval`: retrieval, abstention and message-classification figures over labelled questions.

Input lines: ``{"q": str, "kind": "question"|"report"|"offtopic", "sections": [...], "urgent"?: bool,
"doc"?: id}``. A question with sections is answerable; one without is not. Sections belong to ``doc`` (default:
the main policy), so "6.3" of one document is never a hit for another's. A hit is any labelled section among the
top k distinct sections; figures are also given per document. Hybrid (the shipped configuration), BM25-only and dense-only run in the same invocation, and every
quote of every answer is checked verbatim against its source document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain import Intent, Reply, ReplyKind

__all__ = ["EvalItem", "ModeFigures", "Report", "evaluate", "load_items"]


@dataclass(frozen=True, slots=True)
class EvalItem:
    q: str
    kind: str
    sections: tuple[str, ...]
    urgent: bool = False
    doc: str | None = None
    #: Sections of other documents that answer it too ("doc#6.3").
    also: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.sections)


@dataclass
class ModeFigures:
    mode: str
    answerable: int = 0
    unanswerable: int = 0
    hit1: float = 0.0
    hit3: float = 0.0
    mrr: float = 0.0
    correct_abstention: float = 0.0
    false_abstention: float = 0.0
    answered_right_at_1: float = 0.0
    answered: int = 0
    answered_wrong_unanswerable: int = 0

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Report:
    modes: list[ModeFigures]
    intent: dict[str, float]
    verbatim_checked: int
    verbatim_violations: list[str]
    misses: list[dict[str, Any]] = field(default_factory=list)
    #: The shipped (hybrid) figures for each document's labelled questions.
    documents: dict[str, ModeFigures] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "modes": {m.mode: m.to_json() for m in self.modes},
            "documents": {doc: f.to_json() for doc, f in self.documents.items()},
            "intent": {k: round(v, 4) for k, v in self.intent.items()},
            "verbatim_checked": self.verbatim_checked,
            "verbatim_violations": self.verbatim_violations,
            "misses": self.misses,
        }


def load_items(paths: Sequence[Path]) -> list[EvalItem]:
    items: list[EvalItem] = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                items.append(
                    EvalItem(
                        q=str(row["q"]),
                        kind=str(row.get("kind", "question")),
                        sections=tuple(str(s) for s in row.get("sections", [])),
                        urgent=bool(row.get("urgent", False)),
                        doc=row.get("doc"),
                        also=tuple(str(s) for s in row.get("also", [])),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not an evaluation line ({exc})") from None
    return items


def ranking(reply: Reply) -> list[str]:
    """Distinct "doc#section" keys in the order the reply presents them, then the rest of the search ranking."""
    order = [f"{c.doc_id}#{c.section}" for c in reply.citations]
    order += [f"{s.doc_id}#{s.section}" for s in reply.nearest]
    order += [str(s) for s in reply.extra.get("ranking_docs", [])]
    return list(dict.fromkeys(order))


def figures(
    mode: str, items: Sequence[EvalItem], replies: Sequence[Reply], default_doc: str = ""
) -> tuple[ModeFigures, list[dict[str, Any]]]:
    f = ModeFigures(mode=mode)
    misses: list[dict[str, Any]] = []
    right1 = 0
    for item, reply in zip(items, replies, strict=True):
        answered = reply.kind in (ReplyKind.ANSWER, ReplyKind.RELATED_DOCUMENT) and bool(reply.citations)
        if reply.intent in (Intent.REPORT, Intent.URGENT):
            answered = bool(reply.citations)
        if not item.answerable:
            f.unanswerable += 1
            f.correct_abstention += 0 if answered else 1
            f.answered_wrong_unanswerable += 1 if answered else 0
            continue
        f.answerable += 1
        order = ranking(reply)
        gold = {f"{item.doc or default_doc}#{s}" for s in item.sections}
        if order[:1] and order[0] in gold:
            f.hit1 += 1
        if gold & set(order[:3]):
            f.hit3 += 1
        f.mrr += next((1.0 / (i + 1) for i, s in enumerate(order) if s in gold), 0.0)
        if answered:
            f.answered += 1
            if f"{reply.citations[0].doc_id}#{reply.citations[0].section}" in gold:
                right1 += 1
        else:
            f.false_abstention += 1
        if not (order[:1] and order[0] in gold) or not answered:
            misses.append(
                {"q": item.q[:140], "gold": list(item.sections), "got": order[:3], "kind": reply.kind.value}
            )
    if f.answerable:
        f.hit1 /= f.answerable
        f.hit3 /= f.answerable
        f.mrr /= f.answerable
        f.false_abstention /= f.answerable
        f.answered_right_at_1 = right1 / f.answerable
    if f.unanswerable:
        f.correct_abstention /= f.unanswerable
    return f, misses


def intent_figures(items: Sequence[EvalItem], replies: Sequence[Reply]) -> dict[str, float]:
    """Report recall and false-positive rates: what the issue's floors are stated in."""
    flagged = [r.intent in (Intent.REPORT, Intent.URGENT) for r in replies]
    reports = [f for i, f in zip(items, flagged, strict=True) if i.kind == "report"]
    questions = [f for i, f in zip(items, flagged, strict=True) if i.kind == "question"]
    offtopic = [f for i, f in zip(items, flagged, strict=True) if i.kind == "offtopic"]
    urgent = [r.urgent for i, r in zip(items, replies, strict=True) if i.urgent]
    urgent_false = [r.urgent for i, r in zip(items, replies, strict=True) if not i.urgent]
    out = {
        "reports": float(len(reports)),
        "report_recall": _rate(reports),
        "questions": float(len(questions)),
        "questions_flagged_as_reports": _rate(questions),
        "offtopic_flagged_as_reports": _rate(offtopic),
    }
    if urgent:
        out["urgent_recall"] = _rate(urgent)
        out["urgent_false_positive"] = _rate(urgent_false)
    return out


def _rate(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def evaluate(
    items: Sequence[EvalItem],
    replies_by_mode: Mapping[str, Sequence[Reply]],
    docs_body: Mapping[str, str],
    *,
    default_doc: str | None = None,
) -> Report:
    """Figures for every mode and, for the shipped mode, per document; verbatim checked on every reply.

    ``default_doc`` is the document unlabelled items are about (the main policy; default: the first)."""
    main = default_doc or next(iter(docs_body), "")
    modes: list[ModeFigures] = []
    misses: list[dict[str, Any]] = []
    for mode, replies in replies_by_mode.items():
        f, m = figures(mode, items, replies, main)
        modes.append(f)
        if mode == "hybrid":
            misses = m
    shipped = replies_by_mode["hybrid"]
    checked = 0
    violations: list[str] = []
    for mode_replies in replies_by_mode.values():
        for reply in mode_replies:
            for c in reply.citations:
                for sentence in c.sentences or (c.quote,):
                    checked += 1
                    if sentence not in docs_body.get(c.doc_id, ""):
                        violations.append(f"{c.doc_id}#{c.section}: {sentence[:60]}")
    documents: dict[str, ModeFigures] = {}
    for doc in dict.fromkeys(item.doc or main for item in items if item.kind == "question"):
        chosen = [
            (i, r)
            for i, r in zip(items, shipped, strict=True)
            if (i.doc or main) == doc and i.kind == "question"
        ]
        documents[doc] = figures("hybrid", [i for i, _ in chosen], [r for _, r in chosen], main)[0]
    return Report(
        modes=modes,
        intent=intent_figures(items, shipped),
        verbatim_checked=checked,
        verbatim_violations=violations,
        misses=misses,
        documents=documents,
    )
