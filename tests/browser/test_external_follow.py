"""The static external frontend (assets/follow.html) against the running app, in Chromium.

It signs in over the REST API, follows the patient's documents with EventSource and a one-time
stream ticket, and on reconnect passes ``last_event_id``: documents uploaded before and after a
reconnect each arrive exactly once, every step in order, and end processed.
"""

from __future__ import annotations

import time

import docgen
import httpx
from playwright.sync_api import expect

from .browser_helpers import Server, api_token, lab_report_text, unique


def _upload(server: Server, token: str, patient_id: str, name: str, days_ago: int) -> str:
    png = docgen.png(docgen.render_page(lab_report_text(days_ago)))  # different bytes: no duplicate
    response = httpx.post(f"{server.base_url}/api/v1/patients/{patient_id}/documents",
                          headers={"Authorization": f"Bearer {token}"},
                          files={"file": (name, png, "image/png")}, timeout=60)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_external_page_follows_with_tickets_and_resumes_after_reconnect(server: Server,
                                                                         context: object) -> None:
    username = unique("ext")
    patient_id = server.add_user("patient", username, "ext pass")
    assert patient_id is not None
    token = api_token(server, username, "ext pass")
    page = context.new_page()  # type: ignore[attr-defined]
    page.goto(f"{server.base_url}/follow.html")
    page.get_by_test_id("ext-username").fill(username)
    page.get_by_test_id("ext-password").fill("ext pass")
    page.get_by_test_id("ext-submit").click()
    expect(page.get_by_test_id("ext-connection")).to_have_attribute("data-state", "live", timeout=15_000)

    first = _upload(server, token, patient_id, "first.png", 3)
    expect(page.get_by_test_id(f"ext-document-{first}")).to_have_attribute("data-status", "processed",
                                                                            timeout=120_000)
    # Drop the connection on purpose: a new ticket, and last_event_id so nothing is sent twice.
    page.evaluate("() => window.__follow.reconnect()")
    expect(page.get_by_test_id("ext-connection")).to_have_attribute("data-state", "live", timeout=15_000)
    assert page.evaluate("() => window.__follow.state.connects") == 2
    second = _upload(server, token, patient_id, "second.png", 4)
    expect(page.get_by_test_id(f"ext-document-{second}")).to_have_attribute("data-status", "processed",
                                                                             timeout=120_000)
    time.sleep(0.5)  # anything late would show as a duplicate below
    seen = page.evaluate("() => window.__follow.state.seen")
    for document_id in (first, second):
        stored = httpx.get(f"{server.base_url}/api/v1/patients/{patient_id}/documents/{document_id}",
                           headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["events"]
        steps = [(seq, stage) for doc, seq, stage in seen if doc == document_id]
        assert steps == [(e["seq"], e["stage"]) for e in stored], (document_id, steps)
        assert steps[-1][1] == "matching_complete"
    expect(page.get_by_test_id(f"ext-document-{first}")).to_contain_text("first.png")
