"""Scoring primitives shared by search: similarity matrices from FAISS, BM25 scores, a section's two best
sentences. (Standardising and fusing them is ``index.ranking``.)"""

from __future__ import annotations

import faiss
import numpy as np
import numpy.typing as npt

from index.embed import Vectors

__all__ = ["NEAREST", "Scores", "bm25_scores", "faiss_scores", "ranges", "top2"]

Scores = npt.NDArray[np.float32]

#: FAISS returns this many nearest sentences/passages per query text; beyond them nothing can win.
NEAREST = 1024


def faiss_scores(index: faiss.Index, vectors: Vectors, total: int) -> Scores:
    """A (texts x total) similarity matrix from a FAISS inner-product search (exact for a small index)."""
    k = min(total, NEAREST)
    sims, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
    if k == total:
        out = np.empty((len(vectors), total), dtype=np.float32)
    else:
        out = np.repeat(sims[:, -1:], total, axis=1).astype(np.float32)
    np.put_along_axis(out, ids, sims, axis=1)
    return out


def bm25_scores(bm25: object, tokens: list[str], size: int) -> Scores:
    vocab = bm25.vocab_dict  # type: ignore[attr-defined]
    known = [t for t in tokens if t in vocab]
    if not known:
        return np.zeros(size, dtype=np.float32)
    return np.asarray(bm25.get_scores(known), dtype=np.float32)  # type: ignore[attr-defined]


def ranges(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0..n-1 for every n in ``counts``, concatenated (offsets within each example's run of sections)."""
    if not len(counts):
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(ends[-1], dtype=np.int64) - np.repeat(ends - counts, counts)


def top2(values: Scores) -> float:
    """Mean of the two best sentence scores of a section (its best alone for a one-sentence section)."""
    if len(values) == 1:
        return float(values[0])
    top = np.partition(values, len(values) - 2)[-2:]
    return float(top.mean())
