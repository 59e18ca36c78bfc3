"""The progress hub against real Redis: replay + live exactly once, reset, overflow, outage."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from support import RedisServer, make_document, make_patient, reset_caches

from medupload.progress import tracing
from medupload.progress.emitter import emit_progress, emit_progress_async, stream_name
from medupload.progress.hub import POOL_SIZE, QUEUE_SIZE, Hub, HubMessage, Subscription
from medupload.progress.stages import Stage
from medupload.redis_client import sync_redis
from medupload.settings import get_settings


@pytest.fixture
def patient(fresh_db: str) -> Iterator[str]:
    tracing.set_langfuse(None)
    patient_id = make_patient()
    yield patient_id
    with contextlib.suppress(redis.RedisError):
        sync_redis().delete(stream_name(patient_id))
    tracing.reset_langfuse()


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    hub = Hub()
    yield hub
    await hub.close()


async def take(sub: Subscription, count: int, kinds: tuple[str, ...] = ("progress",),
               timeout: float = 10.0) -> list[HubMessage]:
    got: list[HubMessage] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            message = await sub.get()
            assert message is not None
            if message.kind in kinds:
                got.append(message)
    return got


async def test_replay_after_cursor_then_live(patient: str, hub: Hub) -> None:
    document_id = make_document(patient)
    for stage in (Stage.UPLOAD_RECEIVED, Stage.OCR_STARTED, Stage.OCR_COMPLETE):
        await emit_progress_async(document_id, stage, "ocr.started")
    first_id = sync_redis().xrange(stream_name(patient))[0][0]

    async with hub.subscribe(patient, first_id) as sub:
        replayed = await take(sub, 2)
        assert [m.data["seq"] for m in replayed] == [2, 3]
        assert all(m.id and m.id > first_id for m in replayed)
        await emit_progress_async(document_id, Stage.MATCHING_COMPLETE, "matching.done")
        live = await take(sub, 3, ("progress", "document_update", "done"))
        assert [m.kind for m in live] == ["progress", "document_update", "done"]
        assert live[0].data["seq"] == 4
        assert live[2].data == {"document_id": document_id, "status": "processed"}
        assert sub.last_id == live[-1].id
        assert hub.subscriber_count == 1
    assert hub.subscriber_count == 0


async def test_subscribe_while_events_flow_delivers_each_once_in_order(patient: str, hub: Hub) -> None:
    document_id = make_document(patient)
    total = 60
    started = threading.Event()

    def producer() -> None:
        for i in range(total):
            emit_progress(document_id, Stage.OCR_STARTED, "ocr.page", numbers={"page": i, "pages": total})
            if i == 10:
                started.set()

    thread = threading.Thread(target=producer)
    thread.start()
    await asyncio.to_thread(started.wait)
    # No cursor: the whole stream so far, then live; the overlap must not repeat or skip.
    async with hub.subscribe(patient) as sub:
        got = await take(sub, total)
    thread.join()
    assert [m.data["seq"] for m in got] == list(range(1, total + 1))


async def test_expired_cursor_gives_reset_then_whole_stream(patient: str, hub: Hub) -> None:
    document_id = make_document(patient)
    await emit_progress_async(document_id, Stage.OCR_STARTED, "ocr.started")
    await emit_progress_async(document_id, Stage.OCR_COMPLETE, "ocr.done", numbers={"pages": 1})
    for cursor in ("1-0", "not-an-id"):
        async with hub.subscribe(patient, cursor) as sub:
            got = await take(sub, 3, ("reset", "progress"))
            assert [m.kind for m in got] == ["reset", "progress", "progress"]
            assert [m.data["seq"] for m in got[1:]] == [1, 2]
    # A cursor for a stream that has gone (expired): reset, and nothing to replay.
    other = make_patient()
    async with hub.subscribe(other, "1700000000000-0") as sub:
        assert (await sub.get(timeout=5)) == HubMessage("reset", None, {"reason": "cursor_expired"})
        assert await sub.get(timeout=0.2) is None
    # A current cursor: no reset.
    last = sync_redis().xrange(stream_name(patient))[-1][0]
    async with hub.subscribe(patient, last) as sub:
        assert await sub.get(timeout=0.3) is None


class _CountingTask(asyncio.tasks._PyTask):  # type: ignore[name-defined,misc]
    """A task that counts how often it is cancelled (the C Task's methods cannot be patched)."""

    cancels = 0

    def cancel(self, msg: object = None) -> bool:
        type(self).cancels += 1
        return bool(super().cancel(msg))


async def test_timed_wait_wakes_for_a_message_and_times_out_without_cancelling(
        patient: str, hub: Hub) -> None:
    """An idle stream waits with a deadline at every tick: the wait ends by a timer, not by
    cancelling the task (which raised through every frame of 10,000 streams every 2 s)."""
    document_id = make_document(patient)
    loop = asyncio.get_running_loop()

    async def follow_idle_then_live() -> HubMessage | None:
        async with hub.subscribe(patient) as sub:
            started = loop.time()
            for _ in range(20):
                assert await sub.get(timeout=0.01) is None
            assert loop.time() - started >= 0.2
            emitted = asyncio.ensure_future(
                emit_progress_async(document_id, Stage.OCR_STARTED, "ocr.started"))
            message = await sub.get(timeout=30)  # woken by the message, long before its deadline
            await emitted
            return message

    async with asyncio.timeout(10):
        message = await _CountingTask(follow_idle_then_live(), loop=loop)
    assert message is not None and message.kind == "progress" and message.data["seq"] == 1
    assert _CountingTask.cancels == 0


async def test_all_patients_subscription_is_live_only(patient: str, hub: Hub) -> None:
    other = make_patient()
    doc_a, doc_b = make_document(patient), make_document(other)
    await emit_progress_async(doc_a, Stage.OCR_STARTED, "ocr.started")  # before: not replayed
    async with hub.subscribe(None) as sub:
        await emit_progress_async(doc_a, Stage.OCR_COMPLETE, "ocr.done", numbers={"pages": 1})
        await emit_progress_async(doc_b, Stage.OCR_STARTED, "ocr.started")
        got = await take(sub, 2)
    assert [(m.patient_id, m.data["document_id"], m.data["seq"]) for m in got] == [
        (patient, doc_a, 2), (other, doc_b, 1)]
    sync_redis().delete(stream_name(other))


async def test_one_listener_connection_for_many_subscribers(patient: str, hub: Hub) -> None:
    document_id = make_document(patient)
    async with asyncio.TaskGroup() as group:
        ready = asyncio.Event()
        results: list[list[HubMessage]] = []

        async def watcher() -> None:
            async with hub.subscribe(patient) as sub:
                if hub.subscriber_count == 50:
                    ready.set()
                results.append(await take(sub, 1))

        for _ in range(50):
            group.create_task(watcher())
        await ready.wait()
        await emit_progress_async(document_id, Stage.OCR_STARTED, "ocr.started")
    assert len(results) == 50 and all(r[0].data["seq"] == 1 for r in results)
    pool = hub._client.connection_pool
    # One pub/sub connection plus a bounded few for the XRANGE replays — not one per subscriber.
    assert len(pool._in_use_connections) + len(pool._available_connections) <= POOL_SIZE
    assert hub.subscriber_count == 0


async def test_slow_subscriber_overflows_and_ends(patient: str, hub: Hub) -> None:
    client = redis.asyncio.Redis.from_url(get_settings().redis_url, decode_responses=True)
    channel = stream_name(patient)
    async with hub.subscribe(patient) as slow:
        payload = '[["%d-0","progress",{"seq":1}]]'
        for i in range(QUEUE_SIZE + 5):
            await client.publish(channel, payload % (i + 1))
        async with asyncio.timeout(10):
            while not slow.overflowed:
                await asyncio.sleep(0.01)
        assert hub.subscriber_count == 0
        seen = [m async for m in slow]  # iteration ends instead of blocking forever
        assert seen == []
    await client.aclose()


async def test_redis_outage_down_up_and_catch_up(patient: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server = RedisServer()
    server.start()
    monkeypatch.setenv("MEDUPLOAD_REDIS_URL", server.url)
    reset_caches()
    hub = Hub()
    try:
        document_id = make_document(patient)
        async with hub.subscribe(patient) as sub:
            await emit_progress_async(document_id, Stage.OCR_STARTED, "ocr.started")
            assert [m.data["seq"] for m in await take(sub, 1)] == [1]
            server.stop()
            await take(sub, 1, ("redis_down",))
            # Emitting while Redis is down does not raise.
            assert (await emit_progress_async(document_id, Stage.OCR_COMPLETE, "ocr.done")) is not None
            server.start()
            sync_redis().connection_pool.disconnect()
            got = await take(sub, 1, ("redis_up",), timeout=15)
            await emit_progress_async(document_id, Stage.ANALYSIS_STARTED, "analysis.started")
            rest = await take(sub, 2, ("reset", "progress"))
        # The restarted Redis lost the old stream: the catch-up says reset, then progress flows.
        assert got[0].kind == "redis_up"
        assert [m.kind for m in rest] == ["reset", "progress"] and rest[1].data["seq"] == 3
    finally:
        await hub.close()
        server.stop()
        reset_caches()


async def test_failed_replay_while_listening_is_retried_not_an_outage(
    patient: str, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a connect storm a replay read can fail while pub/sub is fine: the subscription retries
    it (no redis_down, no database polling) and still delivers every event once."""
    document_id = make_document(patient)
    for stage in (Stage.UPLOAD_RECEIVED, Stage.OCR_STARTED):
        await emit_progress_async(document_id, stage, "ocr.started")
    real_read = hub._read_stream
    failures = 2

    async def flaky_read(*args: object) -> object:
        nonlocal failures
        if failures:
            failures -= 1
            raise redis.ConnectionError("pool exhausted")
        return await real_read(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(hub, "_read_stream", flaky_read)
    async with hub.subscribe(patient, "0-0") as sub:
        got = await take(sub, 2, kinds=("progress", "redis_down"))
    assert failures == 0
    assert [(m.kind, m.data.get("seq")) for m in got] == [("progress", 1), ("progress", 2)]


async def test_replay_failing_again_and_again_falls_back_to_polling(
    patient: str, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_read(*args: object) -> object:
        raise redis.ConnectionError("commands fail while pub/sub is up")

    monkeypatch.setattr(hub, "_read_stream", broken_read)
    async with hub.subscribe(patient, "0-0") as sub:
        (message,) = await take(sub, 1, kinds=("redis_down",), timeout=20)
    assert message.kind == "redis_down"


async def test_close_ends_every_subscription_and_wakes_waiting_readers(patient: str) -> None:
    hub = Hub()
    ended: list[str] = []

    async def reader(patient_id: str | None) -> None:
        async with hub.subscribe(patient_id) as subscription:
            async for _ in subscription:
                pass
        ended.append(str(patient_id))

    readers = [asyncio.create_task(reader(patient)), asyncio.create_task(reader(None))]
    async with asyncio.timeout(10):
        while hub.subscriber_count < 2 or not hub.connected:
            await asyncio.sleep(0.01)
    await hub.close()
    async with asyncio.timeout(5):  # blocked in get(): close() wakes them and iteration ends
        await asyncio.gather(*readers)
    assert sorted(ended) == sorted([patient, "None"])
    assert hub.subscriber_count == 0 and hub.closing


async def test_current_hub_and_stats_do_not_create_a_hub() -> None:
    from medupload.progress.hub import current_hub, get_hub, hub_stats

    assert current_hub() is None
    assert hub_stats() == {"subscribers": 0, "connected": False}
    hub = get_hub()
    try:
        assert current_hub() is hub
    finally:
        await hub.close()
    assert current_hub() is None
