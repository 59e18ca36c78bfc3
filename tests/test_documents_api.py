"""The documents REST API through a real HTTP server (``support.LiveServer``) with httpx."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docgen
import httpx
import psutil
import pytest
from sqlalchemy import update
from sqlmodel import SQLModel, col, select
from support import PHI_CANARY, LiveServer, free_port, make_document, make_patient, make_user, reset_caches

from medupload.auth import create_access_token
from medupload.db import get_engine, session_scope
from medupload.models import AuditEntry, Document, ProgramEnrollment
from medupload.pipeline import storage

TEXT = "LABORATORY REPORT\nCollected: 2026-01-15\nHemoglobin A1c 7.2 %\nDiagnosis: Type 2 diabetes mellitus"


def _png(text: str = TEXT) -> bytes:
    return docgen.png(docgen.render_page(text, size=(6.0, 3.0)))


class Env:
    def __init__(self, base: str) -> None:
        self.base = base
        self.a = make_patient()
        self.b = make_patient("other")
        with session_scope() as session:
            session.add(ProgramEnrollment(patient_id=self.a, program="diabetes-annual"))
        self.user_a = make_user("patient", self.a)
        self.user_b = make_user("patient", self.b)
        self.staff = make_user("staff", None)

    def client(self, user: object | None) -> httpx.Client:
        headers = {}
        if user is not None:
            headers["Authorization"] = f"Bearer {create_access_token(user)[0]}"  # type: ignore[arg-type]
        return httpx.Client(base_url=f"{self.base}/api/v1", headers=headers, timeout=60)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The API served by ``support.LiveServer`` on the run's database (tables created here)."""
    reset_caches()
    SQLModel.metadata.create_all(get_engine())
    live = LiveServer().start()
    yield live.base
    live.stop()


@pytest.fixture
def env(server: str) -> Env:
    return Env(server)


def _upload(client: httpx.Client, patient_id: str, data: bytes,
            name: str = f"{PHI_CANARY}.png") -> httpx.Response:
    return client.post(f"/patients/{patient_id}/documents", files={"file": (name, data, "image/png")})


def _wait_terminal(client: httpx.Client, patient_id: str, document_id: str) -> dict:  # type: ignore[type-arg]
    for _ in range(600):
        body = client.get(f"/patients/{patient_id}/documents/{document_id}").json()
        if body["status"] in ("processed", "failed"):
            return body  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError("document did not finish")


@dataclass
class Processed:
    """One document uploaded through the API and processed, shared by the read tests below."""

    env: Env
    data: bytes
    first: httpx.Response
    again: httpx.Response
    detail: dict  # type: ignore[type-arg]


@pytest.fixture(scope="module")
def processed(server: str) -> Processed:
    env = Env(server)
    data = _png()
    with env.client(env.user_a) as client:
        first = _upload(client, env.a, data)
        again = _upload(client, env.a, data, name="other-name.png")
        assert first.status_code == 202, first.text
        detail = _wait_terminal(client, env.a, first.json()["id"])
    return Processed(env, data, first, again, detail)


def test_upload_answers_202_with_the_new_document(processed: Processed) -> None:
    document = processed.first.json()
    assert document["status"] in ("received", "processing") and document["duplicate"] is False
    assert document["filename"] == f"{PHI_CANARY}.png" and document["content_type"] == "image/png"


def test_the_same_bytes_again_answer_200_with_the_first_document(processed: Processed) -> None:
    assert processed.again.status_code == 200
    assert processed.again.json()["duplicate"] is True
    assert processed.again.json()["id"] == processed.first.json()["id"]


def test_detail_has_events_facts_and_matches(processed: Processed) -> None:
    detail = processed.detail
    assert detail["status"] == "processed", detail
    assert [e["stage"] for e in detail["events"]][-1] == "matching_complete"
    assert {f["concept"] for f in detail["facts"]} >= {"type 2 diabetes mellitus", "hemoglobin a1c"}
    assert detail["matches"] and all(m["document_id"] == detail["id"] for m in detail["matches"])


def test_list_documents(processed: Processed) -> None:
    env = processed.env
    with env.client(env.user_a) as client:
        listed = client.get(f"/patients/{env.a}/documents").json()
    assert [d["id"] for d in listed] == [processed.detail["id"]]


