"""Bookkeeping for the one live-follow task per connected browser tab.

Each tab's background task registers here under its Reflex client token. A newer task for
the same token (the page reconnected and ran its on_load again) cancels the older one, and
every task ends when its tab's socket is gone, so no task or hub subscription outlives its
client. ``counts()`` is exposed (staff only) so tests can observe exactly that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from reflex_base.registry import RegistrationContext

log = logging.getLogger(__name__)

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


async def client_connected(token: str) -> bool:
    """Whether the tab behind ``token`` still has a socket on this server."""
    try:
        app = RegistrationContext.get().app
        namespace = app.event_namespace
    except (LookupError, AttributeError):
        return True  # outside a running app (unit tests): assume connected
    if namespace is None:
        return True
    return await namespace._token_manager.is_token_connected(token)


def counts() -> dict[str, int]:
    """Live followers on this process, and the hub's subscriber count on this loop."""
    hub_subscribers = 0
    with contextlib.suppress(RuntimeError):
        from medupload.progress.hub import _hubs

        hub = _hubs.get(asyncio.get_running_loop())
        hub_subscribers = hub.subscriber_count if hub is not None else 0
    return {
        "followers": sum(1 for task in _followers.values() if not task.done()),
        "hub_subscribers": hub_subscribers,
    }
