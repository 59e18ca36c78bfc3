"""emit_progress(): DB row and document state, Redis stream + publish, Redis down, Langfuse spans."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator

import pytest
from langfuse import Langfuse
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlmodel import col, select, update
from support import PHI_CANARY, make_document, make_patient, reset_caches

from medupload.db import session_scope
from medupload.models import Document, ProgressEventRow
from medupload.progress import emitter, tracing
from medupload.progress.emitter import emit_progress, emit_progress_async, stream_name
from medupload.progress.stages import Stage
from medupload.redis_client import sync_redis


@pytest.fixture
def doc(any_db: str) -> Iterator[tuple[str, str]]:
    tracing.set_langfuse(None)
    patient_id = make_patient()
    document_id = make_document(patient_id)
    yield patient_id, document_id
    sync_redis().delete(stream_name(patient_id))
    tracing.reset_langfuse()


def _document(document_id: str) -> Document:
    with session_scope() as session:
        row = session.get(Document, document_id)
        assert row is not None
        return row


def test_db_row_stage_status_and_seq(doc: tuple[str, str]) -> None:
    patient_id, document_id = doc
    first = emit_progress(document_id, Stage.UPLOAD_RECEIVED, "upload.received")
    assert first is not None and first.seq == 1 and first.fraction == 0.05
    assert _document(document_id).status == "received"
    assert _document(document_id).started_at is not None

    ocr = emit_progress(document_id, Stage.OCR_COMPLETE, "ocr.done", numbers={"pages": 2})
    assert ocr is not None and ocr.seq == 2 and ocr.detail == "Text read from 2 pages"
    row = _document(document_id)
    assert (row.status, row.stage, row.last_seq) == ("processing", "ocr_complete", 2)

    failed = emit_progress(document_id, Stage.FAILED, "error.analysis_failed",
                           failed_stage=Stage.ANALYSIS_STARTED)
    assert failed is not None and failed.failed_stage is Stage.ANALYSIS_STARTED
    row = _document(document_id)
    assert (row.status, row.error_code, row.failed_stage) == ("failed", "error.analysis_failed",
                                                              "analysis_started")
    # A retry starts a new attempt and clears the failure.
    emit_progress(document_id, Stage.UPLOAD_RECEIVED, "retry.requested")
    emit_progress(document_id, Stage.MATCHING_COMPLETE, "matching.done",
                  numbers={"satisfied": 1, "requirements": 3})
    row = _document(document_id)
    assert (row.status, row.error_code, row.failed_stage, row.last_seq) == ("processed", None, None, 5)
    with session_scope() as session:
        rows = session.exec(select(ProgressEventRow).where(ProgressEventRow.document_id == document_id)
                            .order_by(ProgressEventRow.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert [r.stage for r in rows] == ["upload_received", "ocr_complete", "failed", "upload_received",
                                       "matching_complete"]
    assert all(r.patient_id == patient_id for r in rows)
    assert emit_progress("d_missing", Stage.OCR_STARTED, "ocr.started") is None


def test_concurrent_emitters_never_share_a_seq(doc: tuple[str, str]) -> None:
    _, document_id = doc
    seqs: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            event = emit_progress(document_id, Stage.OCR_STARTED, "ocr.page", numbers={"page": 1, "pages": 9})
            assert event is not None
            with lock:
                seqs.append(event.seq)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 41))


def test_redis_stream_entries_and_publish(doc: tuple[str, str]) -> None:
    patient_id, document_id = doc
    client = sync_redis()
    pubsub = client.pubsub()
    pubsub.subscribe(stream_name(patient_id))
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"  # type: ignore[index]

    emit_progress(document_id, Stage.UPLOAD_RECEIVED, "upload.received")
    emit_progress(document_id, Stage.OCR_STARTED, "ocr.started")  # no status change
    emit_progress(document_id, Stage.MATCHING_COMPLETE, "matching.done")

    entries = client.xrange(stream_name(patient_id))
    kinds = [fields["kind"] for _, fields in entries]
    # upload_received: received -> received (new doc default) is no change.
    assert kinds == ["progress", "progress", "document_update", "progress", "document_update", "done"]
    assert 0 < client.ttl(stream_name(patient_id)) <= 3600
    done = json.loads(entries[-1][1]["data"])
    assert done == {"document_id": document_id, "status": "processed"}
    update = json.loads(entries[-2][1]["data"])
    assert update["status"] == "processed" and update["id"] == document_id

    published = []
    for _ in range(3):
        msg = pubsub.get_message(timeout=2)
        assert msg is not None and msg["type"] == "message"
        published.extend(json.loads(msg["data"]))
    pubsub.close()
    # The publish carries the same ids and payloads as the stream, in stream order.
    assert [(i, k) for i, k, _ in published] == [(i, f["kind"]) for i, f in entries]
    assert [json.dumps(d, sort_keys=True) for _, _, d in published] == [
        json.dumps(json.loads(f["data"]), sort_keys=True) for _, f in entries]
    for _, fields in entries:
        if fields["kind"] == "progress":
            assert PHI_CANARY not in fields["data"]


def test_a_retry_tells_watchers_the_row_changed(doc: tuple[str, str]) -> None:
    """A retry sets the failed row to ``received`` itself, then emits upload_received: watchers
    get a document_update with the cleared row (else they keep showing "failed")."""
    patient_id, document_id = doc
    client = sync_redis()
    emit_progress(document_id, Stage.UPLOAD_RECEIVED, "upload.received")
    emit_progress(document_id, Stage.FAILED, "error.unreadable", failed_stage=Stage.OCR_STARTED)
    with session_scope() as session:  # what runner.retry_document's claim does
        session.execute(update(Document).where(col(Document.id) == document_id)
                        .values(status="received", error_code=None, failed_stage=None))
    before = len(client.xrange(stream_name(patient_id)))
    emit_progress(document_id, Stage.UPLOAD_RECEIVED, "retry.requested", row_changed=True)
    entries = client.xrange(stream_name(patient_id))[before:]
    assert [fields["kind"] for _, fields in entries] == ["progress", "document_update"]
    row = json.loads(entries[1][1]["data"])
    assert (row["status"], row["error_code"]) == ("received", None)


def test_redis_down_does_not_raise(doc: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
                                   caplog: pytest.LogCaptureFixture) -> None:
    _, document_id = doc
    monkeypatch.setattr(emitter, "_warn", emitter._RateLimitedWarning())
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING):
        patch.setenv("MEDUPLOAD_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
        reset_caches()
        for _ in range(3):
            assert emit_progress(document_id, Stage.OCR_STARTED, "ocr.started") is not None
    reset_caches()
    assert _document(document_id).last_seq == 3
    warnings = [r for r in caplog.records if r.name == emitter.__name__]
    assert len(warnings) == 1  # rate-limited
    assert PHI_CANARY not in caplog.text and document_id not in caplog.text


async def test_async_variant(doc: tuple[str, str]) -> None:
    _, document_id = doc
    event = await emit_progress_async(document_id, Stage.OCR_STARTED, "ocr.started")
    assert event is not None and event.seq == 1


def test_langfuse_spans(doc: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, document_id = doc
    other = make_document(doc[0], filename=f"second {PHI_CANARY}.png")
    exporter = InMemorySpanExporter()
    client = tracing.make_langfuse(f"pk-lf-test-{uuid.uuid4().hex}", "sk-lf-test", "http://127.0.0.1:1",
                                   span_exporter=exporter)
    tracing.set_langfuse(client)
    flushes: list[int] = []
    real_flush = client.flush
    monkeypatch.setattr(client, "flush", lambda: flushes.append(1))

    emit_progress(document_id, Stage.UPLOAD_RECEIVED, "upload.received")
    emit_progress(document_id, Stage.OCR_COMPLETE, "ocr.done", numbers={"pages": 3})
    emit_progress(other, Stage.FAILED, "error.unsupported_type", failed_stage=Stage.UPLOAD_RECEIVED)
    assert flushes == []  # the emit path never blocks on export
    real_flush()

    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["progress.upload_received", "progress.ocr_complete", "progress.failed"]
    first = spans[0].attributes or {}
    assert first["medupload.document_id"] == document_id
    assert first["medupload.stage"] == "upload_received"
    assert first["medupload.code"] == "upload.received"
    assert first["medupload.seq"] == 1
    assert isinstance(first["medupload.elapsed_ms"], int)
    assert (spans[1].attributes or {})["medupload.seq"] == 2
    trace_ids = [format(s.context.trace_id, "032x") for s in spans]
    assert trace_ids[0] == trace_ids[1] == tracing.document_trace_id(document_id)
    assert trace_ids[2] == tracing.document_trace_id(other) != trace_ids[0]
    assert tracing.document_trace_id(document_id) == Langfuse.create_trace_id(seed=document_id)
    for span in spans:
        dumped = span.to_json()
        assert PHI_CANARY not in dumped and "Zebulon" not in dumped
    client.shutdown()


def test_mask_is_a_safety_net_for_span_data() -> None:
    """Even if someone put document text in a span, the client's mask keeps it out of the export."""
    exporter = InMemorySpanExporter()
    client = tracing.make_langfuse(f"pk-lf-test-{uuid.uuid4().hex}", "sk-lf-test", "http://127.0.0.1:1",
                                   span_exporter=exporter)
    span = client.start_observation(
        name="progress.ocr_complete",
        metadata={"document_id": "d_0123456789abcdef", "code": "ocr.done", "seq": 3,
                  "leak": f"{PHI_CANARY} HbA1c 7.2 %"},
        input={"text": f"Patient {PHI_CANARY}"},
    )
    span.end()
    client.flush()
    (exported,) = exporter.get_finished_spans()
    dumped = exported.to_json()
    assert PHI_CANARY not in dumped and "HbA1c" not in dumped
    assert "d_0123456789abcdef" in dumped and "ocr.done" in dumped and tracing.MASKED in dumped
    assert tracing.mask_phi(data={"n": 2, "ok": True, "stage": "ocr_started", "x": "Jane Doe"}) == {
        "n": 2, "ok": True, "stage": "ocr_started", "x": tracing.MASKED}
    client.shutdown()
