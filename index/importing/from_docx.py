"""Word (.docx): heading styles become headings, Word's own table of contents is dropped, tables are read
row by row."""

from __future__ import annotations

from pathlib import Path

from index.importing.blocks import Block, Extracted, blocks_to_text
from index.importing.result import ImportReport

__all__ = ["read_docx"]


def read_docx(path: Path) -> Extracted:
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
