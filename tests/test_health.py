"""GET /api/v1/health: ok with Redis, `degraded` (not an error) without it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from support import reset_caches

from medupload import redis_client
from medupload.api import create_api


@pytest.fixture(autouse=True)
def fresh_async_redis() -> Iterator[None]:
    redis_client._async_clients.clear()
    yield
    redis_client._async_clients.clear()


async def _health() -> httpx.Response:
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/api/v1/health")


async def test_health_ok_with_redis(fresh_db: str) -> None:
    response = await _health()
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": "ok", "redis": "ok"}


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_health_degraded_when_redis_is_unreachable(fresh_db: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDUPLOAD_REDIS_URL", f"redis://127.0.0.1:{_dead_port()}/0")
    reset_caches()
    redis_client._async_clients.clear()
    started = time.monotonic()
    response = await _health()
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "db": "ok", "redis": "down"}
    assert time.monotonic() - started < 5  # degraded quickly, not after a long hang
