"""One ASGI middleware in front of the whole app (pages, the UI socket, /_upload, /api/v1).

It refuses what must never reach Reflex or the API, before a byte of the body is read:

- CSRF: a state change (POST/PUT/PATCH/DELETE) whose ``Origin`` (or ``Referer`` when the browser
  sent no Origin) is not an allowed origin gets 403 ``auth.csrf``. Only a request that proves itself
  with an ``Authorization`` header and carries no session cookie is exempt: a page on another
  origin cannot set that header without a CORS preflight, which only our origins pass. Requests
  with neither header come from programs, not from a browser page, so they cannot be forged.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from medupload.api.errors import ApiError
from medupload.auth import SESSION_COOKIE
from medupload.settings import get_settings

_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Perimeter:
    """Wraps the app Reflex builds (given to ``rx.App(api_transformer=[..., Perimeter])``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # The socket's Origin is checked by Socket.IO itself (cors_allowed_origins in rxconfig.py).
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if scope["method"] in _STATE_CHANGING and _cross_site(headers):
            await _refuse(send, ApiError(403, "auth.csrf"))
            return
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    # Repeated headers: the last one wins, except Cookie, whose values are joined as browsers do.
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}; {value}" if name == "cookie" and name in headers else value
    return headers


def session_cookie(headers: dict[str, str]) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name == SESSION_COOKIE and value:
            return value.strip('"')
    return None


def _cross_site(headers: dict[str, str]) -> bool:
    """True when a browser page on a foreign origin sent this state change."""
    if "authorization" in headers and session_cookie(headers) is None:
        return False
    origin = headers.get("origin")
    if origin is None:
        referer = headers.get("referer")
        if referer is None:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    # "null" (sandboxed frames, file: pages, some redirects) is never one of ours.
    return origin.strip().rstrip("/").lower() not in get_settings().allowed_origins


async def _refuse(send: Send, error: ApiError, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(error.body()).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"cache-control", b"no-store")]
    raw_headers += [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": error.status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
