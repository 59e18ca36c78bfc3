"""Staff review over REST: change and add facts, the review queue, page images, the concept
picker's vocabulary search, and the staff dashboard page. Writes are staff-only; every read and
write of a patient's record is audited (ids only) through ``audit.record``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from medupload import audit, records, staff_records
from medupload.api.deps import PatientAccessDep, StaffDep
from medupload.api.errors import ApiError
from medupload.pipeline import pages, review

router = APIRouter(tags=["review"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Staff only, or not this patient's record (`auth.forbidden`)"},
    404: {"description": "No such patient, document or fact (`not_found`)"},
    409: {"description": "The document is still being processed (`conflict.processing`) or failed "
                          "(`review.not_processed`)"},
    422: {"description": "Not a valid change (`review.invalid`, `review.unknown_concept`)"},
}
FactKind = Literal["condition", "medication", "lab", "allergy", "procedure"]


class FactFields(BaseModel):
    """Corrected values; omitted fields stay as they are. ``concept`` must come from
    ``GET /vocabulary`` (its code and system follow)."""

    concept: str | None = Field(default=None, max_length=120)
    value: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=32)
    date: str | None = Field(default=None, max_length=10, description="ISO date, or empty to clear")
    negated: bool | None = None
    historical: bool | None = None
    family: bool | None = None


class FactChange(FactFields):
    action: Literal["confirm", "correct", "reject"]


class FactNew(FactFields):
    kind: FactKind
    concept: str = Field(max_length=120)


class ConceptOut(BaseModel):
    kind: str
    concept: str
    code: str | None
    system: str | None
    unit: str | None


def _fields(body: FactFields, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump(exclude_unset=True).items() if k not in skip}


def _fact_out(patient_id: str, document_id: str, fact_id: int | None) -> records.FactOut:
    detail = records.document_detail(patient_id, document_id)
    fact = next((f for f in detail.facts if f.id == fact_id), None) if detail else None
    if fact is None:
        raise ApiError(404, "not_found")
    return fact


@router.patch("/patients/{patient_id}/documents/{document_id:docid}/facts/{fact_id}",
              response_model=records.FactOut, responses=_ERRORS)
def change_fact(patient_id: str, document_id: str, fact_id: Annotated[int, Path(ge=1)], body: FactChange,
                principal: StaffDep) -> records.FactOut:
    """Confirm, correct (concept, value, unit, date, flags) or reject a fact. Matching re-runs and
    the patient's stream gets `requirements_update`."""
    try:
        review.change_fact(patient_id, document_id, fact_id, body.action,
                           _fields(body, skip=("action",)), principal.user_id)
    except review.ReviewError as exc:
        raise ApiError(exc.http_status, exc.code) from None
    audit.record(principal, f"fact.{body.action}", patient_id, document_id)
    return _fact_out(patient_id, document_id, fact_id)


@router.post("/patients/{patient_id}/documents/{document_id:docid}/facts", status_code=201,
             response_model=records.FactOut, responses=_ERRORS)
def add_fact(patient_id: str, document_id: str, body: FactNew, principal: StaffDep) -> records.FactOut:
    """Add a fact the pipeline missed (status `added`). Matching re-runs as for a change."""
    try:
        fact = review.add_fact(patient_id, document_id, body.kind, _fields(body, skip=("kind",)),
                               principal.user_id)
    except review.ReviewError as exc:
        raise ApiError(exc.http_status, exc.code) from None
    audit.record(principal, "fact.add", patient_id, document_id)
    return _fact_out(patient_id, document_id, fact.id)


@router.get("/review", response_model=staff_records.ReviewPage)
def review_queue(principal: StaffDep, limit: int = Query(default=50, ge=1, le=500),
                 offset: int = Query(default=0, ge=0, le=100_000),
                 patient_id: str | None = Query(default=None, max_length=40)) -> staff_records.ReviewPage:
    """Open review items, oldest upload first: `needs_review` requirements and low-confidence facts."""
    page = staff_records.review_queue(limit=limit, offset=offset, patient_id=patient_id)
    audit.record(principal, "review.list", patient_id)  # None: the whole clinic
    return page


@router.get("/patients/{patient_id}/documents/{document_id:docid}/pages/{page}",
            response_class=Response, responses={
                **_ERRORS, 200: {"content": {"image/png": {}}, "description": "The page as a PNG"}})
async def page_image(patient_id: str, document_id: str, page: Annotated[int, Path(ge=1, le=1000)],
                     principal: PatientAccessDep) -> Response:
    """Page `page` (from 1) of the kept upload as a PNG, rendered on first request and cached.
    Never cached by the browser or a proxy (`Cache-Control: no-store`)."""
    document = await asyncio.to_thread(records.get_document, patient_id, document_id)
    if document is None:
        raise ApiError(404, "not_found")
    try:
        data = await asyncio.to_thread(pages.page_png, document.sha256, document.content_type, page)
    except pages.PageNotFound:
        raise ApiError(404, "not_found") from None
    await asyncio.to_thread(audit.record, principal, "document.page_read", patient_id, document_id)
    return Response(data, media_type="image/png",
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@router.get("/vocabulary", response_model=list[ConceptOut])
def vocabulary(principal: StaffDep, kind: FactKind, q: str = Query(default="", max_length=80),
               limit: int = Query(default=20, ge=1, le=100)) -> list[ConceptOut]:
    """The concept picker: curated concepts of `kind` whose name or synonym contains `q`."""
    return [ConceptOut(kind=c.kind, concept=c.concept, code=c.code, system=c.system, unit=c.unit)
            for c in review.search_concepts(kind, q, limit)]


@router.get("/staff/dashboard", response_model=staff_records.DashboardPage)
def dashboard(principal: StaffDep, q: str = Query(default="", max_length=80),
              status: staff_records.StatusFilter = "all", limit: int = Query(default=50, ge=1, le=500),
              offset: int = Query(default=0, ge=0, le=100_000)) -> staff_records.DashboardPage:
    """The staff dashboard's page: documents by newest activity with patient name, DOB and MRN,
    searchable by name or MRN; document counts by status; requirement counts per patient."""
    page = staff_records.dashboard_page(q, status, limit, offset)
    audit.record(principal, "dashboard.read", None)  # None: the whole clinic
    return page


@router.get("/staff/patients", response_model=staff_records.PatientPage)
def patients(principal: StaffDep, q: str = Query(default="", max_length=80),
             limit: int = Query(default=50, ge=1, le=500),
             offset: int = Query(default=0, ge=0, le=100_000)) -> staff_records.PatientPage:
    """Patients by name with DOB, MRN and requirement counts; search by name, MRN or id (staff only)."""
    page = staff_records.patient_page(q, limit, offset)
    audit.record(principal, "patients.list", None)  # None: the whole clinic
    return page
