"""Extraction against hand-annotated clinical texts (tests/clinical_texts.py)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

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


# Rows, lines and assertions on real-note phrasing (issue 9).


def _labs(text: str) -> list[tuple[str, str | None, str | None]]:
    return [(f.concept, f.value, f.unit) for f in extract(text, today=TODAY).facts if f.kind == "lab"]


def test_a_value_after_a_parenthesised_method_and_no_condition_from_it() -> None:
    facts = extract("eGFR (CKD-EPI 2021) 68 mL/min/1.73m2", today=TODAY).facts
    assert [(f.kind, f.concept, f.value, f.unit) for f in facts] == [("lab", "egfr", "68", "mL/min/1.73m2")]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("Potassium   H   5.9 mmol/L   (3.5-5.1)", [("potassium", "5.9", "mmol/L")]),
        ("Potassium   5.9  H  mmol/L   3.5-5.1", [("potassium", "5.9", "mmol/L")]),
        ("Glucose (70-99 mg/dL) 182 mg/dL", [("glucose", "182", "mg/dL")]),
        ("Potassium   Ref: 3.5-5.1 mmol/L", [("potassium", None, None)]),
        ("Sodium L 128", [("sodium", "128", "mmol/L")]),
    ],
)
def test_flags_and_reference_ranges_are_never_values(
    row: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    assert _labs(row) == expected


def test_two_names_with_two_values_and_a_value_that_moved() -> None:
    text = (
        "H and H are 10.8 and 38.7, and BUN and creatinine are of 27 and 1.9. Potassium went from 5.4 to 6.1."
    )
    assert _labs(text) == [
        ("hemoglobin", "10.8", "g/dL"),
        ("hematocrit", "38.7", "%"),
        ("blood urea nitrogen", "27", "mg/dL"),
        ("creatinine", "1.9", "mg/dL"),
        ("potassium", "5.4", "mmol/L"),
        ("potassium", "6.1", "mmol/L"),
    ]


def test_a_sig_on_the_next_line_belongs_to_the_drug() -> None:
    text = "MEDICATIONS:\ninsulin glargine\n22 units subcutaneously at bedtime\nmetformin 500 mg PO BID\n"
    meds = {f.concept: f for f in extract(text, today=TODAY).facts if f.kind == "medication"}
    glargine = meds["insulin glargine"]
    assert (glargine.value, glargine.unit, glargine.route, glargine.frequency) == (
        "22",
        "units",
        "subcutaneous",
        "at bedtime",
    )
    assert meds["metformin"].value == "500"  # the next drug keeps its own sig


def _status(text: str) -> dict[str, tuple[bool, bool, bool, bool]]:
    return {
        f.concept: (f.negated, f.historical, f.family, f.uncertain)
        for f in extract(text, today=TODAY).facts
        if f.kind == "condition"
    }


def test_assertions_on_real_note_phrasing() -> None:
    assert _status("He denies fever, chills or dysuria.") == {
        "fever": (True, False, False, False),
        "chills": (True, False, False, False),
        "dysuria": (True, False, False, False),
    }
    assert _status("History of pulmonary edema.")["pulmonary edema"] == (False, True, False, False)
    assert _status("Rule out pneumonia.")["pneumonia"] == (False, False, False, True)
    assert _status("1. Gastroenteritis versus bowel obstruction.")["bowel obstruction"][3]
    assert _status("There is a history of migraine in the family.")["migraine"][2]
    assert _status("FAMILY HISTORY:\nMother had breast cancer.\n")["breast cancer"][2]
    assert _status("Family history is negative for hypertension.")["essential hypertension"][0]
    assert _status("Mother reports that he has loose stools.")["diarrhea"] == (False, False, False, False)
    # A past-medical-history list holds current conditions; a dated event is historical.
    pmh = _status("PAST MEDICAL HISTORY:\nHypertension.\nMyocardial infarction in 2015.\n")
    assert pmh["essential hypertension"] == (False, False, False, False)
    assert pmh["myocardial infarction"][1]


def test_a_header_in_capitals_alone_on_its_line_ends_the_section_above() -> None:
    """Without its colon, "MEDICATIONS" still starts the medications section: the social history
    above does not run on over the list (a drug there would need a dose to count)."""
    text = "SOCIAL HISTORY:\nShe lives alone.\nMEDICATIONS\n1. Tylenol #3 as needed.\n2. Colace.\n"
    facts = [f for f in extract(text).facts if f.kind == "medication"]
    assert {f.concept for f in facts} == {"acetaminophen", "codeine", "docusate"}
    assert {f.section for f in facts} == {"medications"}
    # A capitalised word inside a line of prose is not a header.
    prose = "SOCIAL HISTORY:\nShe drinks alcohol. MEDICATIONS are reviewed. Tylenol as needed.\n"
    assert not any(f.kind == "medication" for f in extract(prose).facts)


def test_a_bare_drug_name_means_the_specific_one_the_document_names() -> None:
    """ "sliding scale insulin" beside Lantus is the Lantus, not a drug of its own; alone,
    "insulin" stays insulin."""
    text = "Lantus 20 units at bedtime and sliding scale insulin. Later NovoLog 5 units; insulin held."
    facts = [f for f in extract(text).facts if f.kind == "medication"]
    expected = ["insulin glargine", "insulin glargine", "insulin aspart", "insulin aspart"]
    assert [f.concept for f in facts] == expected
    assert {f.concept for f in extract("Insulin 10 units daily.").facts} == {"insulin"}


def test_a_discontinued_drug_is_historical_and_aspirin_prophylaxis_is_taken() -> None:
    facts = {f.concept: f for f in extract("Metformin was discontinued. He is on aspirin prophylaxis.").facts}
    assert (facts["metformin"].negated, facts["metformin"].historical) == (False, True)
    assert not facts["aspirin"].negated


@pytest.mark.parametrize(
    ("text", "concept", "expected"),
    [
        # A cue inside the name or inside a parenthesis the name is outside of does not reach it.
        ("Assessment: migraine without aura.", "migraine without aura", (False, False, False, False)),
        ("The right knee (no effusion) shows gout.", "gout", (False, False, False, False)),
        ("The right knee (no effusion) shows gout.", "effusion", (True, False, False, False)),
        # "history of" is past unless the sentence shows it is treated now.
        ("He has a history of pneumonia.", "pneumonia", (False, True, False, False)),
        # ... except a chronic condition (asthma, by its ICD-10-CM prefix), which he has now.
        ("He has a history of asthma.", "asthma", (False, False, False, False)),
        ("He has a history of asthma, currently on albuterol.", "asthma", (False, False, False, False)),
        ("CT showed an old cerebral infarction.", "stroke", (False, True, False, False)),
        ("He is a 45-year-old man with asthma.", "asthma", (False, False, False, False)),
        ("Alcohol abuse (quit 2001).", "alcohol abuse", (False, True, False, False)),
        ("Before surgery, symptoms included cough and wheezing.", "wheezing", (False, True, False, False)),
        # Hedges after the name, and hedges that span a cause; a negation stops at the cause.
        ("Sarcoidosis also possible diagnosis.", "sarcoidosis", (False, False, False, True)),
        ("The picture suggests pericarditis.", "pericarditis", (False, False, False, True)),
        ("We will look for possible causes of the neuropathy.", "neuropathy", (False, False, False, True)),
        ("Failure, in all probability secondary to sepsis.", "sepsis", (False, False, False, True)),
        ("No rash as a cause for the itching.", "itching", (False, False, False, False)),
        # A course word asserts the problem inside a negation list.
        ("No dysuria, improving urinary incontinence.", "urinary incontinence", (False, False, False, False)),
        # A chronic condition's "history of" is current; an acute event's is past.
        ("She has a history of hypertension.", "essential hypertension", (False, False, False, False)),
        ("A history of diabetes type 2, dyslipidemia.", "type 2 diabetes mellitus", (False,) * 4),
        ("She has a history of fibromyalgia, COPD.", "fibromyalgia", (False, False, False, False)),
        ("History of pulmonary embolism.", "pulmonary embolism", (False, True, False, False)),
        ("History of fibromyalgia, resolved.", "fibromyalgia", (False, True, False, False)),
        # An acute event listed under past medical history happened before; a chronic one is current.
        ("PMH:\n1. Stroke, 11/22/88.\n2. Diabetes.", "stroke", (False, True, False, False)),
        ("PMH:\n1. Stroke, 11/22/88.\n2. Diabetes.", "diabetes mellitus", (False, False, False, False)),
        ("PAST MEDICAL HISTORY:\nGI bleed.", "gastrointestinal hemorrhage", (False, True, False, False)),
        # "status post", "recent" mark one item of a list, not the items after its comma.
        ("Hypertension, status post CVA, and diabetic retinopathy.", "stroke", (False, True, False, False)),
        (
            "Hypertension, status post CVA, and diabetic retinopathy.",
            "diabetic retinopathy",
            (False, False, False, False),
        ),
        ("History of CVA with residual left hemiparesis.", "hemiparesis", (False, False, False, False)),
        # Past events told after the name.
        ("He had pneumonia last year.", "pneumonia", (False, True, False, False)),
        ("A small bowel obstruction which resolved.", "bowel obstruction", (False, True, False, False)),
        # Queried, hedged and differential.
        ("2. ? Atrial fibrillation.", "atrial fibrillation", (False, False, False, True)),
        ("Why? Atrial fibrillation.", "atrial fibrillation", (False, False, False, False)),
        ("Cannot rule out appendicitis.", "appendicitis", (False, False, False, True)),
        ("It was thought the patient was septic.", "sepsis", (False, False, False, True)),
        ("DIFFERENTIAL DIAGNOSES:\nSepsis and meningitis.", "meningitis", (False, False, False, True)),
        # "secondary" ends a negation only as a cause; "unlikely" hedges; a stopped drug is not
        # a past finding.
        ("No evidence of secondary bacterial infection.", "bacterial infection", (True, False, False, False)),
        ("She is unlikely to have bipolar disorder.", "bipolar disorder", (False, False, False, True)),
        ("After antibiotics were discontinued, bandemia rose.", "bandemia", (False,) * 4),
        # "Hx", "h/o" are history cues like "history of"; a history list's event is past.
        ("Hx of MI in 2010, DM, HTN.", "essential hypertension", (False,) * 4),
        ("h/o hepatitis.", "hepatitis", (False, True, False, False)),
        ("Past medical history is significant for MI.", "myocardial infarction", (False, True, False, False)),
        ("Past medical history is significant for diabetes.", "diabetes mellitus", (False,) * 4),
        ("Resolved pneumonia.", "pneumonia", (False, True, False, False)),
        ("Cannot exclude pneumonia.", "pneumonia", (False, False, False, True)),
        ("She may have mild iron deficiency anemia.", "iron deficiency anemia", (False, False, False, True)),
        ("There is diabetes on her father's side.", "diabetes mellitus", (False, False, True, False)),
        # A negated verb does not reach a later clause: "could not get up ..., now with pneumonia".
        ("He could not get up and has a cough, now with pneumonia.", "pneumonia", (False,) * 4),
        # A course's complication told in the past tense is past; a disease's complication is not.
        ("His hospital stay was also complicated by urinary retention.", "urinary retention",
         (False, True, False, False)),
        ("Postoperative course complicated by pneumonia.", "pneumonia", (False, True, False, False)),
        ("Diabetes complicated by neuropathy.", "neuropathy", (False,) * 4),
        ("He used to have palpitations.", "palpitations", (False, True, False, False)),
        # "potentially" hedges; a consequence clause ("so ...") is not under the negation before it.
        ("Coumadin for his potentially paroxysmal atrial fibrillation.", "paroxysmal atrial fibrillation",
         (False, False, False, True)),
        ("He never had a biopsy, so his cirrhosis is in doubt.", "cirrhosis of liver",
         (False, False, False, True)),
        ("He never had a biopsy or cirrhosis.", "cirrhosis of liver", (True, False, False, False)),
        # Cirrhosis is for good: its "history of" is current.
        ("He has a history of end-stage liver disease with cirrhosis.", "cirrhosis of liver", (False,) * 4),
    ],
)
def test_assertion_scope_rules(text: str, concept: str, expected: tuple[bool, bool, bool, bool]) -> None:
    assert _status(text)[concept] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A count before its name, opening a clause.
        (
            "CBC: WBC 9.8 with 62 segs, 4 bands, 30 lymphocytes.",
            [
                ("complete blood count", None, None),
                ("white blood cell count", "9.8", "10*3/uL"),
                ("neutrophils percent", "62", "%"),
                ("band neutrophils percent", "4", "%"),
                ("lymphocytes percent", "30", "%"),
            ],
        ),
        (
            "Differential: 70% neutrophils, 25% lymphocytes.",
            [("neutrophils percent", "70", "%"), ("lymphocytes percent", "25", "%")],
        ),
        (
            "Admission labs: 11.2 for WBC, 13.5 for hemoglobin.",
            [("white blood cell count", "11.2", "10*3/uL"), ("hemoglobin", "13.5", "g/dL")],
        ),
        # A number after a name is still that name's; a value never moves across a name.
        (
            "Sodium 136, potassium 4.1, chloride 101.",
            [("sodium", "136", "mmol/L"), ("potassium", "4.1", "mmol/L"), ("chloride", "101", "mmol/L")],
        ),
        ("Calcium 9.1 albumin 3.9", [("calcium", "9.1", "mg/dL"), ("albumin", "3.9", "g/dL")]),
        ("Normal range 3.5-5.1 potassium pending", [("potassium", None, None)]),
        # Comparators in words.
        ("Ferritin greater than 1000 ng/mL", [("ferritin", ">1000", "ng/mL")]),
        ("Creatinine was less than 0.5 mg/dL", [("creatinine", "<0.5", "mg/dL")]),
        # Urine chemistry is not serum chemistry.
        (
            "Spot urine sodium 18 mmol/L, urine creatinine 85 mg/dL, urine potassium 40.",
            [
                ("urine sodium", "18", "mmol/L"),
                ("urine creatinine", "85", "mg/dL"),
                ("urine potassium", "40", "mmol/L"),
            ],
        ),
        ("Urine protein-creatinine ratio 2300 mg/g", [("urine protein-creatinine ratio", "2300", "mg/g")]),
        # A name glued to its value on a terse report; names that contain digits stay whole.
        (
            "LABS: WBC14.3K, Na132, K4.1, HbA1c 7.2",
            [
                ("white blood cell count", "14.3", "10*3/uL"),
                ("sodium", "132", "mmol/L"),
                ("potassium", "4.1", "mmol/L"),
                ("hemoglobin a1c", "7.2", "%"),
            ],
        ),
        (
            "Urine specific gravity 1.020, urine pH 6.0",
            [("urine specific gravity", "1.020", None), ("urine ph", "6.0", None)],
        ),
    ],
)
def test_counts_before_names_comparator_words_and_urine_chemistry(
    text: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    assert _labs(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A urinalysis makes "WBC", "RBC", "glucose", "protein" urine tests; counts per field are ranges.
        (
            "Urinalysis showed 3+ protein, 4+ blood, trace leukocytes, 5 to 10 wbc's, "
            "greater than 100 rbc's.",
            [
                ("urine white blood cells", None, None),  # "trace leukocytes": a grade before the name
                ("urine white blood cells", "5-10", "/[HPF]"),
                ("urine red blood cells", ">100", "/[HPF]"),
            ],
        ),
        ("UA at that time was noted for 5-9 RBCs.", [("urine red blood cells", "5-9", "/[HPF]")]),
        (
            "URINALYSIS\nGlucose    Negative\nProtein    Trace\nWBC   25-50 /HPF   H   0-5",
            [
                ("urine glucose", "negative", None),
                ("urine protein", "trace", None),
                ("urine white blood cells", "25-50", "/[HPF]"),
            ],
        ),
        # Outside a urinalysis they are blood tests, and "blood" or "protein" alone are nothing.
        (
            "CHEMISTRY\nGlucose    118  mg/dL\nWBC   12.1",
            [("glucose", "118", "mg/dL"), ("white blood cell count", "12.1", "10*3/uL")],
        ),
        ("Blood pressure was 120/80. Protein intake is poor.", []),
        # A value a pronoun, a filler word or a date away; dotted leaders.
        (
            "The PSA has been slowly rising. This month it reached 1.2.",
            [("prostate specific antigen", "1.2", "ng/mL")],
        ),
        ("His potassium came down to like about 5.9 today.", [("potassium", "5.9", "mmol/L")]),
        ("A repeat creatinine on 08/16/06 was 2.3.", [("creatinine", "2.3", "mg/dL")]),
        ("  BNP ............. 412 pg/mL H (ref <100)", [("b-type natriuretic peptide", "412", "pg/mL")]),
        # A dose is never a result; a negative result where the test has one; ions with charges.
        ("Iron 325 mg PO daily. Iron: 38 ug/dL (L)", [("iron", "38", "ug/dL")]),
        ("  Base Excess  -12.4  L  mmol/L  (-2 to +2)", [("base excess", "-12.4", "mmol/L")]),
        ("Potassium -5.1", [("potassium", "5.1", "mmol/L")]),
        (
            "  Na+   131  L  mmol/L\n  Cl-   97  L  mmol/L",
            [("sodium", "131", "mmol/L"), ("chloride", "97", "mmol/L")],
        ),
        ("Creatinine, random urine: 110 mg/dL", [("urine creatinine", "110", "mg/dL")]),
        # A lab named like its supplement is the lab with a result, the drug with a dose.
        ("Vitamin B12: 212 pg/mL   Reference: 200-900", [("vitamin b12", "212", "pg/mL")]),
        ("Vitamin B12 1000 mcg daily. Folate: >20.0 ng/mL", [("folate", ">20.0", "ng/mL")]),
        # A drug's level is a lab of its own, in the unit written.
        (
            "Doxycycline level obtained on 10/05/2007 was less than 0.5. Dilantin level 12.4 mcg/mL.",
            [("doxycycline level", "<0.5", None), ("phenytoin level", "12.4", "ug/mL")],
        ),
    ],
)
def test_urinalysis_qualitative_results_narrative_values_and_drug_levels(
    text: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    assert _labs(text) == expected


def test_adjective_forms_of_signs_and_symptoms_are_the_condition() -> None:
    text = "She was nauseated and diaphoretic. She was not cyanotic or jaundiced. He is hypotensive."
    facts = [
        (f.concept, f.code, f.negated) for f in extract(text, today=TODAY).facts if f.kind == "condition"
    ]
    assert facts == [
        ("nausea", "R11.0", False),
        ("diaphoresis", "R61", False),
        ("cyanosis", "R23.0", True),
        ("jaundice", "R17", True),
        ("hypotension", "I95.9", False),
    ]


def test_a_hyphenated_name_written_closed_is_found() -> None:
    for text in ("Episodes of intra-dialytic hypotension.", "Episodes of intradialytic hypotension."):
        facts = [(f.code, f.text) for f in extract(text, today=TODAY).facts if f.kind == "condition"]
        assert facts == [("I95.3", text[12:-1])]


def test_a_prefixed_condition_word_is_that_condition_unless_the_prefix_changes_it() -> None:
    text = "EMG: cervical polyradiculopathy. Biopsy: adenocarcinoma. Nonobstructive. Pseudohyponatremia."
    facts = [(f.concept, f.text) for f in extract(text, today=TODAY).facts if f.kind == "condition"]
    assert facts == [("radiculopathy", "polyradiculopathy"), ("carcinoma", "adenocarcinoma")]


_DEFERRED_NLTK = """
import sys
from medupload.pipeline.extraction import extract, nlp
nlp()
assert len(extract("Glucose 118 mg/dL").facts) == 1
assert "nltk.corpus" not in sys.modules, "NLTK was imported by the build"
import quickumls.core
assert quickumls.core.nltk.corpus.__name__ == "nltk.corpus"  # first use imports the real NLTK
import nltk.tokenize
print("ok")
"""


def test_the_build_defers_nltk_until_it_is_used() -> None:
    """medspaCy imports QuickUMLS and with it NLTK, which this pipeline never uses: the build
    binds a stand-in instead, and NLTK is imported for real on first use (fresh process)."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _DEFERRED_NLTK], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def test_a_bare_number_for_a_test_reported_in_units_10x_apart_needs_review() -> None:
    """CRP is reported in mg/L or mg/dL: "CRP 0.5" is kept in the canonical unit, for review."""
    (bare,) = extract("CRP 0.5", today=TODAY).facts
    (written,) = extract("CRP 0.5 mg/dL", today=TODAY).facts
    assert (bare.value, bare.unit) == ("0.5", "mg/L") and bare.confidence < 0.6
    assert (written.value, written.unit, written.confidence) == ("0.5", "mg/dL", 1.0)  # as written


