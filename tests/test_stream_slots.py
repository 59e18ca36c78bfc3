"""Stream slots (api/stream_slots.py): the per-account cap holds across processes, a process's
slots live as long as its one lease, a dead process's slots lapse, and idle streams send Redis
nothing per stream (the revocation check answers from the hub's notices, the lease is renewed
once per process)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from support import LiveServer, RedisServer, make_patient, make_user, reset_caches, sse

from medupload.api import stream_slots
from medupload.auth import create_access_token
from medupload.settings import PROJECT_ROOT, get_settings


@pytest.fixture
def lease(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    """A short lease (renewed every third of it) so lapses are seen in seconds."""
    seconds = 1.2
    monkeypatch.setenv("MEDUPLOAD_STREAM_SLOT_LEASE_SECONDS", str(seconds))
    monkeypatch.setenv("MEDUPLOAD_MAX_STREAMS_PER_ACCOUNT", "3")
    reset_caches()
    yield seconds
    reset_caches()


async def _wait_for_slot(account: str, limit: float) -> float:
    """Seconds until ``account`` gets a slot (the slot is given back at once)."""
    start = time.monotonic()
    while True:
        try:
            slot = await stream_slots.acquire(account)
        except stream_slots.TooManyStreams:
            if time.monotonic() - start > limit:
                raise
            await asyncio.sleep(0.1)
            continue
        await stream_slots.release(slot)
        return time.monotonic() - start


async def test_a_killed_process_s_slots_lapse_with_its_lease(lease: float) -> None:
    """Another process takes the account's 3 slots: refused here while it lives (well past one
    lease: its single renewal keeps all of them), a slot again soon after it is killed -9."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import asyncio
            from medupload.api import stream_slots

            async def main() -> None:
                for _ in range(3):
                    await stream_slots.acquire("u_crash")
                print("held", flush=True)
                await asyncio.sleep(120)

            asyncio.run(main())
        """)], cwd=PROJECT_ROOT, env=dict(os.environ), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        alive_until = time.monotonic() + 3 * lease
        while time.monotonic() < alive_until:
            with pytest.raises(stream_slots.TooManyStreams):
                await stream_slots.acquire("u_crash")
            assert await stream_slots.count("u_crash") == 3
            await asyncio.sleep(0.2)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        waited = await _wait_for_slot("u_crash", limit=5 * lease)
        assert waited <= lease + 1.0  # the lease, plus at most the renewal it had just made
        assert await stream_slots.count("u_crash") == 0
        # The dead process's slots were swept by the acquire, not merely skipped.
        client = redis.Redis.from_url(get_settings().redis_url)
        assert client.scard(get_settings().redis_key("stream_slots:u_crash")) == 0
        client.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            holder.kill()
        holder.wait(10)


async def test_slots_outlive_many_leases_while_held_and_come_back_on_release(lease: float) -> None:
    slots = [await stream_slots.acquire("u_live") for _ in range(3)]
    owner = stream_slots.owner()
    renewals = owner.renewals
    await asyncio.sleep(3 * lease)
    with pytest.raises(stream_slots.TooManyStreams):
        await stream_slots.acquire("u_live")
    assert await stream_slots.count("u_live") == 3
    # One renewal per third of a lease for the whole process, not one per slot.
    assert 1 <= owner.renewals - renewals <= 10
    for slot in slots:
        await stream_slots.release(slot)
    assert await stream_slots.count("u_live") == 0
    await stream_slots.release(await stream_slots.acquire("u_live"))


async def test_a_slot_member_without_a_live_owner_does_not_count(lease: float) -> None:
    """Members left by an owner that never renewed (or a lease long lapsed) are swept."""
    client = aioredis.from_url(get_settings().redis_url)
    key = get_settings().redis_key("stream_slots:u_dead")
    owners = get_settings().redis_key("stream_slot_owners")
    try:
        await client.zadd(owners, {"gone:1:ab": time.time() - 1})
        await client.sadd(key, "gone:1:ab s1", "gone:1:ab s2", "nobody:2:cd s3")
        slot = await stream_slots.acquire("u_dead")
        assert slot.in_redis and await client.smembers(key) == {slot.member.encode()}
        await stream_slots.release(slot)
        assert await client.scard(key) == 0
    finally:
        await client.delete(key)
        await client.aclose()


def _calls(client: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()
            if name != "cmdstat_info"}


async def test_idle_streams_send_redis_nothing_per_stream(start_server: Callable[..., LiveServer]) -> None:
    """12 signed-in streams checking their session every 0.2 s for 3 s: before this change that
    was 12 x 15 revocation reads plus slot renewals; now the only idle commands are the one
    process's lease renewals. Counted on a Redis of its own (INFO commandstats)."""
    redis_server = RedisServer()
    redis_server.start()
    streams, window, lease = 12, 3.0, 3.0
    try:
        server = start_server(redis_url=redis_server.url, session_check_seconds=0.2, heartbeat_seconds=0.2,
                              stream_slot_lease_seconds=lease, max_streams_per_account=streams)
        patient_id = make_patient()
        token, _ = create_access_token(make_user("patient", patient_id))
        url = f"{server.base}/api/v1/patients/{patient_id}/documents/stream"
        ready = 0
        async with httpx.AsyncClient(timeout=30) as client, contextlib.AsyncExitStack() as stack:
            readers = []
            for _ in range(streams):
                response = await stack.enter_async_context(
                    client.stream("GET", url, headers={"Authorization": f"Bearer {token}"}))
                assert response.status_code == 200
                events = sse(response)
                async with asyncio.timeout(10):
                    async for event in events:
                        if event.event == "snapshot":
                            ready += 1
                            break

                async def drain(events: Any = events) -> int:
                    return sum([1 async for event in events if event.event == "heartbeat"])

                readers.append(asyncio.create_task(drain()))
            await asyncio.sleep(1.0)  # each stream's first check has read Redis once by now
            stats = redis.Redis.from_url(redis_server.url)
            before = _calls(stats)
            await asyncio.sleep(window)
            after = _calls(stats)
            stats.close()
            for task in readers:
                task.cancel()
        delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
        delta = {name: calls for name, calls in delta.items() if calls}
        print(f"\n{streams} idle streams, {window:.0f} s: Redis commands {delta}")
        assert ready == streams
        assert delta.get("mget", 0) == 0  # no revocation reads
        renewals = delta.get("eval", 0) + delta.get("evalsha", 0)
        assert renewals <= window / (lease / 3) + 1  # one process's lease, not one per stream
        # (commandstats also counts the commands the renewal script runs inside Redis)
        assert set(delta) <= {"eval", "evalsha", "zadd", "zremrangebyscore", "ping"}
        assert delta.get("zadd", 0) == renewals and delta.get("ping", 0) <= 1
    finally:
        redis_server.stop()
