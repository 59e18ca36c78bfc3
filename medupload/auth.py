"""Passwords, signed access tokens, roles and one-time stream tickets."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import jwt
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from medupload.models import User
from medupload.settings import Settings, get_settings

Role = Literal["patient", "staff"]
ROLES: tuple[Role, ...] = ("patient", "staff")
SESSION_COOKIE = "medupload_session"
STREAM_TICKET_SECONDS = 60
_ALGORITHM = "HS256"
_hasher = PasswordHasher()
# Verifying against this keeps the timing of unknown and known usernames alike.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AuthError(Exception):
    """A refused credential; ``code`` is a catalogue code (``auth.invalid``, ``auth.expired``…)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    patient_id: str | None

    def can_access(self, patient_id: str) -> bool:
        """Staff reach every patient; a patient only their own record."""
        return self.role == "staff" or (self.patient_id is not None and self.patient_id == patient_id)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        raise AuthError("auth.invalid")
    if not verify_password(user.password_hash, password) or user.disabled:
        raise AuthError("auth.invalid")
    return user


def create_access_token(user: User, settings: Settings | None = None) -> tuple[str, int]:
    """A signed HS256 token carrying user id, role and patient id; returns (token, expires_in)."""
    settings = settings or get_settings()
    now = int(time.time())
    claims = {
        "sub": user.id,
        "role": user.role,
        "pid": user.patient_id,
        "iat": now,
        "exp": now + settings.token_ttl_seconds,
    }
    token = jwt.encode(claims, _key(settings), algorithm=_ALGORITHM)
    return token, settings.token_ttl_seconds


def decode_access_token(token: str, settings: Settings | None = None) -> Principal:
    settings = settings or get_settings()
    try:
        claims = jwt.decode(
            token, _key(settings), algorithms=[_ALGORITHM], options={"require": ["exp", "sub", "role"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("auth.expired") from exc
    except jwt.PyJWTError as exc:
        raise AuthError("auth.invalid") from exc
    if claims["role"] not in ROLES:
        raise AuthError("auth.invalid")
    return Principal(user_id=claims["sub"], role=claims["role"], patient_id=claims.get("pid"))


async def issue_stream_ticket(client: aioredis.Redis, principal: Principal, patient_id: str) -> str:
    """A one-time ticket (60 s) for EventSource clients that cannot send headers."""
    ticket = secrets.token_urlsafe(32)
    payload = json.dumps({"sub": principal.user_id, "role": principal.role,
                          "pid": principal.patient_id, "for": patient_id})
    await client.set(_ticket_key(ticket), payload, ex=STREAM_TICKET_SECONDS)
    return ticket


async def redeem_stream_ticket(client: aioredis.Redis, ticket: str, patient_id: str) -> Principal:
    """Consume a ticket atomically (GETDEL): a second use fails."""
    raw = await client.getdel(_ticket_key(ticket))
    if raw is None:
        raise AuthError("auth.ticket_invalid")
    data = json.loads(raw)
    if data["for"] != patient_id:
        raise AuthError("auth.ticket_invalid")
    return Principal(user_id=data["sub"], role=data["role"], patient_id=data["pid"])


def _ticket_key(ticket: str) -> str:
    return get_settings().redis_key(f"stream_ticket:{ticket}")


def _key(settings: Settings) -> str:
    assert settings.secret_key is not None  # filled in by Settings
    return settings.secret_key.get_secret_value()