# Lab report layouts met in the fresh lab reports (issue: lab reports read badly).


def _dated_labs(text: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(f.concept, f.value, f.unit, f.date) for f in extract(text, today=TODAY).facts if f.kind == "lab"]


def test_a_cumulative_table_gives_one_result_per_filled_date_cell_with_its_date() -> None:
    text = (
        "Test         01/05/2026   01/06/2026   01/07/2026   Reference\n"
        "             06:10        05:55        06:30\n"
        "Sodium       129 (L)                   135          136 - 145 mmol/L\n"
        "Creatinine   1.92 (H)     1.50 (H)     1.21 (H)     0.60 - 1.10 mg/dL\n"
        "Vancomycin, Trough        14.2                      10.0 - 20.0 ug/mL\n"
        "01/05/2026 06:10 Sodium 129 (L) called to the floor.\n"
    )
    assert _dated_labs(text) == [
        ("sodium", "129", "mmol/L", "2026-01-05"),
        ("sodium", "135", "mmol/L", "2026-01-07"),  # the blank 01/06 cell is no result
        ("creatinine", "1.92", "mg/dL", "2026-01-05"),
        ("creatinine", "1.50", "mg/dL", "2026-01-06"),
        ("creatinine", "1.21", "mg/dL", "2026-01-07"),
        ("vancomycin level", "14.2", "ug/mL", "2026-01-06"),
    ]  # the call note repeats the 01/05 sodium: not a second result


