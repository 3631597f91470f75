"""Span vectors: a long post's windows and question sentences read off one forward pass (real model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.embed import Span, encode_spans


class PlainEmbedder:
    """Only ``encode``: the fallback path that embeds every span's text on its own."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.name, self.dim, self.max_tokens = real.name, real.dim, real.max_tokens
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        result: np.ndarray = self.real.encode(texts)
        return result

    def count_tokens(self, text: str) -> int:
        return int(self.real.count_tokens(text))


QUESTION = "Can I accept a friend request from a parent on Facebook?"
POST = (
    "We had a long week with inspections and sports day and I am shattered. "
    "One of the mums from my class has sent me a friend request on Facebook. " + QUESTION
)


def _span(text: str, part: str) -> Span:
    at = text.index(part)
    return ((at, at + len(part)),)


def test_whole_text_vector_is_the_plain_embedding(embedder) -> None:  # type: ignore[no-untyped-def]
    [vectors] = encode_spans(embedder, [(POST, ())])
    assert vectors.shape == (1, embedder.dim)
    assert float(vectors[0] @ embedder.encode([POST])[0]) > 0.999


def test_span_vectors_are_unit_length_and_close_to_embedding_the_span_alone(embedder) -> None:  # type: ignore[no-untyped-def]
    spans = [_span(POST, QUESTION), _span(POST, "We had a long week with inspections and sports day")]
    [native] = encode_spans(embedder, [(POST, spans)])
    [alone] = encode_spans(PlainEmbedder(embedder), [(POST, spans)])
    assert native.shape == alone.shape == (3, embedder.dim)
    assert np.allclose(np.linalg.norm(native, axis=1), 1.0, atol=1e-5)
    similarity = (native * alone).sum(axis=1)
    assert similarity[0] > 0.999  # the whole text is the same vector either way
    # Pooled in context, a span leans towards the rest of the post (the backstory far more than the question,
    # which stays close to its own embedding); what matters is that the question reads as the question.
    assert similarity[1] > 0.85, similarity
    # The question span is about the question, not the backstory: closer to the bare question than the post is.
    bare = embedder.encode([QUESTION])[0]
    assert float(native[1] @ bare) > float(native[0] @ bare)


def test_several_texts_in_one_batch_match_one_at_a_time(embedder) -> None:  # type: ignore[no-untyped-def]
    items = [(QUESTION, ()), (POST, (_span(POST, QUESTION),)), ("am i allowed on fb at lunch", ())]
    together = encode_spans(embedder, items)
    for item, vectors in zip(items, together, strict=True):
        [alone] = encode_spans(embedder, [item])
        assert np.allclose(vectors, alone, atol=1e-4)


def test_a_span_beyond_what_the_model_reads_is_embedded_on_its_own(embedder) -> None:  # type: ignore[no-untyped-def]
    filler = "We had a really long week at school with inspections and parents evening and sports day. " * 30
    post = filler + QUESTION
    assert embedder.count_tokens(post) > embedder.max_tokens
    [vectors] = encode_spans(embedder, [(post, (_span(post, QUESTION),))])
    alone = embedder.encode([QUESTION])[0]
    assert float(vectors[1] @ alone) > 0.999
