"""Medication and allergen names as notes write them: dosage forms and salts are not part of the
ingredient, brands the drug dictionary lacks, names that are also ordinary words, and the
allergen classes and "no allergies" phrasings of real allergy sections."""

from __future__ import annotations

import pytest

from medupload.pipeline import gazetteer
from medupload.pipeline.extraction import extract


def _medications(text: str) -> set[str]:
    return {f.concept for f in extract(text).facts if f.kind == "medication" and not f.negated}


def _allergies(text: str) -> set[str]:
    return {f.concept for f in extract(text).facts if f.kind == "allergy"}


@pytest.mark.parametrize(
    ("line", "ingredient"),
    [
        ("Lidoderm patch 5% apply to both knees every morning.", "lidocaine"),
        ("Duragesic patch 100 mcg every 72 hours.", "fentanyl"),
        ("Clorazepate dipotassium 7.5 mg every six hours as needed.", "clorazepate"),
        ("Nicotine patch 21 mg daily.", "nicotine"),
    ],
)
def test_a_dosage_form_or_salt_is_not_part_of_the_ingredient(line: str, ingredient: str) -> None:
    assert _medications(f"MEDICATIONS:\n1. {line}\n") == {ingredient}


def test_a_salt_that_names_the_ingredient_stays() -> None:
    # What is left of these would be an element or no drug of its own.
    text = "MEDICATIONS:\n1. Ferrous sulfate 325 mg daily.\n2. Potassium chloride 10 mEq daily.\n"
    assert _medications(text) == {"ferrous sulfate", "potassium chloride"}


def test_no_dictionary_ingredient_is_a_form_or_salt_name() -> None:
    forms = ("patch", "dipotassium", "nasal gel", "cream", "suppositories")
    named = {
        ingredient
        for entry in gazetteer.load()
        if entry.kind == "medication"
        for ingredient in entry.concept.split("|")
    }
    assert "" not in named
    assert [name for name in named if name.endswith(forms)] == []


@pytest.mark.parametrize(
    ("line", "ingredients"),
    [
        ("Demerol 25 mg IV q.4h. p.r.n.", {"meperidine"}),
        ("Renvela 800 mg t.i.d. with meals.", {"sevelamer"}),
        ("Zemplar 2 mcg daily.", {"paricalcitol"}),
        ("Symlin 60 mcg before meals.", {"pramlintide"}),
        ("Slow-K 8 mEq daily.", {"potassium chloride"}),
        ("Iron sulfate 1.2 cc every day.", {"ferrous sulfate"}),
        ("Oyster Shell calcium 500 mg t.i.d.", {"calcium carbonate"}),
        ("Carnitine 330 mg b.i.d.", {"levocarnitine"}),
        ("Theragran-M daily.", {"multivitamin"}),
        ("Vitamin D3 2000 IU daily.", {"vitamin d"}),
        ("B12 1000 mcg IM monthly.", {"cyanocobalamin"}),
        ("Sublingual Nitro p.r.n. chest pain.", {"nitroglycerin"}),
        ("Mylanta 30 mL p.r.n.", {"aluminum hydroxide", "magnesium hydroxide", "simethicone"}),
        ("Ortho-Novum 1/35 one tablet daily.", {"norethindrone", "ethinyl estradiol"}),
        ("Primaxin 500 mg IV q.6h.", {"imipenem", "cilastatin"}),
        ("Dulera 2 puffs b.i.d.", {"mometasone", "formoterol"}),
    ],
)
def test_brands_and_names_the_dictionary_lacks(line: str, ingredients: set[str]) -> None:
    assert _medications(f"MEDICATIONS:\n1. {line}\n") == ingredients


def test_ethinyl_estradiol_is_not_estradiol() -> None:
    assert _medications("MEDICATIONS:\n1. Ethinyl estradiol 20 mcg daily.\n") == {"ethinyl estradiol"}


@pytest.mark.parametrize("word", ["Sonata", "Soma"])
def test_a_brand_that_is_an_ordinary_word_needs_drug_context(word: str) -> None:
    assert _medications(f"She played a {word.lower()} for us. The {word} was long.") == set()
    assert _medications(f"MEDICATIONS:\n1. {word} 10 mg at bedtime.\n") != set()


def test_allergen_classes_and_contrast_in_an_allergy_section() -> None:
    text = "ALLERGIES:\nInclude IV DYE, SULFA, NSAIDS, COMPAZINE, and DEMEROL.\nPLAN:\nNone.\n"
    assert _allergies(text) == {
        "iodinated contrast",
        "sulfonamide antibiotics",
        "nsaids",
        "prochlorperazine",
        "meperidine",
    }


def test_an_allergen_class_outside_an_allergy_statement_is_nothing() -> None:
    facts = extract("He was given contrast for the CT. Avoid NSAIDs.").facts
    assert [f for f in facts if f.kind in {"allergy", "medication"}] == []


def test_a_contrast_agent_named_in_an_allergy_section_is_that_agent() -> None:
    assert _allergies("ALLERGIES:\nHypaque dye when she had x-rays.\n") == {"diatrizoate"}


