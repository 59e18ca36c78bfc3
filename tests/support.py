"""Shared test support: rows made directly with SQLModel, cache resets, a private Redis, the one
live API server harness (uvicorn in a thread) and an SSE reader (httpx-sse)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from httpx_sse import EventSource

from medupload.db import session_scope
from medupload.models import Document, Patient, User

PG_URL = os.environ.get("MEDUPLOAD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def reset_caches() -> None:
    """Forget cached settings, engines and clients after the environment changed."""
    from medupload import redis_client
    from medupload.db import get_engine
    from medupload.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    redis_client.sync_redis.cache_clear()
    redis_client._async_clients.clear()


PHI_CANARY = "CANARY-Zebulon-Quartermaine-1961-04-02"


def make_patient(name: str = f"{PHI_CANARY} patient") -> str:
    with session_scope() as session:
        patient = Patient(display_name=name)
        session.add(patient)
        session.flush()
        return patient.id


def make_document(patient_id: str, filename: str = f"{PHI_CANARY}.pdf") -> str:
    with session_scope() as session:
        doc = Document(
            patient_id=patient_id, filename=filename, content_type="application/pdf", size=123,
            sha256=secrets.token_hex(32), storage_path=f"/nonexistent/{secrets.token_hex(8)}",
        )
        session.add(doc)
        session.flush()
        return doc.id


def make_user(role: str, patient_id: str | None) -> User:
    with session_scope() as session:
        user = User(username=f"u{secrets.token_hex(6)}", password_hash="x", role=role,
                    patient_id=patient_id)
        session.add(user)
        return user


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on its own port, for tests that kill Redis."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class LiveServer:
    """create_api() served by uvicorn on a random port, on its own event loop in a thread."""

    def __init__(self) -> None:
        from medupload.api import create_api

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.loop: asyncio.AbstractEventLoop | None = None
        config = uvicorn.Config(create_api(), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        from medupload.progress.hub import current_hub

        self.loop = asyncio.get_running_loop()
        try:
            await self.server.serve()
        finally:
            hub = current_hub()
            if hub is not None:
                await hub.close()

    def start(self) -> LiveServer:
        from medupload import redis_client

        redis_client._async_clients.clear()  # a fresh loop must not inherit a stale client
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            time.sleep(0.01)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop (to read hub and task state safely)."""
        assert self.loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)


@dataclass
class Event:
    event: str
    id: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


async def sse(response: httpx.Response) -> AsyncIterator[Event]:
    """Each event of an SSE response, as httpx-sse decodes it (``id`` is the last event id, as
    an EventSource keeps it); a ``retry:`` field arrives as an event of its own, ``retry``."""
    async for item in EventSource(response).aiter_sse():
        if item.retry is not None:
            yield Event("retry", None, str(item.retry))
        if item.data:  # as an EventSource: no data, nothing dispatched
            yield Event(item.event, item.id or None, item.data)
