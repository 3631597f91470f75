"""Conversation context: the last questions of a DM or thread, and how a follow-up is read in their light.

"What about Instagram?" after "Can I accept a friend request from a parent on Facebook?" is searched as both
together. Only questions are remembered, never reports. The in-memory store serves one process; deployments
with several replicas plug in the database-backed store (same Protocol).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from typing import Protocol

__all__ = ["ConversationMemory", "InMemoryConversations", "is_follow_up", "resolve_follow_up"]

KEEP = 3
TTL_S = 30 * 60

_FOLLOW_UP = re.compile(
    r"^\W*(what|how) about\b|^\W*(and|or|but|also|plus|so)\b|^\W*what if\b|^\W*same (for|with|goes)\b|"
    r"^\W*(does|would|will|is|do) (that|this|it|the same|they|those)\b|^\W*even\b|^\W*(ok|okay|right)[,.]? (and|but|so|what)\b|"
    r"^\W*(in|on|for|with|at|during) \w+\W*$|^\W*(really|why|why not|how come)\W*$",
    re.IGNORECASE,
)


class ConversationMemory(Protocol):
    async def recent(self, key: str) -> list[str]: ...

    async def remember(self, key: str, question: str) -> None: ...


class InMemoryConversations:
    """Per-process memory with a time-to-live and a bound on conversations kept."""

    def __init__(self, *, ttl_s: float = TTL_S, max_conversations: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._max = max_conversations
        self._data: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    async def recent(self, key: str) -> list[str]:
        entry = self._data.get(key)
        if entry is None or time.monotonic() - entry[0] > self._ttl_s:
            self._data.pop(key, None)
            return []
        return list(entry[1])

    async def remember(self, key: str, question: str) -> None:
        _, questions = self._data.pop(key, (0.0, []))
        questions = [*questions, question][-KEEP:]
        self._data[key] = (time.monotonic(), questions)
        while len(self._data) > self._max:
            self._data.popitem(last=False)


def is_follow_up(text: str) -> bool:
    """Short messages that lean on what came before ("what about Instagram?", "and on my own phone?")."""
    words = text.split()
    return 0 < len(words) <= 10 and bool(_FOLLOW_UP.search(text))


def resolve_follow_up(text: str, context: list[str]) -> str:
    """The text to search: a follow-up is joined to the previous question; anything else stands alone."""
    if context and is_follow_up(text):
        return f"{context[-1]} {text}"
    return text
