"""The pipeline runner: strings intake, OCR, extraction and matching together and reports progress.

Only this module (and ``worker.py``) does I/O around the stages: it stores files, writes rows and
emits progress events. The same ``process_document`` runs inline (a bounded thread pool in the
web process) or in a Dramatiq worker (``PIPELINE_MODE=queue``).

Idempotent by construction: a re-run (retry, re-delivery after a worker died) replaces the
document's facts and the patient's requirement matches in one transaction each, so nothing is
duplicated. A per-document lease keeps two runs of one document from overlapping.

The OCR text itself is not stored (PHI minimisation): facts keep only their own snippets and
offsets; a retry reads the raw file again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import threading
import time
import unicodedata
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from medupload.db import session_scope
from medupload.models import Document, Fact, Patient, ProgramEnrollment, RequirementMatch
from medupload.pipeline import storage
from medupload.pipeline.intake import IntakeError, SizeLimitedSink, inspect
from medupload.progress.emitter import emit_progress
from medupload.progress.stages import Stage
from medupload.schemas import DocumentOut
from medupload.settings import get_settings

log = logging.getLogger(__name__)

#: A document found stuck this many times is failed (error.interrupted) instead of re-queued:
#: something in it keeps killing the process that reads it.
MAX_ATTEMPTS = 3
LEASE_SECONDS = 15.0
_FACT_FIELDS = (
    "kind",
    "concept",
    "code",
    "system",
    "text",
    "start",
    "end",
    "value",
    "unit",
    "route",
    "frequency",
    "date",
    "section",
    "negated",
    "historical",
    "family",
    "hypothetical",
    "uncertain",
    "confidence",
)
# Limits of the Fact columns (models.py): extraction output is clipped, never rejected.
_FACT_LIMITS = {
    "kind": 16,
    "concept": 120,
    "code": 32,
    "system": 32,
    "text": 500,
    "value": 64,
    "unit": 32,
    "route": 32,
    "frequency": 64,
    "date": 10,
    "section": 64,
}


# --------------------------------------------------------------------------- errors


class UploadRejected(Exception):
    """Intake refused an upload. ``document`` is the kept (failed) document, or None when nothing
    was stored (413). ``code`` is a catalogue code, never exception text."""

    def __init__(
        self, code: str, http_status: int, numbers: dict[str, int], document: DocumentOut | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.http_status = http_status
        self.numbers = numbers
        self.document = document


class DocumentBusy(Exception):
    """Another run holds this document's lease (the queue retries later)."""


class RetryConflict(Exception):
    """Retry asked for a document that is still in the pipeline."""


class _StageFailure(Exception):
    def __init__(self, code: str, stage: Stage) -> None:
        super().__init__(code)
        self.code = code
        self.stage = stage


@dataclass(frozen=True)
class Accepted:
    document: DocumentOut
    duplicate: bool


# --------------------------------------------------------------------------- accept


