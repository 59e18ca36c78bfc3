"""Redis connections, one pool per process (and per event loop for asyncio clients)."""

from __future__ import annotations

import asyncio
import weakref
from functools import lru_cache

import redis
import redis.asyncio as aioredis

from medupload.settings import get_settings

# Short timeouts: a Redis outage must degrade the app quickly, never hang a request.
_TIMEOUTS = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0, "health_check_interval": 15}


@lru_cache
def sync_redis() -> redis.Redis:
    return redis.Redis.from_url(get_settings().redis_url, decode_responses=True, **_TIMEOUTS)


# Keyed by the loop object itself (weakly): a dead loop's client goes with it, and a new loop
# that happens to reuse an old id() never receives a stale client.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


def async_redis() -> aioredis.Redis:
    """The asyncio client for the running event loop (clients cannot cross loops)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(get_settings().redis_url, decode_responses=True, **_TIMEOUTS)
        _async_clients[loop] = client
    return client
