"""The staff dashboard: every patient's documents live, failures with retry, requirement
completion per patient, and stage-duration percentiles (the same numbers as the stats API)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from medupload.auth import Principal
from medupload.progress.stages import IN_FLIGHT_STATUSES, DocumentStatus
from medupload.records import RequirementOut
from medupload.ui import data, live
from medupload.ui.state.auth import HOME, AuthState
from medupload.ui.viewmodels import STATUS_LABELS, StaffRow, merge_documents, staff_row

log = logging.getLogger(__name__)

STATUS_FILTERS: list[str] = ["all", "in_flight", *(status.value for status in DocumentStatus)]
STATUS_FILTER_LABELS: dict[str, str] = {"all": "All", "in_flight": "In flight", **STATUS_LABELS}
MAX_ROWS = 200
# Requirement and stats refreshes are DB aggregates: at most this often, however busy the clinic.
AGGREGATE_REFRESH_SECONDS = 2.0


@dataclasses.dataclass
class PatientProgress:
    patient_id: str
    testid: str
    satisfied: int
    total: int
    missing: int
    needs_review: int
    expired: int
    percent: int


class StaffState(AuthState):
    documents: list[dict[str, Any]] = rx.field(default_factory=list)
    latest: dict[str, dict[str, Any]] = rx.field(default_factory=dict)
    status_filter: str = "all"
    patient_filter: str = ""
    patients: list[PatientProgress] = rx.field(default_factory=list)
    # Plain dicts: recharts takes a list of records.
    stats: list[dict[str, Any]] = rx.field(default_factory=list)
    connection: str = "connecting"
    ready: bool = False
    tick: int = 0

    @rx.var
    def rows(self) -> list[StaffRow]:
        now = datetime.now(UTC)
        wanted = self.status_filter
        needle = self.patient_filter.strip().lower()
        out = []
        for doc in self.documents:
            status = doc.get("status")
            if wanted == "in_flight" and status not in IN_FLIGHT_STATUSES:
                continue
            if wanted not in ("all", "in_flight") and status != wanted:
                continue
            if needle and needle not in str(doc.get("patient_id", "")).lower():
                continue
            out.append(staff_row(doc, self.latest.get(doc["id"]), now))
        _ = self.tick  # recompute elapsed times on the tick
        return out[:MAX_ROWS]

    @rx.var
    def failed_rows(self) -> list[StaffRow]:
        now = datetime.now(UTC)
        return [
            staff_row(d, self.latest.get(d["id"]), now)
            for d in self.documents if d.get("status") == DocumentStatus.FAILED
        ]

    @rx.var
    def stats_documents(self) -> int:
        """How many processed documents the percentiles cover (the "total" row's count)."""
        return max((int(s.get("count", 0)) for s in self.stats if s.get("stage") == "total"), default=0)

    @rx.var
    def in_flight_count(self) -> int:
        return sum(1 for d in self.documents if d.get("status") in IN_FLIGHT_STATUSES)

    @rx.event
    async def load(self) -> Any:
        principal = self._principal()
        if principal is None:
            return rx.redirect("/login")
        if principal.role != "staff":
            return rx.redirect(HOME.get(principal.role, "/login"))
        await self._refresh_all()
        self.ready = True
        return StaffState.follow

    async def _refresh_all(self) -> None:
        docs, patients, stats = await asyncio.to_thread(_aggregate)
        self.documents = merge_documents([], docs)
        self.patients = patients
        self.stats = stats

    @rx.event
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value if value in STATUS_FILTERS else "all"

    @rx.event
    def set_patient_filter(self, value: str) -> None:
        self.patient_filter = value[:80]

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
                    if not await self.still_signed_in(principal):
                        return False
                    await self._tick()
                    if aggregate_due and time.monotonic() - last_aggregate >= AGGREGATE_REFRESH_SECONDS:
                        aggregate_due, last_aggregate = False, time.monotonic()
                        await self._reload()
                elif item.kind == "progress":
                    await self._apply_progress(item.data)
                elif item.kind == "document_update":
                    async with self:
                        self.documents = merge_documents(self.documents, [item.data])
                elif item.kind == "done":
                    aggregate_due = True
        return True

    async def _apply_progress(self, event: Mapping[str, Any]) -> None:
        document_id = str(event.get("document_id"))
        async with self:
            known = any(d["id"] == document_id for d in self.documents)
            previous = self.latest.get(document_id)
            if previous is None or int(previous.get("seq", 0)) < int(event.get("seq", 0)):
                self.latest = {**self.latest, document_id: dict(event)}
        if not known:
            # A new upload: its row carries patient, filename and status.
            docs = await asyncio.to_thread(data.staff_documents, None, str(event.get("patient_id")))
            async with self:
                self.documents = merge_documents(self.documents, [d for d in docs if d["id"] == document_id])

    async def _reload(self) -> None:
        docs, patients, stats = await asyncio.to_thread(_aggregate)
        async with self:
            self.documents = merge_documents(self.documents, docs)
            self.patients = patients
            self.stats = stats

    async def _tick(self) -> None:
        async with self:
            if self.in_flight_count:
                self.tick += 1

    async def _set(self, *, connection: str) -> None:
        async with self:
            self.connection = connection


def _aggregate() -> tuple[list[dict[str, Any]], list[PatientProgress], list[dict[str, Any]]]:
    docs = data.staff_documents(None, None)[:MAX_ROWS]
    patients = [patient_progress(pid, data.requirements(pid)) for pid in data.patient_ids()]
    stats = [stat.model_dump() for stat in data.stage_stats()]
    return docs, [p for p in patients if p.total], stats


def patient_progress(patient_id: str, rows: Iterable[RequirementOut]) -> PatientProgress:
    states = [row.state for row in rows]
    total = len(states)
    satisfied = states.count("satisfied")
    return PatientProgress(
        patient_id=patient_id,
        testid=f"staff-patient-{patient_id}",
        satisfied=satisfied,
        total=total,
        missing=states.count("missing"),
        needs_review=states.count("needs_review"),
        expired=states.count("expired"),
        percent=round(100 * satisfied / total) if total else 0,
    )
