"""What the format readers hand the cleaner: structural blocks (headings with their level, paragraphs, list
items) turned into Markdown-ish text, and ``Extracted``, the text with the title the file names and what the
reader removed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from index.importing.result import ImportReport

__all__ = ["Block", "Extracted", "blocks_to_text", "heading_shape", "lift_title"]

#: A heading numbered "x.y" (or deeper) by the document itself.
_DOTTED = re.compile(r"^\d+\.\d+(?:\.\d+)*\.?\s+\S")


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


def heading_shape(text: str) -> int | None:
    """The level (1, or 2 when numbered "x.y") of a paragraph that looks like a heading set in bold: short
    (<= 100 characters) and not ending in a full stop; ``None`` when it reads like a sentence."""
    text = text.strip()
    if not text or len(text) > 100 or text.endswith(".") or not re.search(r"[A-Za-z]", text):
        return None
    return 2 if _DOTTED.match(text) else 1


def lift_title(blocks: list[Block], title: str | None) -> tuple[str | None, list[Block]]:
    """A heading that opens the document alone at the top level, with deeper headings under it, is the
    document's title rather than a section (when no other title is known, or it repeats that title)."""
    headings = [b for b in blocks if b.kind == "heading"]
    if len(headings) < 2:
        return title, blocks
    first, top = headings[0], min(b.level for b in headings)
    alone = first.level == top and all(b.level > top for b in headings[1:])
    if not alone or (title is not None and title.strip().lower() != first.text.strip().lower()):
        return title, blocks
    return title or first.text, [b for b in blocks if b is not first]


def blocks_to_text(blocks: list[Block]) -> str:
    """Headings keep the document's own text (numbered or not: nothing is invented); their depth below the
    top heading level becomes ``##`` (top), ``###``, ``####`` ... down to ``######``."""
    headings = [b for b in blocks if b.kind == "heading"]
    top = min((b.level for b in headings), default=1)
    out: list[str] = []
    for block in blocks:
        if block.kind == "heading":
            out.append("#" * min(2 + block.level - top, 6) + " " + block.text)
        elif block.kind == "item":
            out.append(("  " * min(block.level, 1)) + "- " + block.text)
            continue
        else:
            out.append(block.text)
        out.append("")
    return "\n".join(out).replace("\n\n- ", "\n- ")
