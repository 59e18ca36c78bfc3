"""Resilience of the patient's page against the prod build, real Redis, tesseract and Chromium.

- Redis stopped mid-processing: the page says it is polling, the card still reaches all six steps
  done and the requirement turns satisfied (from the database); Redis back: live steps again.
- The websocket dropped (browser offline) mid-processing: the page says so, reconnects by itself
  (no reload) and shows exactly what the database holds; no step lost, repeated or going back,
  one card, one follow task for the tab.
- The backend restarted mid-processing (same port, same build): the same, then live on the new
  process.
- A file over MEDUPLOAD_MAX_UPLOAD_MB: the too-large message, no document, nothing stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docgen
import pytest
import redis
from playwright.sync_api import Page, expect

from .browser_helpers import (
    OBSERVER_JS,
    STEP_ORDER,
    Server,
    api_token,
    db_rows,
    db_steps,
    lab_report_text,
    live_counts,
    login,
    observed,
    shown_steps,
    step_sequences,
    unique,
    upload_file,
)

pytestmark = pytest.mark.browser

PASSWORD = "patient pass"
RANK = {"pending": 0, "active": 1, "done": 2}
PIPELINE_TIMEOUT_MS = 120_000

# Records how many cards each document has on the page and the connection badge's state, from a
# MutationObserver (alongside OBSERVER_JS, which records step states): a card that vanishes or
# doubles, or a badge that never left "live", is in the log even if it lasted one frame.
PRESENCE_JS = """
() => {
  if (window.__res) return;
  const res = window.__res = {log: [], cards: {}, connection: null};
  const push = (entry) => res.log.push({t: performance.timeOrigin + performance.now(), ...entry});
  const snap = () => {
    const counts = Object.fromEntries(Object.keys(res.cards).map((id) => [id, 0]));
    document.querySelectorAll('[data-testid^="document-d_"]').forEach((card) => {
      counts[card.dataset.testid] = (counts[card.dataset.testid] || 0) + 1;
    });
    for (const [id, n] of Object.entries(counts)) {
      if (res.cards[id] !== n) { res.cards[id] = n; push({kind: "cards", id, n}); }
    }
    const badge = document.querySelector('[data-testid="connection"]');
    const state = badge ? badge.dataset.state : "absent";
    if (state !== res.connection) { res.connection = state; push({kind: "connection", state}); }
  };
  new MutationObserver(snap).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-state", "data-testid"],
  });
  snap();
}
"""


def _presence(page: Page) -> list[dict[str, Any]]:
    return page.evaluate("() => window.__res ? window.__res.log : null")  # type: ignore[no-any-return]


def _watch(page: Page) -> None:
    page.evaluate(OBSERVER_JS)
    page.evaluate(PRESENCE_JS)


def _sign_in(server: Server, page: Page, prefix: str) -> str:
    username = unique(prefix)
    patient_id = server.add_user("patient", username, PASSWORD, "diabetes-annual")
    assert patient_id
    login(page, server.base_url, username, PASSWORD, "/patient")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    return patient_id


def _scan(tmp_path: Path, name: str, pages: int, days_ago: int = 5) -> Path:
    """An image-only PDF of ``pages`` lab report pages (OCR takes a few seconds: long enough to
    break things while it runs)."""
    path = tmp_path / name
    texts = [f"Page {n + 1} of {pages}\n" + lab_report_text(days_ago) for n in range(pages)]
    path.write_bytes(docgen.scanned_pdf(texts))
    return path


def _status(server: Server, doc: str) -> str:
    return str(db_rows(server, "SELECT status FROM documents WHERE id = ?", doc)[0][0])


def _wait_db_status(server: Server, doc: str, statuses: tuple[str, ...], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while (status := _status(server, doc)) not in statuses:
        assert time.monotonic() < deadline, f"{doc} still {status} in the database"
        time.sleep(0.2)
    return status


def _event_count(server: Server, doc: str) -> int:
    return int(db_rows(server, "SELECT COUNT(*) FROM progress_events WHERE document_id = ?", doc)[0][0])


def _expect_matches_db(page: Page, server: Server, doc: str, timeout_s: float = 20) -> dict[str, str]:
    """Wait until the card shows exactly the indicator the stored events give (and the row's status)."""
    deadline = time.monotonic() + timeout_s
    while True:
        want, status = db_steps(server, doc), _status(server, doc)
        shown = shown_steps(page, doc)
        card_status = page.get_by_test_id(f"document-{doc}").get_attribute("data-status", timeout=5_000)
        if shown == want and card_status == status:
            return shown
        assert time.monotonic() < deadline, f"page {card_status} {shown} != database {status} {want}"
        time.sleep(0.2)


def _assert_steps_never_went_back(page: Page, doc: str) -> dict[str, list[str]]:
    sequences = step_sequences(observed(page), doc)
    for name in STEP_ORDER:
        states = sequences[name]
        assert states and states[-1] == "done", (name, states)
        ranks = [RANK[s] for s in states]
        assert ranks == sorted(ranks), f"{name} went backwards: {states}"
    return sequences


def _assert_one_card(page: Page, doc: str, *, may_vanish: bool = False) -> None:
    """The document's card never doubled (and, unless allowed, never disappeared) after it showed."""
    counts = [e["n"] for e in _presence(page) if e["kind"] == "cards" and e["id"] == f"document-{doc}"]
    assert counts and counts[0] == 1, counts
    assert max(counts) == 1, f"card repeated: {counts}"
    if not may_vanish:
        assert min(counts) == 1, f"card disappeared: {counts}"


def _quiet(server: Server, token: str) -> dict[str, int]:
    """Live counts once no other tab's follow task is left (earlier tests' tabs are closed)."""
    deadline = time.monotonic() + 15
    while (counts := live_counts(server, token))["followers"] != 0:
        assert time.monotonic() < deadline, f"follow tasks from closed tabs still running: {counts}"
        time.sleep(0.2)
    return counts


@pytest.fixture(scope="module")
def staff_token(server: Server) -> str:
    username = unique("res-staff")
    server.add_user("staff", username, "staff pass")
    return api_token(server, username, "staff pass")


def test_redis_down_mid_processing_still_finishes_then_live_again(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    assert server.redis is not None, "the browser session must run its own redis-server"
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = ctx.new_page()
        patient_id = _sign_in(server, page, "res-redis")
        badge = page.get_by_test_id("connection")
        requirement = page.locator('[data-testid^="requirement-"][data-testid$="hba1c"]')
        expect(requirement).to_have_attribute("data-state", "missing")
        _watch(page)

        doc = upload_file(page, _scan(tmp_path, "lab-scan.pdf", pages=2))
        server.redis.stop()
        try:
            stored_before_stop = _event_count(server, doc)
            # The page knows: it says it is updating from the database.
            expect(badge).to_have_attribute("data-state", "polling", timeout=15_000)
            card = page.get_by_test_id(f"document-{doc}")
            expect(card).to_have_attribute("data-status", "processed", timeout=PIPELINE_TIMEOUT_MS)
            for name in STEP_ORDER:
                expect(card.get_by_test_id(f"step-{name}")).to_have_attribute("data-state", "done")
            # The final state includes the checklist, also without Redis.
            expect(requirement).to_have_attribute("data-state", "satisfied", timeout=15_000)
            # Redis really was down for the rest of the pipeline, and still is.
            stages = [
                row[0]
                for row in db_rows(
                    server, "SELECT stage FROM progress_events WHERE document_id = ? ORDER BY seq", doc
                )
            ]
            assert stored_before_stop < len(stages), "the pipeline finished before Redis stopped"
            assert "matching_complete" in stages[stored_before_stop:], stages
            expect(badge).to_have_attribute("data-state", "polling")
            _expect_matches_db(page, server, doc)
        finally:
            server.redis.start()

        # Redis back (empty: it keeps nothing on disk): live again, and a new upload runs live.
        expect(badge).to_have_attribute("data-state", "live", timeout=30_000)
        second = tmp_path / "lab-second.png"
        second.write_bytes(docgen.png(docgen.render_page(lab_report_text(days_ago=9))))
        doc2 = upload_file(page, second)
        card2 = page.get_by_test_id(f"document-{doc2}")
        expect(card2.get_by_test_id("step-matching_complete")).to_have_attribute(
            "data-state", "done", timeout=PIPELINE_TIMEOUT_MS
        )
        expect(card2).to_have_attribute("data-status", "processed")
        live = _assert_steps_never_went_back(page, doc2)
        for name in STEP_ORDER[1:]:
            assert "active" in live[name], f"{name} not seen in progress (not live?): {live[name]}"
        # ...through Redis: every stored event of the second document is in the patient's stream.
        client = redis.Redis(port=server.redis.port, decode_responses=True)
        try:
            stream = client.xrange(f"{server.env['MEDUPLOAD_REDIS_PREFIX']}doc_progress:{patient_id}")
        finally:
            client.close()
        in_stream = [entry for _id, entry in stream if f'"document_id":"{doc2}"' in entry.get("data", "")]
        assert len([e for e in in_stream if e.get("kind", "progress") == "progress"]) == _event_count(
            server, doc2
        ), stream

        _assert_steps_never_went_back(page, doc)
        _assert_one_card(page, doc)
        connection = [e["state"] for e in _presence(page) if e["kind"] == "connection"]
        assert connection[-3:] == ["live", "polling", "live"], connection
    finally:
        ctx.close()


def test_dropped_connection_reconnects_and_shows_what_was_missed(
    server: Server, browser: Any, staff_token: str, tmp_path: Path
) -> None:
    quiet = _quiet(server, staff_token)
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = ctx.new_page()
        _sign_in(server, page, "res-drop")
        badge = page.get_by_test_id("connection")
        requirement = page.locator('[data-testid^="requirement-"][data-testid$="hba1c"]')
        _watch(page)
        opened = live_counts(server, staff_token)
        assert opened["followers"] == quiet["followers"] + 1, (quiet, opened)

        doc = upload_file(page, _scan(tmp_path, "lab-scan.pdf", pages=3))
        card = page.get_by_test_id(f"document-{doc}")
        ctx.set_offline(True)
        try:
            # The socket is gone and the page says so instead of claiming live updates.
            expect(badge).not_to_have_attribute("data-state", "live", timeout=15_000)
            stored_offline = _event_count(server, doc)
            _wait_db_status(server, doc, ("processed", "failed"), PIPELINE_TIMEOUT_MS / 1000)
            assert _event_count(server, doc) > stored_offline, "the pipeline finished before the drop"
            # Everything after the drop was missed for now (the drop is real).
            assert card.get_attribute("data-status") != "processed"
            assert shown_steps(page, doc) != db_steps(server, doc)
        finally:
            ctx.set_offline(False)

        # Back online: the page reconnects by itself and catches up.
        expect(badge).to_have_attribute("data-state", "live", timeout=30_000)
        expect(card).to_have_attribute("data-status", "processed", timeout=30_000)
        assert _expect_matches_db(page, server, doc) == dict.fromkeys(STEP_ORDER, "done")
        expect(requirement).to_have_attribute("data-state", "satisfied", timeout=15_000)
        assert _presence(page) is not None, "the page reloaded: the observers are gone"
        _assert_steps_never_went_back(page, doc)
        _assert_one_card(page, doc)
        connection = [e["state"] for e in _presence(page) if e["kind"] == "connection"]
        assert connection[-3:] == ["live", "reconnecting", "live"], connection
        # One follow task for this tab again: the one from before the drop ended.
        deadline = time.monotonic() + 15
        while (now := live_counts(server, staff_token)) != opened:
            assert time.monotonic() < deadline, f"follow tasks after reconnecting: {now}, before: {opened}"
            time.sleep(0.2)
    finally:
        ctx.close()


def test_backend_restart_mid_processing_reconnects_with_current_state(
    server: Server, browser: Any, staff_token: str, tmp_path: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = ctx.new_page()
        _sign_in(server, page, "res-restart")
        badge = page.get_by_test_id("connection")
        _watch(page)
        doc = upload_file(page, _scan(tmp_path, "lab-scan.pdf", pages=3))
        stored_before = _event_count(server, doc)

        server.restart()  # SIGTERM, wait for the old process to exit, start from the same build
        assert _event_count(server, doc) >= stored_before
        status = _status(server, doc)
        # Whatever the old process got to before it stopped is what the page shows now.
        expect(badge).to_have_attribute("data-state", "live", timeout=30_000)
        _expect_matches_db(page, server, doc, timeout_s=30)
        assert _presence(page) is not None, "the page reloaded: the observers are gone"
        connection = [e["state"] for e in _presence(page) if e["kind"] == "connection"]
        assert "reconnecting" in connection and connection[-1] == "live", connection
        sequences = step_sequences(observed(page), doc)
        for name in STEP_ORDER:
            ranks = [RANK.get(s, 3) for s in sequences[name]]
            assert ranks == sorted(ranks), f"{name} went backwards: {sequences[name]}"
        # (The new process starts with no state for the tab, so the card may be rebuilt: once.)
        _assert_one_card(page, doc, may_vanish=True)
        # The tab has exactly one follow task on the new process (it had none before the restart).
        deadline = time.monotonic() + 15
        while (counts := live_counts(server, staff_token)) != {"followers": 1, "hub_subscribers": 1}:
            assert time.monotonic() < deadline, f"follow tasks after the restart: {counts}"
            time.sleep(0.2)

        # The new process runs and streams a new upload live.
        second = tmp_path / "lab-after-restart.png"
        second.write_bytes(docgen.png(docgen.render_page(lab_report_text(days_ago=11))))
        doc2 = upload_file(page, second)
        card2 = page.get_by_test_id(f"document-{doc2}")
        expect(card2).to_have_attribute("data-status", "processed", timeout=PIPELINE_TIMEOUT_MS)
        live = _assert_steps_never_went_back(page, doc2)
        for name in STEP_ORDER[1:]:
            assert "active" in live[name], f"{name} not seen in progress (not live?): {live[name]}"
        assert _status(server, doc) == status, "the first document changed after the restart"
        _assert_one_card(page, doc2)
    finally:
        ctx.close()


@pytest.fixture
def one_mb_limit(server: Server) -> Iterator[None]:
    """The app restarted with MEDUPLOAD_MAX_UPLOAD_MB=1, and back to the session's settings after."""
    server.restart(MEDUPLOAD_MAX_UPLOAD_MB="1")
    try:
        yield
    finally:
        server.restart()


def test_too_large_upload_shows_message_and_creates_no_document(
    server: Server, browser: Any, one_mb_limit: None, tmp_path: Path
) -> None:
    storage = Path(server.env["MEDUPLOAD_STORAGE_DIR"])
    stored_before = {p for p in storage.rglob("*") if p.is_file()} if storage.exists() else set()
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = ctx.new_page()
        patient_id = _sign_in(server, page, "res-big")
        photo = tmp_path / "phone-photo.jpg"
        photo.write_bytes(docgen.phone_photo(docgen.render_page(lab_report_text()), noise=5, jpeg_quality=95))
        assert photo.stat().st_size > 2 * 1024 * 1024
        sent: list[str] = []
        page.on("request", lambda request: sent.append(request.url) if "/_upload" in request.url else None)
        page.locator('[data-testid="upload-dropzone"] input[type=file]').set_input_files(str(photo))

        # Refused as it is picked, never sent: no waiting on megabytes the server would refuse.
        notice = page.get_by_test_id("notice-error")
        expect(notice).to_contain_text("This file is too large. The limit is 1 MB.", timeout=30_000)
        expect(notice).to_contain_text("phone-photo.jpg")
        expect(notice).to_have_attribute("data-document", "")
        expect(page.get_by_text("No documents yet.")).to_be_visible()
        expect(page.locator('[data-testid^="document-d_"]')).to_have_count(0)
        expect(page.get_by_test_id("upload-submit")).to_be_disabled()  # nothing left selected
        assert db_rows(server, "SELECT COUNT(*) FROM documents WHERE patient_id = ?", patient_id) == [(0,)]
        stored_after = {p for p in storage.rglob("*") if p.is_file()} if storage.exists() else set()
        assert stored_after == stored_before, stored_after - stored_before

        # A type the pipeline does not read is refused the same way.
        text_file = tmp_path / "notes.txt"
        text_file.write_text("HbA1c 7.1 %")
        page.locator('[data-testid="upload-dropzone"] input[type=file]').set_input_files(str(text_file))
        expect(notice).to_contain_text("notes.txt: This file type is not supported.")
        # More files than one upload may carry: one notice for the lot.
        scans = [tmp_path / f"scan-{n}.png" for n in range(6)]
        for n, scan in enumerate(scans):
            scan.write_bytes(docgen.png(docgen.render_page(f"Page {n}")))
        picker = page.locator('[data-testid="upload-dropzone"] input[type=file]')
        picker.set_input_files([str(scan) for scan in scans])
        expect(notice).to_have_text("Too much at once: upload at most 5 files of up to 1 MB each.")
        assert sent == []
    finally:
        ctx.close()
