"""Staff review in the browser: staff correct an HbA1c that OCR lost and the patient's checklist
turns satisfied live in another context; a wrong finding is rejected and stops counting; the review
queue empties as items are resolved; the patient sees their document read-only and cannot change
a fact (UI and REST); the new pages pass axe-core and fit a 375 px phone."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import docgen
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .browser_helpers import ARTIFACTS, Server, at, login, unique

pytestmark = pytest.mark.browser

# No date and no HbA1c result: OCR lost them, so the HbA1c requirement needs review.
TEXT = ("LABORATORY REPORT\nHemoglobin A1c: see comment\nDiagnosis: Type 2 diabetes mellitus\n"
        "Allergies: penicillin")


def _serious(page: Page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']} at {[(n['target'], n.get('html', '')[:120]) for n in v['nodes']][:4]}"
            for v in violations if v.get("impact") in ("serious", "critical")]


def _no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def _facts(page: Page, base: str, pid: str, did: str) -> dict[str, dict]:  # type: ignore[type-arg]
    detail = page.request.get(f"{base}/api/v1/patients/{pid}/documents/{did}").json()
    return {f["concept"]: f for f in detail["facts"]}


def _assert_inside(box: dict | None, image: dict | None, bbox: list[float]) -> None:  # type: ignore[type-arg]
    """The highlight lies within the page image, where the fact's bbox (shares of it) says."""
    assert box is not None and image is not None
    assert box["x"] >= image["x"] - 0.5 and box["y"] >= image["y"] - 0.5
    assert box["x"] + box["width"] <= image["x"] + image["width"] + 0.5
    assert box["y"] + box["height"] <= image["y"] + image["height"] + 0.5
    # The highlight frames the word box (a small margin around it), not somewhere else.
    centre_x = image["x"] + (bbox[0] + bbox[2] / 2) * image["width"]
    centre_y = image["y"] + (bbox[1] + bbox[3] / 2) * image["height"]
    assert abs(box["x"] + box["width"] / 2 - centre_x) < 3
    assert abs(box["y"] + box["height"] / 2 - centre_y) < 3
    assert box["height"] < image["height"] * 0.2


