"""The one live-follow task per connected browser tab, and what it follows.

Each tab's background task registers here under its Reflex client token. A newer task for
the same token (the page reconnected and ran its on_load again) cancels the older one, and
every task ends when its tab's socket is gone, so no task or hub subscription outlives its
client. ``counts()`` is exposed (staff only) so tests can observe exactly that.

``follow()`` is the loop both pages share: hub messages in, plus when to re-read the database
(after subscribing, while Redis is down, when it returns) and the connection state to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.exceptions import RedisError
from reflex_base.registry import RegistrationContext

from medupload.progress.hub import HubMessage, SubscriptionClosed, get_hub
from medupload.settings import get_settings

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


@dataclass(frozen=True)
class Refresh:
    """Re-read the database. ``full``: also what only a ``done`` notice would otherwise update
    (requirements, aggregates), because messages may have been missed."""

    full: bool = False


@dataclass(frozen=True)
class Connection:
    state: str  # "live" | "polling"


@dataclass(frozen=True)
class Tick:
    """About a second has passed: clocks on the page may move."""


FollowItem = HubMessage | Refresh | Connection | Tick


async def follow(token: str, patient_id: str | None, cursor: str | None = None) -> AsyncIterator[FollowItem]:
    """Follow one patient's documents (or every patient's, ``None``) for the tab ``token``.

    Yields progress/document_update/done messages from the hub, ``Refresh`` after each
    (re)subscription — the snapshot comes after subscribing, so nothing falls in between —
    every DB_POLL_SECONDS while Redis is down and when it is back, ``Connection`` changes and
    ``Tick``s. Ends when the tab is gone or a newer task took over. Use it under
    ``contextlib.aclosing`` so a cancelled consumer releases the subscription at once.
    """
    settings = get_settings()
    hub = get_hub()
    while True:
        try:
            async with hub.subscribe(patient_id, cursor, replay=patient_id is not None) as subscription:
                yield Refresh(full=True)
                polling = not hub.connected
                yield Connection("polling" if polling else "live")
                last_check = last_poll = time.monotonic()
                while True:
                    item = await subscription.get(timeout=CONNECTED_CHECK_SECONDS)
                    now = time.monotonic()
                    if item is None or now - last_check >= CONNECTED_CHECK_SECONDS:
                        last_check = now
                        if not await _still_wanted(token):
                            return
                        yield Tick()
                    if item is None:
                        if polling and now - last_poll >= settings.db_poll_seconds:
                            last_poll = now
                            yield Refresh()
                        continue
                    if item.id:
                        cursor = item.id
                    if item.kind == "redis_down":
                        polling, last_poll = True, now
                        yield Connection("polling")
                        yield Refresh()
                    elif item.kind == "redis_up":
                        polling = False
                        yield Connection("live")
                        yield Refresh(full=True)
                    elif item.kind == "reset":
                        yield Refresh(full=True)
                    else:
                        yield item
        except SubscriptionClosed:
            continue  # overflowed: resubscribe from the cursor; replay and the refresh fill the gap
        except (RedisError, OSError) as exc:
            log.warning("live follow: hub unavailable (%s); polling the database", type(exc).__name__)
            yield Connection("polling")
            yield Refresh(full=True)
            await asyncio.sleep(settings.db_poll_seconds)
            if not await _still_wanted(token):
                return


async def _still_wanted(token: str) -> bool:
    return is_current(token) and await client_connected(token)
