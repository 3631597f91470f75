"""PDF: text page by page, with running headers, footers and page numbers dropped (lines that repeat at the
same place on most pages), headings marked from the outline (bookmarks) or, without one, from bold lines, and
paragraphs rejoined from the layout's line breaks."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.importing.blocks import Extracted, heading_shape
from index.importing.result import ImportReport

__all__ = ["read_pdf"]

_NUMBERED = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+\S|Appendix\s+(?:\d+|[A-Z])\b)", re.IGNORECASE)
_NUMBER_PREFIX = re.compile(r"^(?:\d+(?:\.\d+)*\.?|Appendix\s+(?:\d+|[A-Z])\s*[:.\-–—]?)\s+", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,3}(?:\s*(?:of|/)\s*\d{1,3})?$|^-\s*\d{1,3}\s*-$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.:;!?][\"”’')]?$")
_BULLET = re.compile(r"^[-•▪●◦*]\s+")


@dataclass(frozen=True, slots=True)
class _Line:
    """A line of a page's text, whether every run in it is set in a bold font, and its largest font size."""

    text: str
    bold: bool = False
    size: float = 0.0


def read_pdf(path: Path) -> Extracted:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    report = ImportReport(source_format="pdf")
    pages = [[line for line in _page_lines(page) if line.text.strip()] for page in reader.pages]
    furniture = _running_lines([[line.text for line in page] for page in pages])
    kept: list[_Line] = []
    for page in pages:
        edge = set(range(min(3, len(page)))) | set(range(max(len(page) - 3, 0), len(page)))
        for i, line in enumerate(page):
            if i in edge and _shape(line.text) in furniture:
                report.running_headers_removed += 1
                continue
            if i in edge and _PAGE_NUMBER.match(line.text.strip()):
                report.page_numbers_removed += 1
                continue
            kept.append(line)
    outline = _outline(reader)
    if outline:
        lines, title = _outline_headings(kept, outline)
    else:
        lines, title = _bold_headings(kept)
    if title is None and reader.metadata is not None:
        title = (reader.metadata.title or "").strip() or None
    return Extracted(text="\n".join(_paragraph_breaks(lines)), title=title, report=report)


