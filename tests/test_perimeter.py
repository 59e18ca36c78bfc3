"""The web perimeter against the whole app on a real server: CORS, CSRF, security headers, the
/_upload gate, and PHI/file modes at the edges."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator

import httpx
import pytest
from perimeter_server import AppServer, start_app_server

EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def app_server() -> Iterator[AppServer]:
    server = start_app_server()
    yield server
    server.stop()


def websocket_handshake(server: AppServer, origin: str) -> int:
    """Open the UI's socket (/_event, Socket.IO over WebSocket) from a page on ``origin``."""
    host, port = server.base_url.removeprefix("http://").split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


# -- 1. CORS: only the configured origins ------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/patients/p_x/documents", "/_upload"])
def test_preflight_from_a_foreign_origin_is_not_allowed(app_server: AppServer, path: str) -> None:
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    foreign = httpx.options(app_server.base_url + path, headers={**headers, "Origin": EVIL})
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
    own = httpx.options(app_server.base_url + path, headers={**headers, "Origin": app_server.origin})
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == app_server.origin
    assert own.headers["access-control-allow-credentials"] == "true"


def test_credentialed_read_is_not_shared_with_a_foreign_origin(app_server: AppServer) -> None:
    cookies = {"medupload_session": "x"}
    foreign = httpx.get(app_server.base_url + "/api/v1/health", headers={"Origin": EVIL}, cookies=cookies)
    assert foreign.status_code == 200
    assert "access-control-allow-origin" not in foreign.headers
    own = httpx.get(app_server.base_url + "/api/v1/health", headers={"Origin": app_server.origin},
                    cookies=cookies)
    assert own.headers["access-control-allow-origin"] == app_server.origin
    # localhost on the same port is the app's origin too.
    local = app_server.origin.replace("127.0.0.1", "localhost")
    assert httpx.get(app_server.base_url + "/api/v1/health",
                     headers={"Origin": local}).headers["access-control-allow-origin"] == local


def test_the_ui_socket_accepts_only_the_apps_origin(app_server: AppServer) -> None:
    assert websocket_handshake(app_server, EVIL) == 403
    assert websocket_handshake(app_server, app_server.origin) == 101


def test_allowed_origins_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from medupload.settings import Settings

    monkeypatch.delenv("MEDUPLOAD_ALLOWED_ORIGINS", raising=False)
    monkeypatch.delenv("REFLEX_FRONTEND_PORT", raising=False)
    monkeypatch.setenv("PORT", "8080")
    assert Settings().allowed_origins == ("http://localhost:8080", "http://127.0.0.1:8080")
    monkeypatch.setenv("MEDUPLOAD_ALLOWED_ORIGINS", " https://Clinic.example/ ,http://10.0.0.5:3000")
    assert Settings().allowed_origins == ("https://clinic.example", "http://10.0.0.5:3000")
    for bad in ("*", "clinic.example", "https://clinic.example/app", "ftp://clinic.example"):
        monkeypatch.setenv("MEDUPLOAD_ALLOWED_ORIGINS", bad)
        with pytest.raises(ValidationError, match="allowed_origins"):
            Settings()
