"""Condition status (present / negated / historical / family / uncertain) on real phrasing:
one test per mechanism in medupload/pipeline/assertions.py, each with a case it must not fire on.
Statuses follow tests/data/mtsamples_labels.md (negated > family > uncertain > historical)."""

from __future__ import annotations

from datetime import date

import pytest
from mtsamples_scoring import status

from medupload.pipeline.extraction import extract

TODAY = date(2026, 3, 10)


def _status(text: str, span: str, occurrence: int = 1) -> str:
    """The status of the condition fact over the ``occurrence``-th ``span`` of ``text``."""
    start = -1
    for _ in range(occurrence):
        start = text.index(span, start + 1)
    end = start + len(span)
    facts = [
        f
        for f in extract(text, today=TODAY).facts
        if f.kind == "condition" and f.start < end and f.end > start
    ]
    assert facts, f"no condition over {span!r}"
    # The same status the labelled sets are scored by (negated > family > uncertain > historical).
    return status(facts[0])


@pytest.mark.parametrize(
    ("text", "span", "occurrence", "expected"),
    [
        # The assessment names the condition again with no cue of its own: "history of X" is current.
        (
            "HISTORY OF PRESENT ILLNESS:\nShe has hypertension, history of urinary incontinence, and "
            "dementia.\n\nIMPRESSION:\n1. Hypertension.\n2. Urinary incontinence.\n",
            "urinary incontinence",
            1,
            "present",
        ),
        # ... not when the assessment does not name it,
        (
            "HISTORY OF PRESENT ILLNESS:\nShe has hypertension, history of urinary incontinence, and "
            "dementia.\n\nIMPRESSION:\n1. Hypertension.\n2. Dementia.\n",
            "urinary incontinence",
            1,
            "historical",
        ),
        # ... nor when the assessment's own mention is past too,
        (
            "HISTORY OF PRESENT ILLNESS:\nHe has a history of pneumonia.\n\nASSESSMENT:\n"
            "1. Pneumonia, resolved.\n",
            "pneumonia",
            1,
            "historical",
        ),
        # ... nor for a history given as the reason for a test ("due to his history of").
        (
            "HISTORY OF PRESENT ILLNESS:\nDue to his history of kidney stone, renal ultrasound was done."
            "\n\nIMPRESSION:\n1. A 6-mm left kidney stone.\n",
            "kidney stone",
            1,
            "historical",
        ),
        # "in the distant past" is as past as "in the past".
        (
            "HISTORY OF PRESENT ILLNESS:\nHistory of sciatic pain in the distant past.\n\nIMPRESSION:\n"
            "1. Sciatic pain.\n",
            "sciatic pain",
            1,
            "historical",
        ),
    ],
)
def test_history_of_a_condition_the_assessment_names_is_current(
    text: str, span: str, occurrence: int, expected: str
) -> None:
    assert _status(text, span, occurrence) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # A condition under a past surgical history header was operated on: past.
        (
            "PAST SURGICAL HISTORY:\nLeft breast biopsy. Cholecystitis/cholecystectomy 22 years ago.\n",
            "Cholecystitis",
            "past",
        ),
        # ... a chronic one stays current,
        ("PAST SURGICAL HISTORY:\nCoronary artery disease, status post bypass.\n", "Coronary", "present"),
        # ... and a past *medical* history lists current problems.
        ("PAST MEDICAL HISTORY:\nCholecystitis.\n", "Cholecystitis", "present"),
        # "INDICATIONS FOR SURGERY" names the condition being operated on now.
        ("INDICATIONS FOR SURGERY:\nThis is a 41-year-old woman with a goiter.\n", "goiter", "present"),
    ],
)
def test_a_condition_under_past_surgical_history_is_past(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == ("historical" if expected == "past" else expected)


_STORY = (
    "HISTORY OF PRESENT ILLNESS:\nShe had a syncopal episode in 2007. At that time, she was admitted at "
    "Hospital, had a V/Q scan, which was positive for PE. Initial V/Q scan was negative. {next}\n"
)


@pytest.mark.parametrize(
    ("next_sentences", "span", "expected"),
    [
        # The sentences after an earlier-time anchor go on telling of then.
        ("She was anticoagulated with Coumadin resulting in severe GI bleed.", "GI bleed", "historical"),
        # ... until one is back in the present,
        ("She now has a GI bleed.", "GI bleed", "present"),
        ("She is here today. She was anticoagulated, with a GI bleed.", "GI bleed", "present"),
        # ... a course that runs up to now ("worsened") is not over,
        ("Her back pain progressively worsened.", "back pain", "present"),
        # ... and a diagnosis made then names a condition that lasts.
        ("She was also diagnosed with ulcerative colitis.", "ulcerative colitis", "present"),
    ],
)
def test_a_story_set_at_an_earlier_time_goes_on_past(next_sentences: str, span: str, expected: str) -> None:
    assert _status(_STORY.format(next=next_sentences), span) == expected


def test_an_earlier_time_in_an_operation_note_is_the_operation() -> None:
    text = (
        "DESCRIPTION OF PROCEDURE:\nThe coin was removed with an endoscope. At that time, the endoscope was "
        "reinserted and the stomach was normal. The esophagus was normal except for some mild erythema.\n"
    )
    assert _status(text, "erythema") == "present"


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # "in the past" ending its clause makes the clause's conditions past,
        (
            "He has had problems with urinary retention and bladder stones in the past.",
            "urinary retention",
            "historical",
        ),
        ("He had a hernia repair done on the right in the past, but is well now.", "hernia", "historical"),
        # ... not a comparison or a later clause,
        ("He reports heartburn that is more frequent than it has been in the past.", "heartburn", "present"),
        ("He is lightheaded, unlike the vertigo he had in the past.", "lightheaded", "present"),
        # ... nor a recent course ("in the past two months").
        ("His headaches progressively worsened in the past two months.", "headaches", "present"),
        # A complication told in the past tense happened then.
        (
            "He did have complications of deep vein thrombosis with one of those operations.",
            "deep vein",
            "historical",
        ),
    ],
)
def test_in_the_past_and_past_complications(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # A positive statement or a complaint after a denial ends the denial,
        ("Negative for chest pain, positive for shortness of breath.", "shortness of breath", "present"),
        ("Negative for chest pain, positive for shortness of breath.", "chest pain", "negated"),
        ("Patient denies headache, nausea, and complains of back pain.", "back pain", "present"),
        ("He denies fever, but admits to a productive cough.", "cough", "present"),
        # ... a later denial of its own still counts,
        ("He denies fever and reports no cough.", "cough", "negated"),
        # ... and a family history that is positive stays the family's.
        ("Family history is positive for diabetes.", "diabetes", "family"),
    ],
)
def test_a_positive_statement_ends_a_denial(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # A course that did not change is of a condition that is there (pseudo-negations),
        ("No significant change in her congestive heart failure.", "congestive heart failure", "present"),
        ("No improvement in his back pain.", "back pain", "present"),
        ("No back pain.", "back pain", "negated"),
        # "neither ... nor" denies both,
        ("Neither fever nor chills.", "fever", "negated"),
        ("Neither fever nor chills.", "chills", "negated"),
        # a "not" of doubt is a hedge, not a denial,
        ("The patient is not sure if he had a stroke.", "stroke", "uncertain"),
        ("Not certain whether she has pneumonia.", "pneumonia", "uncertain"),
        ("The patient is not having a stroke.", "stroke", "negated"),
        # hedges after the name and work-ups,
        ("Appendicitis is less likely.", "Appendicitis", "uncertain"),
        (
            "She does have severe osteoarthritis and is likely going to undergo knee replacement.",
            "osteoarthritis",
            "present",
        ),
        ("We discussed frequent office visits to screen for preeclampsia.", "preeclampsia", "uncertain"),
        ("We will check for anemia.", "anemia", "uncertain"),
        # and a relative's clause does not reach the patient's own.
        ("His mother has diabetes and he has hypertension.", "hypertension", "present"),
        ("His mother has diabetes and he has hypertension.", "diabetes", "family"),
    ],
)
def test_pseudo_negations_doubts_and_hedges(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # A clause with a verb of its own after a denial's list is not denied,
        ("The patient has no fever, has a cough.", "cough", "present"),
        ("He denies fever, chills, has been having a cough.", "cough", "present"),
        # ... a denial of its own still counts, as do the denial's list items.
        ("She denies chest pain, has no shortness of breath.", "shortness of breath", "negated"),
        ("He denies fever, chills, has been having a cough.", "chills", "negated"),
        # The chronic condition an operation was for is still had; an acute one is over.
        ("Status post CABG for coronary artery disease.", "coronary artery disease", "present"),
        ("Status post cholecystectomy for cholecystitis.", "cholecystitis", "historical"),
    ],
)
def test_new_clauses_and_the_reason_for_an_operation(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


_CONSENT = (
    "INDICATIONS FOR SURGERY:\nThis is a 64-year-old man with adenocarcinoma of the prostate. Potential "
    "complications include, but are not limited to:\n1. Infection.\n2. Bleeding.\n3. Incontinence.\n"
    "PROCEDURE IN DETAIL:\nThe patient was prepped.\n"
)


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # A consent's list of what could happen names no condition the patient has,
        (_CONSENT, "Infection", "uncertain"),
        (_CONSENT, "Incontinence", "uncertain"),
        (
            "The risks including bleeding, infection, and nerve damage were discussed.",
            "infection",
            "uncertain",
        ),
        ("He is at risk for falls.", "falls", "uncertain"),
        # ... the condition being operated on is had,
        (_CONSENT, "adenocarcinoma", "present"),
        # ... and a bare COMPLICATIONS header lists the operation's own.
        ("COMPLICATIONS:\n1. Bleeding.\n2. Infection.\n", "Infection", "present"),
    ],
)
def test_a_consents_risk_list_is_hypothetical(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # An earlier stay and a symptom that subsided are past,
        ("He was hospitalized for pneumonia in March.", "pneumonia", "historical"),
        ("The fever has subsided but the cough persists.", "fever", "historical"),
        # ... not what is still there, nor the stay of the note itself.
        ("The fever has subsided but the cough persists.", "cough", "present"),
        ("He is hospitalized for pneumonia.", "pneumonia", "present"),
    ],
)
def test_an_earlier_stay_and_a_subsided_symptom_are_past(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("next_sentences", "span"),
    [
        # A test's finding, a course up to now and a present-tense verb are of now, not of the story.
        ("A CT scan same day revealed a calcification over the left kidney.", "calcification"),
        ("She also had bright blood in the stool for the last 5 months on and off.", "blood in the stool"),
        ("The calcification previously noted appears to be outside the ureter.", "calcification"),
    ],
)
def test_a_story_stops_at_findings_and_courses_up_to_now(next_sentences: str, span: str) -> None:
    assert _status(_STORY.format(next=next_sentences), span) == "present"


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # A visit is no hypothetical return, an obstetric count no relative, a visited relative no
        # family history, and the patient's own history ends a relative's cue,
        (
            "This is a routine return appointment for this woman with chronic atrial fibrillation.",
            "atrial fibrillation",
            "present",
        ),
        (
            "PAST MEDICAL HISTORY:\nHypertension, this is her third child with one miscarriage.",
            "miscarriage",
            "historical",
        ),
        ("She is visiting her son here in Utah, with a history of diabetes.", "diabetes", "present"),
        (
            "He has a family history of colon cancer and a personal history of hypertension.",
            "hypertension",
            "present",
        ),
        # ... while a return to come, a relative's own condition and the family history stay so.
        ("Return if chest pain recurs.", "chest pain", "uncertain"),
        ("Her son has diabetes.", "diabetes", "family"),
        ("He has a family history of colon cancer.", "colon cancer", "family"),
    ],
)
def test_visits_counts_and_companions_are_not_cues(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # Denials written after the name or with a dictation's verb,
        ("FAMILY HISTORY:\nAs far as heart disease there is none in the family.", "heart disease", "negated"),
        ("He negates any symptoms of depression or anxiety.", "depression", "negated"),
        # ... and a decline that is a worsening, not a refusal.
        (
            "She has been noting some decline primarily with regards to her depression.",
            "depression",
            "present",
        ),
        ("She declines treatment for her depression.", "depression", "negated"),
    ],
)
def test_denials_after_the_name_and_a_decline_that_is_a_worsening(
    text: str, span: str, expected: str
) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # A condition whose own organ was operated on, one named as of childhood, and an operation
        # under a "previous surgical history" header are past,
        (
            "PROBLEM LIST:\n2. Papillary carcinoma of the thyroid gland, status post total thyroidectomy"
            " in 1992.",
            "carcinoma",
            "historical",
        ),
        (
            "6. Carotid artery stenosis, status post right carotid endarterectomy in 2004.",
            "stenosis",
            "historical",
        ),
        ("He had childhood asthma. He uses alcohol socially.", "asthma", "historical"),
        (
            "PREVIOUS SURGICAL HISTORY:\nIncludes a repair of a right intertrochanteric femur fracture.",
            "fracture",
            "historical",
        ),
        # ... not a chronic one after an intervention, nor an operation on another organ.
        (
            "1. Coronary artery disease status post percutaneous coronary artery intervention.",
            "Coronary artery disease",
            "present",
        ),
        ("2. Breast cancer, status post cholecystectomy in 2004.", "Breast cancer", "present"),
    ],
)
def test_operated_organs_childhood_and_surgical_history_are_past(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # A bare hedge reaches past "still", and another reading after a finding hedges it,
        (
            "IMPRESSION:\nCritically ill, probably still showing signs of volume depletion with hypotension.",
            "volume depletion",
            "uncertain",
        ),
        (
            "4. Bilateral pleural effusion by CT of the chest, although could represent thickening.",
            "pleural effusion",
            "uncertain",
        ),
        # ... not what the hedged condition comes with, nor a finding told plainly.
        (
            "IMPRESSION:\nCritically ill, probably still showing signs of volume depletion with hypotension.",
            "hypotension",
            "present",
        ),
        ("4. Bilateral pleural effusion by CT of the chest.", "pleural effusion", "present"),
    ],
)
def test_bare_hedges_and_another_reading(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # The past before the past, a first visit and a stay with its end date are past,
        ("He had been having increased urination and thirst.", "increased urination", "historical"),
        ("I initially saw him for thrombocytopenia when his ANC was 1300.", "thrombocytopenia", "historical"),
        (
            "She was admitted to the hospital from 07/11/10 to 07/14/10 with acute kidney injury.",
            "acute kidney injury",
            "historical",
        ),
        # ... while a recent chronic condition and a chronic vasculitis are had now; a recent event not.
        ("He was documented to have recent atrial fibrillation.", "atrial fibrillation", "present"),
        (
            "A woman with a history of polyarteritis nodosa returns in followup.",
            "polyarteritis nodosa",
            "present",
        ),
        ("He had a recent myocardial infarction.", "myocardial infarction", "historical"),
        ("He has increased urination and thirst.", "increased urination", "present"),
    ],
)
def test_earlier_episodes_and_recent_chronic_conditions(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        # A sentence dated in its opening and the time a complaint began are past,
        ("In 1990, his CT scan showed retroperitoneal lymphadenopathy.", "lymphadenopathy", "historical"),
        (
            "She says when this started she had significant joint pains and was unable to walk.",
            "joint pains",
            "historical",
        ),
        # ... not a diagnosis made then, a chronic finding, or a complaint told in the present.
        ("In 1988, he was diagnosed with follicular lymphoma.", "follicular lymphoma", "present"),
        ("In 2001, prostate biopsy that showed chronic prostatitis.", "chronic prostatitis", "present"),
        ("She says that since this started she has joint pains.", "joint pains", "present"),
    ],
)
def test_dated_openings_and_when_it_started_are_past(text: str, span: str, expected: str) -> None:
    assert _status(text, span) == expected
