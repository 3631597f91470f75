"""Keep the cyclic garbage collector off the long-lived heap of a serving process.

Loading the model, the index and the libraries leaves about half a million objects that live as long as the
process. A full collection walks all of them: 200-350 ms on a 2-core machine, on whichever thread happens to
allocate, the event loop included, so every request arriving meanwhile (a Slack ack has 3 seconds) waits. Freezing
that heap once it is loaded moves it out of the collector's sight; garbage made while answering is still
collected as usual.
"""

from __future__ import annotations

import gc

__all__ = ["settle_heap"]


def settle_heap() -> None:
    """Collect what start-up (or a reload) left behind, then freeze the rest. Idempotent; call it when the
    long-lived objects are in place."""
    gc.unfreeze()  # objects frozen earlier that are garbage now (an index replaced by a reload) can go
    gc.collect()
    gc.freeze()
