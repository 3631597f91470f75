"""Policies as public bodies publish them, mostly without numbered headings: Markdown (bare, with another tool's
front matter, with escapes and bold), HTML (headings or bold paragraphs), Word (heading styles or bold
paragraphs) and PDF (an outline or bold lines), built here, imported, and loaded as the corpus loads them."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.shared import Pt
from fpdf import FPDF

from index.corpus import Document, load_corpus, parse_markdown
from index.importing import import_file, render_markdown
from tests.cli_helpers import run

UTILITY = "Utility bills cannot be claimed."
NL: dict[str, Any] = {"new_x": "LMARGIN", "new_y": "NEXT"}

MD_UNNUMBERED = f"""# Home Working Policy

This policy applies to all employees of Northshire County Council who work from home on a regular basis.

## Who can work from home

Employees may work from home for up to three days a week where their role allows it and their manager agrees.

## Equipment

### Laptops and screens

The council provides a laptop, a keyboard and one screen for home working.

### Desks and chairs

A suitable chair can be requested through the occupational health team.

## Expenses

{UTILITY} Employees who choose to work from home receive no allowance for heating, lighting or broadband.

## Health and safety

Complete the home workstation assessment within two weeks of starting to work from home.
"""

MD_OTHER_TOOL = """---
layout: policy
title: Annual Leave Policy
tags:
  - hr
  - leave
permalink: /policies/annual-leave/
---

# Annual Leave Policy

## Entitlement

Full-time employees receive 27 days of annual leave a year, plus bank holidays.

## Booking leave

Book leave through the HR system at least two weeks before it starts.

1. Check the team calendar.
2. Submit the request.
3. Wait for your manager to approve it.

## Carrying leave over

Up to five days of unused leave may be carried over into the next leave year.
"""

MD_ESCAPED = r"""# Flexible Working Procedure

## Making a request \(statutory\)

You may make two statutory requests in any 12\-month period \(see the **Employment Rights Act 1996**\).

## How we decide

Your manager will meet you within **28 days** and consider the request *fairly*\.

## Appeals

If your request is refused you can appeal to the **Head of Service** within 14 days.
"""

MD_BOLD_LINES = """# Dress Code Policy

**Purpose**

This policy sets out what employees wear at work.

**Uniform**

Frontline employees must wear the uniform provided.

__Identity badges__

Wear your badge where it can be seen at all times.

**Employees must never lend their badge to anyone.**
"""

HTML_HEADINGS = """<!doctype html><html><head><title>Sickness absence - Northshire County Council</title></head>
<body><nav><a href="/">Home</a> &gt; <a href="/hr">HR</a></nav><main>
<h1>Sickness Absence Policy</h1>
<p>This policy applies to all council employees.</p>
<h2>Reporting sickness</h2>
<p>Phone your manager before 9am on the first day of absence.</p>
<h3>If your manager is unavailable</h3>
<p>Phone the duty manager on the number in your team&rsquo;s contact list.</p>
<h2>Fit notes</h2>
<p>A fit note from your doctor is needed for absences longer than seven calendar days.</p>
<h3>Returning to work</h3>
<h4>Return-to-work meeting</h4>
<p>Your manager will hold a return-to-work meeting on your first day back.</p>
<h2>Sick pay</h2>
<p>Sick pay depends on your length of service.</p>
</main><footer>Cookie settings</footer></body></html>
"""

HTML_BOLD = """<!doctype html><html><head><title>Lone Working Policy | Northshire County Council</title></head>
<body>
<p><strong>Lone Working Policy</strong></p>
<p>Approved: 3 March 2025</p>
<p><strong>Purpose</strong></p>
<p>This policy protects employees who work alone or visit residents in their homes.</p>
<p><b>Before a visit</b></p>
<p>Record the address and your expected finish time in the lone working app.</p>
<p><strong>Never enter a property if you feel unsafe.</strong></p>
<p><strong>Check-in calls</strong></p>
<p><strong>Always</strong> call the duty officer when you leave the property.</p>
</body></html>
"""


def _docx_styles(path: Path) -> Path:
    """Heading styles, no numbers, and a lone Heading 1 that is the document's title."""
    document = docx.Document()
    document.add_heading("Bereavement Leave Policy", level=1)
    document.add_paragraph("This policy supports employees when someone close to them dies.")
    document.add_heading("Purpose", level=2)
    document.add_paragraph("It sets out the leave available and how to ask for it.")
    document.add_heading("Entitlement", level=2)
    document.add_heading("Paid leave", level=3)
    document.add_paragraph(
        "Employees may take up to five days of paid leave for the death of a close relative."
    )
    document.add_heading("Unpaid leave", level=3)
    document.add_paragraph("Further unpaid leave may be agreed with your manager.")
    document.add_heading("How to request leave", level=2)
    document.add_paragraph("Tell your manager as soon as you can.", style="List Bullet")
    document.add_paragraph("Record the leave in the HR system when you return.", style="List Bullet")
    document.save(str(path))
    return path


