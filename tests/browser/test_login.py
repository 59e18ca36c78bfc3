"""Foundation: /login renders; a CLI-made patient signs in and reaches /patient; wrong password
is refused; the pages are role-gated; the session cookie is the one the REST API accepts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .browser_helpers import ARTIFACTS, Server, at, login, unique

pytestmark = pytest.mark.browser


def test_login_page_renders(server: Server, context) -> None:
    page = context.new_page()
    page.goto(f"{server.base_url}/login")
    for testid in ("login-username", "login-password", "login-submit"):
        expect(page.get_by_test_id(testid)).to_be_visible()
    expect(page.get_by_test_id("login-password")).to_have_attribute("type", "password")


def test_patient_logs_in_and_reaches_patient_page(server: Server, context) -> None:
    username = unique("pat")
    patient_id = server.add_user("patient", username, "correct horse battery", "diabetes-annual")
    assert patient_id and patient_id.startswith("p_")
    page = context.new_page()
    login(page, server.base_url, username, "correct horse battery", "/patient")
    expect(page.get_by_role("heading", name="My documents", level=1)).to_be_visible()
    expect(page.get_by_test_id("upload-dropzone")).to_be_visible()
    # The JWT sits in the cookie the REST/SSE API reads: an authenticated API call succeeds.
    cookie = next(c for c in context.cookies() if c["name"] == "medupload_session")
    assert cookie["value"].count(".") == 2
    response = page.request.post(
        f"{server.base_url}/api/v1/auth/stream-ticket", data={"patient_id": patient_id}
    )
    assert response.status == 200, response.text()
    page.screenshot(path=str(ARTIFACTS / "login-patient-landing.png"), full_page=True)
    # A patient is kept out of /staff.
    page.goto(f"{server.base_url}/staff")
    page.wait_for_url(at("/patient"), timeout=10_000)
    # Sign out: the cookie is cleared and /patient sends us back to /login.
    page.get_by_test_id("logout").click()
    page.wait_for_url(at("/login"), timeout=10_000)
    page.goto(f"{server.base_url}/patient")
    page.wait_for_url(at("/login"), timeout=10_000)


def test_wrong_password_shows_error(server: Server, context) -> None:
    username = unique("pat")
    server.add_user("patient", username, "right password")
    page = context.new_page()
    page.goto(f"{server.base_url}/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill("wrong password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Wrong username or password")
    assert page.url.rstrip("/").endswith("/login")
    assert not [c for c in context.cookies() if c["name"] == "medupload_session" and c["value"]]


def test_anonymous_is_sent_to_login_and_staff_reach_staff(server: Server, context) -> None:
    page = context.new_page()
    page.goto(f"{server.base_url}/staff")
    page.wait_for_url(at("/login"), timeout=10_000)
    username = unique("staff")
    server.add_user("staff", username, "staff password")
    login(page, server.base_url, username, "staff password", "/staff")
    expect(page.get_by_role("heading", name="Clinic dashboard", level=1)).to_be_visible()
    page.goto(f"{server.base_url}/patient")
    page.wait_for_url(at("/staff"), timeout=10_000)
