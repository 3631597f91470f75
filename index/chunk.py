"""Split documents into passages (what is cited) and sentences (what is matched and quoted).

Ids are derived from the document's own numbering, never from content hashes, so they survive rebuilds and
small edits: ``social-media-policy#6.3`` for a section, ``#6.4:2`` for the second part of a long section, and
``#A1.5`` for the fifth point of Appendix 1. Every ``Unit.text`` is a verbatim substring of the document body:
the answer composer quotes units and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.document import Document, Section

__all__ = ["Passage", "Unit", "chunk_document", "split_sentences"]

#: Sections longer than this (in words) are cited in parts; all-MiniLM-L6-v2 reads only 256 word pieces.
MAX_PASSAGE_WORDS = 150

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "Mr.", "Mrs.", "Ms.", "Dr.", "No.", "St.", "vs.", "cf.")
_BOUNDARY = re.compile(r"(?<=[.!?;])[\"”’')]?\s+(?=[A-Z0-9“\"‘'(])")
_ITEM = re.compile(r"^(?P<indent>\s*)- (?P<text>.+)$")


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence or a short list item: the smallest thing matched and quoted.

    ``context`` is the list item it belongs under ("Bring the organisation into disrepute, for example by:"),
    so a quoted sub-point can be shown with its lead-in.
    """

    id: str
    passage_id: str
    doc_id: str
    section: str
    text: str
    block: int
    context: str | None = None


@dataclass(frozen=True, slots=True)
class Passage:
    """A citable piece of a section. ``heading_path`` runs from the document title to the section title."""

    id: str
    doc_id: str
    section: str
    section_title: str
    heading_path: tuple[str, ...]
    text: str
    units: tuple[Unit, ...]


@dataclass(frozen=True, slots=True)
class _Block:
    """A paragraph or a top-level list item with its sub-items."""

    lines: tuple[tuple[str, str | None], ...]  # (verbatim text, lead-in of the item it sits under)

    @property
    def words(self) -> int:
        return sum(len(text.split()) for text, _ in self.lines)


def chunk_document(doc: Document) -> list[Passage]:
    """Every passage of a document, in document order."""
    titles = {s.number: s.title for s in doc.sections}
    passages: list[Passage] = []
    for section in doc.sections:
        blocks = _blocks(section.body)
        if not blocks:
            continue
        path = _heading_path(doc, section, titles)
        base = f"{doc.id}#{section.number}"
        if section.number.startswith("A") and all(len(b.lines) == 1 for b in blocks) and len(blocks) > 1:
            groups = [([b], f"{base}.{i}") for i, b in enumerate(blocks, start=1)]
        elif sum(b.words for b in blocks) > MAX_PASSAGE_WORDS:
            parts = _pack(blocks)
            groups = [(part, f"{base}:{i}") for i, part in enumerate(parts, start=1)]
        else:
            groups = [(blocks, base)]
        block_offset = 0
        for group, pid in groups:
            units = _units(group, pid, doc.id, section.number, block_offset)
            block_offset += len(group)
            text = " ".join(u.text for u in units)
            passages.append(
                Passage(
                    id=pid,
                    doc_id=doc.id,
                    section=section.number,
                    section_title=section.title,
                    heading_path=path,
                    text=text,
                    units=tuple(units),
                )
            )
    return passages


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, each a verbatim substring; abbreviations such as "e.g." do not split."""
    protected = text
    for i, abbr in enumerate(_ABBREVIATIONS):
        protected = protected.replace(abbr, f"\x00{i}\x00")
    pieces = _BOUNDARY.split(protected)
    out: list[str] = []
    for piece in pieces:
        for i, abbr in enumerate(_ABBREVIATIONS):
            piece = piece.replace(f"\x00{i}\x00", abbr)
        piece = piece.strip()
        if piece:
            out.append(piece)
    return out


def _heading_path(doc: Document, section: Section, titles: dict[str, str]) -> tuple[str, ...]:
    """Document title, then every enclosing heading down to this section's ("6 Key Principles", "6.3 ...")."""
    by_number = {s.number: s for s in doc.sections}
    chain: list[str] = []
    parent = section.parent
    while parent and parent in by_number and len(chain) < 8:
        above = by_number[parent]
        chain.append(f"{above.label} {above.title}".strip())
        parent = above.parent
    return (doc.title, *reversed(chain), f"{section.label} {section.title}".strip())


def _blocks(body: str) -> list[_Block]:
    blocks: list[_Block] = []
    paragraph: list[str] = []
    item: list[tuple[str, str | None]] = []

    def flush_paragraph() -> None:
        if paragraph:
            blocks.append(_Block(lines=((" ".join(paragraph), None),)))
            paragraph.clear()

    def flush_item() -> None:
        if item:
            blocks.append(_Block(lines=tuple(item)))
            item.clear()

    for line in body.split("\n"):
        if not line.strip() or line.startswith("#"):
            flush_paragraph()
            if not line.strip():
                continue
            flush_item()
            continue
        match = _ITEM.match(line)
        if match:
            flush_paragraph()
            text = match.group("text").strip()
            if match.group("indent"):
                lead = item[0][0] if item else None
                item.append((text, lead))
            else:
                flush_item()
                item.append((text, None))
            continue
        flush_item()
        paragraph.append(line.strip())
    flush_paragraph()
    flush_item()
    return blocks


def _pack(blocks: list[_Block]) -> list[list[_Block]]:
    """Greedy packing of consecutive blocks into parts of at most MAX_PASSAGE_WORDS (a big block stands alone)."""
    parts: list[list[_Block]] = []
    current: list[_Block] = []
    words = 0
    for block in blocks:
        if current and words + block.words > MAX_PASSAGE_WORDS:
            parts.append(current)
            current, words = [], 0
        current.append(block)
        words += block.words
    if current:
        parts.append(current)
    return parts


def _units(blocks: list[_Block], pid: str, doc_id: str, section: str, block_offset: int) -> list[Unit]:
    units: list[Unit] = []
    for b, block in enumerate(blocks, start=block_offset):
        for text, lead in block.lines:
            for sentence in split_sentences(text):
                units.append(
                    Unit(
                        id=f"{pid}/{len(units)}",
                        passage_id=pid,
                        doc_id=doc_id,
                        section=section,
                        text=sentence,
                        block=b,
                        context=lead,
                    )
                )
    return units