def test_the_newest_column_of_a_cumulative_table_is_the_evidence() -> None:
    from medupload.pipeline.matching import DocumentFacts, Requirement, evaluate_one

    text = "Lab     12/01/2025   02/20/2026\nHbA1c   8.1 (H)      7.4 (H)      4.0 - 5.6 %\n"
    facts = extract(text, today=TODAY).facts
    requirement = Requirement("t/a1c", "t", "A1c", ("lab",), ("hemoglobin a1c",), max_age_days=90)
    outcome = evaluate_one(requirement, [DocumentFacts("d", "lab_report", None, None, facts)], TODAY)
    assert outcome.state == "satisfied"
    assert outcome.evidence is not None and (outcome.evidence["value"], outcome.evidence["date"]) == (
        "7.4",
        "2026-02-20",
    )


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # In range / out of range columns; the unit sits in the reference column.
        ("  GLUCOSE                      131 H        65-99 mg/dL        XY", [("glucose", "131", "mg/dL")]),
        (
            "  PLATELET COUNT     204                    140-400 Thousand/uL  XY",
            [("platelet count", "204", "10*3/uL")],
        ),
        (
            "  ABSOLUTE MONOCYTES  512                   200-950 cells/uL",
            [("absolute monocyte count", "512", "cells/uL")],
        ),
        (
            "VITAMIN D,25-OH,TOTAL,IA          24 L      30-100 ng/mL",
            [("25-hydroxyvitamin d", "24", "ng/mL")],
        ),
        # Flags glued to the value or in brackets; a lab code after the name; a footnote mark.
        ("ALT               88H      (7-52)", [("alanine aminotransferase", "88", "U/L")]),
        ("Free T4  02   1.31   0.82-1.77 ng/dL", [("free thyroxine", "1.31", "ng/dL")]),
        ("TSH 3rd gen   2.2   0.45-4.5 uIU/mL", [("thyroid stimulating hormone", "2.2", "mIU/L")]),
        ("TROPONIN I  [2]   <0.01   ng/mL", [("troponin i", "<0.01", "ng/mL")]),
        ("Glucose        6.1     High    mmol/L    3.9-5.5", [("glucose", "6.1", "mmol/L")]),
        # A limit is never a result.
        ("HbA1c >=48 mmol/mol suggests diabetes.", [("hemoglobin a1c", None, None)]),
    ],
)
def test_report_columns_flags_codes_and_limits(
    row: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    assert _labs(row) == expected


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # SI units: the value stays as written, in its own unit.
        ("Bilirubin            9        µmol/L      [0 - 21]", [("total bilirubin", "9", "umol/L")]),
        ("Haematocrit          0.41     L/L         [0.36 - 0.46]", [("hematocrit", "0.41", "L/L")]),
        ("Red Cell Count       4.6      x10^12/L", [("red blood cell count", "4.6", "10*6/uL")]),
        ("HbA1c (IFCC)         53  H    mmol/mol    [20 - 41]", [("hemoglobin a1c", "53", "mmol/mol")]),
        ("Gamma GT             61  H    U/L", [("gamma-glutamyl transferase", "61", "U/L")]),
        ("Urea                 6.1      mmol/L", [("urea", "6.1", "mmol/L")]),
        ("Adjusted Calcium     2.41     mmol/L", [("corrected calcium", "2.41", "mmol/L")]),
        ("Vitamin B12          >1500    ng/L", [("vitamin b12", ">1500", "ng/L")]),
        # UK labs give the differential as counts only: a count is the absolute count.
        (
            "Lymphocytes          2.2      x10^9/L     [1.0 - 3.0]",
            [("absolute lymphocyte count", "2.2", "10*3/uL")],
        ),
        ("Lymphocytes          31.5     %", [("lymphocytes percent", "31.5", "%")]),
    ],
)
def test_si_units_are_kept_as_written(row: str, expected: list[tuple[str, str | None, str | None]]) -> None:
    assert _labs(row) == expected


