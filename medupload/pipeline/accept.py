"""Accepting an upload: receive the bytes (size-limited), store them by sha256, dedupe, create
the Document row and emit ``upload_received``. Processing starts elsewhere (``runner.confirm_upload``).

Intake refusals keep what they can: too large stores nothing; unsupported or unreadable files
keep the raw file and a failed document, so the patient sees why and can retry.

Acting for a user, these functions write the audit entry (accepted, duplicate or refused) for
the REST route and the Reflex page alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from medupload import audit
from medupload.audit import Actor
from medupload.db import session_scope
from medupload.models import Document
from medupload.pipeline import storage
from medupload.pipeline.intake import IntakeError, SizeLimitedSink, inspect
from medupload.progress.emitter import emit_progress
from medupload.progress.stages import Stage
from medupload.schemas import DocumentOut
from medupload.settings import get_settings

log = logging.getLogger(__name__)


class UploadRejected(Exception):
    """Intake refused an upload. ``document`` is the kept (failed) document, or None when nothing
    was stored (too large). ``code`` is a catalogue code, never exception text."""

    def __init__(self, code: str, numbers: dict[str, int], document: DocumentOut | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.numbers = numbers
        self.document = document


@dataclass(frozen=True)
class Accepted:
    document: DocumentOut
    duplicate: bool


def clean_filename(filename: str | None) -> str:
    """The base name, without control characters or path parts, at most 255 characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return (name or "upload")[:255]


def receive(chunks: Iterable[bytes]) -> tuple[Path, str, int]:
    """Stream chunks into a size-limited temp file; returns (temp_path, sha256, size)."""
    sink = SizeLimitedSink(storage.incoming_dir(), get_settings().max_upload_bytes)
    with sink:
        try:
            for chunk in chunks:
                sink.write(chunk)
        except IntakeError as exc:
            raise UploadRejected(exc.code, exc.numbers) from None
        return sink.finish()


async def receive_async(chunks: AsyncIterator[bytes]) -> tuple[Path, str, int]:
    """``receive`` for an async byte stream (the REST route): the disk writes run in a thread."""
    sink = await asyncio.to_thread(SizeLimitedSink, storage.incoming_dir(), get_settings().max_upload_bytes)
    with sink:
        try:
            async for chunk in chunks:
                if chunk:
                    await asyncio.to_thread(sink.write, chunk)
        except IntakeError as exc:
            raise UploadRejected(exc.code, exc.numbers) from None
        return await asyncio.to_thread(sink.finish)


def accept_upload(patient_id: str, filename: str, chunks: Iterable[bytes], *,
                  actor: Actor | None = None) -> Accepted:
    """Receive, store, dedupe, create the row and emit ``upload_received``; audited for ``actor``.

    Raises UploadRejected: too large with nothing stored, or unsupported/unreadable with the raw
    file and a failed document kept. Does not start processing: call ``runner.confirm_upload``
    for a new document.
    """
    try:
        temp_path, sha256, size = receive(chunks)
    except UploadRejected:
        audit.record(actor, "document.upload_refused", patient_id)
        raise
    return register_upload(patient_id, filename, temp_path, sha256, size, actor=actor)


async def accept_upload_async(patient_id: str, chunks: AsyncIterator[bytes], filename: Callable[[], str], *,
                              actor: Actor | None = None) -> Accepted:
    """``accept_upload`` for an async byte stream (the REST route). ``filename`` is asked for once
    the bytes are in: a multipart body names its file as it streams."""
    try:
        temp_path, sha256, size = await receive_async(chunks)
    except UploadRejected:
        await asyncio.to_thread(audit.record, actor, "document.upload_refused", patient_id)
        raise
    return await asyncio.to_thread(register_upload, patient_id, filename(), temp_path, sha256, size,
                                   actor=actor)


def refuse_declared_size(patient_id: str, declared_bytes: int, overhead: int, *,
                         actor: Actor | None = None) -> None:
    """Refuse (and audit) an upload whose declared length alone is over the limit, before a byte
    is read. ``overhead`` allows for the framing around the file (multipart boundaries)."""
    max_bytes = get_settings().max_upload_bytes
    if declared_bytes > max_bytes + overhead:
        audit.record(actor, "document.upload_refused", patient_id)
        raise UploadRejected("error.too_large", {"limit_mb": max(1, max_bytes // (1024 * 1024))})


def _find_duplicate(patient_id: str, sha256: str) -> Document | None:
    with session_scope() as session:
        return session.exec(
            select(Document).where(Document.patient_id == patient_id, Document.sha256 == sha256)
        ).first()


def register_upload(patient_id: str, filename: str, temp_path: Path, sha256: str, size: int, *,
                    actor: Actor | None = None) -> Accepted:
    """The part of ``accept_upload`` after the bytes are in a temp file."""
    try:
        accepted = _register(patient_id, filename, temp_path, sha256, size)
    except UploadRejected as exc:
        audit.record(actor, "document.upload_refused", patient_id, exc.document.id if exc.document else None)
        raise
    action = "document.upload_duplicate" if accepted.duplicate else "document.upload"
    audit.record(actor, action, patient_id, accepted.document.id)
    return accepted


def _register(patient_id: str, filename: str, temp_path: Path, sha256: str, size: int) -> Accepted:
    existing = _find_duplicate(patient_id, sha256)
    if existing is not None:
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()
        return Accepted(DocumentOut.from_row(existing, duplicate=True), duplicate=True)

    final = storage.store(temp_path, sha256)
    refusal: IntakeError | None = None
    try:
        inspection = inspect(final)
        content_type, page_count = inspection.content_type, inspection.page_count
    except IntakeError as exc:
        refusal, content_type, page_count = exc, "application/octet-stream", None

    document = Document(
        patient_id=patient_id, filename=clean_filename(filename), content_type=content_type, size=size,
        sha256=sha256, storage_path=str(final.relative_to(storage.storage_root())), page_count=page_count,
    )
    try:
        with session_scope() as session:
            session.add(document)
    except IntegrityError:
        # The same bytes arrived twice at once: the other request created the row first.
        existing = _find_duplicate(patient_id, sha256)
        if existing is None:
            raise
        return Accepted(DocumentOut.from_row(existing, duplicate=True), duplicate=True)

    emit_progress(document.id, Stage.UPLOAD_RECEIVED, "upload.received")
    if refusal is not None:
        emit_progress(document.id, Stage.FAILED, refusal.code, numbers=refusal.numbers,
                      failed_stage=Stage.OCR_STARTED)
        log.info("document %s refused at intake: %s", document.id, refusal.code)
        raise UploadRejected(refusal.code, refusal.numbers, document_out(document.id))
    return Accepted(document_out(document.id), duplicate=False)


def document_out(document_id: str) -> DocumentOut:
    with session_scope() as session:
        row = session.get(Document, document_id)
        assert row is not None
        return DocumentOut.from_row(row)
