"""Micro-batching: concurrent requests share one model forward pass.

A forward pass of the embedding model costs about the same for one query as for a handful, so under load the
assistant embeds together every query that arrived while the previous pass ran (plus those arriving within a
short window). With no load a request is dispatched at once: batching never adds latency to a lone request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["MicroBatcher"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _LoopState(Generic[T, R]):
    queue: list[tuple[T, asyncio.Future[R]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class MicroBatcher(Generic[T, R]):
    """Runs ``fn(batch)`` in a worker thread; each ``submit`` gets its own item's result (or exception)."""

    def __init__(
        self,
        fn: Callable[[Sequence[T]], list[R]],
        *,
        max_batch: int = 32,
        window_s: float = 0.0,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self._fn = fn
        self._max_batch = max_batch
        self._window_s = window_s
        self._states: dict[asyncio.AbstractEventLoop, _LoopState[T, R]] = {}
        # One thread runs every batch. PyTorch keeps a team of OpenMP threads per calling thread: batches
        # hopping between the default pool's threads left the previous team spinning while the next one worked,
        # which cost a lone question about 3 ms (a fifth of its forward pass) on two cores. The assistant passes
        # the process's model thread (``index.embed.model_executor``), so batches and every other pass share it.
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="policybot-batch")
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            self._states = {lp: st for lp, st in self._states.items() if not lp.is_closed()}
            state = self._states[loop] = _LoopState()
        future: asyncio.Future[R] = loop.create_future()
        state.queue.append((item, future))
        if state.task is None or state.task.done():
            state.task = loop.create_task(self._drain(state))
        return await future

    async def _drain(self, state: _LoopState[T, R]) -> None:
        while state.queue:
            if self._window_s and len(state.queue) < self._max_batch:
                await asyncio.sleep(self._window_s)
            batch, state.queue = state.queue[: self._max_batch], state.queue[self._max_batch :]
            items = [item for item, _ in batch]
            try:
                results = await asyncio.get_running_loop().run_in_executor(self._executor, self._fn, items)
            except Exception as exc:  # every waiter gets the failure; the batcher keeps serving
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(items)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
