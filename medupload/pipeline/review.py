"""Staff review of extracted facts: confirm, correct, reject, add; then re-match the patient.

A reviewed fact (``confirmed``/``corrected``/``added``) counts as a person's word; a ``rejected``
one never counts (``pipeline.requirements``, which the runner's matching step uses too, so a later
document's matching keeps the review).

After a change the patient's stream gets a ``requirements_update`` notice (ids only); readers load
the new requirement list from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session

from medupload.db import session_scope
from medupload.models import Document, Fact
from medupload.pipeline.requirements import rematch_patient

log = logging.getLogger(__name__)

FACT_KINDS: tuple[str, ...] = ("condition", "medication", "lab", "allergy", "procedure")
#: What a correction may change. Uncertain/hypothetical are not offered: a reviewed fact is
#: either vouched for (it counts) or rejected.
EDITABLE: tuple[str, ...] = ("concept", "value", "unit", "date", "negated", "historical", "family")
_SNAPSHOT = ("status", "kind", "concept", "code", "system", "value", "unit", "date", "negated",
             "historical", "family", "reviewed_by", "reviewed_at")


class ReviewError(Exception):
    """A refused change, with a catalogue code and the HTTP status it maps to."""

    def __init__(self, http_status: int, code: str) -> None:
        super().__init__(code)
        self.http_status = http_status
        self.code = code


# --------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class ConceptChoice:
    kind: str
    concept: str
    code: str | None
    system: str | None
    unit: str | None  # a lab's usual unit


# Extraction's vocabulary kinds that can stand for each fact kind.
_VOCABULARY_KINDS: dict[str, tuple[str, ...]] = {
    "condition": ("condition",), "medication": ("medication",), "lab": ("lab",),
    "procedure": ("procedure",), "allergy": ("allergen", "nkda", "medication"),
}


def _choices(kind: str) -> list[ConceptChoice]:
    from medupload.pipeline.extraction import vocabulary

    vocab = vocabulary()
    seen: dict[str, ConceptChoice] = {}
    for source in _VOCABULARY_KINDS.get(kind, ()):
        for concept in vocab.concepts:
            if concept.kind == source and concept.concept not in seen:
                lab = vocab.labs.get(concept.concept) if kind == "lab" else None
                seen[concept.concept] = ConceptChoice(kind, concept.concept, concept.code or None,
                                                      concept.system, lab.unit if lab else None)
    return list(seen.values())


def search_concepts(kind: str, query: str = "", limit: int = 20) -> list[ConceptChoice]:
    """Concepts of ``kind`` (the curated layer and the ICD-10-CM / drug-dictionary base) whose
    normalised name contains ``query``, or whose code is ``query``; prefix matches first."""
    needle = query.strip().lower()
    ranked: list[tuple[int, str, ConceptChoice]] = []
    for choice in _choices(kind):
        texts = [choice.concept.lower()]
        if not needle:
            rank = 1
        elif any(t.startswith(needle) for t in texts):
            rank = 0
        elif any(needle in t for t in texts) or (choice.code or "").lower() == needle:
            rank = 1
        else:
            continue
        ranked.append((rank, choice.concept, choice))
    return [choice for _, _, choice in sorted(ranked, key=lambda r: (r[0], r[1]))[:limit]]


def lookup_concept(kind: str, concept: str) -> ConceptChoice | None:
    wanted = concept.strip().lower()
    return next((c for c in _choices(kind) if c.concept.lower() == wanted), None)


# --------------------------------------------------------------------------- changes


def _snapshot(fact: Fact) -> dict[str, Any]:
    values = {name: getattr(fact, name) for name in _SNAPSHOT}
    if isinstance(values["reviewed_at"], datetime):
        values["reviewed_at"] = values["reviewed_at"].isoformat()
    return values


def _clean(kind: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validated field values (ReviewError ``review.invalid`` / ``review.unknown_concept``)."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in EDITABLE:
            raise ReviewError(422, "review.invalid")
        if name == "concept":
            choice = lookup_concept(kind, str(value or ""))
            if choice is None:
                raise ReviewError(422, "review.unknown_concept")
            values.update(concept=choice.concept, code=choice.code, system=choice.system)
        elif name == "date":
            if value in (None, ""):
                values["date"] = None
            else:
                try:
                    values["date"] = date.fromisoformat(str(value)).isoformat()
                except ValueError:
                    raise ReviewError(422, "review.invalid") from None
        elif name in ("value", "unit"):
            text = None if value is None else str(value).strip()
            if text is not None and len(text) > (64 if name == "value" else 32):
                raise ReviewError(422, "review.invalid")
            values[name] = text or None
        else:
            values[name] = bool(value)
    return values


def _editable_document(session: Session, patient_id: str, document_id: str) -> Document:
    document = session.get(Document, document_id)
    if document is None or document.patient_id != patient_id:
        raise ReviewError(404, "not_found")
    if document.status in ("received", "processing"):
        # Its facts are about to be replaced: a change would be lost.
        raise ReviewError(409, "conflict.processing")
    if document.status != "processed":
        raise ReviewError(409, "review.not_processed")  # failed: nothing to review until a retry works
    return document


def change_fact(patient_id: str, document_id: str, fact_id: int, action: str, changes: Mapping[str, Any],
                user_id: str | None, today: date | None = None) -> Fact:
    """Confirm, correct or reject one fact, then re-match the patient and notify their stream."""
    if action not in ("confirm", "correct", "reject"):
        raise ReviewError(422, "review.invalid")
    with session_scope() as session:
        _editable_document(session, patient_id, document_id)
        fact = session.get(Fact, fact_id)
        if fact is None or fact.document_id != document_id:
            raise ReviewError(404, "not_found")
        values = _clean(fact.kind, changes) if action == "correct" else {}
        if action == "correct" and not values:
            raise ReviewError(422, "review.invalid")
        if action == "correct" and all(getattr(fact, k) == v for k, v in values.items()):
            action = "confirm"  # nothing differs: the staff member vouched for it as it is
        fact.previous = [*(fact.previous or []), _snapshot(fact)]
        for name, value in values.items():
            setattr(fact, name, value)
        if action == "reject":
            fact.status = "rejected"
        elif action == "correct":
            fact.status = "corrected"
        else:
            # An added fact keeps saying so; any other becomes confirmed (corrections too).
            fact.status = "added" if fact.origin == "added" else "confirmed"
        fact.reviewed_by, fact.reviewed_at = user_id, datetime.now(UTC)
        session.add(fact)
        session.flush()
        rematch_patient(session, patient_id, today or date.today())
    _notify(patient_id)
    return fact


def add_fact(patient_id: str, document_id: str, kind: str, fields: Mapping[str, Any], user_id: str | None,
             today: date | None = None) -> Fact:
    """A fact the pipeline missed, stated by a staff member; then re-match and notify."""
    if kind not in FACT_KINDS:
        raise ReviewError(422, "review.invalid")
    if not fields.get("concept"):
        raise ReviewError(422, "review.unknown_concept")
    values = _clean(kind, fields)
    with session_scope() as session:
        _editable_document(session, patient_id, document_id)
        fact = Fact(document_id=document_id, patient_id=patient_id, kind=kind, text="", start=0, end=0,
                    confidence=1.0, status="added", origin="added", reviewed_by=user_id,
                    reviewed_at=datetime.now(UTC), **values)
        session.add(fact)
        session.flush()
        rematch_patient(session, patient_id, today or date.today())
    _notify(patient_id)
    return fact


def _notify(patient_id: str) -> None:
    from medupload.progress.emitter import publish_requirements_update

    publish_requirements_update(patient_id)

