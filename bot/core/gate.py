"""The answer gate: whether the policies answer a message, as a calibrated probability from the search evidence.

A ``Gate`` is a logistic model over named evidence and the probability below which policybot abstains. Its
numbers live here so that serving needs no training step; `policybot eval --held-out ... --fit` (the evidence gate,
across documents) and `policybot eval --fit-gate` (the example gate, on one document's labelled questions) print
how they were obtained, with their cross-validated figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["EVIDENCE_GATE", "EXAMPLE_GATE", "AnswerPolicy", "Gate", "answer_probability", "gate_inputs"]


@dataclass(frozen=True, slots=True)
class Gate:
    """A logistic model over named evidence (see ``gate_inputs``) and the probability below which we abstain.

    Fitted on labelled real staff phrasing by ``policybot eval --fit-gate``, which prints these numbers with
    their cross-validated correct and false abstention, so every number here can be reproduced."""

    inputs: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    #: A report keeps the policy's guidance unless its probability is below this: a lower bar, because the
    #: guidance on reporting applies to most reports; below it, the reply offers the private report and quotes
    #: nothing (a grievance about parking is not a social-media matter).
    report_threshold: float = 0.0

    def probability(self, values: dict[str, float]) -> float:
        z = self.bias + sum(
            w * values.get(name, 0.0) for name, w in zip(self.inputs, self.weights, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z))


#: For a section with example messages (the seed policy's, or any an owner taught): how close the message is to
#: the examples of the section found and to examples the document does not answer, the nearest examples' vote, and
#: the evidence of the text itself. `policybot eval --fit-gate tests/eval/dev_questions.jsonl
#: tests/eval/staff_questions.jsonl --target 0.84` (141 questions that are not reports, 10 folds x 5):
#: cross-validated correct abstention 0.842, false abstention 0.087 at 0.52.
EXAMPLE_GATE = Gate(
    inputs=("hit_example", "top_unanswered", "unanswered_share", "hit_dense", "margin"),
    weights=(2.495, -0.81, -3.613, 1.689, 0.128),
    bias=-1.369,
    threshold=0.52,
    report_threshold=0.3,
)
#: For a section without examples (any document added without them): how far the best section stands out from
#: the rest (the ranker's score, its margin over the next, its share of a softmax over the candidates) and how good
#: it is in absolute terms (sentence and section cosine, the share of the question's words it contains, BM25).
#: Fitted across documents by `policybot eval --held-out tests/corpora/corpora.toml --fit`.
EVIDENCE_GATE = Gate(
    inputs=(
        "top_fused",
        "margin",
        "top_share",
        "hit_dense",
        "hit_dense_section",
        "hit_coverage",
        "log_hit_lexical",
    ),
    weights=(0.01, 0.211, -0.204, 2.443, -0.017, 0.154, 0.133),
    bias=-1.601,
    threshold=0.4,
)


@dataclass(frozen=True, slots=True)
class AnswerPolicy:
    """What counts as an answer: the gates, and how much of the policy a reply quotes."""

    example_gate: Gate = EXAMPLE_GATE
    evidence_gate: Gate = EVIDENCE_GATE
    #: A second or third section is cited when its fused score (a weighted mean of z-scores) is within this of
    #: the first.
    secondary_margin: float = 0.33
    #: Sections named as "nearest" in a no-answer need at least this sentence cosine.
    nearest_floor: float = 0.35
    max_citations: int = 3
    max_sentences: int = 3
    #: Further sentences of a section are quoted when within this of its best sentence.
    sentence_margin: float = 0.06

    def gate_for(self, features: dict[str, float]) -> Gate:
        """The example gate when the section found has example messages to compare with, else the evidence gate
        (a document added without examples is judged on its text, not refused for lacking them)."""
        return self.example_gate if features.get("hit_has_examples", 0.0) > 0 else self.evidence_gate


def gate_inputs(features: dict[str, float]) -> dict[str, float]:
    """Every value a gate may read: a search's features and ``log_hit_lexical``."""
    derived = dict(features)
    derived["log_hit_lexical"] = math.log1p(max(features.get("hit_lexical", 0.0), 0.0))
    return derived


def answer_probability(features: dict[str, float], policy: AnswerPolicy) -> float:
    """How likely the policies answer this message, from the search evidence (see ``Gate``)."""
    return policy.gate_for(features).probability(gate_inputs(features))
