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
from redis.exceptions import RedisError

from medupload.progress.hub import SubscriptionClosed, get_hub
from medupload.progress.stages import STEP_LABELS, Stage
from medupload.settings import get_settings
from medupload.ui import data, live
from medupload.ui.state.auth import HOME, AuthState
from medupload.ui.viewmodels import StaffRow, merge_documents, staff_row

log = logging.getLogger(__name__)

STATUS_FILTERS: list[str] = ["all", "in_flight", "received", "processing", "processed", "failed"]
STATUS_FILTER_LABELS: dict[str, str] = {
    "all": "All",
    "in_flight": "In flight",
    "received": "Received",
    "processing": "Processing",
    "processed": "Processed",
    "failed": "Failed",
}
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


@dataclasses.dataclass
class StageStat:
    stage: str
    label: str
    p50: float
    p90: float
    count: int


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
            if wanted == "in_flight" and status not in ("received", "processing"):
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
            staff_row(d, self.latest.get(d["id"]), now) for d in self.documents if d.get("status") == "failed"
        ]

    @rx.var
    def stats_documents(self) -> int:
        """How many processed documents the percentiles cover (the "total" row's count)."""
        return max((int(s.get("count", 0)) for s in self.stats if s.get("stage") == "total"), default=0)

    @rx.var
    def in_flight_count(self) -> int:
        return sum(1 for d in self.documents if d.get("status") in ("received", "processing"))

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
            await asyncio.to_thread(runner.retry_document, document_id)

    @rx.event(background=True)
    async def follow(self) -> None:
        async with self:
            principal = self._principal()
            if principal is None or principal.role != "staff":
                return
            token = self.router.session.client_token
        live.claim(token)
        try:
            await self._follow(token)
        finally:
            live.release(token)

    async def _follow(self, token: str) -> None:
        settings = get_settings()
        hub = get_hub()
        while True:
            try:
                # Whole-clinic subscriptions are live only; the snapshot comes from the database.
                async with hub.subscribe(None, replay=False) as subscription:
                    await self._reload()
                    polling = not hub.connected
                    await self._set(connection="polling" if polling else "live")
                    last_check = last_poll = last_aggregate = time.monotonic()
                    aggregate_due = False
                    while True:
                        item = await subscription.get(timeout=live.CONNECTED_CHECK_SECONDS)
                        now = time.monotonic()
                        if item is None or now - last_check >= live.CONNECTED_CHECK_SECONDS:
                            last_check = now
                            if not live.is_current(token) or not await live.client_connected(token):
                                return
                            await self._tick()
                        if aggregate_due and now - last_aggregate >= AGGREGATE_REFRESH_SECONDS:
                            aggregate_due, last_aggregate = False, now
                            await self._reload()
                        if item is None:
                            if polling and now - last_poll >= settings.db_poll_seconds:
                                last_poll = now
                                await self._reload()
                            continue
                        if item.kind == "progress":
                            await self._apply_progress(item.data)
                        elif item.kind == "document_update":
                            async with self:
                                self.documents = merge_documents(self.documents, [item.data])
                        elif item.kind == "done":
                            aggregate_due = True
                        elif item.kind == "redis_down":
                            polling, last_poll = True, now
                            await self._set(connection="polling")
                        elif item.kind == "redis_up":
                            polling = False
                            await self._set(connection="live")
                            await self._reload()
            except SubscriptionClosed:
                await self._reload()
                continue
            except (RedisError, OSError) as exc:
                log.warning("staff follow: hub unavailable (%s); polling the database", type(exc).__name__)
                await self._set(connection="polling")
                await asyncio.sleep(settings.db_poll_seconds)
                if not live.is_current(token) or not await live.client_connected(token):
                    return
                await self._reload()

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
    stats = [dataclasses.asdict(s) for s in stage_stats(data.stage_stats())]
    return docs, [p for p in patients if p.total], stats


def patient_progress(patient_id: str, rows: Iterable[Any]) -> PatientProgress:
    states = [str(_get(r, "state") or _get(r, "status") or "missing") for r in rows]
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


def stage_stats(raw: Any) -> list[StageStat]:
    """Adapt records.stage_stats() (a list or a mapping per stage) to chart rows, in step order."""
    if isinstance(raw, Mapping) and "stages" in raw:
        raw = raw["stages"]
    items: list[tuple[str, Any]]
    if isinstance(raw, Mapping):
        items = [(str(k), v) for k, v in raw.items()]
    else:
        items = [(str(_get(r, "stage")), r) for r in (raw or [])]
    order = {s.value: i for i, s in enumerate(Stage)} | {"total": 98}
    out = []
    for stage, row in sorted(items, key=lambda kv: order.get(kv[0], 99)):
        try:
            label = STEP_LABELS[Stage(stage)]
        except ValueError:
            label = str(_get(row, "label") or stage)
        out.append(
            StageStat(
                stage=stage,
                label=label,
                p50=_seconds(_get(row, "p50_seconds")),
                p90=_seconds(_get(row, "p90_seconds")),
                count=int(_get(row, "count") or _get(row, "n") or 0),
            )
        )
    return out


def _seconds(value: Any) -> float:
    return round(float(value or 0), 2)


def _get(row: Any, key: str) -> Any:
    return row.get(key) if isinstance(row, Mapping) else getattr(row, key, None)
