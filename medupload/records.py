"""Read-side queries shared by the REST API and the Reflex UI: one definition of what a patient's
documents, a document's detail, the requirement status and the stage timings are.

Plain functions returning pydantic models; each opens its own short session. No access checks
here: callers (API dependencies, UI state) decide who may ask for which patient.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import col, select

from medupload.db import session_scope
from medupload.models import Document, Fact, Patient, ProgramEnrollment, ProgressEventRow, RequirementMatch
from medupload.progress.stages import STEP_LABELS, STEPS, DocumentStatus, ProgressEvent, Stage
from medupload.schemas import DocumentOut

log = logging.getLogger(__name__)

DOCUMENT_STATUSES = tuple(DocumentStatus)


class FactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    document_id: str
    kind: str
    concept: str
    code: str | None
    system: str | None
    text: str
    start: int
    end: int
    value: str | None
    unit: str | None
    route: str | None
    frequency: str | None
    date: str | None
    section: str | None
    negated: bool
    historical: bool
    family: bool
    hypothetical: bool
    uncertain: bool
    confidence: float
    status: str = "extracted"  # extracted | confirmed | corrected | rejected | added
    origin: str = "extracted"  # extracted | added
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    previous: list[dict[str, Any]] | None = None
    page: int | None = None  # where the evidence is: page number, and box [x, y, w, h] as
    bbox: list[float] | None = None  # shares 0..1 of the page image; None when not known


class MatchOut(BaseModel):
    """One requirement's latest outcome for a patient, with the evidence that decided it."""

    model_config = ConfigDict(from_attributes=True)

    requirement_id: str
    program: str
    title: str
    state: str  # satisfied | missing | expired | needs_review
    document_id: str | None = None
    fact_id: int | None = None
    evidence_date: str | None = None
    evidence: dict[str, Any] | None = None
    updated_at: datetime | None = None


class RequirementOut(MatchOut):
    fact: FactOut | None = None


class DocumentDetail(DocumentOut):
    """A document with its progress events (oldest first), facts and the matches it decided."""

    events: list[ProgressEvent] = Field(default_factory=list)
    facts: list[FactOut] = Field(default_factory=list)
    matches: list[MatchOut] = Field(default_factory=list)


class StageStat(BaseModel):
    """Seconds spent reaching ``stage`` from the step before it (``total``: upload to done)."""

    stage: str
    label: str
    count: int
    p50_seconds: float | None
    p90_seconds: float | None


def event_from_row(row: ProgressEventRow) -> ProgressEvent:
    return ProgressEvent(
        patient_id=row.patient_id, document_id=row.document_id, seq=row.seq, stage=Stage(row.stage),
        code=row.code, detail=row.detail, fraction=row.fraction, at=row.at, elapsed_ms=row.elapsed_ms,
        failed_stage=Stage(row.failed_stage) if row.failed_stage else None,
    )


def patient_exists(patient_id: str) -> bool:
    with session_scope() as session:
        return session.get(Patient, patient_id) is not None


def list_documents(patient_id: str, limit: int = 500) -> list[DocumentOut]:
    """A patient's documents, newest first, each with when staff last reviewed one of its findings."""
    with session_scope() as session:
        rows = session.exec(
            select(Document).where(Document.patient_id == patient_id)
            .order_by(col(Document.created_at).desc()).limit(limit)
        ).all()
        reviewed = dict(session.exec(
            select(Fact.document_id, func.max(Fact.reviewed_at))
            .where(Fact.patient_id == patient_id, Fact.status != "extracted")
            .group_by(col(Fact.document_id))).all())
        out = [DocumentOut.from_row(row) for row in rows]
    for document in out:
        document.reviewed_at = _utc(reviewed.get(document.id))
    return out


def _utc(value: datetime | None) -> datetime | None:
    # An aggregate bypasses the column type, so SQLite's naive timestamps need their zone here.
    if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
        return value
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def get_document(patient_id: str, document_id: str) -> DocumentOut | None:
    with session_scope() as session:
        row = session.get(Document, document_id)
        if row is None or row.patient_id != patient_id:
            return None
        return DocumentOut.from_row(row)


def document_detail(patient_id: str, document_id: str) -> DocumentDetail | None:
    """None when the document does not exist or belongs to another patient."""
    with session_scope() as session:
        row = session.get(Document, document_id)
        if row is None or row.patient_id != patient_id:
            return None
        events = session.exec(select(ProgressEventRow).where(ProgressEventRow.document_id == document_id)
                              .order_by(col(ProgressEventRow.seq))).all()
        facts = session.exec(select(Fact).where(Fact.document_id == document_id)
                             .order_by(col(Fact.start), col(Fact.id))).all()
        matches = session.exec(
            select(RequirementMatch).where(RequirementMatch.patient_id == patient_id,
                                           RequirementMatch.document_id == document_id)
            .order_by(col(RequirementMatch.program), col(RequirementMatch.requirement_id))
        ).all()
        detail = DocumentDetail.model_validate(DocumentOut.from_row(row).model_dump())
        detail.events = [event_from_row(e) for e in events]
        detail.facts = [FactOut.model_validate(f) for f in facts]
        detail.matches = [MatchOut.model_validate(m) for m in matches]
        return detail


def document_events(document_id: str) -> list[ProgressEvent]:
    with session_scope() as session:
        rows = session.exec(select(ProgressEventRow).where(ProgressEventRow.document_id == document_id)
                            .order_by(col(ProgressEventRow.seq))).all()
        return [event_from_row(row) for row in rows]


