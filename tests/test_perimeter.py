"""The web perimeter against the whole app on a real server: CORS, CSRF, security headers, the
/_upload gate, PHI/file modes at the edges, and `make audit`.

Over 400 lines on purpose: the six parts share one running app (a module fixture that compiles the
pages and starts a server, several seconds), and each part is a short section below.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docgen
import httpx
import pytest
from perimeter_server import (
    MB,
    UPLOAD_HANDLER,
    AppServer,
    Watch,
    raw_upload,
    spooled_bytes,
    start_app_server,
)

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def app_server() -> Iterator[AppServer]:
    server = start_app_server()
    yield server
    server.stop()


def websocket_handshake(server: AppServer, origin: str) -> int:
    """Open the UI's socket (/_event, Socket.IO over WebSocket) from a page on ``origin``."""
    host, port = server.base_url.removeprefix("http://").split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


# -- 1. CORS: only the configured origins ------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/patients/p_x/documents", "/_upload"])
def test_preflight_from_a_foreign_origin_is_not_allowed(app_server: AppServer, path: str) -> None:
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    foreign = httpx.options(app_server.base_url + path, headers={**headers, "Origin": EVIL})
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    own = httpx.options(app_server.base_url + path, headers={**headers, "Origin": app_server.origin})
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == app_server.origin
    assert own.headers["access-control-allow-credentials"] == "true"


def test_credentialed_read_is_not_shared_with_a_foreign_origin(app_server: AppServer) -> None:
    cookies = {"medupload_session": "x"}
    foreign = httpx.get(app_server.base_url + "/api/v1/health", headers={"Origin": EVIL}, cookies=cookies)
    assert foreign.status_code == 200
    assert "access-control-allow-origin" not in foreign.headers
    own = httpx.get(app_server.base_url + "/api/v1/health", headers={"Origin": app_server.origin},
                    cookies=cookies)
    assert own.headers["access-control-allow-origin"] == app_server.origin
    # localhost on the same port is the app's origin too.
    local = app_server.origin.replace("127.0.0.1", "localhost")
    assert httpx.get(app_server.base_url + "/api/v1/health",
                     headers={"Origin": local}).headers["access-control-allow-origin"] == local


def test_the_ui_socket_accepts_only_the_apps_origin(app_server: AppServer) -> None:
    assert websocket_handshake(app_server, EVIL) == 403
    assert websocket_handshake(app_server, app_server.origin) == 101


def test_allowed_origins_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from medupload.settings import Settings

    monkeypatch.delenv("MEDUPLOAD_ALLOWED_ORIGINS", raising=False)
    monkeypatch.delenv("REFLEX_FRONTEND_PORT", raising=False)
    monkeypatch.setenv("PORT", "8080")
    assert Settings().allowed_origins == ("http://localhost:8080", "http://127.0.0.1:8080")
    monkeypatch.setenv("MEDUPLOAD_ALLOWED_ORIGINS", " https://Clinic.example/ ,http://10.0.0.5:3000")
    assert Settings().allowed_origins == ("https://clinic.example", "http://10.0.0.5:3000")
    for bad in ("*", "clinic.example", "https://clinic.example/app", "ftp://clinic.example"):
        monkeypatch.setenv("MEDUPLOAD_ALLOWED_ORIGINS", bad)
        with pytest.raises(ValidationError, match="allowed_origins"):
            Settings()


# -- 2. CSRF: cookie-authenticated state changes only from our origins --------------------------


@pytest.fixture(scope="module")
def patient(app_server: AppServer) -> tuple[str, str]:
    """(patient id, access token) of a new patient account made with the real CLI."""
    username = f"pat{uuid.uuid4().hex[:6]}"
    out = app_server.cli("user", "add", "--role", "patient", "--username", username, "--password",
                         "perimeter-pass-1", "--name", "Perimeter Patient", "--program", "diabetes-annual")
    patient_id = out.split()[-1]
    response = httpx.post(app_server.base_url + "/api/v1/auth/token",
                          json={"username": username, "password": "perimeter-pass-1"})
    return patient_id, response.json()["access_token"]