def test_fhir_document_reference(processed: Processed) -> None:
    env, document_id = processed.env, processed.detail["id"]
    with env.client(env.user_a) as client:
        fhir = client.get(f"/patients/{env.a}/documents/{document_id}/fhir")
    assert fhir.status_code == 200 and fhir.headers["content-type"].startswith("application/fhir+json")
    resource = fhir.json()
    assert resource["resourceType"] == "DocumentReference" and resource["status"] == "current"
    assert resource["docStatus"] == "final"
    assert resource["subject"] == {"reference": f"Patient/{env.a.replace('_', '-')}", "type": "Patient",
                                   "identifier": {"system": "urn:medupload:patient", "value": env.a}}
    assert resource["type"]["coding"][0] == {"system": "http://loinc.org", "code": "11502-2",
                                              "display": "Laboratory report"}
    attachment = resource["content"][0]["attachment"]
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(processed.data).digest()).decode()
    assert attachment["size"] == len(processed.data) and attachment["contentType"] == "image/png"


def test_requirement_status(processed: Processed) -> None:
    env = processed.env
    with env.client(env.user_a) as client:
        requirements = client.get(f"/patients/{env.a}/requirements").json()
    assert requirements and {r["state"] for r in requirements} <= {
        "satisfied", "missing", "expired", "needs_review"}
    hba1c = next(r for r in requirements if r["requirement_id"].endswith("hba1c"))
    assert hba1c["state"] in ("satisfied", "expired") and hba1c["document_id"] == processed.detail["id"]
    assert hba1c["fact"]["concept"] == "hemoglobin a1c"


def test_retry_of_a_processed_document_processes_it_again(processed: Processed) -> None:
    env, document_id = processed.env, processed.detail["id"]
    with env.client(env.user_a) as client:
        retried = client.post(f"/patients/{env.a}/documents/{document_id}/retry")
        assert retried.status_code == 202 and retried.json()["status"] == "received"
        redone = _wait_terminal(client, env.a, document_id)
    assert redone["status"] == "processed" and len(redone["facts"]) == len(processed.detail["facts"])


def test_reads_and_writes_are_audited(processed: Processed) -> None:
    with session_scope() as session:
        actions = [a.action for a in session.exec(
            select(AuditEntry).where(AuditEntry.document_id == processed.detail["id"])).all()]
    assert {"document.upload", "document.upload_duplicate", "document.read"} <= set(actions)


