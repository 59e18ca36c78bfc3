"""``progress.follow`` (the one follow loop) and ``ui.live`` (per tab), against the real hub and Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from support import make_document, make_patient, reset_caches

from medupload.progress import tracing
from medupload.progress.emitter import emit_progress_async
from medupload.progress.follow import DRAIN_RETRY_MS, Batch, Connection, Draining, Refresh, Tick, follow
from medupload.progress.hub import HubMessage, get_hub
from medupload.progress.stages import Stage
from medupload.ui import live


@pytest.fixture
def patient(fresh_db: str) -> Iterator[str]:
    tracing.set_langfuse(None)
    yield make_patient()
    tracing.reset_langfuse()


@pytest.fixture
async def closing_hub() -> AsyncIterator[None]:
    yield
    await get_hub().close()


async def _next_message(items: AsyncIterator[live.FollowItem]) -> HubMessage:
    async with asyncio.timeout(10):
        while True:
            item = await anext(items)
            if isinstance(item, HubMessage):
                return item


async def test_refresh_and_connection_first_then_messages(patient: str, closing_hub: None) -> None:
    document_id = make_document(patient)
    live.claim("tab-a")
    try:
        async with contextlib.aclosing(live.follow("tab-a", patient)) as items:
            # The snapshot is taken after subscribing, so nothing can fall between the two.
            assert await anext(items) == live.Refresh(full=True)
            assert await anext(items) == live.Connection("live")
            await emit_progress_async(document_id, Stage.OCR_STARTED, "ocr.started")
            first, second = await _next_message(items), await _next_message(items)
            assert (first.kind, first.data["stage"]) == ("progress", "ocr_started")
            assert (second.kind, second.data["status"]) == ("document_update", "processing")
    finally:
        live.release("tab-a")


async def test_a_newer_task_for_the_tab_ends_the_older_and_its_subscription(
    patient: str, closing_hub: None
) -> None:
    subscribed = asyncio.Event()

    async def tab_task() -> None:
        live.claim("tab-b")
        try:
            async with contextlib.aclosing(live.follow("tab-b", patient)) as items:
                async for item in items:
                    if isinstance(item, live.Connection):
                        subscribed.set()
        finally:
            live.release("tab-b")

    older = asyncio.create_task(tab_task())
    await asyncio.wait_for(subscribed.wait(), 10)
    assert get_hub().subscriber_count == 1

    live.claim("tab-b")  # the page reconnected: this task now follows for the tab
    try:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(older, 5)
        assert get_hub().subscriber_count == 0
    finally:
        live.release("tab-b")


async def test_follow_ends_by_itself_once_another_task_owns_the_tab(patient: str, closing_hub: None) -> None:
    live.claim("tab-c")
    items = live.follow("tab-c", patient)
    async with contextlib.aclosing(items):
        assert await anext(items) == live.Refresh(full=True)
        assert await anext(items) == live.Connection("live")
        owner = asyncio.create_task(asyncio.sleep(30))
        live._followers["tab-c"] = owner  # claimed elsewhere without cancelling us
        try:
            async with asyncio.timeout(live.CONNECTED_CHECK_SECONDS * 3):
                remaining = [item async for item in items]
            assert all(isinstance(item, live.Tick) for item in remaining)
            assert get_hub().subscriber_count == 0
        finally:
            owner.cancel()
            live._followers.pop("tab-c", None)


async def test_replay_comes_as_one_batch_in_stream_order(patient: str, closing_hub: None) -> None:
    """A page load applies a long history in one push, not one per past event."""
    document_id = make_document(patient)
    for stage, code in ((Stage.OCR_STARTED, "ocr.started"), (Stage.OCR_COMPLETE, "ocr.done"),
                        (Stage.ANALYSIS_STARTED, "analysis.started")):
        await emit_progress_async(document_id, stage, code, numbers={"pages": 1})
    items = follow(patient, None)
    async with contextlib.aclosing(items):
        assert await anext(items) == Refresh(full=True)
        assert await anext(items) == Connection("live")
        batch = await anext(items)
    assert isinstance(batch, Batch)
    progress = [m.data["seq"] for m in batch.messages if m.kind == "progress"]
    assert progress == sorted(progress) and len(progress) >= 3
    assert [m.kind for m in batch.messages].count("document_update") >= 1


async def test_still_allowed_false_ends_the_loop_at_the_next_tick(patient: str, closing_hub: None) -> None:
    allowed = True
    checks = 0

    async def still_allowed() -> bool:
        nonlocal checks
        checks += 1
        return allowed

    items = follow(patient, None, still_allowed=still_allowed, tick_seconds=0.1, snapshot_taken=True)
    async with contextlib.aclosing(items):
        assert await anext(items) == Connection("live")
        assert await anext(items) == Tick()
        allowed = False  # e.g. the account was disabled
        async with asyncio.timeout(2):
            rest = [item async for item in items]
    assert rest == [] and checks == 2
    assert get_hub().subscriber_count == 0


async def test_max_seconds_ends_the_loop(patient: str, closing_hub: None) -> None:
    items = follow(patient, None, tick_seconds=10, max_seconds=0.3)
    async with contextlib.aclosing(items), asyncio.timeout(3):
        got = [item async for item in items]
    assert got == [Refresh(full=True), Connection("live")]


async def test_closing_the_hub_ends_followers_with_a_jittered_retry(patient: str) -> None:
    """A process shutting down (shutdown.drain closes the hub) sends its clients elsewhere."""
    hub = get_hub()
    items = follow(patient, None, tick_seconds=10)
    async with contextlib.aclosing(items):
        assert await anext(items) == Refresh(full=True)
        assert await anext(items) == Connection("live")
        rest = asyncio.ensure_future(anext(items, None))
        await asyncio.sleep(0.1)
        await hub.close()
        async with asyncio.timeout(3):
            last = await rest
            assert isinstance(last, Draining) and DRAIN_RETRY_MS[0] <= last.retry_ms <= DRAIN_RETRY_MS[1]
            assert await anext(items, None) is None


async def test_sse_frames_end_when_still_allowed_says_no(patient: str, closing_hub: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream renders the same loop: a signed-out session's stream closes at its next check,
    and gives its stream slot back."""
    from medupload.api import stream, stream_slots
    from medupload.auth import Principal
    from medupload.records import list_documents

    monkeypatch.setenv("MEDUPLOAD_HEARTBEAT_SECONDS", "0.1")
    reset_caches()
    answers = iter([True, False])

    async def principal_active(_principal: Principal) -> bool:
        return next(answers)

    monkeypatch.setattr(stream, "principal_active", principal_active)
    principal = Principal(user_id="u_follow", role="patient", patient_id=patient)
    slot = await stream_slots.acquire(principal.user_id)
    frames = stream._events(patient, None, list_documents(patient), principal, slot)
    async with contextlib.aclosing(frames), asyncio.timeout(5):
        got = [frame async for frame in frames]
    again = await stream_slots.acquire(principal.user_id)  # the closed stream's slot is free
    await stream_slots.release(again)
    assert await stream_slots.count(principal.user_id) == 0
    kinds = [f.split("\n", 1)[0] for f in got]
    assert kinds == ["retry: 3000", "event: snapshot", "event: heartbeat"]
