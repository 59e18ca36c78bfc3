"""Staff review of facts: the review rules of matching, corrections with provenance, re-matching,
and the ``requirements_update`` notice on the patient's Redis stream (real DB and Redis)."""

from __future__ import annotations

import json
import secrets
from datetime import date

import pytest
import redis
from sqlmodel import select
from support import make_patient

from medupload.db import session_scope
from medupload.models import Document, Fact, ProgramEnrollment, RequirementMatch
from medupload.pipeline import requirements, review, runner
from medupload.pipeline.matching import Requirement, evaluate
from medupload.progress.emitter import stream_name
from medupload.settings import get_settings

TODAY = date(2026, 12, 1)


def _document(patient_id: str, *, ocr_confidence: float = 0.95, status: str = "processed") -> str:
    with session_scope() as session:
        doc = Document(patient_id=patient_id, filename="x.png", content_type="image/png", size=1,
                       sha256=secrets.token_hex(32), storage_path="/nonexistent", status=status,
                       stage="matching_complete", document_type="lab_report", document_date="2026-11-15",
                       ocr_confidence=ocr_confidence)
        session.add(doc)
        session.flush()
        return doc.id


def _fact(document_id: str, patient_id: str, kind: str, concept: str, **values: object) -> int:
    with session_scope() as session:
        fact = Fact(document_id=document_id, patient_id=patient_id, kind=kind, concept=concept,
                    text=concept, start=0, end=len(concept), **values)  # type: ignore[arg-type]
        session.add(fact)
        session.flush()
        assert fact.id is not None
        return fact.id


def _states(patient_id: str) -> dict[str, str]:
    with session_scope() as session:
        rows = session.exec(select(RequirementMatch).where(RequirementMatch.patient_id == patient_id)).all()
        return {row.requirement_id.split("/")[1]: row.state for row in rows}


@pytest.fixture
def patient(any_db: str) -> str:
    pid = make_patient()
    with session_scope() as session:
        session.add(ProgramEnrollment(patient_id=pid, program="diabetes-annual"))
        session.add(ProgramEnrollment(patient_id=pid, program="pre-op"))
    return pid


def _rematch(patient_id: str) -> None:
    with session_scope() as session:
        requirements.rematch_patient(session, patient_id, TODAY)


def test_confirming_a_low_confidence_value_satisfies_and_keeps_provenance(patient: str) -> None:
    doc = _document(patient, ocr_confidence=0.45)  # a poor phone photo
    fid = _fact(doc, patient, "lab", "hemoglobin a1c", value="7.2", unit="%", date="2026-11-15",
                confidence=0.4)
    _rematch(patient)
    assert _states(patient)["hba1c"] == "needs_review"

    fact = review.change_fact(patient, doc, fid, "confirm", {}, "u_staff", today=TODAY)
    assert fact.status == "confirmed" and fact.reviewed_by == "u_staff" and fact.reviewed_at is not None
    assert fact.previous is not None and fact.previous[0]["status"] == "extracted"
    assert _states(patient)["hba1c"] == "satisfied"


def test_correcting_a_misread_value_records_the_previous_one(patient: str) -> None:
    doc = _document(patient, ocr_confidence=0.45)
    fid = _fact(doc, patient, "lab", "hemoglobin a1c", value=None, date="2026-11-15", confidence=0.3)
    _rematch(patient)
    assert _states(patient)["hba1c"] == "needs_review"

    review.change_fact(patient, doc, fid, "correct", {"value": "7.2", "unit": "%"}, "u_staff", today=TODAY)
    with session_scope() as session:
        fact = session.get(Fact, fid)
        assert fact is not None
        assert (fact.status, fact.value, fact.unit, fact.origin) == ("corrected", "7.2", "%", "extracted")
        assert fact.previous == [{
            "status": "extracted", "kind": "lab", "concept": "hemoglobin a1c", "code": None, "system": None,
            "value": None, "unit": None, "date": "2026-11-15", "negated": False, "historical": False,
            "family": False, "reviewed_by": None, "reviewed_at": None,
        }]
        match = session.get(RequirementMatch, (patient, "diabetes-annual/hba1c"))
        assert match is not None and match.state == "satisfied" and match.fact_id == fid
        assert match.evidence is not None and match.evidence["value"] == "7.2"


