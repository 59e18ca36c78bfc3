"""The progress vocabulary: stages, the event contract, the user-safe message catalogue, and
``steps()`` — the one function that turns an event list into what the indicator shows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class Stage(StrEnum):
    UPLOAD_RECEIVED = "upload_received"
    OCR_STARTED = "ocr_started"
    OCR_COMPLETE = "ocr_complete"
    ANALYSIS_STARTED = "analysis_started"
    ANALYSIS_COMPLETE = "analysis_complete"
    MATCHING_COMPLETE = "matching_complete"
    FAILED = "failed"


#: The six steps of the indicator, in order (``failed`` is not a step, it marks one).
STEPS: tuple[Stage, ...] = (
    Stage.UPLOAD_RECEIVED,
    Stage.OCR_STARTED,
    Stage.OCR_COMPLETE,
    Stage.ANALYSIS_STARTED,
    Stage.ANALYSIS_COMPLETE,
    Stage.MATCHING_COMPLETE,
)

STEP_LABELS: dict[Stage, str] = {
    Stage.UPLOAD_RECEIVED: "Upload received",
    Stage.OCR_STARTED: "Reading document",
    Stage.OCR_COMPLETE: "Text read",
    Stage.ANALYSIS_STARTED: "Analysing",
    Stage.ANALYSIS_COMPLETE: "Analysis done",
    Stage.MATCHING_COMPLETE: "Checked against requirements",
}

#: Share of the whole job done when each stage is reached (for progress bars).
STAGE_FRACTIONS: dict[Stage, float] = {
    Stage.UPLOAD_RECEIVED: 0.05,
    Stage.OCR_STARTED: 0.10,
    Stage.OCR_COMPLETE: 0.60,
    Stage.ANALYSIS_STARTED: 0.65,
    Stage.ANALYSIS_COMPLETE: 0.90,
    Stage.MATCHING_COMPLETE: 1.0,
}

class DocumentStatus(StrEnum):
    """A document's status, stored and sent as its value (``"processed"``)."""

    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"


#: Where an attempt ends (a retry starts a new one); the others are still in the pipeline.
TERMINAL_STATUSES: frozenset[DocumentStatus] = frozenset({DocumentStatus.PROCESSED, DocumentStatus.FAILED})
IN_FLIGHT_STATUSES: frozenset[DocumentStatus] = frozenset(set(DocumentStatus) - TERMINAL_STATUSES)

#: The message catalogue: code -> user-safe text. Only integers are interpolated; never
#: document text, names, filenames or exception strings. Codes are stable and translatable.
MESSAGES: dict[str, str] = {
    # progress
    "upload.received": "Upload received",
    "upload.duplicate": "This file was already uploaded",
    "ocr.started": "Reading your document",
    "ocr.page": "Reading page {page} of {pages}",
    "ocr.done": "Text read from {pages} page{pages_s}",
    "ocr.text_layer": "Text taken from {pages} page{pages_s}",
    "analysis.started": "Looking for conditions, medications and lab results",
    "analysis.done": "Found {facts} clinical fact{facts_s}",
    "matching.done": "{satisfied} of {requirements} requirements met",
    "retry.requested": "Processing again",
    # errors (the code of a ``failed`` event, and of an API error body)
    "error.unsupported_type": "This file type is not supported. Upload a PDF, PNG, JPEG, TIFF or HEIC file.",
    "error.too_large": "This file is too large. The limit is {limit_mb} MB.",
    "error.too_many_pages": "This document has too many pages. The limit is {limit} pages.",
    "error.image_too_large": "This image is too large to process safely.",
    "error.pdf_encrypted": "This PDF is password-protected. Upload an unprotected copy.",
    "error.unreadable": "This file is empty or damaged and cannot be read.",
    "error.ocr_timeout": "Reading the document took too long.",
    "error.ocr_failed": "The document could not be read.",
    "error.analysis_failed": "The document could not be analysed.",
    "error.matching_failed": "The requirements could not be checked.",
    "error.time_limit": "Processing took too long.",
    "error.interrupted": "Processing was interrupted.",
    "error.internal": "Something went wrong on our side.",
    "error.no_text": (
        "No readable text was found in this document. Photograph it upright, in good light, "
        "filling the frame, then press Retry."
    ),
    # auth and API
    "auth.invalid": "Wrong username or password.",
    "auth.required": "Sign in to continue.",
    "auth.expired": "Your session has expired. Sign in again.",
    "auth.forbidden": "You do not have access to this.",
    "auth.ticket_invalid": "This stream ticket is invalid or already used.",
    "request.invalid": "The request is not valid.",
    "not_found": "Not found.",
    "conflict.processing": "This document is still being processed.",
    "auth.csrf": "This request came from another site and was refused. Use MedUpload's own pages.",
    "error.upload_too_large": "Too much at once: upload at most {files} files of up to {limit_mb} MB each.",
    # sessions (issue 8)
    "auth.revoked": "You have been signed out. Sign in again.",
    "auth.throttled": "Too many sign-in attempts. Try again in {seconds} second{seconds_s}.",
    "stream.too_many": "This account already has {cap} live streams open. Close one and try again.",
    # staff review
    "review.invalid": "This change to a finding is not valid.",
    "review.unknown_concept": "Pick the finding from the vocabulary list.",
    "review.not_processed": "Findings can be reviewed once the document has been read.",
}


