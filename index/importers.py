"""Read a policy as a policy owner has it (.docx, .pdf, .html, .md, .txt) into text for the one cleaner.

Each reader only does what its format makes necessary: Word heading styles become numbered Markdown headings,
Word's table of contents and PDF running headers, footers and page numbers are dropped, HTML navigation and
scripts are skipped. Everything else (contents pages, spliced footers, bullets, section numbering, metadata,
the review of leftovers) happens in ``index.importer.clean_text``, so every format is cleaned the same way.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from index.errors import CorpusError
from index.importer import ImportedDocument, ImportReport, clean_text

__all__ = ["SUPPORTED", "Block", "Extracted", "extract", "import_file"]

SUPPORTED = (".docx", ".pdf", ".html", ".htm", ".md", ".txt")

_NUMBERED = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+\S|Appendix\s+(?:\d+|[A-Z])\b)", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,3}(?:\s*(?:of|/)\s*\d{1,3})?$|^-\s*\d{1,3}\s*-$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.:;!?][\"”’')]?$")
_BULLET = re.compile(r"^[-•▪●◦*]\s+")


@dataclass(frozen=True, slots=True)
class Block:
    """A structural piece of a document: a heading (``level`` 1 = top section), a paragraph or a list item."""

    kind: str  # "heading" | "para" | "item"
    text: str
    level: int = 0


@dataclass
class Extracted:
    """Text for the cleaner, the title the file itself names (if any) and what the reader removed."""

    text: str
    title: str | None
    report: ImportReport
    #: Front matter already in a Markdown file: kept unless the importer is told otherwise.
    meta: dict[str, Any] = field(default_factory=dict)


def import_file(path: Path, **meta: Any) -> ImportedDocument:
    """Read ``path`` by its extension and clean it; ``meta`` (id, title, owner ...) wins over what is found."""
    extracted = extract(path)
    defaults = {"title": extracted.title, **extracted.meta}
    return clean_text(extracted.text, defaults=defaults, report=extracted.report, **meta)


def extract(path: Path) -> Extracted:
    """The text of one file, ready for ``clean_text``. Unsupported or unreadable files raise ``CorpusError``."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise CorpusError(
            path, f"cannot import {suffix or 'files without an extension'}: use {', '.join(SUPPORTED)}"
        )
    try:
        if suffix == ".docx":
            return _docx(path)
        if suffix == ".pdf":
            return _pdf(path)
        raw = path.read_text(encoding="utf-8")
    except CorpusError:
        raise
    except UnicodeDecodeError:
        raise CorpusError(path, "not valid UTF-8 text") from None
    except Exception as exc:  # a damaged file: name it, do not show a library traceback
        raise CorpusError(path, f"cannot read this {suffix} file ({type(exc).__name__})") from None
    if suffix in (".html", ".htm"):
        return _html(raw)
    front, text = _front_matter(raw) if suffix == ".md" else ({}, raw)
    return Extracted(text=text, title=None, report=ImportReport(source_format=suffix.lstrip(".")), meta=front)


def _front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """YAML front matter of a Markdown file (re-imported after editing, say) and the text after it."""
    import yaml

    lines = raw.lstrip("\ufeff").split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, raw
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return {}, raw
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError:
        return {}, raw
    if not isinstance(meta, dict):
        return {}, raw
    return {str(k): v for k, v in meta.items()}, "\n".join(lines[end + 1 :])


# --- structured formats (Word, HTML) -> Markdown-ish text ------------------------------------------------


def blocks_to_text(blocks: list[Block]) -> str:
    """Headings become ``##``/``###`` (deeper ones ``####``); unnumbered documents are numbered 1, 1.1 ...

    Numbers are only invented when no section heading carries one: Word's automatic heading numbering is not
    part of the text, but a document that numbers its own headings must keep its numbers."""
    headings = [b for b in blocks if b.kind == "heading"]
    top = min((b.level for b in headings), default=1)
    numbered = any(re.match(r"\d+(?:\.\d+)*\.?\s+\S", b.text) for b in headings if b.level <= top + 1)
    counters = [0, 0]
    out: list[str] = []
    for block in blocks:
        if block.kind == "heading":
            depth = block.level - top
            text = block.text
            if depth >= 2:
                out.append(f"#### {text}")
                continue
            if not numbered and not text.lower().startswith("appendix"):
                if depth == 0:
                    counters = [counters[0] + 1, 0]
                    text = f"{counters[0]}. {text}"
                else:
                    counters[1] += 1
                    text = f"{max(counters[0], 1)}.{counters[1]} {text}"
            out.append(("## " if depth == 0 else "### ") + text)
        elif block.kind == "item":
            out.append(("  " * min(block.level, 1)) + "- " + block.text)
            continue
        else:
            out.append(block.text)
        out.append("")
    return "\n".join(out).replace("\n\n- ", "\n- ")


