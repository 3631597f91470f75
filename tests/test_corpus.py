"""Loading the corpus: documents, sections, corpus.toml, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.corpus import load_corpus
from index.errors import CorpusError
from tests.conftest import CORPUS_DIR


def test_shipped_corpus_loads() -> None:
    corpus = load_corpus(CORPUS_DIR)
    doc = corpus.document("social-media-policy")
    assert doc.title == "Acceptable Use of Social Media Policy"
    assert doc.version == "2.0" and doc.review_due == "2023-10"
    assert [s.number for s in doc.sections] == [
        "1", "2", "3", "4", "5", "6", "6.1", "6.2", "6.3", "6.4", "7", "8", "9", "A1",
    ]  # fmt: skip
    assert doc.section("A1").title == "Employee Guidance on the Use of Social Media"
    assert doc.section("6.3").parent == "6"


def test_related_documents_and_contacts() -> None:
    corpus = load_corpus(CORPUS_DIR)
    titles = {r.title for r in corpus.related}
    for expected in (
        "Employee Code of Conduct",
        "Harassment and Bullying Procedure",
        "Internet and Email Acceptable Use Procedure",
        "ICT Acceptable Use Policy",
        "Media Contact Policy",
        "Disciplinary Procedure",
        "Social Media Protocols",
        "Confidential Reporting Code",
        "Equality and Diversity Policy",
    ):
        assert expected in titles
    assert all(r.owner for r in corpus.related)
    assert corpus.contacts and corpus.missing_related == corpus.related


def test_adding_a_related_document_stops_it_being_missing(corpus_copy: Path) -> None:
    (corpus_copy / "media-contact-policy.md").write_text(
        "---\nid: media-contact-policy\ntitle: Media Contact Policy\nversion: '1.0'\n---\n\n"
        "## 1. Talking to journalists\n\nRefer every media enquiry to the Communications team.\n",
        encoding="utf-8",
    )
    corpus = load_corpus(corpus_copy)
    assert "media-contact-policy" not in {r.id for r in corpus.missing_related}
    assert len(corpus.documents) == 2


def test_corpus_hash_changes_with_content(corpus_copy: Path) -> None:
    before = load_corpus(corpus_copy).sha256
    path = corpus_copy / "social-media-policy.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nExtra.\n", encoding="utf-8")
    assert load_corpus(corpus_copy).sha256 != before


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        ("---\nid: x\ntitle: T\n\n## 1. A\n", 1, "front matter is not closed"),
        ("---\nid: x\ntitle: [unclosed\nversion: 1\n---\n", 3, "front matter"),
        ("---\nid: Bad Id\ntitle: T\nversion: '1'\n---\n", 2, "id"),
        ("---\nid: x\ntitle: T\nversion: '1'\n---\n\n## 1. A\n\nx\n\n## 1. B\n\ny\n", 11, "more than once"),
    ],
)
def test_corrupt_file_names_file_and_line(tmp_path: Path, content: str, line: int, fragment: str) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    assert err.value.path == bad and err.value.line == line
    assert fragment in str(err.value) and f"bad.md:{line}" in str(err.value)


def test_corrupt_corpus_toml(corpus_copy: Path) -> None:
    (corpus_copy / "corpus.toml").write_text("[[related]]\nid = 'x'\ntitle = 'X'\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"corpus.toml:1: \[\[related\]\] entry 1 lacks owner"):
        load_corpus(corpus_copy)


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / "latin.md").write_bytes(b"---\nid: x\n\xff\n")
    with pytest.raises(CorpusError, match=r"latin.md:3: not valid UTF-8"):
        load_corpus(tmp_path)
