"""The vocabularies: every code against the package that ships its release, the generated
gazetteer against a fresh generation, and the precision guards.

RxNorm and LOINC releases are not installable offline, so their codes are checked for form only
(RxNorm: digits; LOINC: digits, dash, and the Mod 10 check digit LOINC defines).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import simple_icd_10_cm as cm

from medupload.pipeline import gazetteer
from medupload.pipeline.extraction import extract
from medupload.pipeline.vocabulary import DATA_DIR, vocabulary


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _icd_code_ok(code: str) -> bool:
    # B20 is both a block ("B20-B20") and a category: a category is fine, a pure block is not.
    return cm.is_valid_item(code) and (
        cm.is_category_or_subcategory(code) or not cm.is_chapter_or_block(code)
    )


def test_every_curated_icd10cm_code_is_in_the_release() -> None:
    bad = [(row["concept"], row["code"]) for row in _rows("conditions.csv") if not _icd_code_ok(row["code"])]
    assert bad == []


def test_every_gazetteer_condition_code_is_in_the_release() -> None:
    entries = [e for e in gazetteer.load() if e.kind == "condition"]
    assert len(entries) > 15_000
    bad = [(e.concept, e.code) for e in entries if not _icd_code_ok(e.code)]
    assert bad == []


def test_every_gazetteer_drug_identifier_is_in_the_dictionary() -> None:
    import bz2
    import pickle
    from importlib.resources import files

    source = files("drug_named_entity_recognition").joinpath("drug_ner_dictionary.pkl.bz2")
    with bz2.open(str(source), "rb") as handle:
        canonical = pickle.load(handle)["drug_canonical_to_data"]
    known: dict[str, set[str]] = {"DrugBank": set(), "MeSH": set(), "MedlinePlus": set()}
    for data in canonical.values():
        for key, system in (
            ("drugbank_id", "DrugBank"),
            ("mesh_id", "MeSH"),
            ("medline_plus_id", "MedlinePlus"),
        ):
            if data.get(key):
                known[system].add(data[key])
    entries = [e for e in gazetteer.load() if e.kind == "medication"]
    assert len(entries) > 20_000
    bad = []
    for entry in entries:
        systems = (
            entry.system.split("|") if "|" in entry.system else [entry.system] * len(entry.code.split("|"))
        )
        for code, system in zip(entry.code.split("|"), systems, strict=True):
            if code and code not in known.get(system, set()):
                bad.append((entry.concept, code, system))
    assert bad == []


def test_a_curated_medication_without_rxnorm_takes_the_dictionary_identifier() -> None:
    """No installable package ships RxNorm, so hand-added RxCUIs that could not be checked were
    dropped: such an ingredient carries the drug dictionary's own identifier, or none."""
    entries = [e for e in gazetteer.load() if e.kind == "medication" and "|" not in e.concept]
    dictionary = {e.concept: (e.code, e.system) for e in entries}
    vocab = vocabulary()
    concepts = {c.concept: c for c in vocab.concepts if c.kind == "medication"}
    rows = {row["ingredient"]: row for row in _rows("medications.csv") if not row["rxnorm"]}
    uncoded = list(rows)
    assert {"thiamine", "midazolam", "olopatadine", "mycophenolate mofetil"} <= set(uncoded)
    for ingredient in uncoded:
        concept = concepts[ingredient]
        # Its own name's identifier, else that of a dictionary ingredient it lists as a synonym.
        synonyms = [n.strip().lower() for n in rows[ingredient]["names"].split("|")]
        own = dictionary.get(ingredient)
        expected = {own} if own else {dictionary[n] for n in synonyms if n in dictionary} or {("", "")}
        assert (concept.code or "", concept.system or "") in expected, ingredient
    assert (concepts["midazolam"].code, concepts["midazolam"].system) == ("DB00683", "DrugBank")


def test_a_dictionary_ingredient_named_by_a_curated_synonym_is_the_curated_ingredient() -> None:
    """The dictionary's international name "phenoxymethylpenicillin" (Pen-VK) is the US
    ingredient "penicillin v"; a salt form it keeps ("penicillin v potassium") is the same."""
    for text in (
        "Pen-VK 500 mg daily.",
        "Penicillin V potassium 250 mg q.i.d.",
        "Phenoxymethylpenicillin 500 mg",
    ):
        meds = {(f.concept, f.code) for f in extract(text).facts if f.kind == "medication"}
        assert meds == {("penicillin v", "DB00417")}, text
    assert vocabulary().medications.get("phenoxymethylpenicillin") is None