def test_a_portal_page_pasted_with_tabs_or_one_cell_per_line() -> None:
    text = (
        "Component\tYour Value\tStandard Range\n"
        "Non-HDL Cholesterol\t162 mg/dL\t<130 mg/dL\tHigh\n"
        "Component\nYour Value\nStandard Range\n"
        "Hemoglobin A1C\n7.3 %\n4.0 - 5.6 %\nHigh\n"
        "Hemoglobin A1C\nYour previous value was 7.9 %.\n"
    )
    assert _labs(text) == [
        ("non-hdl cholesterol", "162", "mg/dL"),
        ("hemoglobin a1c", "7.3", "%"),
        ("hemoglobin a1c", None, None),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # H&H written as hematocrit/hemoglobin: the smaller number is the haemoglobin.
        (
            "H&H 36.2/11.9, platelets 210,000.",
            [
                ("hematocrit", "36.2", "%"),
                ("hemoglobin", "11.9", "g/dL"),
                ("platelet count", "210", "10*3/uL"),
            ],
        ),
        # Thousands with a space after the comma, and in several groups.
        ("White count 12, 000.", [("white blood cell count", "12", "10*3/uL")]),
        ("His platelet count was 1,020,000.", [("platelet count", "1020", "10*3/uL")]),
        ("White count noted to be 11.4.", [("white blood cell count", "11.4", "10*3/uL")]),
        # A count before its name; "over" a number; two results of one test ending the clause.
        (
            "Differential: 84% segments and 3% bands.",
            [("neutrophils percent", "84", "%"), ("band neutrophils percent", "3", "%")],
        ),
        ("Lipase over 2500, amylase 610.", [("lipase", ">2500", "U/L"), ("amylase", "610", "U/L")]),
        ("Troponin I 0.061 and 0.048.", [("troponin i", "0.061", "ng/L"), ("troponin i", "0.048", "ng/L")]),
        ("Segments of the colon were resected.", []),
        ("PT 12.5s, INR 1.1.", [("prothrombin time", "12.5", "s"), ("inr", "1.1", None)]),
        # A monitored drug's bare number ending its clause is its level; with a dose unit, a dose.
        ("Potassium 4.1. Digoxin was 1.1.", [("potassium", "4.1", "mmol/L"), ("digoxin level", "1.1", None)]),
        ("Digoxin 0.125 mg daily.", []),
        # A goal, a baseline or a previously reported value is not this result.
        ("Cholesterol goal of <200.", [("total cholesterol", None, None)]),
        ("Hemoglobin previously reported as 6.9 was in error.", [("hemoglobin", None, None)]),
        ("Previous HbA1c 64 mmol/mol on 02.05.2025.", [("hemoglobin a1c", None, None)]),
        ("Fasting sugars in the 140s.", []),
    ],
)
def test_note_values_pairs_thousands_and_not_results(
    text: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    assert _labs(text) == expected


def test_a_urinalysis_table_in_capitals_reads_urine_tests() -> None:
    text = (
        "URINALYSIS            NORMAL      ABNORMAL    REFERENCE\n"
        "APPEARANCE                        HAZY        CLEAR\n"
        "PH                    6.0                     5.0-8.0\n"
        "GLUCOSE               NEGATIVE                NEGATIVE\n"
        "BILIRUBIN             NEGATIVE                NEGATIVE\n"
        "RBC                               6-10        0-2\n"
        "HYALINE CASTS         0-2                     0-2\n"
        "YEAST                 NONE SEEN               NONE SEEN\n"
    )
    assert _labs(text) == [
        ("urine ph", "6.0", None),
        ("urine glucose", "negative", None),
        ("urine bilirubin", "negative", None),
        ("urine red blood cells", "6-10", "/[HPF]"),
        ("urine hyaline casts", "0-2", "/[LPF]"),
        ("urine yeast", "none seen", None),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A number ending the line above never swallows the next line's name.
        ("REPORT PAGE 1\nGLUCOSE (HEXOKINASE)     212H    (70-99)  mg/dL", [("glucose", "212", "mg/dL")]),
        # An alias in brackets is the same test, not a second one; a drug named there is no drug.
        ("AST (SGOT)     41      (10-40)   U/L", [("aspartate aminotransferase", "41", "U/L")]),
        ("Folate (Folic Acid), Serum    9.8    ng/mL", [("folate", "9.8", "ng/mL")]),
        # A unit that holds a test's name is read whole.
        (
            "Albumin/Creatinine Ratio   45  H   mg/g creat   <30",
            [("urine albumin-creatinine ratio", "45", "mg/g")],
        ),
        # A name whose last word wrapped onto the next line, with the row's value there.
        (
            "Thyroid Peroxidase (TPO)\n Ab              02   14     IU/mL    0-34",
            [("thyroid peroxidase antibody", "14", "IU/mL")],
        ),
        # A patient's own home reading is not a lab result; short chemistry names.
        ("Home fasting glucose 128-140, one of 162.", [("glucose", None, None)]),
        (
            "BMP: Glu 142, microalbumin/Cr 18.",
            [("glucose", "142", "mg/dL"), ("urine albumin-creatinine ratio", "18", "mg/g")],
        ),
        # A goal named before the test; serology results in words.
        ("Target HbA1c <7%.", [("hemoglobin a1c", None, None)]),
        (
            "HEP B SURFACE AG       NONREACTIVE    NONREACTIVE",
            [("hepatitis b surface antigen", "nonreactive", None)],
        ),
    ],
)
def test_names_in_brackets_units_goals_and_serology(
    text: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    assert _labs(text) == expected


def test_a_date_past_other_numbers_on_the_row_is_the_previous_result_s() -> None:
    text = (
        "Reported: 02/20/2026\n"
        "TESTS           RESULT   UNITS    REFERENCE    PREVIOUS RESULT AND DATE\n"
        "Triglycerides   171      mg/dL    0-149        190   11/14/2025\n"
        "Creatinine 1.3 on 01/30/2026.\n"
    )
    assert [(f.concept, f.value, f.date) for f in extract(text, today=TODAY).facts if f.kind == "lab"] == [
        ("triglycerides", "171", "2026-02-20"),
        ("creatinine", "1.3", "2026-01-30"),
    ]


def test_dotted_and_day_first_dates_are_read_day_first() -> None:
    text = "Collected: 14.01.2026 09:12\nSodium   139   mmol/L\nPrinted: 03.02.2026"
    facts = extract(text, today=TODAY).facts
    assert [(f.concept, f.date) for f in facts] == [("sodium", "2026-01-14")]


def test_a_value_under_the_time_written_after_its_column_s_date() -> None:
    text = (
        "Component   01/17/26 0540   01/18/26 0610   Ref Range\n"
        "Sodium              131 L           134       136-145 mmol/L\n"
    )
    assert _dated_labs(text) == [
        ("sodium", "131", "mmol/L", "2026-01-17"),
        ("sodium", "134", "mmol/L", "2026-01-18"),
    ]


def test_a_row_of_collected_received_reported_dates_is_not_a_cumulative_table() -> None:
    text = (
        "Collected          Received           Reported\n"
        "02/14/2026 08:02   02/14/2026 13:10   02/16/2026 07:40\n"
        "TESTS              RESULT   FLAG   REFERENCE\n"
        "Glucose            104      High   65-99   mg/dL\n"
    )
    assert _labs(text) == [("glucose", "104", "mg/dL")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Common written names: "PT/INR", "sugar" and "carbonate" with a result, ionized calcium,
        # cryoglobulins; a field typed without a space after its colon.
        ("PT/INR is 1.02, PTT 31.3.", [("inr", "1.02", None), ("partial thromboplastin time", "31.3", "s")]),
        ("Her sugar is 249.", [("glucose", "249", "mg/dL")]),
        ("Avoid sugar and salt.", []),
        (
            "Chloride 96.5, carbonate 30, BUN 26.",
            [
                ("chloride", "96.5", "mmol/L"),
                ("bicarbonate", "30", "mmol/L"),
                ("blood urea nitrogen", "26", "mg/dL"),
            ],
        ),
        (
            "Ionized calcium 4.8, intact PTH 458.",
            [("ionized calcium", "4.8", "mg/dL"), ("parathyroid hormone", "458", "pg/mL")],
        ),
        ("Serum cryoglobulins were positive at 1%.", [("cryoglobulins", "1", "%")]),
        ("Hematocrit:31.8%", [("hematocrit", "31.8", "%")]),
        # A blood panel named after a urinalysis in the sentence: the tests after it are the blood's.
        (
            "A urinalysis had 0-2 WBCs per high power field, and chem-7, sodium 134, creatinine 0.9.",
            [
                ("urine white blood cells", "0-2", "/[HPF]"),
                ("sodium", "134", "mmol/L"),
                ("creatinine", "0.9", "mg/dL"),
            ],
        ),
        # A unit cut short in dictation, in a list of results or told with "was"; never a dose.
        (
            "BUN 11 mg/dL, creatinine 0.6 mg, CO2 30 mEq, glucose 99.",
            [
                ("blood urea nitrogen", "11", "mg/dL"),
                ("creatinine", "0.6", "mg/dL"),
                ("bicarbonate", "30", "mmol/L"),
                ("glucose", "99", "mg/dL"),
            ],
        ),
        ("Total bilirubin was 25.4 mg, all unconjugated.", [("total bilirubin", "25.4", "mg/dL")]),
        ("Potassium 8 mEq, Lasix 40 mg daily.", []),
        ("Folic acid 2 by mouth every day.", []),
        # An approximate value "in the N range/level"; one value for H and H is the haemoglobin's.
        ("Baseline creatinine in the 2 range.", [("creatinine", "2", "mg/dL")]),
        ("Goal INR in the 2-3 range.", []),
        ("His H and H was down in the 6 level.", [("hemoglobin", "6", "g/dL")]),
        # A threshold a comment explains is no result.
        (
            "Note: A serum folate concentration of less than 3.1 ng/mL is considered deficient.",
            [("folate", None, None)],
        ),
    ],
)
def test_written_names_cut_units_blood_after_urine_and_approximate_values(
    text: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    assert _labs(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Cerebrospinal fluid named earlier in the sentence: its counts and chemistry, its ranges.
        (
            "CSF taken on 10/19/94 revealed: 22 WBC, 380 RBC, Glucose 58, Protein 29.",
            [
                ("csf white blood cells", "22", "cells/uL"),
                ("csf red blood cells", "380", "cells/uL"),
                ("csf glucose", "58", "mg/dL"),
                ("csf protein", "29", "mg/dL"),
            ],
        ),
        ("CSF was clear. Glucose 90.", [("glucose", "90", "mg/dL")]),
        # A range counted before a cell name is a count per microscope field.
        (
            "Moderate leukocytes, 30-50 white blood cells.",
            [("white blood cell count", None, None), ("urine white blood cells", "30-50", "/[HPF]")],
        ),
    ],
)
def test_csf_tests_and_a_range_counted_before_a_cell_name(
    text: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    assert _labs(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A drug whose doses and levels overlap: its bare number is a level only in a list of results.
        (
            "HDL 42, LDL 158, and cyclosporine 163.",
            [
                ("hdl cholesterol", "42", "mg/dL"),
                ("ldl cholesterol", "158", "mg/dL"),
                ("cyclosporine level", "163", None),
            ],
        ),
        ("Prednisone 5, tacrolimus 2, LDL 100.", [("ldl cholesterol", "100", "mg/dL")]),
        ("Cyclosporine 100 twice daily.", []),
    ],
)
def test_a_listed_drug_level(text: str, expected: list[tuple[str, str | None, str | None]]) -> None:
    assert _labs(text) == expected


