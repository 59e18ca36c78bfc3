"""Extraction against hand-annotated clinical texts (tests/clinical_texts.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from clinical_texts import CASES, Case, Expected

from medupload.pipeline.extraction import ExtractedFact, extract

TODAY = date(2026, 3, 10)
ASSERTIONS = ("negated", "historical", "family", "hypothetical", "uncertain")


def _align(case: Case, facts: list[ExtractedFact]) -> tuple[dict[int, int], list[Expected]]:
    """Expected index -> predicted index, and the expected facts that were not found."""
    used: set[int] = set()
    pairs: dict[int, int] = {}
    missed: list[Expected] = []
    for e_index, expected in enumerate(case.facts):
        for p_index, fact in enumerate(facts):
            if p_index in used:
                continue
            if (
                fact.kind == expected.kind
                and fact.concept == expected.concept
                and expected.anchor in fact.text
            ):
                used.add(p_index)
                pairs[e_index] = p_index
                break
        else:
            missed.append(expected)
    return pairs, missed


@pytest.fixture(scope="module")
def results() -> dict[str, list[ExtractedFact]]:
    return {case.name: extract(case.text, today=TODAY).facts for case in CASES}


def test_recall_and_precision(results: dict[str, list[ExtractedFact]]) -> None:
    expected_total = predicted_total = true_positives = 0
    problems: list[str] = []
    for case in CASES:
        facts = results[case.name]
        pairs, missed = _align(case, facts)
        expected_total += len(case.facts)
        predicted_total += len(facts)
        true_positives += len(pairs)
        problems += [f"{case.name}: missed {m.kind} {m.concept!r} ({m.anchor!r})" for m in missed]
        extra = set(range(len(facts))) - set(pairs.values())
        problems += [
            f"{case.name}: extra {facts[i].kind} {facts[i].concept!r} {facts[i].text!r}" for i in extra
        ]
    recall = true_positives / expected_total
    precision = true_positives / predicted_total
    print(
        f"\nextraction ground truth: {expected_total} expected, {predicted_total} predicted, "
        f"recall={recall:.3f} precision={precision:.3f}"
    )
    for problem in problems:
        print("  " + problem)
    assert expected_total >= 80  # the set is big enough for the thresholds to mean something
    assert recall >= 0.95
    assert precision >= 0.90


def test_every_assertion_right(results: dict[str, list[ExtractedFact]]) -> None:
    wrong: list[str] = []
    negations = 0
    for case in CASES:
        facts = results[case.name]
        pairs, _ = _align(case, facts)
        for e_index, p_index in pairs.items():
            expected, fact = case.facts[e_index], facts[p_index]
            negations += bool(expected.attrs.get("negated"))
            for name in ASSERTIONS:
                if getattr(fact, name) != bool(expected.attrs.get(name, False)):
                    wrong.append(
                        f"{case.name}: {expected.concept} ({expected.anchor}) {name}={getattr(fact, name)}"
                    )
    assert negations >= 10
    assert wrong == []


def test_values_units_and_instructions(results: dict[str, list[ExtractedFact]]) -> None:
    wrong: list[str] = []
    checked = 0
    for case in CASES:
        facts = results[case.name]
        pairs, _ = _align(case, facts)
        for e_index, p_index in pairs.items():
            expected, fact = case.facts[e_index], facts[p_index]
            for name, value in expected.attrs.items():
                if name in ASSERTIONS:
                    continue
                checked += 1
                if getattr(fact, name) != value:
                    wrong.append(
                        f"{case.name}: {expected.concept} {name}={getattr(fact, name)!r}, want {value!r}"
                    )
    assert checked >= 60
    assert wrong == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_document_type_date_and_offsets(case: Case) -> None:
    result = extract(case.text, today=TODAY)
    assert result.document_type == case.document_type
    assert result.document_date == case.document_date
    for fact in result.facts:
        assert fact.text == case.text[fact.start : fact.end]
        assert 0.0 <= fact.confidence <= 1.0


def test_medication_concept_is_the_ingredient_with_a_code() -> None:
    facts = extract("MEDICATIONS:\nZocor 20 mg nightly\nToprol XL 50 mg daily\n", today=TODAY).facts
    assert [(f.concept, f.system) for f in facts] == [("simvastatin", "RxNorm"), ("metoprolol", "RxNorm")]
    assert all(f.code and f.code.isdigit() for f in facts)


def test_ocr_confidence_is_the_lowest_overlapping_word() -> None:
    text = "HbA1c 7.1 % on 01/02/2026. Creatinine 0.9 mg/dL"
    words = []
    for start, word in ((0, "HbA1c"), (6, "7.1"), (10, "%"), (27, "Creatinine"), (38, "0.9"), (42, "mg/dL")):
        assert text[start : start + len(word)] == word
        words.append((start, start + len(word), 0.42 if word == "7.1" else 0.97))
    facts = {f.concept: f for f in extract(text, word_confidences=words, today=TODAY).facts}
    assert facts["hemoglobin a1c"].confidence == pytest.approx(0.42)  # the value is part of the span
    assert facts["creatinine"].confidence == pytest.approx(0.97)
    assert facts["hemoglobin a1c"].date == "2026-01-02"


def test_implausible_value_is_dropped_and_flagged() -> None:
    (fact,) = extract("HbA1c 72 %", today=TODAY).facts
    assert fact.concept == "hemoglobin a1c"
    assert fact.value is None and fact.unit is None
    assert fact.confidence < 0.6


def test_unit_outside_the_whitelist_is_not_trusted() -> None:
    (fact,) = extract("Hemoglobin A1c 7.0 mmol/L", today=TODAY).facts
    assert fact.value is None
    assert fact.confidence < 0.6


@pytest.mark.parametrize(
    "text",
    [
        "Allergies: NKDA",
        "ALLERGIES:\nNo known drug allergies.",
        "She has no known medicine allergies.",
        "Drug allergies: none",
    ],
)
def test_no_known_allergies_is_an_asserted_allergy_fact(text: str) -> None:
    allergies = [f for f in extract(text, today=TODAY).facts if f.kind == "allergy"]
    assert [(f.concept, f.negated) for f in allergies] == [("no known drug allergies", False)]


def test_narrative_drug_is_not_an_allergy() -> None:
    text = "She used to have allergies in Seattle and tried Zyrtec. ALLERGIES: penicillin."
    facts = [(f.kind, f.concept) for f in extract(text, today=TODAY).facts]
    assert ("medication", "cetirizine") in facts
    assert ("allergy", "penicillin") in facts


def test_dates_ignore_birth_and_future() -> None:
    text = "DOB: 02/03/1950\nVisit note\nFollow-up on 05/05/2027.\nSeen 01/15/2026 for hypertension."
    result = extract(text, today=TODAY)
    assert result.document_date == "2026-01-15"


def test_empty_text() -> None:
    result = extract("   \n", today=TODAY)
    assert result.facts == [] and result.document_type == "other" and result.document_date is None


def test_extract_is_safe_from_a_thread_pool() -> None:
    texts = [case.text for case in CASES] * 3
    sequential = [extract(text, today=TODAY) for text in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda t: extract(t, today=TODAY), texts))
    assert parallel == sequential
