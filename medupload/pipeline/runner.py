"""Processing a document: OCR, extraction and matching strung together, with progress events;
failing and retrying it. Recovering what a dead process left behind is ``recovery.py``.

The stages are plain functions (``intake``, ``ocr``, ``extraction``, ``matching``); this module
does the I/O around them: it writes rows and emits progress events. Accepting an upload is
``accept.py``, the per-document lease ``lease.py``, and where a run happens (inline pool or
Dramatiq) ``dispatch.py``.

Idempotent by construction: a re-run (retry, re-delivery after a worker died) replaces the
document's facts and the patient's requirement matches in one transaction each, so nothing is
duplicated. The lease keeps two runs of one document from overlapping.

The OCR text itself is not stored (PHI minimisation): facts keep only their own snippets and
offsets; a retry reads the raw file again.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, update
from sqlmodel import col, select

from medupload import audit
from medupload.audit import Actor
from medupload.db import session_scope
from medupload.models import Document, Fact, RequirementMatch
from medupload.pipeline import dispatch, storage
from medupload.pipeline.accept import document_out
from medupload.pipeline.intake import IntakeError, inspect
from medupload.pipeline.lease import DocumentBusy, lease, owner_id
from medupload.pipeline.transient import TransientFault, is_transient, retrying
from medupload.pipeline.wordboxes import WordBox, locate
from medupload.progress.emitter import emit_progress
from medupload.progress.stages import IN_FLIGHT_STATUSES, TERMINAL_STATUSES, DocumentStatus, Stage
from medupload.schemas import DocumentOut
from medupload.settings import get_settings

if TYPE_CHECKING:
    # Heavy (spaCy, tesseract bindings): imported when a document is processed, not at start-up.
    from medupload.pipeline.extraction import ExtractedFact, Extraction
    from medupload.pipeline.ocr import OcrResult

log = logging.getLogger(__name__)

#: A document found stuck this many times is failed (error.interrupted) instead of re-queued:
#: something in it keeps killing the process that reads it.
MAX_ATTEMPTS = 3
_FACT_FIELDS = (
    "kind", "concept", "code", "system", "text", "start", "end", "value", "unit", "route", "frequency",
    "date", "section", "negated", "historical", "family", "hypothetical", "uncertain", "confidence",
)
# Limits of the Fact columns (models.py): extraction output is clipped, never rejected.
_FACT_LIMITS = {"kind": 16, "concept": 120, "code": 32, "system": 32, "text": 500, "value": 64,
                "unit": 32, "route": 32, "frequency": 64, "date": 10, "section": 64}


class RetryConflict(Exception):
    """Retry asked for a document that is still in the pipeline."""


class _StageFailure(Exception):
    def __init__(self, code: str, stage: Stage) -> None:
        super().__init__(code)
        self.code = code
        self.stage = stage


def _emit(document_id: str, stage: Stage, code: str, **kwargs: Any) -> None:
    """A progress write of a run: retried through transient faults (``transient.retrying``)."""
    retrying(emit_progress, document_id, stage, code, **kwargs)


def confirm_upload(document_id: str) -> None:
    """Start processing an accepted document: the inline pool or a Dramatiq message (one setting)."""
    # Inline, this process holds the document until it has run; queued, the durable queue does.
    inline = get_settings().pipeline_mode != "queue"
    retrying(_set_owner, document_id, owner_id() if inline else None)
    dispatch.start(document_id, process_document)


def _set_owner(document_id: str, owner: str | None) -> None:
    with session_scope() as session:
        session.execute(update(Document).where(col(Document.id) == document_id).values(owner=owner))


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
    retries. A transient fault (database locked, Redis blip) that outlasts its retries always
    propagates: the queue or the watchdog runs the document again, it is not failed.
    Already processed/failed documents are left alone (duplicate delivery).
    """
    with session_scope() as session:
        document = session.get(Document, document_id)
        if document is None:
            log.warning("document %s does not exist", document_id)
            return "missing"
        if document.status not in IN_FLIGHT_STATUSES:
            return document.status
    current = Stage.OCR_STARTED
    try:
        with lease(document_id):
            retrying(_start_attempt, document_id)
            deadline = _Deadline(get_settings().document_time_limit_seconds)
            ocr_result = _run_ocr(document_id, deadline)
            current = Stage.ANALYSIS_STARTED
            run_post_ocr_pipeline(document_id, ocr_result, deadline=deadline)
            return DocumentStatus.PROCESSED
    except DocumentBusy:
        if get_settings().pipeline_mode == "queue":
            raise
        return "busy"
    except _StageFailure as failure:
        fail_document(document_id, failure.code, failure.stage)
        return DocumentStatus.FAILED
    except Exception as exc:
        # Type name only: exception text may quote document content.
        if is_transient(exc):
            log.warning("document %s: transient %s persisted; left for a later run", document_id,
                        type(exc).__name__)
            raise TransientFault(type(exc).__name__) from None
        log.error("document %s: unexpected %s during processing", document_id, type(exc).__name__)
        if not final_attempt:
            raise
        fail_document(document_id, "error.internal", current)
        return DocumentStatus.FAILED