def _values(text: str) -> list[str]:
    return [value for _, value, _ in _labs(text) if value is not None]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A comparator value in prose that sets a condition, a target or a cut-off is a limit.
        ("Potassium 5.6 mmol/L.\nPotassium >6.0 mmol/L will be phoned to the doctor.", ["5.6"]),
        ("Repeat U&E; if K >5.5 mmol/L please let the team know.", []),
        ("Lipid treatment targets: LDL-C <2.0 mmol/L or ApoB <0.8 g/L.", []),
        ("Low iron (ferritin <30 ug/L indicates depleted stores).", []),
        # a table's comparator result stays
        ("TSH          <0.01   mIU/L   (0.27-4.2)", ["<0.01"]),
        ("LDL-C <2.0 mmol/L", ["<2.0"]),
    ],
)
def test_a_limit_in_prose_is_no_result(text: str, expected: list[str]) -> None:
    assert _values(text) == expected


def test_quality_control_and_last_dated_results_are_no_results() -> None:
    slip = "Afinion 2    CONTROL\n  C I   lot 1025\n  HbA1c       5.4 %   Range 4.9-5.9   PASSED\n\n"
    assert _values(slip + "HbA1c 7.9 %") == ["7.9"]
    assert _values("HbA1c 6.1 %   Range 5.8-6.4   PASSED") == []
    assert _values("INR 2.8\nLast INR 3.4 on 11/16.") == ["2.8"]
    assert _values("Last INR 3.4, stable.") == ["3.4"]


