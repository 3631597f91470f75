"""Passages and sentences: stable ids from the document's numbering, verbatim text, no debris."""

from __future__ import annotations

import re

from index.chunk import chunk_document, split_sentences
from index.corpus import load_corpus
from tests.conftest import CORPUS_DIR


def _passages():  # type: ignore[no-untyped-def]
    return chunk_document(load_corpus(CORPUS_DIR).document("social-media-policy"))


def test_ids_follow_the_policy_numbering() -> None:
    ids = [p.id for p in _passages()]
    assert "social-media-policy#6.3" in ids and "social-media-policy#3" in ids
    assert [i for i in ids if "#A1." in i] == [f"social-media-policy#A1.{n}" for n in range(1, 14)]
    assert any(i.startswith("social-media-policy#6.4:") for i in ids), "long section split into parts"
    assert len(ids) == len(set(ids))


def test_ids_are_stable_across_runs() -> None:
    assert [p.id for p in _passages()] == [p.id for p in _passages()]
    assert [u.id for p in _passages() for u in p.units] == [u.id for p in _passages() for u in p.units]


def test_every_unit_is_verbatim_and_clean() -> None:
    doc = load_corpus(CORPUS_DIR).document("social-media-policy")
    for passage in chunk_document(doc):
        assert passage.section in {s.number for s in doc.sections}
        for unit in passage.units:
            assert unit.text in doc.body
            assert not re.search(r"Page \d+ of \d+|TABLE OF CONTENTS|\.{4,}|</?\w+>|&\w+;", unit.text)
            assert not unit.text.startswith(("o ", "- "))


def test_sub_points_carry_their_lead_in() -> None:
    units = [u for p in _passages() if p.section == "6.4" for u in p.units]
    criticising = next(u for u in units if u.text.startswith("Criticising"))
    assert criticising.context == "Bring the organisation into disrepute, for example by:"


def test_no_passage_exceeds_the_model_window_by_words() -> None:
    assert max(len(p.text.split()) for p in _passages()) <= 160


def test_sentence_splitter_keeps_abbreviations() -> None:
    text = "Use other procedures, e.g. the Confidential Reporting Code. Then stop! Why? Because."
    assert split_sentences(text) == [
        "Use other procedures, e.g. the Confidential Reporting Code.",
        "Then stop!",
        "Why?",
        "Because.",
    ]
