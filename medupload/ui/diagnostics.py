"""``GET /api/v1/ui/live`` (staff only): how many live-follow tasks and hub subscriptions this
server process holds. Lets tests and operators check that closed tabs leave nothing behind."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from medupload.auth import SESSION_COOKIE, AuthError, decode_access_token
from medupload.ui import live


def install_diagnostics(api: FastAPI) -> None:
    @api.get("/api/v1/ui/live", include_in_schema=False)
    async def live_counts(request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else request.cookies.get(SESSION_COOKIE, "")
        try:
            principal = decode_access_token(token) if token else None
        except AuthError:
            principal = None
        if principal is None or principal.role != "staff":
            return JSONResponse(
                {"error": {"code": "auth.forbidden", "message": "Staff only."}}, status_code=403
            )
        return JSONResponse(live.counts())
