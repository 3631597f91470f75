"""A document's sections from its own heading structure, numbered or not, and its text as staff should read it.

Numbered headings keep their numbers as section ids ("6.3", "A1" for Appendix 1), so ids survive edits and match
how staff cite the policy. Many public bodies publish without numbers: an unnumbered heading gets a stable id from
its heading path, a slug per level joined by "/" ("working-from-home/expenses"), and is cited by its heading text.
The first unnumbered level-1 heading is the document's title, not a section. Markdown inline syntax (escapes,
emphasis, links, code) is reduced to its text here, so a quote never shows a backslash or an asterisk, and the
verbatim check compares quotes with exactly the text staff are shown.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["RawSection", "is_numbered", "parse_structure", "plain", "slug"]

_MD_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_NUMBERED = re.compile(
    r"^(?:(?P<num>\d+(?:\.\d+)*)\.?(?:\s+|$)|Appendix\s+(?P<app>\d+|[A-Z])\b\s*[:.\-–—]?\s*)(?P<title>.*)$",
    re.IGNORECASE,
)
_NUMBER_ID = re.compile(r"^(?:\d+(?:\.\d+)*|A(?:\d+|[A-Z]))$")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<\"'])")
_LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<(?P<url>(?:https?://|mailto:)[^>\s]+)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(?P<text>.+?)(?<=\S)\1")
_EM = re.compile(r"(?<![\w*])(\*|_)(?=\S)(?P<text>[^*_]+?)(?<=\S)\1(?![\w*])")
_CODE = re.compile(r"`(?P<text>[^`]+)`")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class RawSection:
    """A section as found: ``number`` is its id (a number, "A1", or a slug path), ``line`` 1-based."""

    number: str
    title: str
    body: str
    line: int
    parent: str | None
    numbered: bool


def is_numbered(section: str) -> bool:
    """Whether a section id is the document's own numbering ("6.3", "A1") rather than a heading slug."""
    return bool(_NUMBER_ID.match(section))


def slug(text: str) -> str:
    """Lower-case words joined by hyphens: "Working from Home" -> "working-from-home"."""
    return _SLUG.sub("-", plain(text).lower()).strip("-")[:60].strip("-") or "section"


def plain(text: str) -> str:
    """Markdown inline syntax reduced to the text a reader sees (a line at a time; list markers are kept)."""
    if not any(ch in text for ch in "\\*_[`<&!"):
        return text
    text = _LINK.sub(lambda m: m.group("text"), text)
    text = _AUTOLINK.sub(lambda m: m.group("url").removeprefix("mailto:"), text)
    text = _CODE.sub(lambda m: m.group("text"), text)
    text = _STRONG.sub(lambda m: m.group("text"), text)
    text = _EM.sub(lambda m: m.group("text"), text)
    text = _TAG.sub("", text)
    text = _ESCAPE.sub(lambda m: m.group(1), text)
    return html.unescape(text)


@dataclass
class _Heading:
    level: int
    text: str
    line: int
    content: list[str]


def parse_structure(body: list[str], *, first_line: int) -> tuple[str | None, list[RawSection], list[str]]:
    """(title from the first level-1 heading, sections, the body as staff read it, line by line).

    ``first_line`` is the file line of ``body[0]``, so sections and errors point at the file."""
    headings: list[_Heading] = []
    preamble: list[str] = []
    lines_out: list[str] = []
    for offset, raw in enumerate(body):
        match = _MD_HEADING.match(raw)
        if match:
            text = plain(match.group("text")).strip()
            headings.append(_Heading(len(match.group("hashes")), text, first_line + offset, []))
            lines_out.append("#" * len(match.group("hashes")) + " " + text)
            continue
        line = plain(raw)
        lines_out.append(line)
        (headings[-1].content if headings else preamble).append(line)
    title: str | None = None
    if headings and headings[0].level == 1 and not _NUMBERED.match(headings[0].text):
        title = headings[0].text
        first = headings.pop(0)
        preamble.extend(first.content)  # text under the title, before the first section: not a section
    return title, _sections(headings), lines_out


def _sections(headings: list[_Heading]) -> list[RawSection]:
    levels = sorted({h.level for h in headings})
    depth_of = {level: i for i, level in enumerate(levels)}
    sections: list[RawSection] = []
    #: The id of the nearest section at each depth above the current heading.
    stack: list[tuple[int, str]] = []
    used: set[str] = set()
    for h in headings:
        if not h.text:
            continue
        depth = depth_of[h.level]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack else None
        numbered = _NUMBERED.match(h.text)
        if numbered and (numbered.group("num") or numbered.group("app")):
            number = numbered.group("num") or ("A" + numbered.group("app").upper())
            title = numbered.group("title").strip()
            parent = number.rsplit(".", 1)[0] if "." in number else None
            is_number = True
        else:
            base = slug(h.text) if parent is None else f"{parent}/{slug(h.text)}"
            number, n = base, 2
            while number in used:
                number, n = f"{base}-{n}", n + 1
            title = h.text
            is_number = False
        body = "\n".join(h.content).strip()
        sections.append(RawSection(number, title, body, h.line, parent, is_number))
        used.add(number)
        stack.append((depth, number))
    return sections