def _bold(document: Any, text: str, size: float = 12) -> None:
    run_ = document.add_paragraph().add_run(text)
    run_.bold = True
    run_.font.size = Pt(size)


def _docx_bold(path: Path) -> Path:
    """No heading styles at all: headings are short bold paragraphs, the title is set larger."""
    document = docx.Document()
    _bold(document, "Home Working Policy", 16)
    document.add_paragraph("Version: 2.0")
    _bold(document, "Purpose")
    document.add_paragraph("This policy explains how employees of the council work from home safely.")
    _bold(document, "Working from home")
    document.add_paragraph("Agree your home working days with your manager in advance.")
    _bold(document, "Expenses")
    document.add_paragraph(f"{UTILITY} The council does not pay towards gas, electricity or water.")
    _bold(document, "Receipts for equipment must be kept for six years.")
    note = document.add_paragraph()
    note.add_run("Note:").bold = True
    note.add_run(" broadband is not paid for either")
    _bold(document, "Insurance")
    document.add_paragraph("Tell your home insurer that you work from home.")
    document.save(str(path))
    return path


def _pdf_outline(path: Path) -> Path:
    """Headings in plain type, marked by the outline: one top bookmark (the title) holding the sections."""
    pdf = FPDF()
    pdf.add_page()
    for level, heading, text in (
        (0, "Travel and Expenses Policy", "Northshire County Council, Finance."),
        (1, "Purpose", "This policy explains which costs of council business can be claimed back."),
        (1, "Claiming expenses", "Claims are made through the finance system within three months."),
        (2, "Mileage", "Business mileage in your own car is paid at 45p a mile."),
        (2, "Meals", "Meals are only paid for on journeys of more than five hours."),
        (1, "Working from home", f"{UTILITY} Working from home is not business travel."),
    ):
        pdf.set_font("Helvetica", size=16 if level == 0 else 13)
        pdf.start_section(heading, level=level)
        pdf.multi_cell(0, 8, heading, **NL)
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text, **NL)
        pdf.ln(2)
    pdf.output(str(path))
    return path


def _pdf_bold(path: Path) -> Path:
    """No outline: the title and headings are bold lines, sized by rank; body text is regular."""
    pdf = FPDF()
    pdf.add_page()
    for style, size, text in (
        ("B", 16, "Grievance Procedure"),
        ("B", 13, "Purpose"),
        ("", 11, "This procedure helps employees raise concerns about their work or colleagues."),
        ("B", 13, "Raising a grievance informally"),
        ("", 11, "Most concerns are best raised with your line manager first."),
        ("B", 11, "Who to speak to"),
        ("", 11, "If your concern is about your manager, speak to their manager instead."),
        ("B", 13, "Formal grievances"),
        ("", 11, "Put a formal grievance in writing to the Head of Service."),
        ("B", 11, "You may be accompanied at any meeting."),
    ):
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, 7, text, **NL)
    pdf.output(str(path))
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _loaded(path: Path, **meta: Any) -> Document:
    """Import, render and load one file, checking what every published shape must give."""
    doc = import_file(path, **meta)
    loaded = parse_markdown(render_markdown(doc), path.with_suffix(".md"))
    assert doc.report.sections == [s.number for s in loaded.sections]
    assert not [w for w in doc.report.warnings if "no numbered sections" in w]
    for section in loaded.sections:
        assert "\\" not in section.body and "*" not in section.body, section
        assert "\\" not in section.title and "*" not in section.title, section
    return loaded


