"""Importers for Word, PDF, HTML and text: real files built here, all cleaned by the one cleaner in index.importing.cleaner."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from typer.testing import CliRunner

from bot.cli import app
from index.corpus import load_corpus, parse_markdown
from index.errors import CorpusError
from index.importing import import_file, render_markdown

LEAVE = "Staff must agree annual leave with their line manager at least two weeks before it starts."
CARRY = "Up to five days of unused leave may be carried over into the next leave year."
SICK = "If you are ill while on annual leave, tell your manager on the first day of sickness."
CHECK = "Check the leave calendar before you book travel."


def _docx(path: Path) -> Path:
    document = docx.Document()
    document.core_properties.title = "Annual Leave Policy"
    document.sections[0].header.paragraphs[0].text = "Kent Borough Council HR Policy Library"
    document.sections[0].footer.paragraphs[0].text = "OFFICIAL Page 1"
    document.add_paragraph("Annual Leave Policy", style="Title")
    document.add_paragraph("Version: 3.1")
    document.add_paragraph("Contents", style="TOC Heading")
    for entry in ("Purpose\t2", "Booking leave\t2", "Carrying leave over\t3", "Appendix 1: Checklist\t4"):
        document.add_paragraph(entry)
    document.add_heading("Purpose", level=1)
    document.add_paragraph("This policy explains how staff book and take annual leave.")
    document.add_heading("Booking leave", level=2)
    document.add_paragraph(LEAVE)
    document.add_paragraph("Requests are made through the HR system.", style="List Bullet")
    document.add_paragraph("Managers reply within five working days.", style="List Bullet")
    document.add_heading("Carrying leave over", level=2)
    document.add_paragraph(CARRY)
    document.add_heading("Sickness during leave", level=1)
    document.add_paragraph(SICK)
    document.add_heading("Appendix 1: Checklist", level=1)
    document.add_paragraph(CHECK, style="List Bullet")
    document.save(str(path))
    return path


class _Pdf(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, "Kent Borough Council - Human Resources", align="C")
        self.ln(10)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 8, f"OFFICIAL Annual Leave Policy v3.1 | Page {self.page_no()} of {{nb}}", align="C")


def _pdf(path: Path) -> Path:
    pdf = _Pdf()
    pdf.set_title("Annual Leave Policy")
    pdf.add_page()
    nl = {"new_x": "LMARGIN", "new_y": "NEXT"}
    filler = (
        "Leave is planned across the team so that services keep running and colleagues are not left to "
        "cover alone. "
    )
    for number, heading, sentence in (
        ("1.", "Purpose", "This policy explains how staff book and take annual leave."),
        ("2.", "Booking leave", LEAVE),
        ("3.", "Carrying leave over", CARRY),
        ("4.", "Sickness during leave", SICK),
    ):
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 7, f"{number} {heading}", **nl)  # type: ignore[arg-type]
        pdf.set_font("Helvetica", size=11)
        for _ in range(4):
            pdf.multi_cell(0, 6, filler * 3, **nl)  # type: ignore[arg-type]
            pdf.ln(2)
        pdf.multi_cell(0, 6, sentence, **nl)  # type: ignore[arg-type]
        pdf.ln(2)
    pdf.output(str(path))
    return path


HTML = f"""<!doctype html><html><head><title>Leave | Kent Borough Council</title>
<style>body {{ font-family: sans-serif }}</style><script>var tracking = "Page 1 of 3";</script></head>
<body><header><nav><a href="/">Home</a> &gt; <a href="/hr">HR policies</a></nav></header>
<main><h1>Annual Leave Policy</h1><p>Version: 3.1</p>
<h2>1. Purpose</h2><p>This policy explains how staff book &amp; take annual leave.</p>
<h2>2. Booking leave</h2><p>{LEAVE}</p><ul><li>Requests are made through the HR system.</li>
<li>Managers reply within five working days.</li></ul>
<h3>2.1 Carrying leave over</h3><p>{CARRY}</p>
<h2>Appendix 1: Checklist</h2><ul><li>{CHECK}</li></ul></main>
<footer>&copy; Kent Borough Council. Cookie settings.</footer></body></html>
"""


def test_word_document_with_heading_styles_and_contents(tmp_path: Path) -> None:
    doc = import_file(_docx(tmp_path / "leave.docx"), id="annual-leave")
    assert doc.report.sections == [
        "purpose",
        "purpose/booking-leave",
        "purpose/carrying-leave-over",
        "sickness-during-leave",
        "A1",
    ]
    assert doc.meta["title"] == "Annual Leave Policy" and doc.meta["version"] == "3.1"
    body = doc.body
    for sentence in (LEAVE, CARRY, SICK, CHECK):
        assert sentence in body
    assert "## Purpose" in body and "### Booking leave" in body and "## Appendix 1: Checklist" in body
    assert "Contents" not in body and "Booking leave 2" not in body, "table of contents left in"
    assert doc.report.toc_lines_removed >= 4
    assert "Policy Library" not in body and "OFFICIAL" not in body, "header/footer text left in"
    assert "- Requests are made through the HR system." in body
    loaded = parse_markdown(render_markdown(doc), tmp_path / "annual-leave.md")
    assert [s.number for s in loaded.sections] == [
        "purpose",
        "purpose/booking-leave",
        "purpose/carrying-leave-over",
        "sickness-during-leave",
        "A1",
    ]
    assert LEAVE in loaded.section("purpose/booking-leave").body


def test_pdf_with_running_header_footer_and_page_numbers(tmp_path: Path) -> None:
    path = _pdf(tmp_path / "leave.pdf")
    doc = import_file(path, id="annual-leave", version="3.1")
    assert len(__import__("pypdf").PdfReader(str(path)).pages) >= 2, "the test needs page breaks"
    assert doc.report.sections == ["1", "2", "3", "4"]
    assert doc.meta["title"] == "Annual Leave Policy"
    assert doc.report.running_headers_removed >= 4
    body = doc.body
    for sentence in (LEAVE, CARRY, SICK):
        assert sentence in body
    assert "Page" not in body and "OFFICIAL" not in body and "Human Resources" not in body
    assert doc.report.leftovers == [] and doc.report.repeated_lines == []


def test_html_page(tmp_path: Path) -> None:
    path = tmp_path / "leave.html"
    path.write_text(HTML, encoding="utf-8")
    doc = import_file(path, id="annual-leave")
    assert doc.meta["title"] == "Annual Leave Policy" and doc.meta["version"] == "3.1"
    assert doc.report.sections == ["1", "2", "2.1", "A1"]
    body = doc.body
    assert "book & take annual leave" in body
    for sentence in (LEAVE, CARRY, CHECK):
        assert sentence in body
    for debris in ("Home", "tracking", "font-family", "Cookie", "&gt;", "&amp;"):
        assert debris not in body


BADLY_CONVERTED = """Kent Borough Council - HR Policy Library
1. Purpose
This policy explains how staff book and take annual leave. Staff must agree leave with their manag- er
well in advance.
7
Kent Borough Council - HR Policy Library
2. Booking leave
Requests are made through the HR system and managers reply within five working days of the request.
8
Kent Borough Council - HR Policy Library
3. Carrying leave over
Up to five days of unused leave may be carried over into the next leave year (see Page 4 of the guide).
"""


def test_badly_converted_text_reports_its_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "leave.txt"
    path.write_text(BADLY_CONVERTED, encoding="utf-8")
    doc = import_file(path, id="annual-leave", title="Annual Leave Policy", version="1")
    assert doc.report.sections == ["1", "2", "3"]
    assert doc.report.repeated_lines == ["Kent Borough Council - HR Policy Library"]
    kinds = " ".join(doc.report.leftovers)
    assert "page number" in kinds and "split by a hyphen" in kinds and "page reference" in kinds
    result = CliRunner().invoke(
        app, ["corpus", "add", str(path), "--version", "1", "--corpus-dir", str(tmp_path / "c")]
    )
    assert result.exit_code == 0, result.output
    assert "suspected leftover (repeated line): 'Kent Borough Council - HR Policy Library'" in result.output
    assert "suspected leftover: a word split by a hyphen" in result.output


def test_badly_converted_pdf_reports_its_leftovers(tmp_path: Path) -> None:
    """A PDF whose converter put a disclaimer inside the text flow and split words at line ends."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    nl = {"new_x": "LMARGIN", "new_y": "NEXT"}
    for number, heading, first, rest in (
        ("1.", "Purpose", "This policy explains how leave is book-", "ed and taken."),
        ("2.", "Booking leave", "Staff must agree leave with their manag-", "er before booking any travel."),
        ("3.", "Carrying leave over", "Up to five days may be carried", "over into the next leave year."),
    ):
        pdf.multi_cell(0, 7, f"{number} {heading}", **nl)  # type: ignore[arg-type]
        pdf.multi_cell(0, 6, first, **nl)  # type: ignore[arg-type]
        pdf.multi_cell(0, 6, rest, **nl)  # type: ignore[arg-type]
        pdf.multi_cell(0, 6, "Uncontrolled when printed", **nl)  # type: ignore[arg-type]
    path = tmp_path / "leave.pdf"
    pdf.output(str(path))
    doc = import_file(path, id="annual-leave", title="Annual Leave Policy", version="1")
    assert doc.report.sections == ["1", "2", "3"]
    assert doc.report.repeated_lines == ["Uncontrolled when printed"]
    assert any("split by a hyphen" in item for item in doc.report.leftovers), doc.report.leftovers
    assert "sections found: 3 (1, 2, 3)" in doc.report.summary()[0]


