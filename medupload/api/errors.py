"""One error shape for the whole API: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from medupload.progress.stages import message


class ApiError(Exception):
    """Raise with a catalogue code; the message comes from the catalogue, never from input."""

    def __init__(self, status: int, code: str, extra: dict[str, Any] | None = None,
                 **numbers: int | float) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.extra = extra or {}
        self.numbers = numbers

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": message(self.code, **self.numbers), **self.extra}}


#: The HTTP status for a code raised below the API (intake refusals, pipeline conflicts): the
#: pipeline knows nothing of HTTP, this table is where its codes meet it. Others are 422.
HTTP_STATUS: dict[str, int] = {
    "error.too_large": 413,
    "error.unsupported_type": 415,
    "conflict.processing": 409,
    "not_found": 404,
}


def http_status(code: str) -> int:
    """The status a coded refusal is answered with (422 unless the table says otherwise)."""
    return HTTP_STATUS.get(code, 422)


def coded_error(code: str, extra: dict[str, Any] | None = None, **numbers: int | float) -> ApiError:
    """An ApiError for a catalogue code from the pipeline, with the status from ``HTTP_STATUS``."""
    return ApiError(http_status(code), code, extra, **numbers)


_STATUS_CODES = {401: "auth.required", 403: "auth.forbidden", 404: "not_found"}


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Field locations only: the offending values may be PHI.
        fields = [".".join(str(p) for p in err.get("loc", ())) for err in exc.errors()]
        error = ApiError(422, "request.invalid", {"fields": fields})
        return JSONResponse(error.body(), status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "request.invalid")
        return JSONResponse(ApiError(exc.status_code, code).body(), status_code=exc.status_code)

    @api.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse(ApiError(500, "error.internal").body(), status_code=500)
