"""The progress hub: ONE Redis pub/sub listener per process (per event loop), fanning out to
per-subscriber bounded queues, plus replay from the per-patient stream after a cursor.

How a subscription stays lossless and exactly-once:

1. ``subscribe()`` registers the subscriber's queue first and waits until the listener's
   PSUBSCRIBE is confirmed, so nothing published from then on is missed.
2. It then reads the patient's stream after the cursor (one XRANGE round trip) and delivers
   those entries first. Live messages whose stream id is <= the highest id already delivered
   are dropped, so the overlap between replay and live is delivered once, in stream order.
3. A cursor older than the stream's first entry (or a cursor for a stream that is gone) yields
   ``reset`` and then the whole stream: the client must drop what it has and rebuild.
4. When Redis drops, the listener reconnects with backoff (0.5 s -> 5 s); subscribers get
   ``redis_down``, and on reconnect the subscription itself re-reads the stream after its last
   id (step 2 again) and yields ``redis_up`` followed by whatever was missed. The consumer only
   has to poll the database while it is between ``redis_down`` and ``redis_up``.
5. A subscriber that falls 1000 messages behind is dropped (iteration ends, ``overflowed`` is
   True); it reconnects with its last id and replay fills the gap.

Whole-clinic subscriptions (``patient_id=None``) are live only: there is no cross-patient
stream to replay from; on ``redis_up`` they should refresh from the database.

The same pub/sub connection also carries other modules' notices (``on_notice``: sessions'
revocations), so a process hears them without a connection or a poll of its own. ``generation``
changes at every (re)connection: a reader of such notices knows when it may have missed some.

(About 470 lines: the subscription's replay/live merge and the listener that feeds it share
one invariant — nothing missed, nothing twice — and are easier to check side by side.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import re
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from medupload.metrics import HUB_SUBSCRIBERS
from medupload.progress.wire import (
    HubMessage,
    channel_prefix,
    decode_entry,
    decode_published,
    notice,
    parse_id,
    valid_id,
)
from medupload.settings import get_settings

__all__ = ["Hub", "HubMessage", "Subscription", "SubscriptionClosed", "current_hub", "get_hub",
           "hub_stats", "on_notice", "parse_id", "valid_id"]

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
POOL_SIZE = 8
CONNECT_WAIT_SECONDS = 2.0
BACKOFF_START, BACKOFF_MAX = 0.5, 5.0
REPLAY_RETRY = (0.5, 2.0)  # seconds, jittered: a replay that failed while the listener is up
#: After this many failed replays in a row the stream is treated as down (database polling) even
#: though pub/sub still answers: commands failing with pub/sub up is an outage of its own.
REPLAY_ATTEMPTS = 5

#: Notice channels (unprefixed name -> handler of the payload) the listener also subscribes to.
#: Their owners register at import (``sessions``), so the hub needs to know nothing about them.
_notice_handlers: dict[str, Callable[[str], None]] = {}
#: Process-wide, so two hubs (two event loops) never share a generation number.
_generations = itertools.count(1)


def on_notice(channel: str, handler: Callable[[str], None]) -> None:
    """Call ``handler(payload)`` for every message PUBLISHed on ``channel`` (prefixed with the
    Redis key prefix), from the next (re)connection of each hub's listener."""
    _notice_handlers[channel] = handler


class SubscriptionClosed(Exception):
    """The subscription ended: it overflowed or was closed."""


