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


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        # A relative who came along is not the one with the condition, unless the text says so.
        ("She presents with her husband complaining of nausea.", "nausea", "present"),
        (
            "The patient is accompanied by his wife, who states that he has had chest pain.",
            "chest pain",
            "present",
        ),
        ("She came with her mother, who has breast cancer.", "breast cancer", "family"),
        # Negations and hedges real notes use.
        ("There has never been any angina.", "angina", "negated"),
        ("It is doubtful that this is pneumonia.", "pneumonia", "uncertain"),
        ("V/Q scan indeterminate for pulmonary embolism.", "pulmonary embolism", "uncertain"),
        ("Evaluate for pulmonary embolism.", "pulmonary embolism", "uncertain"),
        ("A CT was ordered to exclude the possibility of appendicitis.", "appendicitis", "uncertain"),
        ("He is at increased risk of stroke.", "stroke", "uncertain"),
        (
            "She was placed on heparin for prophylaxis against deep venous thrombosis.",
            "deep venous thrombosis",
            "negated",
        ),
        ("Dysuria: denied.", "Dysuria", "negated"),
        ("Not only anemia but also thrombocytopenia.", "anemia", "present"),
        # The reason for a hedge is not hedged; a drug before "history of" treats something else.
        ("Likely sepsis given his history of diabetes.", "diabetes", "present"),
        (
            "Likely anemia; consider iron given his history of alcoholic cirrhosis and pneumonia.",
            "pneumonia",
            "historical",
        ),
        # Current despite "history of"; past despite a list that reads as current.
        ("History of hyperthyroidism since 2001.", "hyperthyroidism", "present"),
        ("History of metastatic breast cancer and anxiety.", "metastatic breast cancer", "present"),
        (
            "Past surgical history is significant for appendectomy, colon cancer surgery in 1998.",
            "colon cancer",
            "historical",
        ),
        (
            "Past surgical history is significant for cholecystectomy for cholecystitis.",
            "cholecystitis",
            "historical",
        ),
        # Resolved, earlier this year, and a procedure's finding.
        ("His edema and erythema resolved quickly.", "edema", "historical"),
        ("She had a nosebleed two days ago that had resolved by morning.", "nosebleed", "historical"),
        ("The rash has resolved but the cough persists.", "cough", "present"),
        ("Earlier this year, he had a hepatitis with raised enzymes.", "hepatitis", "historical"),
        ("She was diagnosed with diabetes earlier this year.", "diabetes", "present"),
        ("Status post EGD this morning confirming esophagitis.", "esophagitis", "present"),
        ("Status post cholecystectomy for cholecystitis.", "cholecystitis", "historical"),
        # Hedged denials and lists of possibilities are hedges; a presenting complaint is current.
        ("She is likely to not have had ventricular tachycardia.", "ventricular tachycardia", "uncertain"),
        ("Possibilities include appendicitis or intussusception.", "appendicitis", "uncertain"),
        ("There is concern regarding pneumonia.", "pneumonia", "uncertain"),
        ("He was admitted with a history of abdominal pain.", "abdominal pain", "present"),
        # What a work-up is to explain is there.
        ("We will rule out nephrosis as the cause of his anemia.", "anemia", "present"),
        ("Possible infection as the source of his fever.", "fever", "present"),
    ],
)
def test_status_of_general_phrasings_new_notes_showed(text: str, matched: str, expected: str) -> None:
    start = text.index(matched)
    over = [f for f in _conditions(text) if f.start < start + len(matched) and f.end > start]
    assert {status(f) for f in over} == {expected}


@pytest.mark.parametrize(
    ("text", "concept_code"),
    [
        ("He has hypertriglyceridemia.", "E78.1"),
        ("Prostatic hypertrophy with bladder outlet obstruction.", "N32.0"),
        ("Obvious exophthalmus on examination.", "H05.20"),
        ("There was no thyroid mass palpable.", "E04.1"),
    ],
)
def test_everyday_condition_names_new_notes_used(text: str, concept_code: str) -> None:
    assert concept_code in {f.code for f in _conditions(text)}


