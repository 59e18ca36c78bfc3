"""Database reads the pages need, as plain JSON-able dicts for Reflex state.

Everything goes through ``medupload.records`` except reading a patient's stored progress
events, which records does not offer yet (stopgap: one query on ``progress_events``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sqlmodel import col, select

from medupload.db import session_scope
from medupload.models import Patient, ProgressEventRow


def _records() -> ModuleType:
    # Imported on use: records is written alongside the UI and the pages compile without it.
    from medupload import records

    return records


def documents(patient_id: str) -> list[dict[str, Any]]:
    return [doc.model_dump(mode="json") for doc in _records().list_documents(patient_id)]


def events(patient_id: str, document_id: str | None = None) -> list[dict[str, Any]]:
    """The durable copy of the patient's progress events (all documents, or one)."""
    records = _records()
    if document_id is not None:
        return [e.model_dump(mode="json") for e in records.document_events(document_id)]
    query = select(ProgressEventRow).where(ProgressEventRow.patient_id == patient_id)
    with session_scope() as session:
        rows = session.exec(
            query.order_by(col(ProgressEventRow.document_id), col(ProgressEventRow.seq))
        ).all()
        return [records.event_from_row(row).model_dump(mode="json") for row in rows]


def snapshot(patient_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return documents(patient_id), events(patient_id)


def requirements(patient_id: str) -> list[Any]:
    return list(_records().requirement_status(patient_id))


def staff_documents(status: str | None = None, patient_id: str | None = None) -> list[dict[str, Any]]:
    return [doc.model_dump(mode="json") for doc in _records().documents_by_status(status, patient_id)]


def patient_ids() -> list[str]:
    with session_scope() as session:
        return list(session.exec(select(Patient.id).order_by(col(Patient.created_at))).all())


def stage_stats() -> Any:
    return _records().stage_stats()
