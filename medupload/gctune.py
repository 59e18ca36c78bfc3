"""Keep full garbage collections of a big heap out of the event loop's way (server processes).

With 10,000 open streams a process holds ~0.5 GB of objects, and a full (gen-2) collection of
them stalls the loop for ~1.5 s: every event in flight then is late (bench/README.md). Those
objects are long-lived (connections, subscriptions, cached page state), so once the app is warm
they are frozen (``gc.freeze()``: moved where collections never look), and again every
REFREEZE_SECONDS for what has become long-lived since; young generations collect less often
(THRESHOLDS). Freezing keeps cyclic garbage that was frozen alive (plain refcounting still frees
everything else), so every THAW_SECONDS the heap is thawed, collected once, and frozen again:
one full pause an hour instead of one every few seconds under load.

The warm-up freeze collects only what is not frozen yet, and thaws nothing: Reflex froze the app
it imported in Granian's supervisor before forking the workers, and thawing that in a worker
writes to every object's header, so its pages stop being shared between the processes (~32 MB
more per worker) and the pause walks the whole heap while a restart's clients reconnect.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

from medupload.metrics import GC_PAUSES

log = logging.getLogger(__name__)

WARM_SECONDS = 5.0
#: gc.freeze() is O(1) (it splices lists), so it can run often: a connect storm's new objects
#: are out of the full collections within seconds.
REFREEZE_SECONDS = 5.0
THAW_SECONDS = 3600.0
#: gen0 collections every 10,000 allocations instead of 700: fewer, still short, young pauses.
THRESHOLDS = (10_000, 10, 10)


_started: list[float] = []


def _time_collections(phase: str, info: dict[str, Any]) -> None:
    """gc callback: every collection's pause, by generation (``medupload_gc_pause_seconds``)."""
    if phase == "start":
        _started[:] = [time.perf_counter()]
    elif _started:
        GC_PAUSES.labels(str(info.get("generation", ""))).observe(time.perf_counter() - _started[0])


def measure_pauses() -> None:
    if _time_collections not in gc.callbacks:
        gc.callbacks.append(_time_collections)


async def keep_heap_frozen(freeze: bool = True) -> None:
    """Run for the life of the process (cancel it at shutdown). ``freeze=False`` (the setting
    MEDUPLOAD_GC_FREEZE) leaves the collector as Python sets it, and only measures it."""
    measure_pauses()
    if not freeze:
        return
    gc.set_threshold(*THRESHOLDS)
    await asyncio.sleep(WARM_SECONDS)
    gc.collect()  # what this process made since it started (the supervisor's objects stay frozen)
    gc.freeze()
    last_thaw = time.monotonic()
    while True:
        await asyncio.sleep(REFREEZE_SECONDS)
        if time.monotonic() - last_thaw >= THAW_SECONDS:
            _thaw_collect_freeze()
            last_thaw = time.monotonic()
        else:
            gc.freeze()


def _thaw_collect_freeze() -> None:
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info("gc: %d objects frozen (full collection %.0f ms)", gc.get_freeze_count(),
             (time.perf_counter() - started) * 1000)
