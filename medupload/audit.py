"""The audit trail: who did what to which record. One writer for every path (REST routes and
Reflex event handlers both reach it through the pipeline functions that act for a user), and
one reader for staff. Ids only: never filenames, names or text (no PHI in audit rows).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from sqlmodel import col, select

from medupload.db import session_scope
from medupload.models import AuditEntry


class Actor(Protocol):
    """Whoever acts (``auth.Principal`` is one); ``None`` where the system acts (CLI, watchdog)."""

    @property
    def user_id(self) -> str: ...


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_id: str | None
    action: str
    patient_id: str | None
    document_id: str | None


def record(actor: Actor | None, action: str, patient_id: str | None, document_id: str | None = None) -> None:
    """Write one entry. ``action`` is a fixed code such as ``document.upload``."""
    with session_scope() as session:
        session.add(AuditEntry(user_id=actor.user_id if actor is not None else None, action=action,
                               patient_id=patient_id, document_id=document_id))


def trail(patient_id: str, *, limit: int = 100, offset: int = 0) -> list[AuditOut]:
    """A patient's audit entries, newest first."""
    with session_scope() as session:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.patient_id == patient_id)
            .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).offset(offset).limit(limit)
        ).all()
        return [AuditOut.model_validate(row) for row in rows]
