"""What an import produces: the cleaned document with its recovered metadata, the report of what was removed
(for the policy owner to review), and the Markdown file written to the corpus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["ImportReport", "ImportedDocument", "order_meta", "render_markdown"]


@dataclass
class ImportReport:
    """What the cleaner found and removed: shown to the person importing, for review."""

    sections: list[str] = field(default_factory=list)
    toc_lines_removed: int = 0
    footers_removed: int = 0
    page_numbers_removed: int = 0
    html_tags_removed: int = 0
    entities_decoded: int = 0
    bullet_glyphs_fixed: int = 0
    duplicate_paragraphs_removed: int = 0
    #: Set by the format readers (index.importing): what they dropped before cleaning.
    running_headers_removed: int = 0
    source_format: str = "text"
    repeated_lines: list[str] = field(default_factory=list)
    #: Other debris the cleaner saw but would not guess about (a bare number, a split word): for review.
    leftovers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        lines = [f"sections found: {len(self.sections)} ({', '.join(self.sections)})"]
        for label, count in (
            ("table-of-contents lines removed", self.toc_lines_removed),
            ("page footers removed", self.footers_removed),
            ("page numbers removed", self.page_numbers_removed),
            ("HTML tags removed", self.html_tags_removed),
            ("HTML entities decoded", self.entities_decoded),
            ("stray bullet glyphs fixed", self.bullet_glyphs_fixed),
            ("duplicate paragraphs removed", self.duplicate_paragraphs_removed),
            ("running headers/footers removed", self.running_headers_removed),
        ):
            if count:
                lines.append(f"{label}: {count}")
        lines.extend(f"suspected leftover (repeated line): {line!r}" for line in self.repeated_lines)
        lines.extend(f"suspected leftover: {item}" for item in self.leftovers)
        lines.extend(f"warning: {w}" for w in self.warnings)
        return lines


@dataclass
class ImportedDocument:
    """Cleaned body plus the metadata recovered from the text; ``meta`` becomes the YAML front matter."""

    meta: dict[str, Any]
    body: str
    report: ImportReport


def render_markdown(doc: ImportedDocument) -> str:
    """Front matter + body: the file committed to policy_corpus/."""
    front = yaml.safe_dump(doc.meta, sort_keys=False, allow_unicode=True, width=1000).strip()
    return f"---\n{front}\n---\n\n{doc.body}"


_META_ORDER = (
    "id", "title", "organisation", "owner", "author", "version", "created", "ratified", "review_due",
    "classification", "url",
)  # fmt: skip


def order_meta(meta: dict[str, Any]) -> dict[str, Any]:
    ordered = {k: meta[k] for k in _META_ORDER if k in meta}
    ordered.update({k: v for k, v in meta.items() if k not in ordered})
    if "version" in ordered:
        ordered["version"] = str(ordered["version"])
    return ordered
