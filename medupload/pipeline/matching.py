"""Requirement matching: a patient's extracted facts against a care program's requirement set.

Requirement sets are YAML files in ``data/requirements/<program>.yaml``. For each requirement
the candidate evidence is every fact (over all the patient's processed documents) of an
accepted kind and concept that is neither negated nor about a family member; a requirement
with ``document_types`` also accepts a whole document of such a type. Then:

- ``satisfied``: a candidate dated within ``max_age_days`` with OCR confidence >= 0.6 (fact
  and document), no uncertain/hypothetical assertion and, for a lab, a result; the most recent
  one is the evidence;
- ``needs_review``: otherwise, a candidate that would be current but has low confidence, an
  uncertain/hypothetical assertion, no date at all when an age limit applies, or is a lab
  mentioned without a result ("HbA1c - see comment, sample hemolysed, repeat sent": a human
  must look, but a clinic must never skip a test because of it);
- ``expired``: only candidates older than ``max_age_days`` (evidence: the most recent);
- ``missing``: no candidate.

"Current medication list" (``medication-list``): a document classified ``medication_list``,
or at least one asserted medication fact found in a medications section, dated within 365
days. A medication mentioned only in a narrative (e.g. "tried Zyrtec") is not a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from medupload.pipeline.extraction import ExtractedFact

REQUIREMENTS_DIR = Path(__file__).resolve().parent / "data" / "requirements"
#: Below this OCR confidence (around the fact, or the document's mean) a human must look.
REVIEW_BELOW = 0.6
STATES: tuple[str, ...] = ("satisfied", "missing", "expired", "needs_review")


@dataclass(frozen=True)
class Requirement:
    id: str  # "<program>/<key>", e.g. "diabetes-annual/hba1c"
    program: str
    title: str
    kinds: tuple[str, ...]  # fact kinds accepted as evidence
    concepts: tuple[str, ...] = ()  # accepted concepts; empty = any concept of those kinds
    max_age_days: int | None = None  # evidence must be at most this old; None = any age
    sections: tuple[str, ...] = ()  # if set, facts must come from one of these sections
    document_types: tuple[str, ...] = ()  # a whole document of one of these types also counts


@dataclass(frozen=True)
class DocumentFacts:
    document_id: str
    document_type: str | None
    document_date: str | None  # ISO
    ocr_confidence: float | None  # 0..1 mean
    facts: Sequence[ExtractedFact]  # or any objects with the same attributes (e.g. DB rows)


@dataclass(frozen=True)
class Outcome:
    requirement_id: str
    program: str
    title: str
    state: str  # satisfied | missing | expired | needs_review
    document_id: str | None
    fact_id: int | None
    evidence_date: str | None
    evidence: dict[str, Any] | None  # small user-safe summary


def available_programs() -> list[str]:
    """Programs that have a requirement set."""
    return sorted(path.stem for path in REQUIREMENTS_DIR.glob("*.yaml"))


@lru_cache(maxsize=32)
def _load(program: str) -> tuple[Requirement, ...]:
    if program not in available_programs():
        raise KeyError(f"unknown program: {program}")
    data = yaml.safe_load((REQUIREMENTS_DIR / f"{program}.yaml").read_text(encoding="utf-8"))
    requirements = []
    for item in data["requirements"]:
        max_age = item.get("max_age_days")
        requirements.append(
            Requirement(
                id=f"{program}/{item['key']}",
                program=program,
                title=item["title"],
                kinds=tuple(item["kinds"]),
                concepts=tuple(item.get("concepts") or ()),
                max_age_days=int(max_age) if max_age is not None else None,
                sections=tuple(item.get("sections") or ()),
                document_types=tuple(item.get("document_types") or ()),
            )
        )
    return tuple(requirements)


def load_program(program: str) -> list[Requirement]:
    """The requirement set of ``program`` (``KeyError`` if there is none)."""
    return list(_load(program))


def _parse_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


@dataclass(frozen=True)
class _Candidate:
    document: DocumentFacts
    fact: Any | None  # None when the document itself is the evidence
    when: date | None
    reviewable: bool  # low confidence or a doubtful assertion


def _candidates(requirement: Requirement, documents: Sequence[DocumentFacts]) -> list[_Candidate]:
    found: list[_Candidate] = []
    for document in documents:
        doc_date = _parse_date(document.document_date)
        doc_low = document.ocr_confidence is not None and document.ocr_confidence < REVIEW_BELOW
        if document.document_type and document.document_type in requirement.document_types:
            found.append(_Candidate(document, None, doc_date, doc_low))
        for fact in document.facts:
            if fact.kind not in requirement.kinds:
                continue
            if requirement.concepts and fact.concept not in requirement.concepts:
                continue
            if requirement.sections and (fact.section or "") not in requirement.sections:
                continue
            if fact.negated or fact.family:
                continue  # never evidence
            doubtful = bool(fact.uncertain or fact.hypothetical) or not _has_result(fact)
            low = doc_low or (fact.confidence is not None and fact.confidence < REVIEW_BELOW)
            when = _parse_date(fact.date) or doc_date
            found.append(_Candidate(document, fact, when, doubtful or low))
    return found


def _has_result(fact: Any) -> bool:
    """A lab counts only with its result: a value, or a qualitative one ("negative") where the
    test has one. Other kinds (a diagnosis, a drug, an ECG report) are their own evidence."""
    if fact.kind != "lab":
        return True
    value = getattr(fact, "value", None)
    return value is not None and str(value).strip() != ""


def _summary(candidate: _Candidate) -> dict[str, Any]:
    """What the patient and staff see about the evidence: no free text from the document."""
    fact = candidate.fact
    return {
        "kind": fact.kind if fact is not None else "document",
        "concept": fact.concept if fact is not None else candidate.document.document_type,
        "value": getattr(fact, "value", None),
        "unit": getattr(fact, "unit", None),
        "date": candidate.when.isoformat() if candidate.when else None,
        "document_type": candidate.document.document_type,
    }


def _outcome(requirement: Requirement, state: str, candidate: _Candidate | None) -> Outcome:
    if candidate is None:
        return Outcome(requirement.id, requirement.program, requirement.title, state, None, None, None, None)
    fact_id = getattr(candidate.fact, "id", None) if candidate.fact is not None else None
    return Outcome(
        requirement_id=requirement.id,
        program=requirement.program,
        title=requirement.title,
        state=state,
        document_id=candidate.document.document_id,
        fact_id=fact_id,
        evidence_date=candidate.when.isoformat() if candidate.when else None,
        evidence=_summary(candidate),
    )


def _most_recent(candidates: list[_Candidate]) -> _Candidate:
    # Latest date first; among equals prefer a fact with a value and higher confidence.
    return max(
        candidates,
        key=lambda c: (
            c.when or date.min,
            c.fact is not None and getattr(c.fact, "value", None) is not None,
            getattr(c.fact, "confidence", 0.0) if c.fact is not None else (c.document.ocr_confidence or 1.0),
        ),
    )


def evaluate_one(requirement: Requirement, documents: Sequence[DocumentFacts], today: date) -> Outcome:
    """The outcome of one requirement over all of a patient's documents."""
    candidates = _candidates(requirement, documents)
    if not candidates:
        return _outcome(requirement, "missing", None)
    limit = requirement.max_age_days

    def current(c: _Candidate) -> bool:
        return limit is None or (c.when is not None and (today - c.when).days <= limit)

    satisfied = [c for c in candidates if current(c) and not c.reviewable]
    if satisfied:
        return _outcome(requirement, "satisfied", _most_recent(satisfied))
    # Possibly current but a human must confirm: doubtful/low confidence, or undated.
    review = [c for c in candidates if current(c) or c.when is None]
    if review:
        return _outcome(requirement, "needs_review", _most_recent(review))
    return _outcome(requirement, "expired", _most_recent(candidates))


def evaluate(
    requirements: Sequence[Requirement], documents: Sequence[DocumentFacts], today: date
) -> list[Outcome]:
    """One outcome per requirement, in the requirement set's order."""
    return [evaluate_one(requirement, documents, today) for requirement in requirements]