def test_a_labelled_date_header_row_is_a_cumulative_table_read_day_first() -> None:
    text = (
        "                    Date  14/09/26   12/11/26   28/11/26\n"
        "                    Time      0810       0745       0820\n"
        "             Request No.   8122415    4471903    4821330    Units          Ref. Range\n"
        "Sodium                        139        137      134 L    mmol/L         (135-145)\n"
        "Glucose                       5.4                   6.9    mmol/L         (3.0-7.7)\n"
    )
    assert _dated_labs(text) == [
        ("sodium", "139", "mmol/L", "2026-09-14"),
        ("sodium", "137", "mmol/L", "2026-11-12"),  # 12/11 is day-first like the row's 14/09
        ("sodium", "134", "mmol/L", "2026-11-28"),
        ("glucose", "5.4", "mmol/L", "2026-09-14"),
        ("glucose", "6.9", "mmol/L", "2026-11-28"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # names abbreviated with a full stop (Australian reports) and a lipid analyser's print names
        ("Corr. Calcium    2.40 mmol/L", [("corrected calcium", "2.40", "mmol/L")]),
        ("Alk. Phosphatase   82 U/L", [("alkaline phosphatase", "82", "U/L")]),
        ("nHDLc   174 mg/dL", [("non-hdl cholesterol", "174", "mg/dL")]),
        ("TC/HDL  5.6", [("cholesterol/hdl ratio", "5.6", None)]),
    ],
)
def test_abbreviated_lab_names(text: str, expected: list[tuple[str, str | None, str | None]]) -> None:
    assert _labs(text) == expected


