"""Issue 8 in the browser: a signed-out tab's Reflex client token, replayed on a new socket without
the cookie, hydrates no PHI; the session cookie is HttpOnly; a disabled user's open page ends."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import docgen
import httpx
import pytest
from playwright.sync_api import expect

from .browser_helpers import ARTIFACTS, ROOT, Server, api_token, at, lab_report_text, login, unique

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def _patient_with_document(server: Server, tmp_path: Path) -> tuple[str, str]:
    """A patient account with one uploaded document whose filename is a canary; (username, filename)."""
    username = unique("pat")
    patient_id = server.add_user("patient", username, PASSWORD, "diabetes-annual")
    filename = f"ReplayCanary-{uuid.uuid4().hex[:8]}.png"
    scan = tmp_path / filename
    scan.write_bytes(docgen.png(docgen.render_page(lab_report_text())))
    token = api_token(server, username, PASSWORD)
    response = httpx.post(f"{server.base_url}/api/v1/patients/{patient_id}/documents",
                          headers={"Authorization": f"Bearer {token}"},
                          files={"file": (filename, scan.read_bytes(), "image/png")}, timeout=30)
    assert response.status_code in (200, 202), response.text
    return username, filename


def _replay(browser: object, server: Server, client_token: str) -> list[str]:
    """Open /patient in a fresh context (no cookie) that reuses ``client_token``; return every
    websocket frame the server sent."""
    context = browser.new_context()  # type: ignore[attr-defined]
    frames: list[str] = []
    try:
        context.add_init_script(f"window.sessionStorage.setItem('token', {client_token!r});")
        page = context.new_page()
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
        page.goto(f"{server.base_url}/patient")
        page.wait_for_url(at("/login"), timeout=15_000)
        assert page.evaluate("window.sessionStorage.getItem('token')") == client_token
        page.wait_for_timeout(1500)  # let hydrate and on_load answers arrive
    finally:
        context.close()
    assert frames, "the replayed tab received nothing: the socket did not connect"
    return frames


def _open_patient_page(server: Server, context, username: str, filename: str,  # type: ignore[no-untyped-def]
                       signed_in: bool = False):
    page = context.new_page()
    if signed_in:  # the cookie is still there: /login would only redirect
        page.goto(f"{server.base_url}/patient")
    else:
        login(page, server.base_url, username, PASSWORD, "/patient")
    expect(page.get_by_text(filename, exact=True)).to_be_visible(timeout=15_000)
    client_token = page.evaluate("window.sessionStorage.getItem('token')")
    assert client_token
    return page, client_token


def test_replayed_client_token_without_cookie_gets_no_phi(server: Server, browser: object, context,
                                                          tmp_path: Path) -> None:
    username, filename = _patient_with_document(server, tmp_path)

    # The cookie is set by the server and out of reach of scripts.
    page, client_token = _open_patient_page(server, context, username, filename)
    cookie = next(c for c in context.cookies() if c["name"] == "medupload_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "medupload_session" not in page.evaluate("document.cookie")
    # Reflex pickles state under .states/: the token must not be in it (nor in any other form).
    page.wait_for_timeout(1000)
    pickles = list((ROOT / ".states").glob("*.pkl"))
    assert pickles, "no state written: the check below would prove nothing"
    token_bytes = cookie["value"].encode()
    assert not [p.name for p in pickles if token_bytes in p.read_bytes()]

    # A closed tab of a signed-in user: its client token on a socket without the cookie sees nothing.
    # (While the tab is open Reflex hands a second socket a new token, so the tab is closed first.)
    page.close()
    frames = _replay(browser, server, client_token)
    assert not [f for f in frames if filename in f]

    # The case: sign out, then the signed-out tab's token is replayed.
    page, client_token = _open_patient_page(server, context, username, filename, signed_in=True)
    page.get_by_test_id("logout").click()
    page.wait_for_url(at("/login"), timeout=10_000)
    assert not [c for c in context.cookies() if c["name"] == "medupload_session" and c["value"]]
    page.close()
    frames = _replay(browser, server, client_token)
    leaked = [f for f in frames if filename in f or "ReplayCanary" in f]
    print(f"\nreplayed client token: {len(frames)} frames received, {len(leaked)} with the filename")
    assert not leaked


def test_disabled_users_open_page_ends_within_5_s(server: Server, context, tmp_path: Path) -> None:
    username, filename = _patient_with_document(server, tmp_path)
    page = context.new_page()
    login(page, server.base_url, username, PASSWORD, "/patient")
    expect(page.get_by_text(filename, exact=True)).to_be_visible(timeout=15_000)
    page.wait_for_timeout(1000)  # the live loop is running

    started = time.monotonic()
    server.cli("user", "disable", "--username", username)  # a separate process: Redis carries it
    disabled_at = time.monotonic()
    page.wait_for_url(at("/login"), timeout=10_000)
    ended_after = time.monotonic() - disabled_at
    print(f"\ndisabled user's open page sent to /login {ended_after:.2f} s after `user disable` returned "
          f"({time.monotonic() - started:.2f} s after it started)")
    page.screenshot(path=str(ARTIFACTS / "disabled-session-ended.png"), full_page=True)
    assert ended_after <= 5.0
    expect(page.get_by_text(filename)).to_have_count(0)
    # And the account cannot sign back in.
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Wrong username or password")