def stored(server: AppServer) -> tuple[int, int]:
    """(document rows, stored files) on the server."""
    db = server.env["MEDUPLOAD_DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    files = sum(1 for path in Path(server.env["MEDUPLOAD_STORAGE_DIR"]).rglob("*") if path.is_file())
    return rows, files


def a_pdf() -> bytes:
    return docgen.born_digital_pdf([f"Clinic letter {uuid.uuid4().hex}\nHemoglobin A1c 6.9 %"])


def wait_terminal(server: AppServer, patient_id: str, document_id: str, token: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.base_url}/api/v1/patients/{patient_id}/documents/{document_id}",
                           headers={"Authorization": f"Bearer {token}"}).json()["status"]
        if status in ("processed", "failed"):
            return
        time.sleep(0.3)
    raise TimeoutError(document_id)


# (name, credentials, origin headers, refused?)
CSRF_CASES = [
    ("cookie, Origin evil", "cookie", {"Origin": EVIL}, True),
    ("cookie, Referer evil, no Origin", "cookie", {"Referer": EVIL + "/page"}, True),
    ("cookie, Origin null", "cookie", {"Origin": "null"}, True),
    ("cookie+bearer, Origin evil", "both", {"Origin": EVIL}, True),
    ("cookie, Origin localhost:other port", "cookie", {"Origin": "http://localhost:1"}, True),
    ("cookie, own Origin", "cookie", {"Origin": "OWN"}, False),
    ("cookie, own Referer, no Origin", "cookie", {"Referer": "OWN/patient"}, False),
    ("cookie, no Origin/Referer (not a browser page)", "cookie", {}, False),
    ("bearer only, Origin evil", "bearer", {"Origin": EVIL}, False),
]


@pytest.mark.parametrize(("name", "credentials", "origin", "refused"), CSRF_CASES,
                         ids=[case[0] for case in CSRF_CASES])
def test_csrf_matrix_upload_and_retry(app_server: AppServer, patient: tuple[str, str], name: str,
                                      credentials: str, origin: dict[str, str], refused: bool) -> None:
    patient_id, token = patient
    headers = {key: value.replace("OWN", app_server.origin) for key, value in origin.items()}
    cookies = {"medupload_session": token} if credentials in ("cookie", "both") else {}
    if credentials in ("bearer", "both"):
        headers["Authorization"] = f"Bearer {token}"
    documents = f"{app_server.base_url}/api/v1/patients/{patient_id}/documents"
    with httpx.Client(cookies=cookies) as client:
        before = stored(app_server)
        upload = client.post(documents, headers=headers,
                             files={"file": ("letter.pdf", a_pdf(), "application/pdf")})
        if refused:
            assert upload.status_code == 403, upload.text
            assert upload.json()["error"]["code"] == "auth.csrf"
            assert stored(app_server) == before
        else:
            assert upload.status_code == 202, upload.text
            assert stored(app_server) == (before[0] + 1, before[1] + 1)
        # Retry a document of this patient (uploaded with the bearer token, no cookie, no Origin).
        own = httpx.post(documents, headers={"Authorization": f"Bearer {token}"},
                         files={"file": ("letter.pdf", a_pdf(), "application/pdf")}).json()["id"]
        wait_terminal(app_server, patient_id, own, token)
        retry = client.post(f"{documents}/{own}/retry", headers=headers)
        events_before = len(httpx.get(f"{documents}/{own}", headers={"Authorization": f"Bearer {token}"})
                            .json()["events"])
        assert retry.status_code == (403 if refused else 202), retry.text
        if refused:
            assert retry.json()["error"]["code"] == "auth.csrf"
            time.sleep(0.3)
            after = httpx.get(f"{documents}/{own}", headers={"Authorization": f"Bearer {token}"}).json()
            assert len(after["events"]) == events_before and after["status"] in ("processed", "failed")
    print(f"CSRF {name}: upload {upload.status_code}, retry {retry.status_code}")