def _md(text: str) -> Any:
    return lambda path: _write(path, text)


#: file name, how it is built, the title, its sections as "id: Title", and (section id, text it holds):
#: section id "" is the document's whole body.
CASES = [
    ("home-working.md", _md(MD_UNNUMBERED), "Home Working Policy", [
        "who-can-work-from-home: Who can work from home", "equipment: Equipment",
        "equipment/laptops-and-screens: Laptops and screens", "equipment/desks-and-chairs: Desks and chairs",
        "expenses: Expenses", "health-and-safety: Health and safety",
    ], [("expenses", UTILITY), ("", "This policy applies to all employees")]),
    ("annual-leave.md", _md(MD_OTHER_TOOL), "Annual Leave Policy", [
        "entitlement: Entitlement", "booking-leave: Booking leave", "carrying-leave-over: Carrying leave over",
    ], [("booking-leave", "1. Check the team calendar.\n2. Submit the request.\n3.")]),  # a list, not sections
    ("flexible-working.md", _md(MD_ESCAPED), "Flexible Working Procedure", [
        "making-a-request-statutory: Making a request (statutory)", "how-we-decide: How we decide",
        "appeals: Appeals",
    ], [("making-a-request-statutory", "12-month period (see the Employment Rights Act 1996)."),
        ("how-we-decide", "within 28 days and consider the request fairly.")]),
    ("dress-code.md", _md(MD_BOLD_LINES), "Dress Code Policy", [
        "purpose: Purpose", "uniform: Uniform", "identity-badges: Identity badges",
    ], [("identity-badges", "Employees must never lend their badge to anyone.")]),
    ("sickness.html", _md(HTML_HEADINGS), "Sickness Absence Policy", [
        "reporting-sickness: Reporting sickness",
        "reporting-sickness/if-your-manager-is-unavailable: If your manager is unavailable",
        "fit-notes: Fit notes", "fit-notes/returning-to-work: Returning to work",
        "fit-notes/returning-to-work/return-to-work-meeting: Return-to-work meeting", "sick-pay: Sick pay",
    ], [("reporting-sickness/if-your-manager-is-unavailable", "team’s contact list")]),
    ("lone-working.html", _md(HTML_BOLD), "Lone Working Policy", [
        "purpose: Purpose", "before-a-visit: Before a visit", "check-in-calls: Check-in calls",
    ], [("before-a-visit", "Never enter a property if you feel unsafe."),  # a bold sentence is no heading
        ("check-in-calls", "Always call the duty officer")]),  # nor is a paragraph that starts in bold
    ("bereavement.docx", _docx_styles, "Bereavement Leave Policy", [
        "purpose: Purpose", "entitlement: Entitlement", "entitlement/paid-leave: Paid leave",
        "entitlement/unpaid-leave: Unpaid leave", "how-to-request-leave: How to request leave",
    ], [("how-to-request-leave", "- Tell your manager as soon as you can.\n- Record the leave")]),
    ("home-working.docx", _docx_bold, "Home Working Policy", [
        "purpose: Purpose", "working-from-home: Working from home", "expenses: Expenses",
        "insurance: Insurance",
    ], [("expenses", UTILITY), ("expenses", "Receipts for equipment must be kept for six years."),
        ("expenses", "Note: broadband is not paid for either")]),
    ("expenses.pdf", _pdf_outline, "Travel and Expenses Policy", [
        "purpose: Purpose", "claiming-expenses: Claiming expenses", "claiming-expenses/mileage: Mileage",
        "claiming-expenses/meals: Meals", "working-from-home: Working from home",
    ], [("working-from-home", UTILITY), ("claiming-expenses/mileage", "45p a mile")]),
    ("grievance.pdf", _pdf_bold, "Grievance Procedure", [
        "purpose: Purpose", "raising-a-grievance-informally: Raising a grievance informally",
        "raising-a-grievance-informally/who-to-speak-to: Who to speak to",
        "formal-grievances: Formal grievances",
    ], [("formal-grievances", "You may be accompanied at any meeting.")]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "title", "outline", "holds"), CASES, ids=[c[0] for c in CASES])
