"""Requirement matching over facts produced by the real extractor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from clinical_texts import CASES

from medupload.pipeline.extraction import extract
from medupload.pipeline.matching import (
    DocumentFacts,
    Outcome,
    available_programs,
    evaluate,
    load_program,
)

TODAY = date(2026, 3, 10)
TEXTS = {case.name: case.text for case in CASES}


def document(
    document_id: str,
    text: str,
    *,
    words: list[tuple[int, int, float]] | None = None,
    ocr_confidence: float | None = 0.95,
) -> DocumentFacts:
    result = extract(text, word_confidences=words or (), today=TODAY)
    return DocumentFacts(
        document_id, result.document_type, result.document_date, ocr_confidence, result.facts
    )


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
    labs = document("d_lab", TEXTS["lab_report_diabetes"])
    meds = document("d_meds", TEXTS["medication_list_brands"])
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


def test_old_hba1c_is_expired_but_lipids_still_count() -> None:
    old = "LAB REPORT\nCollected: 10/01/2025\nHbA1c 6.9 %\nLDL 98 mg/dL\n"
    result = outcomes("diabetes-annual", document("d_old", old))
    assert result["hba1c"].state == "expired"
    assert result["hba1c"].evidence_date == "2025-10-01"
    assert result["lipid-panel"].state == "satisfied"
    assert result["urine-albumin"].state == "missing"


def test_low_ocr_confidence_needs_review() -> None:
    text = "LAB REPORT\nCollected: 03/01/2026\nHbA1c 7.4 %\nCreatinine 1.0 mg/dL\n"
    start = text.index("7.4")
    blurred = document("d_blur", text, words=[(start, start + 3, 0.41)])
    result = outcomes("diabetes-annual", blurred)
    assert result["hba1c"].state == "needs_review"
    assert result["hba1c"].document_id == "d_blur"
    assert result["kidney-function"].state == "satisfied"
    # A poorly read document puts everything found in it under review.
    whole = outcomes("diabetes-annual", document("d_bad", text, ocr_confidence=0.5))
    assert whole["kidney-function"].state == "needs_review"


def test_uncertain_or_hypothetical_needs_review() -> None:
    text = "Note\nDate: 03/01/2026\nPossible ECG changes discussed. Scheduled for ECG next week.\n"
    facts = document("d_plan", text)
    ecgs = [f for f in facts.facts if f.concept == "electrocardiogram"]
    assert ecgs and all(f.uncertain or f.hypothetical for f in ecgs)
    assert outcomes("pre-op", facts)["ecg"].state == "needs_review"


def test_negated_and_family_facts_never_satisfy() -> None:
    text = "Pre-operative note\nDate: 03/01/2026\nECG not performed.\nNo known drug allergies.\n"
    result = outcomes("pre-op", document("d_neg", text))
    assert result["ecg"].state == "missing"
    assert result["allergies"].state == "satisfied"  # NKDA documents the allergy status
    family = "Family history\nDate: 03/01/2026\nHer mother had an ECG last year.\n"
    assert outcomes("pre-op", document("d_fam", family))["ecg"].state == "missing"


def test_most_recent_evidence_wins() -> None:
    older = document("d_jan", "LAB REPORT\nCollected: 01/05/2026\nHbA1c 8.2 %\n")
    newer = document("d_feb", "LAB REPORT\nCollected: 02/20/2026\nHbA1c 7.5 %\n")
    for order in ((older, newer), (newer, older)):
        hba1c = outcomes("diabetes-annual", *order)["hba1c"]
        assert (hba1c.state, hba1c.document_id, hba1c.evidence["value"]) == ("satisfied", "d_feb", "7.5")


def test_current_evidence_beats_a_newer_doubtful_one() -> None:
    clean = document("d_clean", "LAB REPORT\nCollected: 02/01/2026\nHbA1c 7.0 %\n")
    text = "LAB REPORT\nCollected: 03/01/2026\nHbA1c 6.8 %\n"
    blurred = document("d_blur", text, words=[(text.index("6.8"), text.index("6.8") + 3, 0.3)])
    hba1c = outcomes("diabetes-annual", clean, blurred)["hba1c"]
    assert (hba1c.state, hba1c.document_id) == ("satisfied", "d_clean")


def test_pre_op_from_cbc_ecg_and_discharge_summary() -> None:
    cbc = document("d_cbc", TEXTS["preop_cbc_ocr"])
    ecg = document("d_ecg", TEXTS["ecg_report"])
    discharge = document("d_dc", TEXTS["discharge_summary"])
    result = outcomes("pre-op", cbc, ecg, discharge)
    assert result["cbc"].state == "satisfied" and result["cbc"].document_id == "d_cbc"
    assert result["ecg"].state == "satisfied" and result["ecg"].document_id == "d_ecg"
    assert result["allergies"].state == "satisfied" and result["allergies"].evidence["concept"] == (
        "no known drug allergies"
    )
    # Discharge medications are a medications section of a 2-month-old document: current.
    assert result["medication-list"].state == "satisfied"
    # The discharge summary's haemoglobin (01/05) is too old for a 30-day CBC on its own.
    assert outcomes("pre-op", discharge)["cbc"].state == "expired"


def test_narrative_medication_is_not_a_medication_list() -> None:
    text = "Clinic letter\nDate: 03/01/2026\nShe tried metformin 500 mg twice daily last year.\n"
    assert outcomes("diabetes-annual", document("d_letter", text))["medication-list"].state == "missing"


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