@pytest.mark.parametrize(
    ("text", "matched", "concept_code", "expected"),
    [
        # Review-of-systems and examination findings that notes mostly deny.
        ("He has had no falls.", "falls", "R29.6", "negated"),
        ("No history of fever, no history of easy bruising.", "easy bruising", "R23.8", "negated"),
        ("He denies being suicidal.", "suicidal", "R45.851", "negated"),
        ("Valium at bedtime for spasticity.", "spasticity", "R25.8", "present"),
        (
            "He has developed a severe graft-versus-host reaction.",
            "graft-versus-host reaction",
            "D89.813",
            "present",
        ),
        ("Obvious exophthalmus, but no obvious lid lag today.", "lid lag", "H02.539", "negated"),
        ("Extremities: No calf tenderness or ankle edema.", "calf tenderness", "M79.669", "negated"),
        (
            "She was found to have vancomycin resistant enterococcus.",
            "vancomycin resistant enterococcus",
            "Z16.21",
            "present",
        ),
        ("He has no subcostal retractions.", "subcostal retractions", "R06.9", "negated"),
    ],
)
def test_findings_notes_deny_or_name_in_passing(
    text: str, matched: str, concept_code: str, expected: str
) -> None:
    start = text.index(matched)
    over = [f for f in _conditions(text) if f.start < start + len(matched) and f.end > start]
    assert {f.code for f in over} == {concept_code}
    assert {status(f) for f in over} == {expected}


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        # A lesion taken out at an earlier, dated operation is gone; the note's own operation
        # treats a current one.
        ("Removal of the melanoma from the right thigh in 1984.", "melanoma", "historical"),
        ("PROCEDURE:\nExcision of dorsal wrist ganglion.", "ganglion", "present"),
        # A lifelong disorder, and one treated now, are current however the history is told.
        ("He has a history of bipolar affective disorder.", "bipolar affective disorder", "present"),
        (
            "He has a history of sick sinus syndrome for which he has a permanent pacemaker.",
            "sick sinus syndrome",
            "present",
        ),
        # A treatment or complication told in the past tense is over.
        ("He was recently discharged after he was treated for pneumonia.", "pneumonia", "historical"),
        (
            "Courses of methotrexate have been complicated by mental confusion and mania.",
            "mania",
            "historical",
        ),
        ("She is being treated for pneumonia.", "pneumonia", "present"),
    ],
)
def test_status_of_removed_lifelong_and_treated_conditions(text: str, matched: str, expected: str) -> None:
    start = text.index(matched)
    over = [f for f in _conditions(text) if f.start < start + len(matched) and f.end > start]
    assert {status(f) for f in over} == {expected}


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        # A relative "who has" X outside a family section is a family history.
        ("She has siblings who have increased cholesterol.", "increased cholesterol", "family"),
        # The complaint an admission is for is current, an acute one too.
        ("He was admitted on 12/23/2007 with a history of rectal bleeding.", "rectal bleeding", "present"),
    ],
)
def test_status_of_relatives_who_have_and_admitting_complaints(
    text: str, matched: str, expected: str
) -> None:
    start = text.index(matched)
    over = [f for f in _conditions(text) if f.start < start + len(matched) and f.end > start]
    assert {status(f) for f in over} == {expected}


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        # A past event named as one ("old myocardial infarction") is past.
        (
            "Coronary vascular disease with old myocardial infarction.",
            "old myocardial infarction",
            "historical",
        ),
        # A later list item's own hedge, not the denial before it, says what the item is; a past
        # cue can itself be denied.
        (
            "No history of diabetes mellitus, questionable history of coronary artery disease.",
            "coronary artery disease",
            "uncertain",
        ),
        ("She denies any history of recent surgery, head trauma, recent stroke.", "stroke", "negated"),
        # "and also" opens a new clause the denial before it does not reach.
        (
            "The CT did not show any acute events, and also she was recently diagnosed with"
            " urinary tract infection.",
            "urinary tract infection",
            "present",
        ),
    ],
)
def test_status_of_named_past_events_and_list_items_with_own_cues(
    text: str, matched: str, expected: str
) -> None:
    start = text.index(matched)
    over = [f for f in _conditions(text) if f.start < start + len(matched) and f.end > start]
    assert {status(f) for f in over} == {expected}


def test_bone_named_under_a_fracture_code_is_no_condition() -> None:
    bones = _conditions("AXIS I: Depressive disorder. The knee cap was everted along the axis of the tibia.")
    assert {f.code for f in bones} == {"F32.A"}
    assert "S02.5" in {f.code for f in _conditions("She has a broken tooth.")}


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        # A cue word inside a hyphenated compound is part of a name, not a hedge.
        ("Depressive disorder secondary to graft-versus-host reaction.", "Depressive disorder", "present"),
        ("Depressive disorder versus adjustment disorder.", "Depressive disorder", "uncertain"),
    ],
)
def test_cue_inside_a_compound_word_is_no_cue(text: str, matched: str, expected: str) -> None:
    start = text.index(matched)
    over = [f for f in _conditions(text) if f.start < start + len(matched) and f.end > start]
    assert {status(f) for f in over} == {expected}


