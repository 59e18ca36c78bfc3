"""Sessions that really end (issue 8): sign-out and ``user disable`` revoke tokens across
processes (Redis), open SSE streams close within 5 s, disabled accounts cannot sign in."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select
from support import reset_caches
from test_stream import LiveServer, sse

from medupload import redis_client, sessions, throttle
from medupload.__main__ import add_user
from medupload.api import create_api
from medupload.auth import decode_access_token
from medupload.db import get_engine
from medupload.models import User
from medupload.settings import PROJECT_ROOT, get_settings

PASSWORD = "alice-password"


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    redis_client._async_clients.clear()
    sessions.forget_cached()
    throttle.reset()
    # These tests sign in often from one address: earlier tests' attempts must not throttle them.
    client = redis_client.sync_redis()
    for key in client.scan_iter(get_settings().redis_key("signin*")):
        client.delete(key)
    yield
    redis_client._async_clients.clear()
    sessions.forget_cached()


@pytest.fixture
def alice(fresh_db: str) -> str:
    """A patient account ``alice``; returns her patient id."""
    with Session(get_engine()) as session:
        _, patient_id = add_user(session, username="alice", password=PASSWORD, role="patient")
        session.commit()
    assert patient_id is not None
    return patient_id


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _token(client: httpx.AsyncClient, username: str = "alice", password: str = PASSWORD) -> str:
    response = await client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in its own process: revocation must reach this one through Redis."""
    return subprocess.run([sys.executable, "-m", "medupload", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


# --- sign-out --------------------------------------------------------------------------------

async def test_logout_revokes_that_token_only(api: httpx.AsyncClient, alice: str) -> None:
    first, second = await _token(api), await _token(api)
    documents = f"/api/v1/patients/{alice}/documents"
    assert (await api.get(documents, headers=_bearer(first))).status_code == 200

    response = await api.post("/api/v1/auth/logout", headers=_bearer(first))
    assert response.status_code == 204
    assert response.content == b""

    ticket_url = "/api/v1/auth/stream-ticket"
    for attempt in (api.get(documents, headers=_bearer(first)),
                    api.post(ticket_url, json={"patient_id": alice}, headers=_bearer(first)),
                    api.get(documents, cookies={"medupload_session": first})):
        refused = await attempt
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "auth.revoked"
    # Another sign-in of the same account (another device) is not signed out.
    assert (await api.get(documents, headers=_bearer(second))).status_code == 200

    # The denylist entry lives in Redis, as long as the token would have, not longer.
    principal = decode_access_token(first)
    key = get_settings().redis_key(f"auth:revoked:{principal.token_id}")
    ttl = redis_client.sync_redis().ttl(key)
    assert 0 < principal.expires_at - time.time() <= ttl <= principal.expires_at - time.time() + 2
    # Another process has no cached answer: it asks Redis and is refused too.
    sessions.forget_cached()
    assert not await sessions.principal_active(principal)
    assert await sessions.principal_active(decode_access_token(second))


async def test_logout_is_idempotent_and_clears_the_cookie(api: httpx.AsyncClient, alice: str) -> None:
    token = await _token(api)
    for _ in range(2):
        response = await api.post("/api/v1/auth/logout", headers=_bearer(token))
        assert response.status_code == 204
        assert 'medupload_session=""' in response.headers["set-cookie"]
        assert "Max-Age=0" in response.headers["set-cookie"]
    assert (await api.post("/api/v1/auth/logout")).status_code == 204
    assert (await api.post("/api/v1/auth/logout", headers=_bearer("not-a-token"))).status_code == 204


async def test_revocation_check_falls_back_to_the_database_when_redis_is_down(
        api: httpx.AsyncClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    token = await _token(api)
    principal = decode_access_token(token)
    monkeypatch.setenv("MEDUPLOAD_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    reset_caches()
    sessions.forget_cached()
    assert await sessions.principal_active(principal)  # the account is enabled: keep working
    with Session(get_engine()) as session:
        user = session.get(User, principal.user_id)
        assert user is not None
        user.disabled = True
        session.add(user)
        session.commit()
    sessions.forget_cached()
    assert not await sessions.principal_active(principal)  # disabled in the DB: refused without Redis


# --- disable / enable ----------------------------------------------------------------------

async def _stream_until_closed(base: str, patient_id: str, **request: Any) -> float:
    """Open the SSE stream, read until the server ends it; returns the monotonic end time."""
    async with httpx.AsyncClient(timeout=30) as client, client.stream(
            "GET", f"{base}/api/v1/patients/{patient_id}/documents/stream", **request) as response:
        assert response.status_code == 200
        async for _ in sse(response):
            pass
    return time.monotonic()


async def test_disable_refuses_every_token_and_ends_streams_within_5_s(
        start_server: Callable[..., LiveServer], alice: str) -> None:
    server = start_server(heartbeat_seconds=1)
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
        tokens = [await _token(client) for _ in range(12)]
        documents = f"/api/v1/patients/{alice}/documents"
        for token in tokens:
            assert (await client.get(documents, headers=_bearer(token))).status_code == 200
        ticket = (await client.post("/api/v1/auth/stream-ticket", json={"patient_id": alice},
                                    headers=_bearer(tokens[1]))).json()["ticket"]
        streams = [
            asyncio.create_task(_stream_until_closed(server.base, alice, headers=_bearer(tokens[0]))),
            asyncio.create_task(_stream_until_closed(server.base, alice, params={"ticket": ticket})),
            asyncio.create_task(_stream_until_closed(server.base, alice,
                                                     cookies={"medupload_session": tokens[2]})),
        ]
        await asyncio.sleep(1.0)
        assert not any(task.done() for task in streams)

        result = _cli("user", "disable", "--username", "alice")
        disabled_at = time.monotonic()
        assert result.returncode == 0, result.stderr
        assert "disabled" in result.stdout

        pending = set(tokens)
        while pending and time.monotonic() - disabled_at < 10:
            for token in list(pending):
                response = await client.get(documents, headers=_bearer(token))
                if response.status_code == 401:
                    assert response.json()["error"]["code"] == "auth.revoked"
                    pending.discard(token)
            await asyncio.sleep(0.1)
        all_refused_after = time.monotonic() - disabled_at
        ended = await asyncio.wait_for(asyncio.gather(*streams), timeout=15)
        streams_ended_after = max(ended) - disabled_at
        print(f"\n{len(tokens)} tokens refused within {all_refused_after:.2f} s; "
              f"{len(streams)} streams ended within {streams_ended_after:.2f} s of `user disable`")
        assert not pending
        assert all_refused_after <= 5.0
        assert streams_ended_after <= 5.0

        # A disabled account cannot sign in, with the same answer as a wrong password.
        refused = await client.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "auth.invalid"

        # Enabled again: a new sign-in works at once; the old tokens stay void.
        result = _cli("user", "enable", "--username", "alice")
        assert result.returncode == 0, result.stderr
        fresh = await _token(client)
        assert (await client.get(documents, headers=_bearer(fresh))).status_code == 200
        await asyncio.sleep(get_settings().revocation_cache_seconds + 0.1)
        for token in tokens:
            assert (await client.get(documents, headers=_bearer(token))).status_code == 401


async def test_logout_ends_that_tokens_open_stream(start_server: Callable[..., LiveServer],
                                                   alice: str) -> None:
    server = start_server()
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
        token = await _token(client)
        stream = asyncio.create_task(_stream_until_closed(server.base, alice, headers=_bearer(token)))
        await asyncio.sleep(0.5)
        assert (await client.post("/api/v1/auth/logout", headers=_bearer(token))).status_code == 204
        signed_out_at = time.monotonic()
        ended_at = await asyncio.wait_for(stream, timeout=15)
        assert ended_at - signed_out_at <= 5.0


def test_disable_unknown_user_is_a_clear_error(alice: str) -> None:
    result = _cli("user", "disable", "--username", "nobody")
    assert result.returncode == 1
    assert "no user 'nobody'" in result.stderr and "Traceback" not in result.stderr


def test_disable_without_redis_says_sessions_were_not_ended(alice: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDUPLOAD_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    result = _cli("user", "disable", "--username", "alice")
    assert result.returncode == 1
    assert "Redis is unreachable" in result.stderr and "Traceback" not in result.stderr
    with Session(get_engine()) as session:  # the sign-in refusal holds regardless
        user = session.exec(select(User).where(User.username == "alice")).one()
        assert user.disabled


# --- the browser's session cookie ------------------------------------------------------------

async def test_session_cookie_is_set_by_the_server_httponly(alice: str) -> None:
    for base, secure in (("http://clinic.test", False), ("https://clinic.test", True)):
        transport = httpx.ASGITransport(app=create_api())
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            response = await client.post("/api/v1/auth/session",
                                         json={"username": "alice", "password": PASSWORD})
            assert response.status_code == 200
            assert response.json() == {"role": "patient", "patient_id": alice,
                                       "expires_in": get_settings().token_ttl_seconds}
            set_cookie = response.headers["set-cookie"]
            token = response.cookies["medupload_session"]
            assert token not in response.text  # only in the cookie, never readable by scripts
            assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie and "Path=/" in set_cookie
            assert ("Secure" in set_cookie) is secure
            # The cookie is what the API (and the UI) accept; sign-out clears and revokes it.
            documents = f"/api/v1/patients/{alice}/documents"
            assert (await client.get(documents)).status_code == 200
            assert (await client.post("/api/v1/auth/logout")).status_code == 204
            assert "medupload_session" not in client.cookies
            assert (await client.get(documents, headers=_bearer(token))).status_code == 401

            wrong = await client.post("/api/v1/auth/session", json={"username": "alice", "password": "nope"})
            assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
            assert wrong.json()["error"]["message"] == "Wrong username or password."


async def test_secure_cookies_setting_marks_the_cookie_secure_behind_a_proxy(
        alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDUPLOAD_SECURE_COOKIES", "true")
    reset_caches()
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://behind-proxy") as client:
        response = await client.post("/api/v1/auth/session", json={"username": "alice", "password": PASSWORD})
    assert "Secure" in response.headers["set-cookie"]


async def test_logout_without_redis_clears_the_cookie_and_says_the_token_lives(
        api: httpx.AsyncClient, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    token = await _token(api)
    monkeypatch.setenv("MEDUPLOAD_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    reset_caches()
    response = await api.post("/api/v1/auth/logout", cookies={"medupload_session": token})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "error.internal"
    assert 'medupload_session=""' in response.headers["set-cookie"]


# --- revocation by notice (the idle path asks Redis nothing) -------------------------------------

async def test_revocations_are_heard_not_polled_and_re_read_after_a_reconnect(
        alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the hub is connected, a principal is read from Redis once and then answered from
    memory; `user disable` in another process reaches it as a notice; after Redis comes back
    (notices may have been missed) each principal is read from Redis once more."""
    from support import RedisServer

    from medupload.progress.hub import Hub, _hubs

    server = RedisServer()
    server.start()
    monkeypatch.setenv("MEDUPLOAD_REDIS_URL", server.url)
    reset_caches()
    sessions.forget_cached()
    asked: list[str] = []
    real_ask = sessions._ask

    async def counted_ask(principal: Any) -> tuple[bool, bool]:
        asked.append(principal.token_id)
        return await real_ask(principal)

    monkeypatch.setattr(sessions, "_ask", counted_ask)
    hub = _hubs[asyncio.get_running_loop()] = Hub()
    try:
        async with hub.subscribe(alice):
            assert hub.connected
            first = decode_access_token(await _token_direct())
            second = decode_access_token(await _token_direct())
            for _ in range(20):
                assert await sessions.principal_active(first)
                assert await sessions.principal_active(second)
            assert sorted(asked) == sorted([first.token_id, second.token_id])  # once each

            # Signed out here (this process remembers at once) ...
            await sessions.revoke_token(redis_client.async_redis(), second)
            assert not await sessions.principal_active(second)
            # ... and disabled by the CLI, another process: heard through the hub.
            result = _cli("user", "disable", "--username", "alice")
            assert result.returncode == 0, result.stderr
            async with asyncio.timeout(5):
                while await sessions.principal_active(first):
                    await asyncio.sleep(0.02)
            assert len(asked) == 2  # neither answer needed a Redis read

            _cli("user", "enable", "--username", "alice")
            third = decode_access_token(await _token_direct())
            assert await sessions.principal_active(third)
            generation = hub.generation
            server.stop()
            async with asyncio.timeout(10):
                while hub.connected:
                    await asyncio.sleep(0.05)
            server.start()
            async with asyncio.timeout(15):
                while not hub.connected:
                    await asyncio.sleep(0.05)
            assert hub.generation != generation
            asked.clear()
            assert await sessions.principal_active(third)  # the restarted Redis knows nothing of it
            assert await sessions.principal_active(third)
            assert asked == [third.token_id]  # read once after the reconnection, then memory again
    finally:
        await hub.close()
        server.stop()
        reset_caches()


async def _token_direct() -> str:
    """A token for alice as the sign-in route issues it (no HTTP needed here)."""
    from medupload.auth import create_access_token

    with Session(get_engine()) as session:
        user = session.exec(select(User).where(User.username == "alice")).one()
    token, _ = create_access_token(user)
    return token
