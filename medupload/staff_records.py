"""Read-side queries for clinic staff: the dashboard page, the review queue, one patient's record
and audit trail. Shared by the REST API and the Reflex UI, like ``records``.

Every list is one indexed, grouped query (or two merged), never a query per patient or per row,
so the dashboard answers in the same time for 200 patients or 20,000. No access checks here:
callers make sure only staff ask.
"""

from __future__ import annotations

import heapq
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, or_
from sqlmodel import col, select

from medupload.db import session_scope
from medupload.models import AuditEntry, Document, Fact, Patient, ProgramEnrollment, RequirementMatch
from medupload.pipeline.matching import REVIEW_BELOW, load_program
from medupload.records import DOCUMENT_STATUSES
from medupload.schemas import DocumentOut

IN_FLIGHT = ("received", "processing")
StatusFilter = Literal["all", "in_flight", "received", "processing", "processed", "failed"]


class PatientOut(BaseModel):
    id: str
    display_name: str
    date_of_birth: date | None = None
    mrn: str | None = None


class DashboardRow(DocumentOut):
    patient_name: str
    patient_mrn: str | None = None
    patient_dob: date | None = None


class PatientCounts(BaseModel):
    """Requirement outcomes of one patient, counted by state."""

    patient_id: str
    satisfied: int = 0
    missing: int = 0
    expired: int = 0
    needs_review: int = 0

    @property
    def total(self) -> int:
        return self.satisfied + self.missing + self.expired + self.needs_review


class PatientRow(PatientOut):
    """A patient with their requirement outcomes counted (requirements never evaluated are missing)."""

    satisfied: int = 0
    missing: int = 0
    expired: int = 0
    needs_review: int = 0
    total: int = 0


class PatientPage(BaseModel):
    rows: list[PatientRow]
    total: int


class DashboardPage(BaseModel):
    rows: list[DashboardRow]
    total: int  # rows matching the search and status filter
    counts: dict[str, int]  # documents by status (and "in_flight"), matching the search only
    patients: list[PatientCounts]  # requirement counts of the patients on this page


class ReviewItem(BaseModel):
    """Something a person must look at: a ``needs_review`` requirement or a low-confidence fact."""

    key: str  # "r-<patient>-<n>" or "f-<fact id>": stable, for UI ids
    kind: Literal["requirement", "fact"]
    patient_id: str
    patient_name: str
    document_id: str | None
    fact_id: int | None
    requirement_id: str | None
    title: str  # requirement title, or the fact's kind and concept
    confidence: float | None
    since: datetime  # when the document was uploaded: the queue is oldest first


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    total: int


class AuditOut(BaseModel):
    at: datetime
    user_id: str | None
    action: str
    document_id: str | None


def _search(query: Any, q: str) -> Any:
    needle = q.strip()
    if not needle:
        return query
    like = f"%{needle.lower()}%"
    return query.where(or_(func.lower(col(Patient.display_name)).like(like), col(Patient.mrn) == needle,
                           col(Patient.id) == needle))


def dashboard_page(q: str = "", status: StatusFilter = "all", limit: int = 50,
                   offset: int = 0) -> DashboardPage:
    """Documents of every patient, newest activity first, filtered by patient name/MRN and status."""
    with session_scope() as session:
        base = select(Document, Patient.display_name, Patient.mrn, Patient.date_of_birth).join(
            Patient, col(Patient.id) == col(Document.patient_id))
        base = _search(base, q)
        filtered = base
        if status == "in_flight":
            filtered = filtered.where(col(Document.status).in_(IN_FLIGHT))
        elif status != "all":
            filtered = filtered.where(col(Document.status) == status)
        rows = session.exec(filtered.order_by(col(Document.updated_at).desc(), col(Document.id))
                            .limit(limit).offset(offset)).all()
        grouped = select(Document.status, func.count())
        if q.strip():  # the join only when searching: unfiltered counts come from the status index
            grouped = _search(grouped.join(Patient, col(Patient.id) == col(Document.patient_id)), q)
        grouped = grouped.group_by(col(Document.status))
        counts = {name: 0 for name in DOCUMENT_STATUSES} | {str(s): int(n) for s, n in session.exec(grouped)}
        page_patients = sorted({doc.patient_id for doc, *_ in rows})
        patients = _requirement_counts(session, page_patients)
    counts["in_flight"] = sum(counts[s] for s in IN_FLIGHT)
    counts["all"] = sum(counts[s] for s in DOCUMENT_STATUSES)
    total = counts["all" if status == "all" else status]
    return DashboardPage(
        rows=[DashboardRow(**DocumentOut.from_row(doc).model_dump(), patient_name=name, patient_mrn=mrn,
                           patient_dob=dob) for doc, name, mrn, dob in rows],
        total=total, counts=counts, patients=patients)


def _requirement_counts(session: Any, patient_ids: list[str]) -> list[PatientCounts]:
    if not patient_ids:
        return []
    found: dict[str, PatientCounts] = {pid: PatientCounts(patient_id=pid) for pid in patient_ids}
    grouped = session.exec(
        select(RequirementMatch.patient_id, RequirementMatch.state, func.count())
        .where(col(RequirementMatch.patient_id).in_(patient_ids))
        .group_by(col(RequirementMatch.patient_id), col(RequirementMatch.state)))
    for pid, state, n in grouped:
        if state in PatientCounts.model_fields:
            setattr(found[pid], state, int(n))
    return [found[pid] for pid in patient_ids]


