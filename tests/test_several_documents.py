"""Several documents: answers name the right document, a question two documents answer cites both, adding a
document corpus.toml names ends the "I don't hold it" replies, and evaluation gives figures per document.

The second document is written here, into a temporary copy of the corpus: the shipped corpus holds only real
policies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.assistant import Assistant
from bot.devtools.evaluation import evaluate, load_items
from bot.domain import ReplyKind
from tests.conftest import CORPUS_DIR

CODE_OF_CONDUCT = """---
id: employee-code-of-conduct
title: Employee Code of Conduct
owner: HR
version: '4.2'
review_due: 2027-06
---

# Employee Code of Conduct

## 1. Introduction

This Code of Conduct sets out the standards of behaviour the Council expects of every employee, at work and outside work, in person and online.

## 2. Gifts and hospitality

Employees must not accept gifts or hospitality from suppliers, contractors, parents or service users worth more than £25 without the written approval of their line manager.

Small gifts of low value, such as a box of chocolates or a card from a parent at the end of term, may be accepted.

All gifts and hospitality offered, whether accepted or declined, must be recorded in the register of gifts and hospitality within 28 days.

## 3. Relationships with service users

Employees must keep a professional relationship with service users, pupils and their families at all times.

Employees must not accept friend requests or follow requests on social media from service users, pupils or their parents.

## 4. Secondary employment

Employees must tell their line manager about any second job or paid work outside the Council before they start it.

Secondary employment must not conflict with the employee's duties or with the Council's interests.
"""

SECOND_JOB = "Does the code of conduct say I must tell my manager about a second job?"


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory, assistant) -> Assistant:  # type: ignore[no-untyped-def]
    """The real assistant over the shipped policy plus the code of conduct (its own index, built once)."""
    root = tmp_path_factory.mktemp("several")
    corpus = root / "policy_corpus"
    shutil.copytree(CORPUS_DIR, corpus)
    (corpus / "employee-code-of-conduct.md").write_text(CODE_OF_CONDUCT, encoding="utf-8")
    settings = Settings.load(var_dir=root / "var", corpus_dir=corpus)
    fresh: Assistant = assistant.reloaded(settings)
    return fresh


def test_the_corpus_holds_both_documents(multi: Assistant) -> None:
    docs = {d.id: d.version for d in multi.index.corpus.documents}
    assert docs == {"employee-code-of-conduct": "4.2", "social-media-policy": "2.0"}


def test_answers_name_the_right_document(multi: Assistant) -> None:
    gifts = multi.answer("Can I accept a box of chocolates from a parent?")
    assert gifts.kind is ReplyKind.ANSWER, gifts.text
    top = gifts.citations[0]
    assert (top.doc_id, top.doc_title, top.section, top.version) == (
        "employee-code-of-conduct", "Employee Code of Conduct", "2", "4.2",
    )  # fmt: skip
    assert "Employee Code of Conduct" in gifts.text and "version 4.2" in gifts.text
    job = multi.answer("Do I need to tell my manager about a second job?")
    assert job.kind is ReplyKind.ANSWER
    assert (job.citations[0].doc_id, job.citations[0].section) == ("employee-code-of-conduct", "4")
    work = multi.answer("Can I use Facebook on my phone during working hours?")
    assert work.kind is ReplyKind.ANSWER
    assert (work.citations[0].doc_id, work.citations[0].section) == ("social-media-policy", "6.3")


def test_a_question_both_documents_answer_cites_both(multi: Assistant) -> None:
    reply = multi.answer("Can I be friends with parents on Facebook?")
    assert reply.kind is ReplyKind.ANSWER, reply.text
    cited = {(c.doc_id, c.section) for c in reply.citations}
    assert ("employee-code-of-conduct", "3") in cited, cited
    assert any(doc == "social-media-policy" for doc, _ in cited), cited
    assert "Acceptable Use of Social Media Policy" in reply.text and "Employee Code of Conduct" in reply.text


def test_adding_a_related_document_ends_related_document_replies(assistant, multi: Assistant) -> None:  # type: ignore[no-untyped-def]
    before = assistant.answer(SECOND_JOB)
    assert before.kind is ReplyKind.RELATED_DOCUMENT
    assert [r.id for r in before.related] == ["employee-code-of-conduct"]
    assert "employee-code-of-conduct" not in {r.id for r in multi.index.corpus.missing_related}
    after = multi.answer(SECOND_JOB)
    assert after.kind is ReplyKind.ANSWER and after.related == (), after.text
    assert (after.citations[0].doc_id, after.citations[0].section) == ("employee-code-of-conduct", "4")
    assert "not one of the documents I hold" not in after.text


def test_evaluation_reports_each_document(multi: Assistant, tmp_path: Path) -> None:
    lines = [
        {"q": "Can I accept a box of chocolates from a parent?", "sections": ["2"],
         "doc": "employee-code-of-conduct"},
        {"q": "Do I need to tell my manager about a second job?", "sections": ["4"],
         "doc": "employee-code-of-conduct"},
        {"q": "Is Facebook at work allowed during working hours?", "sections": ["6.3", "A1"]},
        {"q": "Is snapchat social media?", "sections": ["4"]},
        # Right section number, wrong document: never a hit.
        {"q": "What counts as social media?", "sections": ["4"], "doc": "employee-code-of-conduct"},
    ]  # fmt: skip
    path = tmp_path / "eval.jsonl"
    path.write_text("\n".join(json.dumps({"kind": "question", **line}) for line in lines), encoding="utf-8")
    items = load_items([path])
    replies = multi.answer_many([i.q for i in items])
    bodies = {d.id: d.body for d in multi.index.corpus.documents}
    report = evaluate(items, {"hybrid": replies}, bodies, default_doc="social-media-policy")
    docs = report.documents
    assert set(docs) == {"employee-code-of-conduct", "social-media-policy"}
    assert docs["social-media-policy"].answerable == 2 and docs["social-media-policy"].hit1 == 1.0
    conduct = docs["employee-code-of-conduct"]
    assert conduct.answerable == 3
    assert conduct.hit1 == pytest.approx(2 / 3), "the social media policy's section 4 is not the code's"
    assert report.to_json()["documents"]["employee-code-of-conduct"]["answerable"] == 3
    assert report.verbatim_violations == []