def test_rejected_fact_never_counts(patient: str) -> None:
    doc = _document(patient)
    allergy = _fact(doc, patient, "allergy", "penicillin", date="2026-11-15")
    _rematch(patient)
    assert _states(patient)["allergies"] == "satisfied"
    review.change_fact(patient, doc, allergy, "reject", {}, "u_staff", today=TODAY)
    assert _states(patient)["allergies"] == "missing"

    # A rejected condition is gone from matching's input, whatever requirement would look at it.
    condition = _fact(doc, patient, "condition", "type 2 diabetes mellitus", date="2026-11-15")
    review.change_fact(patient, doc, condition, "reject", {}, "u_staff", today=TODAY)
    with session_scope() as session:
        document = session.get(Document, doc)
        facts = session.exec(select(Fact).where(Fact.document_id == doc)).all()
        bundle = requirements.matching_bundle([document], {doc: facts})  # type: ignore[list-item]
    assert all(f.concept != "type 2 diabetes mellitus" for d in bundle for f in d.facts)
    needs_condition = Requirement(id="t/dm", program="t", title="Diabetes", kinds=("condition",))
    assert evaluate([needs_condition], bundle, TODAY)[0].state == "missing"


def test_correcting_the_concept_takes_code_from_the_vocabulary(patient: str) -> None:
    doc = _document(patient)
    fid = _fact(doc, patient, "lab", "glucose", value="7.2", unit="%", date="2026-11-15")
    _rematch(patient)
    assert _states(patient)["hba1c"] == "missing"
    review.change_fact(patient, doc, fid, "correct", {"concept": "Hemoglobin A1c"}, "u_staff", today=TODAY)
    with session_scope() as session:
        fact = session.get(Fact, fid)
        assert fact is not None
        assert (fact.concept, fact.code, fact.system) == ("hemoglobin a1c", "4548-4", "LOINC")
    assert _states(patient)["hba1c"] == "satisfied"

    with pytest.raises(review.ReviewError) as unknown:
        review.change_fact(patient, doc, fid, "correct", {"concept": "unobtainium"}, "u_staff", today=TODAY)
    assert (unknown.value.http_status, unknown.value.code) == (422, "review.unknown_concept")
    with pytest.raises(review.ReviewError) as bad_date:
        review.change_fact(patient, doc, fid, "correct", {"date": "15/11/2026"}, "u_staff", today=TODAY)
    assert bad_date.value.code == "review.invalid"


def test_added_fact_satisfies_and_is_marked_added(patient: str) -> None:
    doc = _document(patient)
    _rematch(patient)
    assert _states(patient)["ecg"] == "missing"
    fact = review.add_fact(patient, doc, "procedure", {"concept": "electrocardiogram", "date": "2026-11-20"},
                           "u_staff", today=TODAY)
    assert (fact.status, fact.origin, fact.code) == ("added", "added", "11524-6")
    assert _states(patient)["ecg"] == "satisfied"
    # Confirming an added fact keeps it "added": its origin is a person either way.
    confirmed = review.change_fact(patient, doc, fact.id or 0, "confirm", {}, "u_staff", today=TODAY)
    assert confirmed.status == "added"


def test_changes_refused_for_other_patients_and_documents_in_flight(patient: str) -> None:
    doc = _document(patient)
    fid = _fact(doc, patient, "lab", "hemoglobin a1c", value="7.2", date="2026-11-15")
    other = make_patient("other")
    with pytest.raises(review.ReviewError) as wrong_patient:
        review.change_fact(other, doc, fid, "confirm", {}, "u_staff")
    assert wrong_patient.value.http_status == 404
    busy = _document(patient, status="processing")
    busy_fact = _fact(busy, patient, "lab", "glucose", value="99")
    with pytest.raises(review.ReviewError) as in_flight:
        review.change_fact(patient, busy, busy_fact, "reject", {}, "u_staff")
    assert (in_flight.value.http_status, in_flight.value.code) == (409, "conflict.processing")
    failed = _document(patient, status="failed")
    failed_fact = _fact(failed, patient, "lab", "glucose", value="99")
    with pytest.raises(review.ReviewError) as not_read:
        review.change_fact(patient, failed, failed_fact, "confirm", {}, "u_staff")
    assert (not_read.value.http_status, not_read.value.code) == (409, "review.not_processed")


