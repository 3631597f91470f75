"""HTML: headings ``h1``-``h6``, paragraphs and list items; navigation, scripts and styles are skipped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from index.importing.blocks import Block, Extracted, blocks_to_text
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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
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

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        if text:
            self.blocks.append(Block(self._kind, text, self._level))
        self._text, self._kind, self._level = [], "para", 0


def read_html(raw: str) -> Extracted:
    parser = _HtmlBlocks()
    parser.feed(raw)
    parser.close()
    parser._flush()
    blocks = parser.blocks
    h1 = [b for b in blocks if b.kind == "heading" and b.level == 1]
    title = parser.title or None
    if len(h1) == 1:  # the page's one <h1> is its title, not a section
        title = h1[0].text
        blocks = [b for b in blocks if b is not h1[0]]
    return Extracted(text=blocks_to_text(blocks), title=title, report=ImportReport(source_format="html"))


# --- PDF ---------------------------------------------------------------------------------------------------
