"""Hybrid retrieval on known questions (real model, real FAISS, real bm25s)."""

from __future__ import annotations

import pytest

from index.search import HybridSearcher, Weights

KNOWN = [
    ("Can I accept a friend request from a parent on Facebook?", {"A1", "5"}),
    ("am i allowed on fb at lunch", {"6.3", "A1"}),
    ("Is TikTok counted as social media? It isn't in the list", {"4"}),
    ("Could I get sacked for something I posted at the weekend?", {"6.1", "7"}),
    ("Someone is posting abuse about me online, who do I tell?", {"8", "A1"}),
    ("does the policy apply to agency workers and volunteers", {"2"}),
    ("can I slag off my manager on facebook if my account is private", {"6.4", "A1", "6.1"}),
    ("Is whistleblowing covered by this policy?", {"3"}),
]


@pytest.mark.parametrize(("question", "sections"), KNOWN)
def test_known_questions_rank_the_right_section_first(assistant, question: str, sections: set[str]) -> None:  # type: ignore[no-untyped-def]
    result = assistant.searcher.search(question)
    assert result.hits[0].section in sections, [h.section for h in result.hits[:3]]


def test_modes_rank_differently_but_all_work(assistant) -> None:  # type: ignore[no-untyped-def]
    for mode in ("dense", "lexical", "hybrid"):
        searcher = HybridSearcher(assistant.index, assistant.embedder, Weights(mode=mode))
        result = searcher.search("am i allowed on facebook during working time")
        assert result.hits[0].section == "6.3", mode


def test_long_post_is_windowed_and_embedded_in_one_batch(assistant) -> None:  # type: ignore[no-untyped-def]
    filler = "We had a really long week at school with inspections and parents evening and sports day. " * 20
    post = filler + "Anyway, my question is: can I accept a friend request from a pupil's mum on Facebook?"
    plan = assistant.searcher.plan(post)
    assert plan.windows >= 2 and plan.focus
    result = assistant.searcher.search(post)
    assert result.hits[0].section in {"A1", "5"}


def test_search_many_matches_single_searches(assistant) -> None:  # type: ignore[no-untyped-def]
    questions = [q for q, _ in KNOWN[:4]]
    batched = assistant.searcher.search_many(questions)
    for question, result in zip(questions, batched, strict=True):
        single = assistant.searcher.search(question)
        assert [h.section for h in result.hits] == [h.section for h in single.hits]
        assert result.hits[0].score == pytest.approx(single.hits[0].score, abs=1e-4)
