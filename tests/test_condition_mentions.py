"""Condition mentions a note words differently from ICD-10-CM's titles, and their status.

The phrasings are those of real notes (the MTSamples sets): an eponym ICD-10-CM keeps in
brackets, a head noun said another way, a vitamin named by its letter, a deficiency's word order,
a disease's adjective, an organ named by its noun. Each must still be no condition where the
words alone say nothing ("attack", "disorder", "tenderness").
"""

from __future__ import annotations

import pytest
from mtsamples_scoring import status

from medupload.pipeline import gazetteer, misspellings
from medupload.pipeline.extraction import ExtractedFact, extract
from medupload.pipeline.vocabulary import fold


def _conditions(text: str) -> list[ExtractedFact]:
    return [f for f in extract(text).facts if f.kind == "condition"]


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Febrile neutrophilic dermatosis [Sweet]", {"sweet syndrome", "sweet disease"}),
        ("Myeloproliferative disease", {"myeloproliferative disorder"}),
        ("Autoimmune disease", {"autoimmune disorder"}),
        ("Acute myocardial infarction", {"acute myocardial infarct"}),
        ("Deficiency of factor X [Stuart-Prower]", {"factor x deficiency", "stuart-prower syndrome"}),
        ("Vitamin B12 deficiency", {"b12 deficiency"}),
        ("Gout attack", {"gouty attack"}),
        ("Polyp of colon", {"colonic polyp", "colon polyp"}),
    ],
)
def test_other_everyday_names_of_an_icd_title(description: str, expected: set[str]) -> None:
    normal = gazetteer.normalise_condition(description)
    assert normal is not None
    assert expected <= set(gazetteer.other_names(description, normal[0]))


@pytest.mark.parametrize(
    ("description", "unwanted"),
    [
        # An eponym's own disease keeps its word; a lower-case bracket is often a plain word.
        ("Pompe disease", "pompe disorder"),
        ("Lyme disease", "lyme disorder"),
        ("Hereditary factor VII deficiency [stable]", "stable"),
        # A disease's adjective only before an episode of it: "chronic gouty" is no name.
        ("Chronic gout due to renal impairment", "chronic gouty due to renal impairment"),
        # An organ's noun before a finding of one word only.
        ("Major laceration of spleen", "spleen major laceration"),
    ],
)
def test_no_other_name_that_is_not_said(description: str, unwanted: str) -> None:
    normal = gazetteer.normalise_condition(description)
    assert normal is not None
    assert unwanted not in gazetteer.other_names(description, normal[0])


@pytest.mark.parametrize(
    ("text", "matched", "code"),
    [
        ("PROBLEMS LIST:\n1. Sweet syndrome.\n2. Hypertension.", "Sweet syndrome", "L98.2"),
        ("ASSESSMENT:\n1. Sweet's syndrome, improving.", "Sweet's syndrome", "L98.2"),
        ("ASSESSMENT:\n1. Fatigue.\n2. B12 deficiency.", "B12 deficiency", "E53.8"),
        ("IMPRESSION:\n1. Acute gouty attack.", "gouty attack", "M10"),
        ("She also has oligohidrosis during this summertime.", "oligohidrosis", "L74.4"),
        ("A CT scan shows bilateral pulmonary infarcts.", "pulmonary infarcts", "I26.99"),
        ("Coronary artery disease with a myocardial infarct in 2006.", "myocardial infarct", "I21.9"),
        ("JAK-2 positive myeloproliferative disorder.", "myeloproliferative disorder", "C94.6"),
        ("Colonoscopy showed a colon polyp.", "colon polyp", "K63.5"),
        ("No seizure activity nor involuntary movements were observed.", "involuntary movements", "R25.9"),
    ],
)
def test_a_condition_worded_another_way_is_found(text: str, matched: str, code: str) -> None:
    found = {(f.text, f.code) for f in _conditions(text)}
    assert (matched, code) in found


def test_a_shared_code_keeps_each_curated_name() -> None:
    # Pulmonary infarction is coded as pulmonary embolism (I26.99) and both are curated: the
    # ICD-10-CM names of that code stay pulmonary embolism.
    concepts = {f.text: f.concept for f in _conditions("Acute pulmonary embolism. Old pulmonary infarct.")}
    assert concepts == {
        "Acute pulmonary embolism": "pulmonary embolism",
        "pulmonary infarct": "pulmonary infarction",
    }


