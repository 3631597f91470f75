"""The core: reply kinds, the verbatim guarantee, reports and urgent safeguarding, follow-ups, bad input."""

from __future__ import annotations

import pytest

from bot.config import PROJECT_ROOT
from bot.devtools.evaluation import load_items
from bot.domain import Intent, Message, ReplyKind
from tests.conftest import DEV_QUESTIONS, STAFF_QUESTIONS


def test_answer_quotes_verbatim_with_citation(assistant) -> None:  # type: ignore[no-untyped-def]
    reply = assistant.answer("Can I accept a friend request from a parent?")
    assert reply.kind is ReplyKind.ANSWER
    top = reply.citations[0]
    assert top.doc_id == "social-media-policy" and top.section in {"A1", "5"}
    assert top.version == "2.0" and top.review_due == "2023-10"
    body = assistant.index.corpus.document("social-media-policy").body
    assert all(sentence in body for sentence in top.sentences)
    assert 1 <= len(reply.citations) <= 3


def test_every_quote_of_every_evaluation_answer_is_verbatim(assistant) -> None:  # type: ignore[no-untyped-def]
    items = load_items([DEV_QUESTIONS, STAFF_QUESTIONS])
    bodies = {d.id: d.body for d in assistant.index.corpus.documents}
    replies = assistant.answer_many([i.q for i in items])
    checked = 0
    for reply in replies:
        for citation in reply.citations:
            assert citation.sentences, "a citation without sentences"
            for sentence in citation.sentences:
                assert sentence in bodies[citation.doc_id]
                checked += 1
            for part in citation.quote.split(" … "):
                assert part in bodies[citation.doc_id]
    assert checked > 200


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "hi", "help", "thanks!", "what can you do?"])
def test_empty_and_greetings_get_help(assistant, text: str) -> None:  # type: ignore[no-untyped-def]
    reply = assistant.answer(text)
    assert reply.kind is ReplyKind.HELP and reply.intent is Intent.HELP
    assert "report it privately" in reply.text and "999" in reply.text


@pytest.mark.parametrize(
    "text",
    [
        "😀😀🎉",
        "¿Puedo aceptar una solicitud de amistad de un padre en Facebook?",
        "Могу ли я добавить родителя в друзья?",
        "🤷",
    ],
)
def test_emoji_and_non_english_get_no_answer(assistant, text: str) -> None:  # type: ignore[no-untyped-def]
    reply = assistant.answer(text)
    assert reply.kind is ReplyKind.NO_ANSWER
    assert not reply.citations and reply.contacts


def test_off_topic_gets_honest_no_answer_with_contacts(assistant) -> None:  # type: ignore[no-untyped-def]
    reply = assistant.answer("How many days of annual leave do I get if I work term time only?")
    assert reply.kind is ReplyKind.NO_ANSWER
    assert "won't guess" in reply.text and "HR" in reply.text
    assert reply.contacts[0].role == "HR"


def test_ten_thousand_character_post_is_answered(assistant) -> None:  # type: ignore[no-untyped-def]
    ramble = (
        "So this week has been a lot, honestly, the photocopier broke again and the car park was full. " * 110
    )[:9900]
    reply = assistant.answer(ramble + " Anyway: can I be friends with a pupil's parent on Facebook?")
    assert reply.kind in (ReplyKind.ANSWER, ReplyKind.NO_ANSWER)
    assert len(reply.question) <= 20_000


def test_related_document_we_do_not_hold(assistant) -> None:  # type: ignore[no-untyped-def]
    reply = assistant.answer("What does the Media Contact Policy say about talking to journalists?")
    assert reply.kind is ReplyKind.RELATED_DOCUMENT
    assert reply.related[0].title == "Media Contact Policy" and reply.related[0].owner == "Communications"
    assert "not one of the documents I hold" in reply.text
    body = assistant.index.corpus.document("social-media-policy").body
    assert all(c.quote in body for c in reply.citations)


def test_report_offers_private_reporting_with_policy_guidance(assistant) -> None:  # type: ignore[no-untyped-def]
    reply = assistant.answer(
        "A parent has been posting horrible comments about me on the school Facebook page for a week "
        "and now people are saying I should be sacked. I feel sick going in."
    )
    assert reply.intent is Intent.REPORT and reply.suggest_report and not reply.urgent
    assert {c.section for c in reply.citations} & {"8", "A1"}
    assert reply.to_json()["suggest_report"] is True


