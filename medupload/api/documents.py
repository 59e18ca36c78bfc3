"""Documents: upload (streamed), list, detail, retry, FHIR view, requirement status; staff lists
and stage timings. The heavy lifting is ``pipeline.runner`` (writes) and ``records`` (reads)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.convertors import Convertor, register_url_convertor

from medupload import records
from medupload.api.deps import PatientAccessDep, StaffDep
from medupload.api.errors import ApiError
from medupload.auth import Principal
from medupload.db import session_scope
from medupload.models import AuditEntry, Patient
from medupload.pipeline import runner, storage
from medupload.schemas import DocumentOut
from medupload.settings import get_settings

router = APIRouter(tags=["documents"])

# Multipart framing around the file: boundaries and part headers. A body this much larger than
# the upload limit is refused from its Content-Length alone, before a byte is read.
_MULTIPART_OVERHEAD = 64 * 1024
_FILE_FIELD = "file"


class _DocumentIdConvertor(Convertor[str]):
    """Document ids only (``d_…``), so ``/documents/stream`` can never be taken for a document."""

    regex = "d_[A-Za-z0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("docid", _DocumentIdConvertor())

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not this patient's record (`auth.forbidden`)"},
    404: {"description": "No such patient or document (`not_found`)"},
}


# --------------------------------------------------------------------------- helpers


def _audit(principal: Principal, action: str, patient_id: str, document_id: str | None = None) -> None:
    with session_scope() as session:
        session.add(AuditEntry(user_id=principal.user_id, action=action, patient_id=patient_id,
                               document_id=document_id))


def _patient_exists(patient_id: str) -> bool:
    with session_scope() as session:
        return session.get(Patient, patient_id) is not None


class _MultipartFile:
    """Streams the ``file`` part out of a multipart body as it arrives: nothing is buffered beyond
    one network chunk, so the size limit cuts an oversized upload off early."""

    def __init__(self, content_type: str) -> None:
        ctype, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise ApiError(422, "request.invalid", {"fields": ["body.file"]})
        self.filename: str | None = None
        self.found = False
        self._in_file = False
        self._done = False
        self._out: list[bytes] = []
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        })

    def _part_begin(self) -> None:
        self._headers, self._field, self._value = {}, b"", b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("latin-1")
        # The first part named "file" carrying a filename is the upload; others are ignored.
        if name == _FILE_FIELD and b"filename" in params and not self.found and not self._done:
            self.found = self._in_file = True
            self.filename = params[b"filename"].decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._out.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file, self._done = False, True

    async def chunks(self, request: Request) -> AsyncIterator[bytes]:
        try:
            async for chunk in request.stream():
                self._parser.write(chunk)
                if self._out:
                    data, self._out = b"".join(self._out), []
                    yield data
            self._parser.finalize()
        except ValueError as exc:  # python-multipart's MultipartParseError is a ValueError
            raise ApiError(422, "request.invalid", {"fields": ["body.file"]}) from exc
        if self._out:
            data, self._out = b"".join(self._out), []
            yield data


def _rejected(exc: runner.UploadRejected) -> ApiError:
    extra = {"document_id": exc.document.id} if exc.document is not None else None
    return ApiError(exc.http_status, exc.code, extra, **exc.numbers)


# --------------------------------------------------------------------------- patient routes


@router.post(
    "/patients/{patient_id}/documents", status_code=202, response_model=DocumentOut,
    responses={
        **_ERRORS,
        200: {"model": DocumentOut, "description": "The same bytes were uploaded before (`duplicate: true`)"},
        413: {"description": "Larger than MAX_UPLOAD_MB (`error.too_large`); nothing is stored"},
        415: {"description": "Not a PDF/PNG/JPEG/TIFF/HEIC (`error.unsupported_type`); kept as failed"},
        422: {"description": "Unreadable, encrypted, too many pages, too many pixels; kept as failed"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": [_FILE_FIELD],
        "properties": {_FILE_FIELD: {"type": "string", "format": "binary"}}}}}}},
)
async def upload_document(patient_id: str, request: Request, principal: PatientAccessDep) -> JSONResponse:
    """Upload one file (multipart field `file`). Processing starts at once; follow it on the stream."""
    max_bytes = get_settings().max_upload_bytes
    limit_mb = max(1, max_bytes // (1024 * 1024))
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes + _MULTIPART_OVERHEAD:
        raise ApiError(413, "error.too_large", limit_mb=limit_mb)
    if not await asyncio.to_thread(_patient_exists, patient_id):
        raise ApiError(404, "not_found")
    upload = _MultipartFile(request.headers.get("content-type", ""))
    try:
        temp_path, sha256, size = await runner.receive_async(upload.chunks(request))
    except runner.UploadRejected as exc:
        raise _rejected(exc) from None
    if not upload.found:
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()
        raise ApiError(422, "request.invalid", {"fields": ["body.file"]})
    try:
        accepted = await asyncio.to_thread(runner.register_upload, patient_id, upload.filename or "",
                                           temp_path, sha256, size)
    except runner.UploadRejected as exc:
        await asyncio.to_thread(_audit, principal, "document.upload_refused", patient_id,
                                exc.document.id if exc.document else None)
        raise _rejected(exc) from None
    document = accepted.document
    await asyncio.to_thread(_audit, principal, "document.upload_duplicate" if accepted.duplicate
                            else "document.upload", patient_id, document.id)
    if accepted.duplicate:
        return JSONResponse(document.model_dump(mode="json"), status_code=200)
    await asyncio.to_thread(runner.confirm_upload, document.id)
    return JSONResponse(document.model_dump(mode="json"), status_code=202)


@router.get("/patients/{patient_id}/documents", response_model=list[DocumentOut], responses=_ERRORS)
def list_documents(patient_id: str, principal: PatientAccessDep) -> list[DocumentOut]:
    return records.list_documents(patient_id)


@router.get("/patients/{patient_id}/documents/{document_id:docid}", response_model=records.DocumentDetail,
            responses=_ERRORS)
def get_document(patient_id: str, document_id: str, principal: PatientAccessDep) -> records.DocumentDetail:
    """A document with its progress events, extracted facts and the requirement outcomes it decided."""
    detail = records.document_detail(patient_id, document_id)
    if detail is None:
        raise ApiError(404, "not_found")
    _audit(principal, "document.read", patient_id, document_id)
    return detail


@router.post("/patients/{patient_id}/documents/{document_id:docid}/retry", status_code=202,
             response_model=DocumentOut,
             responses={**_ERRORS, 409: {"description": "Still being processed (`conflict.processing`)"}})
def retry_document(patient_id: str, document_id: str, principal: PatientAccessDep) -> DocumentOut:
    """Process a failed (or processed) document again from its kept raw file."""
    if records.get_document(patient_id, document_id) is None:
        raise ApiError(404, "not_found")
    try:
        document = runner.retry_document(document_id)
    except runner.RetryConflict:
        raise ApiError(409, "conflict.processing") from None
    except LookupError:
        raise ApiError(404, "not_found") from None
    _audit(principal, "document.retry", patient_id, document_id)
    return document


@router.get("/patients/{patient_id}/documents/{document_id:docid}/fhir", responses=_ERRORS)
def document_fhir(patient_id: str, document_id: str, principal: PatientAccessDep) -> JSONResponse:
    """The document as a FHIR R4 DocumentReference."""
    document = records.get_document(patient_id, document_id)
    if document is None:
        raise ApiError(404, "not_found")
    _audit(principal, "document.fhir_read", patient_id, document_id)
    return JSONResponse(fhir_document_reference(document), media_type="application/fhir+json")


@router.get("/patients/{patient_id}/requirements", response_model=list[records.RequirementOut],
            responses=_ERRORS)
def requirements(patient_id: str, principal: PatientAccessDep) -> list[records.RequirementOut]:
    """Each requirement of the patient's programs: satisfied, missing, expired or needs_review."""
    return records.requirement_status(patient_id)