def message(code: str, **numbers: int | float) -> str:
    """The catalogue text for ``code``; unknown codes get the generic error text."""
    template = MESSAGES.get(code, MESSAGES["error.internal"])
    safe: dict[str, int | float | str] = {
        key: value for key, value in numbers.items() if isinstance(value, int | float)
    }
    # "{pages} page{pages_s}": the plural ending of each number, so no "1 pages".
    safe.update({f"{key}_s": "" if value == 1 else "s" for key, value in list(safe.items())})
    try:
        return template.format(**safe)
    except (KeyError, IndexError):
        return template.split("{")[0].strip() or MESSAGES["error.internal"]


class ProgressEvent(BaseModel):
    """One step of one document, as stored, streamed and rendered (see DESIGN.md)."""

    patient_id: str
    document_id: str
    seq: int = Field(ge=1)
    stage: Stage
    code: str
    detail: str
    fraction: float = Field(ge=0, le=1)
    at: datetime
    elapsed_ms: int = Field(ge=0)
    failed_stage: Stage | None = None


StepState = Literal["done", "active", "pending", "failed"]


class Step(BaseModel):
    stage: Stage
    label: str
    state: StepState
    detail: str = ""
    at: datetime | None = None
    elapsed_ms: int | None = None


def _step_index(stage: str | None) -> int | None:
    return STEPS.index(Stage(stage)) if stage in _STEP_VALUES else None


_STEP_VALUES = frozenset(step.value for step in STEPS)


def steps(events: Iterable[ProgressEvent], *, status: str | None = None, stage: str | None = None,
          failed_stage: str | None = None) -> list[Step]:
    """The six indicator steps for one document's events (and its row, when the caller has it).

    Events may be duplicated or out of order: they are deduplicated by ``seq`` and sorted.
    Only the latest attempt counts (a retry starts after a ``failed`` event), except that an
    upload once received stays received. A step is ``done`` once it or any later step was
    reached; the step after the last done one is ``active`` while the document runs, or
    ``failed`` if the attempt ended in failure; the rest are ``pending``. A later event
    repairs a missed one, so the indicator never sticks.

    The document row (``status``, ``stage``, ``failed_stage``) is the snapshot that survives lost
    events (Redis down, an expired stream), so every client shows the same indicator: a
    ``processed`` row has every step done; a ``failed`` row whose events show no failure fails
    its ``failed_stage`` (or the step after the last one done); a row still in the pipeline
    whose ``stage`` is further on than its events counts that stage as reached. Events newer
    than the row (a failure it does not know of yet) still win.
    """
    by_seq: dict[int, ProgressEvent] = {}
    for event in events:
        by_seq.setdefault(event.seq, event)
    ordered = [by_seq[seq] for seq in sorted(by_seq)]

    latest = ordered[-1] if ordered else None
    failed = latest is not None and latest.stage is Stage.FAILED
    boundaries = [i for i, e in enumerate(ordered[:-1]) if e.stage is Stage.FAILED]
    attempt = ordered[boundaries[-1] + 1 :] if boundaries else ordered

    first_reached: dict[Stage, ProgressEvent] = {}
    for event in [*(e for e in ordered if e.stage is Stage.UPLOAD_RECEIVED), *attempt]:
        if event.stage is not Stage.FAILED:
            first_reached.setdefault(event.stage, event)
    furthest = max((STEPS.index(stage) for stage in first_reached), default=-1)
    known = furthest  # as far as the events go; steps past it are known from the row alone

    if status == DocumentStatus.PROCESSED:
        furthest, failed = len(STEPS) - 1, False
    elif status == DocumentStatus.FAILED and not failed:
        failed = True
        failed_at = _step_index(failed_stage)
        if failed_at is not None:
            furthest = max(furthest, failed_at - 1)
    elif status in IN_FLIGHT_STATUSES and not failed:
        reached = _step_index(stage)
        if reached is not None:
            furthest = max(furthest, reached)

    if latest is None and furthest < 0 and not failed:  # nothing known yet
        return [Step(stage=s, label=STEP_LABELS[s], state="pending") for s in STEPS]
    result: list[Step] = []
    for index, step in enumerate(STEPS):
        if index <= furthest:
            event = first_reached.get(step, latest if index <= known else None)
            state: StepState = "done"
        elif index == furthest + 1:
            event, state = latest if furthest == known else None, "failed" if failed else "active"
        else:
            result.append(Step(stage=step, label=STEP_LABELS[step], state="pending"))
            continue
        if event is None:
            result.append(Step(stage=step, label=STEP_LABELS[step], state=state))
            continue
        result.append(
            Step(stage=step, label=STEP_LABELS[step], state=state,
                 detail=event.detail, at=event.at, elapsed_ms=event.elapsed_ms)
        )
    return result
