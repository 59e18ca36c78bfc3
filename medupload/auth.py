"""Passwords, signed access tokens, roles and one-time stream tickets."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
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
    # The token behind this principal: what revocation keys on (medupload.sessions).
    token_id: str | None = field(default=None, compare=False)
    issued_at: float = field(default=0.0, compare=False)
    expires_at: float = field(default=0.0, compare=False)

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
    now = time.time()
    claims = {
        "sub": user.id,
        "role": user.role,
        "pid": user.patient_id,
        # Milliseconds: a token issued just after ``user enable`` must outrank the disable epoch.
        "iat": round(now, 3),
        "exp": int(now) + settings.token_ttl_seconds,
        "jti": secrets.token_urlsafe(16),
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
    if claims["role"] not in ROLES or not isinstance(claims.get("jti"), str):
        raise AuthError("auth.invalid")  # no jti: a token that could not be revoked is not accepted
    return Principal(user_id=claims["sub"], role=claims["role"], patient_id=claims.get("pid"),
                     token_id=claims["jti"], issued_at=float(claims.get("iat", 0)),
                     expires_at=float(claims["exp"]))


async def issue_stream_ticket(client: aioredis.Redis, principal: Principal, patient_id: str) -> str:
    """A one-time ticket (60 s) for EventSource clients that cannot send headers."""
    ticket = secrets.token_urlsafe(32)
    payload = json.dumps({"sub": principal.user_id, "role": principal.role,
                          "pid": principal.patient_id, "for": patient_id, "jti": principal.token_id,
                          "iat": principal.issued_at, "exp": principal.expires_at})
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
    if data.get("exp") and float(data["exp"]) <= time.time():
        # Follow-up tickets renew a stream, never the token behind it.
        raise AuthError("auth.expired")
    # The stream it opens stays tied to the token that asked for it: sign-out ends both.
    return Principal(user_id=data["sub"], role=data["role"], patient_id=data["pid"],
                     token_id=data.get("jti"), issued_at=float(data.get("iat") or 0),
                     expires_at=float(data.get("exp") or 0))


def _ticket_key(ticket: str) -> str:
    return get_settings().redis_key(f"stream_ticket:{ticket}")


def _key(settings: Settings) -> str:
    assert settings.secret_key is not None  # filled in by Settings
    return settings.secret_key.get_secret_value()
