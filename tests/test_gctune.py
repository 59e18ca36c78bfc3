"""``gctune.keep_heap_frozen``: thresholds set, the warm heap frozen, re-frozen, thawed on schedule."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from medupload import gctune


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


async def test_freezes_the_warm_heap_then_what_becomes_long_lived(monkeypatch: pytest.MonkeyPatch,
                                                                  restore_gc: None) -> None:
    monkeypatch.setattr(gctune, "WARM_SECONDS", 0.05)
    monkeypatch.setattr(gctune, "REFREEZE_SECONDS", 0.05)
    monkeypatch.setattr(gctune, "THAW_SECONDS", 3600.0)
    gc.unfreeze()
    task = asyncio.create_task(gctune.keep_heap_frozen())
    try:
        await asyncio.sleep(0.01)
        assert gc.get_threshold() == gctune.THRESHOLDS
        assert gc.get_freeze_count() == 0  # not before the app is warm
        await asyncio.sleep(0.1)
        warm = gc.get_freeze_count()
        assert warm > 0
        connections = [{"id": i, "buffers": [bytearray(8)]} for i in range(5000)]  # long-lived objects
        await asyncio.sleep(0.12)
        assert gc.get_freeze_count() >= warm + 5000
        del connections
    finally:
        task.cancel()


class _Node:
    """Weak-referenceable, so a test can tell whether a cycle of them was collected."""

    def __init__(self) -> None:
        self.me = self


async def test_the_warm_up_freeze_thaws_nothing(monkeypatch: pytest.MonkeyPatch, restore_gc: None) -> None:
    """What was frozen before the server process started (Reflex freezes the app it preloads in the
    supervisor before forking) stays frozen: thawing it would unshare its pages in every worker."""
    monkeypatch.setattr(gctune, "WARM_SECONDS", 0.02)
    monkeypatch.setattr(gctune, "REFREEZE_SECONDS", 3600.0)
    monkeypatch.setattr(gctune, "THAW_SECONDS", 3600.0)
    gc.unfreeze()
    inherited = weakref.ref(_Node())  # a cycle frozen "in the supervisor", garbage but frozen
    gc.freeze()
    made_here = weakref.ref(_Node())  # this process's own cyclic garbage
    task = asyncio.create_task(gctune.keep_heap_frozen())
    try:
        await asyncio.sleep(0.1)
        assert made_here() is None  # the warm-up collected what this process made...
        assert inherited() is not None  # ...and left the frozen heap alone
    finally:
        task.cancel()


async def test_thaws_collects_and_refreezes_on_schedule(monkeypatch: pytest.MonkeyPatch,
                                                        restore_gc: None) -> None:
    monkeypatch.setattr(gctune, "WARM_SECONDS", 0.0)
    monkeypatch.setattr(gctune, "REFREEZE_SECONDS", 0.05)
    monkeypatch.setattr(gctune, "THAW_SECONDS", 0.0)  # every turn: unfreeze, collect, freeze
    gc.unfreeze()
    task = asyncio.create_task(gctune.keep_heap_frozen())
    try:
        await asyncio.sleep(0.02)
        cycle: list[object] = []
        cycle.append(cycle)  # cyclic garbage, frozen below while still referenced
        gc.freeze()
        ref_count_before = gc.get_freeze_count()
        del cycle
        await asyncio.sleep(0.12)  # a thaw ran: the frozen cycle was collected
        assert gc.get_freeze_count() < ref_count_before
    finally:
        task.cancel()


def test_collections_are_timed_by_generation() -> None:
    from medupload.metrics import GC_PAUSES

    gctune.measure_pauses()
    gctune.measure_pauses()  # once only
    assert gc.callbacks.count(gctune._time_collections) == 1
    before = GC_PAUSES.labels("2")._sum.get(), sum(b.get() for b in GC_PAUSES.labels("2")._buckets)
    gc.collect(2)
    after = GC_PAUSES.labels("2")._sum.get(), sum(b.get() for b in GC_PAUSES.labels("2")._buckets)
    assert after[1] == before[1] + 1 and after[0] > before[0]