@pytest.mark.parametrize(
    ("text", "matched", "code"),
    [
        # A British spelling is the American word of a condition name.
        ("Leucocytosis on admission.", "Leucocytosis", "D72.829"),
        ("Bilateral ankle oedema.", "oedema", "R60.9"),
        ("Reflux oesophagitis.", "Reflux oesophagitis", "K21.00"),
        ("Acute myeloid leukaemia.", "Acute myeloid leukaemia", "C92.00"),
        # Tumour morphology names, word orders and everyday names ICD-10-CM titles lack.
        ("ADMITTING DIAGNOSES: 1. Leiomyosarcoma.", "Leiomyosarcoma", "C49.9"),
        ("A history of liposarcoma of the thigh.", "liposarcoma", "C49.9"),
        ("Severe backache secondary to disc herniation.", "disc herniation", "M51.26"),
        ("1. Respiratory distress.", "Respiratory distress", "R06.03"),
        ("She is having frequent low blood sugars.", "low blood sugars", "E16.2"),
        ("Diagnosed with pneumonia as well as shingles.", "shingles", "B02.9"),
        (
            "He had bilateral ureteral obstruction and is status post a stent.",
            "ureteral obstruction",
            "N13.9",
        ),
    ],
)
def test_british_spellings_and_morphology_names_are_found(text: str, matched: str, code: str) -> None:
    start = text.index(matched)
    assert {f.code for f in _conditions(text) if f.start == start and f.end == start + len(matched)} == {code}


@pytest.mark.parametrize("word", ["colour", "favour", "aerobic", "shoes", "poem"])
def test_a_british_spelling_is_read_only_as_a_condition_word(word: str) -> None:
    assert misspellings.american_spelling(word) in {None, "color"}
    assert not _conditions(f"She chose the {word} herself.")


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        # An open question is a hedge.
        ("Hyperglycemia. It is unknown whether the patient is diabetic.", "diabetic", "uncertain"),
        ("It is unclear if she has asthma.", "asthma", "uncertain"),
        # A hedge about the cause leaves what it explains present.
        (
            "She is on antidepressants and that may be causing some difficulties with weight loss.",
            "weight loss",
            "present",
        ),
        # "X resolved" tells it was there, whatever denial came before in the sentence.
        ("He was not started on any antibiotics and his fever resolved.", "fever", "historical"),
        ("He was not started on any antibiotics and had no fever.", "fever", "negated"),
        # A past time a few words after the name.
        ("Spontaneous miscarriage at 3 months approximately 30 years ago.", "miscarriage", "historical"),
        # The stay now ends a history cue's scope.
        (
            "3. History of subdural hematoma, also on admission the patient noted mild headaches.",
            "headaches",
            "present",
        ),
        # Chronic diseases told as a history are had now.
        ("She gives a history of polymyositis diagnosed in 1993.", "polymyositis", "present"),
        (
            "A history of pneumonia, also hypertension and macular degeneration.",
            "macular degeneration",
            "present",
        ),
    ],
)
def test_status_of_open_questions_explained_findings_and_chronic_histories(
    text: str, matched: str, expected: str
) -> None:
    start = text.index(matched)
    over = [f for f in extract(text).facts if f.start < start + len(matched) and f.end > start]
    assert {status(f) for f in over} == {expected}


def test_each_finding_of_a_paired_icd_title_is_named_alone() -> None:
    # "Occlusion and stenosis of carotid artery" (I65.2) is said "carotid artery stenosis".
    names = gazetteer.other_names(
        "Occlusion and stenosis of carotid artery", "occlusion and stenosis of carotid artery"
    )
    assert {"carotid artery stenosis", "carotid stenosis", "carotid artery occlusion"} <= set(names)
    found = {(f.text, f.code) for f in _conditions("Carotid artery stenosis, status post endarterectomy.")}
    assert found == {("Carotid artery stenosis", "I65.2")}


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        # The patient named again after a family cue ends the family's scope, an adverb between.
        (
            "He is seen because of a family history of colon cancer, but the patient also has "
            "rectal bleeding on a weekly basis.",
            "rectal bleeding",
            "present",
        ),
        ("His mother had colon cancer and rectal bleeding.", "rectal bleeding", "family"),
    ],
)
def test_patient_named_again_after_a_family_cue(text: str, matched: str, expected: str) -> None:
    start = text.index(matched)
    over = [f for f in extract(text).facts if f.start < start + len(matched) and f.end > start]
    assert {status(f) for f in over} == {expected}


