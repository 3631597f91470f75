"""A policy added without examples and written the way public bodies publish (no section numbers, front matter for
another tool): it is searched, answered and cited by its headings on its first question; the reply's who-to-ask
comes from that document; a document past its review date says so in every answer; questions about the document
itself are answered from its front matter; examples taught on text that has since changed are set aside."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.assistant import Assistant
from bot.domain import ReplyKind
from index.corpus import load_corpus
from index.corpus_check import check_corpus
from index.examples import taught_on

HOME_WORKING = """---
layout: policy
tags: [hr, home]
id: home-working
title: Home Working Policy
owner: HR Advice Line
contacts:
  - name: HR Advice Line
    how: ext. 4470
version: '1.0'
review_due: 2024-03
---

# Home Working Policy

This policy explains how staff may work from home.

## Who can work from home

Staff whose work can be done away from the office may ask their manager to work from home for up to three days a week. Staff in schools cannot work from home during term time.

## Working time and breaks

Staff working from home keep to the same working hours as in the office. Everyone takes a lunch break of at least 30 minutes, away from the screen.

## Expenses

Staff cannot claim for household utility bills such as electricity, gas, water or broadband when they work from home. Travel to the office on an office day is not a business journey and cannot be claimed.

## Equipment

The council provides a laptop, a headset and a monitor. Staff must not buy equipment and claim the cost back.
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, assistant: Assistant) -> Assistant:
    """The real assistant over this one document (its own index), as a council would deploy it."""
    root = tmp_path_factory.mktemp("any-document")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "home-working.md").write_text(HOME_WORKING, encoding="utf-8")
    fresh: Assistant = assistant.reloaded(Settings.load(var_dir=root / "var", corpus_dir=corpus))
    return fresh


def test_unnumbered_headings_are_sections_with_stable_ids(home: Assistant) -> None:
    doc = home.index.corpus.document("home-working")
    assert [s.number for s in doc.sections] == [
        "who-can-work-from-home",
        "working-time-and-breaks",
        "expenses",
        "equipment",
    ]
    assert doc.meta["layout"] == "policy" and doc.meta["tags"] == ["hr", "home"]  # kept, never fatal
    assert doc.section("expenses").label == ""


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("can I claim for my electric bill when working at home?", "expenses"),
        ("how long is my lunch break?", "working-time-and-breaks"),
    ],
)
def test_first_question_is_answered_and_cited_by_its_heading(
    home: Assistant, question: str, section: str
) -> None:
    reply = home.answer(question)
    assert reply.kind is ReplyKind.ANSWER, reply.text
    first = reply.citations[0]
    assert first.section == section and first.doc_id == "home-working"
    assert first.label == "" and first.place == first.section_title
    assert f"{first.section_title} (Home Working Policy, version 1.0):" in reply.text
    assert first.quote in home.index.corpus.document("home-working").body


def test_who_to_ask_comes_from_the_document_asked_about(home: Assistant) -> None:
    reply = home.answer("can I claim for my electric bill when working at home?")
    assert [c.name for c in reply.contacts][:2] == ["Your line manager", "HR Advice Line"]
    assert "please ask your line manager, or HR Advice Line (ext. 4470), who own this policy." in reply.text
    question = "what is the mileage rate for my car?"
    refused = home.decisions.composer.no_answer(question, home.searcher.search(question), confidence=0.0)
    assert "Please ask your line manager, or HR Advice Line (ext. 4470), who own this policy." in refused.text
    # The social media policy's contacts (its HR line, the DSL) are not offered for this document's questions.
    assert "Designated Safeguarding Lead" not in refused.text and "HR Advisory" not in refused.text


def test_an_answer_from_an_overdue_document_says_so(home: Assistant) -> None:
    reply = home.answer("can I claim for my electric bill when working at home?")
    assert (
        "The Home Working Policy was due for review in March 2024; check with HR Advice Line that it is "
        "still current." in reply.text
    )


