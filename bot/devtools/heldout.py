"""Leave-one-document-out evaluation (`policybot eval --held-out MANIFEST`): the honest figure.

For each labelled document D, every learned part (the ranker's weights, the answer gate, the intent classifier)
is fitted without a single example or label of D: on the labelled messages of the other documents only, searched
against an index that does not hold D (the classifier also leaves out any data written around D). Then D's messages are scored twice: with D indexed alone, and with every document loaded
together (the realistic deployment, with a second document on the same topic). Documents listed as ``outside``
are only ever scored, never fitted on, in any fold.

The manifest (TOML) names the documents and their labelled messages::

    [[document]]
    path = "../policy_corpus/social-media-policy.md"
    messages = ["../tests/eval/dev_questions.jsonl", "../tests/eval/staff_questions.jsonl"]
    intent_data = ["../bot/core/data/intent_examples.jsonl"]   # classifier data written around this document

Message lines are ``{"q", "sections", "kind", "also"?}``; ``kind`` is question, unanswerable (or offtopic) or
report; ``also`` lists other documents' sections (``"doc#6.3"``) that answer the question too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.core.assistant import Assistant
from bot.core.gate import AnswerPolicy
from bot.core.intent import (
    CORPORA_EXAMPLES,
    GENERAL_EXAMPLES,
    Example,
    IntentClassifier,
    load_examples,
    reading,
)
from bot.devtools.calibration import fit_gate, fit_ranker, gate_rows, ranker_rows
from bot.devtools.evaluation import EvalItem, load_items
from bot.devtools.figures import DocFigures, score
from index.corpus import load_corpus, parse_markdown
from index.embed import Embedder, Span, Vectors, encode_spans
from index.ranking import RANKER, Ranker
from index.search import Weights
from index.store import BuiltIndex, build_index

__all__ = [
    "CachingEmbedder",
    "DocFigures",
    "HeldOutReport",
    "LabelledDocument",
    "held_out",
    "load_manifest",
    "score",
]

Log = Callable[[str], None]
#: The gate's operating point: the highest threshold whose cross-validated false abstention stays within this.
MAX_FALSE = 0.10


@dataclass(frozen=True, slots=True)
class LabelledDocument:
    id: str
    path: Path
    items: tuple[EvalItem, ...]
    #: Classifier training data written around this document (left out of its fold).
    intent_data: tuple[Path, ...] = ()
    #: Scored only, never fitted on (a document written outside the team).
    outside: bool = False


@dataclass
class HeldOutReport:
    #: figures[mode][doc id], mode "alone" (D indexed alone) or "together" (every document loaded).
    figures: dict[str, dict[str, DocFigures]]
    outside: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            "modes": {m: {d: f.to_json() for d, f in docs.items()} for m, docs in self.figures.items()},
            "outside": sorted(self.outside),
        }


def load_manifest(path: Path, *, outside: Sequence[Path] = ()) -> list[LabelledDocument]:
    """The documents of a manifest, then each ``outside`` directory's (``X.md`` beside ``X.jsonl``)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    base = path.parent
    docs: list[LabelledDocument] = []
    for entry in data.get("document", []):
        doc_path = (base / entry["path"]).resolve()
        doc = parse_markdown(doc_path.read_text(encoding="utf-8"), doc_path)
        items = load_items([(base / m).resolve() for m in entry.get("messages", [])])
        docs.append(
            LabelledDocument(
                id=doc.id,
                path=doc_path,
                items=tuple(replace(i, doc=i.doc or doc.id) for i in items),
                intent_data=tuple((base / p).resolve() for p in entry.get("intent_data", [])),
            )
        )
    for folder in outside:
        for md in sorted(Path(folder).glob("*.md")):
            messages = md.with_suffix(".jsonl")
            if md.name.lower() == "readme.md" or not messages.is_file():
                continue
            doc = parse_markdown(md.read_text(encoding="utf-8"), md)
            items = load_items([messages])
            docs.append(
                LabelledDocument(
                    id=doc.id,
                    path=md.resolve(),
                    items=tuple(replace(i, doc=i.doc or doc.id) for i in items),
                    outside=True,
                )
            )
    return docs


