"""ui/viewmodels.py: the pure functions between the event list / document rows and what the
Reflex pages render, tested without a browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from medupload.progress.stages import MESSAGES, STEPS, Stage, message
from medupload.ui.viewmodels import (
    build_cards,
    event_key,
    fmt_date,
    fmt_ms,
    merge_documents,
    merge_events,
    parse_dt,
    requirement_views,
    staff_row,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def event(seq: int, stage: Stage, code: str = "ocr.started", document_id: str = "d_1",
          failed_stage: Stage | None = None) -> dict[str, Any]:
    return {"patient_id": "p_1", "document_id": document_id, "seq": seq, "stage": stage.value, "code": code,
            "detail": message(code), "fraction": 0.5, "at": (T0 + timedelta(seconds=seq)).isoformat(),
            "elapsed_ms": seq * 1000, "failed_stage": failed_stage.value if failed_stage else None}


def doc(document_id: str = "d_1", status: str = "processing", stage: str = "ocr_started", *,
        created: int = 0, updated: int = 0, **extra: Any) -> dict[str, Any]:
    return {"id": document_id, "patient_id": "p_1", "filename": "scan.pdf", "status": status,
            "stage": stage, "error_code": None, "failed_stage": None,
            "created_at": (T0 + timedelta(seconds=created)).isoformat(),
            "updated_at": (T0 + timedelta(seconds=updated)).isoformat(), **extra}


@pytest.mark.parametrize(("ms", "text"), [(None, ""), (0, "0.0 s"), (1234, "1.2 s"), (59_999, "60.0 s"),
                                          (60_000, "1 min 0 s"), (125_500, "2 min 5 s")])
def test_fmt_ms(ms: int | None, text: str) -> None:
    assert fmt_ms(ms) == text


def test_dates() -> None:
    assert fmt_date("2026-11-28T12:00:00Z") == "28 Nov 2026"
    assert fmt_date(None) == "" and fmt_date("") == ""
    assert parse_dt("2026-11-28T12:00:00") == T0  # no zone: taken as UTC
    assert parse_dt("2026-11-28T13:00:00+01:00") == T0
    assert parse_dt(datetime(2026, 11, 28, 12, 0)) == T0


def test_merge_events_dedupes_orders_and_keeps_identity_when_nothing_is_new() -> None:
    a1, a2, b1 = event(1, Stage.UPLOAD_RECEIVED), event(2, Stage.OCR_STARTED), event(1, Stage.UPLOAD_RECEIVED,
                                                                                         document_id="d_0")
    merged = merge_events([a2], [a1, a2, b1])
    assert [event_key(e) for e in merged] == [("d_0", 1), ("d_1", 1), ("d_1", 2)]
    assert merge_events(merged, [a1, b1]) is merged  # a replay changes nothing (no re-render)


def test_merge_documents_keeps_the_newer_row_and_lists_newest_uploads_first() -> None:
    old = doc("d_1", "processing", created=0, updated=5)
    newer = doc("d_1", "processed", "matching_complete", created=0, updated=9)
    other = doc("d_2", "received", "upload_received", created=3, updated=3)
    merged = merge_documents([newer], [old, other])
    assert [(d["id"], d["status"]) for d in merged] == [("d_2", "received"), ("d_1", "processed")]
    assert merge_documents(merged, [doc("d_1", "failed", "failed", updated=9)])[1]["status"] == "failed"


def test_card_of_a_running_document() -> None:
    events = [event(1, Stage.UPLOAD_RECEIVED, "upload.received"), event(2, Stage.OCR_STARTED)]
    [card] = build_cards([doc()], events)
    assert [s.state for s in card.steps] == ["done", "done", "active", "pending", "pending", "pending"]
    assert [s.testid for s in card.steps] == [f"step-{s.value}" for s in STEPS]
    assert (card.running, card.failed, card.fraction, card.attempt) == (True, False, 33, 1)
    assert (card.status_label, card.uploaded, card.testid) == ("Processing", "28 Nov 2026", "document-d_1")
    assert card.steps[1].elapsed == "2.0 s" and card.steps[3].elapsed == ""


def test_card_of_a_failed_document_shows_the_catalogue_message() -> None:
    events = [event(1, Stage.UPLOAD_RECEIVED, "upload.received"),
              event(2, Stage.FAILED, "error.pdf_encrypted", failed_stage=Stage.OCR_STARTED)]
    [card] = build_cards([doc(status="failed", stage="failed", error_code="error.pdf_encrypted")], events)
    assert [s.state for s in card.steps][:3] == ["done", "failed", "pending"]
    assert (card.failed, card.running, card.error_code) == (True, False, "error.pdf_encrypted")
    assert card.error_message == MESSAGES["error.pdf_encrypted"]


def test_card_follows_the_row_when_events_are_lost() -> None:
    # Redis was down: only the first event arrived, the row says how it ended.
    first = [event(1, Stage.UPLOAD_RECEIVED, "upload.received")]
    [done] = build_cards([doc(status="processed", stage="matching_complete")], first)
    assert [s.state for s in done.steps] == ["done"] * 6 and not done.running and done.fraction == 100
    failed_row = doc(status="failed", stage="failed", failed_stage="analysis_started",
                     error_code="error.time_limit")
    [failed] = build_cards([failed_row], first)
    assert [s.state for s in failed.steps] == ["done", "done", "done", "failed", "pending", "pending"]
    assert failed.error_message == MESSAGES["error.time_limit"]
    [unexplained] = build_cards([doc(status="failed", stage="failed")], [])
    assert unexplained.failed and unexplained.error_message == MESSAGES["error.internal"]


def test_card_counts_attempts_and_shows_only_the_latest() -> None:
    events = [event(1, Stage.UPLOAD_RECEIVED, "upload.received"),
              event(2, Stage.FAILED, "error.ocr_timeout", failed_stage=Stage.OCR_STARTED),
              event(3, Stage.UPLOAD_RECEIVED, "retry.requested"), event(4, Stage.OCR_STARTED)]
    [card] = build_cards([doc(status="processing")], events)
    assert card.attempt == 2 and not card.failed and card.steps[2].state == "active"


def test_cards_group_events_by_document() -> None:
    cards = build_cards([doc("d_1"), doc("d_2", status="received", stage="upload_received")],
                        [event(1, Stage.UPLOAD_RECEIVED, document_id="d_2"), event(1, Stage.UPLOAD_RECEIVED),
                         event(2, Stage.OCR_STARTED)])
    assert [c.id for c in cards] == ["d_1", "d_2"]
    assert [c.fraction for c in cards] == [33, 17]


def test_requirement_views_from_dicts_and_objects() -> None:
    as_dict = {"requirement_id": "hba1c", "title": "HbA1c", "program": "diabetes-annual",
               "state": "satisfied", "document_id": "d_1", "evidence_date": "2026-01-15"}
    as_object = SimpleNamespace(requirement_id="eye", title=None, program="diabetes-annual",
                                state="needs_review", document_id=None, evidence_date=None,
                                evidence={"document_id": "d_9", "date": "2026-02-01"})
    missing = {"requirement_id": "foot"}
    views = requirement_views([as_dict, as_object, missing])
    assert [(v.id, v.state_label, v.document_id, v.evidence) for v in views] == [
        ("hba1c", "Satisfied", "d_1", "dated 15 Jan 2026"),
        ("eye", "Needs review", "d_9", "dated 01 Feb 2026"),
        ("foot", "Missing", "", ""),
    ]
    assert views[1].title == "eye" and views[0].testid == "requirement-hba1c"


def test_staff_row_elapsed_and_stage() -> None:
    now = T0 + timedelta(seconds=90)
    running = staff_row(doc(created=0, updated=10), {"stage": "analysis_started", "elapsed_ms": 120_000}, now)
    assert (running.stage_label, running.elapsed) == ("Analysing", "2 min 0 s")  # the event knows more
    finished = staff_row(doc(status="processed", stage="matching_complete", updated=30), None, now)
    assert (finished.elapsed, finished.status_label) == ("30.0 s", "Processed")  # stops at the end
    failed = staff_row(doc(status="failed", stage="failed", failed_stage="ocr_started"), None, now)
    assert (failed.stage_label, failed.failed_stage) == ("Failed", "ocr_started")
    assert staff_row(doc(stage="from_the_future"), None, now).stage_label == "from_the_future"