def test_sign_in_from_a_foreign_page_is_refused(app_server: AppServer) -> None:
    """Login CSRF: a foreign page must not sign the browser in to an account of its choosing (the
    patient's uploads would land there). Programs (no Origin) and our pages sign in as before."""
    username = f"pat{uuid.uuid4().hex[:6]}"
    app_server.cli("user", "add", "--role", "patient", "--username", username, "--password", "pw-123456",
                   "--name", "Login Csrf", "--program", "diabetes-annual")
    body = {"username": username, "password": "pw-123456"}
    url = app_server.base_url + "/api/v1/auth/token"
    foreign = httpx.post(url, json=body, headers={"Origin": EVIL})
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "auth.csrf"
    assert httpx.post(url, json=body, headers={"Origin": app_server.origin}).status_code == 200
    assert httpx.post(url, json=body).status_code == 200


def test_csrf_on_reflex_upload(app_server: AppServer, patient: tuple[str, str]) -> None:
    _patient_id, token = patient
    before = stored(app_server)
    headers = {"Reflex-Client-Token": str(uuid.uuid4()), "Reflex-Event-Handler": UPLOAD_HANDLER}
    files = {"files": ("letter.pdf", a_pdf(), "application/pdf")}
    with httpx.Client(cookies={"medupload_session": token}) as client:
        foreign = client.post(app_server.base_url + "/_upload", headers={**headers, "Origin": EVIL},
                              files=files)
        assert foreign.status_code == 403
        assert foreign.json()["error"]["code"] == "auth.csrf"
        own = client.post(app_server.base_url + "/_upload", headers={**headers, "Origin": app_server.origin},
                          files=files)
    assert own.status_code == 200, own.text
    assert stored(app_server)[0] == before[0]  # a socket-less client token has no signed-in state


# -- 3. Security headers on every response; Swagger UI from this server -------------------------

HEADER_ROUTES = [
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("GET", "/api/v1/docs/init.js"),
    ("GET", "/api/v1/docs/assets/swagger-ui-bundle.js"),
    ("GET", "/api/v1/docs/assets/swagger-ui.css"),
    ("GET", "/api/v1/patients/p_x/documents"),  # 401
    ("GET", "/api/v1/nowhere"),  # 404
    ("GET", "/ping"),
    ("GET", "/_health"),
    ("POST", "/_upload"),  # refused by the perimeter itself
]


def test_security_headers_on_every_route(app_server: AppServer) -> None:
    with httpx.Client(base_url=app_server.base_url) as client:
        for method, path in HEADER_ROUTES:
            headers = client.request(method, path, headers={"Origin": EVIL},
                                     cookies={"medupload_session": "x"}).headers
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["referrer-policy"] == "same-origin", path
            assert headers["x-frame-options"] == "DENY", path
            csp = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
            assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'", path
            assert csp["script-src"].split()[0] == "'self'" and "'unsafe-inline'" not in csp["script-src"]
            sockets = {app_server.origin.replace("http", "ws"), app_server.origin.replace("http://127.0.0.1",
                                                                                       "ws://localhost")}
            assert set(csp["connect-src"].split()) == {"'self'", *sockets}, path
    print(f"security headers present on {len(HEADER_ROUTES)} server routes")


