"""Pure functions from the event list and document rows to what the pages render.

The indicator is ``progress.stages.steps()`` of a document's events and row and nothing else:
the UI keeps no state machine, so a late, repeated or missed event can never leave it stuck.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from medupload.progress.stages import (
    STEP_LABELS,
    TERMINAL_STATUSES,
    DocumentStatus,
    ProgressEvent,
    Stage,
    message,
    steps,
)

ACCEPT_TYPES: dict[str, list[str]] = {
    "application/pdf": [".pdf"],
    "image/png": [".png"],
    "image/jpeg": [".jpg", ".jpeg"],
    "image/tiff": [".tif", ".tiff"],
    "image/heic": [".heic"],
    "image/heif": [".heif"],
}

STATUS_LABELS: dict[str, str] = {
    DocumentStatus.RECEIVED: "Received",
    DocumentStatus.PROCESSING: "Processing",
    DocumentStatus.PROCESSED: "Processed",
    DocumentStatus.FAILED: "Failed",
}

STATE_LABELS: dict[str, str] = {
    "done": "Done",
    "active": "In progress",
    "pending": "Waiting",
    "failed": "Failed",
}

REQUIREMENT_LABELS: dict[str, str] = {
    "satisfied": "Satisfied",
    "missing": "Missing",
    "expired": "Expired",
    "needs_review": "Needs review",
}


@dataclasses.dataclass
class StepView:
    stage: str
    label: str
    state: str
    state_label: str
    detail: str
    elapsed: str
    testid: str


@dataclasses.dataclass
class CardView:
    id: str
    testid: str
    filename: str
    status: str
    status_label: str
    uploaded: str
    steps: list[StepView]
    failed: bool
    error_message: str
    error_code: str
    running: bool
    fraction: int
    attempt: int
    reviewed: str = ""  # "01 Dec 2026" once clinic staff reviewed a finding, else ""


@dataclasses.dataclass
class RequirementView:
    id: str
    testid: str
    title: str
    program: str
    state: str
    state_label: str
    document_id: str
    evidence: str


@dataclasses.dataclass
class StaffRow:
    id: str
    testid: str
    patient_id: str
    filename: str
    status: str
    status_label: str
    stage: str
    stage_label: str
    elapsed: str
    error_code: str
    failed_stage: str
    updated: str
    patient_name: str = ""  # staff rows: the patient's name (the id when there is none)


def fmt_ms(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 60_000} min {(ms % 60_000) // 1000} s"


def fmt_date(value: str | datetime | None) -> str:
    """A short, unambiguous date for people (``28 Nov 2026``)."""
    when = parse_dt(value)
    return when.strftime("%d %b %Y") if when else ""


def parse_dt(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def event_key(event: Mapping[str, Any]) -> tuple[str, int]:
    return (str(event["document_id"]), int(event["seq"]))


def merge_events(current: list[dict[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The union by (document, seq), ordered: replays and snapshots never repeat a step."""
    by_key = {event_key(e): e for e in current}
    changed = False
    for event in new:
        key = event_key(event)
        if key not in by_key:
            by_key[key] = dict(event)
            changed = True
    if not changed:
        return current
    return [by_key[key] for key in sorted(by_key)]


