"""``/auth``: access tokens, the browser's session cookie, sign-out and one-time stream tickets."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from medupload.api.deps import PrincipalDep, SessionDep, TokenDep
from medupload.api.errors import ApiError
from medupload.auth import (
    SESSION_COOKIE,
    STREAM_TICKET_SECONDS,
    AuthError,
    create_access_token,
    decode_access_token,
    issue_stream_ticket,
)
from medupload.models import User
from medupload.redis_client import async_redis
from medupload.sessions import revoke_token
from medupload.settings import get_settings
from medupload.throttle import Throttled, sign_in

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    patient_id: str | None
    expires_in: int


class SessionResponse(BaseModel):
    """The browser's sign-in: the token itself goes only into the HttpOnly cookie."""

    role: str
    patient_id: str | None
    expires_in: int


class TicketRequest(BaseModel):
    patient_id: str


class TicketResponse(BaseModel):
    ticket: str
    expires_in: int


_THROTTLED = {429: {"description": "Too many sign-in attempts (`auth.throttled`, `Retry-After`)"}}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def throttled_response(exc: Throttled) -> JSONResponse:
    error = ApiError(429, exc.code, {"retry_after": exc.retry_after}, seconds=exc.retry_after)
    return JSONResponse(error.body(), status_code=429, headers={"Retry-After": str(exc.retry_after)})


def _sign_in(body: TokenRequest, request: Request, session: SessionDep) -> tuple[User, str, int]:
    """The one sign-in path of ``/token`` and ``/session``: throttled, then checked, then a token.
    Raises ``Throttled`` (answered by ``throttled_response``) or ApiError 401."""
    try:
        user = sign_in(session, body.username, body.password, client_address(request))
    except Throttled:
        raise  # an AuthError too, but answered with 429 by the route
    except AuthError as exc:
        raise ApiError(401, exc.code) from exc
    access_token, expires_in = create_access_token(user)
    return user, access_token, expires_in


@router.post("/token", response_model=TokenResponse, responses=_THROTTLED)
def token(body: TokenRequest, request: Request, session: SessionDep) -> TokenResponse | JSONResponse:
    try:
        user, access_token, expires_in = _sign_in(body, request, session)
    except Throttled as exc:
        return throttled_response(exc)
    return TokenResponse(access_token=access_token, role=user.role, patient_id=user.patient_id,
                         expires_in=expires_in)


@router.post("/session", response_model=SessionResponse, responses=_THROTTLED)
def session_cookie(body: TokenRequest, request: Request,
                   session: SessionDep) -> SessionResponse | JSONResponse:
    """Browser sign-in: sets the ``medupload_session`` cookie (HttpOnly, SameSite=Lax, Secure over
    HTTPS), which the UI, the REST API and the SSE stream all accept. Same throttling and errors
    as ``/auth/token``."""
    try:
        user, access_token, expires_in = _sign_in(body, request, session)
    except Throttled as exc:
        return throttled_response(exc)
    payload = SessionResponse(role=user.role, patient_id=user.patient_id, expires_in=expires_in)
    response = JSONResponse(payload.model_dump())
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE, access_token, max_age=expires_in, path="/", httponly=True, samesite="lax",
        secure=settings.secure_cookies or request.url.scheme == "https",
    )
    return response


@router.post("/stream-ticket", response_model=TicketResponse)
async def stream_ticket(body: TicketRequest, principal: PrincipalDep) -> TicketResponse:
    if not principal.can_access(body.patient_id):
        raise ApiError(403, "auth.forbidden")
    ticket = await issue_stream_ticket(async_redis(), principal, body.patient_id)
    return TicketResponse(ticket=ticket, expires_in=STREAM_TICKET_SECONDS)


_NOT_REVOKED = {503: {"description": "Redis unreachable: the cookie is cleared, the token not revoked"}}


@router.post("/logout", status_code=204, response_class=Response, responses=_NOT_REVOKED)
async def logout(request: Request, token: TokenDep) -> Response:
    """Sign out: the presented token (bearer or cookie) is refused from now on, in every process,
    and its open streams end. Idempotent: an unknown, expired or already revoked token still gets
    204, so a second click or a stale tab never shows an error."""
    response: Response = Response(status_code=204)
    if token is not None:
        try:
            principal = decode_access_token(token)
        except AuthError:
            principal = None
        if principal is not None:
            try:
                await revoke_token(async_redis(), principal)
            except (RedisError, OSError):
                # The browser is signed out either way (the cookie goes), but the token still works
                # until it expires: say so, so an API client can try again.
                error = ApiError(503, "error.internal")
                response = JSONResponse(error.body(), status_code=503)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=get_settings().secure_cookies or request.url.scheme == "https")
    return response
