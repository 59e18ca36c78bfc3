"""Pure functions from review reads (facts, review items, patients, audit) to what the staff and
document pages render. Plain dataclasses: Reflex state holds them, tests call them directly."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime

from medupload.records import FactOut
from medupload.staff_records import AuditOut, PatientRow, ReviewItem
from medupload.ui.viewmodels import fmt_date

KIND_LABELS: dict[str, str] = {
    "condition": "Conditions",
    "medication": "Medications",
    "lab": "Lab results",
    "allergy": "Allergies",
    "procedure": "Procedures",
}
FACT_STATUS_LABELS: dict[str, str] = {
    "extracted": "Not reviewed",
    "confirmed": "Confirmed",
    "corrected": "Corrected",
    "rejected": "Rejected",
    "added": "Added by staff",
}
#: Below this a fact is shown as "low confidence" (the matching threshold).
LOW_CONFIDENCE = 0.6


@dataclasses.dataclass
class FactView:
    id: int
    testid: str
    kind: str
    concept: str
    code: str
    snippet: str
    value: str
    unit: str
    date: str
    flags: str  # "negated, family history" or ""
    negated: bool
    historical: bool
    family: bool
    confidence: str  # "high" | "low"
    confidence_label: str
    status: str
    status_label: str
    provenance: str  # "Corrected by staff on 01 Dec 2026 (was: 7.7 %)" or ""
    # Where the evidence is on the page images: page number (0: not known) and the highlight's
    # CSS box over the page image, in percent of it ("12.5%"), so any rendered size fits.
    page: int = 0
    box_left: str = ""
    box_top: str = ""
    box_width: str = ""
    box_height: str = ""


#: Margin around a highlighted word box, in percent of the page: the box frames the ink, not
#: cuts through it.
HIGHLIGHT_MARGIN = 0.4


def _highlight_box(bbox: list[float] | None) -> dict[str, str]:
    """A fact's bbox (shares of the page) as the highlight's percent box, clamped to the page."""
    if not bbox or len(bbox) != 4:
        return {}
    x, y, w, h = (100 * float(v) for v in bbox)
    left, top = max(0.0, x - HIGHLIGHT_MARGIN), max(0.0, y - HIGHLIGHT_MARGIN)
    right, bottom = min(100.0, x + w + HIGHLIGHT_MARGIN), min(100.0, y + h + HIGHLIGHT_MARGIN)
    if right <= left or bottom <= top:
        return {}
    return {"box_left": f"{left:.3f}%", "box_top": f"{top:.3f}%", "box_width": f"{right - left:.3f}%",
            "box_height": f"{bottom - top:.3f}%"}


@dataclasses.dataclass
class FactGroup:
    kind: str
    label: str
    facts: list[FactView]


@dataclasses.dataclass
class ReviewItemView:
    key: str
    testid: str
    kind: str
    patient_id: str
    patient_name: str
    title: str
    since: str
    href: str  # the document view, or the staff patient page


@dataclasses.dataclass
class PatientView:
    id: str
    testid: str
    name: str
    dob: str
    mrn: str
    satisfied: int
    total: int
    missing: int
    needs_review: int
    expired: int
    percent: int
    href: str


@dataclasses.dataclass
class AuditView:
    at: str
    action: str
    user_id: str
    document_id: str


def _flags(fact: FactOut) -> str:
    names = [name for name, on in (("negated", fact.negated), ("family history", fact.family),
                                   ("historical", fact.historical), ("uncertain", fact.uncertain),
                                   ("hypothetical", fact.hypothetical)) if on]
    return ", ".join(names)


def _provenance(fact: FactOut) -> str:
    if fact.status == "extracted":
        return ""
    who = "staff" if fact.reviewed_by else "someone"
    when = fmt_date(fact.reviewed_at) if fact.reviewed_at else ""
    text = f"{FACT_STATUS_LABELS.get(fact.status, fact.status)} by {who}" + (f" on {when}" if when else "")
    if fact.status == "corrected" and fact.previous:
        before = fact.previous[-1]
        was = " ".join(str(before.get(k)) for k in ("concept", "value", "unit", "date") if before.get(k))
        if was:
            text += f" (was: {was})"
    return text


def fact_view(fact: FactOut) -> FactView:
    low = fact.status == "extracted" and fact.confidence < LOW_CONFIDENCE
    return FactView(
        id=fact.id, testid=f"fact-{fact.id}", kind=fact.kind, concept=fact.concept,
        code=" ".join(p for p in (fact.system, fact.code) if p), snippet=fact.text, value=fact.value or "",
        unit=fact.unit or "", date=fact.date or "", flags=_flags(fact), negated=fact.negated,
        historical=fact.historical, family=fact.family, confidence="low" if low else "high",
        confidence_label=f"Low confidence ({fact.confidence:.0%})" if low else "",
        status=fact.status, status_label=FACT_STATUS_LABELS.get(fact.status, fact.status),
        provenance=_provenance(fact),
        **({"page": fact.page, **box} if fact.page and (box := _highlight_box(fact.bbox)) else {}),
    )


def fact_groups(facts: Iterable[FactOut]) -> list[FactGroup]:
    """Facts grouped by kind, in a fixed order (conditions first), each group in text order."""
    views = [fact_view(f) for f in facts]
    return [FactGroup(kind=k, label=label, facts=[v for v in views if v.kind == k])
            for k, label in KIND_LABELS.items() if any(v.kind == k for v in views)]


def review_item_view(item: ReviewItem) -> ReviewItemView:
    href = (f"/documents/{item.document_id}" if item.document_id
            else f"/staff/patients/{item.patient_id}")
    return ReviewItemView(key=item.key, testid=f"review-item-{item.key}", kind=item.kind,
                          patient_id=item.patient_id, patient_name=item.patient_name, title=item.title,
                          since=fmt_date(item.since), href=href)


def _date(value: date | None) -> str:
    return value.strftime("%d %b %Y") if value else ""


def patient_view(row: PatientRow) -> PatientView:
    return PatientView(
        id=row.id, testid=f"staff-patient-{row.id}", name=row.display_name, dob=_date(row.date_of_birth),
        mrn=row.mrn or "", satisfied=row.satisfied, total=row.total, missing=row.missing,
        needs_review=row.needs_review, expired=row.expired,
        percent=round(100 * row.satisfied / row.total) if row.total else 0, href=f"/staff/patients/{row.id}")


def audit_view(entry: AuditOut) -> AuditView:
    at: datetime = entry.at
    return AuditView(at=at.strftime("%d %b %Y %H:%M UTC"), action=entry.action, user_id=entry.user_id or "",
                     document_id=entry.document_id or "")
