"""Sign-in throttling (issue 8): per account and per address, moving window in Redis; 429
``auth.throttled`` with Retry-After; the real user waits one short window at most; unknown
usernames are throttled the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from sqlmodel import Session
from support import reset_caches

from medupload import auth, redis_client, sessions, throttle
from medupload.__main__ import add_user
from medupload.api import create_api
from medupload.db import get_engine
from medupload.metrics import LOGIN_THROTTLED
from medupload.settings import get_settings

PASSWORD = "alice-password"
# Seconds: short, so the cool-down test is quick, yet longer than five argon2 checks on a busy
# two-core machine (about 1 s each here), or the burst would never fill the window.
WINDOW = 15


@pytest.fixture
def configure(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    def apply(**values: object) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"MEDUPLOAD_{key.upper()}", str(value))
        reset_caches()
        throttle.reset()
        sessions.forget_cached()

    apply(signin_window_seconds=WINDOW, signin_account_attempts=5, signin_address_attempts=1000)
    # Counts from an earlier test (same usernames, same run prefix) must not carry over.
    client = redis_client.sync_redis()
    for key in client.scan_iter(get_settings().redis_key("signin*")):
        client.delete(key)
    with Session(get_engine()) as session:
        add_user(session, username="alice", password=PASSWORD, role="patient")
        session.commit()
    yield apply
    throttle.reset()
    redis_client._async_clients.clear()


def _api(address: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_api(), client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def api(configure: Callable[..., None]) -> AsyncIterator[httpx.AsyncClient]:
    async with _api() as client:
        yield client


async def _try(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/token", json={"username": username, "password": password})


async def test_burst_of_wrong_passwords_is_throttled_then_the_user_gets_in(api: httpx.AsyncClient) -> None:
    throttled_before = LOGIN_THROTTLED._value.get()
    responses = [await _try(api, "alice", f"guess-{n}") for n in range(40)]
    statuses = [r.status_code for r in responses]
    first_429 = statuses.index(429) + 1
    print(f"\nguesses until 429: the {first_429}th of 40 "
          f"({statuses.count(401)} x 401, {statuses.count(429)} x 429)")
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 35  # 429 from the 6th
    assert LOGIN_THROTTLED._value.get() - throttled_before == 35  # the /metrics counter
    throttled = responses[5]
    body = throttled.json()["error"]
    assert body["code"] == "auth.throttled"
    retry_after = int(throttled.headers["retry-after"])
    assert 1 <= retry_after <= WINDOW and body["retry_after"] == retry_after
    plural = "s" * (retry_after != 1)
    assert body["message"] == f"Too many sign-in attempts. Try again in {retry_after} second{plural}."
    assert "guess" not in throttled.text

    # The right password is refused while throttled (no hint that it was right) ...
    assert (await _try(api, "alice", PASSWORD)).status_code == 429
    # ... and accepted once the window has moved on: a short cool-down, not a lock-out.
    await asyncio.sleep(retry_after + 0.2)
    accepted = await _try(api, "alice", PASSWORD)
    assert accepted.status_code == 200, accepted.text
    # Success clears the account's window: the owner is not left one typo from throttling.
    assert [(await _try(api, "alice", "typo")).status_code for _ in range(5)] == [401] * 5


async def test_unknown_username_is_throttled_the_same_way(
    api: httpx.AsyncClient, configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = [await _try(api, "alice", f"guess-{n}") for n in range(8)]
    unknown = [await _try(api, "nobody-here", f"guess-{n}") for n in range(8)]
    assert [r.status_code for r in unknown] == [r.status_code for r in known] == [401] * 5 + [429] * 3
    assert unknown[0].json() == known[0].json()
    strip = {"retry_after"}
    assert {k: v for k, v in unknown[5].json()["error"].items() if k not in strip | {"message"}} == \
        {k: v for k, v in known[5].json()["error"].items() if k not in strip | {"message"}}
    assert "retry-after" in unknown[5].headers

    # Same timing by construction: both paths verify exactly one argon2 hash below the limit and
    # none once throttled (a count, not a stopwatch: wall time on a shared machine proves nothing).
    calls: list[str] = []
    real_verify = auth.verify_password

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    configure(signin_account_attempts=100)
    for username in ("alice", "nobody-else"):
        calls.clear()
        assert (await _try(api, username, "wrong")).status_code == 401
        assert len(calls) == 1, username
    configure(signin_account_attempts=1)
    for username in ("alice", "nobody-else"):
        await _try(api, username, "wrong")
        calls.clear()
        assert (await _try(api, username, "wrong")).status_code == 429
        assert calls == [], username


async def test_per_address_limit_spans_accounts(configure: Callable[..., None]) -> None:
    configure(signin_account_attempts=100, signin_address_attempts=6, signin_window_seconds=60)
    async with _api("198.51.100.1") as attacker, _api("198.51.100.2") as clinic:
        statuses = [(await _try(attacker, f"user{n}", "guess")).status_code for n in range(8)]
        assert statuses == [401] * 6 + [429] * 2  # six different accounts, one address
        # Another address is unaffected: the real user signs in.
        assert (await _try(clinic, "alice", PASSWORD)).status_code == 200


async def test_throttle_counts_in_redis_across_processes(api: httpx.AsyncClient,
                                                         configure: Callable[..., None]) -> None:
    for n in range(5):
        assert (await _try(api, "alice", f"guess-{n}")).status_code == 401
    throttle.reset()  # a new process: nothing in memory, the count lives in Redis
    async with _api() as other:
        assert (await _try(other, "alice", PASSWORD)).status_code == 429


async def test_redis_down_keeps_throttling_in_memory(api: httpx.AsyncClient,
                                                     configure: Callable[..., None]) -> None:
    configure(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    async with _api() as client:
        statuses = [(await _try(client, "alice", f"guess-{n}")).status_code for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2