def test_a_value_printed_before_its_name_on_a_later_line() -> None:
    # an analyser slip prints "2.8 INR" under other lines; the value before the name is its result
    assert _values("CoaguChek XS Plus\nTest no.    0148\n           2.8 INR\n") == ["2.8"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hb        131 g/L              WCC         7.8 x10^9/L", ["131", "7.8"]),  # two results a row
        ("APTT ratio  1.02", ["1.02"]),
        ("Apolipoprotein B      1.12     H    <1.05     g/L", ["1.12"]),
        ("Iron             6    L   umol/L     10 - 30", ["6"]),
        ("Transferrin      3.8  H   g/L        2.0 - 3.6", ["3.8"]),
        ("Active B12 (HoloTC)   22   L   pmol/L   >35", ["22"]),
        # a unit is required: a percentage is the saturation's, not transferrin's
        ("Transferrin 45 %", []),
    ],
)
def test_haematinic_coagulation_and_apolipoprotein_names(text: str, expected: list[str]) -> None:
    assert _values(text) == expected


def test_dipstick_abbreviations_are_names_only_on_a_dipstick_printout() -> None:
    slip = "CLINITEK Status+\n  GLU   NEGATIVE\n  PRO   30 mg/dL   *\n  SG    1.020\n  LEU   TRACE\n"
    assert _labs(slip) == [
        ("urine glucose", "negative", None),
        ("urine protein", "30", "mg/dL"),
        ("urine specific gravity", "1.020", None),
        ("urine leukocyte esterase", "trace", None),
    ]
    # the same words outside a dipstick's block are no names; GLU stays the blood glucose
    assert _values("Lipid panel\n  GLU     104 mg/dL\n\nPRO 30 points, SG 1.020, LEU TRACE") == ["104"]