BAD_INPUTS: dict[str, tuple[Callable[[], dict[str, Any]], int, str]] = {
    "encrypted": (lambda: {"files": {"file": ("x.pdf", docgen.encrypted_pdf(), "application/pdf")}},
                  422, "error.pdf_encrypted"),
    "corrupt": (lambda: {"files": {"file": ("x.pdf", docgen.corrupt_pdf(), "application/pdf")}},
                422, "error.unreadable"),
    "unsupported": (lambda: {"files": {"file": ("x.png", b"GIF89a not accepted", "image/png")}},
                    415, "error.unsupported_type"),
    "empty": (lambda: {"files": {"file": ("x.png", b"", "image/png")}}, 422, "error.unreadable"),
    "bomb": (lambda: {"files": {"file": ("x.png", docgen.bomb_png(), "image/png")}},
             422, "error.image_too_large"),
    "too_many_pages": (lambda: {"files": {"file": ("x.pdf", docgen.too_many_pages_pdf(), "application/pdf")}},
                       422, "error.too_many_pages"),
    "no file field": (lambda: {"files": {"other": ("x.png", _png("x"), "image/png")}},
                      422, "request.invalid"),
    "form field only": (lambda: {"data": {"file": "not a file"}}, 422, "request.invalid"),
    "not multipart": (lambda: {"content": b"{}", "headers": {"content-type": "application/json"}},
                      422, "request.invalid"),
    "broken multipart": (lambda: {"content": b"--b0undary\r\nnonsense", "headers": {
        "content-type": "multipart/form-data; boundary=b0undary"}}, 422, "request.invalid"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gets_its_status_and_code(env: Env, name: str) -> None:
    make, status, code = BAD_INPUTS[name]
    with env.client(env.user_a) as client:
        response = client.post(f"/patients/{env.a}/documents", **make())
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code and error["message"]
        if code.startswith("error."):  # refused at intake: the file and a failed row are kept
            with session_scope() as session:
                row = session.get(Document, error["document_id"])
                assert row is not None and row.status == "failed" and row.error_code == code
                assert storage.path_for(row.sha256).exists()
        assert client.get("/health").status_code == 200


def test_a_declared_oversized_body_is_refused_from_its_headers(env: Env) -> None:
    with env.client(env.user_a) as client:
        assert _declared_too_large(env, client.headers["authorization"]) == 413


@pytest.mark.parametrize(("method", "path"), [("POST", "/retry"), ("GET", "")], ids=["retry", "detail"])
def test_an_unknown_document_is_404(env: Env, method: str, path: str) -> None:
    with env.client(env.user_a) as client:
        missing = client.request(method, f"/patients/{env.a}/documents/d_doesnotexist{path}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def _declared_too_large(env: Env, authorization: str) -> int:
    """Headers announcing 200 MB, then silence: the answer must come from the headers alone."""
    host, port = env.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((f"POST /api/v1/patients/{env.a}/documents HTTP/1.1\r\nHost: {host}\r\n"
                      f"Authorization: {authorization}\r\n"
                      "Content-Type: multipart/form-data; boundary=b0undary\r\n"
                      f"Content-Length: {200 * 1024 * 1024}\r\n\r\n--b0undary\r\n").encode())
        reply = sock.recv(65536).decode("latin-1")
    assert '"error.too_large"' in reply or reply.endswith("\r\n\r\n"), reply
    return int(reply.split(" ", 2)[1])


def test_retry_conflict_while_processing(env: Env) -> None:
    with env.client(env.user_a) as client:
        response = client.post(f"/patients/{env.a}/documents",
                               files={"file": ("x.pdf", docgen.corrupt_pdf(), "application/pdf")})
        document_id = response.json()["error"]["document_id"]
        with session_scope() as session:
            session.execute(update(Document).where(col(Document.id) == document_id)
                            .values(status="processing"))
        conflict = client.post(f"/patients/{env.a}/documents/{document_id}/retry")
        assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict.processing"


OTHER_PATIENTS_ROUTES = [
    ("GET", "/patients/{b}/documents"),
    ("GET", "/patients/{b}/documents/{doc_b}"),
    ("GET", "/patients/{b}/documents/{doc_b}/fhir"),
    ("POST", "/patients/{b}/documents/{doc_b}/retry"),
    ("GET", "/patients/{b}/requirements"),
    ("POST", "/patients/{b}/documents"),
    ("GET", "/documents"),
    ("GET", "/stats/stages"),
    ("GET", "/patients/{b}/audit"),
    ("GET", "/patients/{a}/audit"),  # the audit trail is staff-only, even one's own
]


@pytest.mark.parametrize(("method", "path"), OTHER_PATIENTS_ROUTES,
                         ids=[f"{m} {p}" for m, p in OTHER_PATIENTS_ROUTES])
def test_a_patient_cannot_reach_another_patient_or_staff_routes(env: Env, method: str, path: str) -> None:
    document_b = make_document(env.b)
    kwargs: dict[str, Any] = {"files": {"file": ("x.png", _png("sneaky"), "image/png")}} if (
        path.endswith("/documents") and method == "POST") else {}
    with env.client(env.user_a) as client:
        response = client.request(method, path.format(a=env.a, b=env.b, doc_b=document_b), **kwargs)
    assert response.status_code == 403 and response.json()["error"]["code"] == "auth.forbidden"


def test_a_patients_own_path_cannot_reach_another_patients_document(env: Env) -> None:
    document_b = make_document(env.b)
    with env.client(env.user_a) as client:
        assert client.get(f"/patients/{env.a}/documents/{document_b}").status_code == 404
    with env.client(None) as anonymous:
        assert anonymous.get(f"/patients/{env.a}/documents").status_code == 401


def test_staff_see_every_patient(env: Env) -> None:
    with env.client(env.user_b) as client_b:
        mine = _upload(client_b, env.b, _png("Discharge summary\nPatient B"))
        assert mine.status_code == 202
        document_b = mine.json()["id"]
    with env.client(env.staff) as staff:
        _wait_terminal(staff, env.b, document_b)
        everyone = staff.get("/documents").json()
        assert document_b in [d["id"] for d in everyone]
        processed = staff.get("/documents", params={"status": "processed", "patient_id": env.b}).json()
        assert [d["id"] for d in processed] == [document_b]
        bogus = staff.get("/documents", params={"status": "bogus"})
        assert bogus.json()["error"]["code"] == "request.invalid"
        stats = {s["stage"]: s for s in staff.get("/stats/stages").json()}
        assert stats["total"]["count"] >= 1 and stats["total"]["p90_seconds"] >= stats["total"]["p50_seconds"]
        assert staff.get(f"/patients/{env.b}/documents/{document_b}").status_code == 200
        assert staff.post("/patients/p_nobody/documents", files={"file": ("x.png", b"x")}).status_code == 404


def _audit_rows(document_id: str) -> list[tuple[str | None, str]]:
    with session_scope() as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.document_id == document_id)
                            .order_by(col(AuditEntry.id))).all()
        return [(row.user_id, row.action) for row in rows]


def test_upload_and_retry_through_rest_each_leave_one_audit_entry(env: Env) -> None:
    with env.client(env.user_a) as client:
        refused = client.post(f"/patients/{env.a}/documents",
                              files={"file": ("x.pdf", docgen.corrupt_pdf(), "application/pdf")})
        document_id = refused.json()["error"]["document_id"]
        assert _audit_rows(document_id) == [(env.user_a.id, "document.upload_refused")]

        assert client.post(f"/patients/{env.a}/documents/{document_id}/retry").status_code == 202
        _wait_terminal(client, env.a, document_id)  # its own read of the detail is audited apart
        with session_scope() as session:
            session.execute(update(Document).where(col(Document.id) == document_id)
                            .values(status="processing"))
        assert client.post(f"/patients/{env.a}/documents/{document_id}/retry").status_code == 409
        uploaded = _upload(client, env.a, _png("Audit note\nNo findings."))
        assert uploaded.status_code == 202

    actions = [action for user, action in _audit_rows(document_id) if action != "document.read"]
    assert actions == ["document.upload_refused", "document.retry", "document.retry_refused"]
    assert _audit_rows(uploaded.json()["id"]) == [(env.user_a.id, "document.upload")]


def test_staff_read_a_patients_audit_trail(env: Env) -> None:
    with env.client(env.user_a) as client:
        document_id = _upload(client, env.a, _png("Trail note\nAll well.")).json()["id"]
        assert client.get(f"/patients/{env.a}/documents/{document_id}").status_code == 200
    with env.client(env.staff) as staff:
        trail = staff.get(f"/patients/{env.a}/audit")
        assert trail.status_code == 200
        entries = trail.json()
        assert [(e["action"], e["document_id"]) for e in entries[:2]] == [
            ("document.read", document_id), ("document.upload", document_id)]
        assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)
        assert set(entries[0]) == {"id", "at", "user_id", "action", "patient_id", "document_id"}
        page = staff.get(f"/patients/{env.a}/audit", params={"limit": 1, "offset": 1}).json()
        assert [e["action"] for e in page] == ["document.read"]  # reading the trail was audited first
        assert staff.get(f"/patients/{env.a}/audit").json()[0]["action"] == "patient.audit_read"
        assert staff.get("/patients/p_nobody/audit").status_code == 404
        assert staff.get(f"/patients/{env.a}/audit", params={"limit": 0}).status_code == 422


