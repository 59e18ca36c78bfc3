"""/documents/[did]: one document's pages beside what the pipeline found in it.

Staff see every document and may confirm, correct, reject and add facts; a patient sees their own
documents read-only. Every handler re-reads the principal from the session cookie (through
``AuthState._principal``, the one call site) and re-checks: a patient's call to a change handler is
refused and changes nothing, whatever the page showed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import reflex as rx

from medupload import audit, records, staff_records
from medupload.auth import Principal
from medupload.pipeline import review
from medupload.progress.stages import message
from medupload.ui.review_views import KIND_LABELS, FactGroup, fact_groups
from medupload.ui.state.auth import HOME, AuthState
from medupload.ui.viewmodels import fmt_date

log = logging.getLogger(__name__)


@dataclasses.dataclass
class PageImage:
    number: int
    src: str
    testid: str
    alt: str
    figure_id: str  # scrolled to when a fact on this page is shown


@dataclasses.dataclass
class Highlight:
    """The box over a page image marking the selected fact; page 0 when there is none to show."""

    page: int = 0
    left: str = ""
    top: str = ""
    width: str = ""
    height: str = ""
    label: str = ""  # names the kind and page only: the evidence itself is next to it on screen


#: What one finding of each kind is called in the highlight's label.
_KIND_NAMES = {"condition": "Condition", "medication": "Medication", "lab": "Lab result",
               "allergy": "Allergy", "procedure": "Procedure"}


class DocumentState(AuthState):
    document_id: str = ""
    owner_id: str = ""
    filename: str = ""
    status: str = ""
    document_type: str = ""
    document_date: str = ""
    page_count: int = 0
    groups: list[FactGroup] = rx.field(default_factory=list)
    is_staff: bool = False
    editing: int = 0  # the fact being edited (0: none)
    adding: bool = False
    add_kind: str = "lab"
    concept_options: list[str] = rx.field(default_factory=list)
    reviewed: str = ""  # "Reviewed by the clinic on 01 Dec 2026", or ""
    selected: int = 0  # the fact shown on the page (0: none)
    error: str = ""
    notice: str = ""
    ready: bool = False

    @rx.var
    def pages(self) -> list[PageImage]:
        base = f"/api/v1/patients/{self.owner_id}/documents/{self.document_id}/pages"
        return [PageImage(number=n, src=f"{base}/{n}", testid=f"doc-page-{n}",
                          alt=f"Page {n} of {self.page_count}", figure_id=f"doc-page-figure-{n}")
                for n in range(1, self.page_count + 1)]

    @rx.var
    def highlight(self) -> Highlight:
        for group in self.groups:
            for fact in group.facts:
                if fact.id == self.selected and self.selected and fact.page:
                    return Highlight(page=fact.page, left=fact.box_left, top=fact.box_top,
                                     width=fact.box_width, height=fact.box_height,
                                     label=f"{_KIND_NAMES.get(fact.kind, 'Finding')} on page {fact.page}")
        return Highlight()

    @rx.var
    def back_href(self) -> str:
        return f"/staff/patients/{self.owner_id}" if self.is_staff else "/patient"

    def _route_document_id(self) -> str:
        # ``did`` is the route's dynamic argument (/documents/[did]), a var Reflex adds to the root state.
        return str(getattr(self, "did", "") or "")[:40]

    def _viewer(self) -> tuple[Principal, str] | None:
        """The principal and the document's owner, if this principal may see the document."""
        principal = self._principal()
        did = self._route_document_id() or self.document_id
        if principal is None or not did.startswith("d_"):
            return None
        owner = staff_records.document_owner(did)
        if owner is None or not principal.can_access(owner):
            return None
        return principal, owner

    @rx.event
    async def load(self) -> Any:
        principal = self._principal()
        if principal is None:
            return rx.redirect("/login")
        self.document_id = self._route_document_id()
        viewer = await asyncio.to_thread(self._viewer)
        if viewer is None:
            self._clear()
            return rx.redirect(HOME.get(principal.role, "/login"))
        principal, owner = viewer
        self.owner_id, self.is_staff = owner, principal.role == "staff"
        self.editing, self.adding, self.error, self.notice, self.selected = 0, False, "", "", 0
        await self._reload(principal)
        self.ready = True
        return None

    def _clear(self) -> None:
        self.groups, self.filename, self.page_count, self.owner_id, self.ready = [], "", 0, "", False

    async def _reload(self, principal: Principal) -> None:
        detail = await asyncio.to_thread(records.document_detail, self.owner_id, self.document_id)
        if detail is None:
            self._clear()
            return
        await asyncio.to_thread(audit.record, principal, "document.read", self.owner_id,
                                self.document_id)
        self.filename, self.status = detail.filename, detail.status
        self.document_type = (detail.document_type or "").replace("_", " ")
        self.document_date = detail.document_date or ""
        self.page_count = detail.page_count or 1
        self.groups = fact_groups(detail.facts)
        times = [f.reviewed_at for f in detail.facts if f.status != "extracted" and f.reviewed_at]
        self.reviewed = f"Reviewed by the clinic on {fmt_date(max(times))}" if times else ""

    @rx.event
    def show_fact(self, fact_id: int) -> Any:
        """Mark where the fact was read on its page and bring that page into view (anyone who may
        see the document: the facts and pages are already on their screen)."""
        fact = next((f for g in self.groups for f in g.facts if f.id == int(fact_id)), None)
        if fact is None:
            return None
        self.selected = fact.id
        if not fact.page:
            self.notice = "Location not available for this finding."
            return None
        self.notice = f"Shown on page {fact.page}."
        return rx.scroll_to(f"doc-page-figure-{fact.page}")

    # -- staff changes ----------------------------------------------------------------------
    def _staff(self) -> Principal | None:
        viewer = self._viewer()
        if viewer is None or viewer[0].role != "staff":
            return None
        return viewer[0]

    async def _change(self, fact_id: int, action: str, changes: dict[str, Any]) -> None:
        principal = await asyncio.to_thread(self._staff)
        if principal is None:
            self.error = message("auth.forbidden")
            return
        try:
            await asyncio.to_thread(review.change_fact, self.owner_id, self.document_id, int(fact_id), action,
                                    changes, principal.user_id)
        except review.ReviewError as exc:
            self.error = message(exc.code)
            return
        await asyncio.to_thread(audit.record, principal, f"fact.{action}", self.owner_id,
                                self.document_id)
        self.error, self.editing = "", 0
        self.notice = {"confirm": "Confirmed.", "reject": "Rejected.", "correct": "Saved."}[action]
        await self._reload(principal)

    @rx.event
    async def confirm(self, fact_id: int) -> None:
        await self._change(fact_id, "confirm", {})

    @rx.event
    async def reject(self, fact_id: int) -> None:
        await self._change(fact_id, "reject", {})

    @rx.event
    def start_edit(self, fact_id: int) -> None:
        if self._staff() is None:
            self.error = message("auth.forbidden")
            return
        self.editing, self.adding, self.concept_options = int(fact_id), False, []

    @rx.event
    def cancel_edit(self) -> None:
        self.editing, self.adding, self.error = 0, False, ""

    @rx.event
    async def save_edit(self, form: dict[str, Any]) -> None:
        changes = _form_changes(form)
        await self._change(self.editing, "correct", changes)

    @rx.event
    def start_add(self) -> None:
        if self._staff() is None:
            self.error = message("auth.forbidden")
            return
        self.adding, self.editing, self.concept_options = True, 0, []

    @rx.event
    def set_add_kind(self, kind: str) -> None:
        self.add_kind = kind if kind in KIND_LABELS else "lab"
        self.concept_options = []

    @rx.event
    async def save_add(self, form: dict[str, Any]) -> None:
        principal = await asyncio.to_thread(self._staff)
        if principal is None:
            self.error = message("auth.forbidden")
            return
        fields = _form_changes(form)
        try:
            await asyncio.to_thread(review.add_fact, self.owner_id, self.document_id, self.add_kind, fields,
                                    principal.user_id)
        except review.ReviewError as exc:
            self.error = message(exc.code)
            return
        await asyncio.to_thread(audit.record, principal, "fact.add", self.owner_id, self.document_id)
        self.adding, self.error, self.notice = False, "", "Added."
        await self._reload(principal)

    @rx.event
    def search_concepts(self, query: str) -> None:
        """The concept picker's suggestions, for the fact being edited or the kind being added."""
        if self._staff() is None:
            return
        kind = self.add_kind if self.adding else next(
            (g.kind for g in self.groups for f in g.facts if f.id == self.editing), "lab")
        self.concept_options = [c.concept for c in review.search_concepts(kind, query[:80], 12)]


def _form_changes(form: dict[str, Any]) -> dict[str, Any]:
    """Form fields to a change: text fields as given (empty clears), checkboxes as booleans."""
    changes: dict[str, Any] = {}
    for name in ("concept", "value", "unit", "date"):
        if name in form:
            text = str(form[name]).strip()
            if name == "concept" and not text:
                continue  # an empty concept box keeps the concept
            changes[name] = text
    for flag in ("negated", "historical", "family"):
        changes[flag] = str(form.get(flag, "")).lower() in ("on", "true", "1")
    return changes