def test_no_medical_allergies_is_the_no_known_allergies_statement() -> None:
    facts = extract("The patient has no medical allergies.").facts
    assert [(f.kind, f.concept) for f in facts] == [("allergy", "no known drug allergies")]


def test_a_capitalised_header_of_several_words_ends_the_allergy_section() -> None:
    """Headers the section rules do not know ("MAJOR FINDINGS:", "PLANS:" after it) end ALLERGIES:
    the plan's drugs are medications, not allergies."""
    text = (
        "ALLERGIES:\nDenied.\nMAJOR FINDINGS:\nHeart failure.\nPROCEDURES AND IMMUNIZATIONS:\nNone today.\n"
        "PLANS:\nI started him on lisinopril 2.5 mg daily and carvedilol 3.125 mg twice daily.\n"
    )
    facts = extract(text).facts
    assert {f.concept for f in facts if f.kind == "allergy"} == {"no known drug allergies"}
    assert _medications(text) == {"lisinopril", "carvedilol"}


@pytest.mark.parametrize(
    ("text", "section"),
    [
        ("PAST MEDICAL HISTORY:\nDiabetes.\n", "past_medical_history"),
        ("FAMILY HISTORY:\nMother had breast cancer.\n", "family_history"),
        ("ALLERGIES TO MEDICATIONS:\nErythromycin.\n", None),
    ],
)
def test_a_known_header_keeps_its_section(text: str, section: str | None) -> None:
    facts = extract(text).facts
    assert facts
    if section is None:  # an allergy header the rules name by its words keeps its allergy
        assert [f.kind for f in facts] == ["allergy"]
    else:
        assert {f.section for f in facts} == {section}


def test_a_header_with_a_value_on_its_line_is_no_section() -> None:
    # "WHITE COUNT: 7.2" is a lab row, not a header.
    facts = extract("ALLERGIES:\nPenicillin.\nWHITE COUNT: 7.2\nPlan: aspirin 81 mg daily.\n").facts
    assert {f.concept for f in facts if f.kind == "allergy"} == {"penicillin"}


@pytest.mark.parametrize(
    ("line", "ingredient"),
    [
        ("Erythropoietin 45,000 units every week.", "epoetin alfa"),
        ("Vioxx 12.5 mg tablet b.i.d.", "rofecoxib"),
        ("Mephyton 5 mg once.", "phytonadione"),
    ],
)
def test_more_names_the_dictionary_lacks(line: str, ingredient: str) -> None:
    assert _medications(f"MEDICATIONS:\n1. {line}\n") == {ingredient}


@pytest.mark.parametrize(
    ("line", "ingredient"),
    [
        ("Micro-K 10 mEq q.d.", "potassium chloride"),  # the dictionary says "potassium"
        ("Ismo 20 mg p.o. daily.", "isosorbide mononitrate"),  # the dictionary says "isosorbide"
        ("Ogen 0.625 mg daily.", "estropipate"),  # the dictionary says "estrogen"
        ("Miacalcin one spray in alternate nostrils daily.", "calcitonin"),
        ("Florastor 250 mg b.i.d.", "saccharomyces boulardii"),
        ("B vitamin complex daily.", "vitamin b complex"),
    ],
)
def test_a_brand_the_dictionary_maps_to_a_bare_moiety_is_its_product(line: str, ingredient: str) -> None:
    assert _medications(f"MEDICATIONS:\n1. {line}\n") == {ingredient}


def test_an_opioid_with_two_strengths_is_the_acetaminophen_combination() -> None:
    text = "MEDICATIONS:\nhydrocodone 7.5 mg/500 mg every 6 hours p.r.n., Hydrocodone 10/500 mg p.r.n.\n"
    assert _medications(text) == {"hydrocodone", "acetaminophen"}
    # One strength, or a second one no acetaminophen product has, is the opioid alone.
    assert _medications("MEDICATIONS:\nOxycodone 5 mg q.4h. p.r.n.\n") == {"oxycodone"}
    assert _medications("MEDICATIONS:\nAtenolol/chlorthalidone 50/25 mg daily.\n") >= {"atenolol"}


def test_prn_is_not_the_rectal_route() -> None:
    fact = next(f for f in extract("MEDICATIONS:\nTramadol 50 mg every 6 hours p.r.n.\n").facts)
    assert fact.route is None and fact.frequency is not None
    rectal = next(f for f in extract("MEDICATIONS:\nAcetaminophen 650 mg p.r. q.6h.\n").facts)
    assert rectal.route == "rectal"


@pytest.mark.parametrize(
    "text",
    [
        "IMMUNIZATIONS:\nNone of the family members this year have received a flu vaccine.",
        "He is bottle fed and he has had his hepatitis B vaccine.",
        "PAST MEDICAL HISTORY:\n1. Non-insulin diabetes mellitus.",
        "Her fluids have been D5 and 0.25 normal saline with 20 mEq/L of potassium chloride.",
        "Would avoid other blood thinners including Plavix, Integrilin, and heparin.",
        "In view of her age, I would be reluctant to recommend Coumadin anticoagulation.",
        "Other medication options would include Keppra, Zonegran or Lamictal.",
        "Urine culture grew Enterococcus susceptible to ampicillin and nitrofurantoin.",
        "MEDICATIONS:\nDaypro generic 600 mg t.i.d.",
    ],
)
def test_a_drug_named_but_not_given_is_no_medication(text: str) -> None:
    assert _medications(text) <= {"oxaprozin"}


