"""/staff/patients/[pid]: one patient for staff — who they are, their documents, the requirement
checklist with its evidence, their open review items and the audit trail of their record.

Staff only: every handler re-reads the principal from the session cookie. The page follows the
patient's stream, so a change made elsewhere (another member of staff, a finished upload) shows
without a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import reflex as rx

from medupload import audit, records, staff_records
from medupload.ui import live
from medupload.ui.review_views import AuditView, ReviewItemView, audit_view, review_item_view
from medupload.ui.state.auth import AuthState
from medupload.ui.viewmodels import REQUIREMENT_LABELS, STATUS_LABELS, fmt_date


@dataclasses.dataclass
class StaffRequirement:
    id: str
    testid: str
    title: str
    state: str
    state_label: str
    evidence: str  # "hemoglobin a1c 7.2 % on 15 Nov 2026" or ""
    document_id: str


@dataclasses.dataclass
class StaffDocument:
    id: str
    testid: str
    filename: str
    status: str
    status_label: str
    uploaded: str
    document_type: str


def _requirement(row: records.RequirementOut) -> StaffRequirement:
    evidence = row.evidence or {}
    parts = [str(evidence.get(k)) for k in ("concept", "value", "unit") if evidence.get(k)]
    when = row.evidence_date or evidence.get("date")
    text = " ".join(parts) + (f" on {fmt_date(str(when))}" if when else "")
    return StaffRequirement(id=row.requirement_id, testid=f"staff-requirement-{row.requirement_id}",
                            title=row.title, state=row.state,
                            state_label=REQUIREMENT_LABELS.get(row.state, row.state),
                            evidence=text.strip(), document_id=row.document_id or "")


class StaffPatientState(AuthState):
    shown_id: str = ""  # the patient on the page (the route's ``pid``, once checked)
    name: str = ""
    dob: str = ""
    mrn: str = ""
    documents: list[StaffDocument] = rx.field(default_factory=list)
    checklist: list[StaffRequirement] = rx.field(default_factory=list)
    review_items: list[ReviewItemView] = rx.field(default_factory=list)
    audit_entries: list[AuditView] = rx.field(default_factory=list)
    ready: bool = False

    def _staff_id(self) -> str | None:
        principal = self._principal()
        return principal.user_id if principal is not None and principal.role == "staff" else None

    @rx.event
    async def load(self) -> Any:
        principal = self._admit("staff")
        if principal is None:
            self.ready = False
            return self._elsewhere()
        # ``pid`` is the route's dynamic argument (/staff/patients/[pid]), a var on the root state.
        self.shown_id = str(getattr(self, "pid", "") or "")[:40]
        found = await asyncio.to_thread(staff_records.patient, self.shown_id)
        if found is None:
            return rx.redirect("/staff")
        self.name, self.mrn = found.display_name, found.mrn or ""
        self.dob = found.date_of_birth.strftime("%d %b %Y") if found.date_of_birth else ""
        await asyncio.to_thread(audit.record, principal, "patient.read", self.shown_id)
        await self._reload()
        self.ready = True
        return StaffPatientState.follow

    async def _reload(self) -> None:
        documents, checklist, queue, trail = await asyncio.to_thread(_snapshot, self.shown_id)
        self.documents, self.checklist = documents, checklist
        self.review_items, self.audit_entries = queue, trail

    @rx.event(background=True)
    async def follow(self) -> None:
        async with self:
            if self._staff_id() is None or not self.shown_id:
                return
            pid, token = self.shown_id, self.router.session.client_token
        live.claim(token)
        try:
            async with contextlib.aclosing(live.follow(token, pid)) as items:
                async for item in items:
                    if isinstance(item, live.Refresh) or getattr(item, "kind", "") in (
                            "done", "requirements_update", "document_update"):
                        snapshot = await asyncio.to_thread(_snapshot, pid)
                        async with self:
                            if self._staff_id() is None or self.shown_id != pid:
                                return
                            self.documents, self.checklist, self.review_items, self.audit_entries = snapshot
        finally:
            live.release(token)


def _snapshot(pid: str) -> tuple[list[StaffDocument], list[StaffRequirement], list[ReviewItemView],
                                  list[AuditView]]:
    documents = [StaffDocument(id=d.id, testid=f"staff-patient-document-{d.id}", filename=d.filename,
                               status=d.status, status_label=STATUS_LABELS.get(d.status, d.status),
                               uploaded=fmt_date(d.created_at),
                               document_type=(d.document_type or "").replace("_", " "))
                 for d in records.list_documents(pid)]
    checklist = [_requirement(r) for r in records.requirement_status(pid)]
    queue = [review_item_view(i) for i in staff_records.review_queue(limit=100, patient_id=pid).items]
    trail = [audit_view(a) for a in staff_records.audit_trail(pid, limit=50)]
    return documents, checklist, queue, trail
