"""Finding a cleaned text's sections: numbered headings ("6.3", "Appendix 1"), bare or as Markdown, and unnumbered
Markdown headings, which get the loader's slug-path ids ("working-from-home/expenses")."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from index.importing.result import ImportReport
from index.structure import slug

__all__ = ["MD_HEADING", "FoundSection", "Structure", "heading", "split_sections"]

MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NUMBERED = re.compile(r"^(?P<num>\d+(?:\.\d+)*)\.?\s+(?P<title>\S.*)$")
_APPENDIX = re.compile(r"^Appendix\s+(?P<num>\d+|[A-Z])\s*[:.\-–—]?\s*(?P<title>.*)$", re.IGNORECASE)


@dataclass
class FoundSection:
    """A section as the cleaner writes it: ``number`` is its id, ``level`` its Markdown heading level."""

    number: str
    title: str
    level: int
    numbered: bool
    content: list[str] = field(default_factory=list)


@dataclass
class Structure:
    """The text split at its headings. ``title`` is the first unnumbered level-1 heading when it opens the
    document; ``ordered_lists`` is set when bare numbered lines are list items rather than headings."""

    preamble: list[str]
    sections: list[FoundSection]
    title: str | None
    ordered_lists: bool
    #: The index of the title's line in the lines split.
    title_at: int | None = None


@dataclass(frozen=True, slots=True)
class _Head:
    level: int  # Markdown level; for a bare numbered line, 2 (or 3 when numbered "x.y")
    text: str
    number: str | None  # the document's own number ("6.3", "A1"), None when unnumbered
    title: str


def heading(line: str) -> tuple[str, str] | None:
    """(section number, title) when the line is a numbered section heading; "A1" for Appendix 1."""
    stripped = line.strip()
    md = MD_HEADING.match(stripped)
    candidate = md.group(2).strip() if md else stripped
    appendix = _APPENDIX.match(candidate)
    if appendix and (md or len(candidate) < 120):
        return "A" + appendix.group("num").upper(), appendix.group("title").strip()
    numbered = _NUMBERED.match(candidate)
    if numbered is None:
        return None
    title = numbered.group("title").strip()
    if md:
        return numbered.group("num"), title
    # A bare numbered line is a heading only when it looks like one: short, no sentence ending.
    if len(candidate) <= 90 and not title.endswith((".", ";", ",")) and title[:1].isupper():
        return numbered.group("num"), title
    return None


def _parse(line: str, bare: bool) -> _Head | None:
    stripped = line.strip()
    md = MD_HEADING.match(stripped)
    if md is None and not bare:
        return None
    found = heading(stripped)
    if md is not None:
        text = md.group(2).strip()
        if found is not None:
            return _Head(len(md.group(1)), text, found[0], found[1])
        return _Head(len(md.group(1)), text, None, text) if text else None
    if found is None:
        return None
    return _Head(3 if "." in found[0] else 2, stripped, found[0], found[1])


def split_sections(lines: list[str], report: ImportReport) -> Structure:
    """Split ``lines`` into a preamble and sections.

    Numbered headings are sections as they always were. Unnumbered Markdown headings are sections too, keeping
    their relative depth: all of them in a document that numbers none of its Markdown headings (there a bare
    "1. Laptop" line is a list item, not a heading); in a numbered document, those at or above the level of its
    numbered headings, and those nested in an unnumbered section. Other unnumbered headings inside a numbered
    section stay in its text, as sub-headings."""
    md_heads = [(i, h) for i, line in enumerate(lines) if (h := _parse(line, bare=False)) is not None]
    title_at: int | None = None
    if md_heads:
        first_at, first = md_heads[0]
        if first.level == 1 and first.number is None and not any(heading(x) for x in lines[:first_at]):
            title_at = first_at
    numbered_md = [h for i, h in md_heads if h.number is not None and i != title_at]
    unnumbered_md = any(h.number is None and i != title_at for i, h in md_heads)
    bare = bool(numbered_md) or not unnumbered_md
    top = min((h.level for h in numbered_md), default=2)

    preamble: list[str] = []
    sections: list[FoundSection] = []
    #: The enclosing sections of the next heading: (input level, output level, id).
    stack: list[tuple[int, int, str]] = []
    used: set[str] = set()
    for i, line in enumerate(lines):
        if i == title_at:
            continue
        head = _parse(line, bare)
        current = sections[-1] if sections else None
        if head is not None and head.number is not None:
            level = 3 if "." in head.number else 2
            sections.append(FoundSection(head.number, head.title, level, numbered=True))
            stack = [(head.level, level, head.number)]
        elif head is not None and (
            not numbered_md or head.level <= top or (current is not None and not current.numbered)
        ):
            while stack and stack[-1][0] >= head.level:
                stack.pop()
            parent = stack[-1] if stack else None
            base = slug(head.text) if parent is None else f"{parent[2]}/{slug(head.text)}"
            number, n = base, 2
            while number in used:
                number, n = f"{base}-{n}", n + 1
            if number != base:
                report.warnings.append(
                    f"heading {head.text!r} appears more than once here: cited as {number}"
                )
            level = min(parent[1] + 1, 6) if parent else 2
            sections.append(FoundSection(number, head.text, level, numbered=False))
            stack.append((head.level, level, number))
        else:
            (current.content if current is not None else preamble).append(line)
            continue
        used.add(sections[-1].number)

    for number, count in Counter(s.number for s in sections if s.numbered).items():
        if count > 1:
            report.warnings.append(f"section {number} appears {count} times")
    title = MD_HEADING.match(lines[title_at].strip()) if title_at is not None else None
    return Structure(
        preamble,
        sections,
        title.group(2).strip() if title else None,
        ordered_lists=not bare,
        title_at=title_at,
    )