def test_a_change_publishes_requirements_update_with_ids_only(patient: str) -> None:
    doc = _document(patient)
    fid = _fact(doc, patient, "lab", "hemoglobin a1c", value="7.2", date="2026-11-15")
    client = redis.Redis.from_url(get_settings().redis_url, decode_responses=True)
    key = stream_name(patient)
    before = client.xlen(key)
    review.change_fact(patient, doc, fid, "reject", {}, "u_staff", today=TODAY)
    entries = client.xrange(key)
    assert len(entries) == before + 1
    fields = entries[-1][1]
    assert fields["kind"] == "requirements_update"
    assert fields["data"] == json.dumps({"patient_id": patient})
    client.close()


def test_vocabulary_search_prefers_prefix_matches() -> None:
    found = review.search_concepts("lab", "a1c")
    assert found[0].concept == "hemoglobin a1c" and found[0].unit == "%"
    assert all(c.kind == "lab" for c in found)
    allergy = [c.concept for c in review.search_concepts("allergy", "penic")]
    assert "penicillin" in allergy
    assert review.search_concepts("unknown-kind", "a") == []


def test_document_list_says_when_the_clinic_reviewed_it(patient: str) -> None:
    from medupload import records

    reviewed_doc = _document(patient)
    untouched = _document(patient)
    fid = _fact(reviewed_doc, patient, "lab", "hemoglobin a1c", value="7.2", date="2026-11-15")
    _fact(untouched, patient, "lab", "glucose", value="99", date="2026-11-15")
    review.change_fact(patient, reviewed_doc, fid, "confirm", {}, "u_staff", today=TODAY)
    by_id = {d.id: d for d in records.list_documents(patient)}
    assert by_id[untouched].reviewed_at is None
    stamp = by_id[reviewed_doc].reviewed_at
    assert stamp is not None and stamp.tzinfo is not None


def test_a_rerun_keeps_what_staff_said_and_its_matching_honours_it(patient: str) -> None:
    """Retry re-extracts the document: the machine facts are replaced, but a rejection and a
    correction stay (the extractor finding the same spans again adds nothing), and the runner's
    matching step applies the review like staff's own re-match does."""
    from medupload.pipeline.extraction import ExtractedFact, Extraction

    doc = _document(patient)
    hba1c = ExtractedFact("lab", "hemoglobin a1c", None, None, "HbA1c", 0, 5, value="71", unit="%",
                          date="2026-11-15", confidence=0.9)  # OCR read 7.1 as 71
    wrong = ExtractedFact("condition", "type 2 diabetes mellitus", "E11.9", "ICD-10-CM", "DM2", 10, 13)
    other = ExtractedFact("medication", "metformin", None, None, "metformin", 20, 29)
    extraction = Extraction([hba1c, wrong, other], "lab_report", "2026-11-15")
    runner.store_facts(doc, extraction)
    with session_scope() as session:
        ids = {f.concept: f.id for f in session.exec(select(Fact).where(Fact.document_id == doc)).all()}
    review.change_fact(patient, doc, ids["hemoglobin a1c"], "correct", {"value": "7.1"}, "u_staff",
                       today=TODAY)
    review.change_fact(patient, doc, ids["type 2 diabetes mellitus"], "reject", {}, "u_staff", today=TODAY)

    runner.store_facts(doc, extraction)  # the retry's extraction finds the same three again
    with session_scope() as session:
        facts = session.exec(select(Fact).where(Fact.document_id == doc)).all()
    by_concept = {f.concept: f for f in facts}
    assert sorted(f.concept for f in facts) == sorted(ids)  # nothing doubled
    assert (by_concept["hemoglobin a1c"].status, by_concept["hemoglobin a1c"].value) == ("corrected", "7.1")
    assert by_concept["type 2 diabetes mellitus"].status == "rejected"
    assert by_concept["metformin"].status == "extracted"

    satisfied, total = runner._match(doc, TODAY)
    with session_scope() as session:
        rows = session.exec(select(RequirementMatch).where(RequirementMatch.patient_id == patient)).all()
    assert _states(patient)["hba1c"] == "satisfied"
    assert total == len(rows) and satisfied == sum(row.state == "satisfied" for row in rows) >= 1