@pytest.mark.parametrize(
    ("title", "name", "everyday"),
    [
        ("Heart disease, unspecified", "heart disease", "cardiac disease"),
        ("Lung disease NOS", "lung disease", "pulmonary disease"),
        ("Kidney failure", "kidney failure", "renal failure"),
    ],
)
def test_an_organ_noun_before_a_finding_is_also_said_as_its_adjective(
    title: str, name: str, everyday: str
) -> None:
    assert everyday in gazetteer.other_names(title, name)


def test_renal_failure_is_kidney_failure_not_uremia() -> None:
    found = _conditions("She also denies cardiac disease. Hyperkalemia due to renal failure.")
    assert {(f.text, f.concept, f.code, f.negated) for f in found} >= {
        ("cardiac disease", "cardiac disease", "I51.9", True),
        ("renal failure", "kidney failure", "N19", False),
    }


@pytest.mark.parametrize(
    ("text", "matched", "found"),
    [
        ("Asplenic. History of aplastic crisis.", "Asplenic", True),
        ("Gait: wide based, ataxic.", "ataxic", True),
        # "-emia" adjectives name drugs ("hypoglycemic agents"); "asthenic" a body build.
        ("GENERAL: Well-developed, well-nourished, normal asthenic.", "asthenic", False),
    ],
)
def test_a_one_word_ia_condition_is_said_by_its_adjective(text: str, matched: str, found: bool) -> None:
    assert any(f.text == matched for f in _conditions(text)) is found


def test_a_treatment_under_way_ends_a_history_cue() -> None:
    text = "She has a history of eczema who is being treated on an outpatient basis for pneumonia."
    start = text.index("pneumonia")
    over = [f for f in extract(text).facts if f.start == start]
    assert [status(f) for f in over] == ["present"]


def test_asthma_told_as_a_history_is_had_now() -> None:
    text = "A 2-year-old who has a history of reactive airway disease and uses Pulmicort daily."
    start = text.index("reactive airway disease")
    over = [f for f in extract(text).facts if f.start == start]
    assert [status(f) for f in over] == ["present"]


@pytest.mark.parametrize(
    ("text", "matched", "code"),
    [
        ("He reports black tarry stools for two days.", "black tarry stools", "K92.1"),
        ("Rash in the groin consistent with intertrigo.", "intertrigo", "L30.4"),
        ("Echo showed early tamponade.", "tamponade", "I31.4"),
        ("She has rest anginal symptoms.", "anginal symptoms", "I20.9"),
        ("Complains of increased urination and thirst.", "increased urination", "R35.89"),
    ],
)
def test_symptom_phrasings_name_their_condition(text: str, matched: str, code: str) -> None:
    assert (matched, code) in {(f.text, f.code) for f in _conditions(text)}


@pytest.mark.parametrize(
    ("text", "matched", "code"),
    [
        ("He had blood in his stool for two weeks.", "blood in his stool", "K92.1"),
        ("Referred for a stricture of the esophagus.", "stricture of the esophagus", "K22.2"),
        ("Squamous cell carcinoma of the skin.", "Squamous cell carcinoma of the skin", "C44.92"),
        ("She has had some decrease in her appetite.", "decrease in her appetite", "R63.0"),
    ],
)
def test_a_determiner_inside_a_condition_name_is_read_past(text: str, matched: str, code: str) -> None:
    assert (matched, code) in {(f.text, f.code) for f in _conditions(text)}


@pytest.mark.parametrize(
    ("text", "unwanted"),
    [
        # Only after a preposition, only for a condition, and a capital "A" is no determiner.
        ("She takes vitamin D with her meals.", "her meals"),
        ("He was seen with A fib.", "with A fib"),
        ("Pain in the morning.", "Pain in the morning"),
    ],
)
def test_a_determiner_is_skipped_only_inside_a_condition_name(text: str, unwanted: str) -> None:
    assert unwanted not in {f.text for f in extract(text).facts}