def test_trg_is_the_triglycerides_only_on_a_lipid_printout() -> None:
    slip = "Cholestech LDX\n  TC      212 mg/dL\n  TRG     189 mg/dL\n"
    assert _labs(slip)[1] == ("triglycerides", "189", "mg/dL")
    assert _values("Clonality studies\n  TRG     189 mg/dL\n") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Albumin, random urine      31.5              mg/L", [("urine microalbumin", "31.5", "mg/L")]),
        ("Creatinine, random urine   8.3               mmol/L", [("urine creatinine", "8.3", "mmol/L")]),
        ("Albumin    39 g/L", [("albumin", "39", "g/L")]),
    ],
)
def test_urine_albumin_and_creatinine_in_si(
    text: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    assert _labs(text) == expected


def test_a_molar_unit_with_ocr_one_for_l_is_read() -> None:
    # OCR reads the l of "mol" as 1 ("pmo1/L"): the unit is still the molar one, so the value stays
    assert _labs("Free T4      38.4   H   pmo1/L     10 - 22") == [("free thyroxine", "38.4", "pmol/L")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a name alone on its line, its value below with a footnote letter, flag, unit and range columns
        ("Free T3\n   >30.8 b   H   pmol/L   2.8 - 6.5\n", [("free triiodothyronine", ">30.8", "pmol/L")]),
        # a wrapped name whose unit is written IU/L
        ("TSH Receptor\n  Antibodies   6.2   H   IU/L   <1.8\n", [("tsh receptor antibody", "6.2", "U/L")]),
    ],
)
def test_a_faxed_report_s_split_rows(text: str, expected: list[tuple[str, str | None, str | None]]) -> None:
    assert _labs(text) == expected


def test_a_control_block_without_a_verdict_is_quality_control_but_prose_control_is_not() -> None:
    assert _values("Afinion 2    CONTROL\n  HbA1c       5.4 %\n") == []
    assert _values("Diabetes Control\n  HbA1c       7.9 %\n") == ["7.9"]
