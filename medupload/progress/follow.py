"""The one follow loop: subscribe -> snapshot -> replay -> live -> poll the database on outage.

``api.stream`` (SSE) and ``ui.live`` (the Reflex pages) both render what this yields:

- ``Refresh(full=True)`` right after each (re)subscription: re-read the database. The snapshot
  comes after subscribing, so nothing can fall between the two (the replay of the stream from
  the cursor overlaps it, and consumers merge by id). A caller that read its snapshot just
  before following says ``snapshot_taken=True`` and gets no Refresh for the first subscription.
- ``Batch``: the hub's messages that were ready together (replay comes as a few large batches,
  live events one by one), in stream order: ``progress``, ``document_update``, ``done``,
  ``reset`` and any later kind. Consumers apply a batch in one go, so a page load pushes the
  replay once instead of once per event.
- ``Connection("live"|"polling")`` and, while Redis is down, ``Refresh()`` every DB_POLL_SECONDS;
  ``Refresh(full=True)`` when it is back (what only a ``done`` would have told may be missed).
- ``Tick`` every ``tick_seconds``, after ``still_allowed()`` said yes. When it says no
  (tab gone, newer tab task, token revoked), or after ``max_seconds``, the loop ends.
- ``Draining(retry_ms)`` last, when the hub closed because this process is shutting down.

A subscriber that overflowed resubscribes from its cursor: replay fills the gap. Use it under
``contextlib.aclosing`` so a cancelled consumer leaves the subscription at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from medupload.progress.hub import Hub, HubMessage, SubscriptionClosed, get_hub
from medupload.settings import get_settings

log = logging.getLogger(__name__)

#: Most messages in one Batch (a replay of a long history arrives in several).
BATCH_MAX = 500

StillAllowed = Callable[[], Awaitable[bool]]


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
    """``tick_seconds`` have passed and the follower is still allowed (heartbeat, clocks)."""


@dataclass(frozen=True)
class Batch:
    messages: tuple[HubMessage, ...]


@dataclass(frozen=True)
class Draining:
    """The last item when this process is shutting down: reconnect (to another process) after
    ``retry_ms`` — jittered, so a process's clients do not all arrive at once elsewhere."""

    retry_ms: int


FollowItem = Batch | Refresh | Connection | Tick | Draining

#: Reconnect delay window after a drain (ms).
DRAIN_RETRY_MS = (250, 3000)


async def always_allowed() -> bool:
    return True


async def follow(
    patient_id: str | None,
    cursor: str | None = None,
    *,
    still_allowed: StillAllowed = always_allowed,
    tick_seconds: float = 1.0,
    max_seconds: float | None = None,
    snapshot_taken: bool = False,
    hub: Hub | None = None,
) -> AsyncIterator[FollowItem]:
    """Follow one patient's documents (or every patient's, ``None``); see the module docstring."""
    settings = get_settings()
    hub = hub or get_hub()
    started = time.monotonic()
    deadline = None if max_seconds is None else started + max_seconds
    refresh_due = not snapshot_taken
    while True:
        try:
            async with hub.subscribe(patient_id, cursor, replay=patient_id is not None) as subscription:
                if refresh_due:
                    yield Refresh(full=True)
                refresh_due = True
                now = time.monotonic()
                polling = not hub.connected
                yield Connection("polling" if polling else "live")
                next_tick = now + tick_seconds
                next_poll: float | None = now + settings.db_poll_seconds if polling else None
                while True:
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        return  # clients reconnect with their cursor and lose nothing
                    if now >= next_tick:
                        next_tick = now + tick_seconds
                        if not await still_allowed():
                            return
                        yield Tick()
                    if next_poll is not None and now >= next_poll:
                        next_poll = now + settings.db_poll_seconds
                        yield Refresh()
                    wake = min(t for t in (deadline, next_tick, next_poll) if t is not None)
                    message = await subscription.get(timeout=max(0.0, wake - time.monotonic()))
                    batch: list[HubMessage] = []
                    while message is not None:
                        if message.kind in ("redis_down", "redis_up"):
                            if batch:
                                cursor = _last_id(batch, cursor)
                                yield Batch(tuple(batch))
                                batch = []
                            if message.kind == "redis_down":
                                next_poll = time.monotonic() + settings.db_poll_seconds
                                yield Connection("polling")
                                yield Refresh()
                            else:
                                next_poll = None
                                yield Connection("live")
                                yield Refresh(full=True)
                        else:
                            batch.append(message)
                            if len(batch) >= BATCH_MAX:
                                cursor = _last_id(batch, cursor)
                                yield Batch(tuple(batch))
                                batch = []
                        # (If this raises SubscriptionClosed, the cursor has not passed the batch
                        # held here: the resubscription replays it.)
                        message = await subscription.get(timeout=0)
                    if batch:
                        cursor = _last_id(batch, cursor)
                        yield Batch(tuple(batch))
        except SubscriptionClosed:
            if hub.closing:
                # The process is shutting down: the client reconnects to another one.
                yield Draining(random.randint(*DRAIN_RETRY_MS))
                return
            continue  # overflowed: resubscribe from the cursor; replay and the refresh fill the gap
        except (RedisError, OSError) as exc:
            log.warning("follow: hub unavailable (%s); polling the database", type(exc).__name__)
            yield Connection("polling")
            yield Refresh(full=True)
            await asyncio.sleep(settings.db_poll_seconds)
            if not await still_allowed():
                return
            if deadline is not None and time.monotonic() >= deadline:
                return


def _last_id(batch: list[HubMessage], cursor: str | None) -> str | None:
    """The cursor once ``batch`` is handed on: its last stream id."""
    return next((m.id for m in reversed(batch) if m.id), cursor)
