"""Fitting the answer gate (`policybot eval --fit-gate`): a logistic model over the search evidence.

The gate decides between quoting the policy and saying it does not cover the question. Its numbers live in
``AnswerPolicy`` so that serving needs no training step; this module is how they are obtained and checked, on
labelled real staff phrasing, with cross-validated figures, so that a number in the code can be reproduced and a
policy owner with their own labelled questions can refit it.

``fit_gate`` refits the gate that serves this corpus (the example gate when it has example messages, else the
evidence gate) with the same inputs. The threshold is the lowest at which cross-validated correct abstention
reaches ``target``: refusing a question the policy answers is a nuisance (the reply still names the nearest
sections and who to ask), whereas answering one it does not cover puts words in the policy's mouth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from bot.core.assistant import Assistant
from bot.core.gate import AnswerPolicy, Gate, gate_inputs
from bot.devtools.evaluation import EvalItem
from index.ranking import FEATURES, Ranker

__all__ = ["GateFit", "describe", "fit_gate", "fit_ranker", "gate_rows", "ranker_rows"]

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.02, 0.91, 0.02))


@dataclass(frozen=True, slots=True)
class GateFit:
    gate: Gate
    #: Cross-validated (correct abstention, false abstention) at each threshold.
    tradeoff: dict[float, tuple[float, float]]
    answerable: int
    unanswerable: int

    def at(self, threshold: float) -> tuple[float, float]:
        return self.tradeoff[min(self.tradeoff, key=lambda t: abs(t - threshold))]


def ranker_rows(
    assistant: Assistant, items: Sequence[EvalItem]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every candidate section of every answerable question: its features, whether it answers the question
    (one of the question's sections, or of another document's that answers it too: ``also``), and the question
    it belongs to."""
    answerable = [i for i in items if i.kind == "question" and i.sections]
    found = assistant.searcher.candidates([i.q for i in answerable])
    x: list[npt.NDArray[np.float64]] = []
    y: list[int] = []
    group: list[int] = []
    for n, (item, candidates) in enumerate(zip(answerable, found, strict=True)):
        gold = {(item.doc or "", s) for s in item.sections} | {
            tuple(a.split("#", 1)) for a in item.also if "#" in a
        }
        labels = [1 if key in gold else 0 for key in candidates.keys]
        if not any(labels):
            continue  # the labelled section is not in this index (another document's question)
        x.append(candidates.features)
        y.extend(labels)
        group.extend([n] * len(labels))
    if not x:
        return np.zeros((0, len(FEATURES))), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(x), np.array(y, dtype=np.int64), np.array(group, dtype=np.int64)


def fit_ranker(x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], *, c: float = 1.0) -> Ranker:
    """A logistic model over the candidates' features: answering sections against the others (pointwise)."""
    if len(set(y.tolist())) < 2:
        raise ValueError(
            "need labelled answerable questions whose sections are in the index to fit the ranker"
        )
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(x, y)
    return Ranker(weights=tuple(round(float(w), 4) for w in model.coef_[0]))


def gate_rows(
    assistant: Assistant, items: Sequence[EvalItem]
) -> tuple[Gate, npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The gate that serves this assistant's corpus, its inputs for each labelled question, and whether the
    question is answerable. Reports are left out: they always get the reporting guidance."""
    analysed = assistant._analyse_batch([(i.q, i.q) for i in items])
    policy: AnswerPolicy = assistant.policy
    gate = policy.example_gate if assistant.index.examples else policy.evidence_gate
    rows: list[list[float]] = []
    labels: list[int] = []
    for item, (result, _intent) in zip(items, analysed, strict=True):
        if item.kind == "report" or not result.hits:
            continue
        values = gate_inputs(result.features)
        rows.append([values.get(name, 0.0) for name in gate.inputs])
        labels.append(1 if item.answerable else 0)
    return gate, np.array(rows, dtype=np.float64), np.array(labels, dtype=np.int64)


def fit_gate(
    gate: Gate,
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.int64],
    *,
    target: float = 0.85,
    max_false: float | None = None,
    folds: int = 10,
    repeats: int = 5,
    c: float = 1.0,
) -> GateFit:
    """Fit on everything; choose the threshold on out-of-fold probabilities (``folds`` x ``repeats``): the lowest
    that reaches ``target`` correct abstention, or (``max_false``) the highest whose false abstention stays
    within it."""
    if len(set(y.tolist())) < 2 or min(np.bincount(y)) < folds:
        raise ValueError(
            f"need at least {folds} answerable and {folds} unanswerable questions to fit the gate"
        )
    oof = np.zeros(len(y))
    for seed in range(repeats):
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
            model = _model(c).fit(x[train], y[train])
            oof[test] += model.predict_proba(x[test])[:, 1] / repeats
    tradeoff = {
        float(t): (float((oof[y == 0] < t).mean()), float((oof[y == 1] < t).mean())) for t in THRESHOLDS
    }
    if max_false is not None:
        within = [t for t in sorted(tradeoff) if tradeoff[t][1] <= max_false]
        threshold = max(within) if within else min(tradeoff)
    else:
        threshold = next((t for t in sorted(tradeoff) if tradeoff[t][0] >= target), max(tradeoff))
    final = _model(c).fit(x, y)
    return GateFit(
        gate=Gate(
            inputs=gate.inputs,
            weights=tuple(round(float(w), 3) for w in final.coef_[0]),
            bias=round(float(final.intercept_[0]), 3),
            threshold=threshold,
        ),
        tradeoff=tradeoff,
        answerable=int(y.sum()),
        unanswerable=int((y == 0).sum()),
    )


def _model(c: float) -> LogisticRegression:
    # Balanced: unanswerable questions are the minority, and the cost of answering them is the higher one.
    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000)


def describe(fit: GateFit) -> list[str]:
    """Lines to print: the numbers for ``AnswerPolicy`` and the trade-off around the chosen threshold."""
    g = fit.gate
    abstain, false = fit.at(g.threshold)
    lines = [
        f"fitted on {fit.answerable} answerable and {fit.unanswerable} unanswerable questions (reports left out)",
        f"Gate(inputs={g.inputs}, weights={g.weights}, bias={g.bias}, threshold={g.threshold})",
        f"cross-validated at the threshold: correct abstention {abstain:.3f}, false abstention {false:.3f}",
    ]
    for t in sorted(fit.tradeoff):
        if abs(t - g.threshold) <= 0.1 + 1e-9:
            a, f = fit.tradeoff[t]
            lines.append(f"  threshold {t:.2f}: correct abstention {a:.3f}, false abstention {f:.3f}")
    return lines