def clean_filename(filename: str | None) -> str:
    """The base name, without control characters or path parts, at most 255 characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return (name or "upload")[:255]


def receive(chunks: Iterable[bytes]) -> tuple[Path, str, int]:
    """Stream chunks into a size-limited temp file; returns (temp_path, sha256, size)."""
    sink = SizeLimitedSink(storage.incoming_dir(), get_settings().max_upload_bytes)
    with sink:
        try:
            for chunk in chunks:
                sink.write(chunk)
        except IntakeError as exc:
            raise UploadRejected(exc.code, exc.http_status, exc.numbers) from None
        return sink.finish()


async def receive_async(chunks: AsyncIterator[bytes]) -> tuple[Path, str, int]:
    """``receive`` for an async byte stream (the REST route): the disk writes run in a thread."""
    sink = await asyncio.to_thread(SizeLimitedSink, storage.incoming_dir(), get_settings().max_upload_bytes)
    with sink:
        try:
            async for chunk in chunks:
                if chunk:
                    await asyncio.to_thread(sink.write, chunk)
        except IntakeError as exc:
            raise UploadRejected(exc.code, exc.http_status, exc.numbers) from None
        return await asyncio.to_thread(sink.finish)


def accept_upload(patient_id: str, filename: str, chunks: Iterable[bytes]) -> Accepted:
    """Receive, store, dedupe, create the row and emit ``upload_received``.

    Raises UploadRejected: 413 with nothing stored, or 415/422 with the raw file and a failed
    document kept. Does not start processing: call ``confirm_upload`` for a new document.
    """
    temp_path, sha256, size = receive(chunks)
    return register_upload(patient_id, filename, temp_path, sha256, size)


async def accept_upload_async(patient_id: str, filename: str, chunks: AsyncIterator[bytes]) -> Accepted:
    temp_path, sha256, size = await receive_async(chunks)
    return await asyncio.to_thread(register_upload, patient_id, filename, temp_path, sha256, size)


def _find_duplicate(patient_id: str, sha256: str) -> Document | None:
    with session_scope() as session:
        return session.exec(
            select(Document).where(Document.patient_id == patient_id, Document.sha256 == sha256)
        ).first()


def register_upload(patient_id: str, filename: str, temp_path: Path, sha256: str, size: int) -> Accepted:
    """The part of ``accept_upload`` after the bytes are in a temp file."""
    existing = _find_duplicate(patient_id, sha256)
    if existing is not None:
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()
        return Accepted(DocumentOut.from_row(existing, duplicate=True), duplicate=True)

    final = storage.store(temp_path, sha256)
    refusal: IntakeError | None = None
    try:
        inspection = inspect(final)
        content_type, page_count = inspection.content_type, inspection.page_count
    except IntakeError as exc:
        refusal, content_type, page_count = exc, "application/octet-stream", None

    document = Document(
        patient_id=patient_id,
        filename=clean_filename(filename),
        content_type=content_type,
        size=size,
        sha256=sha256,
        storage_path=str(final.relative_to(storage.storage_root())),
        page_count=page_count,
    )
    try:
        with session_scope() as session:
            session.add(document)
    except IntegrityError:
        # The same bytes arrived twice at once: the other request created the row first.
        existing = _find_duplicate(patient_id, sha256)
        if existing is None:
            raise
        return Accepted(DocumentOut.from_row(existing, duplicate=True), duplicate=True)

    emit_progress(document.id, Stage.UPLOAD_RECEIVED, "upload.received")
    if refusal is not None:
        emit_progress(
            document.id, Stage.FAILED, refusal.code, numbers=refusal.numbers, failed_stage=Stage.OCR_STARTED
        )
        log.info("document %s refused at intake: %s", document.id, refusal.code)
        raise UploadRejected(refusal.code, refusal.http_status, refusal.numbers, _document_out(document.id))
    return Accepted(_document_out(document.id), duplicate=False)


def _document_out(document_id: str) -> DocumentOut:
    with session_scope() as session:
        row = session.get(Document, document_id)
        assert row is not None
        return DocumentOut.from_row(row)


# --------------------------------------------------------------------------- dispatch

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_inline_futures: dict[str, Future[str]] = {}


def _inline_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=get_settings().inline_workers, thread_name_prefix="medupload-pipeline"
            )
        return _executor


def confirm_upload(document_id: str) -> None:
    """Start processing: the bounded in-process pool (inline) or a Dramatiq message (queue)."""
    if get_settings().pipeline_mode == "queue":
        from medupload.pipeline.worker import enqueue

        enqueue(document_id)
        return
    with _executor_lock:
        running = _inline_futures.get(document_id)
        if running is not None and not running.done():
            return  # already queued or running in this process
    future = _inline_executor().submit(process_document, document_id)
    with _executor_lock:
        _inline_futures[document_id] = future
    future.add_done_callback(lambda _f: _forget_future(document_id, future))


def _forget_future(document_id: str, future: Future[str]) -> None:
    with _executor_lock:
        if _inline_futures.get(document_id) is future:
            del _inline_futures[document_id]


def wait_inline(document_id: str, timeout: float | None = None) -> str | None:
    """Block until the inline run of a document ends (tests, CLI); None if none is running."""
    with _executor_lock:
        future = _inline_futures.get(document_id)
    return None if future is None else future.result(timeout=timeout)


def shutdown_inline(wait: bool = True) -> None:
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=wait)


# --------------------------------------------------------------------------- lease


_local_leases: set[str] = set()
_local_lock = threading.Lock()
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_RENEW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
)


def lease_key(document_id: str) -> str:
    return get_settings().redis_key(f"doc_lease:{document_id}")


@contextlib.contextmanager
def _lease(document_id: str) -> Iterator[None]:
    """One run per document. In-process in inline mode; in queue mode a Redis key with a short
    TTL, renewed while the run is alive, so a kill -9'ed worker's lease lapses within seconds."""
    with _local_lock:
        if document_id in _local_leases:
            raise DocumentBusy(document_id)
        _local_leases.add(document_id)
    try:
        if get_settings().pipeline_mode != "queue":
            yield
            return
        from medupload.redis_client import sync_redis

        # The holder's pid is in the value: operators (and the kill -9 test) can see who runs it.
        client, key, token = sync_redis(), lease_key(document_id), f"{os.getpid()}:{secrets.token_hex(8)}"
        ttl_ms = int(LEASE_SECONDS * 1000)
        if not client.set(key, token, nx=True, px=ttl_ms):
            raise DocumentBusy(document_id)
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_SECONDS / 4):
                with contextlib.suppress(Exception):
                    client.eval(_RENEW, 1, key, token, ttl_ms)

        renewer = threading.Thread(target=renew, name="medupload-lease", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=2)
            with contextlib.suppress(Exception):
                client.eval(_RELEASE, 1, key, token)
    finally:
        with _local_lock:
            _local_leases.discard(document_id)


# --------------------------------------------------------------------------- processing


class _Deadline:
    """The per-document time limit, checked between pages and stages (cooperative)."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def check(self, stage: Stage) -> None:
        if time.monotonic() > self.end:
            raise _StageFailure("error.time_limit", stage)


