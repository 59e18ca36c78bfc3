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
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from prometheus_client import Gauge
from redis.exceptions import RedisError

from medupload import records
from medupload.api.deps import TokenDep, verified_principal
from medupload.api.errors import ApiError
from medupload.api.stream_slots import StreamSlot, TooManyStreams, acquire, held
from medupload.auth import (
    STREAM_TICKET_SECONDS,
    AuthError,
    Principal,
    issue_stream_ticket,
    redeem_stream_ticket,
)
from medupload.metrics import OPEN_STREAMS
from medupload.progress.follow import Batch, Draining, Refresh, Tick, follow
from medupload.progress.hub import HubMessage
from medupload.progress.stages import TERMINAL_STATUSES
from medupload.redis_client import async_redis
from medupload.schemas import DocumentOut
from medupload.sessions import principal_active
from medupload.settings import get_settings

router = APIRouter(tags=["stream"])

RETRY_MS = 3000
# A stream opened with a one-time ticket gets a follow-up ticket (``event: ticket``) on connect,
# again before each one runs out, and just before the server closes: EventSource cannot change
# its URL, so such clients reopen the stream with ``?ticket=<latest>&last_event_id=<last id>``.
TICKET_RENEW_SECONDS = STREAM_TICKET_SECONDS * 0.75
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


@router.get("/patients/{patient_id}/documents/stream", response_class=StreamingResponse)
async def document_stream(
    patient_id: str,
    request: Request,
    token: TokenDep,
    last_event_id: Annotated[str | None, Query(max_length=64)] = None,
    ticket: Annotated[str | None, Query(max_length=128)] = None,
) -> StreamingResponse:
    principal = await _authenticate(token, patient_id, ticket)
    if not principal.can_access(patient_id):
        raise ApiError(403, "auth.forbidden")
    documents = await asyncio.to_thread(_load_documents, patient_id)
    if documents is None:
        raise ApiError(404, "not_found")
    cursor = request.headers.get("last-event-id") or last_event_id
    renew_ticket = token is None  # opened with a ticket: it is spent, hand out the next one
    try:
        # One account cannot hold the process's whole connection budget (issue 8).
        slot = await acquire(principal.user_id)
    except TooManyStreams:
        raise ApiError(429, "stream.too_many", cap=get_settings().max_streams_per_account) from None
    return StreamingResponse(
        _events(patient_id, (cursor or "")[:64] or None, documents, principal, slot, renew_ticket),
        media_type="text/event-stream", headers=SSE_HEADERS,
    )


async def _authenticate(token: str | None, patient_id: str, ticket: str | None) -> Principal:
    if token is not None:
        return await verified_principal(token)
    try:
        if ticket:
            principal = await redeem_stream_ticket(async_redis(), ticket, patient_id)
            if not await principal_active(principal):
                raise AuthError("auth.revoked")
            return principal
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
        if status not in TERMINAL_STATUSES:
            self.done.pop(doc_id, None)
        return True

    def finish(self, doc_id: str, status: str) -> bool:
        if self.done.get(doc_id) == status:
            return False
        self.done[doc_id] = status
        return True


async def _ticket_frame(principal: Principal, patient_id: str) -> str:
    """A follow-up one-time ticket for the same principal and patient (nothing while Redis is down:
    tickets live there, and the next renewal tries again)."""
    try:
        ticket = await issue_stream_ticket(async_redis(), principal, patient_id)
    except (RedisError, OSError):
        return ""
    return _frame("ticket", json.dumps({"ticket": ticket, "expires_in": STREAM_TICKET_SECONDS}))


async def _events(patient_id: str, cursor: str | None, documents: list[DocumentOut],
                  principal: Principal, slot: StreamSlot, renew_ticket: bool = False) -> AsyncIterator[str]:
    settings = get_settings()
    told = _Told(documents)
    snapshot = _frame("snapshot", json.dumps([doc.model_dump(mode="json") for doc in documents]))
    # The stream lives for minutes: keep what _Told needs, not the patient's document rows (a
    # patient with 40 documents would hold ~100 KB per open stream).
    del documents
    yield f"retry: {RETRY_MS}\n\n"
    yield snapshot
    del snapshot
    if renew_ticket:
        yield await _ticket_frame(principal, patient_id)

    async def still_allowed() -> bool:
        # Signed out or disabled since the stream opened: end it (issue 8, within 5 s).
        return await principal_active(principal)

    # Ticks come at least every SESSION_CHECK_SECONDS (each after the revocation check);
    # heartbeats and ticket renewals go out on their own cadence from those ticks.
    started = time.monotonic()
    next_heartbeat = started + settings.heartbeat_seconds
    next_ticket = started + TICKET_RENEW_SECONDS
    items = follow(patient_id, cursor, still_allowed=still_allowed,
                   tick_seconds=min(settings.heartbeat_seconds, settings.session_check_seconds,
                                    TICKET_RENEW_SECONDS if renew_ticket else settings.heartbeat_seconds),
                   max_seconds=settings.stream_max_seconds, snapshot_taken=True)
    async with held(slot), contextlib.aclosing(items), _counted(OPEN_STREAMS):
        async for item in items:
            if isinstance(item, Batch):
                frames = [frame for message in item.messages if (frame := _hub_frame(message, told))]
                if any(message.kind == "requirements_update" for message in item.messages):
                    # The notice carries ids only: the list itself comes from the database, once
                    # per batch however many notices it holds.
                    last = next(m for m in reversed(item.messages) if m.kind == "requirements_update")
                    frames.append(await _requirements_frame(patient_id, last.id))
                if frames:
                    yield "".join(frames)  # one write for a replay, not one per event
            elif isinstance(item, Tick):
                now = time.monotonic()
                if renew_ticket and now >= next_ticket:
                    next_ticket = now + TICKET_RENEW_SECONDS
                    yield await _ticket_frame(principal, patient_id)
                if now >= next_heartbeat:
                    next_heartbeat = now + settings.heartbeat_seconds
                    yield _frame("heartbeat", "{}")
            elif isinstance(item, Refresh):
                frames = await _poll(patient_id, told)  # changes since the client was last told
                if frames:
                    yield "".join(frames)
            elif isinstance(item, Draining):
                if renew_ticket:  # the client comes back to another process: it needs a ticket
                    yield await _ticket_frame(principal, patient_id)
                yield f"retry: {item.retry_ms}\n\n"  # this process is stopping: come back elsewhere
                return
    # Ended: max duration (EventSource reconnects with Last-Event-ID and loses nothing), or
    # still_allowed() said no. Only the first gets a ticket to come back with.
    if renew_ticket and time.monotonic() - started >= settings.stream_max_seconds:
        yield await _ticket_frame(principal, patient_id)


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
    if message.kind == "requirements_update":
        return None  # rendered per batch from the database (_requirements_frame)
    if message.id is not None:
        return _frame(message.kind, message.raw, message.id)  # a later kind
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
            if doc.status in TERMINAL_STATUSES and told.finish(doc.id, doc.status):
                done = json.dumps({"document_id": doc.id, "status": doc.status})
                frames.append(_frame("done", done))
    return frames
