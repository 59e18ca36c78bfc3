"""Concurrent SSE streams per account, capped across every server process (issue 8).

One account must not be able to hold a process's whole connection budget: each open stream
holds a slot, a member ``<owner> <slot id>`` of the account's set in Redis. The owner is this
process (one per event loop: an asyncio Redis client cannot cross loops), and it is alive while
its lease in the owners' sorted set is current. One task per owner renews that lease every
``lease/3`` seconds while the owner holds any slot, so idle streams cost one command per process
per renewal, not one per stream. A slot is removed when its stream ends; the slots of a process
that died stop counting when its lease lapses (and are swept by the next acquire for that
account). Acquiring is one Lua call (sweep dead owners' slots, count, add, renew this owner's
lease), so two processes never both take the last slot. With Redis unreachable the count falls
back to this process alone, which still bounds what one account can hold here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.exceptions import RedisError

from medupload.redis_client import async_redis
from medupload.settings import get_settings

log = logging.getLogger(__name__)

# KEYS[1] = the account's slots (a set), KEYS[2] = owners' leases (sorted set, score = expiry);
# ARGV = now, cap, this owner, its slot member, lease expiry, slot set lifetime (ms).
_ACQUIRE = """
local now = tonumber(ARGV[1])
local live = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local owner = string.match(member, '^(%S+) ')
  local lease = owner and redis.call('ZSCORE', KEYS[2], owner)
  if owner == ARGV[3] or (lease and tonumber(lease) > now) then
    live = live + 1
  else
    redis.call('SREM', KEYS[1], member)
  end
end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[3])
if live >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
"""

# KEYS[1] = the account's slots, KEYS[2] = owners' leases; ARGV[1] = now.
_COUNT = """
local live = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local owner = string.match(member, '^(%S+) ')
  local lease = owner and redis.call('ZSCORE', KEYS[2], owner)
  if lease and tonumber(lease) > tonumber(ARGV[1]) then live = live + 1 end
end
return live
"""

# KEYS[1] = owners' leases; ARGV = this owner, its lease expiry, now minus a grace period
# (owners whose leases lapsed before that are forgotten).
_RENEW = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
return 1
"""

_local = Counter[str]()


class TooManyStreams(Exception):
    """The account already holds MAX_STREAMS_PER_ACCOUNT open streams."""


def lease_seconds() -> float:
    """How long an owner's slots outlive its last renewal: well above the renewal period, so a
    live process never loses its slots, and short enough that a crashed one's come back soon."""
    return get_settings().stream_slot_lease_seconds


class _Owner:
    """This process (on one event loop) as a holder of slots, with its lease renewal task."""

    def __init__(self) -> None:
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.held = 0
        self.renewals = 0
        self._task: asyncio.Task[None] | None = None

    def holding(self) -> None:
        self.held += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._renew(), name="stream-slot-lease")

    async def _renew(self) -> None:
        # Runs while this owner holds a slot; acquire() renewed the lease just before it started.
        while self.held > 0:
            await asyncio.sleep(lease_seconds() / 3)
            if self.held <= 0:
                return
            now = time.time()
            try:
                await async_redis().eval(_RENEW, 1, _owners_key(), self.id, now + lease_seconds(),
                                         now - 10 * lease_seconds())
                self.renewals += 1
            except (RedisError, OSError) as exc:
                log.warning("stream slots: lease renewal failed (%s)", type(exc).__name__)


_owners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Owner] = weakref.WeakKeyDictionary()


def owner() -> _Owner:
    """The running loop's owner (created on first use)."""
    loop = asyncio.get_running_loop()
    found = _owners.get(loop)
    if found is None:
        found = _owners[loop] = _Owner()
    return found


@dataclass
class StreamSlot:
    account: str
    member: str
    in_redis: bool
    owner: _Owner | None = None


def _key(account: str) -> str:
    return get_settings().redis_key(f"stream_slots:{account}")


def _owners_key() -> str:
    return get_settings().redis_key("stream_slot_owners")


async def acquire(account: str) -> StreamSlot:
    """Take a slot for ``account`` or raise TooManyStreams."""
    settings = get_settings()
    cap = settings.max_streams_per_account
    holder = owner()
    member = f"{holder.id} {secrets.token_hex(8)}"
    now = time.time()
    # The set outlives its newest slot's stream (streams close after stream_max_seconds).
    lifetime_ms = int((settings.stream_max_seconds + 2 * lease_seconds()) * 1000)
    try:
        taken = await async_redis().eval(_ACQUIRE, 2, _key(account), _owners_key(), now, cap, holder.id,
                                         member, now + lease_seconds(), lifetime_ms)
    except (RedisError, OSError):
        if _local[account] >= cap:
            raise TooManyStreams(account) from None
        _local[account] += 1
        return StreamSlot(account, member, in_redis=False)
    if not taken:
        raise TooManyStreams(account)
    holder.holding()
    return StreamSlot(account, member, in_redis=True, owner=holder)


async def count(account: str) -> int:
    """Live slots of ``account`` (Redis; slots of owners whose lease lapsed do not count)."""
    return int(await async_redis().eval(_COUNT, 2, _key(account), _owners_key(), time.time()))


async def release(slot: StreamSlot) -> None:
    if not slot.in_redis:
        _local[slot.account] -= 1
        if _local[slot.account] <= 0:
            del _local[slot.account]
        return
    if slot.owner is not None:
        slot.owner.held -= 1
    with contextlib.suppress(RedisError, OSError):
        await async_redis().srem(_key(slot.account), slot.member)


@contextlib.asynccontextmanager
async def held(slot: StreamSlot) -> AsyncIterator[StreamSlot]:
    """Release ``slot`` however the stream ends (client gone, max duration, revoked)."""
    try:
        yield slot
    finally:
        await release(slot)