def process_document(document_id: str, *, final_attempt: bool = True) -> str:
    """Run OCR, extraction and matching for one document; returns its final status.

    Coded failures end the document as ``failed`` (raw file kept). An unexpected error does the
    same with ``error.internal`` on the final attempt; otherwise it propagates so the queue
    retries. Already processed/failed documents are left alone (duplicate delivery).
    """
    with session_scope() as session:
        document = session.get(Document, document_id)
        if document is None:
            log.warning("document %s does not exist", document_id)
            return "missing"
        if document.status not in ("received", "processing"):
            return document.status
    current = Stage.OCR_STARTED
    try:
        with _lease(document_id):
            _start_attempt(document_id)
            deadline = _Deadline(get_settings().document_time_limit_seconds)
            ocr_result = _run_ocr(document_id, deadline)
            current = Stage.ANALYSIS_STARTED
            run_post_ocr_pipeline(document_id, ocr_result, deadline=deadline)
            return "processed"
    except DocumentBusy:
        if get_settings().pipeline_mode == "queue":
            raise
        return "busy"
    except _StageFailure as failure:
        fail_document(document_id, failure.code, failure.stage)
        return "failed"
    except Exception as exc:
        # Type name only: exception text may quote document content.
        log.error("document %s: unexpected %s during processing", document_id, type(exc).__name__)
        if not final_attempt:
            raise
        fail_document(document_id, "error.internal", current)
        return "failed"


def fail_document(document_id: str, code: str, failed_stage: Stage) -> None:
    """End the current attempt as failed (the raw file and the row stay; retry is possible)."""
    log.info("document %s failed: %s at %s", document_id, code, failed_stage.value)
    try:
        emit_progress(document_id, Stage.FAILED, code, failed_stage=failed_stage)
    except Exception as exc:
        log.error("document %s: could not record failure (%s)", document_id, type(exc).__name__)


