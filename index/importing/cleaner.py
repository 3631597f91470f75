"""The one cleaner every import goes through: a policy converted from PDF or Word (or read from any format)
becomes clean Markdown with YAML front matter.

Conversions carry debris that must never reach a member of staff: a table of contents with dot leaders, page
footers spliced into paragraphs ("PUBLIC Version 2.0 Page 4 of 9 Acceptable Use of Social Media Policy"), HTML
tags and entities, stray "o" bullet glyphs, headings at random Markdown levels, a repeated title heading. This
module removes it, recovers the sections (numbered 1, 6.3, Appendix 1, or unnumbered Markdown headings, which keep
their depth; ``index.importing.sections``) and the document's own metadata (version, classification, dates), and
reports what it removed so a policy owner can review the result.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from datetime import date, datetime
from typing import Any

from index.importing.result import ImportedDocument, ImportReport, order_meta
from index.importing.sections import MD_HEADING, heading, split_sections
from index.structure import plain

__all__ = ["clean_text"]

_MONTHS = {m.lower(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"], start=1)}  # fmt: skip

# "PUBLIC Version 2.0  \nPage 4 of 9 Acceptable Use of Social Media Policy" (possibly glued to a sentence).
_FOOTER = re.compile(
    r"[ \t]*\b(?P<cls>PUBLIC|OFFICIAL(?:[- ]SENSITIVE)?|CONFIDENTIAL|RESTRICTED|INTERNAL)\s+"
    r"Version\s+(?P<version>\d+(?:\.\d+)*)\s+Page\s+\d+\s+of\s+\d+[ \t]*(?P<title>[^\n]*)",
)
_PAGE_ONLY = re.compile(r"^\s*(?:Page\s+\d+(?:\s+of\s+\d+)?|\d+\s*/\s*\d+|-\s*\d+\s*-)\s*$", re.IGNORECASE)
_TOC_HEADING = re.compile(r"^\W*(?:table\s+of\s+contents|contents)\W*$", re.IGNORECASE)
_TOC_LINE = re.compile(r"\.{4,}\s*\S*\s*\d+\s*$|\.{4,}\s*$")
_TOC_ENTRY = re.compile(r"^(?!#)\S.{0,118}?\s+\d{1,3}$")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_ORDERED_ITEM = re.compile(r"^\d{1,3}[.)]\s+\S")
_BULLET = re.compile(r"^(?P<indent>\s*)(?:[-*•▪●◦]\s+)?(?P<o>[o•▪●◦§]\s+)?(?P<text>\S.*)$")
_META = {
    "review_due": re.compile(r"^\s*Review(?:\s+date)?\s*[:\-–]\s*(?P<v>.+)$", re.IGNORECASE),
    "created": re.compile(r"^\s*Created\s*[:\-–]\s*(?P<v>.+)$", re.IGNORECASE),
    "ratified": re.compile(r"^\s*(?:Ratified|Approved)\s*[:\-–]\s*(?P<v>.+)$", re.IGNORECASE),
    "author": re.compile(r"^\s*Document\s+Author\s*[:\-–]\s*(?P<v>.+)$", re.IGNORECASE),
    "version": re.compile(r"^\s*Version\s*[:\-–]?\s*(?P<v>\d+(?:\.\d+)*)\s*$", re.IGNORECASE),
}


def clean_text(
    raw: str,
    *,
    defaults: dict[str, Any] | None = None,
    report: ImportReport | None = None,
    **meta_overrides: Any,
) -> ImportedDocument:
    """Clean a PDF/Word-to-text conversion (or a Markdown or text file) into sectioned Markdown.

    ``meta_overrides`` (id, title, owner, organisation, url ...) win over what is found in the text; ``None``
    values are ignored so a CLI can pass its options straight through. ``defaults`` (a title from a Word
    file's properties, say) lose to both; the first unnumbered level-1 heading names the document when nothing
    else does. ``report`` carries what a format reader already removed.
    """
    report = report or ImportReport()
    meta: dict[str, Any] = {}

    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").replace("\t", " ")
    text = _strip_markup(text, report)
    text = _strip_footers(text, meta, report)

    lines = [line.rstrip() for line in text.split("\n")]
    lines = _drop_toc(lines, report)
    found = split_sections(lines, report)
    _read_preamble(found.preamble, meta)
    for key, value in (defaults or {}).items():
        if value not in (None, ""):
            meta.setdefault(key, value)
    if found.title:
        meta.setdefault("title", plain(found.title))
    meta.update({k: v for k, v in meta_overrides.items() if v is not None})
    title = meta.get("title") or "Untitled policy"
    meta["title"] = title

    ordered = found.ordered_lists
    body_parts: list[str] = []
    # An unnumbered document keeps its opening text (not its metadata lines, nor its title), before the sections.
    if ordered:
        named = str(title).casefold()
        intro = [
            line for line in found.preamble if not _is_meta(line) and plain(line.strip()).casefold() != named
        ]
        body_parts.extend(_paragraphs(intro, "", report, ordered=True))
    for section in found.sections:
        number, section_title = section.number, section.title
        if not section.numbered:
            label = section_title
        elif number.startswith("A"):
            label = f"Appendix {number[1:]}: {section_title}"
        else:
            label = f"{number}. {section_title}" if "." not in number else f"{number} {section_title}"
        report.sections.append(number)
        paragraphs = _paragraphs(section.content, section_title, report, ordered=ordered)
        body_parts.append("#" * section.level + " " + label)
        body_parts.extend(paragraphs)

    _note_repeated_lines(lines, report)
    if not report.sections:
        report.warnings.append(
            "no numbered sections or headings found: the document will be indexed as one section"
        )
        kept = [line for i, line in enumerate(lines) if line.strip() and i != found.title_at]
        body_parts = _paragraphs(kept, "", report)
    _note_leftovers(body_parts, report)
    body = f"# {title}\n\n" + "\n\n".join(body_parts).strip() + "\n"
    return ImportedDocument(meta=order_meta(meta), body=body, report=report)


def _is_meta(line: str) -> bool:
    """A metadata line ("Version: 3.1", "Review date: March 2026") of the kind ``_read_preamble`` reads."""
    stripped = line.strip().lstrip("#").strip()
    return any(pattern.match(stripped) for pattern in _META.values())


# --- steps -------------------------------------------------------------------------------------------------


def _strip_markup(text: str, report: ImportReport) -> str:
    report.html_tags_removed += len(_TAG.findall(text))
    text = _TAG.sub("", text)
    entities = re.findall(r"&(?:[A-Za-z]{2,8}|#\d{2,5}|#x[0-9A-Fa-f]{2,4});", text)
    report.entities_decoded += len(entities)
    text = html.unescape(text)
    return text.replace("**", "")


def _strip_footers(text: str, meta: dict[str, Any], report: ImportReport) -> str:
    def drop(match: re.Match[str]) -> str:
        report.footers_removed += 1
        meta.setdefault("classification", match.group("cls").upper())
        meta.setdefault("version", match.group("version"))
        footer_title = match.group("title").strip()
        if footer_title:
            meta.setdefault("title", footer_title)
        return ""

    text = _FOOTER.sub(drop, text)
    kept = []
    for line in text.split("\n"):
        if _PAGE_ONLY.match(line):
            report.page_numbers_removed += 1
            continue
        kept.append(line)
    return "\n".join(kept)


def _drop_toc(lines: list[str], report: ImportReport) -> list[str]:
    """Drop contents headings, dot-leader lines, and the entries under a contents heading that end in a page
    number ("Purpose 2", as Word's TOC field flattens to) until the first line that is not such an entry."""
    kept: list[str] = []
    in_toc = False
    for line in lines:
        if _TOC_HEADING.match(line.strip("# ")) or _TOC_LINE.search(line):
            report.toc_lines_removed += 1
            in_toc = True
            continue
        if in_toc and not line.strip():
            continue
        if in_toc and _TOC_ENTRY.match(line.strip()):
            report.toc_lines_removed += 1
            continue
        in_toc = False
        kept.append(line)
    return kept


def _read_preamble(preamble: list[str], meta: dict[str, Any]) -> None:
    for line in preamble:
        stripped = line.strip().lstrip("#").strip()
        for key, pattern in _META.items():
            m = pattern.match(stripped)
            if m is None:
                continue
            value = m.group("v").strip()
            if key in ("review_due", "created"):
                parsed = _month(value)
                if parsed:
                    meta.setdefault(key, parsed)
            elif key == "ratified":
                parsed_day = _day(value)
                if parsed_day:
                    meta.setdefault(key, parsed_day)
            else:
                meta.setdefault(key, value)


def _paragraphs(
    content: list[str], section_title: str, report: ImportReport, *, ordered: bool = False
) -> list[str]:
    """Group lines into paragraphs and lists, normalising bullets; drop repeats and echo headings.

    ``ordered``: "1. Laptop" lines are numbered list items (in a document whose headings are unnumbered)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    in_list = False
    for raw in content:
        line = raw.rstrip()
        if not line.strip():
            if current and not in_list:
                blocks.append(current)
                current = []
            continue
        md = MD_HEADING.match(line.strip())
        if md:
            sub = md.group(2).strip()
            if sub.lower() == section_title.lower():
                continue  # e.g. "EMPLOYEE GUIDANCE ON THE USE OF SOCIAL MEDIA" under Appendix 1
            if current:
                blocks.append(current)
            blocks.append([f"#### {sub}"])
            current, in_list = [], False
            continue
        item = _list_item(line, report, ordered=ordered)
        if item is not None:
            if current and not in_list:
                blocks.append(current)
                current = []
            current.append(item)
            in_list = True
            continue
        if in_list:
            blocks.append(current)
            current, in_list = [], False
        current.append(line.strip())
    if current:
        blocks.append(current)

    out: list[str] = []
    seen: list[str] = []
    for block in blocks:
        if block[0].startswith(("- ", "  - ")) or (ordered and _ORDERED_ITEM.match(block[0])):
            text = "\n".join(block)
        else:
            text = " ".join(part.strip() for part in block)
            text = re.sub(r"\s{2,}", " ", text).strip()
        key = re.sub(r"\s+", " ", text).lower()
        # A paragraph repeated within a section (whole, or as the opening of an earlier one) is conversion
        # debris: PDF exports repeat text blocks across page breaks.
        if len(key) > 40 and any(key in earlier for earlier in seen):
            report.duplicate_paragraphs_removed += 1
            continue
        seen.append(key)
        out.append(text)
    return out


def _list_item(line: str, report: ImportReport, *, ordered: bool = False) -> str | None:
    """A normalised Markdown list item ("- x", "  - x" or, ``ordered``, "1. x"), or None when the line is not
    a list item."""
    stripped = line.lstrip()
    if ordered and _ORDERED_ITEM.match(stripped):
        return stripped
    indent = len(line) - len(stripped)
    dash = re.match(r"^[-*•▪●]\s+", stripped)
    rest = stripped[dash.end() :] if dash else stripped
    glyph = re.match(r"^[o◦§]\s+(?=\S)", rest)
    if glyph:
        report.bullet_glyphs_fixed += 1
        return "  - " + rest[glyph.end() :].strip()
    if dash:
        return ("  - " if indent >= 2 else "- ") + rest.strip()
    return None


def _note_repeated_lines(lines: list[str], report: ImportReport) -> None:
    """Short input lines repeated three or more times are usually running headers the patterns did not
    catch (looked for before paragraphs are joined, where a header spliced between pages would hide)."""
    counts = Counter(line.strip() for line in lines if 3 < len(line.strip()) <= 80 and heading(line) is None)
    report.repeated_lines = sorted(
        line for line, n in counts.items() if n >= 3 and not line.startswith(("#", "- ", "o "))
    )


_LEFTOVERS = (
    (re.compile(r"(?<=[.!?])\s\d{1,3}\s(?=[A-Z])"), "a number between sentences (a page number?)"),
    (re.compile(r"\bPage\s+\d+(?:\s+of\s+\d+)?\b"), "a page reference inside the text"),
    (
        re.compile(r"\b[a-z]{2,}- (?!(?:and|or|nor|to)\b)[a-z]{2,}\b"),
        "a word split by a hyphen at a line end",
    ),
    (re.compile(r"\ufffd|\(cid:\d+\)|[\ufb00-\ufb06]"), "unreadable or ligature characters"),
    (re.compile(r"\.{4,}"), "dot leaders (a table of contents?)"),
)


def _note_leftovers(parts: list[str], report: ImportReport) -> None:
    """Debris the cleaner does not remove on its own (it could be real text), quoted for the reviewer."""
    for part in parts:
        for line in part.split("\n"):
            stripped = line.strip().removeprefix("- ").strip()
            for pattern, why in _LEFTOVERS:
                found = pattern.search(stripped)
                if found:
                    start = max(found.start() - 20, 0)
                    report.leftovers.append(f"{why}: {stripped[start : found.end() + 20]!r}")


def _month(value: str) -> str | None:
    m = re.search(r"([A-Za-z]+)\s+(\d{4})", value)
    if m and m.group(1).lower() in _MONTHS:
        return f"{int(m.group(2)):04d}-{_MONTHS[m.group(1).lower()]:02d}"
    m = re.search(r"(\d{4})-(\d{2})", value)
    return f"{m.group(1)}-{m.group(2)}" if m else None


def _day(value: str) -> str | None:
    m = re.search(r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\s+(\d{4})", value)
    if m and m.group(2).lower() in _MONTHS:
        return date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1))).isoformat()
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d").date().isoformat()
    except ValueError:
        return None
