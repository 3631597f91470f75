"""Every forward pass runs on one thread per process (``index.embed.model_executor``)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from index.embed import Embedder, model_executor, on_model_thread


def test_calls_from_any_thread_run_on_the_one_model_thread() -> None:
    here = on_model_thread(threading.get_ident)
    with ThreadPoolExecutor(4) as pool:
        elsewhere = set(pool.map(lambda _: on_model_thread(threading.get_ident), range(8)))
    assert elsewhere == {here} and here != threading.get_ident()
    assert model_executor() is model_executor()


def test_a_call_already_on_the_model_thread_runs_inline_instead_of_deadlocking() -> None:
    def nested() -> int:
        return on_model_thread(threading.get_ident)

    assert model_executor().submit(nested).result(timeout=5) == on_model_thread(threading.get_ident)


def test_the_embedder_runs_its_passes_on_the_model_thread(embedder: Embedder) -> None:
    import torch

    seen: list[int] = []
    original = torch.nn.Module.__call__

    def spy(module: torch.nn.Module, *args: object, **kwargs: object) -> object:
        seen.append(threading.get_ident())
        return original(module, *args, **kwargs)

    torch.nn.Module.__call__ = spy  # type: ignore[method-assign]
    try:
        embedder.encode(["can I go on facebook at lunch"])
    finally:
        torch.nn.Module.__call__ = original  # type: ignore[method-assign]
    assert seen and set(seen) == {on_model_thread(threading.get_ident)}