def fail_document(document_id: str, code: str, failed_stage: Stage) -> None:
    """End the current attempt as failed (the raw file and the row stay; retry is possible)."""
    log.info("document %s failed: %s at %s", document_id, code, failed_stage.value)
    try:
        _emit(document_id, Stage.FAILED, code, failed_stage=failed_stage)
    except Exception as exc:
        log.error("document %s: could not record failure (%s)", document_id, type(exc).__name__)


def fail_current(document_id: str, code: str) -> None:
    """Fail the document at whatever step it had reached (hard time limit, watchdog)."""
    with session_scope() as session:
        document = session.get(Document, document_id)
        if document is None or document.status in TERMINAL_STATUSES:
            return
        reached = document.stage
    stage = Stage(reached) if reached in set(Stage) else Stage.OCR_STARTED
    if stage in (Stage.UPLOAD_RECEIVED, Stage.FAILED):
        stage = Stage.OCR_STARTED
    fail_document(document_id, code, stage)


def _start_attempt(document_id: str) -> None:
    with session_scope() as session:
        session.execute(update(Document).where(col(Document.id) == document_id)
                        .values(attempts=col(Document.attempts) + 1, owner=owner_id(),
                                updated_at=datetime.now(UTC)))


def _run_ocr(document_id: str, deadline: _Deadline) -> OcrResult:
    from medupload.pipeline.ocr import OcrError, read_document

    with session_scope() as session:
        document = session.get(Document, document_id)
        assert document is not None
        path = storage.storage_root() / document.storage_path
    try:
        inspection = inspect(path)
    except IntakeError as exc:
        raise _StageFailure(exc.code, Stage.OCR_STARTED) from None

    _emit(document_id, Stage.OCR_STARTED, "ocr.started")

    # The page callback is ours, not OCR: what it raises (the time limit, a transient fault of
    # the progress write) is re-raised as it is, however the OCR code passed it on.
    ours: list[Exception] = []

    def on_page(page: int, pages: int) -> None:
        fraction = 0.10 + 0.50 * min(max(page - 1, 0), pages) / max(pages, 1)
        try:
            deadline.check(Stage.OCR_STARTED)
            _emit(document_id, Stage.OCR_STARTED, "ocr.page", numbers={"page": page, "pages": pages},
                  fraction=round(fraction, 4))
        except Exception as exc:
            ours.append(exc)
            raise

    try:
        result = read_document(path, inspection.kind, on_page=on_page,
                               page_timeout=get_settings().ocr_page_timeout_seconds)
    except Exception as exc:
        if ours:
            raise ours[0] from None
        if isinstance(exc, OcrError):
            raise _StageFailure(exc.code, Stage.OCR_STARTED) from None
        log.error("document %s: OCR raised %s", document_id, type(exc).__name__)
        raise _StageFailure("error.ocr_failed", Stage.OCR_STARTED) from None
    deadline.check(Stage.OCR_STARTED)

    retrying(_record_ocr, document_id, result)
    text_layer = bool(result.pages) and all(page.method == "text_layer" for page in result.pages)
    _emit(document_id, Stage.OCR_COMPLETE, "ocr.text_layer" if text_layer else "ocr.done",
                  numbers={"pages": result.page_count})
    return result


def _record_ocr(document_id: str, result: OcrResult) -> None:
    with session_scope() as session:
        session.execute(update(Document).where(col(Document.id) == document_id).values(
            page_count=result.page_count, ocr_confidence=result.mean_confidence))


def run_post_ocr_pipeline(document_id: str, ocr_result: OcrResult, *, deadline: _Deadline | None = None,
                          today: date | None = None) -> None:
    """Extraction then matching for a document whose text is read; emits the last three stages.

    Raises _StageFailure for coded failures (``process_document`` turns them into a failed event).
    """
    from medupload.pipeline.extraction import extract

    deadline = deadline or _Deadline(get_settings().document_time_limit_seconds)
    _emit(document_id, Stage.ANALYSIS_STARTED, "analysis.started")
    try:
        extraction = extract(ocr_result.text, word_confidences=ocr_result.word_confidences, today=today)
    except Exception as exc:
        log.error("document %s: extraction raised %s", document_id, type(exc).__name__)
        raise _StageFailure("error.analysis_failed", Stage.ANALYSIS_STARTED) from None
    deadline.check(Stage.ANALYSIS_STARTED)
    count = retrying(store_facts, document_id, extraction, ocr_result.word_boxes)
    _emit(document_id, Stage.ANALYSIS_COMPLETE, "analysis.done", numbers={"facts": count})

    deadline.check(Stage.MATCHING_COMPLETE)
    satisfied, total = retrying(_match, document_id, today or date.today())
    # After the matching transaction: on SQLite this write would wait on the lock it held.
    _emit(document_id, Stage.MATCHING_COMPLETE, "matching.done",
          numbers={"satisfied": satisfied, "requirements": total})
    log.info("document %s processed: %d facts, %d/%d requirements", document_id, count, satisfied, total)


