"""``GET .../documents/{id}/fhir`` validated as FHIR R4 by ``fhir.resources`` (its R4B models: R4
with errata; the package's default models are R5, whose DocumentReference differs)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import docgen
import httpx
import pydantic
import pytest
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.patient import Patient
from support import make_patient, make_user

from medupload.api import create_api
from medupload.auth import create_access_token
from medupload.pipeline import dispatch
from medupload.progress import tracing

# A literal relative reference as FHIR R4 defines it (Reference.reference, "Literal references"):
# fhir.resources types it as a plain string, so its form is checked here.
RELATIVE_REFERENCE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-\.]{1,64})$")

LAB = "LABORATORY REPORT\nCollected: 2026-01-15\nHemoglobin A1c 7.2 %\nDiagnosis: Type 2 diabetes mellitus"


@pytest.fixture
def patient(any_db: str) -> Iterator[str]:
    tracing.set_langfuse(None)
    yield make_patient()
    tracing.reset_langfuse()


@pytest.fixture
async def client(patient: str) -> AsyncIterator[httpx.AsyncClient]:
    token, _ = create_access_token(make_user("patient", patient))
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://app/api/v1", timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


async def _upload(client: httpx.AsyncClient, patient: str, png: bytes) -> httpx.Response:
    return await client.post(f"/patients/{patient}/documents", files={"file": ("lab.png", png, "image/png")})


async def _fhir(client: httpx.AsyncClient, patient: str, document_id: str) -> dict[str, Any]:
    response = await client.get(f"/patients/{patient}/documents/{document_id}/fhir")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    return response.json()  # type: ignore[no-any-return]


async def test_processed_lab_report_is_a_valid_r4_document_reference(patient: str,
                                                                     client: httpx.AsyncClient) -> None:
    png = docgen.png(docgen.render_page(LAB, size=(6.0, 3.0)))
    upload = await _upload(client, patient, png)
    assert upload.status_code == 202
    document_id = upload.json()["id"]
    # Right after upload: a valid resource too, still preliminary.
    try:
        early = DocumentReference.model_validate(await _fhir(client, patient, document_id))
    finally:
        outcome = await asyncio.to_thread(dispatch.wait_inline, document_id, 120)
    assert (early.status, early.docStatus) == ("current", "preliminary")
    assert outcome == "processed"

    resource = DocumentReference.model_validate(await _fhir(client, patient, document_id))
    assert resource.id == document_id.replace("_", "-")
    assert (resource.status, resource.docStatus) == ("current", "final")
    ours = [i.value for i in resource.identifier or [] if i.system == "urn:medupload:document"]
    assert ours == [document_id]
    assert resource.subject is not None and resource.subject.reference is not None
    reference = RELATIVE_REFERENCE.fullmatch(resource.subject.reference)
    assert reference is not None and reference["type"] == "Patient" == resource.subject.type
    assert reference["id"] == patient.replace("_", "-")
    Patient.model_validate({"resourceType": "Patient", "id": reference["id"]})  # a valid Patient id
    assert resource.subject.identifier is not None
    assert (resource.subject.identifier.system, resource.subject.identifier.value) == (
        "urn:medupload:patient", patient)
    attachment = resource.content[0].attachment
    assert attachment.contentType == "image/png" and attachment.size == len(png)
    assert attachment.hash is not None and len(attachment.hash) == 20  # SHA-1, decoded from base64
    codings = resource.type.coding if resource.type is not None else []
    assert [(c.system, c.code) for c in codings or []] == [("http://loinc.org", "11502-2")]


async def test_the_validator_rejects_what_r4_forbids(patient: str, client: httpx.AsyncClient) -> None:
    """The check above can fail: our raw id (``d_...``: "_" is not allowed in a FHIR id), a subject
    that is not a Reference, a size that is not a number. (fhir.resources checks structure,
    types and patterns, not value sets: status and docStatus are asserted above by value.)"""
    png = docgen.png(docgen.render_page(LAB, size=(6.0, 3.0)))
    upload = await _upload(client, patient, png)
    resource = await _fhir(client, patient, upload.json()["id"])
    await asyncio.to_thread(dispatch.wait_inline, upload.json()["id"], 120)
    DocumentReference.model_validate(resource)
    for broken in ({"id": upload.json()["id"]}, {"subject": "Patient/x"},
                   {"content": [{"attachment": {**resource["content"][0]["attachment"], "size": "big"}}]}):
        with pytest.raises(pydantic.ValidationError):
            DocumentReference.model_validate({**resource, **broken})
    # Our raw patient id is not a FHIR id either: the reference uses the mapped one.
    assert "_" in patient and RELATIVE_REFERENCE.fullmatch(f"Patient/{patient}") is None
    with pytest.raises(pydantic.ValidationError):
        Patient.model_validate({"resourceType": "Patient", "id": patient})
    assert RELATIVE_REFERENCE.fullmatch(resource["subject"]["reference"]) is not None