def test_published_shape_imports_with_its_own_headings(
    tmp_path: Path, name: str, make: Any, title: str, outline: list[str], holds: list[tuple[str, str]]
) -> None:
    doc = _loaded(make(tmp_path / name))
    assert doc.id == Path(name).stem and doc.title == title
    assert [f"{s.number}: {s.title}" for s in doc.sections] == outline
    for number, text in holds:
        assert text in (doc.section(number).body if number else doc.body), (number, text)
    assert not re.search(r"^#+ \d", doc.body, re.MULTILINE), "numbers were invented"


def test_metadata_of_published_shapes(tmp_path: Path) -> None:
    other_tool = _loaded(_write(tmp_path / "annual-leave.md", MD_OTHER_TOOL))
    assert other_tool.meta["layout"] == "policy" and other_tool.meta["tags"] == ["hr", "leave"]
    assert other_tool.meta["permalink"] == "/policies/annual-leave/"
    assert _loaded(_write(tmp_path / "lone-working.html", HTML_BOLD)).ratified == "2025-03-03"
    assert _loaded(_docx_bold(tmp_path / "home-working.docx")).version == "2.0"
    nested = _loaded(_write(tmp_path / "home-working.md", MD_UNNUMBERED))
    assert nested.section("equipment/desks-and-chairs").parent == "equipment"


# --- `policybot corpus add` ---------------------------------------------------------------------------------

FILE_DATE = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def corpus_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh install's view: the corpus directory comes from POLICYBOT_CORPUS_DIR, no flags."""
    corpus = tmp_path / "corpus"
    monkeypatch.setenv("POLICYBOT_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return corpus


def _dated(path: Path) -> Path:
    stamp = FILE_DATE.timestamp()
    os.utime(path, (stamp, stamp))
    return path


@pytest.mark.parametrize(
    ("name", "make", "doc_id", "section"),
    [
        ("home-working.md", lambda p: _write(p, MD_UNNUMBERED), "home-working", "expenses"),
        ("Travel Expenses.pdf", _pdf_outline, "travel-expenses", "working-from-home"),
    ],
)
def test_corpus_add_without_flags_uses_the_file_date(
    tmp_path: Path,
    corpus_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    make: Any,
    doc_id: str,
    section: str,
) -> None:
    source = _dated(make(tmp_path / name))
    code, out = run(capsys, monkeypatch, "corpus", "add", str(source))
    assert code == 0, out
    assert "warning: no version found" in out and "2024-03-15" in out
    doc = load_corpus(corpus_env).document(doc_id)
    assert doc.version == "2024-03-15" and doc.warnings == ()
    assert doc.path == corpus_env / f"{doc_id}.md"
    assert doc.section(section).body.startswith(UTILITY)


@pytest.mark.parametrize("flag", [True, False])
def test_corpus_add_refuses_a_corpus_inside_site_packages(
    tmp_path: Path,
    corpus_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flag: bool,
) -> None:
    inside = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "policy_corpus"
    source = _write(tmp_path / "home-working.md", MD_UNNUMBERED)
    if flag:
        code, out = run(capsys, monkeypatch, "corpus", "add", str(source), "--corpus-dir", str(inside))
    else:
        monkeypatch.setenv("POLICYBOT_CORPUS_DIR", str(inside))
        code, out = run(capsys, monkeypatch, "corpus", "add", str(source))
    assert code == 1
    assert "site-packages" in out and "POLICYBOT_CORPUS_DIR" in out
    assert not (tmp_path / "venv").exists(), "something was written"