def _page_lines(page: Any) -> list[_Line]:
    """The page's text lines, each with its weight and size from the fonts pypdf reports for its runs."""
    runs: list[tuple[str, bool, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        name = str((font or {}).get("/BaseFont", "")) if hasattr(font, "get") else ""
        scale = math.sqrt(abs(tm[0] * tm[3] - tm[1] * tm[2]) * abs(cm[0] * cm[3] - cm[1] * cm[2])) or 1.0
        runs.append((text, "bold" in name.lower(), round(float(size or 0) * scale * 2) / 2))

    text = page.extract_text(visitor_text=visit) or ""
    # The runs rebuild the text line by line: a line is bold when every run with text in it is.
    styled: list[tuple[str, bool, float]] = []
    current: list[tuple[str, bool, float]] = []
    for piece, bold, size in runs:
        parts = piece.split("\n")
        for n, part in enumerate(parts):
            if n:
                styled.append(_style(current))
                current = []
            current.append((part, bold, size))
    styled.append(_style(current))
    lines: list[_Line] = []
    cursor = 0
    for raw in text.split("\n"):
        line = _Line(raw.rstrip())
        key = _norm(raw)
        for j in range(cursor, min(cursor + 6, len(styled))):
            if styled[j][0] == key and key:
                line = _Line(raw.rstrip(), styled[j][1], styled[j][2])
                cursor = j + 1
                break
        lines.append(line)
    return lines


def _style(runs: list[tuple[str, bool, float]]) -> tuple[str, bool, float]:
    inked = [(bold, size) for text, bold, size in runs if text.strip()]
    text = _norm("".join(text for text, _bold, _size in runs))
    return text, bool(inked) and all(b for b, _s in inked), max((s for _b, s in inked), default=0.0)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _outline(reader: Any) -> list[tuple[int, str]]:
    """The bookmarks as (depth, title), depth 0 at the top; empty when the PDF has none (or a broken one)."""
    found: list[tuple[int, str]] = []

    def walk(items: list[Any], depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            elif getattr(item, "title", None):
                found.append((depth, " ".join(str(item.title).split())))

    try:
        walk(list(reader.outline), 0)
    except Exception:  # a damaged outline: read the text without it
        return []
    return found


def _outline_headings(lines: list[_Line], outline: list[tuple[int, str]]) -> tuple[list[str], str | None]:
    """Lines equal to a bookmark title (whitespace and case aside; a heading may carry its number, or wrap onto
    a second line) become headings of the bookmark's depth: ``##`` at the top, unless a single top bookmark
    holds all the others, which is then the title (``#``)."""
    tops = [title for depth, title in outline if depth == 0]
    title = tops[0] if len(tops) == 1 and len(outline) > 1 else None
    shift = 1 if title is not None else 2
    pending = [(depth, _norm(text)) for depth, text in outline]
    out: list[str] = []
    i = 0
    while i < len(lines):
        text = lines[i].text.strip()
        joined = f"{text} {lines[i + 1].text.strip()}" if i + 1 < len(lines) else None
        for candidate, used in ((text, 1), (joined, 2)):
            if candidate is None:
                continue
            keys = {_norm(candidate), _norm(_NUMBER_PREFIX.sub("", candidate))}
            match = next((entry for entry in pending if entry[1] in keys), None)
            if match is not None:
                pending.remove(match)
                out.append("#" * min(match[0] + shift, 6) + " " + " ".join(candidate.split()))
                i += used
                break
        else:
            out.append(lines[i].text)
            i += 1
    return out, title


def _bold_headings(lines: list[_Line]) -> tuple[list[str], str | None]:
    """Without an outline, a run of lines set wholly in bold (one size; a numbered line starts a new run) that
    is short and does not end in a full stop is a heading. The larger the type, the higher the heading; a
    first heading set larger than every other one is the title (``#``)."""
    if sum(len(line.text) for line in lines if line.bold) * 2 > sum(len(line.text) for line in lines):
        return [line.text for line in lines], None  # a document set mostly in bold says nothing by it
    groups: list[list[int]] = []
    for i, line in enumerate(lines):
        text = line.text.strip()
        if not line.bold or _BULLET.match(text) or _PAGE_NUMBER.match(text):
            continue
        prev = groups[-1] if groups else None
        if prev and prev[-1] == i - 1 and lines[prev[-1]].size == line.size and not _NUMBERED.match(text):
            prev.append(i)
        else:
            groups.append([i])
    headings = {
        group[0]: (group, text)
        for group in groups
        if heading_shape(text := " ".join(lines[i].text.strip() for i in group)) is not None
    }
    sizes = {start: lines[start].size for start in headings}
    first = min(headings, default=-1)
    title = None
    if len(headings) > 1 and all(sizes[first] > size for start, size in sizes.items() if start != first):
        title = headings[first][1]
    ranks = sorted({size for start, size in sizes.items() if start != first or title is None}, reverse=True)
    out: list[str] = []
    skip: set[int] = set()
    for i, line in enumerate(lines):
        if i in skip:
            continue
        if i not in headings:
            out.append(line.text)
            continue
        group, text = headings[i]
        skip.update(group)
        level = 1 if i == first and title is not None else min(2 + ranks.index(sizes[i]), 6)
        out.append("#" * level + " " + text)
    return out, title


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
    wrapped bullet's continuation lines back onto the bullet. A heading stands on its own."""
    if not lines:
        return []
    lengths = sorted(len(line.strip()) for line in lines)
    full = lengths[int(0.9 * (len(lengths) - 1))] or 1
    out: list[str] = []
    for line in lines:
        text = line.strip()
        if text.startswith("#"):
            out.extend(["", text, ""] if out and out[-1] else [text, ""])
            continue
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
