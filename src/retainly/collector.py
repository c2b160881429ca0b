"""Pausing CPython's cyclic garbage collector around bulk work.

A run at a million customers makes millions of small objects (rows as tuples, keys, payload
texts) while it holds a few large structures alive (a window of due rows, the file channel's key
set, a playbook's candidates). The collector, triggered by allocations, traverses those
survivors again and again: at 1 M customers it took a third of delivery's time. Nothing bulk
work makes relies on a reference cycle being freed before it ends, so the collector is paused
for its length and run once afterwards (reference counting still frees everything else at once).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (if it was running), then collect once."""
    if not gc.isenabled():  # paused by a caller already: theirs to resume
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