def test_urgent_safeguarding_first_line_says_999_and_names_the_dsl(assistant) -> None:  # type: ignore[no-untyped-def]
    reply = assistant.answer(
        "A year 8 girl just showed me messages from an adult man on snapchat asking her to send nudes and meet him"
    )
    assert reply.urgent and reply.suggest_report and reply.intent is Intent.URGENT
    first_line = reply.text.splitlines()[0]
    assert "999" in first_line and "Designated Safeguarding Lead" in first_line
    assert reply.to_json()["urgent"] is True


def test_questions_are_not_flagged_as_reports(assistant) -> None:  # type: ignore[no-untyped-def]
    for question in ("Can I post photos of my holiday on Instagram?", "Is LinkedIn social media?"):
        reply = assistant.answer(question)
        assert not reply.suggest_report and reply.intent is Intent.QUESTION


async def test_follow_up_is_read_in_context(assistant) -> None:  # type: ignore[no-untyped-def]
    first = await assistant.handle(
        Message(text="Can I accept a friend request from a parent on Facebook?", conversation="dm-1")
    )
    follow = await assistant.handle(Message(text="what about instagram?", conversation="dm-1"))
    assert first.kind is ReplyKind.ANSWER and follow.kind is ReplyKind.ANSWER
    assert follow.resolved_question and "friend request" in follow.resolved_question
    assert follow.citations[0].section in {"A1", "5"}
    alone = await assistant.handle(Message(text="what about instagram?", conversation="dm-2"))
    assert alone.resolved_question is None


async def test_reports_are_never_kept_as_context(assistant) -> None:  # type: ignore[no-untyped-def]
    await assistant.handle(
        Message(text="My manager keeps posting nasty stuff about me on Facebook", conversation="dm-3")
    )
    await assistant.settle()  # memory is written after the reply: wait, or this could never fail
    assert await assistant.memory.recent("dm-3") == []


async def test_concurrent_handles_share_forward_passes(assistant) -> None:  # type: ignore[no-untyped-def]
    """Batching is an optimisation only: the same questions get the same replies, in fewer forward passes."""
    import asyncio

    questions = [
        "can I use facebook at work on my break",
        "can I accept a friend request from a parent",
        "am I allowed to moan about my manager on twitter",
        "what should I do if someone posts abuse about me online",
        "who is responsible for enforcing this policy",
        "can I put my employer on my linkedin profile",
    ] * 2
    alone = [await assistant.handle(Message(text=q)) for q in questions]
    before = assistant._batcher.batches
    together = await asyncio.gather(*(assistant.handle(Message(text=q)) for q in questions))
    assert assistant._batcher.batches - before < len(questions)
    for a, b in zip(alone, together, strict=True):
        assert (a.kind, a.intent) == (b.kind, b.intent), a.question
        assert [c.section for c in a.citations] == [c.section for c in b.citations], a.question
    assert sum(r.kind is ReplyKind.ANSWER for r in together) >= len(questions) // 2


def test_quick_guidance_quotes_the_rules_staff_most_need(assistant) -> None:  # type: ignore[no-untyped-def]
    guidance = assistant.quick_guidance()
    assert guidance.kind is ReplyKind.HELP
    sections = {c.section for c in guidance.citations}
    assert {"6.3", "A1"} <= sections
    assert len(guidance.citations) >= 4
    body = (PROJECT_ROOT / "policy_corpus" / "social-media-policy.md").read_text(encoding="utf-8")
    for citation in guidance.citations:
        for sentence in citation.sentences:
            assert sentence in body


def test_json_contract(assistant) -> None:  # type: ignore[no-untyped-def]
    data = assistant.answer("am I allowed on facebook at lunch").to_json()
    assert set(data) >= {"question", "kind", "text", "citations", "suggest_report"}
    assert data["kind"] in {"answer", "no_answer", "related_document", "help"}
    citation = data["citations"][0]
    assert set(citation) >= {"doc_id", "doc_title", "section", "section_title", "quote", "score", "url"}
    assert isinstance(citation["score"], float) and citation["section"] == "6.3"


def test_classifier_ngram_features_match_the_fitted_vectoriser(assistant) -> None:  # type: ignore[no-untyped-def]
    """The classifier's own n-gram weighting (cheaper per message) equals TfidfVectorizer.transform."""
    import numpy as np

    from bot.core.intent import load_examples

    classifier = assistant.classifier
    texts = [e.text for e in load_examples()] + ["", "😀😀", "?", "FB at lunch??"]
    ours = classifier._grams(texts).toarray()
    reference = classifier._ngrams.transform(texts).toarray()
    assert np.allclose(ours, reference, atol=1e-12)
