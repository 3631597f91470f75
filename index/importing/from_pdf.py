"""PDF: text page by page, with running headers, footers and page numbers dropped (lines that repeat at the
same place on most pages) and paragraphs rejoined from the layout's line breaks."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

from index.importing.blocks import Extracted
from index.importing.result import ImportReport

__all__ = ["read_pdf"]

_NUMBERED = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+\S|Appendix\s+(?:\d+|[A-Z])\b)", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,3}(?:\s*(?:of|/)\s*\d{1,3})?$|^-\s*\d{1,3}\s*-$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.:;!?][\"”’')]?$")
_BULLET = re.compile(r"^[-•▪●◦*]\s+")


def read_pdf(path: Path) -> Extracted:
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
