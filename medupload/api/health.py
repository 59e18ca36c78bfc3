"""``/health``: degraded, not down, when Redis is unreachable."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from medupload.api.deps import SessionDep
from medupload.redis_client import async_redis

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(session: SessionDep) -> JSONResponse:
    try:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        db = "ok"
    except Exception:
        db = "down"
    try:
        await async_redis().ping()
        redis_state = "ok"
    except Exception:
        redis_state = "down"
    status = "ok" if db == "ok" and redis_state == "ok" else "degraded"
    return JSONResponse({"status": status, "db": db, "redis": redis_state},
                        status_code=200 if db == "ok" else 503)
