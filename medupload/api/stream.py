"""SSE: ``GET /api/v1/patients/{patient_id}/documents/stream`` (DESIGN.md, "SSE API").

retry + snapshot (from the DB), then what ``progress.follow`` yields, rendered as frames: replay
after Last-Event-ID (``reset`` first if the cursor is too old), live ``progress`` /
``document_update`` / ``done`` from the process's hub, ``heartbeat`` every HEARTBEAT_SECONDS
(each after the ``still_allowed`` check), closing after STREAM_MAX_SECONDS. While the hub
reports Redis down, the stream polls the DB every DB_POLL_SECONDS and still sends
``document_update`` and ``done``. A plain StreamingResponse is enough: Starlette cancels the
generator as soon as the client disconnects, which closes the follow loop and unsubscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from prometheus_client import Gauge
from redis.exceptions import RedisError

from medupload import records
from medupload.api.deps import bearer_or_cookie
from medupload.api.errors import ApiError
from medupload.auth import AuthError, Principal, decode_access_token, redeem_stream_ticket
from medupload.metrics import OPEN_STREAMS
from medupload.progress.follow import Batch, Draining, Refresh, StillAllowed, Tick, always_allowed, follow
from medupload.progress.hub import HubMessage
from medupload.redis_client import async_redis
from medupload.schemas import DocumentOut
from medupload.settings import get_settings

router = APIRouter(tags=["stream"])

RETRY_MS = 3000
TERMINAL = frozenset({"processed", "failed"})
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


@router.get("/patients/{patient_id}/documents/stream", response_class=StreamingResponse)
async def document_stream(
    patient_id: str,
    request: Request,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
    ticket: Annotated[str | None, Query(max_length=128)] = None,
) -> StreamingResponse:
    principal = await _authenticate(request, patient_id, ticket)
    if not principal.can_access(patient_id):
        raise ApiError(403, "auth.forbidden")
    documents = await asyncio.to_thread(_load_documents, patient_id)
    if documents is None:
        raise ApiError(404, "not_found")
    cursor = request.headers.get("last-event-id") or last_event_id
    return StreamingResponse(
        _events(patient_id, (cursor or "")[:64] or None, documents),
        media_type="text/event-stream", headers=SSE_HEADERS,
    )


async def _authenticate(request: Request, patient_id: str, ticket: str | None) -> Principal:
    token = bearer_or_cookie(request)
    try:
        if token is not None:
            return decode_access_token(token)
        if ticket:
            return await redeem_stream_ticket(async_redis(), ticket, patient_id)
    except AuthError as exc:
        raise ApiError(401, exc.code) from exc
    except (RedisError, OSError) as exc:
        raise ApiError(503, "error.internal") from exc
    raise ApiError(401, "auth.required")


def _load_documents(patient_id: str) -> list[DocumentOut] | None:
    """The patient's documents, newest first; None if there is no such patient."""
    if not records.patient_exists(patient_id):
        return None
    return records.list_documents(patient_id)


def _frame(event: str, data: str, event_id: str | None = None) -> str:
    head = f"event: {event}\nid: {event_id}\n" if event_id else f"event: {event}\n"
    return f"{head}data: {data}\n\n"


class _Told:
    """What this client has been told, so DB polling and the hub never repeat each other."""

    def __init__(self, documents: list[DocumentOut]) -> None:
        self.status = {doc.id: doc.status for doc in documents}
        self.done: dict[str, str] = {}

    def update(self, doc_id: str, status: str) -> bool:
        if self.status.get(doc_id) == status:
            return False
        self.status[doc_id] = status
        if status not in TERMINAL:
            self.done.pop(doc_id, None)
        return True

    def finish(self, doc_id: str, status: str) -> bool:
        if self.done.get(doc_id) == status:
            return False
        self.done[doc_id] = status
        return True


async def _events(patient_id: str, cursor: str | None, documents: list[DocumentOut],
                  still_allowed: StillAllowed = always_allowed) -> AsyncIterator[str]:
    settings = get_settings()
    told = _Told(documents)
    yield f"retry: {RETRY_MS}\n\n"
    yield _frame("snapshot", json.dumps([doc.model_dump(mode="json") for doc in documents]))
    items = follow(patient_id, cursor, still_allowed=still_allowed, tick_seconds=settings.heartbeat_seconds,
                   max_seconds=settings.stream_max_seconds, snapshot_taken=True)
    async with contextlib.aclosing(items), _counted(OPEN_STREAMS):
        async for item in items:
            if isinstance(item, Batch):
                frames = [frame for message in item.messages if (frame := _hub_frame(message, told))]
                if frames:
                    yield "".join(frames)  # one write for a replay, not one per event
            elif isinstance(item, Tick):
                yield _frame("heartbeat", "{}")
            elif isinstance(item, Refresh):
                frames = await _poll(patient_id, told)  # changes since the client was last told
                if frames:
                    yield "".join(frames)
            elif isinstance(item, Draining):
                yield f"retry: {item.retry_ms}\n\n"  # this process is stopping: come back elsewhere
    # Ended: max duration (EventSource reconnects with Last-Event-ID and loses nothing), or
    # still_allowed() said no, or this process is shutting down.


@contextlib.asynccontextmanager
async def _counted(gauge: Gauge) -> AsyncIterator[None]:
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def _hub_frame(message: HubMessage, told: _Told) -> str | None:
    if message.kind == "progress":
        return _frame("progress", message.raw, message.id)
    if message.kind == "document_update":
        if not told.update(str(message.data.get("id")), str(message.data.get("status"))):
            return None
        return _frame("document_update", message.raw, message.id)
    if message.kind == "done":
        if not told.finish(str(message.data.get("document_id")), str(message.data.get("status"))):
            return None
        return _frame("done", message.raw, message.id)
    if message.kind == "reset":
        return _frame("reset", message.raw)
    if message.id is not None:
        return _frame(message.kind, message.raw, message.id)  # a later kind (requirements_update)
    return None


async def _poll(patient_id: str, told: _Told) -> list[str]:
    """document_update/done for every status change since the client was last told."""
    try:
        documents = await asyncio.to_thread(_load_documents, patient_id)
    except Exception:
        return []  # the DB hiccuped: try again at the next poll
    frames: list[str] = []
    for doc in documents or []:
        if told.update(doc.id, doc.status):
            frames.append(_frame("document_update", doc.model_dump_json()))
            if doc.status in TERMINAL and told.finish(doc.id, doc.status):
                done = json.dumps({"document_id": doc.id, "status": doc.status})
                frames.append(_frame("done", done))
    return frames