def patient_page(q: str = "", limit: int = 50, offset: int = 0) -> PatientPage:
    """Patients by name (then id), searchable by name, MRN or id, with requirement counts: three
    queries whatever the page size (patients, their enrolments, their outcomes grouped by state)."""
    with session_scope() as session:
        query = _search(select(Patient), q)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        patients = session.exec(query.order_by(col(Patient.display_name), col(Patient.id))
                                .limit(limit).offset(offset)).all()
        ids = [p.id for p in patients]
        counts = {c.patient_id: c for c in _requirement_counts(session, ids)}
        enrolments = session.exec(select(ProgramEnrollment.patient_id, ProgramEnrollment.program)
                                  .where(col(ProgramEnrollment.patient_id).in_(ids))).all() if ids else []
    sizes: dict[str, int] = {}
    for pid, program in enrolments:
        try:
            sizes[pid] = sizes.get(pid, 0) + len(load_program(program))
        except KeyError:
            continue
    rows = []
    for patient_row in patients:
        found = counts.get(patient_row.id, PatientCounts(patient_id=patient_row.id))
        total_requirements = max(sizes.get(patient_row.id, 0), found.total)
        decided = found.satisfied + found.expired + found.needs_review
        rows.append(PatientRow(id=patient_row.id, display_name=patient_row.display_name,
                               date_of_birth=patient_row.date_of_birth, mrn=patient_row.mrn,
                               satisfied=found.satisfied, expired=found.expired,
                               needs_review=found.needs_review, missing=total_requirements - decided,
                               total=total_requirements))
    return PatientPage(rows=rows, total=int(total))


def review_queue(limit: int = 50, offset: int = 0, patient_id: str | None = None) -> ReviewPage:
    """Open review items, oldest document first: needs_review requirements, then any
    low-confidence extracted fact that is not already a requirement's evidence under review."""
    window = offset + limit
    with session_scope() as session:
        requirement_filter = [col(RequirementMatch.state) == "needs_review"]
        if patient_id is not None:
            requirement_filter.append(col(RequirementMatch.patient_id) == patient_id)
        requirements = select(RequirementMatch, Document.created_at, Patient.display_name).join(
            Document, col(Document.id) == col(RequirementMatch.document_id)).join(
            Patient, col(Patient.id) == col(RequirementMatch.patient_id)).where(*requirement_filter)
        # Few rows (the needs_review outcomes, from their index): an anti-join on a small set.
        under_review = select(RequirementMatch.fact_id).where(
            col(RequirementMatch.state) == "needs_review", col(RequirementMatch.fact_id).is_not(None))
        # coalesce() keeps the planner off the documents' status index (most documents are
        # processed): it starts from the few low-confidence facts instead, through their index.
        fact_filter = [col(Fact.status) == "extracted", col(Fact.confidence) < REVIEW_BELOW,
                       func.coalesce(col(Document.status), "") == "processed",
                       col(Fact.id).not_in(under_review)]
        if patient_id is not None:
            fact_filter.append(col(Fact.patient_id) == patient_id)
        facts = select(Fact, Document.created_at, Patient.display_name).join(
            Document, col(Document.id) == col(Fact.document_id)).join(
            Patient, col(Patient.id) == col(Fact.patient_id)).where(*fact_filter)
        total = session.exec(select(func.count()).select_from(requirements.subquery())).one() + \
            session.exec(select(func.count()).select_from(facts.subquery())).one()
        requirement_rows = session.exec(requirements.order_by(
            col(Document.created_at), col(RequirementMatch.patient_id), col(RequirementMatch.requirement_id))
            .limit(window)).all()
        fact_rows = session.exec(facts.order_by(col(Document.created_at), col(Fact.id)).limit(window)).all()
    items = heapq.merge(
        (ReviewItem(key=f"r-{m.patient_id}-{m.requirement_id.replace('/', '-')}", kind="requirement",
                    patient_id=m.patient_id, patient_name=name, document_id=m.document_id, fact_id=m.fact_id,
                    requirement_id=m.requirement_id, title=m.title, confidence=None, since=since)
         for m, since, name in requirement_rows),
        (ReviewItem(key=f"f-{f.id}", kind="fact", patient_id=f.patient_id, patient_name=name,
                    document_id=f.document_id, fact_id=f.id, requirement_id=None,
                    title=f"{f.kind}: {f.concept}", confidence=f.confidence, since=since)
         for f, since, name in fact_rows),
        key=lambda item: item.since,
    )
    return ReviewPage(items=list(items)[offset:window], total=int(total))


def patient(patient_id: str) -> PatientOut | None:
    with session_scope() as session:
        row = session.get(Patient, patient_id)
        return None if row is None else PatientOut(id=row.id, display_name=row.display_name,
                                                   date_of_birth=row.date_of_birth, mrn=row.mrn)


def audit_trail(patient_id: str, limit: int = 100) -> list[AuditOut]:
    """The latest audit entries about a patient's record, newest first."""
    with session_scope() as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.patient_id == patient_id)
                            .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
                            .limit(limit)).all()
        return [AuditOut(at=r.at, user_id=r.user_id, action=r.action, document_id=r.document_id)
                for r in rows]


def document_owner(document_id: str) -> str | None:
    """The patient a document belongs to (None if there is no such document)."""
    with session_scope() as session:
        row = session.get(Document, document_id)
        return None if row is None else row.patient_id
