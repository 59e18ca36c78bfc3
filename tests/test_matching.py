"""Requirement matching over facts built directly (the extractor has its own tests): each case
says exactly which facts a document holds, so a change in extraction cannot move these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from medupload.pipeline.extraction import ExtractedFact
from medupload.pipeline.matching import (
    DocumentFacts,
    Outcome,
    available_programs,
    evaluate,
    load_program,
)

TODAY = date(2026, 3, 10)


def fact(kind: str, concept: str, value: str | None = None, unit: str | None = None, *,
         date: str | None = None, section: str | None = None, **flags: Any) -> ExtractedFact:
    """A fact as the extractor returns it; ``flags``: negated, family, uncertain, confidence, …"""
    return ExtractedFact(kind=kind, concept=concept, code=None, system=None, text=concept, start=0,
                         end=len(concept), value=value, unit=unit, date=date, section=section, **flags)


def document(document_id: str, *facts: ExtractedFact, document_type: str = "lab_report",
             document_date: str | None = "2026-03-01", ocr_confidence: float | None = 0.95) -> DocumentFacts:
    return DocumentFacts(document_id, document_type, document_date, ocr_confidence, list(facts))


def lab(concept: str, value: str, unit: str, collected: str, **flags: Any) -> ExtractedFact:
    return fact("lab", concept, value, unit, date=collected, section="results", **flags)


def outcomes(program: str, *documents: DocumentFacts) -> dict[str, Outcome]:
    return {o.requirement_id.split("/", 1)[1]: o for o in evaluate(load_program(program), documents, TODAY)}


def test_programs_are_data() -> None:
    assert {"diabetes-annual", "pre-op"} <= set(available_programs())
    diabetes = load_program("diabetes-annual")
    assert [r.id for r in diabetes] == [
        "diabetes-annual/hba1c",
        "diabetes-annual/lipid-panel",
        "diabetes-annual/kidney-function",
        "diabetes-annual/urine-albumin",
        "diabetes-annual/medication-list",
    ]
    assert {r.id: r.max_age_days for r in load_program("pre-op")}["pre-op/cbc"] == 30
    with pytest.raises(KeyError):
        load_program("no-such-program")


def test_everything_missing_without_documents() -> None:
    result = outcomes("diabetes-annual")
    assert {o.state for o in result.values()} == {"missing"}
    assert all(o.document_id is None and o.evidence is None for o in result.values())


def test_satisfied_with_evidence() -> None:
    labs = document(
        "d_lab",
        lab("hemoglobin a1c", "7.8", "%", "2026-03-02"),
        lab("ldl cholesterol", "112", "mg/dL", "2026-03-02"),
        lab("egfr", "71", "mL/min/1.73m2", "2026-03-02"),
        lab("urine albumin-creatinine ratio", "24", "mg/g", "2026-03-02"),
        document_date="2026-03-05",
    )
    meds = document("d_meds", fact("medication", "metformin", "500", "mg", section="medications"),
                    document_type="medication_list", document_date="2026-02-20")
    result = outcomes("diabetes-annual", labs, meds)
    assert {key: o.state for key, o in result.items()} == {
        "hba1c": "satisfied",
        "lipid-panel": "satisfied",
        "kidney-function": "satisfied",
        "urine-albumin": "satisfied",
        "medication-list": "satisfied",
    }
    hba1c = result["hba1c"]
    assert hba1c.document_id == "d_lab"
    assert hba1c.evidence_date == "2026-03-02"  # the collection date, not the report date
    assert hba1c.evidence == {
        "kind": "lab",
        "concept": "hemoglobin a1c",
        "value": "7.8",
        "unit": "%",
        "date": "2026-03-02",
        "document_type": "lab_report",
    }
    assert result["medication-list"].document_id == "d_meds"


def test_a_fact_without_its_own_date_takes_the_documents() -> None:
    undated = document("d_1", fact("lab", "creatinine", "1.0", "mg/dL"), document_date="2026-01-04")
    kidney = outcomes("diabetes-annual", undated)["kidney-function"]
    assert (kidney.state, kidney.evidence_date) == ("satisfied", "2026-01-04")


def test_old_hba1c_is_expired_but_lipids_still_count() -> None:
    old = document("d_old", lab("hemoglobin a1c", "6.9", "%", "2025-10-01"),
                   lab("ldl cholesterol", "98", "mg/dL", "2025-10-01"))
    result = outcomes("diabetes-annual", old)
    assert result["hba1c"].state == "expired"
    assert result["hba1c"].evidence_date == "2025-10-01"
    assert result["lipid-panel"].state == "satisfied"
    assert result["urine-albumin"].state == "missing"


def test_low_confidence_needs_review() -> None:
    blurred = document("d_blur", lab("hemoglobin a1c", "7.4", "%", "2026-03-01", confidence=0.41),
                       lab("creatinine", "1.0", "mg/dL", "2026-03-01"))
    result = outcomes("diabetes-annual", blurred)
    assert result["hba1c"].state == "needs_review"
    assert result["hba1c"].document_id == "d_blur"
    assert result["kidney-function"].state == "satisfied"
    # A poorly read document puts everything found in it under review.
    poorly_read = document("d_bad", lab("creatinine", "1.0", "mg/dL", "2026-03-01"), ocr_confidence=0.5)
    assert outcomes("diabetes-annual", poorly_read)["kidney-function"].state == "needs_review"


@pytest.mark.parametrize("flag", ["uncertain", "hypothetical"])
def test_uncertain_or_hypothetical_needs_review(flag: str) -> None:
    ecg = document("d_plan", fact("procedure", "electrocardiogram", **{flag: True}), document_type="other")
    assert outcomes("pre-op", ecg)["ecg"].state == "needs_review"


@pytest.mark.parametrize("flag", ["negated", "family"])
def test_negated_and_family_facts_never_satisfy(flag: str) -> None:
    ecg = document("d_neg", fact("procedure", "electrocardiogram", **{flag: True}), document_type="other")
    assert outcomes("pre-op", ecg)["ecg"].state == "missing"


def test_no_known_allergies_documents_the_allergy_status() -> None:
    nkda = document("d_nkda", fact("allergy", "no known drug allergies"), document_type="other")
    allergies = outcomes("pre-op", nkda)["allergies"]
    assert allergies.state == "satisfied" and allergies.evidence["concept"] == "no known drug allergies"


def test_most_recent_evidence_wins() -> None:
    older = document("d_jan", lab("hemoglobin a1c", "8.2", "%", "2026-01-05"))
    newer = document("d_feb", lab("hemoglobin a1c", "7.5", "%", "2026-02-20"))
    for order in ((older, newer), (newer, older)):
        hba1c = outcomes("diabetes-annual", *order)["hba1c"]
        assert (hba1c.state, hba1c.document_id, hba1c.evidence["value"]) == ("satisfied", "d_feb", "7.5")


def test_current_evidence_beats_a_newer_doubtful_one() -> None:
    clean = document("d_clean", lab("hemoglobin a1c", "7.0", "%", "2026-02-01"))
    blurred = document("d_blur", lab("hemoglobin a1c", "6.8", "%", "2026-03-01", confidence=0.3))
    hba1c = outcomes("diabetes-annual", clean, blurred)["hba1c"]
    assert (hba1c.state, hba1c.document_id) == ("satisfied", "d_clean")


def test_cbc_window_is_30_days() -> None:
    recent = document("d_cbc", lab("hemoglobin", "13.1", "g/dL", "2026-03-01"))
    stale = document("d_dc", lab("hemoglobin", "12.4", "g/dL", "2026-01-05"),
                     document_type="discharge_summary")
    assert outcomes("pre-op", recent, stale)["cbc"].document_id == "d_cbc"
    assert outcomes("pre-op", stale)["cbc"].state == "expired"


def test_a_medication_list_document_or_a_medications_section_counts() -> None:
    as_document = document("d_list", document_type="medication_list", document_date="2026-01-10")
    in_section = document("d_dc", fact("medication", "lisinopril", "10", "mg", section="medications"),
                          document_type="discharge_summary", document_date="2026-01-10")
    for evidence in (as_document, in_section):
        assert outcomes("pre-op", evidence)["medication-list"].state == "satisfied"


def test_narrative_medication_is_not_a_medication_list() -> None:
    letter = document("d_letter", fact("medication", "metformin", "500", "mg", section=None),
                      document_type="referral_letter")
    assert outcomes("diabetes-annual", letter)["medication-list"].state == "missing"


@dataclass
class FactRow:
    """Stands in for a database row: attribute access only, with an id."""

    id: int
    kind: str
    concept: str
    value: str | None
    unit: str | None
    date: str | None
    section: str | None = None
    negated: bool = False
    family: bool = False
    uncertain: bool = False
    hypothetical: bool = False
    confidence: float = 1.0


def test_rows_with_ids_are_accepted() -> None:
    row = FactRow(id=41, kind="lab", concept="hemoglobin a1c", value="6.6", unit="%", date="2026-02-02")
    doc = DocumentFacts("d_row", "lab_report", None, None, [row])
    hba1c = outcomes("diabetes-annual", doc)["hba1c"]
    assert (hba1c.state, hba1c.fact_id, hba1c.evidence_date) == ("satisfied", 41, "2026-02-02")