@pytest.mark.parametrize(
    ("text", "matched", "code"),
    [
        ("Complains of an increase in urination.", "increase in urination", "R35.89"),
        ("Tachycardia, probable mild withdrawal from alcohol.", "withdrawal from alcohol", "F10.239"),
    ],
)
def test_a_participle_first_name_is_also_said_with_its_noun(text: str, matched: str, code: str) -> None:
    assert (matched, code) in {(f.text, f.code) for f in _conditions(text)}


@pytest.mark.parametrize(
    ("text", "matched", "code"),
    [
        ("Unremarkable, except for some obstructive urinary symptoms.", "urinary symptoms", "R39.9"),
        ("Her upper respiratory symptoms have resolved.", "respiratory symptoms", "R09.89"),
        ("No GI symptoms.", "GI symptoms", "R19.8"),
        ("The neurologic symptoms decreased gradually.", "neurologic symptoms", "R29.90"),
    ],
)
def test_a_body_systems_symptoms_are_the_r_chapter_title(text: str, matched: str, code: str) -> None:
    assert (matched, code) in {(f.text, f.code) for f in _conditions(text)}


def test_symptoms_of_no_body_system_are_no_condition() -> None:
    assert gazetteer.system_symptoms("Symptoms and signs concerning food and fluid intake") == ([], 0)
    assert _conditions("Her symptoms improved with rest.") == []


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        ("RIGHT GROIN: Dry and intact, no bruit, no ecchymosis, no hematoma.", "hematoma", "negated"),
        ("Referred for a barium swallow to rule out a stricture.", "stricture", "uncertain"),
        ("There was stenosis in the mid-venous limb of the graft.", "stenosis", "present"),
        ("Upper endoscopy showed no evidence of ulcers.", "ulcers", "negated"),
        ("A reddened bulging drum but no perforation.", "perforation", "negated"),
    ],
)
def test_a_finding_is_named_by_its_head_noun_alone(text: str, matched: str, expected: str) -> None:
    facts = [f for f in _conditions(text) if f.text == matched]
    assert [(f.code, status(f)) for f in facts] == [(None, expected)]


@pytest.mark.parametrize(
    "text",
    [
        # A class, a procedure or a movement that heads site-named titles is no finding alone.
        "No other complications. The lesion was excised.",
        "A partial-occlusion clamp was placed.",
        "Tongue midline upon protrusion.",
        "Artificial rupture of membranes was performed. Sharp dissection was carried down.",
    ],
)
def test_a_head_noun_that_names_no_finding_is_no_condition(text: str) -> None:
    assert _conditions(text) == []


@pytest.mark.parametrize(
    ("text", "matched", "expected"),
    [
        ("Stress test shows evidence of a small apical infarct, no area of ischemia.", "infarct", "present"),
        ("CT of the head showed no acute infarcts.", "infarcts", "negated"),
        ("A perfusion defect in the apex, which may be an old infarct.", "infarct", "uncertain"),
    ],
)
def test_an_infarct_is_an_infarction(text: str, matched: str, expected: str) -> None:
    facts = [f for f in _conditions(text) if f.text == matched]
    assert [(f.concept, status(f)) for f in facts] == [("infarction", expected)]


def test_an_infarct_keeps_the_site_name_it_shortens() -> None:
    assert ("acute myocardial infarct", "myocardial infarction") in {
        (f.text, f.concept) for f in _conditions("He had an acute myocardial infarct in 2005.")
    }


@pytest.mark.parametrize(
    ("text", "matched", "code", "expected"),
    [
        ("No history of thyroid problems, seizures, strokes.", "thyroid problems", "E07.9", "negated"),
        ("He has had heart problems for years.", "heart problems", "I51.9", "present"),
        ("Because the patient has no lung problem.", "lung problem", "J98.4", "negated"),
    ],
)
def test_an_organs_problems_are_its_disorder(text: str, matched: str, code: str, expected: str) -> None:
    facts = [f for f in _conditions(text) if f.text == matched]
    assert [(f.code, status(f)) for f in facts] == [(code, expected)]


@pytest.mark.parametrize(
    "text",
    [
        # An eponym is no organ: its disease title gives no "problems"; nor does a plain noun.
        "She has had some Christmas problems with the family.",
        "He reports problems with his insurance and transport.",
    ],
)
def test_problems_of_no_organ_are_no_condition(text: str) -> None:
    assert _conditions(text) == []


def test_blurred_vision_is_a_condition() -> None:
    facts = _conditions("She had also complained of blurred vision for several days. No blurry vision now.")
    assert [(f.text, f.code) for f in facts] == [("blurred vision", "H53.8"), ("blurry vision", "H53.8")]