def _docx(path: Path) -> Extracted:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
    report = ImportReport(source_format="docx")
    title = (document.core_properties.title or "").strip() or None
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
                if cells:
                    blocks.append(Block("para", " | ".join(cells)))
            continue
        assert isinstance(item, Paragraph)
        text = " ".join(item.text.replace("\t", " ").split())
        style = (item.style.name if item.style is not None else "") or ""
        lowered = style.lower()
        if not text:
            continue
        if lowered.startswith("toc") and lowered != "toc heading":
            report.toc_lines_removed += 1
            continue
        if lowered == "toc heading":
            blocks.append(Block("para", "Contents"))
        elif lowered == "title":
            title = title or text
        elif lowered.startswith("heading"):
            level = int(lowered.split()[-1]) if lowered.split()[-1].isdigit() else 1
            blocks.append(Block("heading", text, level))
        elif lowered.startswith(("list bullet", "list number", "list paragraph")):
            blocks.append(Block("item", text, 1 if lowered[-1] in "23" else 0))
        else:
            blocks.append(Block("para", text))
    # A TOC pasted as text keeps its tab + page number ("Purpose\t2"); the cleaner drops it under "Contents".
    return Extracted(text=blocks_to_text(blocks), title=title, report=report)


class _HtmlBlocks(HTMLParser):
    """Collects headings, paragraphs and list items; skips what is page furniture rather than policy."""

    SKIP = frozenset({"script", "style", "nav", "header", "footer", "aside", "noscript", "template", "form"})
    BREAK = frozenset(
        {"p", "div", "section", "article", "main", "blockquote", "tr", "dd", "dt", "table", "br"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title: str | None = None
        self._skip = 0
        self._in_title = False
        self._text: list[str] = []
        self._kind = "para"
        self._level = 0
        self._lists = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._kind, self._level = "heading", int(tag[1])
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists += 1
        elif tag == "li":
            self._flush()
            self._kind, self._level = "item", max(self._lists - 1, 0)
        elif tag in self.BREAK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(self._skip - 1, 0)
        elif tag == "title":
            self._in_title = False
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists = max(self._lists - 1, 0)
        elif re.fullmatch(r"h[1-6]", tag) or tag == "li" or tag in self.BREAK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data.strip()
        elif not self._skip:
            self._text.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        if text:
            self.blocks.append(Block(self._kind, text, self._level))
        self._text, self._kind, self._level = [], "para", 0


def _html(raw: str) -> Extracted:
    parser = _HtmlBlocks()
    parser.feed(raw)
    parser.close()
    parser._flush()
    blocks = parser.blocks
    h1 = [b for b in blocks if b.kind == "heading" and b.level == 1]
    title = parser.title or None
    if len(h1) == 1:  # the page's one <h1> is its title, not a section
        title = h1[0].text
        blocks = [b for b in blocks if b is not h1[0]]
    return Extracted(text=blocks_to_text(blocks), title=title, report=ImportReport(source_format="html"))


# --- PDF ---------------------------------------------------------------------------------------------------


def _pdf(path: Path) -> Extracted:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    report = ImportReport(source_format="pdf")
    pages = [[line.rstrip() for line in (page.extract_text() or "").split("\n")] for page in reader.pages]
    pages = [[line for line in page if line.strip()] for page in pages]
    furniture = _running_lines(pages)
    body: list[str] = []
    for page in pages:
        edge = set(range(min(3, len(page)))) | set(range(max(len(page) - 3, 0), len(page)))
        kept: list[str] = []
        for i, line in enumerate(page):
            if i in edge and _shape(line) in furniture:
                report.running_headers_removed += 1
                continue
            if i in edge and _PAGE_NUMBER.match(line.strip()):
                report.page_numbers_removed += 1
                continue
            kept.append(line)
        body.extend(_paragraph_breaks(kept))
    meta_title = reader.metadata.title if reader.metadata is not None else None
    return Extracted(text="\n".join(body), title=(meta_title or "").strip() or None, report=report)


def _shape(line: str) -> str:
    """A line with its numbers blanked: "Page 3 of 9" and "Page 4 of 9" are the same running line."""
    return re.sub(r"\d+", "#", " ".join(line.split())).lower()


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines at the top or bottom of at least half the pages (and two or more): headers and footers."""
    if len(pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for page in pages:
        edges = page[:3] + page[-3:]
        seen.update({_shape(line) for line in edges})
    need = max(2, math.ceil(len(pages) / 2))
    return {shape for shape, n in seen.items() if n >= need and len(shape) > 2}


def _paragraph_breaks(lines: list[str]) -> list[str]:
    """PDF text has no blank lines: end a paragraph after a short line that ends a sentence, and join a
    wrapped bullet's continuation lines back onto the bullet."""
    if not lines:
        return []
    lengths = sorted(len(line.strip()) for line in lines)
    full = lengths[int(0.9 * (len(lengths) - 1))] or 1
    out: list[str] = []
    for line in lines:
        text = line.strip()
        prev = out[-1] if out else ""
        continues_item = (
            bool(_BULLET.match(prev))
            and not _BULLET.match(text)
            and not _NUMBERED.match(text)
            and not _SENTENCE_END.search(prev)
        )
        if continues_item:
            out[-1] = f"{prev} {text}"
            continue
        if prev and _BULLET.match(text) and not _BULLET.match(prev):
            out.append("")
        out.append(text)
        if _SENTENCE_END.search(text) and (len(text) < 0.85 * full or line.endswith(" ")):
            out.append("")
    out.append("")
    return out