def test_staff_review_updates_the_patient_live(server: Server, browser, tmp_path: Path) -> None:
    patient = unique("rev-pat")
    pid = server.add_user("patient", patient, "patient pass", "diabetes-annual", "pre-op")
    assert pid
    staff_user = unique("rev-stf")
    server.add_user("staff", staff_user, "staff pass")
    patient_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    staff_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    phone_ctx = browser.new_context(viewport={"width": 375, "height": 800})
    try:
        # The patient uploads; the pipeline cannot date the HbA1c or read its result.
        own = patient_ctx.new_page()
        login(own, server.base_url, patient, "patient pass", "/patient")
        scan = tmp_path / "lab.png"
        scan.write_bytes(docgen.png(docgen.render_page(TEXT, size=(6.0, 3.0))))
        own.locator('[data-testid="upload-dropzone"] input[type=file]').set_input_files(str(scan))
        own.get_by_test_id("upload-submit").click()
        card = own.locator('[data-testid^="document-d_"]').first
        expect(card).to_have_attribute("data-status", "processed", timeout=60_000)
        did = str(card.get_attribute("data-testid")).removeprefix("document-")
        hba1c_req = own.get_by_test_id("requirement-diabetes-annual/hba1c")
        allergies_req = own.get_by_test_id("requirement-pre-op/allergies")
        expect(hba1c_req).to_have_attribute("data-state", "needs_review")
        expect(allergies_req).to_have_attribute("data-state", "satisfied")

        # Staff: the dashboard's review queue lists it, with the patient's name.
        staff = staff_ctx.new_page()
        login(staff, server.base_url, staff_user, "staff pass", "/staff")
        queue = staff.get_by_test_id("review-queue")
        mine = queue.locator(f'[data-testid^="review-item-r-{pid}-"]')
        expect(mine).to_have_count(1, timeout=15_000)
        expect(mine).to_contain_text(patient)
        assert (found := _serious(staff)) == [], found

        # A second staff tab on the document view (the dashboard stays open to watch the queue).
        review = staff_ctx.new_page()
        review.goto(f"{server.base_url}/documents/{did}")
        review.wait_for_url(at(f"/documents/{did}"))
        page_image = review.get_by_test_id("doc-page-1")
        expect(page_image).to_be_visible(timeout=15_000)
        review.wait_for_function(
            "el => el.complete && el.naturalWidth > 0", arg=page_image.element_handle(), timeout=15_000)
        facts = _facts(review, server.base_url, pid, did)
        hba1c, allergy = facts["hemoglobin a1c"], facts["penicillin"]
        condition = facts["type 2 diabetes mellitus"]
        fact = review.get_by_test_id(f"fact-{hba1c['id']}")
        expect(fact).to_have_attribute("data-status", "extracted")
        assert (found := _serious(review)) == [], found

        # Where a fact was read: a click on the HbA1c marks its place over the page image.
        assert hba1c["page"] == 1 and all(0 <= v <= 1 for v in hba1c["bbox"])
        expect(review.get_by_test_id("fact-highlight")).to_have_count(0)
        review.get_by_test_id(f"fact-show-{hba1c['id']}").click()
        highlight = review.get_by_test_id("fact-highlight")
        expect(highlight).to_be_visible()
        expect(highlight).to_have_attribute("aria-label", "Lab result on page 1")
        expect(fact).to_have_attribute("data-selected", "true")
        _assert_inside(highlight.bounding_box(), page_image.bounding_box(), hba1c["bbox"])
        # By keyboard: Enter on the condition's name moves the mark to its line, lower on the page.
        before = highlight.bounding_box()
        review.get_by_test_id(f"fact-show-{condition['id']}").focus()
        review.keyboard.press("Enter")
        expect(review.get_by_test_id(f"fact-{condition['id']}")).to_have_attribute("data-selected", "true")
        expect(highlight).to_have_attribute("aria-label", "Condition on page 1")
        review.wait_for_function(
            "y => document.querySelector('[data-testid=fact-highlight]').getBoundingClientRect().y > y + 5",
            arg=before["y"] if before else 0)
        _assert_inside(highlight.bounding_box(), page_image.bounding_box(), condition["bbox"])
        assert (found := _serious(review)) == [], found
        review.screenshot(path=str(ARTIFACTS / "review-document-staff.png"), full_page=True)

        # Correct it: value, unit and the collection date.
        review.get_by_test_id(f"fact-edit-{hba1c['id']}").click()
        form = review.get_by_test_id("fact-edit-form")
        form.locator('input[name="value"]').fill("7.2")
        form.locator('input[name="unit"]').fill("%")
        form.locator('input[name="date"]').fill((date.today() - timedelta(days=10)).isoformat())
        form.get_by_test_id("fact-save").click()
        expect(fact).to_have_attribute("data-status", "corrected", timeout=15_000)
        expect(fact).to_contain_text("7.2")

        # The patient's checklist turns satisfied without a reload; the queue item goes.
        expect(hba1c_req).to_have_attribute("data-state", "satisfied", timeout=15_000)
        expect(own.get_by_test_id(f"doc-reviewed-{did}")).to_contain_text("Reviewed by the clinic")
        expect(mine).to_have_count(0, timeout=15_000)

        # A wrong allergy: rejected, it stops counting (live for the patient too).
        review.get_by_test_id(f"fact-reject-{allergy['id']}").click()
        expect(review.get_by_test_id(f"fact-{allergy['id']}")).to_have_attribute("data-status", "rejected")
        expect(allergies_req).to_have_attribute("data-state", "missing", timeout=15_000)
        # Keyboard alone: Tab reaches the condition's Reject button, Enter presses it.
        target = f"fact-reject-{condition['id']}"
        review.locator("body").focus()
        for _ in range(80):
            review.keyboard.press("Tab")
            if review.evaluate("document.activeElement?.getAttribute('data-testid')") == target:
                break
        else:
            raise AssertionError(f"{target} is not reachable with Tab")
        review.keyboard.press("Enter")
        expect(review.get_by_test_id(f"fact-{condition['id']}")).to_have_attribute("data-status", "rejected")

        # A finding staff add was not read from the page: it says so and marks nothing.
        review.get_by_test_id("fact-add").click()
        review.locator("#fact-add-kind").select_option("condition")
        review.locator("#fact-field-concept").fill("hypertensive crisis")
        review.get_by_test_id("fact-add-save").click()
        added = review.locator('[data-testid^="fact-"][data-status="added"]')
        expect(added).to_have_count(1, timeout=15_000)
        added.locator('[data-testid^="fact-show-"]').click()
        expect(added.get_by_test_id("fact-no-location")).to_have_text("Location not available")
        expect(review.get_by_test_id("fact-highlight")).to_have_count(0)

        # The staff patient page: checklist with evidence, no open items, the audit trail.
        staff.goto(f"{server.base_url}/staff/patients/{pid}")
        expect(staff.get_by_test_id("staff-requirement-diabetes-annual/hba1c")).to_have_attribute(
            "data-state", "satisfied", timeout=15_000)
        expect(staff.get_by_test_id("staff-requirement-diabetes-annual/hba1c")).to_contain_text("7.2")
        expect(staff.get_by_test_id("review-queue")).to_have_attribute("data-count", "0")
        expect(staff.get_by_test_id("staff-patient-page")).to_contain_text("fact.correct")
        assert (found := _serious(staff)) == [], found

        # The patient: their document read-only, no change controls; REST refuses a change.
        own_doc = patient_ctx.new_page()
        own_doc.goto(f"{server.base_url}/documents/{did}")
        expect(own_doc.get_by_test_id(f"fact-{hba1c['id']}")).to_have_attribute("data-status", "corrected",
                                                                                 timeout=15_000)
        expect(own_doc.locator('[data-testid^="fact-confirm-"]')).to_have_count(0)
        expect(own_doc.locator('[data-testid^="fact-edit-"]')).to_have_count(0)
        expect(own_doc.get_by_test_id("doc-page-1")).to_be_visible()
        # The patient too can see where a finding was read.
        own_doc.wait_for_function("el => el.complete && el.naturalWidth > 0",
                                  arg=own_doc.get_by_test_id("doc-page-1").element_handle(), timeout=15_000)
        own_doc.get_by_test_id(f"fact-show-{hba1c['id']}").click()
        expect(own_doc.get_by_test_id("fact-highlight")).to_be_visible()
        _assert_inside(own_doc.get_by_test_id("fact-highlight").bounding_box(),
                       own_doc.get_by_test_id("doc-page-1").bounding_box(), hba1c["bbox"])
        assert (found := _serious(own_doc)) == [], found
        refused = own_doc.request.patch(
            f"{server.base_url}/api/v1/patients/{pid}/documents/{did}/facts/{hba1c['id']}",
            data={"action": "reject"})
        assert refused.status == 403
        assert _facts(own_doc, server.base_url, pid, did)["hemoglobin a1c"]["status"] == "corrected"

        # Another patient cannot open this document's view or its page images.
        other = unique("rev-other")
        server.add_user("patient", other, "other pass", "diabetes-annual")
        other_page = browser.new_context().new_page()
        login(other_page, server.base_url, other, "other pass", "/patient")
        other_page.goto(f"{server.base_url}/documents/{did}")
        other_page.wait_for_url(at("/patient"), timeout=15_000)
        assert other_page.request.get(
            f"{server.base_url}/api/v1/patients/{pid}/documents/{did}/pages/1").status == 403
        other_page.context.close()

        # Phone width: no horizontal scroll on the document view and the staff patient page.
        phone = phone_ctx.new_page()
        login(phone, server.base_url, staff_user, "staff pass", "/staff")
        for path in (f"/documents/{did}", f"/staff/patients/{pid}", "/staff"):
            phone.goto(f"{server.base_url}{path}")
            phone.wait_for_load_state("networkidle")
            expect(phone.locator("main")).to_be_visible()
            phone.wait_for_timeout(500)
            assert _no_horizontal_scroll(phone), f"horizontal scroll at 375 px on {path}"
        phone.screenshot(path=str(ARTIFACTS / "review-staff-phone.png"), full_page=True)
    finally:
        patient_ctx.close()
        staff_ctx.close()
        phone_ctx.close()


