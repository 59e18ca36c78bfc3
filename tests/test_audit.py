"""Audit from one place (issue 8): the pipeline functions that act for a user write the entry, so
the Reflex page (which calls them directly) and the REST routes leave the same trail, denied
attempts included. Real SQLite/PostgreSQL; ids only in every row."""

from __future__ import annotations

from collections.abc import Iterator

import docgen
import pytest
from sqlalchemy import update
from sqlmodel import col, select
from support import PHI_CANARY, make_patient, make_user

from medupload import audit
from medupload.auth import Principal
from medupload.db import session_scope
from medupload.models import AuditEntry, Document
from medupload.pipeline import accept, dispatch, runner
from medupload.settings import get_settings


@pytest.fixture
def patient(any_db: str) -> Iterator[tuple[str, Principal]]:
    patient_id = make_patient()
    user = make_user("patient", patient_id)
    yield patient_id, Principal(user_id=user.id, role="patient", patient_id=patient_id)


def _entries(patient_id: str) -> list[tuple[str | None, str, str | None]]:
    with session_scope() as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.patient_id == patient_id)
                            .order_by(col(AuditEntry.id))).all()
        return [(row.user_id, row.action, row.document_id) for row in rows]


def _page() -> bytes:
    return docgen.png(docgen.render_page("Progress note\nNo findings.", size=(4.0, 2.0)))


def test_upload_duplicate_and_refusals_each_leave_one_entry(
        patient: tuple[str, Principal], monkeypatch: pytest.MonkeyPatch) -> None:
    patient_id, me = patient
    data = _page()
    first = accept.accept_upload(patient_id, f"{PHI_CANARY}.png", [data], actor=me).document.id
    assert _entries(patient_id) == [(me.user_id, "document.upload", first)]

    accept.accept_upload(patient_id, "again.png", [data], actor=me)
    with pytest.raises(accept.UploadRejected) as refused:
        accept.accept_upload(patient_id, "x.pdf", [docgen.corrupt_pdf()], actor=me)
    kept = refused.value.document
    assert kept is not None
    monkeypatch.setattr(get_settings(), "max_upload_mb", 1)
    with pytest.raises(accept.UploadRejected):
        accept.accept_upload(patient_id, "big.png", [b"\0" * (2 << 20)], actor=me)
    with pytest.raises(accept.UploadRejected):
        accept.refuse_declared_size(patient_id, 3 << 20, 0, actor=me)

    assert _entries(patient_id) == [
        (me.user_id, "document.upload", first),
        (me.user_id, "document.upload_duplicate", first),
        (me.user_id, "document.upload_refused", kept.id),
        (me.user_id, "document.upload_refused", None),  # too large: nothing was stored
        (me.user_id, "document.upload_refused", None),  # declared too large: nothing was read
    ]
    # Ids and fixed action codes only: the filename (PHI) is in no audit row.
    assert PHI_CANARY not in repr(_entries(patient_id))


def test_retry_and_refused_retry_each_leave_one_entry(patient: tuple[str, Principal]) -> None:
    patient_id, me = patient
    with pytest.raises(accept.UploadRejected) as refused:
        accept.accept_upload(patient_id, "x.pdf", [docgen.corrupt_pdf()], actor=me)
    assert refused.value.document is not None
    document_id = refused.value.document.id

    runner.retry_document(document_id, actor=me)
    dispatch.wait_inline(document_id, timeout=60)
    with session_scope() as session:
        session.execute(update(Document).where(col(Document.id) == document_id).values(status="processing"))
    with pytest.raises(runner.RetryConflict):
        runner.retry_document(document_id, actor=me)

    assert [action for _, action, _ in _entries(patient_id)] == [
        "document.upload_refused", "document.retry", "document.retry_refused"]
    assert {(user, doc) for user, _, doc in _entries(patient_id)} == {(me.user_id, document_id)}


def test_system_actions_are_audited_without_a_user(patient: tuple[str, Principal]) -> None:
    patient_id, _ = patient
    document_id = accept.accept_upload(patient_id, "seed.png", [_page()]).document.id
    assert _entries(patient_id) == [(None, "document.upload", document_id)]


def test_trail_is_newest_first_and_paged(patient: tuple[str, Principal]) -> None:
    patient_id, me = patient
    for index in range(5):
        audit.record(me, f"test.action_{index}", patient_id)
    audit.record(me, "test.other_patient", make_patient("other"))
    trail = audit.trail(patient_id)
    assert [entry.action for entry in trail] == [f"test.action_{i}" for i in (4, 3, 2, 1, 0)]
    paged = audit.trail(patient_id, limit=2, offset=1)
    assert [e.action for e in paged] == ["test.action_3", "test.action_2"]
    assert audit.trail(patient_id, offset=5) == []
