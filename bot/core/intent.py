"""What a message is: a question, a report of abuse or a concern, an urgent safeguarding risk, or a call for help.

Two logistic regressions, averaged: one over the message embedding (already computed for search, so no extra
forward pass), which knows what the message is about; one over character n-grams, which hears how it is told
("my manager keeps posting", "a parent has been messaging me" versus "can I", "is it ok to"). Both are trained the
first time they are needed on the labelled messages shipped in ``bot/core/data/`` (``TRAINING``): staff messages
from the whole of council and school working life written without reference to any policy, those written around
the social media policy, and the development corpora's messages (tests/corpora), so that what makes a message a
report does not depend on the topic of the documents loaded. Whether a question is answered is not the
classifier's business (an "off-topic" class would be a judgement about one document set): it is the answer gate's.
Fitted parameters are cached under var/index/ as plain arrays and JSON (never pickles).

The report threshold is set for recall: missing a report costs far more than showing the "Report this privately"
button to someone who only had a question. Greetings, "help" and empty messages are recognised by rule.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.domain import Intent
from index.embed import Embedder, Vectors
from index.lexicon import reading  # the classifier reads what search embeds first: no extra pass

__all__ = [
    "EXAMPLES",
    "GENERAL_EXAMPLES",
    "Example",
    "IntentClassifier",
    "IntentResult",
    "is_help",
    "load_examples",
    "reading",
]

log = logging.getLogger(__name__)

DATA = Path(__file__).parent / "data"
EXAMPLES = DATA / "intent_examples.jsonl"
#: Staff messages from the whole of council and school working life, written independently of any policy.
GENERAL_EXAMPLES = DATA / "general_intents.jsonl"
#: The development corpora's labelled messages (tests/corpora/messages), as classifier data.
CORPORA_EXAMPLES = DATA / "corpora_intents.jsonl"
#: What the shipped classifier is trained on.
TRAINING = (GENERAL_EXAMPLES, EXAMPLES, CORPORA_EXAMPLES)
LABELS = ("question", "report", "urgent", "help")
#: Labels older data files carry, read as one of ``LABELS``.
_ALIASES = {"offtopic": "question", "unanswerable": "question"}
#: Bump when ``reading`` changes, so cached example embeddings are recomputed.
_READING_VERSION = "general-1"

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


def is_help(text: str) -> bool:
    """Empty messages, greetings, thanks and "help": answered with what policybot can do."""
    stripped = text.strip()
    return not stripped or bool(_HELP.match(stripped))


@dataclass(frozen=True, slots=True)
class IntentResult:
    intent: Intent
    probabilities: dict[str, float]

    @property
    def report_probability(self) -> float:
        return self.probabilities.get("report", 0.0) + self.probabilities.get("urgent", 0.0)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str


def load_examples(*paths: Path) -> list[Example]:
    """The labelled messages of these files (default: ``TRAINING``)."""
    out = []
    for path in paths or TRAINING:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            label = _ALIASES.get(row.get("label"), row.get("label"))
            if label not in LABELS or not isinstance(row.get("text"), str):
                raise ValueError(f"{path}:{n}: expected {{'text': str, 'label': one of {', '.join(LABELS)}}}")
            out.append(Example(text=row["text"], label=label))
    return out


class IntentClassifier:
    """Embedding and character n-gram classifiers averaged; thresholds favour catching reports."""

    REPORT_THRESHOLD = 0.35
    URGENT_THRESHOLD = 0.30

    def __init__(
        self, embedding_model: LogisticRegression, ngrams: TfidfVectorizer, ngram_model: LogisticRegression
    ) -> None:
        self._embedding_model = embedding_model
        self._ngrams = ngrams
        self._analyse: Callable[[str], list[str]] | None = None
        self._ngram_model = ngram_model
        self._classes = [str(c) for c in embedding_model.classes_]

    @classmethod
    def fit(cls, examples: Sequence[Example], vectors: Vectors) -> IntentClassifier:
        """Train both models (seconds; ``load_or_train`` caches the result)."""
        labels = np.array([e.label for e in examples])
        embedding_model = LogisticRegression(
            C=2.0, max_iter=3000, class_weight="balanced", solver="newton-cg"
        )
        embedding_model.fit(vectors, labels)
        ngrams = _vectorizer()
        grams = ngrams.fit_transform([e.text for e in examples])
        ngram_model = LogisticRegression(C=10.0, max_iter=3000, class_weight="balanced", solver="newton-cg")
        ngram_model.fit(grams, labels)
        return cls(embedding_model, ngrams, ngram_model)

    @classmethod
    def load_or_train(
        cls, cache_dir: Path, embedder: Embedder, paths: tuple[Path, ...] = TRAINING
    ) -> IntentClassifier:
        """The classifier for these examples and this model: fitted once, then loaded from var/index/.

        The cache is plain arrays and JSON (never a pickle), keyed by the examples, the model and the library
        versions, so a change to any of them retrains.
        """
        digest = hashlib.sha256(
            b"".join(p.read_bytes() for p in paths)
            + embedder.name.encode()
            + _READING_VERSION.encode()
            + sklearn.__version__.encode()
        ).hexdigest()[:16]
        cache = cache_dir / f"intent-{digest}"
        try:
            return cls._load(cache)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError) as exc:
            log.warning("intent classifier cache unreadable (%s); retraining", type(exc).__name__)
        examples = load_examples(*paths)
        vectors = embedder.encode([reading(e.text) for e in examples])
        classifier = cls.fit(examples, vectors)
        cache_dir.mkdir(parents=True, exist_ok=True)
        classifier._save(cache)
        return classifier

    def _save(self, stem: Path) -> None:
        tmp_npz = stem.with_name(stem.name + ".tmp.npz")
        np.savez(
            tmp_npz,
            classes=np.array(self._classes),
            embedding_coef=self._embedding_model.coef_,
            embedding_intercept=self._embedding_model.intercept_,
            ngram_coef=self._ngram_model.coef_,
            ngram_intercept=self._ngram_model.intercept_,
            idf=self._ngrams.idf_,
        )
        tmp_json = stem.with_name(stem.name + ".tmp.json")
        vocabulary = {k: int(v) for k, v in self._ngrams.vocabulary_.items()}
        tmp_json.write_text(json.dumps(vocabulary), encoding="utf-8")
        tmp_json.replace(stem.with_suffix(".json"))
        tmp_npz.replace(stem.with_suffix(".npz"))

    @classmethod
    def _load(cls, stem: Path) -> IntentClassifier:
        data = np.load(stem.with_suffix(".npz"), allow_pickle=False)
        vocabulary = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        classes = data["classes"]
        embedding_model = _restored(classes, data["embedding_coef"], data["embedding_intercept"])
        ngram_model = _restored(classes, data["ngram_coef"], data["ngram_intercept"])
        ngrams = _vectorizer()
        ngrams.vocabulary_ = vocabulary
        ngrams.idf_ = data["idf"]
        if len(vocabulary) != ngram_model.coef_.shape[1]:
            raise ValueError("intent cache: vocabulary and model disagree")
        return cls(embedding_model, ngrams, ngram_model)

    def probabilities(self, text: str, vector: Vectors) -> dict[str, float]:
        return self.probabilities_many([text], vector.reshape(1, -1))[0]

    def probabilities_many(self, texts: Sequence[str], vectors: Vectors) -> list[dict[str, float]]:
        """Both models' probabilities, averaged, for a batch (one vectoriser call: its overhead is per call)."""
        p_embed = _proba(self._embedding_model, vectors)
        p_grams = _proba(self._ngram_model, self._grams(texts))
        p = (p_embed + p_grams) / 2.0
        return [{c: float(v) for c, v in zip(self._classes, row, strict=True)} for row in p]

    def _grams(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """``TfidfVectorizer.transform`` for a few messages, built from the vectoriser's own analyser, vocabulary
        and idf (sublinear tf, l2 norm, as fitted): the library call validates its input first, which cost more
        than the arithmetic for a single message. A test checks both agree on every shipped example."""
        if self._analyse is None:
            self._analyse = self._ngrams.build_analyzer()
        vocabulary, idf = self._ngrams.vocabulary_, self._ngrams.idf_
        rows, cols, values = [], [], []
        for row, text in enumerate(texts):
            counts = Counter(g for g in self._analyse(text) if g in vocabulary)
            if not counts:
                continue
            index = np.fromiter((vocabulary[g] for g in counts), dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))  # sublinear
            weights = tf * idf[index]
            rows.extend([row] * len(index))
            cols.extend(index.tolist())
            values.extend((weights / np.linalg.norm(weights)).tolist())
        return sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), len(vocabulary)))

    def classify(self, text: str, vector: Vectors) -> IntentResult:
        """``vector`` is the message's embedding, shared with search."""
        return self.classify_many([text], vector.reshape(1, -1))[0]

    def classify_many(self, texts: Sequence[str], vectors: Vectors) -> list[IntentResult]:
        """``classify`` for a batch of messages and their embeddings (rows of ``vectors``)."""
        if not texts:
            return []
        return [
            self._decide(t, p) for t, p in zip(texts, self.probabilities_many(texts, vectors), strict=True)
        ]

    def _decide(self, text: str, probs: dict[str, float]) -> IntentResult:
        if is_help(text):
            return IntentResult(Intent.HELP, probs)
        urgent = probs.get("urgent", 0.0)
        if urgent >= self.URGENT_THRESHOLD or (_CHILD_RISK.search(text) and _MINOR.search(text)):
            return IntentResult(Intent.URGENT, probs)
        if probs.get("report", 0.0) + urgent >= self.REPORT_THRESHOLD:
            return IntentResult(Intent.REPORT, probs)
        if probs.get("help", 0.0) >= 0.6 and len(text.split()) <= 8:
            return IntentResult(Intent.HELP, probs)
        return IntentResult(Intent.QUESTION, probs)


def _proba(model: LogisticRegression, x: Any) -> npt.NDArray[np.float64]:
    """``predict_proba`` of a multinomial model: the softmax of its linear scores, one row per input row.

    sklearn's own call validates its input first, which costs more than the arithmetic for a few messages."""
    scores = np.asarray(x @ model.coef_.T) + model.intercept_
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    result: npt.NDArray[np.float64] = scores / scores.sum(axis=1, keepdims=True)
    return result


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True)


def _restored(
    classes: npt.NDArray[np.str_], coef: npt.NDArray[np.float64], intercept: npt.NDArray[np.float64]
) -> LogisticRegression:
    """A fitted logistic regression rebuilt from its parameters (prediction needs nothing else)."""
    model = LogisticRegression()
    model.classes_ = classes
    model.coef_ = coef
    model.intercept_ = intercept
    return model
