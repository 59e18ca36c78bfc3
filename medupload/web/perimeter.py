"""One ASGI middleware in front of the whole app (pages, the UI socket, /_upload, /api/v1).

It refuses what must never reach Reflex or the API, before a byte of the body is read:

- CSRF: a state change (POST/PUT/PATCH/DELETE) whose ``Origin`` (or ``Referer`` when the browser
  sent no Origin) is not an allowed origin gets 403 ``auth.csrf``. Only a request that proves itself
  with an ``Authorization`` header and carries no session cookie is exempt: a page on another
  origin cannot set that header without a CORS preflight, which only our origins pass. Requests
  with neither header come from programs, not from a browser page, so they cannot be forged.
  Requests without a cookie are checked too: that covers sign-in (login CSRF).
- Security headers on every response, static pages included: a Content-Security-Policy (scripts
  only from this server and the inline scripts of the compiled pages, by hash), ``nosniff``,
  ``Referrer-Policy: same-origin`` (``no-referrer`` would make browsers send ``Origin: null`` on
  our own POSTs, which the CSRF check must refuse), and no framing.
- Reflex's ``POST /_upload`` (which parses the whole multipart body, spooling it to disk, before
  any handler runs): 401 without a valid session cookie and 413 when Content-Length is over what
  the page can send (``upload_max_files`` files of ``max_upload_mb``), both before reading the
  body; a chunked body is cut off once it passes that. The page's handler still tells a patient
  which single file is over ``max_upload_mb`` (it must see the file to name it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medupload.api.documents import _MULTIPART_OVERHEAD
from medupload.api.errors import ApiError
from medupload.auth import SESSION_COOKIE, AuthError, decode_access_token
from medupload.settings import get_settings

_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UPLOAD_PATH = "/_upload"


class Perimeter:
    """Wraps the app Reflex builds (given to ``rx.App(api_transformer=[..., Perimeter])``)."""

    def __init__(self, app: ASGIApp, pages_dir: Path | None = None) -> None:
        self.app = app
        if pages_dir is None:
            from reflex.utils.prerequisites import get_web_dir
            from reflex_base import constants

            pages_dir = get_web_dir() / constants.Dirs.STATIC
        self.security_headers = [(name.encode(), value.encode()) for name, value in security_headers(
            get_settings().allowed_origins, inline_script_hashes(pages_dir)).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # The socket's Origin is checked by Socket.IO itself (cors_allowed_origins in rxconfig.py).
            await self.app(scope, receive, send)
            return
        send = self._with_security_headers(send)
        headers = _headers(scope)
        if scope["method"] in _STATE_CHANGING and _cross_site(headers):
            await _refuse(send, ApiError(403, "auth.csrf"))
            return
        if scope["method"] == "POST" and scope["path"] == UPLOAD_PATH:
            refusal = upload_refusal(headers)
            if refusal is not None:
                await _refuse(send, refusal)
                return
            await _CappedUpload(self.app, _upload_limit()).run(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _with_security_headers(self, send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in self.security_headers if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        return send_with_headers


def security_headers(origins: tuple[str, ...], script_hashes: list[str]) -> dict[str, str]:
    """The headers every response gets. Styles may be inline: Emotion (Reflex's CSS-in-JS) and
    Radix write style elements and attributes at run time. Scripts may not be inline (but for the
    pages' own, by hash); 'unsafe-eval' stays because Reflex runs the scripts its server sends
    (``rx.call_script``, ``rx.clear_selected_files`` after an upload) through ``eval``."""
    sockets = [origin.replace("http", "ws", 1) for origin in origins]
    csp = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-eval'", *(f"'sha256-{digest}'" for digest in script_hashes)],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'", *sockets],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return {
        "content-security-policy": "; ".join(f"{name} {' '.join(values)}" for name, values in csp.items()),
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
    }


_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def inline_script_hashes(pages_dir: Path) -> list[str]:
    """SHA-256 of every inline script in the compiled pages (read once, at start-up, from the build
    on disk: a hash of what a response contains would also bless an injected script)."""
    digests: set[str] = set()
    for page in sorted(pages_dir.rglob("*.html")) if pages_dir.is_dir() else []:
        for match in _INLINE_SCRIPT.finditer(page.read_bytes()):
            digests.add(base64.b64encode(hashlib.sha256(match.group(1)).digest()).decode())
    return sorted(digests)


def _upload_limit() -> int:
    # Each file as the REST upload route counts it (the file limit plus multipart framing).
    settings = get_settings()
    return settings.upload_max_files * (settings.max_upload_bytes + _MULTIPART_OVERHEAD)


def upload_refusal(headers: dict[str, str]) -> ApiError | None:
    """Why a ``POST /_upload`` is refused before its body is read (None: let it in)."""
    token = session_cookie(headers)
    if token is None:
        return ApiError(401, "auth.required")
    try:
        decode_access_token(token)
    except AuthError as exc:
        return ApiError(401, exc.code)
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > _upload_limit():
        return _too_large()
    return None


def _too_large() -> ApiError:
    settings = get_settings()
    return ApiError(413, "error.upload_too_large", files=settings.upload_max_files,
                    limit_mb=settings.max_upload_mb)


class _CappedUpload:
    """Passes the body on until it passes ``limit`` bytes; then tells the app the client left
    (Reflex stops parsing and answers nothing useful) and answers 413 in its place."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.received = 0
        self.exceeded = False
        self.started = False

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def capped_receive() -> Message:
            if self.exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    self.exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.exceeded and not self.started:
                return  # the app's answer to a body we cut off; ours follows
            self.started = self.started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not self.exceeded:
                raise
        if self.exceeded and not self.started:
            await _refuse(send, _too_large(), {"connection": "close"})


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
