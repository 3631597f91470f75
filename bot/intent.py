"""What a message is: a question, a report of abuse or a concern, an urgent safeguarding risk, or a call for help.

Two logistic regressions, averaged: one over the message embedding (already computed for search, so no extra
forward pass), which knows what the message is about; one over character n-grams, which hears how it is told
("my manager keeps posting", "a parent has been messaging me" versus "can I", "is it ok to"). Both are trained on
the labelled examples shipped in ``bot/data/intent_examples.jsonl``; only the example embeddings are cached (as
plain arrays, never pickles) and the models are refitted at start-up in well under a second.

The report threshold is set for recall: missing a report costs far more than showing the "Report this privately"
button to someone who only had a question. Greetings, "help" and empty messages are recognised by rule.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.domain import Intent
from index.embed import Embedder, Vectors
from index.lexicon import expand, normalise

__all__ = ["EXAMPLES", "Example", "IntentClassifier", "IntentResult", "is_help", "load_examples", "reading"]

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).parent / "data" / "intent_examples.jsonl"
LABELS = ("question", "report", "urgent", "help", "offtopic")
#: Bump when ``reading`` changes, so cached example embeddings are recomputed.
_READING_VERSION = "expand-1"

_HELP = re.compile(
    r"^\W*(hi|hello|hey|hiya|yo|morning|good (morning|afternoon|evening)|help|help me|menu|start|"
    r"thanks?|thank you|thanks a lot|cheers|ta|ok|okay|what can you do|what do you do|who are you|"
    r"how do(es)? (this|it|you) work|what is this|commands|options|\?+)\W*(policybot|bot)?\W*$",
    re.IGNORECASE,
)
# A child or vulnerable adult at risk: with a mention of a minor, such words make a message urgent whatever
# the model says, because a false alarm here costs a moment and a miss can cost a child.
_CHILD_RISK = re.compile(
    r"\b(self[- ]?harm\w*|suicid\w*|kill (him|her|them)sel(f|ves)|groom\w*|nudes?|naked|indecent|sexting|"
    r"explicit (photo|image|picture)s?|send (him|her|them) pic\w*|asking for pic\w*|wants to meet|"
    r"overdose|run(ning)? away|gone missing|went missing|is missing)\b",
    re.IGNORECASE,
)
_MINOR = re.compile(
    r"\b(pupils?|students?|child|children|kids?|year \d+s?|y\d+s?|teen\w*|\d{1,2} ?(yo|year[- ]old)|boy|girl|"
    r"minor|learner|vulnerable|young (person|people)|under ?age|looked after)\b",
    re.IGNORECASE,
)


def reading(text: str) -> str:
    """The text whose embedding the classifier reads: the message in the policy's vocabulary.

    It is exactly what search embeds first for the message, so classifying costs no extra forward pass.
    """
    return expand(normalise(text).strip())


def is_help(text: str) -> bool:
    """Empty messages, greetings, thanks and "help": answered with what policybot can do."""
    stripped = text.strip()
    return not stripped or bool(_HELP.match(stripped))


@dataclass(frozen=True, slots=True)
class IntentResult:
    intent: Intent
    probabilities: dict[str, float]
    offtopic: bool

    @property
    def report_probability(self) -> float:
        return self.probabilities.get("report", 0.0) + self.probabilities.get("urgent", 0.0)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str


def load_examples(path: Path = EXAMPLES) -> list[Example]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in LABELS or not isinstance(row.get("text"), str):
            raise ValueError(f"{path}:{n}: expected {{'text': str, 'label': one of {', '.join(LABELS)}}}")
        out.append(Example(text=row["text"], label=row["label"]))
    return out


class IntentClassifier:
    """Embedding and character n-gram classifiers averaged; thresholds favour catching reports."""

    REPORT_THRESHOLD = 0.35
    URGENT_THRESHOLD = 0.30
    OFFTOPIC_THRESHOLD = 0.60

    def __init__(self, examples: Sequence[Example], vectors: Vectors) -> None:
        labels = np.array([e.label for e in examples])
        self._embedding_model = LogisticRegression(C=2.0, max_iter=3000, class_weight="balanced")
        self._embedding_model.fit(vectors, labels)
        self._ngrams = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True
        )
        grams = self._ngrams.fit_transform([e.text for e in examples])
        self._ngram_model = LogisticRegression(C=10.0, max_iter=3000, class_weight="balanced")
        self._ngram_model.fit(grams, labels)
        self._classes = [str(c) for c in self._embedding_model.classes_]

    @classmethod
    def load_or_train(
        cls, cache_dir: Path, embedder: Embedder, examples_path: Path = EXAMPLES
    ) -> IntentClassifier:
        """Fit on the shipped examples; their embeddings are cached per (examples, model) under var/index/."""
        examples = load_examples(examples_path)
        digest = hashlib.sha256(
            examples_path.read_bytes() + embedder.name.encode() + _READING_VERSION.encode()
        ).hexdigest()[:16]
        cache = cache_dir / f"intent-{digest}.npy"
        vectors: Vectors | None = None
        if cache.is_file():
            try:
                loaded = np.load(cache, allow_pickle=False)
                if loaded.shape == (len(examples), embedder.dim):
                    vectors = loaded.astype(np.float32)
            except (OSError, ValueError):
                log.warning("intent example cache unreadable; re-embedding")
        if vectors is None:
            vectors = embedder.encode([reading(e.text) for e in examples])
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + ".tmp.npy")
            np.save(tmp, vectors, allow_pickle=False)
            tmp.replace(cache)
        return cls(examples, vectors)

    def probabilities(self, text: str, vector: Vectors) -> dict[str, float]:
        p_embed = self._embedding_model.predict_proba(vector.reshape(1, -1))[0]
        p_grams = self._ngram_model.predict_proba(self._ngrams.transform([text]))[0]
        p = (p_embed + p_grams) / 2.0
        return {c: float(v) for c, v in zip(self._classes, p, strict=True)}

    def classify(self, text: str, vector: Vectors) -> IntentResult:
        """``vector`` is the message's embedding, shared with search."""
        probs = self.probabilities(text, vector)
        if is_help(text):
            return IntentResult(Intent.HELP, probs, offtopic=False)
        urgent = probs.get("urgent", 0.0)
        if urgent >= self.URGENT_THRESHOLD or (_CHILD_RISK.search(text) and _MINOR.search(text)):
            return IntentResult(Intent.URGENT, probs, offtopic=False)
        if probs.get("report", 0.0) + urgent >= self.REPORT_THRESHOLD:
            return IntentResult(Intent.REPORT, probs, offtopic=False)
        if probs.get("help", 0.0) >= 0.6 and len(text.split()) <= 8:
            return IntentResult(Intent.HELP, probs, offtopic=False)
        offtopic = probs.get("offtopic", 0.0) >= self.OFFTOPIC_THRESHOLD
        return IntentResult(Intent.QUESTION, probs, offtopic=offtopic)
