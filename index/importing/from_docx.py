"""Word (.docx): heading styles (or, in a document without them, short bold paragraphs) become headings, Word's
own table of contents is dropped, tables are read row by row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index.importing.blocks import Block, Extracted, blocks_to_text, heading_shape, lift_title
from index.importing.result import ImportReport

__all__ = ["read_docx"]


def read_docx(path: Path) -> Extracted:
    """Blocks from a Word file. Without heading styles, a paragraph set wholly in bold, at most 100 characters
    long and not ending in a full stop is a heading: level 1, or level 2 when numbered "x.y". The first such
    heading is the title when it repeats the file's title property or is set larger than every other one."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
    report = ImportReport(source_format="docx")
    title = (document.core_properties.title or "").strip() or None
    blocks: list[Block] = []
    #: Bold paragraphs that could be headings: (the block, its font size in points, 0 when unknown).
    bold: list[tuple[Block, float]] = []
    styled = False
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
            styled = True
            level = int(lowered.split()[-1]) if lowered.split()[-1].isdigit() else 1
            blocks.append(Block("heading", text, level))
        elif lowered.startswith(("list bullet", "list number", "list paragraph")):
            blocks.append(Block("item", text, 1 if lowered[-1] in "23" else 0))
        else:
            blocks.append(Block("para", text))
            size = _bold_size(item)
            if size is not None:
                bold.append((blocks[-1], size))
    if not styled:
        title, blocks = _bold_headings(blocks, bold, title)
    title, blocks = lift_title(blocks, title)
    # A TOC pasted as text keeps its tab + page number ("Purpose\t2"); the cleaner drops it under "Contents".
    return Extracted(text=blocks_to_text(blocks), title=title, report=report)


def _bold_headings(
    blocks: list[Block], bold: list[tuple[Block, float]], title: str | None
) -> tuple[str | None, list[Block]]:
    """Bold heading-shaped paragraphs become headings; the opening one may be the title (see ``read_docx``)."""
    found = {id(b): (level, size) for b, size in bold if (level := heading_shape(b.text)) is not None}
    if not found:
        return title, blocks
    first = next(b for b in blocks if id(b) in found)
    others = [size for key, (_level, size) in found.items() if key != id(first)]
    repeats = title is not None and title.strip().lower() == first.text.strip().lower()
    if repeats or (others and found[id(first)][1] > max(others)) or (not others and title is None):
        title = title or first.text
        blocks = [b for b in blocks if b is not first]
    return title, [Block("heading", b.text, found[id(b)][0]) if id(b) in found else b for b in blocks]


def _bold_size(paragraph: Any) -> float | None:
    """The font size (points; 0 when unknown) of a paragraph whose text is all bold, else None."""
    runs = [run for run in paragraph.runs if run.text.strip()]
    if not runs or "".join(r.text for r in paragraph.runs).strip() != paragraph.text.strip():
        return None  # no runs, or text outside plain runs (a hyperlink, a field): not a bold heading
    style_font = paragraph.style.font if paragraph.style is not None else None
    sizes: list[float] = []
    for run in runs:
        weight = run.bold
        if weight is None and run.style is not None:
            weight = run.style.font.bold
        if weight is None and style_font is not None:
            weight = style_font.bold
        if not weight:
            return None
        size = run.font.size or (style_font.size if style_font is not None else None)
        sizes.append(size.pt if size is not None else 0.0)
    return max(sizes)
