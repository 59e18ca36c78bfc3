"""Crash recovery at start-up (issue 8): a document whose owning process died is re-queued at
once, not after the watchdog's minutes. A real process is kill -9'ed mid-OCR here."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import docgen
import pytest
from sqlalchemy import update
from sqlmodel import col
from support import make_patient

from medupload import records
from medupload.db import session_scope
from medupload.models import Document
from medupload.pipeline import accept, dispatch, lease, recovery, runner

ROOT = Path(__file__).resolve().parent.parent
NOTE = ("PROGRESS NOTE\nDate: 2026-02-03\nDiagnosis: Essential hypertension.\n"
        "Medications: lisinopril 10 mg daily.\n")


def _row(document_id: str) -> Document:
    with session_scope() as session:
        row = session.get(Document, document_id)
        assert row is not None
        return row


def _owned(document_id: str, owner: str, *, status: str = "processing", attempts: int = 1) -> None:
    with session_scope() as session:
        session.execute(update(Document).where(col(Document.id) == document_id)
                        .values(owner=owner, status=status, stage="ocr_started", attempts=attempts))


def test_owner_liveness() -> None:
    me = lease.owner_id()
    host, pid, start = me.split(":")
    assert (host, int(pid)) == (socket.gethostname(), os.getpid()) and start
    assert lease.owner_alive(me) is True
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = f"{host}:{child.pid}:{lease._start_time(child.pid)}"
        assert lease.owner_alive(theirs) is True
        # The same pid with another start time is a reused pid: the old owner is dead.
        assert lease.owner_alive(f"{host}:{child.pid}:1") is False
    finally:
        child.kill()
        child.wait()
    assert lease.owner_alive(theirs) is False
    assert lease.owner_alive(f"{host}:{os.getpid()}:1") is False  # this pid, an earlier process
    assert lease.owner_alive(f"elsewhere.example:{child.pid}:1") is None  # cannot tell from here


def test_start_up_recovers_a_killed_process_document_at_once(fresh_db: str) -> None:
    patient = make_patient()
    scan = docgen.scanned_pdf([NOTE, NOTE, NOTE, NOTE])
    document_id = accept.accept_upload(patient, "scan.pdf", [scan]).document.id
    # Another web process (inline mode) takes the document and dies mid-OCR.
    script = ("import sys, time; from medupload.pipeline import runner; "
              "runner.confirm_upload(sys.argv[1]); time.sleep(300)")
    process = subprocess.Popen([sys.executable, "-c", script, document_id], cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        end = time.monotonic() + 120
        while not any(e.code == "ocr.page" for e in records.document_events(document_id)):
            assert time.monotonic() < end and process.poll() is None, "OCR never started"
            time.sleep(0.1)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    dead = _row(document_id)
    assert dead.status == "processing" and dead.owner is not None and f":{process.pid}:" in dead.owner
    with pytest.raises(runner.RetryConflict):  # what the patient met for minutes before
        runner.retry_document(document_id)

    started = time.monotonic()
    assert recovery.recover_orphans() == [document_id]
    assert dispatch.wait_inline(document_id, timeout=120) == "processed"
    print(f"recovered and processed {time.monotonic() - started:.1f} s after start-up")
    document = _row(document_id)
    assert (document.status, document.error_code, document.attempts) == ("processed", None, 2)
    assert recovery.recover_orphans() == []


def test_recovery_leaves_live_and_unknown_owners_and_gives_up_after_max_attempts(fresh_db: str) -> None:
    patient = make_patient()
    page = docgen.png(docgen.render_page("Progress note\nNo findings.", size=(4.0, 2.0)))
    ids = [accept.accept_upload(patient, f"{i}.png", [page + bytes([i])]).document.id for i in range(4)]
    live, elsewhere, hopeless, unowned = ids
    host = socket.gethostname()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _owned(live, f"{host}:{child.pid}:{lease._start_time(child.pid)}")
        _owned(elsewhere, "elsewhere.example:4242:1")
        _owned(hopeless, f"{host}:{os.getpid()}:1", attempts=runner.MAX_ATTEMPTS)
        with session_scope() as session:  # in flight without an owner: waiting in a durable queue
            session.execute(update(Document).where(col(Document.id) == unowned).values(status="processing"))
        assert recovery.recover_orphans() == [hopeless]
    finally:
        child.kill()
        child.wait()
    document = _row(hopeless)
    assert (document.status, document.error_code, document.failed_stage) == (
        "failed", "error.interrupted", "ocr_started")
    assert [_row(i).status for i in (live, elsewhere, unowned)] == ["processing"] * 3
