"""A returning patient's /patient page stays light: the byte budget over the Reflex websocket.

40 processed documents (six events each, in the database and in the patient's Redis stream):
signing in and reloading /patient must each pull at most PAGE_BUDGET_BYTES over the websocket
(issue 11: it was 25.6 MB in 238 frames), with every card shown. A size limit, not a timing;
bench/page_weight.py measures the same with the time to all cards and a baseline ratio.
"""

from __future__ import annotations

import time

from playwright.sync_api import expect

from .browser_helpers import ROOT, Server, login, unique
from .returning_patient import FrameCounter, seed_processed_documents

DOCUMENTS = 40
PAGE_BUDGET_BYTES = 500 * 1024


def test_returning_patient_page_stays_within_the_byte_budget(server: Server, context: object) -> None:
    username = unique("returning")
    patient_id = server.add_user("patient", username, "returning pass")
    assert patient_id is not None
    seed_processed_documents(str(ROOT / ".venv" / "bin" / "python"), ROOT, server.env, patient_id, DOCUMENTS)

    page = context.new_page()  # type: ignore[attr-defined]
    page.goto(f"{server.base_url}/login")
    counter = FrameCounter(page)
    counter.reset()
    login(page, server.base_url, username, "returning pass", "/patient")
    counter.wait_for_cards(page, DOCUMENTS, quiet=2.0, started=time.monotonic())
    sign_in = counter.bytes
    cards = page.locator('[data-testid^="document-d_"]')
    expect(cards).to_have_count(DOCUMENTS)
    # Every card is whole: six steps, all done.
    done = '[data-testid^="document-d_"] [data-testid="step-matching_complete"][data-state="done"]'
    expect(page.locator(done)).to_have_count(DOCUMENTS)

    counter.reset()
    page.reload()
    counter.wait_for_cards(page, DOCUMENTS, quiet=2.0, started=time.monotonic())
    reload = counter.bytes
    assert sign_in <= PAGE_BUDGET_BYTES, f"sign-in -> /patient pulled {sign_in:,} bytes"
    assert reload <= PAGE_BUDGET_BYTES, f"reloading /patient pulled {reload:,} bytes ({counter.frames} fr)"
