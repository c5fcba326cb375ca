"""How ``mockgun serve`` keeps the garbage collector from pausing it.

A server that keeps thousands of messages and events holds millions of small, long-lived
objects. CPython's collector rescans every object of a generation each time that generation
is collected, so with a raised threshold each collection of the middle and old generations
walks everything stored since the last one: pauses of 40-230 ms were measured under load. The
objects a server keeps are not garbage, and rescanning them finds nothing.

So: the young generation keeps CPython's default threshold (small, frequent, cheap
collections of what requests leave behind), and whatever survives a collection of the middle
generation, which is what the server keeps, is frozen (moved out of the collector's sight;
still freed by reference counting when the store lets it go). Frozen objects that later become
cyclic garbage would never be collected, so every :data:`FULL_EVERY` seconds all is unfrozen,
collected once and frozen again: one longer pause, rarely, instead of long ones often.
"""

from __future__ import annotations

import gc
import time
from typing import Any

#: Seconds between full collections (everything unfrozen, collected, frozen again).
FULL_EVERY = 600.0

_state = {"last_full": 0.0}


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    if phase != "stop" or info.get("generation", 0) < 1:
        return
    now = time.monotonic()
    if now - _state["last_full"] >= FULL_EVERY:
        _state["last_full"] = now
        gc.unfreeze()
        gc.callbacks.remove(_after_collection)  # the full collection below must not recurse
        try:
            gc.collect()
        finally:
            gc.callbacks.append(_after_collection)
    gc.freeze()


def install() -> None:
    """For a server process (not a library user's test process: it changes global state)."""
    gc.collect()
    gc.freeze()  # what start-up made (modules, the app) is never garbage
    gc.set_threshold(700, 10, 10)
    _state["last_full"] = time.monotonic()
    if _after_collection not in gc.callbacks:
        gc.callbacks.append(_after_collection)
