"""A patient's requirement matches: the one read-evaluate-replace, used by the pipeline after a
document's facts are stored and by staff review after a fact changes.

A reviewed fact (``confirmed``/``corrected``/``added``) counts as a person's word: it is evidence
whatever the OCR confidence of its document, and no longer doubtful. A ``rejected`` fact never
counts. ``matching_bundle`` is where that rule lives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from medupload.models import Document, Fact, Patient, ProgramEnrollment, RequirementMatch
from medupload.pipeline.matching import DocumentFacts, Outcome, evaluate, load_program
from medupload.progress.stages import DocumentStatus, Stage

REVIEWED = frozenset({"confirmed", "corrected", "added"})


@dataclass(frozen=True)
class ReviewedFact:
    """A staff-reviewed fact as matching sees it: full confidence, no doubt."""

    id: int | None
    kind: str
    concept: str
    value: str | None
    unit: str | None
    date: str | None
    section: str | None
    negated: bool
    family: bool
    historical: bool
    uncertain: bool = False
    hypothetical: bool = False
    confidence: float = 1.0


def _reviewed(fact: Fact) -> ReviewedFact:
    return ReviewedFact(id=fact.id, kind=fact.kind, concept=fact.concept, value=fact.value, unit=fact.unit,
                        date=fact.date, section=fact.section, negated=fact.negated, family=fact.family,
                        historical=fact.historical)


def matching_bundle(documents: Sequence[Document],
                    facts_by_doc: Mapping[str, Sequence[Fact]]) -> list[DocumentFacts]:
    """The matching input for a patient's documents, with the review applied.

    Reviewed facts travel in a second bundle of the same document without its OCR confidence
    (a low-confidence scan must not send a confirmed value back to review) and without its type
    (the document itself is already a candidate through the first bundle).
    """
    bundle: list[DocumentFacts] = []
    for document in documents:
        facts = [f for f in facts_by_doc.get(document.id, ()) if f.status != "rejected"]
        machine = [f for f in facts if f.status not in REVIEWED]
        reviewed = [_reviewed(f) for f in facts if f.status in REVIEWED]
        bundle.append(DocumentFacts(document_id=document.id, document_type=document.document_type,
                                    document_date=document.document_date,
                                    ocr_confidence=document.ocr_confidence, facts=machine))
        if reviewed:
            bundle.append(DocumentFacts(document_id=document.id, document_type=None,
                                        document_date=document.document_date, ocr_confidence=None,
                                        facts=reviewed))
    return bundle


def rematch_patient(session: Session, patient_id: str, today: date, *,
                    document_id: str | None = None) -> list[Outcome]:
    """Re-evaluate and replace the patient's requirement matches inside ``session``.

    Evidence comes from processed documents, documents past analysis (another run about to
    match) and ``document_id`` (the one being matched now, if any). The no-op UPDATE of the
    patient row takes a write lock until commit, so two re-matches of one patient never
    interleave.
    """
    session.execute(update(Patient).where(col(Patient.id) == patient_id)
                    .values(display_name=col(Patient.display_name)))
    past_analysis = (col(Document.status) == DocumentStatus.PROCESSING) & (
        col(Document.stage) == Stage.ANALYSIS_COMPLETE.value)
    wanted = or_(col(Document.status) == DocumentStatus.PROCESSED, past_analysis)
    if document_id is not None:
        wanted = or_(col(Document.id) == document_id, wanted)
    documents = session.exec(select(Document).where(Document.patient_id == patient_id, wanted)).all()
    facts_by_doc: dict[str, list[Fact]] = {d.id: [] for d in documents}
    if facts_by_doc:
        for fact in session.exec(select(Fact).where(col(Fact.document_id).in_(list(facts_by_doc)))).all():
            facts_by_doc[fact.document_id].append(fact)
    bundle = matching_bundle(documents, facts_by_doc)
    programs = session.exec(select(ProgramEnrollment.program)
                            .where(ProgramEnrollment.patient_id == patient_id)).all()
    outcomes = [outcome for program in programs for outcome in evaluate(load_program(program), bundle, today)]
    session.execute(delete(RequirementMatch).where(col(RequirementMatch.patient_id) == patient_id))
    now = datetime.now(UTC)
    for outcome in outcomes:
        session.add(RequirementMatch(
            patient_id=patient_id, requirement_id=outcome.requirement_id, program=outcome.program,
            title=outcome.title[:200], state=outcome.state, document_id=outcome.document_id,
            fact_id=outcome.fact_id, evidence_date=outcome.evidence_date,
            evidence=json.loads(json.dumps(outcome.evidence, default=str)) if outcome.evidence else None,
            updated_at=now,
        ))
    return outcomes
