"""``ui.live.follow``, the loop both pages run per tab, against the real hub and Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from support import make_document, make_patient

from medupload.progress import tracing
from medupload.progress.emitter import emit_progress_async
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