def test_swagger_ui_is_served_from_this_server(app_server: AppServer) -> None:
    page = httpx.get(app_server.base_url + "/api/v1/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/api/v1/docs/") for source in sources), sources
    assert "<script>" not in page.text  # no inline script: the CSP allows none here
    for source in sources:
        asset = httpx.get(app_server.base_url + source)
        assert asset.status_code == 200 and len(asset.content) > 0, source
    bundle = httpx.get(app_server.base_url + "/api/v1/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text


def test_inline_script_hashes_come_from_the_built_pages(tmp_path: Path) -> None:
    from medupload.web.perimeter import inline_script_hashes, security_headers

    (tmp_path / "login").mkdir()
    (tmp_path / "login" / "index.html").write_text(
        '<script src="/a.js"></script><script>window.x = 1;</script><script type="module">go()</script>')
    (tmp_path / "index.html").write_text("<script>window.x = 1;</script>")
    digests = inline_script_hashes(tmp_path)
    expected = sorted(base64.b64encode(hashlib.sha256(text).digest()).decode()
                      for text in (b"window.x = 1;", b"go()"))
    assert digests == expected
    csp = security_headers(("https://clinic.example",), digests)["content-security-policy"]
    assert f"script-src 'self' 'unsafe-eval' 'sha256-{expected[0]}' 'sha256-{expected[1]}';" in csp
    assert "connect-src 'self' wss://clinic.example;" in csp
    assert inline_script_hashes(tmp_path / "missing") == []


# -- 4. /_upload: no session, no body; past the limit, no more body ----------------------------

@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_upload_without_a_session_is_refused_before_the_body(app_server: AppServer, chunked: bool) -> None:
    for cookie in (None, "not-a-token"):
        watch = Watch(app_server)
        status, sent = raw_upload(app_server, cookie, chunked=chunked)
        rss_mb, tmp_mb = watch.done()
        assert status == 401
        assert sent < 8 * MB  # only what was in flight before the answer
        assert tmp_mb == 0
        print(f"/_upload no session ({'chunked' if chunked else 'content-length'}, cookie={cookie}): "
              f"401 after {sent / MB:.1f} MB sent of 300; server RSS +{rss_mb:.1f} MB, temp +{tmp_mb:.1f} MB")


def test_upload_over_the_limit_is_cut_off(app_server: AppServer, patient: tuple[str, str]) -> None:
    _patient_id, token = patient
    limit_mb = 5 * 25  # MEDUPLOAD_UPLOAD_MAX_FILES files of MEDUPLOAD_MAX_UPLOAD_MB (defaults)
    watch = Watch(app_server)
    status, sent = raw_upload(app_server, token, chunked=False)
    rss_mb, tmp_mb = watch.done()
    assert status == 413 and sent < 8 * MB and tmp_mb == 0
    print(f"/_upload signed in, Content-Length 300 MB: 413 after {sent / MB:.1f} MB sent; "
          f"RSS +{rss_mb:.1f} MB, temp +{tmp_mb:.1f} MB")

    watch = Watch(app_server)
    status, sent = raw_upload(app_server, token, chunked=True)
    rss_mb, tmp_mb = watch.done()
    assert status == 413
    assert limit_mb * MB < sent < (limit_mb + 16) * MB  # the limit plus what the sockets buffer
    assert tmp_mb <= limit_mb + 1 and rss_mb < 100
    time.sleep(0.5)
    assert spooled_bytes(app_server.process.pid, Path(app_server.env["TMPDIR"])) == 0  # spool gone
    print(f"/_upload signed in, chunked 300 MB: 413 after {sent / MB:.1f} MB sent; "
          f"peak RSS +{rss_mb:.1f} MB, peak temp +{tmp_mb:.1f} MB")


def test_upload_within_the_limit_still_works(app_server: AppServer, patient: tuple[str, str]) -> None:
    """Also one file over MEDUPLOAD_MAX_UPLOAD_MB: the page's handler must see it to name it."""
    _patient_id, token = patient
    for total in (2 * MB, 30 * MB):
        status, sent = raw_upload(app_server, token, chunked=True, total=total)
        assert status == 200 and sent > total


# -- 5. PHI and file modes at the edges ---------------------------------------------------------


def test_a_failed_statement_logs_no_parameters(any_db: str, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from sqlalchemy.exc import IntegrityError
    from support import PHI_CANARY, make_document, make_patient

    from medupload.db import session_scope
    from medupload.models import Document

    patient_id = make_patient()
    document_id = make_document(patient_id)
    log = logging.getLogger("medupload.test")
    with pytest.raises(IntegrityError) as failure:
        try:
            with session_scope() as session:
                session.add(Document(id=document_id, patient_id=patient_id, filename=f"{PHI_CANARY}.pdf",
                                     content_type="application/pdf", size=1, sha256="0" * 64,
                                     storage_path="/nonexistent"))
        except IntegrityError:
            log.exception("storing the document failed")
            raise
    assert "hide_parameters=True" in str(failure.value)
    (record,) = [r for r in caplog.records if r.name == "medupload.test"]
    assert record.exc_text and "IntegrityError" in record.exc_text
    assert PHI_CANARY not in caplog.text and PHI_CANARY not in str(failure.value)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_new_sqlite_database_and_stored_files_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          request: pytest.FixtureRequest) -> None:
    import sqlalchemy as sa
    from support import reset_caches

    from medupload.db import make_engine
    from medupload.pipeline import storage

    previous = os.umask(0o022)  # as a shell leaves it: the code, not the umask, must make these private
    request.addfinalizer(lambda: os.umask(previous))
    db = tmp_path / "data" / "nested" / "app.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x TEXT)"))
        conn.execute(sa.text("INSERT INTO t VALUES ('a')"))
        assert {mode(p) for p in db.parent.iterdir()} == {0o600}  # the database, -wal and -shm
    engine.dispose()
    assert mode(tmp_path / "data") == 0o700 and mode(db.parent) == 0o700 and mode(db) == 0o600

    monkeypatch.setenv("MEDUPLOAD_STORAGE_DIR", str(tmp_path / "store" / "uploads"))
    reset_caches()
    incoming = storage.incoming_dir()
    part = incoming / ".upload-x.part"
    part.write_bytes(b"raw upload")  # 0644 under the umask above
    part.chmod(0o600)  # as mkstemp makes it (intake.SizeLimitedSink)
    final = storage.store(part, "ab" * 32)
    made = (tmp_path / "store", storage.storage_root(), incoming, final.parent)
    assert [mode(path) for path in made] == [0o700] * 4
    assert mode(final) == 0o600
    reset_caches()