def merge_documents(current: list[dict[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Upsert by id, keeping the newer row (by ``updated_at``); newest uploads first."""
    by_id = {d["id"]: d for d in current}
    for doc in new:
        old = by_id.get(doc["id"])
        if old is None or (parse_dt(doc.get("updated_at")) or datetime.min.replace(tzinfo=UTC)) >= (
            parse_dt(old.get("updated_at")) or datetime.min.replace(tzinfo=UTC)
        ):
            by_id[doc["id"]] = dict(doc)
    return sorted(by_id.values(), key=lambda d: str(d.get("created_at", "")), reverse=True)


def build_cards(documents: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[CardView]:
    grouped: dict[str, list[ProgressEvent]] = {}
    for raw in events:
        grouped.setdefault(str(raw["document_id"]), []).append(ProgressEvent.model_validate(raw))
    return [_card(doc, grouped.get(doc["id"], [])) for doc in documents]


def build_card(doc: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> CardView:
    """One document's card from its row and its own events."""
    return _card(doc, [ProgressEvent.model_validate(raw) for raw in events])


def is_known(events: Mapping[str, list[dict[str, Any]]], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` (by document and seq) is already in the per-document map."""
    seq = int(event["seq"])
    return any(int(e["seq"]) == seq for e in events.get(str(event["document_id"]), ()))


def absorb(
    documents: dict[str, dict[str, Any]],
    events: dict[str, list[dict[str, Any]]],
    new_documents: Iterable[Mapping[str, Any]] = (),
    new_events: Iterable[Mapping[str, Any]] = (),
) -> set[str]:
    """Merge rows (newer ``updated_at`` wins) and events (by seq) into the two maps, in place.

    Returns the ids of the documents whose card may have changed: only those are rebuilt, so a
    new event costs one card, and a replay of what is already known costs nothing.
    """
    changed: set[str] = set()
    floor = datetime.min.replace(tzinfo=UTC)
    for doc in new_documents:
        doc_id = str(doc["id"])
        old = documents.get(doc_id)
        if old == doc:
            continue
        newer = old is None or (
            (parse_dt(doc.get("updated_at")) or floor) >= (parse_dt(old.get("updated_at")) or floor)
        )
        if newer:
            documents[doc_id] = dict(doc)
            changed.add(doc_id)
    for event in new_events:
        doc_id = str(event["document_id"])
        if is_known(events, event):
            continue
        current = events.setdefault(doc_id, [])
        current.append(dict(event))
        current.sort(key=lambda e: int(e["seq"]))
        changed.add(doc_id)
    return changed


def arrange(cards: Iterable[CardView], documents: Mapping[str, Mapping[str, Any]]) -> tuple[
        list[CardView], list[CardView]]:
    """(cards in flight, finished cards), each newest upload first.

    Two lists so that an event of a running document re-sends only the (few) cards in flight,
    not a returning patient's whole history. In-flight cards show on top.
    """
    def newest_first(card: CardView) -> str:
        return str(documents.get(card.id, {}).get("created_at", ""))

    ordered = sorted((c for c in cards if c.id in documents), key=newest_first, reverse=True)
    return [c for c in ordered if c.running], [c for c in ordered if not c.running]


def _card(doc: Mapping[str, Any], events: list[ProgressEvent]) -> CardView:
    status = str(doc.get("status", DocumentStatus.RECEIVED))
    # The row goes in too: if events were lost (Redis down, an expired stream), steps() follows
    # the row instead of sticking, exactly as for every other client.
    shown = steps(events, status=status, stage=doc.get("stage"), failed_stage=doc.get("failed_stage"))
    failed = any(s.state == "failed" for s in shown)
    latest = max(events, key=lambda e: e.seq) if events else None
    code = str(doc.get("error_code") or (latest.code if latest and latest.stage is Stage.FAILED else ""))
    views = [
        StepView(
            stage=s.stage.value,
            label=s.label,
            state=s.state,
            state_label=STATE_LABELS[s.state],
            detail=s.detail,
            elapsed=fmt_ms(s.elapsed_ms) if s.state != "pending" else "",
            testid=f"step-{s.stage.value}",
        )
        for s in shown
    ]
    done = sum(1 for s in shown if s.state == "done")
    return CardView(
        id=str(doc["id"]),
        testid=f"document-{doc['id']}",
        filename=str(doc.get("filename", "")),
        status=status,
        status_label=STATUS_LABELS.get(status, status),
        uploaded=fmt_date(doc.get("created_at")),
        steps=views,
        failed=failed,
        error_message=message(code) if failed and code else ("" if not failed else message("error.internal")),
        error_code=code if failed else "",
        running=not failed and status != DocumentStatus.PROCESSED,
        fraction=round(100 * done / len(shown)),
        # Every attempt starts with an upload_received event (the first upload or a retry).
        attempt=max(1, sum(1 for e in events if e.stage is Stage.UPLOAD_RECEIVED)),
        reviewed=fmt_date(doc.get("reviewed_at")) if doc.get("reviewed_at") else "",
    )


def requirement_views(rows: Iterable[Any]) -> list[RequirementView]:
    """Adapt records.requirement_status() rows (objects or dicts) to what the checklist shows."""
    views = []
    for row in rows:
        get = row.get if isinstance(row, Mapping) else lambda k, d=None, r=row: getattr(r, k, d)
        rid = str(get("requirement_id") or get("id") or "")
        state = str(get("state") or get("status") or "missing")
        evidence = get("evidence")
        document_id = str(get("document_id") or _evidence_get(evidence, "document_id") or "")
        date = get("evidence_date") or _evidence_get(evidence, "date")
        views.append(
            RequirementView(
                id=rid,
                testid=f"requirement-{rid}",
                title=str(get("title") or rid),
                program=str(get("program") or ""),
                state=state,
                state_label=REQUIREMENT_LABELS.get(state, state),
                document_id=document_id,
                evidence=f"dated {fmt_date(str(date))}" if date else "",
            )
        )
    return views


def _evidence_get(evidence: Any, key: str) -> Any:
    if isinstance(evidence, Mapping):
        return evidence.get(key)
    if isinstance(evidence, list) and evidence:
        return _evidence_get(evidence[0], key)
    return getattr(evidence, key, None) if evidence is not None else None


def staff_row(doc: Mapping[str, Any], latest: Mapping[str, Any] | None, now: datetime) -> StaffRow:
    stage = str((latest or {}).get("stage") or doc.get("stage") or "upload_received")
    created = parse_dt(doc.get("created_at")) or now
    finished = doc.get("status") in TERMINAL_STATUSES
    end = parse_dt(doc.get("updated_at")) if finished else now
    elapsed_ms = max(0, int(((end or now) - created).total_seconds() * 1000))
    if latest and latest.get("elapsed_ms") is not None and not finished:
        elapsed_ms = max(elapsed_ms, int(latest["elapsed_ms"]))
    try:
        stage_label = STEP_LABELS[Stage(stage)] if stage != "failed" else "Failed"
    except ValueError:
        stage_label = stage
    status = str(doc.get("status", ""))
    return StaffRow(
        id=str(doc["id"]),
        testid=f"staff-document-{doc['id']}",
        patient_id=str(doc.get("patient_id", "")),
        filename=str(doc.get("filename", "")),
        status=status,
        status_label=STATUS_LABELS.get(status, status),
        stage=stage,
        stage_label=stage_label,
        elapsed=fmt_ms(elapsed_ms),
        error_code=str(doc.get("error_code") or ""),
        failed_stage=str(doc.get("failed_stage") or ""),
        updated=str(doc.get("updated_at", "")),
        patient_name=str(doc.get("patient_name") or doc.get("patient_id", "")),
    )
