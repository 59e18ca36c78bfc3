"""Two server processes on one port and two queue workers, on PostgreSQL + Redis; crashes mid-flight.

``python -m medupload.serve --workers 2`` (the build of this session's ``server`` fixture, as
``WEB_WORKERS=2 make run`` serves it) and two ``python -m medupload worker`` processes. Documents
are uploaded through the port; an SSE client (reconnecting with Last-Event-ID, as EventSource
does) and the patient's Reflex page watch. Mid-flight one worker and the server process holding
the SSE stream are killed with SIGKILL. Every document ends ``processed``; the SSE watcher saw
every progress event of every document exactly once, in order; the page shows every card done.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docgen
import httpx
import psutil
import pytest
from httpx_sse import connect_sse
from playwright.sync_api import expect

from .browser_helpers import ROOT, Server, _wait_http, lab_report_text, login, stop_server

DOCUMENTS = 4
PASSWORD = "scale pass"


@dataclass
class Cluster:
    base: str
    port: int
    env: dict[str, str]
    server: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    patient_id: str
    username: str

    def server_processes(self) -> list[psutil.Process]:
        return [p for p in psutil.Process(self.server.pid).children() if p.is_running()]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture
def cluster(server: Server, pg_schema_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Serves the build of the session's ``server`` on its port (the build has the port in it),
    so that server is stopped meanwhile and started again afterwards."""
    port = server.port
    stop_server(server.process)
    try:
        yield from _cluster(server, port, pg_schema_url, tmp_path)
    finally:
        server.restart()  # the session's server again, for the tests after this one


def _cluster(server: Server, port: int, pg_schema_url: str, tmp_path: Path) -> Iterator[Cluster]:
    redis_url = os.environ.get("MEDUPLOAD_REDIS_URL", "redis://127.0.0.1:6379/0")
    env = {
        **server.env,
        "MEDUPLOAD_DATABASE_URL": pg_schema_url,
        "MEDUPLOAD_STORAGE_DIR": str(tmp_path / "uploads"),
        "MEDUPLOAD_REDIS_URL": redis_url,
        "MEDUPLOAD_REDIS_PREFIX": f"tc{uuid.uuid4().hex[:8]}:",
        "MEDUPLOAD_PIPELINE_MODE": "queue",
        "REFLEX_REDIS_URL": redis_url,
        "REFLEX_FRONTEND_PORT": str(port),
        "REFLEX_BACKEND_PORT": str(port),
    }
    log = tmp_path / "cluster.log"

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "medupload", *args], cwd=ROOT, env=env, text=True,
                              capture_output=True, timeout=120, check=True)
        return done.stdout.strip()

    cli("migrate")
    username = f"scale-{uuid.uuid4().hex[:6]}"
    patient_id = cli("user", "add", "--role", "patient", "--username", username, "--password", PASSWORD,
                     "--program", "diabetes-annual").split()[-1]
    serving = _start(["-m", "medupload.serve", "--no-build", "--workers", "2", "--port", str(port),
                      "--kill-timeout", "10"], env, log)
    workers = [_start(["-m", "medupload", "worker", "--processes", "1", "--threads", "1"], env, log)
               for _ in range(2)]
    cluster = Cluster(f"http://127.0.0.1:{port}", port, env, serving, workers, patient_id, username)
    try:
        _wait_http(f"{cluster.base}/api/v1/health", time.monotonic() + 120, serving)
        _wait_http(f"{cluster.base}/login", time.monotonic() + 60, serving)
        deadline = time.monotonic() + 30
        while len(cluster.server_processes()) < 2:
            assert time.monotonic() < deadline, "two server processes did not start"
            time.sleep(0.2)
        yield cluster
    finally:
        for process in [serving, *workers]:
            _stop(process)
        print("\n--- cluster log (tail) ---\n" + log.read_text(errors="replace")[-3000:])


@dataclass
class Watcher:
    """An SSE client that reconnects with Last-Event-ID whenever the stream ends or breaks."""

    url: str
    headers: dict[str, str]
    events: list[tuple[str, str | None, dict[str, object]]] = field(default_factory=list)
    connects: int = 0
    last_id: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import json

        while not self.stop.is_set():
            headers = dict(self.headers)
            if self.last_id:
                headers["Last-Event-ID"] = self.last_id
            try:
                with httpx.Client(timeout=httpx.Timeout(10, read=15)) as client, connect_sse(
                        client, "GET", self.url, headers=headers) as source:
                    self.connects += 1
                    for sse in source.iter_sse():
                        if sse.id:
                            self.last_id = sse.id
                        if sse.event in ("progress", "document_update", "done"):
                            self.events.append((sse.event, sse.id, json.loads(sse.data)))
                        if self.stop.is_set():
                            return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.3)

    def stream_port(self, server_port: int) -> int | None:
        """This test process's local port of its open SSE connection."""
        for conn in psutil.Process().net_connections(kind="tcp"):
            if conn.status == psutil.CONN_ESTABLISHED and conn.raddr and conn.raddr.port == server_port:
                return int(conn.laddr.port)
        return None


