"""``emit_progress()``: the one way a pipeline step reports progress.

One DB transaction (sequence number, event row, document stage/status), then one Redis round
trip (``progress.wire.EMIT_SCRIPT``: XADD the event — plus ``document_update``/``done`` entries
when the status changed — EXPIRE, PUBLISH), then one Langfuse span. Redis and Langfuse failures are logged
(rate-limited, without PHI) and swallowed: progress reporting never breaks the pipeline. DB
errors propagate, because the durable record is the source of truth.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from medupload.db import session_scope
from medupload.metrics import EMIT_FAILURES, STAGE_SECONDS
from medupload.models import Document, ProgressEventRow
from medupload.progress.stages import (
    STAGE_FRACTIONS,
    STEPS,
    TERMINAL_STATUSES,
    DocumentStatus,
    ProgressEvent,
    Stage,
    message,
)
from medupload.progress.wire import EMIT_SCRIPT, STREAM_MAXLEN, emit_args, stream_name
from medupload.redis_client import sync_redis
from medupload.settings import get_settings

log = logging.getLogger(__name__)

# stream_name and STREAM_MAXLEN live in progress.wire (the Redis format); kept importable here.
__all__ = ["STREAM_MAXLEN", "TERMINAL_STATUSES", "emit_progress", "emit_progress_async", "status_for",
           "stream_name"]



def status_for(stage: Stage) -> DocumentStatus:
    if stage is Stage.UPLOAD_RECEIVED:
        return DocumentStatus.RECEIVED
    if stage is Stage.MATCHING_COMPLETE:
        return DocumentStatus.PROCESSED
    if stage is Stage.FAILED:
        return DocumentStatus.FAILED
    return DocumentStatus.PROCESSING


class _RateLimitedWarning:
    """At most one warning per interval per kind, so an outage does not flood the logs."""

    def __init__(self, interval: float = 30.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, exc: BaseException) -> None:
        EMIT_FAILURES.labels(kind).inc()
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -1e9) < self.interval:
                return
            self._last[kind] = now
        # Exception type only: messages of driver errors can echo payloads.
        log.warning("progress %s unavailable (%s); continuing without it", kind, type(exc).__name__)


_warn = _RateLimitedWarning()


def emit_progress(
    document_id: str,
    stage: Stage,
    code: str,
    *,
    numbers: Mapping[str, int] | None = None,
    fraction: float | None = None,
    failed_stage: Stage | None = None,
    row_changed: bool = False,
) -> ProgressEvent | None:
    """Record and publish one progress event; None if the document does not exist.

    ``row_changed``: the caller already changed the row's status (a retry claims a failed document
    by setting it ``received``), so a ``document_update`` goes out although this event changes
    no status: watchers would otherwise keep showing the document as failed."""
    stage = Stage(stage)
    now = datetime.now(UTC)
    new_status = status_for(stage)
    with session_scope() as session:
        # The UPDATE takes the row lock first (PostgreSQL row lock, SQLite write lock), so two
        # emitters for one document get distinct, consecutive seqs and read a settled status.
        row = session.execute(
            update(Document)
            .where(col(Document.id) == document_id)
            .values(last_seq=col(Document.last_seq) + 1)
            .returning(
                col(Document.last_seq), col(Document.patient_id), col(Document.status),
                col(Document.started_at), col(Document.created_at), col(Document.stage),
            )
        ).one_or_none()
        if row is None:
            return None
        seq, patient_id, old_status, started_at, created_at, old_stage = row
        durations = _stage_durations(session, document_id, seq, stage, old_stage, started_at, now)
        values: dict[str, Any] = {"stage": stage.value, "status": new_status, "updated_at": now}
        if stage is Stage.UPLOAD_RECEIVED:
            # A new attempt (first upload or retry) starts the clock and clears the old failure.
            started_at = now
            values.update(started_at=now, finished_at=None, error_code=None, failed_stage=None)
        elif stage is Stage.FAILED:
            values.update(error_code=code, failed_stage=failed_stage.value if failed_stage else None,
                          finished_at=now)
        else:
            values.update(error_code=None, failed_stage=None)
            if stage is Stage.MATCHING_COMPLETE:
                values["finished_at"] = now
        session.execute(update(Document).where(col(Document.id) == document_id).values(**values))
        origin = started_at or created_at or now
        event = ProgressEvent(
            patient_id=patient_id,
            document_id=document_id,
            seq=seq,
            stage=stage,
            code=code,
            detail=message(code, **dict(numbers or {})),
            fraction=STAGE_FRACTIONS.get(stage, 1.0) if fraction is None else fraction,
            at=now,
            elapsed_ms=max(0, int((now - origin).total_seconds() * 1000)),
            failed_stage=failed_stage if stage is Stage.FAILED else None,
        )
        session.add(ProgressEventRow(
            document_id=document_id, patient_id=patient_id, seq=seq, stage=stage.value, code=code,
            detail=event.detail, fraction=event.fraction,
            failed_stage=event.failed_stage.value if event.failed_stage else None,
            at=now, elapsed_ms=event.elapsed_ms,
        ))
        document_json: str | None = None
        if new_status != old_status or row_changed:
            from medupload.schemas import DocumentOut

            session.flush()
            document = session.get(Document, document_id, populate_existing=True)
            assert document is not None
            document_json = DocumentOut.from_row(document).model_dump_json()

    entries: list[tuple[str, str]] = [("progress", event.model_dump_json())]
    if document_json is not None:
        entries.append(("document_update", document_json))
        if new_status in TERMINAL_STATUSES:
            entries.append(("done", json.dumps({"document_id": document_id, "status": new_status})))
    for label, seconds in durations:  # committed: the step was reached
        STAGE_SECONDS.labels(label).observe(seconds)
    _publish(patient_id, entries)
    try:
        from medupload.progress.tracing import trace_progress

        trace_progress(event)
    except Exception as exc:
        _warn("tracing", exc)
    return event


def _stage_durations(session: Session, document_id: str, seq: int, stage: Stage, old_stage: str | None,
                     started_at: datetime | None, now: datetime) -> list[tuple[str, float]]:
    """(stage, seconds) to observe when ``stage`` is first reached in this attempt: the time since
    the step before it was first reached (as ``records.stage_stats`` measures), and ``total`` at
    the end. One indexed read per step, none for repeated events of the same step."""
    if stage not in STEPS[1:] or stage.value == old_stage:
        return []
    previous = STEPS[STEPS.index(stage) - 1]
    table = ProgressEventRow
    attempt_start = (select(func.max(table.seq))
                     .where(table.document_id == document_id, table.stage == Stage.UPLOAD_RECEIVED.value,
                            table.seq < seq).scalar_subquery())
    reached = session.exec(
        select(func.min(table.at)).where(table.document_id == document_id, table.stage == previous.value,
                                         table.seq >= func.coalesce(attempt_start, 0))
    ).one()
    durations = []
    if reached is not None:
        durations.append((stage.value, (now - _aware(reached)).total_seconds()))
    if stage is Stage.MATCHING_COMPLETE and started_at is not None:
        durations.append(("total", (now - _aware(started_at)).total_seconds()))
    return [(label, max(0.0, seconds)) for label, seconds in durations]


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes: ours are stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def publish_requirements_update(patient_id: str) -> None:
    """Tell the patient's followers that their requirement outcomes changed (a staff review).
    Ids only: readers load the list from the database, so no clinical values enter Redis."""
    _publish(patient_id, [("requirements_update", json.dumps({"patient_id": patient_id}))])


def _publish(patient_id: str, entries: list[tuple[str, str]]) -> None:
    key = stream_name(patient_id)
    try:
        _script()(keys=[key, key], args=emit_args(entries, get_settings().event_ttl_seconds))
    except Exception as exc:
        _warn("redis", exc)


_script_cache: dict[int, Any] = {}


def _script() -> Any:
    # register_script keeps the SHA and falls back from EVALSHA to EVAL on NOSCRIPT.
    client = sync_redis()
    script = _script_cache.get(id(client))
    if script is None:
        _script_cache.clear()
        script = _script_cache[id(client)] = client.register_script(EMIT_SCRIPT)
    return script


async def emit_progress_async(
    document_id: str,
    stage: Stage,
    code: str,
    *,
    numbers: Mapping[str, int] | None = None,
    fraction: float | None = None,
    failed_stage: Stage | None = None,
) -> ProgressEvent | None:
    """``emit_progress`` from async code: the blocking DB and Redis work runs in a thread."""
    return await asyncio.to_thread(
        emit_progress, document_id, stage, code, numbers=numbers, fraction=fraction,
        failed_stage=failed_stage,
    )