@pytest.mark.parametrize(
    "text",
    [
        "He had an attack last night.",
        "The disorder was explained to the family.",
        "There was tenderness on palpation.",
        "The flare was seen on the MRI sequence.",
        "Hemoglobin stable at 10.9.",
    ],
)
def test_a_bare_head_word_is_no_condition(text: str) -> None:
    assert _conditions(text) == []


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        # A cue that ends its list item negates that item only.
        (
            "She was discharged with a diagnoses of chest pain, acute myocardial infarction ruled out, "
            "urinary tract infection.",
            "acute myocardial infarction",
            "negated",
        ),
        (
            "She was discharged with diagnoses of chest pain, acute MI ruled out, fever.",
            "chest pain",
            "present",
        ),
        ("She was discharged with diagnoses of chest pain, acute MI ruled out, fever.", "fever", "present"),
        ("Pneumonia was ruled out.", "Pneumonia", "negated"),
        # A concern is a suspicion.
        ("Due to concern for infection, he was started on oral Keflex.", "infection", "uncertain"),
        # A recent diagnosis is of a condition had now; a recent event is past.
        (
            "She presents with a recent diagnosis of urinary tract infection on nitrofurantoin.",
            "urinary tract infection",
            "present",
        ),
        ("She was recently diagnosed with pneumonia.", "pneumonia", "present"),
        ("Recent myocardial infarction.", "myocardial infarction", "historical"),
        # "old" with where the event was between.
        ("EKG shows old inferior wall myocardial infarction.", "myocardial infarction", "historical"),
        ("A 45 years old man with hypertension.", "hypertension", "present"),
    ],
)
def test_status_on_real_note_phrasing(text: str, matched: str, expected: str) -> None:
    statuses = {f.text: status(f) for f in _conditions(text)}
    assert statuses[matched] == expected


def test_a_concern_leaves_the_drug_started_for_it() -> None:
    facts = extract("Due to concern for infection, he was started on oral Keflex.").facts
    keflex = [f for f in facts if f.kind == "medication"]
    assert keflex and not keflex[0].uncertain


@pytest.mark.parametrize(
    ("text", "matched", "concept"),
    [
        (
            "ASSESSMENT: Plantar fascitis/heel spur syndrome, right foot.",
            "Plantar fascitis",
            "plantar fasciitis",
        ),
        ("Distant relatives with alcohol dependance.", "alcohol dependance", "alcohol dependence"),
        ("Solu-Medrol was given because of bronchospams.", "bronchospams", "bronchospasm"),
        ("He was treated for pnemonia.", "pnemonia", "pneumonia"),
        ("She has diabetis.", "diabetis", "diabetes mellitus"),
    ],
)
def test_a_misspelt_condition_word_is_read_as_the_condition(text: str, matched: str, concept: str) -> None:
    found = {f.text: f.concept for f in _conditions(text)}
    assert found.get(matched) == concept


@pytest.mark.parametrize(
    "text",
    [
        "He was given an injection at the nursing station.",  # English words one slip from conditions
        "There was no blood tingeing.",  # a real word ("tingling" is a changed consonant away)
        "Headache with phonophobia.",  # another term, not "photophobia" misspelt
        "The artery was opened for stenting.",  # made from "stent", not "stunting"
        "Hemostasis was obtained with Surgicel and the wound was closed.",  # a brand, not "surgical"
    ],
)
def test_a_real_word_is_not_read_as_a_misspelt_condition(text: str) -> None:
    found = {f.text.lower() for f in _conditions(text)}
    assert not found & {"injection", "station", "tingeing", "phonophobia", "stenting", "surgicel"}


def test_a_slip_is_read_only_where_it_makes_a_word_of_a_condition_name() -> None:
    assert misspellings.correction("stenting") is None
    assert misspellings.correction("Surgicel", after_word=True) is None
    assert misspellings.correction("fascitis") == fold("fasciitis")


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        # A story told from an earlier time.
        (
            "He is known to us from his last admission. At that time, he was admitted with constipation.",
            "constipation",
            "historical",
        ),
        (
            "On his last visit with me he presented with angina. He was admitted to hospital and found to "
            "have an acute myocardial infarction.",
            "acute myocardial infarction",
            "historical",
        ),
        (
            "He was recently discharged from the hospital after being admitted for altered mental status.",
            "altered mental status",
            "historical",
        ),
        ("She had pneumonia during her last admission.", "pneumonia", "historical"),
        # The next sentence says it is over; a condition told before a comma is not its subject.
        (
            "She stopped the medication due to skin rash as well as hives. Since then, this had resolved.",
            "hives",
            "historical",
        ),
        (
            "Recurrent urinary tract infection, completed the dose, but stopped Macrodantin due to hives. "
            "This has resolved.",
            "urinary tract infection",
            "present",
        ),
        # "since his last visit" counts up to now.
        ("Since his last visit, he has had constipation.", "constipation", "present"),
        # A chronic condition told then is still had.
        ("At that time he had an established diagnosis of hypertension.", "hypertension", "present"),
        ("Her upper respiratory infection has resolved.", "upper respiratory infection", "historical"),
        # Everyday names ICD-10-CM titles lack.
        ("The patient denies nosebleed, visual changes, nausea.", "visual changes", "negated"),
        ("The patient has no past history of any renal problems.", "renal problems", "negated"),
        ("No family history of hypercoagulable condition.", "hypercoagulable condition", "negated"),
        ("History of basal ganglia cerebrovascular event in 2004.", "cerebrovascular event", "historical"),
    ],
)
def test_status_of_a_story_and_everyday_names(text: str, matched: str, expected: str) -> None:
    statuses = {f.text: status(f) for f in _conditions(text)}
    assert statuses[matched] == expected
