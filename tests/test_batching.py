"""Micro-batching: lone requests go at once; concurrent ones share a call; failures reach every waiter."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from bot.core.batching import MicroBatcher


async def test_concurrent_submissions_are_batched() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def fn(items: Sequence[int]) -> list[int]:
        calls.append(len(items))
        gate.wait(1)
        return [i * 2 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(fn)
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.sleep(0.05)  # the first call is running; the next ones queue behind it
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 6)]
    await asyncio.sleep(0.05)
    gate.set()
    assert await first == 0
    assert [await r for r in rest] == [2, 4, 6, 8, 10]
    assert calls == [1, 5]


async def test_failure_reaches_every_waiter_and_batcher_recovers() -> None:
    def fn(items: Sequence[str]) -> list[str]:
        if "boom" in items:
            raise RuntimeError("model failed")
        return list(items)

    batcher: MicroBatcher[str, str] = MicroBatcher(fn)
    with pytest.raises(RuntimeError):
        await batcher.submit("boom")
    assert await batcher.submit("fine") == "fine"
