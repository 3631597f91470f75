"""What search returns: ranked sections (``Hit``) with the sentences that matched (``UnitScore``), the query-level
evidence for the answer gate (``SearchResult.features``), and the candidates with their ranker features."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from index.chunk import Passage, Unit

__all__ = ["Candidates", "ExampleEvidence", "Hit", "SearchResult", "UnitScore"]

Scores = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class UnitScore:
    unit: Unit
    dense: float
    lexical: float
    score: float


@dataclass(frozen=True, slots=True)
class Hit:
    """A section of a document with its evidence. ``score`` is the ranker's score (with the example messages'
    evidence added where the section has some); ``units`` best first."""

    doc_id: str
    section: str
    score: float
    dense: float
    lexical: float
    passages: tuple[Passage, ...]
    units: tuple[UnitScore, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.doc_id, self.section)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Ranked sections plus query-level ``features`` (raw best cosine, best BM25, closeness to answered and
    unanswered example messages, ...) for the answer gate."""

    query: str
    hits: tuple[Hit, ...]
    features: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Candidates:
    """The sections scored for one query: their keys, positions, raw signals and ranker features."""

    keys: tuple[tuple[str, str], ...]
    indices: npt.NDArray[np.int64]
    raw: dict[str, Scores]
    features: npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ExampleEvidence:
    """What the example messages say about a query: per section, its closest example; the closest answered and
    unanswered examples; the share of unanswered ones among the ``NEIGHBOURS`` nearest (a k-NN vote)."""

    per_section: Scores
    top_answered: float
    top_unanswered: float
    unanswered_share: float