def _loinc_ok(code: str) -> bool:
    match = re.fullmatch(r"(\d{1,7})-(\d)", code)
    if match is None:
        return False
    digits = match[1]
    # LOINC's Mod 10: double every other digit from the right (starting with the last).
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10 == int(match[2])


def test_rxnorm_and_loinc_codes_have_their_form() -> None:
    rxnorm = [row["rxnorm"] for name in ("medications.csv", "allergens.csv") for row in _rows(name)]
    assert [c for c in rxnorm if c and not re.fullmatch(r"\d{2,8}", c)] == []
    loinc = [row["loinc"] for name in ("labs.csv", "procedures.csv") for row in _rows(name)]
    assert [c for c in loinc if c and not _loinc_ok(c)] == []


def test_the_committed_gazetteer_is_what_the_packages_give() -> None:
    """Regenerates from the installed packages (slow: ~15 s) and compares byte for byte."""
    assert gazetteer.serialise(gazetteer.generate()) == gazetteer.GAZETTEER_PATH.read_bytes(), (
        "data/gazetteer.tsv.gz is stale: run python -m medupload.pipeline.gazetteer"
    )


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Type 2 diabetes mellitus without complications", ("type 2 diabetes mellitus", True)),
        ("Essential (primary) hypertension", ("essential hypertension", True)),
        ("Epilepsy, unspecified, not intractable, without status epilepticus", ("epilepsy", True)),
        ("Unspecified adrenocortical insufficiency", ("adrenocortical insufficiency", True)),
        ("Dysuria", ("dysuria", False)),
        # A tail that names which part is unspecified is a default too.
        ("Endocarditis, valve unspecified", ("endocarditis", True)),
        ("Cardiac arrest, cause unspecified", ("cardiac arrest", True)),
        ("Primary osteoarthritis, right knee", None),  # laterality: not everyday phrasing
        ("Other specified disorders of kidney and ureter", None),
    ],
)
def test_icd_descriptions_are_normalised_to_everyday_phrasing(
    description: str, expected: tuple[str, bool] | None
) -> None:
    assert gazetteer.normalise_condition(description) == expected


def test_the_most_specific_code_the_text_supports() -> None:
    codes = {e.concept: e.code for e in gazetteer.load() if e.kind == "condition"}
    assert codes["type 2 diabetes mellitus"] == "E11.9"  # the leaf, not the category E11
    assert codes["dysuria"] == "R30.0"
    assert codes["hypercalcemia"] == "E83.52"
    assert all(not cm.is_chapter(code) for code in codes.values())


def _found(text: str) -> set[tuple[str, str]]:
    return {(f.kind, f.concept) for f in extract(text).facts}


def test_names_the_dictionary_lacks_come_from_the_curated_layer() -> None:
    """The drug dictionary has no Procrit, renal vitamins or "vitamin K" (whose "K 10 mg" was read
    as potassium): the curated CSV names them, and phytonadione keeps the dictionary's identifier."""
    facts = extract(
        "MEDICATIONS:\n1. Procrit 10,000 units every Tuesday.\n2. Nephrocaps one cap p.o. daily.\n"
        "PLAN: I will give vitamin K 10 mg in 100 mL of D5W."
    ).facts
    meds = {f.concept: f for f in facts if f.kind == "medication"}
    assert set(meds) == {"epoetin alfa", "multivitamin", "phytonadione"}
    assert meds["phytonadione"].text.startswith("vitamin K")
    assert (meds["phytonadione"].code, meds["phytonadione"].system) == ("a682659", "MedlinePlus")


