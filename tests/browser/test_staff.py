"""The staff dashboard: role-gated, live rows, filters by status and patient, failed documents
with error code, failed step and a working Retry, requirement completion per patient."""

from __future__ import annotations

from pathlib import Path

import docgen
import pytest
from playwright.sync_api import expect

from .browser_helpers import ARTIFACTS, Server, login, unique

pytestmark = pytest.mark.browser


def test_staff_dashboard_filters_failures_and_retry(server: Server, browser, tmp_path: Path) -> None:
    patient = unique("stf-pat")
    patient_id = server.add_user("patient", patient, "patient pass", "diabetes-annual")
    staff_user = unique("stf")
    server.add_user("staff", staff_user, "staff pass")
    staff_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    patient_ctx = browser.new_context()
    try:
        staff = staff_ctx.new_page()
        login(staff, server.base_url, staff_user, "staff pass", "/staff")
        expect(staff.get_by_test_id("connection")).to_have_attribute("data-state", "live")
        # Requirement completion lists the enrolled patient, nothing satisfied yet.
        expect(staff.get_by_test_id(f"staff-patient-{patient_id}")).to_contain_text("0 of 5")

        page = patient_ctx.new_page()
        login(page, server.base_url, patient, "patient pass", "/patient")
        bad = tmp_path / "scan.pdf"
        bad.write_bytes(docgen.corrupt_pdf())
        page.locator('[data-testid="upload-dropzone"] input[type=file]').set_input_files(str(bad))
        page.get_by_test_id("upload-submit").click()
        card = page.locator('[data-testid^="document-d_"]').first
        expect(card).to_have_attribute("data-status", "failed", timeout=30_000)
        doc_id = str(card.get_attribute("data-testid")).removeprefix("document-")

        # Live: the failed document shows up without a reload, with code, failed step and Retry.
        row = staff.get_by_test_id(f"staff-document-{doc_id}")
        expect(row).to_have_attribute("data-status", "failed", timeout=15_000)
        failed = staff.get_by_test_id(f"staff-failed-{doc_id}")
        expect(failed).to_contain_text("error.")
        expect(failed).to_contain_text("ocr_started")

        # Filters: by status, then by patient id.
        staff.get_by_test_id("staff-status-filter").click()
        staff.get_by_role("option", name="Processed").click()
        expect(row).to_have_count(0)
        staff.get_by_test_id("staff-status-filter").click()
        staff.get_by_role("option", name="Failed").click()
        expect(row).to_be_visible()
        staff.get_by_test_id("staff-patient-filter").fill("p_nobody")
        expect(row).to_have_count(0)
        staff.get_by_test_id("staff-patient-filter").fill(patient_id)
        expect(row).to_be_visible()
        expect(staff.locator('[data-testid^="staff-document-"]')).to_have_count(1)
        staff.screenshot(path=str(ARTIFACTS / "staff-filtered-failed.png"), full_page=True)

        # Retry from the dashboard starts a new attempt; the patient's card counts it live.
        expect(card).to_have_attribute("data-attempt", "1")
        staff.get_by_test_id(f"staff-retry-{doc_id}").click()
        expect(card).to_have_attribute("data-attempt", "2", timeout=30_000)
        expect(row).to_have_attribute("data-status", "failed", timeout=30_000)
    finally:
        staff_ctx.close()
        patient_ctx.close()
