"""The one live-follow task per connected browser tab, rendered from ``progress.follow``.

Each tab's background task registers here under its Reflex client token. A newer task for
the same token (the page reconnected and ran its on_load again) cancels the older one, and
every task ends when its tab's socket is no longer on this process (gone, or reconnected to
another process, where its on_load starts a follower), so no task or hub subscription outlives
its client. ``counts()`` is exposed (staff only) so tests can observe exactly that.

``follow_batches()`` is ``progress.follow.follow`` for a tab (the patient page applies each
batch in one state push); ``follow()`` yields the batch's messages one by one (staff page).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from medupload.progress.follow import Batch, Connection, Draining, Refresh, StillAllowed, Tick, always_allowed
from medupload.progress.follow import FollowItem as BatchItem
from medupload.progress.follow import follow as follow_progress
from medupload.progress.hub import HubMessage, hub_stats
from medupload.ui.reflex_compat import is_client_here

__all__ = ["Batch", "Connection", "Refresh", "Tick", "claim", "counts", "follow", "follow_batches",
           "is_current", "release"]

_followers: dict[str, asyncio.Task[object]] = {}

#: How often a follower checks that its tab is still connected (seconds).
CONNECTED_CHECK_SECONDS = 1.0


def claim(token: str) -> None:
    """Register the current task as the follower for ``token``, cancelling an older one."""
    task = asyncio.current_task()
    assert task is not None
    previous = _followers.get(token)
    if previous is not None and previous is not task and not previous.done():
        previous.cancel()
    _followers[token] = task


def release(token: str) -> None:
    if _followers.get(token) is asyncio.current_task():
        del _followers[token]


def is_current(token: str) -> bool:
    return _followers.get(token) is asyncio.current_task()


def counts() -> dict[str, int]:
    """Live followers on this process, and the hub's subscriber count on this loop."""
    return {
        "followers": sum(1 for task in _followers.values() if not task.done()),
        "hub_subscribers": int(hub_stats()["subscribers"]),
    }


FollowItem = HubMessage | Refresh | Connection | Tick


async def follow_batches(token: str, patient_id: str | None, cursor: str | None = None, *,
                         still_allowed: StillAllowed = always_allowed,
                         snapshot_taken: bool = False) -> AsyncIterator[BatchItem]:
    """Follow for the tab ``token`` until it is gone, a newer task took it over, or
    ``still_allowed()`` (e.g. the session was revoked) says no."""

    async def wanted() -> bool:
        return is_current(token) and await is_client_here(token) and await still_allowed()

    items = follow_progress(patient_id, cursor, still_allowed=wanted, tick_seconds=CONNECTED_CHECK_SECONDS,
                            snapshot_taken=snapshot_taken)
    async with contextlib.aclosing(items):
        async for item in items:
            yield item


async def follow(token: str, patient_id: str | None, cursor: str | None = None, *,
                 still_allowed: StillAllowed = always_allowed) -> AsyncIterator[FollowItem]:
    """``follow_batches`` with each batch's messages yielded one by one."""
    items = follow_batches(token, patient_id, cursor, still_allowed=still_allowed)
    async with contextlib.aclosing(items):
        async for item in items:
            if isinstance(item, Batch):
                for message in item.messages:
                    yield message
            elif not isinstance(item, Draining):  # the tab's socket is being closed anyway
                yield item
