"""FHIR R4 ``DocumentReference`` for a document: a pure mapping, no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from medupload.progress.stages import DocumentStatus
from medupload.schemas import DocumentOut

#: Our document types -> LOINC document ontology codes (the common clinical note kinds).
LOINC_DOCUMENT_TYPES: dict[str, tuple[str, str]] = {
    "lab_report": ("11502-2", "Laboratory report"),
    "discharge_summary": ("18842-5", "Discharge summary"),
    "progress_note": ("11506-3", "Progress note"),
    "consult_note": ("11488-4", "Consult note"),
    "history_and_physical": ("34117-2", "History and physical note"),
    "imaging_report": ("18748-4", "Diagnostic imaging study"),
    "radiology_report": ("18748-4", "Diagnostic imaging study"),
    "pathology_report": ("11526-1", "Pathology study"),
    "operative_note": ("11504-8", "Surgical operation note"),
    "procedure_note": ("28570-0", "Procedure note"),
    "medication_list": ("10160-0", "History of Medication use Narrative"),
    "prescription": ("57833-6", "Prescription for medication"),
    "immunization_record": ("11369-6", "History of Immunization Narrative"),
    "referral": ("57133-1", "Referral note"),
    "referral_letter": ("57133-1", "Referral note"),
    "letter": ("34140-4", "Provider-unspecified letter"),
    "emergency_note": ("34111-5", "Emergency department note"),
}


def _loinc_for(document_type: str | None) -> tuple[str, str] | None:
    if not document_type:
        return None
    key = re.sub(r"[^a-z0-9]+", "_", document_type.lower()).strip("_")
    return LOINC_DOCUMENT_TYPES.get(key)


def fhir_id(our_id: str) -> str:
    """FHIR ids allow ``[A-Za-z0-9-.]{1,64}``: ours (``d_<hex>``, ``p_<hex>``) with "-" for "_"; the
    original is always given alongside as an identifier."""
    return our_id.replace("_", "-")


def _instant(value: datetime) -> str:
    # FHIR instants need a zone: a value without one (not from our tables) is taken as UTC.
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()


def document_reference(document: DocumentOut, sha1_base64: str | None) -> dict[str, Any]:
    """FHIR R4 DocumentReference. ``attachment.hash`` is base64 SHA-1 as FHIR R4 defines it (the
    caller computes it from the kept raw file); our SHA-256 is given as an identifier."""
    docstatus = {DocumentStatus.PROCESSED: "final"}.get(document.status, "preliminary")
    type_: dict[str, Any] = {"text": document.document_type or "Unknown"}
    loinc = _loinc_for(document.document_type)
    if loinc is not None:
        type_["coding"] = [{"system": "http://loinc.org", "code": loinc[0], "display": loinc[1]}]
    attachment: dict[str, Any] = {
        "contentType": document.content_type,
        "size": document.size,
        "title": document.filename,
    }
    if sha1_base64 is not None:
        attachment["hash"] = sha1_base64
    if document.document_date:
        attachment["creation"] = document.document_date
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": fhir_id(document.id),
        "meta": {"lastUpdated": _instant(document.updated_at)},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:sha256:{document.sha256}"},
                       {"system": "urn:medupload:document", "value": document.id}],
        "status": "current",
        "docStatus": docstatus,
        "type": type_,
        "subject": {"reference": f"Patient/{fhir_id(document.patient_id)}", "type": "Patient",
                    "identifier": {"system": "urn:medupload:patient", "value": document.patient_id}},
        "date": _instant(document.created_at),
        "content": [{"attachment": attachment}],
    }
    if document.document_date:
        resource["context"] = {"period": {"start": document.document_date}}
    return resource