class CachingEmbedder:
    """An embedder that remembers what it embedded: the folds embed the same passages and messages many times."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._texts: dict[str, Vectors] = {}
        self._spans: dict[tuple[str, tuple[Span, ...]], Vectors] = {}

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def max_tokens(self) -> int:
        return self._inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def encode(self, texts: Sequence[str]) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in self._texts))
        if missing:
            for text, vector in zip(missing, self._inner.encode(missing), strict=True):
                self._texts[text] = vector
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._texts[t] for t in texts])

    def encode_spans(self, items: Sequence[tuple[str, Sequence[Span]]]) -> list[Vectors]:
        keys = [(text, tuple(spans)) for text, spans in items]
        missing = list(dict.fromkeys(k for k in keys if k not in self._spans))
        if missing:
            for key, vectors in zip(missing, encode_spans(self._inner, missing), strict=True):
                self._spans[key] = vectors
        return [self._spans[k].copy() for k in keys]


@contextmanager
def corpus_of(documents: Sequence[LabelledDocument]) -> Iterator[Path]:
    """A temporary corpus directory holding these documents only (no examples, no corpus.toml)."""
    with tempfile.TemporaryDirectory(prefix="policybot-heldout-") as tmp:
        root = Path(tmp) / "corpus"
        root.mkdir()
        for doc in documents:
            shutil.copyfile(doc.path, root / f"{doc.id}.md")
        yield root


def build(documents: Sequence[LabelledDocument], embedder: Embedder) -> BuiltIndex:
    with corpus_of(documents) as root, tempfile.TemporaryDirectory(prefix="policybot-index-") as index_dir:
        return build_index(load_corpus(root), embedder, Path(index_dir))


def intent_training(documents: Sequence[LabelledDocument], held: LabelledDocument | None) -> list[Example]:
    """What the shipped classifier trains on (``bot.core.intent.TRAINING``) without anything of ``held``: the
    general staff-language set, the data written around the other documents, and their messages."""
    examples = load_examples(GENERAL_EXAMPLES)
    for doc in documents:
        if doc is held or doc.outside:
            continue
        for path in doc.intent_data:
            examples.extend(load_examples(path))
        examples.extend(
            Example(text=i.q, label=intent_label(i)) for i in doc.items if doc.id in exported_ids()
        )
    return examples


def intent_label(item: EvalItem) -> str:
    """A labelled message as classifier data: reports (urgent ones apart) against everything else."""
    if item.kind == "report":
        return "urgent" if item.urgent else "report"
    return "question"


def exported_ids() -> frozenset[str]:
    """The documents whose messages are shipped as classifier data (``CORPORA_EXAMPLES``)."""
    ids = set()
    for line in CORPORA_EXAMPLES.read_text(encoding="utf-8").splitlines():
        if line.strip():
            ids.add(json.loads(line)["doc"])
    return frozenset(ids)


def corpora_intents(documents: Sequence[LabelledDocument]) -> str:
    """The development corpora's messages as classifier data (the contents of ``CORPORA_EXAMPLES``): every
    document's messages except those of the seed policy, whose evaluation questions are never trained on."""
    lines = []
    for doc in documents:
        if doc.outside or doc.intent_data:
            continue
        for item in doc.items:
            row = {"text": item.q, "label": intent_label(item), "doc": doc.id}
            lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + "\n"


