"""Concurrent SSE streams per account, capped across every server process (issue 8).

One account must not be able to hold a process's whole connection budget: each open stream
holds a slot, a member of the account's sorted set in Redis scored by its lease's expiry. A
slot is renewed at every heartbeat and removed when the stream ends; a process that dies
leaves slots that lapse after ``LEASE_SECONDS``. Acquiring is one Lua call (drop lapsed slots,
count, add), so two processes never both take the last slot. With Redis unreachable the count
falls back to this process alone, which still bounds what one account can hold here.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.exceptions import RedisError

from medupload.redis_client import async_redis
from medupload.settings import get_settings

#: A slot outlives its last renewal by this long: well above the heartbeat, so a live stream
#: never loses its slot, and short enough that a crashed process's slots come back quickly.
LEASE_SECONDS = 30.0

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

_local = Counter[str]()


class TooManyStreams(Exception):
    """The account already holds MAX_STREAMS_PER_ACCOUNT open streams."""


@dataclass
class StreamSlot:
    account: str
    member: str
    in_redis: bool
    renewed_at: float = 0.0

    async def renew(self) -> None:
        """Called every tick; writes to Redis only once a third of the lease has gone, so an idle
        stream costs one command per 10 s, not one per tick."""
        now = time.time()
        if not self.in_redis or now - self.renewed_at < LEASE_SECONDS / 3:
            return
        self.renewed_at = now
        with contextlib.suppress(RedisError, OSError):
            await async_redis().zadd(_key(self.account), {self.member: now + LEASE_SECONDS}, xx=True)


def _key(account: str) -> str:
    return get_settings().redis_key(f"stream_slots:{account}")


async def acquire(account: str) -> StreamSlot:
    """Take a slot for ``account`` or raise TooManyStreams."""
    cap = get_settings().max_streams_per_account
    member = secrets.token_hex(8)
    now = time.time()
    try:
        taken = await async_redis().eval(
            _ACQUIRE, 1, _key(account), now, cap, now + LEASE_SECONDS, member, int(LEASE_SECONDS * 2000)
        )
    except (RedisError, OSError):
        if _local[account] >= cap:
            raise TooManyStreams(account) from None
        _local[account] += 1
        return StreamSlot(account, member, in_redis=False)
    if not taken:
        raise TooManyStreams(account)
    return StreamSlot(account, member, in_redis=True, renewed_at=now)


async def count(account: str) -> int:
    """Live slots of ``account`` (Redis; lapsed ones do not count)."""
    return int(await async_redis().zcount(_key(account), time.time(), "+inf"))


async def release(slot: StreamSlot) -> None:
    if not slot.in_redis:
        _local[slot.account] -= 1
        if _local[slot.account] <= 0:
            del _local[slot.account]
        return
    with contextlib.suppress(RedisError, OSError):
        await async_redis().zrem(_key(slot.account), slot.member)


@contextlib.asynccontextmanager
async def held(slot: StreamSlot) -> AsyncIterator[StreamSlot]:
    """Release ``slot`` however the stream ends (client gone, max duration, revoked)."""
    try:
        yield slot
    finally:
        await release(slot)
