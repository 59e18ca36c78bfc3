"""The pipeline runner, inline mode, with real SQLite, Redis and tesseract on generated pages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docgen
import pytest
from sqlalchemy import update
from sqlmodel import col, func, select
from support import PHI_CANARY, make_patient

from medupload import records
from medupload.api import errors as api_errors
from medupload.db import session_scope
from medupload.models import Document, Fact, ProgramEnrollment, RequirementMatch
from medupload.pipeline import accept, dispatch, recovery, runner, storage, transient
from medupload.progress.stages import STEPS, Stage, steps
from medupload.settings import get_settings

PROGRAM = "diabetes-annual"
LAB_TEXT = (
    "LABORATORY REPORT\n"
    "Collected: 2026-01-15\n"
    "Hemoglobin A1c 7.2 %\n"
    "Diagnosis: Type 2 diabetes mellitus\n"
    "Medications: metformin 500 mg twice daily"
)


def page_png(text: str = LAB_TEXT) -> bytes:
    # A small page keeps tesseract well under a second on a shared CPU.
    return docgen.png(docgen.render_page(text, size=(6.0, 3.0)))


@pytest.fixture
def patient(any_db: str) -> Iterator[str]:
    patient_id = make_patient()
    with session_scope() as session:
        session.add(ProgramEnrollment(patient_id=patient_id, program=PROGRAM))
    yield patient_id


def _document(document_id: str) -> Document:
    with session_scope() as session:
        row = session.get(Document, document_id)
        assert row is not None
        return row


def _facts(document_id: str) -> list[Fact]:
    with session_scope() as session:
        return list(session.exec(select(Fact).where(Fact.document_id == document_id)).all())


def _process(patient_id: str, data: bytes, filename: str = f"{PHI_CANARY}.png") -> str:
    accepted = accept.accept_upload(patient_id, filename, [data[:1000], data[1000:]])
    assert not accepted.duplicate
    runner.confirm_upload(accepted.document.id)
    dispatch.wait_inline(accepted.document.id, timeout=120)
    return accepted.document.id


def test_inline_end_to_end(patient: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    data = page_png()
    document_id = _process(patient, data)

    document = _document(document_id)
    assert (document.status, document.stage, document.error_code) == ("processed", "matching_complete", None)
    assert document.page_count == 1 and document.ocr_confidence is not None and document.attempts == 1
    assert document.document_type == "lab_report"
    assert document.filename == f"{PHI_CANARY}.png"
    # Raw file under its content address, byte for byte.
    assert storage.path_for(document.sha256).read_bytes() == data
    assert document.storage_path == f"{document.sha256[:2]}/{document.sha256}"

    detail = records.document_detail(patient, document_id)
    assert detail is not None
    events = detail.events
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    reached = list(dict.fromkeys(e.stage for e in events))
    assert reached == list(STEPS)
    page_events = [e for e in events if e.code == "ocr.page"]
    assert [e.detail for e in page_events] == ["Reading page 1 of 1"]
    assert all(0.10 <= e.fraction <= 0.60 for e in page_events)
    assert [e.fraction for e in events] == sorted(e.fraction for e in events)
    assert events[-1].code == "matching.done"
    assert all(s.state == "done" for s in steps(events))

    concepts = {(f.kind, f.concept) for f in detail.facts}
    assert ("condition", "type 2 diabetes mellitus") in concepts
    assert ("medication", "metformin") in concepts
    # Each fact knows where it is on the page: the HbA1c is on line 3 (index 2) of the 6 x 3 in
    # page docgen drew (0.75 in margin, 11 pt lines 1.45 high), as shares of the page.
    lab = next(f for f in detail.facts if f.kind == "lab")
    assert lab.page == 1 and lab.bbox is not None and len(lab.bbox) == 4
    x, y, w, h = lab.bbox
    assert 0 <= x < x + w <= 1 and 0 <= y < y + h <= 1
    line_height = round(11 * 1.45 / 72 * 300) / (3.0 * 300)
    assert abs(x - 0.75 / 6.0) < 0.01 and 0.25 + 2 * line_height - 0.01 < y < 0.25 + 3 * line_height
    assert all(f.page == 1 and f.bbox is not None for f in detail.facts)
    status = records.requirement_status(patient)
    assert status and {r.program for r in status} == {PROGRAM}
    assert any(r.state == "satisfied" and r.document_id == document_id for r in status)
    assert f"{len([r for r in status if r.state == 'satisfied'])} of {len(status)}" in events[-1].detail

    # No PHI (filename, document text) in events or logs.
    for event in events:
        assert PHI_CANARY not in event.model_dump_json() and "metformin" not in event.detail.lower()
    assert PHI_CANARY not in caplog.text and "metformin" not in caplog.text.lower()

    stats = {s.stage: s for s in records.stage_stats()}
    assert stats["total"].count == 1 and stats["ocr_complete"].p50_seconds is not None
    assert stats["total"].p50_seconds >= stats["ocr_complete"].p50_seconds >= 0


def test_rerun_replaces_facts_and_matches(patient: str) -> None:
    document_id = _process(patient, page_png())
    facts_before = sorted((f.kind, f.concept, f.start) for f in _facts(document_id))
    with session_scope() as session:
        matches_before = session.exec(select(func.count()).select_from(RequirementMatch)).one()
    assert facts_before and matches_before

    runner.retry_document(document_id)
    dispatch.wait_inline(document_id, timeout=120)
    # A direct second run of a processed document is a no-op (duplicate delivery).
    assert runner.process_document(document_id) == "processed"

    assert sorted((f.kind, f.concept, f.start) for f in _facts(document_id)) == facts_before
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(RequirementMatch)).one() == matches_before
    document = _document(document_id)
    assert document.status == "processed" and document.attempts == 2
    events = records.document_events(document_id)
    assert [e.code for e in events].count("matching.done") == 2
    assert "retry.requested" in [e.code for e in events]


@pytest.mark.parametrize(
    ("make", "code", "http_status"),
    [
        (lambda: docgen.encrypted_pdf(), "error.pdf_encrypted", 422),
        (lambda: docgen.corrupt_pdf(), "error.unreadable", 422),
        (lambda: b"PK\x03\x04 this is a zip, not a document", "error.unsupported_type", 415),
        (lambda: docgen.truncated(page_png()), "error.unreadable", 422),
    ],
    ids=["encrypted", "corrupt", "unsupported", "truncated"],
)
def test_intake_refusal_keeps_file_and_row(patient: str, make, code: str, http_status: int) -> None:  # type: ignore[no-untyped-def]
    data = make()
    with pytest.raises(accept.UploadRejected) as caught:
        accept.accept_upload(patient, "scan.pdf", [data])
    assert (caught.value.code, api_errors.http_status(caught.value.code)) == (code, http_status)
    assert caught.value.document is not None
    document = _document(caught.value.document.id)
    assert (document.status, document.error_code, document.failed_stage) == ("failed", code, "ocr_started")
    assert storage.path_for(document.sha256).read_bytes() == data
    events = records.document_events(document.id)
    assert [(e.stage, e.code) for e in events] == [(Stage.UPLOAD_RECEIVED, "upload.received"),
                                                   (Stage.FAILED, code)]


def test_too_large_stores_nothing(patient: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "max_upload_mb", 1)
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(100):  # 6.4 MB offered; the sink must stop pulling after ~1 MB
            sent.append(1)
            yield b"\0" * 65536

    with pytest.raises(accept.UploadRejected) as caught:
        accept.accept_upload(patient, "big.png", chunks())
    rejected = caught.value
    assert (rejected.code, api_errors.http_status(rejected.code), rejected.document) == (
        "error.too_large", 413, None)
    assert caught.value.numbers == {"limit_mb": 1}
    assert len(sent) <= 17
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(Document)).one() == 0
    root = storage.storage_root()
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_duplicate_upload(patient: str) -> None:
    data = page_png()
    first = accept.accept_upload(patient, "a.png", [data])
    again = accept.accept_upload(patient, "renamed.png", [data])
    assert again.duplicate and again.document.duplicate and again.document.id == first.document.id
    assert again.document.filename == "a.png"
    # Another patient with the same bytes gets their own document; the stored file is shared.
    other = make_patient("other")
    theirs = accept.accept_upload(other, "b.png", [data])
    assert not theirs.duplicate and theirs.document.id != first.document.id
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(Document)).one() == 2
    files = [p for p in storage.storage_root().rglob("*") if p.is_file()]
    assert files == [storage.path_for(first.document.sha256)]
    assert len(records.document_events(first.document.id)) == 1  # no second upload_received


def test_ocr_timeout_then_retry(patient: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "ocr_page_timeout_seconds", 0.001)
    document_id = _process(patient, page_png())
    document = _document(document_id)
    assert (document.status, document.error_code, document.failed_stage) == (
        "failed", "error.ocr_timeout", "ocr_started")
    assert storage.path_for(document.sha256).exists()
    with pytest.raises(runner.RetryConflict):
        with session_scope() as session:
            session.execute(update(Document).where(col(Document.id) == document_id)
                            .values(status="processing"))
        runner.retry_document(document_id)
    with session_scope() as session:
        session.execute(update(Document).where(col(Document.id) == document_id).values(status="failed"))

    monkeypatch.setattr(get_settings(), "ocr_page_timeout_seconds", 30.0)
    runner.retry_document(document_id)
    dispatch.wait_inline(document_id, timeout=120)
    document = _document(document_id)
    assert (document.status, document.error_code, document.failed_stage) == ("processed", None, None)
    events = records.document_events(document_id)
    assert [s.state for s in steps(events)] == ["done"] * 6
    assert _facts(document_id)


def test_time_limit(patient: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "document_time_limit_seconds", 0)
    document_id = _process(patient, page_png())
    document = _document(document_id)
    assert (document.status, document.error_code) == ("failed", "error.time_limit")
    assert _facts(document_id) == []


def _stale(document_id: str, *, status: str, attempts: int) -> None:
    with session_scope() as session:
        session.execute(update(Document).where(col(Document.id) == document_id).values(
            status=status, stage="ocr_started", attempts=attempts,
            updated_at=datetime.now(UTC) - timedelta(minutes=10)))


def test_watchdog_requeues_and_gives_up(patient: str) -> None:
    stuck = accept.accept_upload(patient, "a.png", [page_png()]).document.id
    hopeless = accept.accept_upload(patient, "b.png", [page_png("Progress note\nNo findings.")]).document.id
    fresh = accept.accept_upload(patient, "c.png", [page_png("Another note\nAll well.")]).document.id
    _stale(stuck, status="processing", attempts=1)
    _stale(hopeless, status="processing", attempts=runner.MAX_ATTEMPTS)

    acted = recovery.recover_stuck(older_than_s=60)
    assert sorted(acted) == sorted([stuck, hopeless]) and fresh not in acted
    dispatch.wait_inline(stuck, timeout=120)
    assert _document(stuck).status == "processed"
    document = _document(hopeless)
    assert (document.status, document.error_code, document.failed_stage) == (
        "failed", "error.interrupted", "ocr_started")
    assert _document(fresh).status == "received"
    assert recovery.recover_stuck(older_than_s=60) == []


def test_clean_filename() -> None:
    assert accept.clean_filename("C:\\Users\\x\\scan\x00.pdf") == "scan.pdf"
    assert accept.clean_filename("../../etc/passwd") == "passwd"
    assert accept.clean_filename("") == "upload"
    assert len(accept.clean_filename("a" * 400)) == 255


def test_store_is_atomic_and_keeps_existing(fresh_db: str, tmp_path: Path) -> None:
    temp = storage.incoming_dir() / "x.part"
    temp.write_bytes(b"one")
    sha = "a" * 64
    final = storage.store(temp, sha)
    assert final.read_bytes() == b"one" and not temp.exists()
    temp.write_bytes(b"two")
    assert storage.store(temp, sha).read_bytes() == b"one" and not temp.exists()
    with pytest.raises(ValueError):
        storage.path_for("../../etc")


# --------------------------------------------------------------------------- transient faults


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transient, "BACKOFF_S", (0.05, 0.05))


def _locked_page_write(monkeypatch: pytest.MonkeyPatch, times: int) -> list[str]:
    """The progress write of OCR pages fails ``times`` times as SQLite does when locked (a fake
    for our own retry logic only; the other writes and OCR itself are real)."""
    from sqlalchemy.exc import OperationalError

    real = runner.emit_progress
    failures: list[str] = []

    def emit(document_id: str, stage: Stage, code: str, **kwargs):  # type: ignore[no-untyped-def]
        if code == "ocr.page" and len(failures) < times:
            failures.append(code)
            raise OperationalError("UPDATE documents ...", {}, Exception("database is locked"))
        return real(document_id, stage, code, **kwargs)

    monkeypatch.setattr(runner, "emit_progress", emit)
    return failures


def test_a_transient_fault_while_reporting_ocr_progress_is_retried(
        patient: str, monkeypatch: pytest.MonkeyPatch, fast_backoff: None) -> None:
    failures = _locked_page_write(monkeypatch, times=1)
    document_id = _process(patient, page_png())
    assert failures == ["ocr.page"]
    document = _document(document_id)
    assert (document.status, document.error_code, document.attempts) == ("processed", None, 1)
    assert [e.code for e in records.document_events(document_id)].count("ocr.page") == 1


def test_a_persistent_transient_fault_leaves_the_document_for_a_later_run(
        patient: str, monkeypatch: pytest.MonkeyPatch, fast_backoff: None) -> None:
    document_id = accept.accept_upload(patient, "a.png", [page_png()]).document.id
    failures = _locked_page_write(monkeypatch, times=10)
    with pytest.raises(transient.TransientFault):
        runner.process_document(document_id, final_attempt=True)
    assert len(failures) == 1 + len(transient.BACKOFF_S)
    document = _document(document_id)
    # Not failed (no error_code, not error.ocr_failed): the queue or the watchdog runs it again.
    assert (document.status, document.error_code) == ("processing", None)
    monkeypatch.undo()
    assert runner.process_document(document_id) == "processed"
    assert _document(document_id).attempts == 2


def test_a_real_sqlite_lock_is_waited_out(fresh_db: str, fast_backoff: None,
                                          caplog: pytest.LogCaptureFixture) -> None:
    import sqlite3
    import threading

    from sqlalchemy import event

    from medupload.db import get_engine

    patient_id = make_patient()
    document_id = accept.accept_upload(patient_id, "a.png", [page_png()]).document.id
    # A short busy timeout, so the lock below surfaces as "database is locked" within the test.
    engine = get_engine()
    event.listen(engine, "connect", lambda conn, _record: conn.execute("PRAGMA busy_timeout = 100"))
    engine.dispose()
    holder = sqlite3.connect(fresh_db.removeprefix("sqlite:///"), check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    release = threading.Timer(0.4, holder.rollback)
    release.start()
    try:
        assert runner.process_document(document_id) == "processed"
    finally:
        release.join()
        holder.close()
    document = _document(document_id)
    assert (document.status, document.error_code, document.attempts) == ("processed", None, 1)
    # The lock was met (and waited out), not missed.
    assert "transient OperationalError; trying again" in caplog.text