def _fact_values(fact: ExtractedFact) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(fact, name) for name in _FACT_FIELDS}
    for name, limit in _FACT_LIMITS.items():
        if isinstance(values[name], str):
            values[name] = values[name][:limit]
    for flag in ("negated", "historical", "family", "hypothetical", "uncertain"):
        values[flag] = bool(values[flag])
    values["confidence"] = float(values["confidence"] if values["confidence"] is not None else 1.0)
    values["value"] = None if values["value"] is None else str(values["value"])[:64]
    return values


def store_facts(document_id: str, extraction: Extraction, word_boxes: list[WordBox] | None = None) -> int:
    """Replace this document's machine facts (one transaction) and record its type and date.
    Each fact gets its place on the page images from ``word_boxes`` (OCR's) when they cover it.

    What staff said survives a re-run (retry, re-delivery): reviewed, rejected and added facts are
    kept, and a newly extracted fact at the same place as a kept one is not added again (so a
    rejected finding stays rejected and a correction is not undone)."""
    with session_scope() as session:
        document = session.get(Document, document_id)
        assert document is not None
        # Matches may point at the facts about to go; matching below recomputes them.
        session.execute(delete(RequirementMatch).where(col(RequirementMatch.document_id) == document_id))
        session.execute(delete(Fact).where(col(Fact.document_id) == document_id,
                                           col(Fact.status) == "extracted"))
        kept = {(f.kind, f.start, f.end) for f in session.exec(select(Fact).where(
            col(Fact.document_id) == document_id, col(Fact.origin) == "extracted")).all()}
        for fact in extraction.facts:
            if (fact.kind, fact.start, fact.end) not in kept:
                found = locate(word_boxes or [], fact.start, fact.end)
                session.add(Fact(document_id=document_id, patient_id=document.patient_id,
                                 page=found[0] if found else None, bbox=list(found[1]) if found else None,
                                 **_fact_values(fact)))
        document.document_type = extraction.document_type[:40] or None
        document.document_date = extraction.document_date[:10] if extraction.document_date else None
        session.add(document)
        return len(extraction.facts)


def _match(document_id: str, today: date) -> tuple[int, int]:
    """Re-evaluate the patient's requirements over every document with final facts, staff review
    applied (one transaction); returns (satisfied, total)."""
    from medupload.pipeline.requirements import rematch_patient

    with session_scope() as session:
        document = session.get(Document, document_id)
        assert document is not None
        try:
            outcomes = rematch_patient(session, document.patient_id, today, document_id=document_id)
        except Exception as exc:
            log.error("document %s: matching raised %s", document_id, type(exc).__name__)
            raise _StageFailure("error.matching_failed", Stage.MATCHING_COMPLETE) from None
        satisfied = sum(1 for outcome in outcomes if outcome.state == "satisfied")
    return satisfied, len(outcomes)


def retry_document(document_id: str, *, actor: Actor | None = None) -> DocumentOut:
    """Start a new attempt for a failed (or processed) document, audited for ``actor`` (also when
    refused). Raises RetryConflict if it is still in the pipeline, LookupError if it does not exist."""
    with session_scope() as session:
        claimed = session.execute(
            update(Document)
            .where(col(Document.id) == document_id, col(Document.status).in_(tuple(TERMINAL_STATUSES)))
            .values(status=DocumentStatus.RECEIVED, error_code=None, failed_stage=None,
                    updated_at=datetime.now(UTC))
        ).rowcount
        row = session.get(Document, document_id)
        if row is None:
            raise LookupError(document_id)
        patient_id = row.patient_id
    if not claimed:
        audit.record(actor, "document.retry_refused", patient_id, document_id)
        raise RetryConflict(document_id)
    audit.record(actor, "document.retry", patient_id, document_id)
    # Stage upload_received restarts the indicator: steps() treats what follows a failed event
    # as a new attempt.
    emit_progress(document_id, Stage.UPLOAD_RECEIVED, "retry.requested", row_changed=True)
    confirm_upload(document_id)
    return document_out(document_id)