def fail_current(document_id: str, code: str) -> None:
    """Fail the document at whatever step it had reached (hard time limit, watchdog)."""
    with session_scope() as session:
        document = session.get(Document, document_id)
        if document is None or document.status in ("processed", "failed"):
            return
        reached = document.stage
    stage = Stage(reached) if reached in set(Stage) else Stage.OCR_STARTED
    if stage in (Stage.UPLOAD_RECEIVED, Stage.FAILED):
        stage = Stage.OCR_STARTED
    fail_document(document_id, code, stage)


def _start_attempt(document_id: str) -> None:
    with session_scope() as session:
        session.execute(
            update(Document)
            .where(col(Document.id) == document_id)
            .values(attempts=col(Document.attempts) + 1, updated_at=datetime.now(UTC))
        )


def _run_ocr(document_id: str, deadline: _Deadline) -> Any:
    from medupload.pipeline.ocr import OcrError, read_document

    with session_scope() as session:
        document = session.get(Document, document_id)
        assert document is not None
        path = storage.storage_root() / document.storage_path
    try:
        inspection = inspect(path)
    except IntakeError as exc:
        raise _StageFailure(exc.code, Stage.OCR_STARTED) from None

    emit_progress(document_id, Stage.OCR_STARTED, "ocr.started")

    def on_page(page: int, pages: int) -> None:
        deadline.check(Stage.OCR_STARTED)
        fraction = 0.10 + 0.50 * min(max(page - 1, 0), pages) / max(pages, 1)
        emit_progress(
            document_id,
            Stage.OCR_STARTED,
            "ocr.page",
            numbers={"page": page, "pages": pages},
            fraction=round(fraction, 4),
        )

    try:
        result = read_document(
            path, inspection.kind, on_page=on_page, page_timeout=get_settings().ocr_page_timeout_seconds
        )
    except OcrError as exc:
        raise _StageFailure(exc.code, Stage.OCR_STARTED) from None
    except _StageFailure:
        raise
    except Exception as exc:
        log.error("document %s: OCR raised %s", document_id, type(exc).__name__)
        raise _StageFailure("error.ocr_failed", Stage.OCR_STARTED) from None
    deadline.check(Stage.OCR_STARTED)

    with session_scope() as session:
        session.execute(
            update(Document)
            .where(col(Document.id) == document_id)
            .values(page_count=result.page_count, ocr_confidence=result.mean_confidence)
        )
    text_layer = bool(result.pages) and all(page.method == "text_layer" for page in result.pages)
    emit_progress(
        document_id,
        Stage.OCR_COMPLETE,
        "ocr.text_layer" if text_layer else "ocr.done",
        numbers={"pages": result.page_count},
    )
    return result


def run_post_ocr_pipeline(
    document_id: str, ocr_result: Any, *, deadline: _Deadline | None = None, today: date | None = None
) -> None:
    """Extraction then matching for a document whose text is read; emits the last three stages.

    Raises _StageFailure for coded failures (``process_document`` turns them into a failed event).
    """
    from medupload.pipeline.extraction import extract

    deadline = deadline or _Deadline(get_settings().document_time_limit_seconds)
    emit_progress(document_id, Stage.ANALYSIS_STARTED, "analysis.started")
    try:
        extraction = extract(ocr_result.text, word_confidences=ocr_result.word_confidences, today=today)
    except Exception as exc:
        log.error("document %s: extraction raised %s", document_id, type(exc).__name__)
        raise _StageFailure("error.analysis_failed", Stage.ANALYSIS_STARTED) from None
    deadline.check(Stage.ANALYSIS_STARTED)
    count = store_facts(document_id, extraction)
    emit_progress(document_id, Stage.ANALYSIS_COMPLETE, "analysis.done", numbers={"facts": count})

    deadline.check(Stage.MATCHING_COMPLETE)
    satisfied, total = _match_and_complete(document_id, today or date.today())
    log.info("document %s processed: %d facts, %d/%d requirements", document_id, count, satisfied, total)


