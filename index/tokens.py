"""Lexical tokenisation shared by indexing and querying: lower-case, English stop words out, Snowball stems."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

__all__ = ["tokenize"]

_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_STEMMER = Stemmer.Stemmer("english")
# Short, deliberately: "not", "no" and "should" carry meaning in policy questions.
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "for",
        "from",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "it's",
        "just",
        "me",
        "my",
        "myself",
        "of",
        "on",
        "or",
        "our",
        "ours",
        "she",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "us",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "im",
        "i'm",
        "ive",
        "i've",
        "id",
        "i'd",
        "dont",
        "don't",
    ]
)


@lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def tokenize(text: str) -> list[str]:
    """Stemmed tokens of ``text``; hyphenated words also yield their parts ("linked-in" -> linked, in)."""
    out: list[str] = []
    for raw in _WORD.findall(text.lower().replace("’", "'")):
        parts = re.split(r"['-]", raw) if ("-" in raw or "'" in raw) else [raw]
        if len(parts) > 1:
            joined = "".join(parts)
            if joined not in _STOP:
                out.append(_stem(joined))
        for part in parts:
            if part and part not in _STOP and len(part) > 1:
                out.append(_stem(part))
    return out
