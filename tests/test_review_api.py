"""The review REST API through a real HTTP server (uvicorn), the real pipeline (tesseract,
extraction, matching), Redis and the SSE stream: staff corrections count, patients cannot make
them, page images reach only authorised users."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import docgen
import httpx
import pytest
from httpx_sse import connect_sse
from sqlmodel import select
from support import make_patient, make_user
from test_documents_api import Env, _upload, _wait_terminal, server  # noqa: F401  (fixture)

from medupload.db import session_scope
from medupload.models import AuditEntry, ProgramEnrollment
from medupload.pipeline import pages

# No date anywhere and no HbA1c result (OCR lost it): matching cannot call it current.
TEXT = ("LABORATORY REPORT\nHemoglobin A1c: see comment\nDiagnosis: Type 2 diabetes mellitus\n"
        "Allergies: penicillin")


@pytest.fixture
def env(server: str) -> Env:  # noqa: F811
    environment = Env(server)
    with session_scope() as session:
        session.add(ProgramEnrollment(patient_id=environment.a, program="pre-op"))
    return environment


def _processed(env: Env) -> tuple[str, dict]:  # type: ignore[type-arg]
    data = docgen.png(docgen.render_page(TEXT, size=(6.0, 3.0)))
    with env.client(env.user_a) as client:
        response = _upload(client, env.a, data)
        assert response.status_code == 202, response.text
        detail = _wait_terminal(client, env.a, response.json()["id"])
    assert detail["status"] == "processed", detail
    return detail["id"], detail


def _requirement(client: httpx.Client, patient_id: str, key: str) -> dict:  # type: ignore[type-arg]
    rows = client.get(f"/patients/{patient_id}/requirements").json()
    return next(r for r in rows if r["requirement_id"].endswith(f"/{key}"))


class StreamReader(threading.Thread):
    """Reads the patient's SSE stream until a ``requirements_update`` event arrives."""

    def __init__(self, base: str, patient_id: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{base}/api/v1/patients/{patient_id}/documents/stream"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.connected = threading.Event()
        self.update: list[dict] | None = None  # type: ignore[type-arg]

    def run(self) -> None:
        with httpx.Client(timeout=30) as client, \
                connect_sse(client, "GET", self.url, headers=self.headers) as source:
            for event in source.iter_sse():
                if event.event == "snapshot":
                    self.connected.set()
                elif event.event == "requirements_update":
                    self.update = event.json()
                    return


def test_staff_correct_an_undated_bare_hba1c_and_reject_an_allergy(env: Env) -> None:
    from medupload.auth import create_access_token

    document_id, detail = _processed(env)
    facts = {f["concept"]: f for f in detail["facts"]}
    hba1c = facts["hemoglobin a1c"]
    assert hba1c["value"] is None and hba1c["status"] == "extracted"

    staff = env.client(env.staff)
    assert _requirement(staff, env.a, "hba1c")["state"] == "needs_review"
    queue = staff.get("/review", params={"patient_id": env.a}).json()
    assert any(i["kind"] == "requirement" and i["requirement_id"].endswith("/hba1c") for i in queue["items"])

    reader = StreamReader(env.base, env.a, create_access_token(env.user_a)[0])  # type: ignore[arg-type]
    reader.start()
    assert reader.connected.wait(15)

    when = (date.today() - timedelta(days=10)).isoformat()
    changed = staff.patch(f"/patients/{env.a}/documents/{document_id}/facts/{hba1c['id']}",
                          json={"action": "correct", "value": "7.2", "unit": "%", "date": when})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["status"], body["value"], body["date"]) == ("corrected", "7.2", when)
    assert body["reviewed_by"] == env.staff.id and body["previous"][0]["value"] is None

    requirement = _requirement(staff, env.a, "hba1c")
    assert requirement["state"] == "satisfied" and requirement["fact_id"] == hba1c["id"]
    reader.join(15)
    assert reader.update is not None, "no requirements_update on the patient's stream"
    streamed = next(r for r in reader.update if r["requirement_id"].endswith("/hba1c"))
    assert streamed["state"] == "satisfied"
    queue = staff.get("/review", params={"patient_id": env.a}).json()
    assert not any((i["requirement_id"] or "").endswith("/hba1c") for i in queue["items"])

    assert _requirement(staff, env.a, "allergies")["state"] == "satisfied"
    rejected = staff.patch(f"/patients/{env.a}/documents/{document_id}/facts/{facts['penicillin']['id']}",
                           json={"action": "reject"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert _requirement(staff, env.a, "allergies")["state"] == "missing"

    condition = facts["type 2 diabetes mellitus"]
    assert staff.patch(f"/patients/{env.a}/documents/{document_id}/facts/{condition['id']}",
                       json={"action": "reject"}).json()["status"] == "rejected"

    added = staff.post(f"/patients/{env.a}/documents/{document_id}/facts",
                       json={"kind": "procedure", "concept": "electrocardiogram", "date": when})
    assert added.status_code == 201 and added.json()["status"] == "added"
    assert _requirement(staff, env.a, "ecg")["state"] == "satisfied"
    unknown = staff.post(f"/patients/{env.a}/documents/{document_id}/facts",
                         json={"kind": "lab", "concept": "unobtainium"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "review.unknown_concept"
    staff.close()

    with session_scope() as session:
        audit = session.exec(select(AuditEntry).where(AuditEntry.document_id == document_id)).all()
    assert {"fact.correct", "fact.reject", "fact.add"} <= {a.action for a in audit}
    assert all(a.user_id == env.staff.id for a in audit if a.action.startswith("fact."))


def test_patients_cannot_change_facts_or_list_the_queue(env: Env) -> None:
    document_id, detail = _processed(env)
    fact_id = detail["facts"][0]["id"]
    with env.client(env.user_a) as own:
        patched = own.patch(f"/patients/{env.a}/documents/{document_id}/facts/{fact_id}",
                            json={"action": "reject"})
        assert patched.status_code == 403 and patched.json()["error"]["code"] == "auth.forbidden"
        posted = own.post(f"/patients/{env.a}/documents/{document_id}/facts",
                          json={"kind": "lab", "concept": "hemoglobin a1c", "value": "5.0"})
        assert posted.status_code == 403
        assert own.get("/review").status_code == 403
        assert own.get("/vocabulary", params={"kind": "lab", "q": "a1c"}).status_code == 403
        after = own.get(f"/patients/{env.a}/documents/{document_id}").json()
        assert after["facts"][0]["status"] == "extracted"
    with env.client(None) as anonymous:
        assert anonymous.patch(f"/patients/{env.a}/documents/{document_id}/facts/{fact_id}",
                               json={"action": "reject"}).status_code == 401


def test_page_images_only_to_authorised_users_and_never_cached(env: Env) -> None:
    document_id, _ = _processed(env)
    path = f"/patients/{env.a}/documents/{document_id}/pages"
    with env.client(env.user_a) as own:
        first = own.get(f"{path}/1")
        assert first.status_code == 200
        assert first.headers["content-type"] == "image/png" and first.headers["cache-control"] == "no-store"
        assert first.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert own.get(f"{path}/2").status_code == 404
        assert own.get(f"{path}/0").status_code == 422
        again = own.get(f"{path}/1")
        assert again.content == first.content
    with env.client(env.user_b) as other:
        refused = other.get(f"{path}/1")
        assert refused.status_code == 403 and not refused.content.startswith(b"\x89PNG")
        assert other.get(f"/patients/{env.b}/documents/{document_id}/pages/1").status_code == 404
    with env.client(env.staff) as staff:
        assert staff.get(f"{path}/1").status_code == 200
    with session_scope() as session:
        actions = [a.action for a in session.exec(select(AuditEntry).where(
            AuditEntry.document_id == document_id, AuditEntry.action == "document.page_read")).all()]
    assert len(actions) == 3


def test_page_rendering_pdf_and_tiff_pages_and_cache(fresh_db: str) -> None:
    import hashlib

    from medupload.pipeline import storage

    data = docgen.scanned_pdf(["Page one text", "Page two text"])
    sha = hashlib.sha256(data).hexdigest()
    target = storage.path_for(sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    second = pages.page_png(sha, "application/pdf", 2)
    assert second.startswith(b"\x89PNG") and pages.cache_path(sha, 2).exists()
    with pytest.raises(pages.PageNotFound):
        pages.page_png(sha, "application/pdf", 3)
    tiff = docgen.multipage_tiff(["One", "Two", "Three"])
    tiff_sha = hashlib.sha256(tiff).hexdigest()
    storage.path_for(tiff_sha).parent.mkdir(parents=True, exist_ok=True)
    storage.path_for(tiff_sha).write_bytes(tiff)
    import io

    from PIL import Image

    third = Image.open(io.BytesIO(pages.page_png(tiff_sha, "image/tiff", 3)))
    assert third.width <= pages.PAGE_WIDTH
    with pytest.raises(pages.PageNotFound):
        pages.page_png(tiff_sha, "image/tiff", 4)


def test_vocabulary_and_dashboard_for_staff(env: Env) -> None:
    with env.client(env.staff) as staff:
        found = staff.get("/vocabulary", params={"kind": "lab", "q": "a1c"}).json()
        assert found[0] == {"kind": "lab", "concept": "hemoglobin a1c", "code": "4548-4", "system": "LOINC",
                            "unit": "%"}
        assert staff.get("/vocabulary", params={"kind": "gossip"}).status_code == 422


def test_unknown_ids(env: Env) -> None:
    pid = make_patient("x")
    make_user("patient", pid)
    with env.client(env.staff) as staff:
        missing = staff.patch(f"/patients/{env.a}/documents/d_nothere/facts/1", json={"action": "confirm"})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        bad = staff.patch(f"/patients/{env.a}/documents/d_nothere/facts/1", json={"action": "shred"})
        assert bad.status_code == 422