# --------------------------------------------------------------------------- staff routes


@router.get("/documents", response_model=list[DocumentOut])
def staff_documents(
    principal: StaffDep,
    status: Literal["received", "processing", "processed", "failed"] | None = None,
    patient_id: str | None = Query(default=None, max_length=40),
    limit: int = Query(default=200, ge=1, le=1000),
) -> list[DocumentOut]:
    """Every patient's documents, newest activity first (staff only)."""
    return records.documents_by_status(status, patient_id, limit=limit)


@router.get("/stats/stages", response_model=list[records.StageStat])
def stats_stages(principal: StaffDep,
                 limit: int = Query(default=200, ge=1, le=5000)) -> list[records.StageStat]:
    """p50/p90 seconds per step over the most recent processed documents (staff only)."""
    return records.stage_stats(limit)


# --------------------------------------------------------------------------- FHIR

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


def _sha1_base64(path: Path) -> str | None:
    digest = hashlib.sha1(usedforsecurity=False)
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return base64.b64encode(digest.digest()).decode("ascii")


def _instant(value: datetime) -> str:
    # FHIR instants need a zone; SQLite hands datetimes back without one (they are UTC).
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()


def fhir_document_reference(document: DocumentOut) -> dict[str, Any]:
    """FHIR R4 DocumentReference. ``attachment.hash`` is base64 SHA-1 as FHIR R4 defines it (computed
    from the kept raw file); our SHA-256 is given as an identifier."""
    from medupload.models import Document

    with session_scope() as session:
        row = session.get(Document, document.id)
        storage_path = row.storage_path if row else None
        document_date = row.document_date if row else None
    docstatus = {"processed": "final"}.get(document.status, "preliminary")
    type_: dict[str, Any] = {"text": document.document_type or "Unknown"}
    loinc = _loinc_for(document.document_type)
    if loinc is not None:
        type_["coding"] = [{"system": "http://loinc.org", "code": loinc[0], "display": loinc[1]}]
    attachment: dict[str, Any] = {
        "contentType": document.content_type,
        "size": document.size,
        "title": document.filename,
    }
    sha1 = _sha1_base64(storage.storage_root() / storage_path) if storage_path else None
    if sha1 is not None:
        attachment["hash"] = sha1
    if document_date:
        attachment["creation"] = document_date
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": document.id,
        "meta": {"lastUpdated": _instant(document.updated_at)},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:sha256:{document.sha256}"}],
        "status": "current",
        "docStatus": docstatus,
        "type": type_,
        "subject": {"reference": f"Patient/{document.patient_id}"},
        "date": _instant(document.created_at),
        "content": [{"attachment": attachment}],
    }
    if document_date:
        resource["context"] = {"period": {"start": document_date}}
    return resource