# Spies on the page's notifications (headless Chromium shows none that a test could see); the
# real constructor still runs. ``window.__hidden`` stands in for the tab being in the background.
_SPY = """
window.__notified = [];
const RealNotification = window.Notification;
class SpyNotification {
  constructor(title, options) {
    window.__notified.push({title, body: options && options.body});
    try { return new RealNotification(title, options); } catch (e) { return this; }
  }
  static get permission() { return RealNotification.permission; }
  static requestPermission() { return RealNotification.requestPermission(); }
}
window.Notification = SpyNotification;
Object.defineProperty(document, 'hidden', {configurable: true, get: () => window.__hidden === true});
"""


def test_patient_notified_in_background_and_sees_what_we_found(server: Server, browser,
                                                               tmp_path: Path) -> None:
    patient = unique("rev-note")
    server.add_user("patient", patient, "patient pass", "diabetes-annual")
    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    ctx.grant_permissions(["notifications"], origin=server.base_url)
    ctx.add_init_script(_SPY)
    try:
        page = ctx.new_page()
        login(page, server.base_url, patient, "patient pass", "/patient")
        assert page.evaluate("Notification.permission") == "granted"
        scan = tmp_path / "private-name.png"
        scan.write_bytes(docgen.png(docgen.render_page(TEXT, size=(6.0, 3.0))))
        page.locator('[data-testid="upload-dropzone"] input[type=file]').set_input_files(str(scan))
        page.get_by_test_id("upload-submit").click()
        card = page.locator('[data-testid^="document-d_"]').first
        expect(card).to_be_visible(timeout=15_000)
        page.evaluate("window.__hidden = true")
        expect(card).to_have_attribute("data-status", "processed", timeout=60_000)
        page.wait_for_function("window.__notified.length > 0", timeout=5_000)
        notified = page.evaluate("window.__notified")
        assert notified == [{"title": "MedUpload", "body": "A document has been read."}]
        expect(card.get_by_test_id("doc-announcer")).to_contain_text("finished")

        did = str(card.get_attribute("data-testid")).removeprefix("document-")
        page.evaluate("window.__hidden = false")
        page.get_by_test_id(f"doc-found-{did}").click()
        page.wait_for_url(at(f"/documents/{did}"), timeout=15_000)
        expect(page.locator('[data-testid^="fact-"][data-status="extracted"]').first).to_be_visible()
        expect(page.locator('[data-testid^="fact-reject-"]')).to_have_count(0)
        assert _no_horizontal_scroll(page)
    finally:
        ctx.close()