@pytest.mark.parametrize(
    ("text", "ingredients"),
    [
        # Brands and forms as RxNorm names their ingredients.
        ("Avandamet 4/1000 mg daily.", {"rosiglitazone", "metformin"}),
        ("NovoLog 70/30, 10 units at noon.", {"insulin aspart protamine", "insulin aspart"}),
        ("Trilisate 1000 mg a day.", {"choline salicylate", "magnesium salicylate"}),
        ("Humulin N. insulin 50 units in a.m.", {"insulin isophane"}),  # "N." ends a sentence
        ("Novolin 10 units daily.", {"insulin human"}),
        ("Fosrenol 500 mg chewable t.i.d.", {"lanthanum carbonate"}),
        ("KCl 20 mEq daily, ferrous sulphate 325 mg b.i.d.", {"potassium chloride", "ferrous sulfate"}),
        ("Vitamin B once a day.", {"vitamin b complex"}),
        # Drugs the dictionary lacks.
        ("Adenosine 6 mg IV push.", {"adenosine"}),
        ("Sorbitol 15 mL p.o. q day.", {"sorbitol"}),
    ],
)
def test_brand_and_form_names_give_their_ingredients(text: str, ingredients: set[str]) -> None:
    assert {f.concept for f in extract(text).facts if f.kind == "medication"} == ingredients


def test_brands_map_to_ingredients_and_combinations_to_every_ingredient() -> None:
    facts = extract(
        "MEDICATIONS:\nBactrim DS 1 tab PO BID\nFlonase 2 sprays daily\nsirolimus 2 mg daily"
    ).facts
    meds = {(f.concept, f.system) for f in facts if f.kind == "medication"}
    assert {"trimethoprim", "sulfamethoxazole", "fluticasone", "sirolimus"} <= {c for c, _ in meds}
    assert ("fluticasone", "RxNorm") in meds  # a curated ingredient keeps its RxNorm code
    assert ("sirolimus", "DrugBank") in meds  # the dictionary's identifier otherwise
    assert all(
        f.text.startswith("Bactrim") for f in facts if f.concept in {"trimethoprim", "sulfamethoxazole"}
    )


def test_ordinary_words_and_short_names_need_drug_context() -> None:
    assert not any(
        k == "medication" for k, _ in _found("Plan: ensure follow up today. Lead poisoning screen.")
    )
    # A dictionary name made of ordinary words is prose ("ears and nose" is a betamethasone product).
    assert not any(k == "medication" for k, _ in _found("HEENT: Ears and nose normal. Spray and solution."))
    assert not any(k == "medication" for k, _ in _found("NECK: Thyroid gland is not palpable."))
    assert ("medication", "aspirin") not in _found("ASA class II.")
    assert ("medication", "aspirin") in _found("ASA 81 mg daily.")
    assert ("medication", "aspirin") in _found("Discharged home on Dilantin, ASA, and diltiazem.")


def test_test_and_method_names_are_never_conditions() -> None:
    for text in (
        "eGFR (CKD-EPI 2021) 68 mL/min/1.73m2",
        "HIV test negative.",
        "Hepatitis panel pending.",
        "Influenza vaccine given 10/01/2025.",
    ):
        assert not any(f.kind == "condition" for f in extract(text).facts), text
    facts = extract("eGFR (CKD-EPI 2021) 68 mL/min/1.73m2").facts
    assert [(f.kind, f.concept, f.value) for f in facts] == [("lab", "egfr", "68")]


def test_allergens_are_never_medications() -> None:
    found = _found("ALLERGIES:\nPenicillin (hives), sulfa, codeine.")
    assert not any(kind == "medication" for kind, _ in found)
    assert {("allergy", "penicillin"), ("allergy", "codeine")} <= found
    assert not any(kind == "condition" for kind, _ in found)  # hives is the reaction


def test_curated_layer_wins_and_base_fills_gaps() -> None:
    curated, full = vocabulary(with_base=False), vocabulary()
    assert len(full.concepts) > 10 * len(curated.concepts)
    assert ("condition", "essential hypertension") in _found("HTN")  # a curated abbreviation
    assert ("condition", "dysuria") in _found("Complains of dysuria.")  # from ICD-10-CM
    assert Path(gazetteer.GAZETTEER_PATH).stat().st_size < 2_000_000  # small enough to commit


