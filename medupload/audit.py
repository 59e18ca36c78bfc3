"""The audit seam: who read or changed which patient's record. Ids and an action name only, never
PHI. The Reflex pages call it directly; the REST API goes through ``api.documents._audit``, which
writes the same row (the lead may point that helper here so there is one writer)."""

from __future__ import annotations

from medupload.db import session_scope
from medupload.models import AuditEntry


def record(user_id: str | None, action: str, patient_id: str | None = None,
           document_id: str | None = None) -> None:
    with session_scope() as session:
        session.add(AuditEntry(user_id=user_id, action=action, patient_id=patient_id,
                               document_id=document_id))
