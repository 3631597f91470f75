"""HTML: headings ``h1``-``h6`` (or, on a page without ``h2``-``h6``, short paragraphs wholly in ``<strong>``/``<b>``),
paragraphs and list items; navigation, scripts and styles are skipped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from index.importing.blocks import Block, Extracted, blocks_to_text, heading_shape
from index.importing.result import ImportReport

__all__ = ["read_html"]


class _HtmlBlocks(HTMLParser):
    """Collects headings, paragraphs and list items; skips what is page furniture rather than policy."""

    SKIP = frozenset({"script", "style", "nav", "header", "footer", "aside", "noscript", "template", "form"})
    BREAK = frozenset(
        {"p", "div", "section", "article", "main", "blockquote", "tr", "dd", "dt", "table", "br"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title: str | None = None
        self._skip = 0
        self._in_title = False
        self._text: list[str] = []
        self._kind = "para"
        self._level = 0
        self._lists = 0
        self._bold = 0
        #: Whether each piece of text in the current block was inside <strong>/<b>.
        self._weights: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in ("strong", "b"):
            self._bold += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._kind, self._level = "heading", int(tag[1])
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists += 1
        elif tag == "li":
            self._flush()
            self._kind, self._level = "item", max(self._lists - 1, 0)
        elif tag in self.BREAK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(self._skip - 1, 0)
        elif tag == "title":
            self._in_title = False
        elif tag in ("strong", "b"):
            self._bold = max(self._bold - 1, 0)
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists = max(self._lists - 1, 0)
        elif re.fullmatch(r"h[1-6]", tag) or tag == "li" or tag in self.BREAK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data.strip()
        elif not self._skip:
            self._text.append(data)
            if data.strip():
                self._weights.append(self._bold > 0)

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        if text:
            strong = self._kind == "para" and bool(self._weights) and all(self._weights)
            self.blocks.append(Block("strong" if strong else self._kind, text, self._level))
        self._text, self._kind, self._level, self._weights = [], "para", 0, []


def read_html(raw: str) -> Extracted:
    parser = _HtmlBlocks()
    parser.feed(raw)
    parser.close()
    parser._flush()
    blocks = _bold_headings(parser.blocks)
    h1 = [b for b in blocks if b.kind == "heading" and b.level == 1]
    title = parser.title or None
    if len(h1) == 1:  # the page's one <h1> is its title, not a section
        title = h1[0].text
        blocks = [b for b in blocks if b is not h1[0]]
    elif not h1 and title and blocks and _opens(blocks[0], title):
        # No <h1>: a bold opening line that the page's <title> starts with is the title.
        title, blocks = blocks[0].text, blocks[1:]
    return Extracted(text=blocks_to_text(blocks), title=title, report=ImportReport(source_format="html"))


def _opens(block: Block, title: str) -> bool:
    return block.kind == "heading" and title.lower().startswith(block.text.lower())


def _bold_headings(blocks: list[Block]) -> list[Block]:
    """On a page without ``h2``-``h6``, a paragraph wholly in bold that is short and does not end in a full
    stop is a heading (an ``h2``; an ``h3`` when numbered "x.y"); elsewhere bold paragraphs are paragraphs."""
    sectioned = any(b.kind == "heading" and b.level >= 2 for b in blocks)
    out: list[Block] = []
    for block in blocks:
        level = None if sectioned or block.kind != "strong" else heading_shape(block.text)
        if level is not None:
            out.append(Block("heading", block.text, level + 1))
        else:
            out.append(Block("para", block.text) if block.kind == "strong" else block)
    return out