@pytest.mark.parametrize(
    ("text", "concept", "expected"),
    [
        ("Her kidney injury was due to cyclosporine toxicity.", "cyclosporine toxicity", "present"),
        ("Lethargic; possible lithium toxicity.", "lithium toxicity", "uncertain"),
        ("She took an overdose of Tylenol last night.", "acetaminophen overdose", "present"),
        ("No evidence of acetaminophen toxicity.", "acetaminophen toxicity", "negated"),
    ],
)
def test_a_drug_named_with_its_harm_is_a_condition(text: str, concept: str, expected: str) -> None:
    facts = extract(text).facts
    assert [status(f) for f in facts if f.kind == "condition" and f.concept == concept] == [expected]
    drug = concept.split()[0]
    assert drug in {f.concept for f in facts if f.kind == "medication"}  # the drug's mention stays


def test_a_drug_without_a_harm_word_is_no_condition() -> None:
    assert _conditions("Lithium 300 mg daily; cyclosporine level was 155; toxic screen negative.") == []


@pytest.mark.parametrize(
    ("text", "matched", "concept", "expected"),
    [
        (
            "She most likely has had an embolic phenomenon as the cause of her TIAs.",
            "embolic phenomenon",
            "embolism",
            "uncertain",
        ),
        (
            "EXTREMITIES: Examination of extremities reveals no embolic phenomenon.",
            "embolic phenomenon",
            "embolism",
            "negated",
        ),
        ("EKG showed no acute ischemic changes.", "ischemic changes", "ischemia", "negated"),
        ("He was admitted in a septic process.", "septic process", "sepsis", "present"),
    ],
)
def test_a_findings_adjective_with_a_happening_is_the_finding(
    text: str, matched: str, concept: str, expected: str
) -> None:
    facts = [f for f in _conditions(text) if f.text == matched]
    assert [(f.concept, status(f)) for f in facts] == [(concept, expected)]


@pytest.mark.parametrize(
    "text",
    [
        # An adjective of no finding, or a finding's adjective with a thing rather than an event.
        "The procedure was an uneventful process. Degenerative changes noted.",
        "Specific events were discussed. An embolic protection device was used.",
    ],
)
def test_an_adjective_of_no_finding_or_with_a_thing_is_no_condition(text: str) -> None:
    assert _conditions(text) == []


@pytest.mark.parametrize(
    ("text", "matched", "concept", "expected"),
    [
        (
            "A calcified mass, probably representing the benign osteochondroma seen before.",
            "osteochondroma",
            "osteochondroma",
            "uncertain",
        ),
        ("He has multiple osteochondromas of the knees.", "osteochondromas", "osteochondroma", "present"),
        ("No postoperative seroma.", "seroma", "seroma", "negated"),
    ],
)
def test_a_word_ending_in_oma_is_a_finding_of_its_own(
    text: str, matched: str, concept: str, expected: str
) -> None:
    facts = [f for f in _conditions(text) if f.text == matched]
    assert [(f.concept, f.code, status(f)) for f in facts] == [(concept, None, expected)]


def test_a_known_oma_keeps_its_name() -> None:
    assert {(f.text, f.concept) for f in _conditions("History of melanoma.")} == {("melanoma", "melanoma")}


@pytest.mark.parametrize(
    "text",
    [
        "She has a high school diploma.",
        "The colostoma is pink and healthy.",
        "He lives in Tulsa, Oklahoma.",
        "Drain along the zygoma.",
    ],
)
def test_an_ordinary_word_ending_in_oma_is_no_condition(text: str) -> None:
    assert _conditions(text) == []


@pytest.mark.parametrize(
    ("text", "matched", "concept"),
    [
        (
            "Continued difficulty with depression associated with type 1 bipolar disease.",
            "bipolar disease",
            "bipolar disorder",
        ),
        ("She has a history of seizure disease.", "seizure disease", "epilepsy"),
    ],
)
def test_disease_and_disorder_are_said_for_each_other(text: str, matched: str, concept: str) -> None:
    assert (matched, concept) in {(f.text, f.concept) for f in _conditions(text)}


def test_a_name_with_its_own_disease_keeps_its_meaning() -> None:
    assert {f.concept for f in _conditions("Known heart disease and a bladder disorder.")} == {
        "heart disease",
        "bladder dysfunction",
    }
