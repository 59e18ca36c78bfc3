"""Request dependencies: who is calling, and may they see this patient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from medupload.api.errors import ApiError
from medupload.auth import SESSION_COOKIE, AuthError, Principal, decode_access_token
from medupload.db import get_engine
from medupload.sessions import principal_active


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


def bearer_or_cookie(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.cookies.get(SESSION_COOKIE) or None


async def verified_principal(token: str) -> Principal:
    """A token's principal, refused (401) when forged, expired, signed out or its user disabled."""
    try:
        principal = decode_access_token(token)
    except AuthError as exc:
        raise ApiError(401, exc.code) from exc
    if not await principal_active(principal):
        raise ApiError(401, "auth.revoked")
    return principal


async def current_principal(request: Request) -> Principal:
    token = bearer_or_cookie(request)
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
