"""Database tables (SQLModel). Ids are opaque strings (``p_…``, ``d_…``): they appear in
URLs and events, so they carry no meaning and no PHI."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from medupload.progress.stages import DocumentStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps come back timezone-aware (UTC) from every database: SQLite keeps no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _ts(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, **kwargs)


class Patient(SQLModel, table=True):
    __tablename__ = "patients"

    id: str = Field(default_factory=lambda: new_id("p"), primary_key=True, max_length=40)
    display_name: str = Field(max_length=200)
    created_at: datetime = _ts()
    # Optional clinic identifiers (``user add --dob --mrn``): staff tell same-named patients apart.
    date_of_birth: date | None = None
    mrn: str | None = Field(default=None, max_length=64, index=True)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=lambda: new_id("u"), primary_key=True, max_length=40)
    username: str = Field(unique=True, index=True, max_length=150)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)  # "patient" | "staff"
    patient_id: str | None = Field(default=None, foreign_key="patients.id", max_length=40)
    disabled: bool = False
    created_at: datetime = _ts()


class ProgramEnrollment(SQLModel, table=True):
    """A patient takes part in a care program whose requirement set (a YAML file) applies."""

    __tablename__ = "program_enrollments"

    patient_id: str = Field(foreign_key="patients.id", primary_key=True, max_length=40)
    program: str = Field(primary_key=True, max_length=64)
    enrolled_at: datetime = _ts()


class Document(SQLModel, table=True):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("patient_id", "sha256", name="uq_documents_patient_sha256"),
        Index("ix_documents_status_updated", "status", "updated_at"),
        Index("ix_documents_patient_created", "patient_id", "created_at"),
        Index("ix_documents_updated", "updated_at"),
    )

    id: str = Field(default_factory=lambda: new_id("d"), primary_key=True, max_length=40)
    patient_id: str = Field(foreign_key="patients.id", max_length=40)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    storage_path: str = Field(max_length=500)
    status: str = Field(default=DocumentStatus.RECEIVED.value, max_length=16)
    stage: str = Field(default="upload_received", max_length=32)
    error_code: str | None = Field(default=None, max_length=64)
    failed_stage: str | None = Field(default=None, max_length=32)
    page_count: int | None = None
    document_type: str | None = Field(default=None, max_length=40)
    document_date: str | None = Field(default=None, max_length=10)
    ocr_confidence: float | None = None
    attempts: int = 0
    last_seq: int = 0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The process that has the document queued or running inline, or runs it in a worker
    # (``host:pid:start``, see pipeline.lease.owner_id); start-up recovers a dead owner's documents.
    owner: str | None = Field(default=None, max_length=120)


class ProgressEventRow(SQLModel, table=True):
    """The durable copy of every progress event (Redis keeps only the last hour)."""

    __tablename__ = "progress_events"
    __table_args__ = (UniqueConstraint("document_id", "seq", name="uq_progress_document_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(foreign_key="documents.id", max_length=40)
    patient_id: str = Field(foreign_key="patients.id", index=True, max_length=40)
    seq: int
    stage: str = Field(max_length=32)
    code: str = Field(max_length=64)
    detail: str = Field(max_length=300)
    fraction: float
    failed_stage: str | None = Field(default=None, max_length=32)
    at: datetime = _ts(index=True)
    elapsed_ms: int


#: A fact's review status: as the pipeline found it, or what a staff member made of it.
FACT_STATUSES: tuple[str, ...] = ("extracted", "confirmed", "corrected", "rejected", "added")


class Fact(SQLModel, table=True):
    __tablename__ = "facts"
    __table_args__ = (Index("ix_facts_status_confidence", "status", "confidence"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(foreign_key="documents.id", index=True, max_length=40)
    patient_id: str = Field(foreign_key="patients.id", index=True, max_length=40)
    kind: str = Field(max_length=16)
    concept: str = Field(max_length=120)
    code: str | None = Field(default=None, max_length=32)
    system: str | None = Field(default=None, max_length=32)
    text: str = Field(max_length=500)
    start: int
    end: int
    value: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=32)
    route: str | None = Field(default=None, max_length=32)
    frequency: str | None = Field(default=None, max_length=64)
    date: str | None = Field(default=None, max_length=10)
    section: str | None = Field(default=None, max_length=64)
    negated: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    uncertain: bool = False
    confidence: float = 1.0
    # Review and provenance: ``origin`` is who first stated the fact (the pipeline or a staff
    # member); ``previous`` lists earlier versions (oldest first) with who changed them and when.
    status: str = Field(default="extracted", max_length=16)
    origin: str = Field(default="extracted", max_length=16)  # extracted | added
    reviewed_by: str | None = Field(default=None, max_length=40)  # a user id
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    previous: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    # Where the evidence is on the document's page images: page number (1-based) and box
    # [x, y, w, h] as shares 0..1 of the page; None when OCR gave no word boxes (or staff added it).
    page: int | None = None
    bbox: list[float] | None = Field(default=None, sa_column=Column(JSON))


class RequirementMatch(SQLModel, table=True):
    """The latest outcome of one requirement for one patient (recomputed after matching)."""

    __tablename__ = "requirement_matches"
    __table_args__ = (Index("ix_requirement_matches_state_updated", "state", "updated_at"),)

    patient_id: str = Field(foreign_key="patients.id", primary_key=True, max_length=40)
    requirement_id: str = Field(primary_key=True, max_length=80)
    program: str = Field(max_length=64)
    title: str = Field(max_length=200)
    state: str = Field(max_length=16)  # satisfied | missing | expired | needs_review
    document_id: str | None = Field(default=None, foreign_key="documents.id", max_length=40)
    fact_id: int | None = Field(default=None, foreign_key="facts.id")
    evidence_date: str | None = Field(default=None, max_length=10)
    evidence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    updated_at: datetime = _ts()


class AuditEntry(SQLModel, table=True):
    """Who did what to which record. Ids only: no PHI in the action or detail."""

    __tablename__ = "audit_entries"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    user_id: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=64)
    patient_id: str | None = Field(default=None, max_length=40, index=True)
    document_id: str | None = Field(default=None, max_length=40)