def patient_events(patient_id: str) -> list[ProgressEvent]:
    """Every stored progress event of a patient's documents, by document then seq."""
    with session_scope() as session:
        rows = session.exec(select(ProgressEventRow).where(ProgressEventRow.patient_id == patient_id)
                            .order_by(col(ProgressEventRow.document_id), col(ProgressEventRow.seq))).all()
        return [event_from_row(row) for row in rows]


def patient_ids() -> list[str]:
    with session_scope() as session:
        return list(session.exec(select(Patient.id).order_by(col(Patient.created_at))).all())


def _program_requirements(program: str) -> list[tuple[str, str]]:
    """(id, title) of a program's requirements; empty if the program file cannot be read."""
    try:
        from medupload.pipeline.matching import load_program

        return [(str(r.id), str(getattr(r, "title", r.id))) for r in load_program(program)]
    except Exception as exc:
        log.warning("requirement set %s unavailable (%s)", program, type(exc).__name__)
        return []


def requirement_status(patient_id: str) -> list[RequirementOut]:
    """Every requirement of the patient's programs with its state and evidence.

    Requirements not yet evaluated (no document processed) are ``missing``.
    """
    with session_scope() as session:
        matches = session.exec(
            select(RequirementMatch).where(RequirementMatch.patient_id == patient_id)).all()
        programs = session.exec(select(ProgramEnrollment.program)
                                .where(ProgramEnrollment.patient_id == patient_id)).all()
        fact_ids = [m.fact_id for m in matches if m.fact_id is not None]
        fact_rows = session.exec(select(Fact).where(col(Fact.id).in_(fact_ids))).all() if fact_ids else []
        facts = {f.id: FactOut.model_validate(f) for f in fact_rows}
    by_key = {(m.program, m.requirement_id): m for m in matches}
    result: list[RequirementOut] = []
    seen: set[tuple[str, str]] = set()
    for program in sorted(programs):
        for requirement_id, title in _program_requirements(program):
            seen.add((program, requirement_id))
            match = by_key.get((program, requirement_id))
            if match is None:
                result.append(RequirementOut(requirement_id=requirement_id, program=program, title=title,
                                             state="missing"))
            else:
                result.append(_requirement_out(match, facts))
    # Outcomes of programs whose file is unavailable, or of a past enrollment, still show.
    result.extend(_requirement_out(m, facts) for key, m in sorted(by_key.items()) if key not in seen)
    return result


def _requirement_out(match: RequirementMatch, facts: dict[int | None, FactOut]) -> RequirementOut:
    out = RequirementOut.model_validate(MatchOut.model_validate(match).model_dump())
    out.fact = facts.get(match.fact_id) if match.fact_id is not None else None
    return out


def documents_by_status(status: str | None = None, patient_id: str | None = None,
                        limit: int = 500) -> list[DocumentOut]:
    """The staff dashboard's list: all patients' documents, newest first, optionally filtered."""
    with session_scope() as session:
        query = select(Document)
        if status is not None:
            query = query.where(Document.status == status)
        if patient_id is not None:
            query = query.where(Document.patient_id == patient_id)
        rows = session.exec(query.order_by(col(Document.updated_at).desc()).limit(limit)).all()
        return [DocumentOut.from_row(row) for row in rows]


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..1) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def stage_stats(limit: int = 200) -> list[StageStat]:
    """p50/p90 seconds per step over the last ``limit`` processed documents.

    For each document the latest attempt counts (events after its last ``upload_received``);
    a step's time runs from the first event of the step before it to its own first event, so
    ``ocr_started`` is the wait in the queue and ``ocr_complete`` the OCR itself.
    """
    with session_scope() as session:
        ids = session.exec(
            select(Document.id).where(Document.status == DocumentStatus.PROCESSED)
            .order_by(col(Document.finished_at).desc()).limit(limit)
        ).all()
        rows = session.exec(
            select(ProgressEventRow).where(col(ProgressEventRow.document_id).in_(list(ids)))
            .order_by(col(ProgressEventRow.document_id), col(ProgressEventRow.seq))
        ).all() if ids else []
    per_document: dict[str, list[ProgressEventRow]] = defaultdict(list)
    for row in rows:
        per_document[row.document_id].append(row)

    durations: dict[str, list[float]] = defaultdict(list)
    for events in per_document.values():
        starts = [i for i, e in enumerate(events) if e.stage == Stage.UPLOAD_RECEIVED.value]
        attempt = events[starts[-1]:] if starts else events
        first: dict[str, datetime] = {}
        for event in attempt:
            first.setdefault(event.stage, event.at)
        for previous, stage in itertools.pairwise(STEPS):
            if previous.value in first and stage.value in first:
                durations[stage.value].append((first[stage.value] - first[previous.value]).total_seconds())
        if STEPS[0].value in first and STEPS[-1].value in first:
            durations["total"].append((first[STEPS[-1].value] - first[STEPS[0].value]).total_seconds())

    labels = {stage.value: label for stage, label in STEP_LABELS.items()} | {"total": "Total"}
    result: list[StageStat] = []
    for stage in [*(s.value for s in STEPS[1:]), "total"]:
        values = durations.get(stage, [])
        p50, p90 = percentile(values, 0.5), percentile(values, 0.9)
        result.append(StageStat(stage=stage, label=labels[stage], count=len(values),
                                p50_seconds=None if p50 is None else round(p50, 3),
                                p90_seconds=None if p90 is None else round(p90, 3)))
    return result