@pytest.mark.slow
def test_200mb_upload_refused_without_memory_growth(server: str, tmp_path: Path) -> None:
    """In its own uvicorn process, so the RSS measured is the server's alone."""
    patient = make_patient()
    token = create_access_token(make_user("patient", patient))[0]
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "medupload.api:create_api", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            for _ in range(300):
                try:
                    if client.get("/health").status_code in (200, 503):
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            # Warm up the upload path (imports, first allocations) before the baseline.
            warm = _upload(client, patient, _png("warm up page"))
            assert warm.status_code == 202
            # Let its processing (OCR, extraction models) finish, so only the upload is measured.
            assert _wait_terminal(client, patient, warm.json()["id"])["status"] == "processed"
            server_process = psutil.Process(process.pid)
            baseline = server_process.memory_info().rss
            peak = baseline
            stop = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not stop.is_set():
                    peak = max(peak, server_process.memory_info().rss)
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            sent = 0

            def body() -> Iterator[bytes]:
                nonlocal sent
                yield (b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; "
                       b"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n")
                block = b"\0" * (1024 * 1024)
                for _ in range(200):
                    sent += len(block)
                    yield block
                yield b"\r\n--b0undary--\r\n"

            try:
                # Chunked (no Content-Length): only the streaming limit can stop it.
                response = client.post(f"/patients/{patient}/documents", content=body(),
                                       headers={"content-type": "multipart/form-data; boundary=b0undary"})
                print("answer", response.status_code, "after", sent >> 20, "MB sent")
                assert response.status_code == 413
                assert response.json()["error"]["code"] == "error.too_large"
            except httpx.TransportError:
                print("transport error after", sent >> 20, "MB")  # 413 sent, then closed mid-send
            finally:
                stop.set()
                sampler.join()
            growth_mb = (peak - baseline) / 2**20
            print(f"server RSS growth during a 200 MB upload: {growth_mb:.1f} MB; sent {sent >> 20} MB")
            assert growth_mb < 30
            assert client.get("/health").status_code == 200
        with session_scope() as session:
            rows = session.exec(select(Document).where(Document.patient_id == patient)).all()
            assert len(rows) == 1  # the warm-up upload only
        incoming = storage.incoming_dir()
        assert [p for p in incoming.iterdir() if p.is_file()] == []
    finally:
        process.terminate()
        process.wait(timeout=20)
