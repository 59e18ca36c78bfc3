"""The upload's own result survives its two channels arriving out of order.

Pressing Upload sends ``start_upload`` on the socket and the files in ``POST /_upload``; the
handler's updates (its notices, the end of the upload) come back in that POST's response, the
start's over the socket. Nothing orders the two, and on a loaded machine the socket's update
sometimes landed last: with one "uploading" flag set by the start and cleared by the handler, the
bar stayed at "Sending… 0%", Upload stayed disabled and the handler's notice was wiped (seen in 3 of 4
fresh-clone CI runs before the two counts of PatientState replaced the flag). This test makes
that order certain: from the moment the page sends the start, it holds back every frame the server
sends on the socket until the upload's response has been read, then lets them through.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from .browser_helpers import Server, login, unique

pytestmark = pytest.mark.browser


class _HoldSocketAfterStart:
    """Routes the page's Reflex socket through the test: from the moment the page sends
    ``start_upload``, frames from the server wait until ``release()``."""

    def __init__(self) -> None:
        self.held: list[tuple[WebSocketRoute, str | bytes]] = []
        self.holding = False
        self.lock = threading.Lock()

    def route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if ".start_upload" in str(message):
                with self.lock:
                    self.holding = True
            server.send(message)

        def from_server(message: str | bytes) -> None:
            with self.lock:
                if self.holding:
                    self.held.append((ws, message))
                    return
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    def release(self) -> int:
        with self.lock:
            self.holding = False
            held, self.held = self.held, []
        for ws, message in held:
            ws.send(message)
        return len(held)


def test_upload_result_survives_the_start_arriving_after_it(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    username = unique("order")
    assert server.add_user("patient", username, "patient pass", "diabetes-annual")
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page: Page = ctx.new_page()
        hold = _HoldSocketAfterStart()
        page.route_web_socket("**/_event/**", hold.route)
        login(page, server.base_url, username, "patient pass", "/patient")
        expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")

        bad = tmp_path / "torn.pdf"
        bad.write_bytes(b"%PDF-1.4\n" + unique("not really a pdf").encode())
        page.locator('[data-testid="upload-dropzone"] input[type=file]').set_input_files(str(bad))
        with page.expect_response(lambda r: "/_upload" in r.url) as answer:
            page.get_by_test_id("upload-submit").click()
        answer.value.finished()
        notice = page.get_by_test_id("notice-error")
        # The handler's result, from the POST's response, shows while the start is still held.
        expect(notice).to_contain_text("torn.pdf")
        assert hold.release() >= 1, "the start's update was never seen on the socket"

        # The late start changes nothing: the notice stays, the bar says sent, Upload works again.
        page.wait_for_timeout(500)
        expect(notice).to_contain_text("torn.pdf")
        expect(page.get_by_test_id("upload-progress")).to_have_attribute("data-value", "100")
        expect(page.get_by_text("Sent 100%")).to_be_visible()
        page.locator('[data-testid="upload-dropzone"] input[type=file]').set_input_files(str(bad))
        expect(page.get_by_test_id("upload-submit")).to_be_enabled()
    finally:
        ctx.close()
