"""Documents: upload (streamed), list, detail, retry, FHIR view, requirement status; staff lists,
stage timings and a patient's audit trail. The heavy lifting is ``pipeline.accept``/``runner``
(writes, audited there for the UI and the API alike), ``records`` and ``audit`` (reads)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.convertors import Convertor, register_url_convertor

from medupload import audit, records
from medupload.api.deps import PatientAccessDep, StaffDep
from medupload.api.errors import ApiError, coded_error
from medupload.api.fhir import document_reference
from medupload.api.multipart import FILE_FIELD, MultipartFileStream
from medupload.pipeline import accept, runner, storage
from medupload.progress.stages import DocumentStatus
from medupload.schemas import DocumentOut

router = APIRouter(tags=["documents"])

# Multipart framing around the file: boundaries and part headers. A body this much larger than
# the upload limit is refused from its Content-Length alone, before a byte is read.
_MULTIPART_OVERHEAD = 64 * 1024


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


def _rejected(exc: accept.UploadRejected) -> ApiError:
    extra = {"document_id": exc.document.id} if exc.document is not None else None
    return coded_error(exc.code, extra, **exc.numbers)


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
        "type": "object", "required": [FILE_FIELD],
        "properties": {FILE_FIELD: {"type": "string", "format": "binary"}}}}}}},
)
async def upload_document(patient_id: str, request: Request, principal: PatientAccessDep) -> JSONResponse:
    """Upload one file (multipart field `file`). Processing starts at once; follow it on the stream."""
    length = request.headers.get("content-length")
    try:
        if length is not None and length.isdigit():
            await asyncio.to_thread(accept.refuse_declared_size, patient_id, int(length), _MULTIPART_OVERHEAD,
                                    actor=principal)
        if not await asyncio.to_thread(records.patient_exists, patient_id):
            raise ApiError(404, "not_found")
        upload = MultipartFileStream(request.headers.get("content-type", ""))
        accepted = await accept.accept_upload_async(patient_id, upload.chunks(request),
                                                    lambda: upload.filename or "", actor=principal)
    except accept.UploadRejected as exc:
        raise _rejected(exc) from None
    document = accepted.document
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
    audit.record(principal, "document.read", patient_id, document_id)
    return detail


@router.post("/patients/{patient_id}/documents/{document_id:docid}/retry", status_code=202,
             response_model=DocumentOut,
             responses={**_ERRORS, 409: {"description": "Still being processed (`conflict.processing`)"}})
def retry_document(patient_id: str, document_id: str, principal: PatientAccessDep) -> DocumentOut:
    """Process a failed (or processed) document again from its kept raw file."""
    if records.get_document(patient_id, document_id) is None:
        raise ApiError(404, "not_found")
    try:
        return runner.retry_document(document_id, actor=principal)
    except runner.RetryConflict:
        raise coded_error("conflict.processing") from None
    except LookupError:
        raise ApiError(404, "not_found") from None


@router.get("/patients/{patient_id}/documents/{document_id:docid}/fhir", responses=_ERRORS)
def document_fhir(patient_id: str, document_id: str, principal: PatientAccessDep) -> JSONResponse:
    """The document as a FHIR R4 DocumentReference."""
    document = records.get_document(patient_id, document_id)
    if document is None:
        raise ApiError(404, "not_found")
    audit.record(principal, "document.fhir_read", patient_id, document_id)
    return JSONResponse(document_reference(document, _sha1_base64(storage.path_for(document.sha256))),
                        media_type="application/fhir+json")


@router.get("/patients/{patient_id}/requirements", response_model=list[records.RequirementOut],
            responses=_ERRORS)
def requirements(patient_id: str, principal: PatientAccessDep) -> list[records.RequirementOut]:
    """Each requirement of the patient's programs: satisfied, missing, expired or needs_review."""
    return records.requirement_status(patient_id)


# --------------------------------------------------------------------------- staff routes


@router.get("/documents", response_model=list[DocumentOut])
def staff_documents(
    principal: StaffDep,
    status: DocumentStatus | None = None,
    patient_id: str | None = Query(default=None, max_length=40),
    limit: int = Query(default=200, ge=1, le=1000),
) -> list[DocumentOut]:
    """Every patient's documents, newest activity first (staff only)."""
    return records.documents_by_status(status, patient_id, limit=limit)


@router.get("/patients/{patient_id}/audit", response_model=list[audit.AuditOut],
            responses={403: _ERRORS[403], 404: _ERRORS[404]})
def patient_audit(patient_id: str, principal: StaffDep,
                  limit: int = Query(default=100, ge=1, le=1000),
                  offset: int = Query(default=0, ge=0)) -> list[audit.AuditOut]:
    """Who did what to this patient's record, newest first (staff only). Reading it is audited too."""
    if not records.patient_exists(patient_id):
        raise ApiError(404, "not_found")
    entries = audit.trail(patient_id, limit=limit, offset=offset)
    audit.record(principal, "patient.audit_read", patient_id)
    return entries


@router.get("/stats/stages", response_model=list[records.StageStat])
def stats_stages(principal: StaffDep,
                 limit: int = Query(default=200, ge=1, le=5000)) -> list[records.StageStat]:
    """p50/p90 seconds per step over the most recent processed documents (staff only)."""
    return records.stage_stats(limit)


def _sha1_base64(path: Path) -> str | None:
    digest = hashlib.sha1(usedforsecurity=False)
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return base64.b64encode(digest.digest()).decode("ascii")
