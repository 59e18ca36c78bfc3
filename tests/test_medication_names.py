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
