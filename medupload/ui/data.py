"""The reads the pages need, from ``medupload.records``, as JSON-able dicts for Reflex state."""

from __future__ import annotations

from typing import Any

from medupload import records


def documents(patient_id: str) -> list[dict[str, Any]]:
    return [doc.model_dump(mode="json") for doc in records.list_documents(patient_id)]


def events(patient_id: str, document_id: str | None = None) -> list[dict[str, Any]]:
    """The durable copy of the patient's progress events (all documents, or one)."""
    rows = records.patient_events(patient_id) if document_id is None else records.document_events(document_id)
    return [event.model_dump(mode="json") for event in rows]


def snapshot(patient_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return documents(patient_id), events(patient_id)


def requirements(patient_id: str) -> list[records.RequirementOut]:
    return records.requirement_status(patient_id)


def stage_stats() -> list[records.StageStat]:
    return records.stage_stats()