def _get(api: httpx.Client, path: str, headers: dict[str, str]) -> Any:
    """GET, once more on a connection the killed process had (keep-alive): what any client does."""
    try:
        return api.get(path, headers=headers).json()
    except httpx.TransportError:
        return api.get(path, headers=headers).json()


def test_two_servers_two_workers_survive_kill_9_and_watchers_lose_nothing(
        cluster: Cluster, context: object, tmp_path: Path) -> None:
    # No keep-alive: the watcher's stream must be this process's only connection to the port, or
    # stream_port() could pick an idle API connection and the kill would miss the stream.
    api = httpx.Client(base_url=f"{cluster.base}/api/v1", timeout=60,
                       limits=httpx.Limits(max_keepalive_connections=0))
    token = api.post("/auth/token", json={"username": cluster.username, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    watcher = Watcher(f"{cluster.base}/api/v1/patients/{cluster.patient_id}/documents/stream", headers)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()

    page = context.new_page()  # type: ignore[attr-defined]
    login(page, cluster.base, cluster.username, PASSWORD, "/patient")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live", timeout=20_000)

    document_ids = []
    for index in range(DOCUMENTS):
        png = docgen.png(docgen.render_page(lab_report_text(days_ago=index + 3)))
        response = api.post(f"/patients/{cluster.patient_id}/documents", headers=headers,
                            files={"file": (f"lab-{index}.png", png, "image/png")})
        assert response.status_code == 202, response.text
        document_ids.append(response.json()["id"])

    # Mid-flight: once a worker is reading a document, kill it and the stream's server process.
    deadline = time.monotonic() + 60
    while not any(data.get("stage") == "ocr_started" for _, _, data in watcher.events):
        assert time.monotonic() < deadline, "no document started"
        time.sleep(0.1)
    os.killpg(cluster.workers[0].pid, signal.SIGKILL)
    local_port = watcher.stream_port(cluster.port)
    assert local_port is not None
    holder = next(p for p in cluster.server_processes() for c in p.net_connections(kind="tcp")
                  if c.laddr.port == cluster.port and c.raddr and c.raddr.port == local_port)
    holder.kill()
    connects_before = watcher.connects

    # Every document ends processed (the dead worker's message is redelivered to the other one).
    deadline = time.monotonic() + 240
    while True:
        listed = _get(api, f"/patients/{cluster.patient_id}/documents", headers)
        statuses = {d["id"]: d["status"] for d in listed}
        if all(statuses.get(d) == "processed" for d in document_ids):
            break
        assert time.monotonic() < deadline, f"not all processed: {statuses}"
        time.sleep(1)
    # The killed server process was respawned; the port serves from two processes again.
    deadline = time.monotonic() + 60
    while not (len(cluster.server_processes()) == 2 and holder.pid not in [p.pid for p in
                                                                          cluster.server_processes()]):
        assert time.monotonic() < deadline, "the killed server process was not respawned"
        time.sleep(0.5)

    # The watcher reconnected with its Last-Event-ID and saw each event exactly once, in order.
    deadline = time.monotonic() + 30
    while sum(1 for kind, _, data in watcher.events if kind == "done") < DOCUMENTS:
        assert time.monotonic() < deadline, "the watcher missed a done"
        time.sleep(0.2)
    watcher.stop.set()
    assert watcher.connects > connects_before
    ids = [event_id for _, event_id, _ in watcher.events]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    for document_id in document_ids:
        detail = _get(api, f"/patients/{cluster.patient_id}/documents/{document_id}", headers)
        stored = [event["seq"] for event in detail["events"]]
        seen = [data["seq"] for kind, _, data in watcher.events
                if kind == "progress" and data["document_id"] == document_id]
        assert seen == stored, (document_id, seen, stored)

    # The page (whose socket may have been on the killed process) shows every card done.
    for document_id in document_ids:
        card = page.get_by_test_id(f"document-{document_id}")
        expect(card).to_have_attribute("data-status", "processed", timeout=30_000)
        expect(card.get_by_test_id("step-matching_complete")).to_have_attribute("data-state", "done")