class Fitter:
    """Fits the learned parts for a fold, caching what does not depend on the fold."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._classifiers: dict[str, IntentClassifier] = {}

    def classifier(self, examples: Sequence[Example]) -> IntentClassifier:
        key = hashlib.sha256("\n".join(f"{e.label}\t{e.text}" for e in examples).encode()).hexdigest()
        if key not in self._classifiers:
            vectors = self.embedder.encode([reading(e.text) for e in examples])
            self._classifiers[key] = IntentClassifier.fit(examples, vectors)
        return self._classifiers[key]

    def fit(
        self, train: Sequence[LabelledDocument], classifier: IntentClassifier, *, max_false: float
    ) -> tuple[Ranker, AnswerPolicy]:
        """The ranker, then the answer gate over its evidence, fitted on ``train``'s labelled messages searched
        against an index of ``train`` alone."""
        index = build(train, self.embedder)
        items = [i for d in train for i in d.items]
        plain = Assistant(index=index, embedder=self.embedder, classifier=classifier)
        try:
            ranker = fit_ranker(*ranker_rows(plain, items)[:2])
        except ValueError:  # too few labelled questions: keep the shipped ranker
            ranker = RANKER
        assistant = Assistant(
            index=index, embedder=self.embedder, classifier=classifier, weights=Weights(ranker=ranker)
        )
        gate, x, y = gate_rows(assistant, items)
        try:
            fitted = fit_gate(gate, x, y, max_false=max_false).gate
        except ValueError:  # fewer than ten answerable or unanswerable questions: keep the shipped gate
            fitted = AnswerPolicy().evidence_gate
        return ranker, replace(AnswerPolicy(), evidence_gate=fitted)


def fold(documents: Sequence[LabelledDocument], held: LabelledDocument) -> list[LabelledDocument]:
    """The documents a fold fits on: every labelled one but ``held`` (and never one from outside the team)."""
    return [d for d in documents if d is not held and not d.outside]


def held_out(
    documents: Sequence[LabelledDocument],
    embedder: Embedder,
    *,
    only: Sequence[str] = (),
    modes: Sequence[str] = ("alone", "together"),
    max_false: float = MAX_FALSE,
    log: Log = lambda _line: None,
) -> HeldOutReport:
    """Leave each document out in turn: fit on the others, score it alone and with every document loaded."""
    cached = CachingEmbedder(embedder)
    fitter = Fitter(cached)
    together = build(documents, cached) if "together" in modes else None
    report = HeldOutReport(
        figures={m: {} for m in modes}, outside=frozenset(d.id for d in documents if d.outside)
    )
    for held in documents:
        if only and held.id not in only:
            continue
        train = fold(documents, held)
        log(f"{held.id}: fitting on {', '.join(d.id for d in train)}")
        classifier = fitter.classifier(intent_training(documents, held))
        ranker, policy = fitter.fit(train, classifier, max_false=max_false)
        texts = [i.q for i in held.items]
        for mode in modes:
            index = build([held], cached) if mode == "alone" else together
            assert index is not None
            assistant = Assistant(
                index=index,
                embedder=cached,
                classifier=classifier,
                policy=policy,
                weights=Weights(ranker=ranker),
            )
            replies = assistant.answer_many(texts)
            bodies = {d.id: d.body for d in index.corpus.documents}
            report.figures[mode][held.id] = score(held.items, replies, bodies)
            f = report.figures[mode][held.id]
            log(
                f"  {mode}: hit@1 {f.hit1:.3f} answered-right@1 {f.answered_right_at_1:.3f} "
                f"false-abst {f.false_abstention:.3f} correct-abst {f.correct_abstention:.3f} "
                f"recall {f.report_recall:.3f} flagged {f.questions_flagged:.3f}"
            )
    return report


def fit_all(
    documents: Sequence[LabelledDocument], embedder: Embedder, *, log: Log = lambda _l: None
) -> list[str]:
    """The shipped numbers: the ranker and the answer gate fitted on every labelled document together (never
    on an ``outside`` one), printed as the code that holds them (``index.ranking.RANKER``, ``EVIDENCE_GATE``)."""
    cached = CachingEmbedder(embedder)
    fitter = Fitter(cached)
    train = [d for d in documents if not d.outside]
    log(f"fitting on {', '.join(d.id for d in train)}")
    classifier = fitter.classifier(intent_training(documents, None))
    ranker, policy = fitter.fit(train, classifier, max_false=MAX_FALSE)
    gate = policy.evidence_gate
    return [
        f"RANKER = Ranker(weights={ranker.weights})",
        f"EVIDENCE_GATE = Gate(inputs={gate.inputs}, weights={gate.weights}, bias={gate.bias}, "
        f"threshold={gate.threshold})",
    ]