def test_the_running_app_keeps_its_files_private(app_server: AppServer, patient: tuple[str, str]) -> None:
    """The server's database, uploads and Reflex's state files after a REST and a UI upload."""
    from perimeter_server import ROOT
    from reflex.utils.prerequisites import get_states_dir

    patient_id, token = patient
    upload = httpx.post(f"{app_server.base_url}/api/v1/patients/{patient_id}/documents",
                        headers={"Authorization": f"Bearer {token}"},
                        files={"file": ("letter.pdf", a_pdf(), "application/pdf")})
    assert upload.status_code == 202
    states = ROOT / get_states_dir()  # relative to the app's directory unless set absolute
    before = set(states.glob("*"))
    # A new UI session (client token): Reflex pickles its state under .states.
    ui_headers = {"Reflex-Client-Token": str(uuid.uuid4()), "Reflex-Event-Handler": UPLOAD_HANDLER}
    ui_upload = httpx.post(app_server.base_url + "/_upload", cookies={"medupload_session": token},
                           headers=ui_headers, files={"files": ("letter.pdf", a_pdf(), "application/pdf")})
    assert ui_upload.status_code == 200

    data = app_server.run_dir / "data"
    db = data / "app.db"
    uploads = Path(app_server.env["MEDUPLOAD_STORAGE_DIR"])
    files = [path for path in uploads.rglob("*") if path.is_file()]
    dirs = [data, uploads, *(path for path in uploads.rglob("*") if path.is_dir())]
    assert files and len(dirs) > 3
    assert {mode(path) for path in dirs} == {0o700}
    assert {mode(path) for path in [db, *files, *data.glob("app.db-*")]} == {0o600}
    deadline = time.monotonic() + 10
    while not (new_states := set(states.glob("*")) - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert new_states, "the UI state was pickled to disk"
    assert mode(states) == 0o700 and {mode(path) for path in states.glob("*")} == {0o600}


# -- 6. make audit -----------------------------------------------------------------------------


def test_make_audit_never_passes_without_asking_a_database() -> None:
    """Here no vulnerability database answers: the target must say so and fail (exit 2), not
    report a clean audit. Where one answers, 0 means checked and clean, 1 lists findings."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(["make", "-s", "audit"], cwd=root, capture_output=True, text=True, timeout=600,
                          check=False)
    output = done.stdout + done.stderr
    failed = re.search(r"audit\] Error (\d+)", output)  # make itself exits 2 on any failure
    audit_status = 0 if done.returncode == 0 else int(failed.group(1)) if failed else -1
    if audit_status == 2:
        assert "could not reach a vulnerability database" in output and "nothing was checked" in output
    elif audit_status == 0:
        assert "No known vulnerabilities" in output
    else:
        assert audit_status == 1 and "Found" in output, output[-2000:]
