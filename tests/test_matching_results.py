"""A requirement for a result is met only by a result (issue 9).

Facts are built directly (the dataclass the extractor returns), so these tests are about the
matching rule alone: a lab named without a value ("HbA1c - see comment, sample hemolysed, repeat
sent") is ``needs_review`` at most, never ``satisfied``; a qualitative result counts.
"""

from __future__ import annotations

from datetime import date

from medupload.pipeline.extraction import ExtractedFact
from medupload.pipeline.matching import DocumentFacts, Requirement, evaluate_one, load_program

TODAY = date(2026, 3, 10)


def _lab(
    concept: str, value: str | None, *, when: str = "2026-03-01", unit: str | None = None
) -> ExtractedFact:
    return ExtractedFact(
        kind="lab",
        concept=concept,
        code=None,
        system="LOINC",
        text=concept,
        start=0,
        end=len(concept),
        value=value,
        unit=unit,
        date=when,
    )


def _requirement(program: str, key: str) -> Requirement:
    return next(r for r in load_program(program) if r.id == f"{program}/{key}")


def _document(*facts: ExtractedFact, doc_id: str = "d1", doc_type: str = "lab_report") -> DocumentFacts:
    return DocumentFacts(doc_id, doc_type, "2026-03-01", 0.95, list(facts))


def test_a_lab_mentioned_without_a_result_needs_review_not_satisfied() -> None:
    hba1c = _requirement("diabetes-annual", "hba1c")
    outcome = evaluate_one(hba1c, [_document(_lab("hemoglobin a1c", None))], TODAY)
    assert outcome.state == "needs_review"
    assert outcome.evidence is not None and outcome.evidence["value"] is None


def test_a_lab_with_a_value_satisfies() -> None:
    hba1c = _requirement("diabetes-annual", "hba1c")
    outcome = evaluate_one(hba1c, [_document(_lab("hemoglobin a1c", "7.2", unit="%"))], TODAY)
    assert outcome.state == "satisfied"
    assert outcome.evidence is not None and outcome.evidence["value"] == "7.2"


def test_a_result_anywhere_wins_over_a_later_bare_mention() -> None:
    hba1c = _requirement("diabetes-annual", "hba1c")
    documents = [
        _document(_lab("hemoglobin a1c", "6.9", when="2026-02-01"), doc_id="old"),
        _document(_lab("hemoglobin a1c", None, when="2026-03-05"), doc_id="new"),
    ]
    outcome = evaluate_one(hba1c, documents, TODAY)
    assert outcome.state == "satisfied"
    assert outcome.document_id == "old"


def test_an_empty_value_is_not_a_result() -> None:
    creatinine = _requirement("diabetes-annual", "kidney-function")
    outcome = evaluate_one(creatinine, [_document(_lab("creatinine", "  "))], TODAY)
    assert outcome.state == "needs_review"


def test_a_qualitative_result_counts() -> None:
    cbc = _requirement("pre-op", "cbc")
    outcome = evaluate_one(cbc, [_document(_lab("hemoglobin", "within normal limits"))], TODAY)
    assert outcome.state == "satisfied"


def test_a_bare_mention_that_is_old_is_expired_not_review() -> None:
    hba1c = _requirement("diabetes-annual", "hba1c")
    outcome = evaluate_one(hba1c, [_document(_lab("hemoglobin a1c", None, when="2025-01-01"))], TODAY)
    assert outcome.state == "expired"


def test_non_lab_evidence_needs_no_value() -> None:
    ecg = _requirement("pre-op", "ecg")
    fact = ExtractedFact(
        kind="procedure", concept="electrocardiogram", code="11524-6", system="LOINC",
        text="ECG", start=0, end=3, date="2026-03-01",
    )  # fmt: skip
    assert evaluate_one(ecg, [_document(fact, doc_type="other")], TODAY).state == "satisfied"


def test_the_extractor_gives_no_value_for_a_hemolysed_sample() -> None:
    """The extractor side of the same rule: the hemolysed HbA1c row carries no value."""
    from medupload.pipeline.extraction import extract

    text = "Collection Date: 03/01/2026\nHbA1c — see comment, sample hemolysed, repeat sent\n"
    facts = [f for f in extract(text, today=TODAY).facts if f.kind == "lab"]
    assert [(f.concept, f.value) for f in facts] == [("hemoglobin a1c", None)]
    hba1c = _requirement("diabetes-annual", "hba1c")
    assert evaluate_one(hba1c, [_document(*facts)], TODAY).state == "needs_review"