def test_a_current_document_carries_no_notice(home: Assistant) -> None:
    composer = home.decisions.composer
    composer.today = lambda: date(2024, 3, 31)
    try:
        reply = home.answer("can I claim for my electric bill when working at home?")
    finally:
        composer.today = date.today
    assert "due for review" not in reply.text


def test_questions_about_the_document_are_answered_from_its_front_matter(home: Assistant) -> None:
    reply = home.answer("when is the home working policy due to be reviewed?")
    assert "The Home Working Policy is version 1.0, and is owned by HR Advice Line." in reply.text
    assert "It was due for review in March 2024, so it is overdue." in reply.text


def test_corpus_check_names_overdue_documents_and_empty_sections(tmp_path: Path) -> None:
    (tmp_path / "home-working.md").write_text(HOME_WORKING + "\n## Training\n", encoding="utf-8")
    (tmp_path / "unowned.md").write_text(
        "# Leave Policy\n\n## Holidays\n\nYou get 28 days.\n", encoding="utf-8"
    )
    findings = {(f.entry, f.message) for f in check_corpus(load_corpus(tmp_path), date(2026, 12, 7))}
    assert ("home-working.md (home-working)", "overdue for review since March 2024") in findings
    assert ("home-working.md (home-working) Training", "section has no text") in findings
    assert ("unowned.md (unowned)", "no owner") in findings
    assert ("unowned.md (unowned)", "no review date") in findings
    assert any(e == "unowned.md (unowned)" and "file's date" in m for e, m in findings)


def test_examples_taught_on_changed_text_are_set_aside(tmp_path: Path) -> None:
    (tmp_path / "home-working.md").write_text(HOME_WORKING, encoding="utf-8")
    corpus = load_corpus(tmp_path)
    body = corpus.document("home-working").section("expenses").body
    rows = [
        {"q": "can i claim my gas bill", "sections": ["expenses"], "taught_on": taught_on([body])},
        {"q": "can i claim wifi", "sections": ["expenses"], "taught_on": "0000000000000000"},
        {"q": "how do i book a desk", "sections": [], "taught_on": "0000000000000000"},
    ]
    (tmp_path / "questions").mkdir()
    (tmp_path / "questions" / "home-working.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8"
    )
    corpus = load_corpus(tmp_path)
    assert [e.text for e in corpus.examples] == ["can i claim my gas bill"]
    assert sorted(e.text for e in corpus.set_aside) == ["can i claim wifi", "how do i book a desk"]
    messages = [f.message for f in check_corpus(corpus, date(2024, 1, 1))]
    assert "2 taught example(s) set aside: the text they were taught on has changed" in messages


def test_a_corpus_adds_its_own_vocabulary(tmp_path: Path) -> None:
    (tmp_path / "home-working.md").write_text(HOME_WORKING, encoding="utf-8")
    (tmp_path / "corpus.toml").write_text(
        "[[vocabulary]]\npattern = '\\bdongle\\b'\nadd = 'broadband equipment'\n", encoding="utf-8"
    )
    corpus = load_corpus(tmp_path)
    assert corpus.vocabulary.reading("can i claim for my dongle").endswith("broadband equipment")
    (tmp_path / "corpus.toml").write_text(
        "[[vocabulary]]\npattern = '(unclosed'\nadd = 'x'\n", encoding="utf-8"
    )
    from index.errors import CorpusError

    with pytest.raises(CorpusError, match=r"corpus.toml:1: \[\[vocabulary\]\] entry 1: bad pattern"):
        load_corpus(tmp_path)


def test_corpus_check_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli_helpers import run

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "home-working.md").write_text(HOME_WORKING, encoding="utf-8")
    monkeypatch.setenv("POLICYBOT_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("POLICYBOT_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "200")
    code, out = run(capsys, monkeypatch, "corpus", "check")
    assert code == 0, out
    assert "home-working: Home Working Policy, version 1.0, review due 2024-03" in out
    assert "home-working.md (home-working): overdue for review since March 2024" in out
    (corpus / "broken.md").write_text("---\nid: Bad Id\n---\n", encoding="utf-8")
    code, out = run(capsys, monkeypatch, "corpus", "check")
    assert code == 1 and "broken.md" in out
