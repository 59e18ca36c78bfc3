"""The prod-built app in Chromium under its own security headers: sign in, upload, the patient and
staff pages and the API docs run with no Content-Security-Policy violation, and every response
the browser gets (pages, scripts, styles, the API) carries the headers."""

from __future__ import annotations

from pathlib import Path

import docgen
import pytest
from playwright.sync_api import expect

from .browser_helpers import Server, login, unique, upload_file

pytestmark = pytest.mark.browser

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}

# Every CSP violation the page sees, from the DOM event (the console text differs by browser).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(
    {directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile}));
"""


def watch(context) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(CSP console messages, {url: headers}) for everything the context loads from the app."""
    console: list[str] = []
    responses: dict[str, dict[str, str]] = {}
    context.add_init_script(RECORD_VIOLATIONS)
    context.on("console", lambda msg: console.append(msg.text)
               if "Content Security Policy" in msg.text else None)
    context.on("response", lambda response: responses.__setitem__(response.url, response.headers))
    return console, responses


def violations(page) -> list[dict[str, str]]:
    return page.evaluate("() => window.__cspViolations || []")


def check_headers(server: Server, responses: dict[str, dict[str, str]]) -> int:
    ours = {url: headers for url, headers in responses.items() if url.startswith(server.base_url)}
    for url, headers in ours.items():
        for name, value in EXPECTED.items():
            assert headers.get(name) == value, (url, name, headers)
        csp = headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, (url, csp)
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0], (url, csp)
    return len(ours)


def test_patient_and_staff_pages_run_under_the_csp(server: Server, context, tmp_path: Path) -> None:
    console, responses = watch(context)
    username = unique("csp")
    server.add_user("patient", username, "csp-pass-1", "diabetes-annual")
    page = context.new_page()
    login(page, server.base_url, username, "csp-pass-1", "/patient")
    page.goto(f"{server.base_url}/patient")  # a full load of the page (sign-in navigates client-side)
    expect(page.get_by_test_id("upload-dropzone")).to_be_visible()
    # An upload from the page: a same-origin POST to /_upload must pass the CSRF check under
    # Referrer-Policy: same-origin, and the live steps must arrive over the socket (connect-src).
    letter = tmp_path / "csp-letter.pdf"
    letter.write_bytes(docgen.born_digital_pdf([f"Clinic letter {username}\nHemoglobin A1c 6.8 %"]))
    doc = upload_file(page, letter)
    expect(page.locator(f'[data-testid="document-{doc}"] [data-testid="step-matching_complete"]')
           ).to_have_attribute("data-state", "done", timeout=60_000)
    # The page's upload handler resets the picked files with a script the server sends (eval).
    expect(page.locator(".mu-selected")).to_have_count(0)
    assert violations(page) == []

    staff = unique("staff")
    server.add_user("staff", staff, "csp-staff-1")
    staff_page = context.browser.new_context()
    staff_console, staff_responses = watch(staff_page)
    spage = staff_page.new_page()
    login(spage, server.base_url, staff, "csp-staff-1", "/staff")
    spage.goto(f"{server.base_url}/staff")
    expect(spage.get_by_test_id(f"staff-document-{doc}")).to_be_visible(timeout=20_000)
    assert violations(spage) == []

    # The API docs: Swagger UI from this server only, rendering the spec.
    spage.goto(f"{server.base_url}/api/v1/docs")
    expect(spage.locator(".swagger-ui .info .title")).to_contain_text("MedUpload API", timeout=20_000)
    assert violations(spage) == []
    staff_page.close()

    assert console == [] and staff_console == []
    all_responses = {**responses, **staff_responses}
    foreign = [url for url in all_responses if not url.startswith(server.base_url)]
    assert foreign == []
    checked = check_headers(server, all_responses)
    for path in ("/login", "/patient", "/staff", "/api/v1/docs"):
        assert any(url.split("?")[0].rstrip("/") == server.base_url + path for url in all_responses), path
    print(f"security headers present on {checked} responses ({len(set(map(_route, all_responses)))} routes)")


def _route(url: str) -> str:
    return url.split("?")[0]


def test_a_foreign_page_cannot_frame_the_app(server: Server, context) -> None:
    page = context.new_page()
    with page.expect_response(lambda response: response.url.startswith(f"{server.base_url}/login")) as framed:
        page.set_content(f'<iframe id="f" src="{server.base_url}/login"></iframe>')
    assert framed.value.status < 400  # the page was delivered; the browser refused to show it
    page.wait_for_timeout(1000)
    frame = page.frame_locator("#f")
    expect(frame.get_by_test_id("login-username")).to_have_count(0)
