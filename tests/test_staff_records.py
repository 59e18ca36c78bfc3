"""Staff read queries on SQLite and PostgreSQL: the dashboard page (search by name/MRN, status
filter, counts, paging), the patient list with requirement counts, the review queue (oldest first,
no duplicates, paged)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from medupload import staff_records
from medupload.db import session_scope
from medupload.models import Document, Fact, Patient, ProgramEnrollment, RequirementMatch

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _seed() -> dict[str, str]:
    ids: dict[str, str] = {}
    with session_scope() as session:
        for key, name, mrn in [("ann", "Ann Archer", "MRN-1"), ("ben", "Ben Baker", None),
                               ("cat", "Cat Carter", "MRN-3")]:
            patient = Patient(display_name=name, mrn=mrn, date_of_birth=date(1960, 1, 2))
            session.add(patient)
            session.flush()
            ids[key] = patient.id
            session.add(ProgramEnrollment(patient_id=patient.id, program="diabetes-annual"))
        statuses = ["processed", "failed", "processing", "processed", "received", "processed"]
        for n, status in enumerate(statuses):
            owner = ids[["ann", "ben", "cat"][n % 3]]
            doc = Document(id=f"d_seed{n}", patient_id=owner, filename=f"f{n}.png", content_type="image/png",
                           size=1, sha256=f"{n:064x}", storage_path="-", status=status,
                           created_at=T0 + timedelta(hours=n), updated_at=T0 + timedelta(hours=n))
            session.add(doc)
        session.flush()
        # Ann: HbA1c needs review (doc 0); Cat: a low-confidence fact on doc 5 (older than nothing).
        low = Fact(document_id="d_seed0", patient_id=ids["ann"], kind="lab", concept="hemoglobin a1c",
                   text="a1c", start=0, end=3, confidence=0.3)
        other_low = Fact(document_id="d_seed5", patient_id=ids["cat"], kind="lab", concept="glucose",
                         text="glu", start=0, end=3, confidence=0.4)
        fine = Fact(document_id="d_seed3", patient_id=ids["ann"], kind="lab", concept="glucose",
                    text="glu", start=0, end=3, confidence=0.95)
        session.add_all([low, other_low, fine])
        session.flush()
        session.add(RequirementMatch(patient_id=ids["ann"], requirement_id="diabetes-annual/hba1c",
                                     program="diabetes-annual", title="HbA1c", state="needs_review",
                                     document_id="d_seed0", fact_id=low.id))
        session.add(RequirementMatch(patient_id=ids["ann"], requirement_id="diabetes-annual/lipid-panel",
                                     program="diabetes-annual", title="Lipids", state="satisfied",
                                     document_id="d_seed3", fact_id=fine.id))
    return ids


def test_dashboard_page_search_filter_counts_paging(any_db: str) -> None:
    ids = _seed()
    page = staff_records.dashboard_page()
    assert [r.id for r in page.rows] == [f"d_seed{n}" for n in range(5, -1, -1)]
    assert page.counts == {"received": 1, "processing": 1, "processed": 3, "failed": 1,
                           "in_flight": 2, "all": 6}
    assert page.rows[0].patient_name == "Cat Carter" and page.rows[0].patient_mrn == "MRN-3"

    by_name = staff_records.dashboard_page(q="archer")
    assert {r.patient_id for r in by_name.rows} == {ids["ann"]} and by_name.total == 2
    assert by_name.counts["processed"] == 2
    by_mrn = staff_records.dashboard_page(q="MRN-3")
    assert {r.patient_id for r in by_mrn.rows} == {ids["cat"]}
    assert staff_records.dashboard_page(q="MRN").rows == []  # an MRN matches whole, never by part
    assert [r.id for r in staff_records.dashboard_page(q=ids["ben"]).rows] == ["d_seed4", "d_seed1"]

    in_flight = staff_records.dashboard_page(status="in_flight")
    assert {r.status for r in in_flight.rows} == {"received", "processing"} and in_flight.total == 2
    second = staff_records.dashboard_page(limit=4, offset=4)
    assert [r.id for r in second.rows] == ["d_seed1", "d_seed0"] and second.total == 6
    ann = next(p for p in page.patients if p.patient_id == ids["ann"])
    assert (ann.satisfied, ann.needs_review) == (1, 1)


def test_patient_page_counts_requirements_in_grouped_queries(any_db: str) -> None:
    ids = _seed()
    page = staff_records.patient_page()
    assert [p.display_name for p in page.rows] == ["Ann Archer", "Ben Baker", "Cat Carter"]
    ann, ben = page.rows[0], page.rows[1]
    assert (ann.total, ann.satisfied, ann.needs_review, ann.missing) == (5, 1, 1, 3)
    assert (ben.total, ben.satisfied, ben.missing) == (5, 0, 5)
    assert ann.date_of_birth == date(1960, 1, 2) and ann.mrn == "MRN-1"
    assert [p.id for p in staff_records.patient_page(q="mrn-1").rows] == []  # MRN: exact, case kept
    assert [p.id for p in staff_records.patient_page(q="MRN-1").rows] == [ids["ann"]]
    assert staff_records.patient_page(limit=1, offset=2).rows[0].id == ids["cat"]


def test_review_queue_oldest_first_without_duplicates(any_db: str) -> None:
    ids = _seed()
    queue = staff_records.review_queue()
    # Ann's low HbA1c fact is the evidence of a needs_review requirement: one item, not two.
    assert [(i.kind, i.patient_id) for i in queue.items] == [
        ("requirement", ids["ann"]), ("fact", ids["cat"])]
    assert queue.total == 2 and queue.items[0].since < queue.items[1].since
    assert queue.items[0].patient_name == "Ann Archer" and queue.items[1].title == "lab: glucose"
    assert [i.kind for i in staff_records.review_queue(limit=1, offset=1).items] == ["fact"]
    assert [i.patient_id for i in staff_records.review_queue(patient_id=ids["cat"]).items] == [ids["cat"]]
    # A reviewed fact leaves the queue.
    with session_scope() as session:
        fact = session.get(Fact, staff_records.review_queue().items[1].fact_id)
        assert fact is not None
        fact.status = "confirmed"
        session.add(fact)
    assert staff_records.review_queue().total == 1
