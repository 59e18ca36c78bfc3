"""``python -m medupload.serve``: several Granian processes on one port, graceful SIGTERM, respawn.

The real server (Granian, as ``make run`` starts it, without a frontend build), real Redis,
SQLite. A stream's process gets SIGTERM: the stream receives ``retry`` and closes at once (it
does not hold the process until STREAM_MAX_SECONDS), the client reconnects with Last-Event-ID
to the same port and misses nothing; the stopped process and a kill -9'd one are respawned.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from httpx_sse import aconnect_sse
from support import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str
    port: int
    env: dict[str, str]
    log: Path

    def workers(self) -> list[psutil.Process]:
        return [p for p in psutil.Process(self.process.pid).children() if p.is_running()]

    def owner_of_connection(self) -> int:
        """The worker holding the (one) established client connection on the port."""
        for worker in self.workers():
            for conn in worker.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == self.port:
                    return worker.pid
        raise AssertionError("no worker holds the connection")

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "medupload", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120, check=True)
        return done.stdout.strip()


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():  # type: ignore[operator]
                return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    env = {
        **os.environ,
        "MEDUPLOAD_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "MEDUPLOAD_STORAGE_DIR": str(tmp_path / "uploads"),
        "MEDUPLOAD_REDIS_PREFIX": f"ts{uuid.uuid4().hex[:8]}:",
        "MEDUPLOAD_HEARTBEAT_SECONDS": "1",
        "REFLEX_REDIS_URL": os.environ.get("MEDUPLOAD_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    log = tmp_path / "server.log"
    server = Served(None, f"http://127.0.0.1:{port}", port, env, log)  # type: ignore[arg-type]
    server.cli("migrate")
    server.process = subprocess.Popen(
        [sys.executable, "-m", "medupload.serve", "--no-build", "--workers", "2", "--port", str(port),
         "--kill-timeout", "10"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait(lambda: httpx.get(f"{server.base}/api/v1/health", timeout=2).status_code == 200, 90, "health")
        _wait(lambda: len(server.workers()) == 2, 30, "two workers")
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(10)


async def test_sigterm_sends_retry_and_the_client_resumes_on_the_same_port(served: Served) -> None:
    password = "serve pass " + uuid.uuid4().hex[:6]
    patient_id = served.cli("user", "add", "--role", "patient", "--username", "serve-p", "--password",
                            password).split()[-1]
    async with httpx.AsyncClient(base_url=served.base, timeout=20) as client:
        token = (await client.post("/api/v1/auth/token", json={"username": "serve-p", "password": password})
                 ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = f"/api/v1/patients/{patient_id}/documents/stream"
        seen: list[tuple[str, int | None]] = []
        owner, stopped_at = 0, 0.0
        async with aconnect_sse(client, "GET", url, headers=headers) as source:
            async for sse in source.aiter_sse():
                seen.append((sse.event, sse.retry))
                if sse.event == "heartbeat" and not owner:
                    owner, stopped_at = served.owner_of_connection(), time.monotonic()
                    os.kill(owner, signal.SIGTERM)
            # The stream ended by itself (the drain), not at STREAM_MAX_SECONDS.
        ended_after = time.monotonic() - stopped_at
        assert seen[:3] == [("message", 3000), ("snapshot", None), ("heartbeat", None)]
        event, retry_ms = seen[-1]  # the last thing sent: a jittered reconnect delay
        assert event == "message" and retry_ms is not None and 250 <= retry_ms <= 3000
        assert ended_after < 5, f"the stream took {ended_after:.1f} s to close after SIGTERM"

        # The stopped worker is respawned; the port keeps answering meanwhile.
        await asyncio.to_thread(_wait, lambda: owner not in [w.pid for w in served.workers()]
                                and len(served.workers()) == 2, 60, "the worker to be respawned")
        async with aconnect_sse(client, "GET", url, headers=headers) as source:
            events = source.aiter_sse()
            assert [(e.event, e.retry) for e in (await anext(events), await anext(events))] == [
                ("message", 3000), ("snapshot", None)]


async def test_a_killed_worker_is_respawned(served: Served) -> None:
    victim = served.workers()[0].pid
    os.kill(victim, signal.SIGKILL)
    await asyncio.to_thread(_wait, lambda: victim not in [w.pid for w in served.workers()]
                            and len(served.workers()) == 2, 60, "a new worker")
    async with httpx.AsyncClient(base_url=served.base, timeout=10) as client:
        assert (await client.get("/api/v1/health")).status_code == 200
