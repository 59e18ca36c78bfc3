"""A document with no readable text ends ``failed`` with ``error.no_text`` (never "processed"
with nothing in it), the file is kept, the message says what to do, and Retry runs again.
Inline runner with real SQLite/PostgreSQL, Redis and tesseract."""

from __future__ import annotations

import docgen
import pytest
from PIL import Image
from support import make_patient

from medupload import records
from medupload.db import session_scope
from medupload.models import Document
from medupload.pipeline import accept, dispatch, runner, storage
from medupload.progress.stages import MESSAGES, Stage, message


@pytest.fixture
def patient(any_db: str) -> str:
    return make_patient()


def _document(document_id: str) -> Document:
    with session_scope() as session:
        row = session.get(Document, document_id)
        assert row is not None
        return row


def test_blank_upload_fails_with_no_text_keeps_the_file_and_retries(patient: str) -> None:
    data = docgen.png(Image.new("L", (1700, 2200), 255))  # a blank sheet, scanned
    accepted = accept.accept_upload(patient, "scan.png", [data])
    document_id = accepted.document.id
    runner.confirm_upload(document_id)
    dispatch.wait_inline(document_id, timeout=120)

    document = _document(document_id)
    assert (document.status, document.error_code, document.failed_stage) == (
        "failed", "error.no_text", Stage.OCR_STARTED.value)
    assert storage.path_for(document.sha256).read_bytes() == data
    failed = [e for e in records.document_events(document_id) if e.stage == Stage.FAILED]
    assert [(e.code, e.detail) for e in failed] == [("error.no_text", message("error.no_text"))]
    assert "upright" in MESSAGES["error.no_text"] and "Retry" in MESSAGES["error.no_text"]

    runner.retry_document(document_id)
    dispatch.wait_inline(document_id, timeout=120)
    document = _document(document_id)
    assert (document.status, document.error_code, document.attempts) == ("failed", "error.no_text", 2)
    assert storage.path_for(document.sha256).exists()