def test_cli_adds_a_word_document_that_the_corpus_loads(tmp_path: Path, corpus_copy: Path) -> None:
    source = _docx(tmp_path / "Annual Leave.docx")
    result = CliRunner().invoke(
        app,
        ["corpus", "add", str(source), "--id", "annual-leave", "--owner", "HR", "--review-due", "2027-03",
         "--url", "https://intranet.example/leave", "--corpus-dir", str(corpus_copy)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "sections found: 5 (purpose, purpose/booking-leave, purpose/carrying-leave-over, sickness-during-leave, A1)"
        in result.output
    )
    corpus = load_corpus(corpus_copy)
    leave = corpus.document("annual-leave")
    assert (leave.title, leave.version, leave.owner, leave.review_due) == (
        "Annual Leave Policy", "3.1", "HR", "2027-03",
    )  # fmt: skip
    assert len(corpus.documents) == 2
    again = CliRunner().invoke(
        app, ["corpus", "add", str(source), "--id", "annual-leave", "--corpus-dir", str(corpus_copy)]
    )
    assert again.exit_code == 1 and "--force" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--review-due", "next spring"], "--review-due"),
        (["--id", "Bad Id!"], "--id"),
    ],
)
def test_bad_options_change_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    source = _docx(tmp_path / "leave.docx")
    out = tmp_path / "corpus"
    result = CliRunner().invoke(app, ["corpus", "add", str(source), *args, "--corpus-dir", str(out)])
    assert result.exit_code == 1 and message in result.output
    assert not out.exists()


def test_unsupported_and_damaged_files_are_refused(tmp_path: Path) -> None:
    odt = tmp_path / "leave.odt"
    odt.write_bytes(b"PK\x03\x04")
    with pytest.raises(CorpusError, match=r"cannot import \.odt"):
        import_file(odt, id="x")
    broken = tmp_path / "leave.docx"
    broken.write_bytes(b"this is not a zip file")
    with pytest.raises(CorpusError, match=r"leave\.docx: cannot read this \.docx file"):
        import_file(broken, id="x")
