"""Follow-up detection and the in-memory conversation store."""

from __future__ import annotations

import pytest

from bot.core.conversation import InMemoryConversations, is_follow_up, resolve_follow_up


@pytest.mark.parametrize(
    "text",
    [
        "what about instagram?",
        "and on my own phone?",
        "What if it's a private account?",
        "does that apply to TAs",
    ],
)
def test_follow_ups(text: str) -> None:
    assert is_follow_up(text)
    assert resolve_follow_up(text, ["Can I add parents on Facebook?"]).startswith("Can I add parents")


@pytest.mark.parametrize(
    "text", ["Is LinkedIn social media?", "Can I post photos of my classroom on Twitter?", ""]
)
def test_standalone_questions(text: str) -> None:
    assert not is_follow_up(text)
    assert resolve_follow_up(text, ["earlier"]) == text


async def test_memory_keeps_last_three_and_expires() -> None:
    memory = InMemoryConversations(ttl_s=60)
    for i in range(5):
        await memory.remember("c", f"q{i}")
    assert await memory.recent("c") == ["q2", "q3", "q4"]
    expired = InMemoryConversations(ttl_s=0)
    await expired.remember("c", "q")
    assert await expired.recent("c") == []
