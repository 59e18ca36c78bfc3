"""Queue mode: real Dramatiq workers (two independent ``python -m medupload worker`` processes)
against real Redis and SQLite. A worker kill -9'ed mid-OCR must not lose or duplicate anything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import docgen
import pytest
from sqlmodel import select
from support import make_patient

from medupload import records
from medupload.db import session_scope
from medupload.models import Document, Fact, ProgramEnrollment
from medupload.pipeline import accept, lease, runner
from medupload.redis_client import sync_redis
from medupload.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
PAGE = ("DISCHARGE SUMMARY\nDate: 2026-02-03\nDiagnosis: Type 2 diabetes mellitus. Essential hypertension.\n"
        "Hemoglobin A1c 6.9 %\nMedications: metformin 1000 mg twice daily, lisinopril 10 mg daily.\n")


def _start_worker(log_path: Path) -> subprocess.Popen[bytes]:
    # Its own process group, so teardown can stop the master and its forked worker together.
    return subprocess.Popen(
        [sys.executable, "-m", "medupload", "worker", "--processes", "1", "--threads", "1"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def queue_env(fresh_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    monkeypatch.setenv("MEDUPLOAD_PIPELINE_MODE", "queue")
    monkeypatch.setattr(get_settings(), "pipeline_mode", "queue")
    patient = make_patient()
    with session_scope() as session:
        session.add(ProgramEnrollment(patient_id=patient, program="diabetes-annual"))
    logs = tmp_path / "workers.log"
    workers = [_start_worker(logs), _start_worker(logs)]
    yield patient, logs
    for worker in workers:
        _stop(worker)


def _status(document_id: str) -> Document:
    with session_scope() as session:
        row = session.get(Document, document_id)
        assert row is not None
        return row


def _wait(predicate, timeout: float, what: str, logs: Path) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen; worker log:\n{logs.read_text()[-3000:]}")


@pytest.mark.slow
def test_queue_processes_and_survives_kill_9(queue_env: tuple[str, Path]) -> None:
    patient, logs = queue_env

    # 1. A document goes through a worker.
    small = docgen.png(docgen.render_page(PAGE, size=(8.5, 4.0)))
    first = accept.accept_upload(patient, "one.png", [small]).document.id
    runner.confirm_upload(first)
    _wait(lambda: _status(first).status in ("processed", "failed"), 120, "first document", logs)
    assert _status(first).status == "processed"

    # 2. A four-page scan; kill -9 the worker process that holds it once OCR is under way.
    scan = docgen.scanned_pdf([PAGE, PAGE.replace("2026-02-03", "2026-02-04"), PAGE, PAGE])
    second = accept.accept_upload(patient, "scan.pdf", [scan]).document.id
    runner.confirm_upload(second)
    def page_2_started() -> bool:
        return any(e.code == "ocr.page" and "page 2 " in e.detail for e in records.document_events(second))

    _wait(page_2_started, 120, "OCR of page 2", logs)
    holder = sync_redis().get(lease.lease_key(second))
    assert holder is not None
    pid = int(holder.split(":")[0])
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    _wait(lambda: _status(second).status in ("processed", "failed"), 90, "re-delivery after kill -9", logs)
    print(f"processed {time.monotonic() - killed_at:.1f} s after kill -9")
    document = _status(second)
    assert (document.status, document.error_code, document.page_count) == ("processed", None, 4)
    assert document.attempts == 2

    with session_scope() as session:
        facts = session.exec(select(Fact).where(Fact.document_id == second)).all()
    keys = Counter((f.kind, f.concept, f.start, f.end) for f in facts)
    assert facts and max(keys.values()) == 1  # nothing duplicated by the second run
    codes = [e.code for e in records.document_events(second)]
    assert codes.count("ocr.started") == 2 and codes.count("matching.done") == 1
    # Both documents' facts count toward the requirements.
    assert any(r.state == "satisfied" for r in records.requirement_status(patient))
