"""Read models shared by the API, the progress notices and the UI (plain pydantic)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from medupload.models import Document


class DocumentOut(BaseModel):
    """A document as every client sees it (DESIGN.md). No storage path, no PHI beyond the
    patient's own filename, which only the patient and staff can read."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    patient_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    status: str
    stage: str
    error_code: str | None
    failed_stage: str | None = None
    page_count: int | None
    document_type: str | None
    document_date: str | None = None  # ISO date found in the document, once analysed
    created_at: datetime
    updated_at: datetime
    duplicate: bool = False
    reviewed_at: datetime | None = None  # when clinic staff last reviewed a finding (in lists)

    @classmethod
    def from_row(cls, row: Document, *, duplicate: bool = False) -> DocumentOut:
        out = cls.model_validate(row)
        out.duplicate = duplicate
        return out