@pytest.mark.parametrize(
    ("text", "ingredient"),
    [
        ("MEDICATIONS:\nMetformin 500 mg b.i.d.\nInsulin glargine 10 units at bedtime.", "insulin glargine"),
        ("I have given them the option of stopping the Detrol initially.", "tolterodine"),
        ("Options were discussed and she elected to start metformin 500 mg daily.", "metformin"),
        ("To avoid constipation, start Colace 100 mg b.i.d.", "docusate"),
        ("She is sensitive to noise and takes lorazepam 1 mg at bedtime.", "lorazepam"),
    ],
)
def test_a_drug_taken_beside_those_cues_stays(text: str, ingredient: str) -> None:
    assert ingredient in _medications(text)


@pytest.mark.parametrize(
    ("section", "allergen"),
    [
        ("ALLERGIES\n1. PENICILLIN.\n2. SULFA.\n3. ACE INHIBITOR.", "ace inhibitors"),
        ("ALLERGIES:\n1. LEVAQUIN.\n2. ADHESIVE TAPE.\n3. BETA BLOCKERS.", "beta blockers"),
        ("ALLERGIES:\nShe had some adverse reactions to penicillin, sulfa, and some mycins.", "mycins"),
        ("ALLERGIES:\nPenicillin, perhaps contrast medium.", "iodinated contrast"),
    ],
)
def test_a_class_allergen_as_written(section: str, allergen: str) -> None:
    facts = [f for f in extract(section).facts if f.kind == "allergy"]
    assert allergen in {f.concept for f in facts}
    # Named outside an allergy statement, a class is neither an allergy nor a medication.
    plan = extract("Continue his beta blockers and ACE inhibitor.").facts
    assert not [f for f in plan if f.kind != "condition"]


def test_a_hedged_reaction_is_no_allergy_but_a_hedged_allergy_is() -> None:
    hedged = "She may have some reaction to her multiple medications including her statin drugs."
    assert not _allergies(hedged)
    asked = "There is a question of her being allergic to Septra that was used for her last UTI."
    assert {"trimethoprim", "sulfamethoxazole"} <= _allergies(asked)


def test_an_unknown_history_header_ends_the_allergy_section() -> None:
    """A "HISTORY OF PRESENT COMPLAINT:" is no header the section rules know: the drugs given under
    it are medications, not allergies, while a numbered allergy list under ALLERGIES stays one."""
    text = (
        "ALLERGIES:\nNo known allergies.\nHISTORY OF PRESENT COMPLAINT:\nThey decided to give a trial of "
        "conservative management of Decadron and racemic epinephrine.\n"
    )
    assert _allergies(text) == {"no known drug allergies"}
    assert _medications(text) == {"dexamethasone", "epinephrine"}
    listed = "PAST SURGICAL HISTORY:\nNone.\nALLERGIES\n1. PENICILLIN.\n2. SULFA.\n3. DILATRATE.\n"
    assert _allergies(listed) == {"penicillin", "sulfonamide antibiotics", "isosorbide dinitrate"}


@pytest.mark.parametrize(
    "line",
    [
        "Fosamax 70 mg p.o. every week, aspirin 81 mg p.o. daily, and vitamin.",
        "Ferrous sulfate 325 mg daily, one vitamin daily.",
        "1. Vitamin supplementation.",
    ],
)
def test_a_bare_vitamin_in_a_medication_list_is_a_multivitamin(line: str) -> None:
    assert "multivitamin" in _medications(f"MEDICATIONS:\n{line}\n")


def test_a_named_vitamin_stays_itself_and_prose_is_no_vitamin() -> None:
    assert _medications("MEDICATIONS:\nVitamin C 250 mg daily, vitamin K 10 mg once.\n") == {
        "ascorbic acid",
        "phytonadione",
    }
    assert not _medications("She eats a diet rich in vitamin and minerals.")


def test_a_result_word_before_a_drug_name_makes_it_a_test_result() -> None:
    text = "Urinalysis showed specific gravity 1.020, negative glucose, ketones, negative nitrates."
    assert not _medications(text)
    assert not _medications("Urine drug screen was positive for cocaine and amphetamines.")


def test_a_drug_the_patient_tolerates_in_an_allergy_statement_is_no_allergen() -> None:
    text = (
        "ALLERGIES:\nTHE PATIENT IS ALLERGIC TO TYLENOL WITH CODEINE, but he states he can get morphine "
        "along with Benadryl.\n"
    )
    assert _allergies(text) == {"acetaminophen", "codeine"}
    assert _medications(text) == {"morphine", "diphenhydramine"}
    # Without a tolerance cue the drugs of the statement stay allergens.
    assert _allergies("ALLERGIES:\nMorphine and Benadryl cause hives.\n") == {"morphine", "diphenhydramine"}