def _fact_values(fact: Any) -> dict[str, Any]:
    data = (
        asdict(fact)
        if is_dataclass(fact)
        else (fact.model_dump() if hasattr(fact, "model_dump") else dict(vars(fact)))
    )
    values = {name: data.get(name) for name in _FACT_FIELDS}
    for name, limit in _FACT_LIMITS.items():
        if isinstance(values[name], str):
            values[name] = values[name][:limit]
    for flag in ("negated", "historical", "family", "hypothetical", "uncertain"):
        values[flag] = bool(values[flag])
    values["confidence"] = float(values["confidence"] if values["confidence"] is not None else 1.0)
    values["value"] = None if values["value"] is None else str(values["value"])[:64]
    return values


def store_facts(document_id: str, extraction: Any) -> int:
    """Replace this document's facts (one transaction) and record its type and date."""
    with session_scope() as session:
        document = session.get(Document, document_id)
        assert document is not None
        # Matches may point at the facts about to go; matching below recomputes them.
        session.execute(delete(RequirementMatch).where(col(RequirementMatch.document_id) == document_id))
        session.execute(delete(Fact).where(col(Fact.document_id) == document_id))
        for fact in extraction.facts:
            session.add(Fact(document_id=document_id, patient_id=document.patient_id, **_fact_values(fact)))
        document.document_type = (extraction.document_type or None) and str(extraction.document_type)[:40]
        document_date = extraction.document_date
        if isinstance(document_date, date):
            document_date = document_date.isoformat()
        document.document_date = document_date[:10] if document_date else None
        session.add(document)
        return len(extraction.facts)


