"""Accounts: password hashing, signed tokens, POST /auth/token and stream tickets."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest
from sqlmodel import Session

from medupload import redis_client
from medupload.__main__ import add_user
from medupload.api import create_api
from medupload.auth import (
    AuthError,
    Principal,
    authenticate,
    create_access_token,
    decode_access_token,
    hash_password,
    redeem_stream_ticket,
    verify_password,
)
from medupload.db import get_engine
from medupload.models import User
from medupload.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_async_redis() -> Iterator[None]:
    # Async clients are kept per event loop id; each test has a new loop, and a reused id
    # must not hand out a client bound to a closed loop.
    redis_client._async_clients.clear()
    yield
    redis_client._async_clients.clear()


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "u_1", "role": "patient", "pid": "p_1", "iat": now, "exp": now + 600, **overrides}


def _sign(claims: dict[str, object], key: str | None = None) -> str:
    settings = get_settings()
    assert settings.secret_key is not None
    return jwt.encode(claims, key or settings.secret_key.get_secret_value(), algorithm="HS256")


def _code(token: str) -> str:
    with pytest.raises(AuthError) as caught:
        decode_access_token(token)
    return caught.value.code


# --- passwords -------------------------------------------------------------------------------

def test_password_hash_verifies_only_the_right_password() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2")
    assert "correct horse battery" not in hashed
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse battery ")
    assert not verify_password(hashed, "")
    assert hash_password("correct horse battery") != hashed  # salted
    assert not verify_password("not-a-hash", "correct horse battery")


# --- tokens ----------------------------------------------------------------------------------

def test_token_round_trip_carries_role_and_patient() -> None:
    user = User(id="u_abc", username="x", password_hash="-", role="patient", patient_id="p_abc")
    token, expires_in = create_access_token(user)
    assert expires_in == get_settings().token_ttl_seconds
    assert decode_access_token(token) == Principal(user_id="u_abc", role="patient", patient_id="p_abc")


def test_expired_token_is_auth_expired() -> None:
    assert _code(_sign(_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 60))) == "auth.expired"


def test_tampered_token_is_auth_invalid() -> None:
    header, payload, signature = _sign(_claims()).split(".")
    raised = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raised["role"] = "staff"
    forged = base64.urlsafe_b64encode(json.dumps(raised).encode()).rstrip(b"=").decode()
    assert _code(f"{header}.{forged}.{signature}") == "auth.invalid"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_sign(_claims(), key="another-secret-key-of-some-length"), id="wrong key"),
        pytest.param(jwt.encode(_claims(), key="", algorithm="none"), id="unsigned"),
        pytest.param("not.a.token", id="garbage"),
    ],
)
def test_foreign_tokens_are_auth_invalid(token: str) -> None:
    assert _code(token) == "auth.invalid"


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(_claims(role="admin"), id="unknown role"),
        pytest.param({k: v for k, v in _claims().items() if k != "sub"}, id="no subject"),
        pytest.param({k: v for k, v in _claims().items() if k != "exp"}, id="no expiry"),
    ],
)
def test_wrong_claims_are_auth_invalid(claims: dict[str, object]) -> None:
    assert _code(_sign(claims)) == "auth.invalid"


def test_principal_access_rules() -> None:
    assert Principal("u", "patient", "p_1").can_access("p_1")
    assert not Principal("u", "patient", "p_1").can_access("p_2")
    assert not Principal("u", "patient", None).can_access("p_1")
    assert Principal("u", "staff", None).can_access("p_2")


# --- API -------------------------------------------------------------------------------------

@pytest.fixture
def accounts(fresh_db: str) -> dict[str, str | None]:
    with Session(get_engine()) as session:
        _, alice = add_user(session, username="alice", password="alice-password", role="patient")
        _, bob = add_user(session, username="bob", password="bob-password", role="patient")
        add_user(session, username="nurse", password="nurse-password", role="staff")
        add_user(session, username="gone", password="gone-password", role="staff")
        session.commit()
        gone = authenticate(session, "gone", "gone-password")
        gone.disabled = True
        session.add(gone)
        session.commit()
    return {"alice": alice, "bob": bob}


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _login(api: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await api.post("/api/v1/auth/token", json={"username": username, "password": password})


async def test_token_endpoint_issues_a_working_token(api: httpx.AsyncClient,
                                                     accounts: dict[str, str | None]) -> None:
    response = await _login(api, "alice", "alice-password")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "patient"
    assert body["patient_id"] == accounts["alice"]
    assert body["expires_in"] == get_settings().token_ttl_seconds
    principal = decode_access_token(body["access_token"])
    assert (principal.role, principal.patient_id) == ("patient", accounts["alice"])


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong-password"), ("nobody", "alice-password"),
                                                    ("gone", "gone-password")])
async def test_token_endpoint_refuses_bad_credentials(api: httpx.AsyncClient, accounts: dict[str, str | None],
                                                      username: str, password: str) -> None:
    response = await _login(api, username, password)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.invalid"
    assert response.json()["error"]["message"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert password not in response.text


async def test_token_endpoint_validates_the_body(api: httpx.AsyncClient, fresh_db: str) -> None:
    response = await api.post("/api/v1/auth/token", json={"username": "alice"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "request.invalid"


async def test_stream_ticket_for_own_patient_only(api: httpx.AsyncClient,
                                                  accounts: dict[str, str | None]) -> None:
    token = (await _login(api, "alice", "alice-password")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/auth/stream-ticket"

    own = await api.post(url, json={"patient_id": accounts["alice"]}, headers=headers)
    assert own.status_code == 200
    assert own.json()["expires_in"] == 60
    ticket = own.json()["ticket"]

    other = await api.post(url, json={"patient_id": accounts["bob"]}, headers=headers)
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "auth.forbidden"

    # The ticket is real (stored in Redis), bound to its patient, and good for one use.
    principal = await redeem_stream_ticket(redis_client.async_redis(), ticket, str(accounts["alice"]))
    assert principal.patient_id == accounts["alice"]
    with pytest.raises(AuthError, match=r"auth\.ticket_invalid"):
        await redeem_stream_ticket(redis_client.async_redis(), ticket, str(accounts["alice"]))


async def test_stream_ticket_needs_a_login(api: httpx.AsyncClient, accounts: dict[str, str | None]) -> None:
    response = await api.post("/api/v1/auth/stream-ticket", json={"patient_id": accounts["alice"]})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.required"
    expired = _sign(_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 60))
    response = await api.post("/api/v1/auth/stream-ticket", json={"patient_id": accounts["alice"]},
                              headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.expired"


async def test_staff_get_tickets_for_any_patient(api: httpx.AsyncClient,
                                                 accounts: dict[str, str | None]) -> None:
    token = (await _login(api, "nurse", "nurse-password")).json()["access_token"]
    response = await api.post("/api/v1/auth/stream-ticket", json={"patient_id": accounts["bob"]},
                              headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    ticket = response.json()["ticket"]
    with pytest.raises(AuthError):  # a ticket for bob does not open alice's stream
        await redeem_stream_ticket(redis_client.async_redis(), ticket, str(accounts["alice"]))


# --- OpenAPI security schemes (issue 12) -----------------------------------------------------

async def test_openapi_declares_bearer_and_cookie_schemes(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/api/v1/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer",
                                 "description": "Access token from `POST /api/v1/auth/token`."}
    cookie = schemes["session_cookie"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", "medupload_session")
    paths = spec["paths"]
    for path, method in (("/api/v1/patients/{patient_id}/documents", "get"),
                         ("/api/v1/patients/{patient_id}/documents/stream", "get"),
                         ("/api/v1/auth/stream-ticket", "post")):
        assert {"bearer": []} in paths[path][method]["security"], path
        assert {"session_cookie": []} in paths[path][method]["security"], path
    assert "security" not in paths["/api/v1/auth/token"]["post"]
    assert "security" not in paths["/api/v1/health"]["get"]


async def test_bearer_wins_over_cookie_and_other_schemes_fall_back_to_it(
        api: httpx.AsyncClient, accounts: dict[str, str | None]) -> None:
    alice = (await _login(api, "alice", "alice-password")).json()["access_token"]
    bob = (await _login(api, "bob", "bob-password")).json()["access_token"]
    alice_docs = f"/api/v1/patients/{accounts['alice']}/documents"
    api.cookies.set("medupload_session", bob)
    try:
        assert (await api.get(alice_docs, headers={"Authorization": f"Bearer {alice}"})).status_code == 200
        assert (await api.get(alice_docs)).status_code == 403  # the cookie is bob's
        assert (await api.get(alice_docs, headers={"Authorization": "Basic eDp5"})).status_code == 403
        api.cookies.clear()
        response = await api.get(alice_docs, headers={"Authorization": "Basic eDp5"})
        assert (response.status_code, response.json()["error"]["code"]) == (401, "auth.required")
    finally:
        api.cookies.clear()
