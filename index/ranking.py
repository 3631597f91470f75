"""How a section's evidence becomes its score: named features per candidate section and a linear ranker over them.

The features are document-agnostic: each signal is standardised over the candidate sections of this query
(z-scores), so a weight learned on some documents means the same on any other, and a few raw values (best
sentence cosine, coverage of the question's words) say how good the best candidates are in absolute terms. The
weights are fitted on labelled staff questions about *other* documents (`policybot eval --held-out ... --fit`
prints them; the leave-one-document-out evaluation refits them for every fold without the scored document).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FEATURES", "RANKER", "Ranker", "feature_matrix", "z"]

Scores = npt.NDArray[np.float32]

#: The features of a candidate section, in the order of ``Ranker.weights``.
FEATURES = (
    "z_dense_units",  # mean of its two best sentences (windows and question sentences blended in)
    "z_dense_passage",  # its best passage
    "z_dense_section",  # the whole section with its heading path
    "z_dense_heading",  # its heading path alone
    "z_lexical_section",  # BM25 of the section
    "z_lexical_units",  # BM25 of its best sentence
    "dense_units",  # raw cosine, absolute
    "dense_section",
    "coverage",  # share of the question's content words found in the section
    "heading_coverage",  # share found in its heading path
    "z_document",  # how well its document as a whole matches (with several documents loaded)
)


@dataclass(frozen=True, slots=True)
class Ranker:
    """A linear score over ``FEATURES`` (a logistic model's logit: higher is more likely the answering section)."""

    weights: tuple[float, ...]
    names: tuple[str, ...] = FEATURES

    def score(self, features: npt.NDArray[np.float64]) -> Scores:
        return np.asarray(features @ np.asarray(self.weights, dtype=np.float64), dtype=np.float32)


#: The equal-weight fusion of dense sentences, dense passages and section BM25 (the weighted mean of z-scores
#: policybot used before rankers were fitted), kept as the untrained starting point.
EQUAL = Ranker(weights=(1 / 3, 1 / 3, 0.0, 0.0, 1 / 3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))

#: Fitted by `policybot eval --held-out tests/corpora/corpora.toml --fit` on the labelled questions of every
#: development document (the leave-one-document-out figures in the README refit it for each fold).
RANKER = Ranker(
    weights=(0.8568, 0.588, -0.2462, 0.2815, 0.2583, 0.1926, 1.6078, 2.329, 0.94, -2.3554, -0.2075)
)


def z(values: Scores) -> Scores:
    """Standardise over the candidate sections of this query; a flat signal contributes nothing."""
    std = float(values.std())
    if std < 1e-9:
        return np.zeros_like(values)
    return np.asarray((values - values.mean()) / std, dtype=np.float32)


def feature_matrix(raw: Mapping[str, Scores]) -> npt.NDArray[np.float64]:
    """Candidates x ``FEATURES`` from the raw signals (dense_units, dense_passage, dense_section, dense_heading,
    lexical_section, lexical_units, coverage, heading_coverage, document)."""
    columns = {
        "z_dense_units": z(raw["dense_units"]),
        "z_dense_passage": z(raw["dense_passage"]),
        "z_dense_section": z(raw["dense_section"]),
        "z_dense_heading": z(raw["dense_heading"]),
        "z_lexical_section": z(raw["lexical_section"]),
        "z_lexical_units": z(raw["lexical_units"]),
        "dense_units": raw["dense_units"],
        "dense_section": raw["dense_section"],
        "coverage": raw["coverage"],
        "heading_coverage": raw["heading_coverage"],
        "z_document": z(raw["document"]),
    }
    return np.stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES], axis=1)
