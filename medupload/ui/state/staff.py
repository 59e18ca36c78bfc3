"""The staff dashboard: every patient's documents live (one server-side page: search by name, MRN
or id, status filter, paging, counts by status), failures with retry, the review queue, requirement
completion per patient, and stage-duration percentiles (the same numbers as the stats API)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from medupload import staff_records
from medupload.auth import Principal
from medupload.progress.stages import DocumentStatus
from medupload.ui import data, live
from medupload.ui.review_views import PatientView, ReviewItemView, patient_view, review_item_view
from medupload.ui.state.auth import AuthState
from medupload.ui.viewmodels import STATUS_LABELS, StaffRow, staff_row

log = logging.getLogger(__name__)

STATUS_FILTERS: list[str] = ["all", "in_flight", *(status.value for status in DocumentStatus)]
STATUS_FILTER_LABELS: dict[str, str] = {"all": "All", "in_flight": "In flight", **STATUS_LABELS}
PAGE_SIZE = 50
# Requirement and stats refreshes are DB aggregates: at most this often, however busy the clinic.
AGGREGATE_REFRESH_SECONDS = 2.0


@dataclasses.dataclass
class StatusCount:
    key: str
    label: str
    count: int


class StaffState(AuthState):
    # One server-side page of documents (search, status filter and paging happen in the query).
    documents: list[dict[str, Any]] = rx.field(default_factory=list)
    failed_documents: list[dict[str, Any]] = rx.field(default_factory=list)
    latest: dict[str, dict[str, Any]] = rx.field(default_factory=dict)
    status_filter: str = "all"
    patient_filter: str = ""  # name, MRN or patient id
    page: int = 0
    total: int = 0
    counts: dict[str, int] = rx.field(default_factory=dict)
    patients: list[PatientView] = rx.field(default_factory=list)
    patient_total: int = 0
    patient_page: int = 0
    review_items: list[ReviewItemView] = rx.field(default_factory=list)
    review_total: int = 0
    # Plain dicts: recharts takes a list of records.
    stats: list[dict[str, Any]] = rx.field(default_factory=list)
    connection: str = "connecting"
    ready: bool = False
    tick: int = 0

    @rx.var
    def rows(self) -> list[StaffRow]:
        now = datetime.now(UTC)
        _ = self.tick  # recompute elapsed times on the tick
        return [staff_row(doc, self.latest.get(doc["id"]), now) for doc in self.documents]

    @rx.var
    def failed_rows(self) -> list[StaffRow]:
        now = datetime.now(UTC)
        return [staff_row(d, self.latest.get(d["id"]), now) for d in self.failed_documents]

    @rx.var
    def page_label(self) -> str:
        if not self.total:
            return "No documents"
        first = self.page * PAGE_SIZE + 1
        return f"{first}–{min(self.total, first + PAGE_SIZE - 1)} of {self.total}"

    @rx.var
    def has_next(self) -> bool:
        return (self.page + 1) * PAGE_SIZE < self.total

    @rx.var
    def patient_page_label(self) -> str:
        if not self.patient_total:
            return "No patients"
        first = self.patient_page * PAGE_SIZE + 1
        return f"{first}–{min(self.patient_total, first + PAGE_SIZE - 1)} of {self.patient_total}"

    @rx.var
    def patient_has_next(self) -> bool:
        return (self.patient_page + 1) * PAGE_SIZE < self.patient_total

    @rx.var
    def status_counts(self) -> list[StatusCount]:
        return [StatusCount(key=s, label=STATUS_FILTER_LABELS[s], count=int(self.counts.get(s, 0)))
                for s in STATUS_FILTERS]

    @rx.var
    def stats_documents(self) -> int:
        """How many processed documents the percentiles cover (the "total" row's count)."""
        return max((int(s.get("count", 0)) for s in self.stats if s.get("stage") == "total"), default=0)

    @rx.var
    def in_flight_count(self) -> int:
        return int(self.counts.get("in_flight", 0))

    @rx.event
    async def load(self) -> Any:
        if self._admit("staff") is None:
            return self._elsewhere()
        await self._refresh_all()
        self.ready = True
        return StaffState.follow

    async def _refresh_all(self) -> None:
        self._put(await asyncio.to_thread(_aggregate, self.patient_filter, self.status_filter, self.page,
                                          self.patient_page))

    def _put(self, snapshot: Snapshot) -> None:
        self.documents = snapshot.documents
        self.failed_documents = snapshot.failed
        self.total, self.counts = snapshot.total, snapshot.counts
        self.patients, self.patient_total = snapshot.patients, snapshot.patient_total
        self.review_items, self.review_total = snapshot.review, snapshot.review_total
        self.stats = snapshot.stats

    @rx.event
    async def set_status_filter(self, value: str) -> None:
        if not self._is_staff():
            return
        self.status_filter = value if value in STATUS_FILTERS else "all"
        self.page = 0
        await self._refresh_all()

    @rx.event
    async def set_patient_filter(self, value: str) -> None:
        if not self._is_staff():
            return
        self.patient_filter = value[:80]
        self.page = self.patient_page = 0
        await self._refresh_all()

    @rx.event
    async def turn_page(self, step: int) -> None:
        if not self._is_staff():
            return
        self.page = max(0, self.page + (1 if step > 0 else -1))
        await self._refresh_all()

    @rx.event
    async def turn_patient_page(self, step: int) -> None:
        if not self._is_staff():
            return
        self.patient_page = max(0, self.patient_page + (1 if step > 0 else -1))
        await self._refresh_all()

    def _is_staff(self) -> bool:
        principal = self._principal()
        return principal is not None and principal.role == "staff"

    @rx.event(background=True)
    async def retry(self, document_id: str) -> None:
        async with self:
            principal = self._principal()
            if principal is None or principal.role != "staff":
                return
        from medupload.pipeline import runner

        with contextlib.suppress(runner.RetryConflict, LookupError):
            await asyncio.to_thread(runner.retry_document, document_id, actor=principal)

    @rx.event(background=True)
    async def follow(self) -> Any:
        async with self:
            principal = self._principal()
            if principal is None or principal.role != "staff":
                return None
            token = self.router.session.client_token
        live.claim(token)
        try:
            signed_in = await self._follow(token, principal)
        finally:
            live.release(token)
        return None if signed_in else AuthState.session_ended

    async def _follow(self, token: str, principal: Principal) -> bool:
        """Follow until the tab goes (True) or its session is revoked (False)."""
        # Whole-clinic subscriptions are live only; every Refresh re-reads the database.
        last_aggregate = 0.0
        aggregate_due = False
        async with contextlib.aclosing(live.follow(token, None)) as items:
            async for item in items:
                if isinstance(item, live.Refresh):
                    aggregate_due, last_aggregate = False, time.monotonic()
                    await self._reload()
                elif isinstance(item, live.Connection):
                    await self._set(connection=item.state)
                elif isinstance(item, live.Tick):
                    # Signed out or disabled elsewhere: stop within a tick (issue 8).
                    if not await self.still_signed_in(principal, token):
                        return False
                    await self._tick()
                    if aggregate_due and time.monotonic() - last_aggregate >= AGGREGATE_REFRESH_SECONDS:
                        aggregate_due, last_aggregate = False, time.monotonic()
                        await self._reload()
                elif item.kind == "progress":
                    if not await self._apply_progress(item.data):
                        aggregate_due = True  # a new upload, or a row on another page
                elif item.kind == "document_update":
                    async with self:
                        on_page = any(d["id"] == item.data.get("id") for d in self.documents)
                        if on_page:
                            self.documents = _replace_row(self.documents, item.data)
                    aggregate_due = True  # counts, the failed list, perhaps a new row on this page
                elif item.kind in ("done", "requirements_update"):
                    aggregate_due = True
        return True

    async def _apply_progress(self, event: Mapping[str, Any]) -> bool:
        """Show the step on this page's row; False when the document is not on the page."""
        document_id = str(event.get("document_id"))
        async with self:
            if not any(d["id"] == document_id for d in self.documents):
                return False
            previous = self.latest.get(document_id)
            if previous is None or int(previous.get("seq", 0)) < int(event.get("seq", 0)):
                self.latest = {**self.latest, document_id: dict(event)}
            return True

    async def _reload(self) -> None:
        async with self:
            if not self._is_staff():
                return
            query = (self.patient_filter, self.status_filter, self.page, self.patient_page)
        snapshot = await asyncio.to_thread(_aggregate, *query)
        async with self:
            self._put(snapshot)

    async def _tick(self) -> None:
        async with self:
            if self.in_flight_count:
                self.tick += 1

    async def _set(self, *, connection: str) -> None:
        async with self:
            self.connection = connection


@dataclasses.dataclass
class Snapshot:
    documents: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    total: int
    counts: dict[str, int]
    patients: list[PatientView]
    patient_total: int
    review: list[ReviewItemView]
    review_total: int
    stats: list[dict[str, Any]]


def _aggregate(search: str, status: str, page: int, patient_page: int) -> Snapshot:
    """Everything the dashboard shows, from grouped queries: no query per patient or per row."""
    wanted = status if status in STATUS_FILTERS else "all"
    documents = staff_records.dashboard_page(search, wanted, PAGE_SIZE, page * PAGE_SIZE)  # type: ignore[arg-type]
    failed = staff_records.dashboard_page(search, "failed", 20, 0).rows
    patients = staff_records.patient_page(search, PAGE_SIZE, patient_page * PAGE_SIZE)
    review = staff_records.review_queue(limit=PAGE_SIZE)
    return Snapshot(
        documents=[row.model_dump(mode="json") for row in documents.rows],
        failed=[row.model_dump(mode="json") for row in failed],
        total=documents.total, counts=documents.counts,
        patients=[patient_view(p) for p in patients.rows], patient_total=patients.total,
        review=[review_item_view(i) for i in review.items], review_total=review.total,
        stats=[stat.model_dump() for stat in data.stage_stats()],
    )


def _replace_row(rows: list[dict[str, Any]], update: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The row with ``update``'s values (a DocumentOut) keeping the patient columns of the page."""
    return [{**row, **update} if row["id"] == update.get("id") else row for row in rows]