class Subscription:
    """An async iterator of HubMessage for one patient (or all patients)."""

    def __init__(self, hub: Hub, patient_id: str | None, last_event_id: str | None, replay: bool) -> None:
        self.hub = hub
        self.patient_id = patient_id
        # What the listener offered, not yet looked at (at most QUEUE_SIZE), and the future a
        # waiting get() sleeps on. Not an asyncio.Queue: a get() that times out would then be
        # cancelled and raise (asyncio.timeout), and an idle stream does that at every tick.
        self._inbox: deque[HubMessage] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._pending: deque[HubMessage] = deque()
        self._replay = replay and patient_id is not None
        # The cursor: the highest stream id delivered (or given by the client).
        self.last_id: str | None = last_event_id if self._replay else None
        self._high: tuple[int, int] | None = None
        self._invalid_cursor = False
        if self.last_id is not None:
            if valid_id(self.last_id):
                self._high = parse_id(self.last_id)
            else:
                self._invalid_cursor, self.last_id = True, None
        self._needs_replay = self._replay
        self._retry_at = 0.0
        self._replay_failures = 0
        self._down = False
        self.overflowed = False
        self.closed = False

    # -- fed by the hub's listener (same event loop, no await) --------------------------------
    def _offer(self, message: HubMessage) -> None:
        if self.closed or self.overflowed:
            return
        if len(self._inbox) >= QUEUE_SIZE:
            self.overflowed = True
            self.hub._remove(self)
        else:
            self._inbox.append(message)
        self._wake()

    def _close(self) -> None:
        """End this subscription from the hub's side: a waiting ``get`` wakes and raises."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- consumer side ------------------------------------------------------------------------
    async def _start(self) -> None:
        if not await self.hub._wait_connected():
            self._mark_down()
        elif self._replay:
            await self._try_replay()

    async def _try_replay(self) -> bool:
        try:
            entries, reset = await self.hub._read_stream(self.patient_id or "", self.last_id,
                                                         self._invalid_cursor)
        except (RedisError, OSError):
            self._replay_failures += 1
            if self.hub.connected and self._replay_failures < REPLAY_ATTEMPTS:
                # The listener is up, so this is a pool wait or a slow loop (a connect storm), not
                # an outage: retry soon from get() rather than send this stream to database polling.
                self._needs_replay = True
                self._retry_at = time.monotonic() + random.uniform(*REPLAY_RETRY)
                return False
            self._mark_down()
            return False
        self._replay_failures = 0
        self._invalid_cursor = False
        self._needs_replay = False
        if reset:
            self._pending.append(notice("reset", self.patient_id, reason="cursor_expired"))
            self._high, self.last_id = None, None
        for message in entries:
            self._accept(message)
        return True

    def _mark_down(self) -> None:
        self._needs_replay = self._replay
        if not self._down:
            self._down = True
            self._pending.append(notice("redis_down", self.patient_id))

    def _accept(self, message: HubMessage) -> bool:
        """Queue a stream message for delivery unless it was already delivered."""
        if message.id is not None and self._replay:
            position = parse_id(message.id)
            if self._high is not None and position <= self._high:
                return False
            self._high, self.last_id = position, message.id
        self._pending.append(message)
        return True

    async def get(self, timeout: float | None = None) -> HubMessage | None:
        """The next message, or None after ``timeout`` seconds. Raises SubscriptionClosed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            retry_due = self._needs_replay and not self._down and self.hub.connected
            if retry_due and time.monotonic() >= self._retry_at:
                await self._try_replay()
            if self._pending:
                return self._pending.popleft()
            if self.overflowed or self.closed:
                raise SubscriptionClosed("overflow" if self.overflowed else "closed")
            if self._inbox:
                await self._handle(self._inbox.popleft())
                continue
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            # Wake for a message, the caller's deadline or a replay retry, whichever comes first.
            wake = [t for t in (deadline, self._retry_at if retry_due else None) if t is not None]
            await self._sleep(max(0.0, min(wake) - now) if wake else None)

    async def _sleep(self, seconds: float | None) -> None:
        """Until ``_offer``/``_close`` wake us or ``seconds`` pass (a timer, not a cancellation)."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if seconds is None else loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def _handle(self, message: HubMessage) -> None:
        if self.closed:
            return  # the hub closed it: get() raises on its next turn
        if message.kind == "redis_down":
            self._mark_down()
            return
        # A catch-up is owed (Redis was down): read the stream after our last id first; it also
        # carries this message, which _accept then drops as already delivered.
        if self._needs_replay and (not self.hub.connected or not await self._try_replay()):
            return
        if self._down:
            self._down = False
            self._pending.appendleft(notice("redis_up", self.patient_id))
        if message.kind != "redis_up":
            self._accept(message)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> HubMessage:
        try:
            message = await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None
        assert message is not None
        return message


class Hub:
    """One per process and event loop; see the module docstring."""

    def __init__(self, redis_url: str | None = None) -> None:
        settings = get_settings()
        self._channel_prefix = channel_prefix()
        self._pattern = _glob_escape(self._channel_prefix) + "*"
        # One small pool for the hub: a dedicated pub/sub connection plus short XRANGE reads.
        # Blocking and bounded, so a reconnect storm queues for a connection instead of opening
        # one per subscriber.
        pool = aioredis.BlockingConnectionPool.from_url(
            redis_url or settings.redis_url, decode_responses=True, socket_connect_timeout=2.0,
            socket_timeout=5.0, health_check_interval=15, max_connections=POOL_SIZE, timeout=10,
        )
        self._client = aioredis.Redis(connection_pool=pool)
        self._by_patient: dict[str, set[Subscription]] = {}
        self._all: set[Subscription] = set()
        self._listener: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        #: Which connection of the listener is live: 0 before the first, a new number after each
        #: reconnection. Notices were heard without a gap only within one generation.
        self.generation = 0
        self._hearing: frozenset[str] = frozenset()  # notice channels (unprefixed) of this connection
        self._announced_down = False
        self._closing = False

    @property
    def subscriber_count(self) -> int:
        return len(self._all) + sum(len(subs) for subs in self._by_patient.values())

    @property
    def closing(self) -> bool:
        """True once ``close()`` began: its subscriptions ended for good (process shutdown)."""
        return self._closing

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def hears(self, channel: str) -> bool:
        """Whether the live connection carries ``channel``'s notices (see ``on_notice``)."""
        return self.connected and channel in self._hearing

    @contextlib.asynccontextmanager
    async def subscribe(self, patient_id: str | None, last_event_id: str | None = None, *,
                        replay: bool = True) -> AsyncIterator[Subscription]:
        subscription = Subscription(self, patient_id, last_event_id, replay)
        if patient_id is None:
            self._all.add(subscription)
        else:
            self._by_patient.setdefault(patient_id, set()).add(subscription)
        HUB_SUBSCRIBERS.inc()
        try:
            self._ensure_listener()
            await subscription._start()
            yield subscription
        finally:
            subscription.closed = True
            self._remove(subscription)

    def _remove(self, subscription: Subscription) -> None:
        if subscription.patient_id is None:
            if subscription in self._all:
                self._all.discard(subscription)
                HUB_SUBSCRIBERS.dec()
            return
        subs = self._by_patient.get(subscription.patient_id)
        if subs is not None and subscription in subs:
            subs.discard(subscription)
            HUB_SUBSCRIBERS.dec()
            if not subs:
                del self._by_patient[subscription.patient_id]

    def _ensure_listener(self) -> None:
        if (self._listener is None or self._listener.done()) and not self._closing:
            self._listener = asyncio.get_running_loop().create_task(self._listen(), name="progress-hub")

    async def _wait_connected(self) -> bool:
        if self._connected.is_set():
            return True
        try:
            async with asyncio.timeout(CONNECT_WAIT_SECONDS):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def _read_stream(self, patient_id: str, after: str | None,
                           force_reset: bool) -> tuple[list[HubMessage], bool]:
        """Entries after ``after`` (exclusive) and whether the cursor is too old (one round trip)."""
        key = self._channel_prefix + patient_id
        if after is None:
            raw = await self._client.xrange(key, "-", "+")
            return [decode_entry(entry, patient_id) for entry in raw], force_reset
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xrange(key, f"({after}", "+")
            pipe.xrange(key, "-", "+", count=1)
            raw, first = await pipe.execute()
        reset = not first or parse_id(first[0][0]) > parse_id(after)
        return [decode_entry(entry, patient_id) for entry in raw], reset

    def _broadcast(self, message: HubMessage) -> None:
        for subs in list(self._by_patient.values()):
            for sub in list(subs):
                sub._offer(message)
        for sub in list(self._all):
            sub._offer(message)

    async def _listen(self) -> None:
        backoff = BACKOFF_START
        while True:
            pubsub = self._client.pubsub()
            hearing = dict(_notice_handlers)
            notices = {get_settings().redis_key(name): handler for name, handler in hearing.items()}
            try:
                await pubsub.psubscribe(self._pattern)
                if notices:
                    await pubsub.subscribe(*notices)
                # "Connected" means every subscription is confirmed: from here on nothing is missed.
                unconfirmed = 1 + len(notices)
                while unconfirmed:
                    confirmed = await pubsub.get_message(timeout=CONNECT_WAIT_SECONDS)
                    if confirmed is not None and confirmed.get("type") in ("psubscribe", "subscribe"):
                        unconfirmed -= 1
                self.generation = next(_generations)
                self._hearing = frozenset(hearing)
                self._connected.set()
                self._announced_down = False
                backoff = BACKOFF_START
                self._broadcast(notice("redis_up"))
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=15.0)
                    if message is None:
                        continue
                    if message["type"] == "pmessage":
                        self._dispatch(message["channel"], message["data"])
                    elif message["type"] == "message" and message["channel"] in notices:
                        notices[message["channel"]](message["data"])
            except asyncio.CancelledError:
                self._connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())
                raise
            except Exception as exc:  # RedisError, OSError, a malformed payload
                self._connected.clear()
                if not self._announced_down:
                    self._announced_down = True
                    log.warning("progress hub lost Redis (%s); reconnecting", type(exc).__name__)
                    self._broadcast(notice("redis_down"))
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    def _dispatch(self, channel: str, payload: str) -> None:
        patient_id = channel[len(self._channel_prefix):]
        subs = self._by_patient.get(patient_id)
        if not subs and not self._all:
            return
        try:
            messages = decode_published(payload, patient_id)
        except ValueError:
            return
        for message in messages:
            for sub in list(subs or ()):
                sub._offer(message)
            for sub in list(self._all):
                sub._offer(message)

    async def close(self) -> None:
        """End every subscription, stop the listener and close the connections (tests, shutdown)."""
        self._closing = True
        for subs in list(self._by_patient.values()):
            for sub in list(subs):
                sub._close()
                self._remove(sub)
        for sub in list(self._all):
            sub._close()
            self._remove(sub)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        await self._client.aclose()
        await self._client.connection_pool.disconnect()
        _hubs.pop(asyncio.get_running_loop(), None)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _glob_escape(text: str) -> str:
    return re.sub(r"([\[\]*?\\])", r"\\\1", text)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def current_hub() -> Hub | None:
    """The running event loop's hub if one was started, without creating one."""
    try:
        return _hubs.get(asyncio.get_running_loop())
    except RuntimeError:
        return None


def hub_stats() -> dict[str, int | bool]:
    """What the running loop's hub holds: subscribers, and whether its listener is connected."""
    hub = current_hub()
    if hub is None:
        return {"subscribers": 0, "connected": False}
    return {"subscribers": hub.subscriber_count, "connected": hub.connected}


def get_hub() -> Hub:
    """The hub of the running event loop (created on first use; its listener starts lazily)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub
