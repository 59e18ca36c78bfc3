"""Request dependencies: who is calling, and may they see this patient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from medupload.api.errors import ApiError
from medupload.auth import SESSION_COOKIE, AuthError, Principal, decode_access_token
from medupload.db import get_engine
from medupload.sessions import principal_active


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


# Declared as security schemes so OpenAPI (and Swagger's Authorize button) shows both; neither
# raises by itself: a missing credential is answered by current_principal in the API's error shape.
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer",
                           description="Access token from `POST /api/v1/auth/token`.")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session_cookie",
                             description="HttpOnly session cookie set by `POST /api/v1/auth/session`.")


def session_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    cookie: Annotated[str | None, Security(cookie_scheme)],
) -> str | None:
    """The caller's token: the ``Authorization: Bearer`` header first, else the session cookie."""
    if bearer is not None and bearer.credentials.strip():
        return bearer.credentials.strip()
    return cookie or None


async def verified_principal(token: str) -> Principal:
    """A token's principal, refused (401) when forged, expired, signed out or its user disabled."""
    try:
        principal = decode_access_token(token)
    except AuthError as exc:
        raise ApiError(401, exc.code) from exc
    if not await principal_active(principal):
        raise ApiError(401, "auth.revoked")
    return principal


TokenDep = Annotated[str | None, Depends(session_token)]


async def current_principal(token: TokenDep) -> Principal:
    if token is None:
        raise ApiError(401, "auth.required")
    return await verified_principal(token)


def require_staff(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role != "staff":
        raise ApiError(403, "auth.forbidden")
    return principal


def patient_access(patient_id: str, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """For routes under ``/patients/{patient_id}``: a patient reaches only their own."""
    if not principal.can_access(patient_id):
        raise ApiError(403, "auth.forbidden")
    return principal


SessionDep = Annotated[Session, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
StaffDep = Annotated[Principal, Depends(require_staff)]
PatientAccessDep = Annotated[Principal, Depends(patient_access)]
