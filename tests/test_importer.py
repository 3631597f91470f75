"""The PDF-to-text importer: the committed policy is its output, and no conversion debris survives."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from index.importing import render_markdown
from index.importing.cleaner import clean_text

SEED = Path(__file__).parent / "data" / "social_media_policy.pdf.txt"
COMMITTED = Path(__file__).parent.parent / "policy_corpus" / "social-media-policy.md"
IMPORT_OPTIONS = {
    "id": "social-media-policy",
    "organisation": "Derbyshire County Council",
    "owner": "Human Resources",
}


def test_committed_markdown_is_the_importer_output() -> None:
    produced = render_markdown(clean_text(SEED.read_text(encoding="utf-8"), **IMPORT_OPTIONS))
    assert produced == COMMITTED.read_text(encoding="utf-8")


def test_front_matter_recovered_from_the_text() -> None:
    meta = clean_text(SEED.read_text(encoding="utf-8"), **IMPORT_OPTIONS).meta
    assert meta["title"] == "Acceptable Use of Social Media Policy"  # from the page footer
    assert meta["version"] == "2.0"
    assert meta["classification"] == "PUBLIC"
    assert meta["created"] == "2022-10"
    assert meta["ratified"] == "2022-10-18"
    assert meta["review_due"] == "2023-10"
    front = yaml.safe_load(COMMITTED.read_text(encoding="utf-8").split("---")[1])
    assert front["id"] == "social-media-policy" and front["organisation"] == "Derbyshire County Council"


def test_sections_kept_and_debris_removed() -> None:
    doc = clean_text(SEED.read_text(encoding="utf-8"), **IMPORT_OPTIONS)
    assert doc.report.sections == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "6.1",
        "6.2",
        "6.3",
        "6.4",
        "7",
        "8",
        "9",
        "A1",
    ]
    body = doc.body
    assert "TABLE OF CONTENTS" not in body and "....." not in body
    assert "Page 4 of 9" not in body and "PUBLIC Version" not in body
    assert not re.search(r"</?[a-zA-Z][^>]*>", body), "HTML tag left in the body"
    assert not re.search(r"&(amp|lt|gt|quot|nbsp|#\d+);", body), "HTML entity left in the body"
    assert not re.search(r"^\s*(- )?o ", body, re.MULTILINE), "stray 'o' bullet left"
    assert "Personal Privacy & Safety" in body
    # The footer was glued to the end of section 3's sentence: the sentence survives intact.
    assert "e.g. the Confidential Reporting Code.\n" in body
    assert doc.report.toc_lines_removed >= 14 and doc.report.footers_removed == 1


def test_footer_spliced_into_a_paragraph_and_page_numbers() -> None:
    raw = (
        "## 1. Purpose\n\nStaff must be kind. OFFICIAL Version 3.1 Page 2 of 5 Kindness Policy\n"
        "More text here.\n\nPage 3 of 5\n\n## 2. Scope\n\n- o Everyone\n"
    )
    doc = clean_text(raw, id="kindness")
    assert doc.meta["title"] == "Kindness Policy" and doc.meta["version"] == "3.1"
    assert "Page" not in doc.body and "OFFICIAL" not in doc.body
    assert "  - Everyone" in doc.body
    assert doc.report.page_numbers_removed == 1


def test_repeated_paragraph_is_dropped_and_reported() -> None:
    para = "The purpose of this policy is to help employees behave well online at all times."
    doc = clean_text(f"## 1. Introduction\n\n{para} And more.\n\n{para}\n", id="x", title="X")
    assert doc.body.count(para) == 1
    assert doc.report.duplicate_paragraphs_removed == 1


def test_unnumbered_text_still_imports_with_a_warning() -> None:
    doc = clean_text("Just some guidance text without headings.", id="plain", title="Plain")
    assert "no numbered sections" in " ".join(doc.report.warnings)
    assert "Just some guidance text" in doc.body
