"""The SSE endpoint over a real HTTP server (``support.LiveServer``) with real Redis, read with httpx-sse."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
import redis
import redis.asyncio as aioredis
from support import (
    PHI_CANARY,
    Event,
    LiveServer,
    RedisServer,
    make_document,
    make_patient,
    make_user,
    reset_caches,
    sse,
)

from medupload.auth import Principal, create_access_token, issue_stream_ticket
from medupload.progress import tracing
from medupload.progress.emitter import emit_progress, emit_progress_async, stream_name
from medupload.progress.hub import get_hub
from medupload.progress.stages import Stage
from medupload.redis_client import sync_redis
from medupload.settings import get_settings


@pytest.fixture
def env(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    tracing.set_langfuse(None)

    def configure(**values: Any) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"MEDUPLOAD_{key.upper()}", str(value))
        reset_caches()

    yield configure
    tracing.reset_langfuse()


@pytest.fixture
def patient() -> Iterator[tuple[str, dict[str, str]]]:
    """A patient with a document-owning user; yields (patient_id, auth headers)."""
    patient_id = make_patient()
    token, _ = create_access_token(make_user("patient", patient_id))
    yield patient_id, {"Authorization": f"Bearer {token}"}
    with contextlib.suppress(redis.RedisError):
        sync_redis().delete(stream_name(patient_id))


def url(server: LiveServer, patient_id: str) -> str:
    return f"{server.base}/api/v1/patients/{patient_id}/documents/stream"


async def collect(server: LiveServer, patient_id: str, headers: dict[str, str],
                  until: Callable[[Event], bool], *, timeout: float = 15.0) -> list[Event]:
    got: list[Event] = []
    async with httpx.AsyncClient(timeout=timeout) as client, client.stream(
            "GET", url(server, patient_id), headers=headers) as response:
        assert response.status_code == 200
        async with asyncio.timeout(timeout):
            async for event in sse(response):
                got.append(event)
                if until(event):
                    break
    return got


async def test_contract_snapshot_progress_update_done(start_server: Callable[..., LiveServer],
                                                      patient: tuple[str, dict[str, str]]) -> None:
    server = start_server()
    patient_id, headers = patient
    document_id = make_document(patient_id)

    async with httpx.AsyncClient(timeout=15) as client, client.stream(
            "GET", url(server, patient_id), headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-accel-buffering"] == "no"
        events = sse(response)
        assert (await anext(events)).event == "retry"
        snapshot = await anext(events)
        assert snapshot.event == "snapshot"
        assert [d["id"] for d in snapshot.json()] == [document_id]
        assert snapshot.json()[0]["status"] == "received"

        await emit_progress_async(document_id, Stage.OCR_STARTED, "ocr.started")
        await emit_progress_async(document_id, Stage.MATCHING_COMPLETE, "matching.done",
                                  numbers={"satisfied": 2, "requirements": 3})
        got = []
        async with asyncio.timeout(15):
            async for event in events:
                got.append(event)
                if event.event == "done":
                    break
    assert [e.event for e in got] == ["progress", "document_update", "progress", "document_update", "done"]
    stream_ids = [e for e, _ in sync_redis().xrange(stream_name(patient_id))]
    assert [e.id for e in got] == stream_ids
    assert got[0].json()["seq"] == 1 and got[2].json()["detail"] == "2 of 3 requirements met"
    assert got[3].json()["status"] == "processed"
    assert got[4].json() == {"document_id": document_id, "status": "processed"}
    assert all(PHI_CANARY not in e.data for e in got if e.event == "progress")


async def test_open_streams_do_not_hold_the_snapshot_rows(start_server: Callable[..., LiveServer],
                                                          patient: tuple[str, dict[str, str]]) -> None:
    """A stream lives for minutes: after the snapshot it keeps each document's id and status, not
    the rows it was built from (a patient with 40 documents would cost ~100 KB per stream)."""
    import gc

    from medupload.schemas import DocumentOut

    server = start_server()
    patient_id, headers = patient
    documents = 5
    for _ in range(documents):
        make_document(patient_id)

    def rows_alive() -> int:
        gc.collect()
        return sum(1 for obj in gc.get_objects() if isinstance(obj, DocumentOut))

    before = server.call(rows_alive)
    streams = 10
    async with httpx.AsyncClient(timeout=15) as client, contextlib.AsyncExitStack() as stack:
        for _ in range(streams):
            response = await stack.enter_async_context(client.stream("GET", url(server, patient_id),
                                                                     headers=headers))
            events = sse(response)
            while (event := await anext(events)).event != "snapshot":
                pass
            assert len(event.json()) == documents
        while_open = server.call(rows_alive)
    assert while_open - before < documents  # none held per open stream (before the fix: >= 1 each)


async def test_auth_matrix(start_server: Callable[..., LiveServer],
                           patient: tuple[str, dict[str, str]]) -> None:
    server = start_server()
    patient_id, own = patient
    other_patient = make_patient()
    staff_token, _ = create_access_token(make_user("staff", None))
    settings = get_settings()
    assert settings.secret_key is not None
    expired = jwt.encode({"sub": "u_x", "role": "staff", "pid": None, "iat": 1, "exp": int(time.time()) - 5},
                         settings.secret_key.get_secret_value(), algorithm="HS256")
    tickets = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    ticket = await issue_stream_ticket(tickets, Principal("u_p", "patient", patient_id), patient_id)
    await tickets.aclose()

    async def status(patient_id: str, headers: dict[str, str] | None = None, query: str = "",
                     cookies: dict[str, str] | None = None) -> tuple[int, Any]:
        async with httpx.AsyncClient(timeout=10, cookies=cookies) as client, client.stream(
                "GET", url(server, patient_id) + query, headers=headers or {}) as response:
            body = None if response.status_code == 200 else json.loads(await response.aread())
            return response.status_code, body

    assert await status(patient_id) == (
        401, {"error": {"code": "auth.required", "message": "Sign in to continue."}})
    assert (await status(other_patient, own))[0] == 403
    assert (await status(patient_id, own))[0] == 200
    assert (await status(other_patient, {"Authorization": f"Bearer {staff_token}"}))[0] == 200
    assert (await status(patient_id, {"Authorization": f"Bearer {staff_token}"}))[0] == 200
    code, body = await status(patient_id, {"Authorization": f"Bearer {expired}"})
    assert (code, body["error"]["code"]) == (401, "auth.expired")
    assert (await status(patient_id, {"Authorization": "Bearer not-a-token"}))[0] == 401
    assert (await status(patient_id, cookies={"medupload_session": own["Authorization"][7:]}))[0] == 200
    assert (await status(patient_id, query=f"?ticket={ticket}"))[0] == 200
    code, body = await status(patient_id, query=f"?ticket={ticket}")  # one-time
    assert (code, body["error"]["code"]) == (401, "auth.ticket_invalid")


async def test_reconnect_cycles_deliver_every_event_once_in_order(
        start_server: Callable[..., LiveServer], patient: tuple[str, dict[str, str]]) -> None:
    server = start_server()
    patient_id, headers = patient
    documents = [make_document(patient_id) for _ in range(3)]
    produced = dict.fromkeys(documents, 0)
    stop = threading.Event()

    def producer() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            for document_id in documents:
                emit_progress(document_id, Stage.OCR_STARTED, "ocr.page", numbers={"page": 1, "pages": 9})
                produced[document_id] += 1
            time.sleep(rng.uniform(0.005, 0.03))

    rng = random.Random(11)
    received: list[tuple[str, int]] = []
    last_id: str | None = None

    async def connect(wanted: int | None) -> None:
        """Read ``wanted`` progress events (None: until all produced ones) and drop the connection."""
        nonlocal last_id
        request_headers = dict(headers)
        if last_id is not None:
            request_headers["Last-Event-ID"] = last_id
        async with client.stream("GET", url(server, patient_id), headers=request_headers) as response:
            assert response.status_code == 200
            taken = 0
            async with asyncio.timeout(30):
                async for event in sse(response):
                    assert event.event != "reset"
                    if event.event == "progress":
                        data = event.json()
                        received.append((data["document_id"], data["seq"]))
                        last_id, taken = event.id, taken + 1
                    if wanted is not None and taken >= wanted and event.event in ("snapshot", "progress"):
                        return
                    if wanted is None and len(received) >= sum(produced.values()):
                        return

    thread = threading.Thread(target=producer)
    thread.start()
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            for _ in range(50):
                await connect(rng.randint(0, 6))  # leaving the block drops the connection mid-stream
            stop.set()
            thread.join()
            await connect(None)
    finally:
        stop.set()
        thread.join()
    assert len(received) == len(set(received)) == sum(produced.values())
    for document_id in documents:
        seqs = [seq for doc, seq in received if doc == document_id]
        assert seqs == list(range(1, produced[document_id] + 1))


async def test_expired_cursor_sends_reset_then_whole_stream(
        start_server: Callable[..., LiveServer], patient: tuple[str, dict[str, str]]) -> None:
    server = start_server()
    patient_id, headers = patient
    document_id = make_document(patient_id)
    await emit_progress_async(document_id, Stage.OCR_STARTED, "ocr.started")
    await emit_progress_async(document_id, Stage.OCR_COMPLETE, "ocr.done", numbers={"pages": 1})
    events = await collect(server, patient_id, {**headers, "Last-Event-ID": "1000-0"},
                           lambda e: e.event == "progress" and e.json()["seq"] == 2)
    assert [e.event for e in events] == ["retry", "snapshot", "reset", "progress", "progress"]
    # The same cursor as a query parameter (EventSource cannot set headers on the first request).
    query = {**headers}
    async with httpx.AsyncClient(timeout=10) as client, client.stream(
            "GET", url(server, patient_id) + "?last_event_id=1000-0", headers=query) as response:
        kinds = []
        async for event in sse(response):
            kinds.append(event.event)
            if len(kinds) == 3:
                break
    assert kinds == ["retry", "snapshot", "reset"]


async def test_heartbeats_and_close_at_max_duration(
        start_server: Callable[..., LiveServer], patient: tuple[str, dict[str, str]]) -> None:
    server = start_server(heartbeat_seconds=0.2, stream_max_seconds=1.5)
    patient_id, headers = patient
    stamps: list[float] = []
    async with httpx.AsyncClient(timeout=15) as client, client.stream(
            "GET", url(server, patient_id), headers=headers) as response:
        async with asyncio.timeout(20):
            async for event in sse(response):  # ends only because the server closes the stream
                if event.event == "heartbeat":
                    stamps.append(time.monotonic())
    assert len(stamps) >= 2
    # Heartbeats are never early (lateness depends on machine load, so it is not asserted).
    assert all(b - a >= 0.15 for a, b in itertools.pairwise(stamps))


async def test_redis_killed_mid_stream(start_server: Callable[..., LiveServer],
                                       patient: tuple[str, dict[str, str]]) -> None:
    redis_server = RedisServer()
    redis_server.start()
    poll = 1.0
    try:
        server = start_server(redis_url=redis_server.url, db_poll_seconds=poll, heartbeat_seconds=30)
        patient_id, headers = patient
        first, second = make_document(patient_id), make_document(patient_id)
        async with httpx.AsyncClient(timeout=30) as client, client.stream(
                "GET", url(server, patient_id), headers=headers) as response:
            events = sse(response)

            async def next_of(kinds: tuple[str, ...], timeout: float = 15) -> Event:
                async with asyncio.timeout(timeout):
                    async for event in events:
                        if event.event in kinds:
                            return event
                raise AssertionError("stream ended")

            await next_of(("snapshot",))
            await emit_progress_async(first, Stage.OCR_STARTED, "ocr.started")
            assert (await next_of(("progress",))).json()["seq"] == 1
            assert (await next_of(("document_update",))).json()["status"] == "processing"
            redis_server.stop()
            await asyncio.sleep(0.3)  # let the hub notice; the stream now polls the DB
            assert await emit_progress_async(first, Stage.MATCHING_COMPLETE, "matching.done") is not None
            update = await next_of(("document_update",), timeout=poll + 1)
            assert (update.json()["id"], update.json()["status"]) == (first, "processed")
            done = await next_of(("done",), timeout=poll + 1)
            assert done.json() == {"document_id": first, "status": "processed"}

            redis_server.start()
            sync_redis().connection_pool.disconnect()
            # After the hub reconnects, live progress flows again on the same connection.
            async with asyncio.timeout(20):
                while True:
                    await emit_progress_async(second, Stage.OCR_STARTED, "ocr.started")
                    with contextlib.suppress(TimeoutError):
                        event = await next_of(("progress",), timeout=1.0)
                        break
            assert event.json()["document_id"] == second
    finally:
        redis_server.stop()


async def test_connect_disconnect_cycles_leave_no_subscribers_or_tasks(
        start_server: Callable[..., LiveServer], patient: tuple[str, dict[str, str]]) -> None:
    server = start_server()
    patient_id, headers = patient

    def state() -> tuple[int, int]:
        return get_hub().subscriber_count, len(asyncio.all_tasks())

    async with httpx.AsyncClient(timeout=10) as client:
        async def connect_once() -> None:
            async with client.stream("GET", url(server, patient_id), headers=headers) as response:
                async for event in sse(response):
                    if event.event == "snapshot":
                        return

        await connect_once()  # warm-up: starts the hub's one listener task
        baseline = await wait_for_state(server, state, lambda s: s[0] == 0)
        for _ in range(200):
            await connect_once()
    # No subscriber and no task left behind (the baseline may still hold the warm-up's own
    # short-lived tasks, so fewer is fine; one more per cycle would be a leak).
    settled = await wait_for_state(server, state, lambda s: s[0] == 0 and s[1] <= baseline[1])
    assert settled[0] == 0 and settled[1] <= baseline[1]


async def wait_for_state(server: LiveServer, read: Callable[[], tuple[int, int]],
                         ok: Callable[[tuple[int, int]], bool]) -> tuple[int, int]:
    value = server.call(read)
    for _ in range(100):
        if ok(value):
            break
        await asyncio.sleep(0.05)
        value = server.call(read)
    return value


async def test_a_later_message_kind_is_passed_on_with_its_id(start_server: Callable[..., LiveServer],
                                                             patient: tuple[str, dict[str, str]]) -> None:
    """A kind added later reaches SSE clients without a stream change (``requirements_update``,
    which the stream renders from the database, is tested with the review API)."""
    from medupload.progress.wire import EMIT_SCRIPT, emit_args

    server = start_server()
    patient_id, headers = patient
    got = []
    async with httpx.AsyncClient(timeout=15) as client, client.stream(
            "GET", url(server, patient_id), headers=headers) as response:
        events = sse(response)
        assert [(await anext(events)).event, (await anext(events)).event] == ["retry", "snapshot"]
        key = stream_name(patient_id)
        sync_redis().eval(EMIT_SCRIPT, 2, key, key,
                          *emit_args([("annotation_update", '{"document_id":"d_x"}')], 3600))
        async with asyncio.timeout(15):
            async for event in events:
                if event.event != "heartbeat":
                    got.append(event)
                    break
    assert got[0].event == "annotation_update" and got[0].json() == {"document_id": "d_x"}
    assert got[0].id == sync_redis().xrange(stream_name(patient_id))[-1][0]


async def test_streams_per_account_are_capped_across_servers(start_server: Callable[..., LiveServer],
                                                             patient: tuple[str, dict[str, str]]) -> None:
    """One account cannot hold more than MAX_STREAMS_PER_ACCOUNT streams, counted in Redis across
    server processes; past it 429 stream.too_many, while health still answers; a closed stream
    gives its slot back."""
    first = start_server(max_streams_per_account=3)
    second = LiveServer()  # another server on the same Redis (and settings)
    second.start()
    patient_id, headers = patient
    try:
        async with httpx.AsyncClient(timeout=15) as client, contextlib.AsyncExitStack() as open_streams:
            for server in (first, second, first):
                response = await open_streams.enter_async_context(
                    client.stream("GET", url(server, patient_id), headers=headers))
                assert response.status_code == 200
            for server in (first, second):
                refused = await client.get(url(server, patient_id), headers=headers)
                assert refused.status_code == 429
                assert refused.json()["error"]["code"] == "stream.too_many"
                assert "3 live streams" in refused.json()["error"]["message"]
                assert (await client.get(f"{server.base}/api/v1/health")).status_code == 200
            # Staff (another account) are not affected by the patient's streams.
            staff_token, _ = create_access_token(make_user("staff", None))
            async with client.stream("GET", url(second, patient_id),
                                     headers={"Authorization": f"Bearer {staff_token}"}) as staff:
                assert staff.status_code == 200
        # All three closed: their slots are back (the release runs as each stream ends).
        async with httpx.AsyncClient(timeout=15) as client:
            for _ in range(50):
                async with client.stream("GET", url(second, patient_id), headers=headers) as again:
                    if again.status_code == 200:
                        break
                await asyncio.sleep(0.1)
            assert again.status_code == 200
    finally:
        second.stop()