def _match_and_complete(document_id: str, today: date) -> tuple[int, int]:
    from medupload.pipeline.matching import DocumentFacts, evaluate, load_program

    with session_scope() as session:
        document = session.get(Document, document_id)
        assert document is not None
        patient_id = document.patient_id
        # A no-op UPDATE of the patient row takes a write lock (row lock on PostgreSQL, the
        # database lock on SQLite) until commit, so two documents of one patient never
        # interleave their read-evaluate-replace of the matches.
        session.execute(
            update(Patient)
            .where(col(Patient.id) == patient_id)
            .values(display_name=col(Patient.display_name))
        )
        # Every document whose facts are final: processed ones, ones past analysis (another
        # run about to match) and this one. Whoever matches last therefore sees them all.
        documents = session.exec(
            select(Document).where(
                Document.patient_id == patient_id,
                or_(
                    col(Document.id) == document_id,
                    col(Document.status) == "processed",
                    (col(Document.status) == "processing")
                    & (col(Document.stage) == Stage.ANALYSIS_COMPLETE.value),
                ),
            )
        ).all()
        facts_by_doc: dict[str, list[Fact]] = {d.id: [] for d in documents}
        for fact in session.exec(select(Fact).where(col(Fact.document_id).in_(list(facts_by_doc)))).all():
            facts_by_doc[fact.document_id].append(fact)
        bundle = [
            DocumentFacts(
                document_id=d.id,
                document_type=d.document_type,
                document_date=d.document_date,
                ocr_confidence=d.ocr_confidence,
                facts=facts_by_doc[d.id],
            )
            for d in documents
        ]
        programs = session.exec(
            select(ProgramEnrollment.program).where(ProgramEnrollment.patient_id == patient_id)
        ).all()
        try:
            outcomes = [
                outcome for program in programs for outcome in evaluate(load_program(program), bundle, today)
            ]
        except Exception as exc:
            log.error("document %s: matching raised %s", document_id, type(exc).__name__)
            raise _StageFailure("error.matching_failed", Stage.MATCHING_COMPLETE) from None
        session.execute(delete(RequirementMatch).where(col(RequirementMatch.patient_id) == patient_id))
        now = datetime.now(UTC)
        for outcome in outcomes:
            session.add(
                RequirementMatch(
                    patient_id=patient_id,
                    requirement_id=outcome.requirement_id,
                    program=outcome.program,
                    title=outcome.title[:200],
                    state=outcome.state,
                    document_id=outcome.document_id,
                    fact_id=outcome.fact_id,
                    evidence_date=_iso(outcome.evidence_date),
                    evidence=_jsonable(outcome.evidence),
                    updated_at=now,
                )
            )
        satisfied = sum(1 for outcome in outcomes if outcome.state == "satisfied")
    # After commit: on SQLite the emitter's own transaction would wait on the lock held above.
    emit_progress(
        document_id,
        Stage.MATCHING_COMPLETE,
        "matching.done",
        numbers={"satisfied": satisfied, "requirements": len(outcomes)},
    )
    return satisfied, len(outcomes)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def _jsonable(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    elif hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if not isinstance(value, dict):
        value = {"value": value}
    return json.loads(json.dumps(value, default=str))


# --------------------------------------------------------------------------- retry and watchdog


def retry_document(document_id: str) -> DocumentOut:
    """Start a new attempt for a failed (or processed) document. Raises RetryConflict if it is
    still in the pipeline, LookupError if it does not exist."""
    with session_scope() as session:
        claimed = session.execute(
            update(Document)
            .where(col(Document.id) == document_id, col(Document.status).in_(("failed", "processed")))
            .values(status="received", error_code=None, failed_stage=None, updated_at=datetime.now(UTC))
        ).rowcount
        if not claimed:
            if session.get(Document, document_id) is None:
                raise LookupError(document_id)
            raise RetryConflict(document_id)
    # Stage upload_received restarts the indicator: steps() treats what follows a failed event
    # as a new attempt.
    emit_progress(document_id, Stage.UPLOAD_RECEIVED, "retry.requested")
    confirm_upload(document_id)
    return _document_out(document_id)


def default_stuck_after() -> float:
    """Longer than any live run goes without an event (page timeout < document time limit)."""
    return get_settings().document_time_limit_seconds + 60.0


def recover_stuck(older_than_s: float | None = None) -> list[str]:
    """Re-queue documents left in received/processing by a dead process, or fail them with
    error.interrupted after MAX_ATTEMPTS. Returns the ids acted on."""
    older_than_s = default_stuck_after() if older_than_s is None else older_than_s
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    with session_scope() as session:
        stuck = session.exec(
            select(Document).where(
                col(Document.status).in_(("received", "processing")),
                col(Document.updated_at) < cutoff,
            )
        ).all()
    acted: list[str] = []
    for document in stuck:
        if _is_running(document.id):
            continue
        with session_scope() as session:
            # Touch first, so a concurrent watchdog (another worker) skips it.
            touched = session.execute(
                update(Document)
                .where(col(Document.id) == document.id, col(Document.updated_at) < cutoff)
                .values(updated_at=datetime.now(UTC))
            ).rowcount
        if not touched:
            continue
        acted.append(document.id)
        if document.attempts >= MAX_ATTEMPTS:
            fail_current(document.id, "error.interrupted")
        else:
            log.info("document %s stuck in %s; re-queued", document.id, document.status)
            confirm_upload(document.id)
    return acted


def _is_running(document_id: str) -> bool:
    with _local_lock:
        if document_id in _local_leases:
            return True
    if get_settings().pipeline_mode != "queue":
        return False
    try:
        from medupload.redis_client import sync_redis

        return bool(sync_redis().exists(lease_key(document_id)))
    except Exception:
        return True  # cannot tell: leave it for the next round


def start_watchdog(interval_s: float = 60.0, stop: threading.Event | None = None) -> threading.Thread:
    """Run recover_stuck every interval in a daemon thread (web process start-up, workers)."""
    stop = stop or threading.Event()

    def loop() -> None:
        while True:
            try:
                recover_stuck()
            except Exception as exc:
                log.warning("watchdog round failed (%s)", type(exc).__name__)
            if stop.wait(interval_s):
                return

    thread = threading.Thread(target=loop, name="medupload-watchdog", daemon=True)
    thread.start()
    return thread
