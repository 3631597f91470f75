"""Read a policy as a policy owner has it (.docx, .pdf, .html, .md, .txt) into text for the one cleaner.

Each reader only does what its format makes necessary (``from_docx``, ``from_html``, ``from_pdf``); everything
else (contents pages, spliced footers, bullets, section numbering, metadata, the review of leftovers) happens in
``index.importing.cleaner.clean_text``, so every format is cleaned the same way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from index.errors import CorpusError
from index.importing.blocks import Extracted, heading_shape
from index.importing.cleaner import clean_text
from index.importing.from_docx import read_docx
from index.importing.from_html import read_html
from index.importing.from_pdf import read_pdf
from index.importing.result import ImportedDocument, ImportReport

__all__ = ["SUPPORTED", "extract", "import_file"]

SUPPORTED = (".docx", ".pdf", ".html", ".htm", ".md", ".txt")

_SECTION_HEADING = re.compile(r"^ {0,3}#{2,6}\s", re.MULTILINE)
_BOLD_LINE = re.compile(r"^ {0,3}(\*\*|__)(?P<text>[^*_]+?)\1\s*$")


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
            return read_docx(path)
        if suffix == ".pdf":
            return read_pdf(path)
        raw = path.read_text(encoding="utf-8")
    except CorpusError:
        raise
    except UnicodeDecodeError:
        raise CorpusError(path, "not valid UTF-8 text") from None
    except Exception as exc:  # a damaged file: name it, do not show a library traceback
        raise CorpusError(path, f"cannot read this {suffix} file ({type(exc).__name__})") from None
    if suffix in (".html", ".htm"):
        return read_html(raw)
    front, text = _front_matter(raw) if suffix == ".md" else ({}, raw)
    if suffix == ".md":
        text = _markdown_headings(text)
    return Extracted(text=text, title=None, report=ImportReport(source_format=suffix.lstrip(".")), meta=front)


def _markdown_headings(text: str) -> str:
    """A Markdown file that sets its headings in bold ("**Expenses**" alone on a line: short, no full stop)
    and has no ``##`` headings gets them as ``##`` headings; a hard line break's trailing backslash goes."""
    lines = [re.sub(r"(?<!\\)\\$", "", line) for line in text.split("\n")]
    if _SECTION_HEADING.search(text):
        return "\n".join(lines)
    out = []
    for line in lines:
        bold = _BOLD_LINE.match(line)
        out.append(f"## {bold.group('text').strip()}" if bold and heading_shape(bold.group("text")) else line)
    return "\n".join(out)


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
