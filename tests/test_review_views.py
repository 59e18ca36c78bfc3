"""What the review pages render, from plain read models (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from medupload.records import FactOut
from medupload.staff_records import PatientRow, ReviewItem
from medupload.ui.review_views import fact_groups, fact_view, patient_view, review_item_view


def _fact(**values: object) -> FactOut:
    base: dict[str, object] = dict(
        id=7, document_id="d_1", kind="lab", concept="hemoglobin a1c", code="4548-4", system="LOINC",
        text="HbA1c ?.2 %", start=0, end=10, value=None, unit=None, route=None, frequency=None, date=None,
        section=None, negated=False, historical=False, family=False, hypothetical=False, uncertain=False,
        confidence=0.4)
    return FactOut.model_validate(base | values)


def test_low_confidence_marker_only_until_reviewed() -> None:
    unreviewed = fact_view(_fact())
    assert (unreviewed.testid, unreviewed.confidence) == ("fact-7", "low")
    assert unreviewed.status_label == "Not reviewed"
    assert unreviewed.confidence_label == "Low confidence (40%)" and unreviewed.provenance == ""
    corrected = fact_view(_fact(status="corrected", value="7.2", unit="%", reviewed_by="u_1",
                                reviewed_at=datetime(2026, 12, 1, tzinfo=UTC),
                                previous=[{"concept": "hemoglobin a1c", "value": "7.7", "unit": "%"}]))
    assert corrected.confidence == "high"
    assert corrected.provenance == "Corrected by staff on 01 Dec 2026 (was: hemoglobin a1c 7.7 %)"
    assert fact_view(_fact(family=True, negated=True)).flags == "negated, family history"


def test_groups_in_fixed_kind_order() -> None:
    groups = fact_groups([_fact(id=1, kind="lab"), _fact(id=2, kind="condition", concept="asthma"),
                          _fact(id=3, kind="lab", concept="glucose")])
    assert [(g.kind, [f.id for f in g.facts]) for g in groups] == [("condition", [2]), ("lab", [1, 3])]


def test_patient_and_review_item_views_link_to_the_pages() -> None:
    row = PatientRow(id="p_1", display_name="Ann Archer", date_of_birth=date(1961, 4, 2), mrn="MRN-1",
                     satisfied=2, total=5, missing=3)
    view = patient_view(row)
    assert (view.testid, view.dob, view.percent, view.href) == (
        "staff-patient-p_1", "02 Apr 1961", 40, "/staff/patients/p_1")
    item = ReviewItem(key="f-9", kind="fact", patient_id="p_1", patient_name="Ann Archer", document_id="d_1",
                      fact_id=9, requirement_id=None, title="lab: glucose", confidence=0.3,
                      since=datetime(2026, 11, 30, tzinfo=UTC))
    assert review_item_view(item).href == "/documents/d_1"
    assert review_item_view(item).testid == "review-item-f-9"


def test_a_located_fact_gets_a_percent_box_and_an_unlocated_one_none() -> None:
    located = fact_view(_fact(page=2, bbox=[0.1, 0.25, 0.2, 0.03]))
    assert located.page == 2
    # The word box in percent of the page, with a 0.4 % margin so the frame does not cut the ink.
    assert (located.box_left, located.box_top, located.box_width, located.box_height) == \
        ("9.600%", "24.600%", "20.800%", "3.800%")
    edge = fact_view(_fact(page=1, bbox=[0.0, 0.99, 0.5, 0.01]))
    assert (edge.box_left, edge.box_top, edge.box_height) == ("0.000%", "98.600%", "1.400%")  # clamped
    for missing in (_fact(), _fact(page=1), _fact(page=1, bbox=[0.1, 0.2]), _fact(bbox=[0.1, 0.2, 0.1, 0.1])):
        view = fact_view(missing)
        assert (view.page, view.box_left) == (0, "")
