"""SSE: ``GET /api/v1/patients/{patient_id}/documents/stream`` (DESIGN.md, "SSE API").

retry + snapshot (from the DB), then replay after Last-Event-ID (``reset`` first if the cursor
is too old), then live ``progress`` / ``document_update`` / ``done`` from the process's hub,
``heartbeat`` every HEARTBEAT_SECONDS, closing after STREAM_MAX_SECONDS. While the hub reports
Redis down, the stream polls the DB every DB_POLL_SECONDS and still sends ``document_update``
and ``done``. A plain StreamingResponse is enough: Starlette cancels the generator as soon as
the client disconnects, which leaves the ``async with`` and unsubscribes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from redis.exceptions import RedisError

from medupload import records
from medupload.api.deps import bearer_or_cookie
from medupload.api.errors import ApiError
from medupload.auth import AuthError, Principal, decode_access_token, redeem_stream_ticket
from medupload.progress.hub import HubMessage, SubscriptionClosed, get_hub
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


async def _events(patient_id: str, cursor: str | None, documents: list[DocumentOut]) -> AsyncIterator[str]:
    settings = get_settings()
    told = _Told(documents)
    yield f"retry: {RETRY_MS}\n\n"
    yield _frame("snapshot", json.dumps([doc.model_dump(mode="json") for doc in documents]))

    now = time.monotonic()
    deadline = now + settings.stream_max_seconds
    next_heartbeat = now + settings.heartbeat_seconds
    next_poll: float | None = None  # set while Redis is down
    async with get_hub().subscribe(patient_id, cursor) as subscription:
        while True:
            now = time.monotonic()
            if now >= deadline:
                return  # EventSource reconnects with Last-Event-ID and loses nothing
            if now >= next_heartbeat:
                next_heartbeat = now + settings.heartbeat_seconds
                yield _frame("heartbeat", "{}")
            if next_poll is not None and now >= next_poll:
                next_poll = now + settings.db_poll_seconds
                for frame in await _poll(patient_id, told):
                    yield frame
            wake = min(deadline, next_heartbeat, next_poll if next_poll is not None else deadline)
            try:
                message = await subscription.get(timeout=max(0.0, wake - time.monotonic()))
            except SubscriptionClosed:
                return  # fell too far behind: the client reconnects from its last id
            if message is None:
                continue
            if message.kind == "redis_down":
                next_poll = time.monotonic()
            elif message.kind == "redis_up":
                next_poll = None
                for frame in await _poll(patient_id, told):  # changes since the last poll
                    yield frame
            elif message.kind == "requirements_update":
                yield await _requirements_frame(patient_id, message.id)
            else:
                frame = _hub_frame(message, told)
                if frame is not None:
                    yield frame


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
    return None


async def _requirements_frame(patient_id: str, event_id: str | None) -> str:
    """The notice carries ids only: the requirement list itself is read from the database."""
    rows = await asyncio.to_thread(records.requirement_status, patient_id)
    return _frame("requirements_update", json.dumps([row.model_dump(mode="json") for row in rows]), event_id)


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