def test_a_plural_possessive_matches_with_or_without_its_apostrophe() -> None:
    """ICD-10-CM writes "Graves' disease"; notes write that, "Graves disease" or "Graves’ disease"."""
    entries = {" ".join(e.tokens): e.code for e in gazetteer.load() if e.kind == "condition"}
    assert entries["graves disease"] == "E05.0"
    assert not any("'" in name.split() for name in entries)
    for text in ("Graves disease", "Graves' disease", "Graves\u2019 disease", "Wilson's disease"):
        codes = {f.code for f in extract(f"She has {text}.").facts if f.kind == "condition"}
        assert codes & {"E05.0", "E83.01"}, text


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("She had two strokes.", "stroke"),
        ("No family history of hematologic malignancies.", "hematologic malignancy"),  # -ies -> -y
        ("Two abscesses were drained.", "abscess"),  # -es after a sibilant
        ("He denies any injuries to the groin.", "injury"),
    ],
)
def test_a_plural_name_matches_its_singular(text: str, concept: str) -> None:
    assert concept in {f.concept for f in extract(text).facts if f.kind == "condition"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # Abbreviations and everyday names ICD-10-CM titles lack (its index has them).
        ("Impression: ITP.", "D69.3"),
        ("No clubbing, cyanosis or edema.", "R68.3"),
        ("Carpal tunnel involving the left wrist.", "G56.00"),
        ("Diagnosed with a glioblastoma multiforme.", "C71.9"),
        ("Chest x-ray without acute infiltrate.", "R91.8"),
        ("Stool negative for Clostridium difficile.", "A04.72"),
        ("History of ruptured colon.", "K63.1"),
        ("Transferred because of hyperbilirubinemia.", "E80.7"),
        ("Admitted with DKA.", "E10.10"),
        ("Known MGUS and HLD.", "D47.2"),
        ("Inflammatory bowel disease.", "K52.9"),
        ("Solu-Medrol given because of bronchospasm.", "J98.01"),
        ("Differential diagnosis: diskitis.", "M46.40"),
        ("Followed closely for left heel ulcer.", "L97.409"),
        ("Echo revealed mild left atrial enlargement.", "I51.7"),
        ("CHIEF COMPLAINT:\nBright red blood per rectum", "K92.1"),
        ("She is not reporting any severe hypoglycemic events.", "E16.2"),
        ("Presents with foreign body and airway compromise.", "J98.8"),
        ("Secondary to severe subglottic tracheal stenosis.", "J39.8"),
        ("Nocturia and occasional daytime frequency.", "R35.0"),
    ],
)
def test_everyday_condition_names_have_their_icd10cm_code(text: str, code: str) -> None:
    assert code in {f.code for f in extract(text).facts if f.kind == "condition"}


def test_a_finding_that_is_also_a_verb_needs_a_finding_word() -> None:
    """ "infiltrate" is a chest x-ray finding and the verb of local anaesthesia."""
    facts = extract("1% lidocaine was used to infiltrate the skin.").facts
    assert not any(f.kind == "condition" for f in facts)
    assert "R91.8" in {f.code for f in extract("Left upper lobe infiltrate.").facts}


def test_the_lexicon_cache_round_trips_and_is_read_only_when_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from medupload.pipeline import vocabulary as module
    from medupload.settings import get_settings

    cache = tmp_path / "cache"
    monkeypatch.setenv("MEDUPLOAD_CACHE_DIR", str(cache))
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)  # after monkeypatch restores the environment
    assert module._read_cache(False) is None  # nothing cached yet
    built = module.vocabulary.__wrapped__(False)  # builds and writes the cache
    (path,) = cache.glob("lexicon-*.marshal")
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    read = module._read_cache(False)
    assert read is not None
    concepts, lexicon, labs = read
    assert (concepts, lexicon, labs) == (built.concepts, built.lexicon, built.labs)
    assert module.vocabulary.__wrapped__(False) == built  # built from the cache: the same vocabulary
    path.chmod(0o666)  # writable by others: a cache from there is never loaded
    assert module._read_cache(False) is None
    path.chmod(0o600)
    assert module._cache_path(True) != module._cache_path(False) == path


def test_the_lexicon_cache_key_covers_the_derived_condition_forms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The derived names are built into the cached lexicon: a changed ``condition_forms`` builds afresh."""
    from medupload.pipeline import condition_forms
    from medupload.pipeline import vocabulary as module

    before = module._cache_path(True)
    changed = tmp_path / "condition_forms.py"
    changed.write_text(Path(condition_forms.__file__).read_text(encoding="utf-8") + "\n# changed\n")
    monkeypatch.setattr(condition_forms, "__file__", str(changed))
    assert module._cache_path(True) != before
