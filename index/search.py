"""Hybrid search: dense (FAISS) and lexical (bm25s) evidence, matched per sentence and fused per section.

Real staff questions score low against policy prose (cosine around 0.4) and a long section may hold the one
sentence that answers, so ranking whole chunks by one similarity misleads. Here:

* the query is read with the general staff vocabulary and the corpus's own (``lexicon.Vocabulary``) by both
  indexes;
* a long post is cut into windows and its question sentences are read on their own ("focus"), because the
  question is often buried in backstory; both are spans of the post whose vectors are pooled from the one forward
  pass that reads it (``encode_spans``), so a long post costs one pass, not one per window;
* every sentence is scored; a section's dense score is the mean of its two best sentences (one lucky sentence in
  a long section does not win), alongside its best passage and a section-level BM25 score;
* when the corpus ships example staff messages (``index/examples.py``), how close the query is to each
  section's examples is a fourth signal: staff phrasing is far closer to other staff phrasing than to policy prose;
* the signals are fused after standardising each over the sections for this query (z-scores), as a weighted
  mean, so that cosine and BM25, which live on unrelated scales, count as calibrated evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

from index.chunk import Passage
from index.embed import Embedder, Vectors, encode_spans
from index.hits import Candidates, ExampleEvidence, Hit, SearchResult, UnitScore
from index.lexicon import normalise
from index.query import QueryPlan, plan_query
from index.ranking import RANKER, Ranker, feature_matrix, z
from index.scoring import Scores, bm25_scores, faiss_scores, ranges, top2
from index.store import BuiltIndex, section_views
from index.tokens import tokenize

__all__ = ["Candidates", "Hit", "HybridSearcher", "SearchResult", "UnitScore", "Weights"]

#: Above this many sections, only sections holding one of the best sentences or lexical hits are scored.
CANDIDATE_SECTIONS = 64
#: The k of the nearest-examples vote on whether a message is answered (``unanswered_share``).
NEIGHBOURS = 10
#: Example messages read per query vector: the nearest this many (all of a small set).
EXAMPLE_NEAREST = 256


@dataclass(frozen=True, slots=True)
class Weights:
    """How evidence is combined; fitted on real staff phrasing (`policybot eval`), never per question."""

    #: The ranker over the document-agnostic features (``index.ranking``).
    ranker: Ranker = RANKER
    #: Closeness to the section's example staff messages (``index/examples.py``), when the corpus has them,
    #: added to the ranker's score in z-score units.
    examples: float = 2.0
    window_words: int = 45
    max_windows: int = 8
    mode: str = "hybrid"  # "hybrid" | "dense" | "lexical" (the last two for evaluation)


class HybridSearcher:
    """Read-only over a ``BuiltIndex``; safe to share between threads."""

    def __init__(self, index: BuiltIndex, embedder: Embedder, weights: Weights | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()
        self._units = index.units
        positions = {p.id: i for i, p in enumerate(index.passages)}
        self._unit_passage = np.array([positions[u.passage_id] for u in self._units], dtype=np.int64)
        self._section_keys = index.sections
        key_pos = {k: i for i, k in enumerate(self._section_keys)}
        self._unit_section = np.array([key_pos[(u.doc_id, u.section)] for u in self._units], dtype=np.int64)
        self._passage_section = np.array(
            [key_pos[(p.doc_id, p.section)] for p in index.passages], dtype=np.int64
        )
        members: dict[int, list[int]] = defaultdict(list)
        for i, s in enumerate(self._unit_section):
            members[int(s)].append(i)
        self._members = {s: np.array(v, dtype=np.int64) for s, v in members.items()}
        # Example messages: the sections each answers (CSR arrays); an example with none is "not answered".
        labelled = [
            [key_pos[(e.doc_id, s)] for s in e.sections if (e.doc_id, s) in key_pos] for e in index.examples
        ]
        self._example_indptr = np.cumsum([0] + [len(x) for x in labelled]).astype(np.int64)
        self._example_secs = np.array([s for x in labelled for s in x], dtype=np.int64)
        self._example_mask = np.zeros(len(self._section_keys), dtype=bool)
        self._example_mask[self._example_secs] = True
        self._has_examples = frozenset(int(s) for s in np.flatnonzero(self._example_mask))
        self._is_unanswered = np.array([not e.sections for e in index.examples], dtype=bool)
        if isinstance(index.example_vectors, faiss.IndexHNSW):
            index.example_vectors.hnsw.efSearch = max(EXAMPLE_NEAREST, 64)
        by_doc: dict[str, list[int]] = defaultdict(list)
        for i, (doc_id, _section) in enumerate(self._section_keys):
            by_doc[doc_id].append(i)
        self._doc_sections = [np.array(v, dtype=np.int64) for v in by_doc.values()]
        texts, headings = section_views(list(index.passages))
        self._section_words = [frozenset(tokenize(t)) for t in texts]
        self._heading_words = [frozenset(tokenize(t)) for t in headings]
        self._section_passages: dict[int, tuple[Passage, ...]] = {}
        for s in range(len(self._section_keys)):
            self._section_passages[s] = tuple(
                p for p, ps in zip(index.passages, self._passage_section, strict=True) if ps == s
            )

    # --- planning ------------------------------------------------------------------------------------------

    def plan(self, query: str) -> QueryPlan:
        """The text to embed for ``query`` and the spans of it to read separately (none for a short question)."""
        return plan_query(
            query,
            window_words=self.weights.window_words,
            max_windows=self.weights.max_windows,
            vocabulary=self.index.corpus.vocabulary,
        )

    # --- public -------------------------------------------------------------------------------------------

    def search(
        self, query: str, *, k: int = 5, vectors: Vectors | None = None, plan: QueryPlan | None = None
    ) -> SearchResult:
        """Sections ranked best first. ``vectors`` (``encode_spans`` of ``plan``) may come from a batch."""
        plan = plan or self.plan(query)
        if vectors is None:
            vectors = encode_spans(self.embedder, [(plan.text, plan.spans)])[0]
        return self._rank(query, plan, vectors, k)

    def search_many(self, queries: Sequence[str], *, k: int = 5) -> list[SearchResult]:
        """Several queries with one forward pass of the model."""
        plans = [self.plan(q) for q in queries]
        vectors = encode_spans(self.embedder, [(p.text, p.spans) for p in plans])
        return [self._rank(q, p, v, k) for q, p, v in zip(queries, plans, vectors, strict=True)]

    # --- scoring -----------------------------------------------------------------------------------------

    def candidates(self, queries: Sequence[str]) -> list[Candidates]:
        """Every candidate section of each query with its ranker features (what the ranker is fitted on)."""
        plans = [self.plan(q) for q in queries]
        vectors = encode_spans(self.embedder, [(p.text, p.spans) for p in plans])
        return [self._evidence(q, p, v)[0] for q, p, v in zip(queries, plans, vectors, strict=True)]

    def _evidence(
        self, query: str, plan: QueryPlan, vectors: Vectors
    ) -> tuple[Candidates, npt.NDArray[np.float32], npt.NDArray[np.float32], list[str]]:
        """The candidates and their features; and per unit, the dense similarity and the BM25 score."""
        unit_dense = self._blend(faiss_scores(self.index.unit_vectors, vectors, len(self._units)), plan)
        passage_dense = self._blend(
            faiss_scores(self.index.passage_vectors, vectors, len(self.index.passages)), plan
        )
        n_sections = len(self._section_keys)
        section_dense = self._blend(faiss_scores(self.index.section_vectors, vectors, n_sections), plan)
        heading_dense = self._blend(faiss_scores(self.index.heading_vectors, vectors, n_sections), plan)
        tokens = tokenize(plan.text)
        unit_lex = bm25_scores(self.index.bm25, tokens, len(self._units))
        section_lex = bm25_scores(self.index.bm25_sections, tokens, n_sections)

        candidates = self._candidates(unit_dense, unit_lex, section_lex)
        words = set(tokenize(normalise(query)))
        raw = {
            "dense_units": np.array(
                [top2(unit_dense[self._members[s]]) for s in candidates], dtype=np.float32
            ),
            "dense_passage": np.array(
                [passage_dense[self._passage_section == s].max() for s in candidates], dtype=np.float32
            ),
            "dense_section": section_dense[candidates],
            "dense_heading": heading_dense[candidates],
            "lexical_section": section_lex[candidates],
            "lexical_units": np.array(
                [unit_lex[self._members[s]].max() for s in candidates], dtype=np.float32
            ),
            "coverage": self._coverage(words, candidates, self._section_words),
            "heading_coverage": self._coverage(words, candidates, self._heading_words),
            "document": self._document_scores(section_dense)[candidates],
        }
        keys = tuple(self._section_keys[int(s)] for s in candidates)
        found = Candidates(keys=keys, indices=candidates, raw=raw, features=feature_matrix(raw))
        return found, unit_dense, unit_lex, tokens

    def _rank(self, query: str, plan: QueryPlan, vectors: Vectors, k: int) -> SearchResult:
        w = self.weights
        found, unit_dense, unit_lex, tokens = self._evidence(query, plan, vectors)
        candidates, raw, features = found.indices, found.raw, found.features
        dense_u, lex = raw["dense_units"], raw["lexical_section"]
        evidence = self._example_scores(vectors, plan)
        examples = evidence.per_section[candidates]
        if w.mode == "lexical":
            fused = z(lex)
        elif w.mode == "dense":
            fused = np.asarray((z(dense_u) + z(raw["dense_passage"])) / 2, dtype=np.float32)
        else:
            fused = w.ranker.score(features)
            if self._has_examples and w.examples:
                boost = self._example_z(candidates, examples, raw["dense_units"])
                fused = np.asarray(fused + w.examples * boost, dtype=np.float32)

        unit_lex_cal = 1.0 - np.exp(-unit_lex / 6.0)
        unit_score = unit_dense + 0.25 * unit_lex_cal
        order = np.argsort(-fused)[:k]
        hits = []
        for pos in order:
            s = int(candidates[pos])
            members = self._members[s]
            ranked = members[np.argsort(-unit_score[members])]
            hits.append(
                Hit(
                    doc_id=self._section_keys[s][0],
                    section=self._section_keys[s][1],
                    score=float(fused[pos]),
                    dense=float(dense_u[pos]),
                    lexical=float(lex[pos]),
                    passages=self._section_passages[s],
                    units=tuple(
                        UnitScore(
                            unit=self._units[i],
                            dense=float(unit_dense[i]),
                            lexical=float(unit_lex_cal[i]),
                            score=float(unit_score[i]),
                        )
                        for i in ranked
                    ),
                )
            )
        return SearchResult(
            query=query,
            hits=tuple(hits),
            features=self._features(fused, order, candidates, raw, tokens, evidence, examples),
        )

    def _features(
        self,
        fused: Scores,
        order: npt.NDArray[np.int64],
        candidates: npt.NDArray[np.int64],
        raw: dict[str, Scores],
        tokens: list[str],
        evidence: ExampleEvidence,
        examples: Scores,
    ) -> dict[str, float]:
        """Query-level evidence for the answer gate: how strongly the best section stands out (its score, the
        margin to the next, its share of a softmax over the candidates) and how good it is in absolute terms."""
        if not len(order):
            return {}
        best = int(order[0])
        sorted_fused = np.sort(fused)[::-1]
        shifted = np.exp(fused - fused.max())
        return {
            "top_fused": float(sorted_fused[0]),
            "margin": float(sorted_fused[0] - sorted_fused[1]) if len(sorted_fused) > 1 else 0.0,
            "top_share": float(shifted[best] / shifted.sum()),
            "top_dense": float(raw["dense_units"].max()),
            "hit_dense": float(raw["dense_units"][best]),
            "hit_dense_section": float(raw["dense_section"][best]),
            "hit_dense_heading": float(raw["dense_heading"][best]),
            "top_lexical": float(raw["lexical_section"].max()),
            "hit_lexical": float(raw["lexical_section"][best]),
            "hit_coverage": float(raw["coverage"][best]),
            "query_words": float(len(tokens)),
            "known_terms": float(sum(1 for t in tokens if t in self.index.bm25_sections.vocab_dict)),
            "hit_example": float(examples[best]),
            "top_example": evidence.top_answered,
            "top_unanswered": evidence.top_unanswered,
            "unanswered_share": evidence.unanswered_share,
            "hit_has_examples": 1.0 if candidates[best] in self._has_examples else 0.0,
        }

    def _document_scores(self, section_dense: Scores) -> Scores:
        """Per section, how well its whole document matches: the mean of the document's three best sections."""
        out = np.zeros(len(section_dense), dtype=np.float32)
        for members in self._doc_sections:
            best = np.sort(section_dense[members])[::-1][:3]
            out[members] = best.mean()
        return out

    @staticmethod
    def _coverage(
        words: set[str], candidates: npt.NDArray[np.int64], section_words: list[frozenset[str]]
    ) -> Scores:
        """The share of the question's content words each candidate section contains."""
        if not words:
            return np.zeros(len(candidates), dtype=np.float32)
        return np.array([len(words & section_words[s]) / len(words) for s in candidates], dtype=np.float32)

    @staticmethod
    def _blend(sims: Scores, plan: QueryPlan) -> Scores:
        """One similarity per item: the whole query, blended with its best window and its question sentences."""
        score = sims[0]
        if plan.windows:
            score = 0.5 * score + 0.5 * sims[1 : 1 + plan.windows].max(axis=0)
        if plan.focus:
            score = 0.5 * score + 0.5 * sims[-1]
        return np.asarray(score, dtype=np.float32)

    def _example_z(self, candidates: npt.NDArray[np.int64], examples: Scores, dense: Scores) -> Scores:
        """The example signal as z-scores over the sections that have examples, added on top of the ranker; a
        section without (a new section, a document that ships none) has its own sentences' dense z-score stand
        in, so that examples elsewhere in the corpus do not bury it. With no examples at all nothing is added
        (the ranker alone, as in the leave-one-document-out evaluation)."""
        mask = self._example_mask[candidates]
        out = z(dense)
        if mask.any():
            out[mask] = z(examples[mask])
        return out

    def _example_scores(self, vectors: Vectors, plan: QueryPlan) -> ExampleEvidence:
        """Closeness to the example messages, read off the ``EXAMPLE_NEAREST`` nearest ones.

        Only the nearest examples are looked at, so the cost does not grow with the number of examples (a large
        set is searched through an HNSW graph, see ``index.store``). An example outside every query vector's
        nearest counts at that vector's farthest returned similarity, an upper bound; so does a section none of
        whose examples came back. A section without examples gets the mean (``_example_z`` does not read it)."""
        n_sections = len(self._section_keys)
        index = self.index.example_vectors
        if not self._has_examples or index is None or not index.ntotal:
            return ExampleEvidence(np.zeros(n_sections, dtype=np.float32), 0.0, 0.0, 0.0)
        k = min(index.ntotal, EXAMPLE_NEAREST)
        sims, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
        found = np.unique(ids[ids >= 0])
        floor_each = sims[:, -1:]
        values = np.repeat(floor_each, len(found), axis=1).astype(np.float32)
        rows = np.repeat(np.arange(len(ids)), k)
        flat_ids = ids.ravel()
        keep = flat_ids >= 0
        values[rows[keep], np.searchsorted(found, flat_ids[keep])] = sims.ravel()[keep]
        blended = self._blend(values, plan)
        floor = float(self._blend(floor_each, plan)[0])
        starts, ends = self._example_indptr[found], self._example_indptr[found + 1]
        counts = ends - starts
        sections = self._example_secs[np.repeat(starts, counts) + ranges(counts)]
        per_section = np.full(n_sections, floor, dtype=np.float32)
        np.maximum.at(per_section, sections, np.repeat(blended, counts))
        with_examples = per_section[self._example_mask]
        per_section[~self._example_mask] = with_examples.mean()
        unanswered = self._is_unanswered[found]
        nearest = np.argsort(-blended)[:NEIGHBOURS]
        return ExampleEvidence(
            per_section=per_section,
            top_answered=float(blended[~unanswered].max()) if (~unanswered).any() else floor,
            top_unanswered=float(blended[unanswered].max()) if unanswered.any() else floor,
            unanswered_share=float(unanswered[nearest].mean()) if self._is_unanswered.any() else 0.0,
        )

    def _candidates(self, unit_dense: Scores, unit_lex: Scores, section_lex: Scores) -> npt.NDArray[np.int64]:
        """Sections worth scoring: all of a small corpus; otherwise those near the top on either signal."""
        n = len(self._section_keys)
        if n <= CANDIDATE_SECTIONS:
            return np.arange(n, dtype=np.int64)
        picks: dict[int, None] = {}
        for i in np.argsort(-unit_dense)[: CANDIDATE_SECTIONS * 2]:
            picks.setdefault(int(self._unit_section[i]), None)
        for i in np.argsort(-section_lex)[: CANDIDATE_SECTIONS // 2]:
            picks.setdefault(int(i), None)
        for i in np.argsort(-unit_lex)[: CANDIDATE_SECTIONS // 2]:
            picks.setdefault(int(self._unit_section[i]), None)
        return np.array(list(picks)[: CANDIDATE_SECTIONS * 2], dtype=np.int64)
