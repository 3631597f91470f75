"""What the format readers hand the cleaner: structural blocks (headings with their level, paragraphs, list
items) turned into Markdown-ish text, and ``Extracted``, the text with the title the file names and what the
reader removed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from index.importing.result import ImportReport

__all__ = ["Block", "Extracted", "blocks_to_text"]


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
