"""How a query is read: the text embedded (in the policy's vocabulary) and, for a long post, the windows and
question sentences read on their own, as spans of that one text (the question is often buried in backstory)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.chunk import split_sentences
from index.embed import Span
from index.lexicon import GENERAL, Vocabulary, normalise

__all__ = ["QueryPlan", "plan_query"]

_QUESTION = re.compile(
    r"^\W*(can|could|may|am|is|are|do|does|did|should|would|will|what|whats|what's|when|where|which|who|how|"
    r"why|if|any|anyone|has|have)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """What gets embedded for one query: the whole (expanded) text, read once; the windows of a long post and its
    question sentences are spans of that text, pooled from the same forward pass."""

    text: str
    spans: tuple[Span, ...]
    windows: int
    focus: bool


def plan_query(
    query: str, *, window_words: int, max_windows: int, vocabulary: Vocabulary = GENERAL
) -> QueryPlan:
    """The text to embed for ``query`` and the spans of it to read separately (none for a short question)."""
    text = normalise(query).strip()
    expanded = vocabulary.expand(text)
    sentences = _located(expanded, split_sentences(text))
    windows: list[Span] = []
    if len(text.split()) > window_words:
        current: list[tuple[int, int]] = []
        size = 0
        for a, b in sentences:
            words = len(expanded[a:b].split())
            if current and size + words > window_words:
                windows.append(((current[0][0], current[-1][1]),))
                current, size = [], 0
            current.append((a, b))
            size += words
        if current:
            windows.append(((current[0][0], current[-1][1]),))
        if len(windows) > max_windows:
            half = max_windows // 2
            windows = windows[:half] + windows[-half:]
    focus = [(a, b) for a, b in sentences if _is_question(expanded[a:b])][-2:]
    has_focus = bool(focus) and len(focus) < len(sentences)
    spans = tuple(windows) + ((tuple(focus),) if has_focus else ())
    return QueryPlan(text=expanded, spans=spans, windows=len(windows), focus=has_focus)


def _located(text: str, sentences: Sequence[str]) -> list[tuple[int, int]]:
    """Character ranges of ``sentences`` (verbatim substrings, in order) within ``text``."""
    out: list[tuple[int, int]] = []
    pos = 0
    for sentence in sentences:
        at = text.find(sentence, pos)
        if at < 0:
            continue
        out.append((at, at + len(sentence)))
        pos = at + len(sentence)
    return out


def _is_question(sentence: str) -> bool:
    return sentence.rstrip().endswith("?") or bool(_QUESTION.match(sentence))
