"""Importing policies as they are published: one reader per format feeding one cleaner, and the Markdown file
with front matter that lands in the corpus. ``import_file(path)`` is the way in."""

from __future__ import annotations

from index.importing.reader import SUPPORTED, extract, import_file
from index.importing.result import ImportedDocument, ImportReport, render_markdown

__all__ = ["SUPPORTED", "ImportReport", "ImportedDocument", "extract", "import_file", "render_markdown"]
