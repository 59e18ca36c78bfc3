"""The base gazetteer: condition and medication names from two maintained packages.

- Conditions: the ICD-10-CM release shipped by ``simple-icd-10-cm`` (descriptions and
  inclusion terms), normalised to everyday phrasing ("Type 2 diabetes mellitus without
  complications" -> "type 2 diabetes mellitus", "Epilepsy, unspecified, not intractable ..."
  -> "epilepsy"); a name keeps the most specific code it supports (a leaf that differs only
  by a default qualifier beats its category); chapters and blocks are never used. A title also
  gives the everyday names its wording lacks (``other_names``: "colon polyp", "Sweet syndrome",
  "myeloproliferative disorder", "B12 deficiency", "gouty attack"), ranked below ICD's own.
- Medications: ``drug-named-entity-recognition``'s dictionary (generic names, brands and
  synonyms -> the canonical ingredient; a combination maps to every ingredient), with its own
  identifiers (DrugBank, else MeSH, else MedlinePlus), ``system`` saying which.

Importing either package costs ~3 s and ~250 MB (measured; see bench/extraction.py), far
over the per-process budget, so the normalised result is generated once with
``python -m medupload.pipeline.gazetteer`` into ``data/gazetteer.tsv.gz`` (committed; the
vocabulary test regenerates it and compares). Names are stored pre-tokenised (spaCy's English
tokenizer, lower case) so loading needs no tokenizer pass.

About 470 lines, kept one module: it changes for one reason (what the base names are, from the two
packages' releases); the names derived later from the whole lexicon live in ``condition_forms``.
"""

from __future__ import annotations

import gzip
import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

GAZETTEER_PATH = Path(__file__).resolve().parent / "data" / "gazetteer.tsv.gz"
#: Kinds of entry: a condition, or a medication (a combination lists its ingredients with "|").
TokenizeFn = Callable[[str], tuple[str, ...]]
HEADER = "kind\ttokens\tconcept\tcode\tsystem\tneeds_context"


@dataclass(frozen=True)
class Entry:
    kind: str  # condition | medication
    tokens: tuple[str, ...]  # spaCy tokens, lower case
    concept: str  # for a combination: ingredients joined by "|"
    code: str  # for a combination: one identifier per ingredient, "|"-joined ("" if none)
    system: str
    needs_context: bool  # counts only with drug context (dose, route, sig, medications section)


# ---------------------------------------------------------------------------------------------
# ICD-10-CM

_PAREN = re.compile(r"\s*[(\[][^)\]]*[)\]]")
_NOS = re.compile(r"\s+NOS\b", re.IGNORECASE)
_LEADING_UNSPECIFIED = re.compile(r"^unspecified\s+", re.IGNORECASE)
# Tails that only say "the default": dropped, and the code is the default for the bare name.
_DEFAULT_TAIL = re.compile(
    r"^(?:unspecified(?:\s+\w+)?|\w+\s+not\s+specified|not\s+specified|not\s+elsewhere\s+classified"
    r"|not\s+intractable|without\s+[\w\s-]+|initial\s+encounter|uncomplicated|\w+\s+unspecified)$",
    re.IGNORECASE,
)
# Only tails that state the default are dropped: "Migraine without aura" is its own diagnosis.
_WITHOUT_TAIL = re.compile(
    r"\s+without\s+(?:complications?|mention\s+of\s+[\w\s]+|status\s+epilepticus|intractability|coma"
    r"|behavioral\s+disturbance|hemorrhage\s+or\s+perforation|obstruction\s+or\s+gangrene|esophagitis|hematuria)$",
    re.IGNORECASE,
)
_NOT_EVERYDAY = re.compile(
    r"\b(?:other|specified|elsewhere|classified|unspecified|in\s+diseases|complicating|sequela|encounter"
    r"|unknown|following|and/or|effects?\s+of)\b|[;:]",
    re.IGNORECASE,
)


def normalise_condition(description: str) -> tuple[str, bool] | None:
    """Everyday phrasing of an ICD-10-CM description and whether a default qualifier was
    dropped; None when the description is not something a note would say."""
    name = _NOS.sub("", _PAREN.sub("", description)).strip()
    name = _LEADING_UNSPECIFIED.sub("", name)
    dropped = name != description
    head, *tails = [part.strip() for part in name.split(",")]
    if tails:
        if not all(_DEFAULT_TAIL.match(tail) for tail in tails):
            return None
        dropped = True
    stripped = _WITHOUT_TAIL.sub("", head)
    dropped = dropped or stripped != head
    name = re.sub(r"\s+", " ", stripped).strip().lower()
    if not name or _NOT_EVERYDAY.search(name) or len(name) <= 3 or len(name.split()) > 7:
        return None
    return name, dropped


# "Torsion of testis", "calculus in bladder", "hesitancy of micturition" are said "testicular
# torsion", "bladder calculus", "urinary hesitancy": the organ's adjective before the finding.
_ORGAN_ADJECTIVES = {
    "testis": "testicular",
    "kidney": "renal",
    "bladder": "bladder",
    "micturition": "urinary",
    "lung": "pulmonary",
    "liver": "hepatic",
    "heart": "cardiac",
    "brain": "cerebral",
    "spleen": "splenic",
    "prostate": "prostatic",
    "scrotum": "scrotal",
    "penis": "penile",
    "urethra": "urethral",
    "ureter": "ureteral",
    "stomach": "gastric",
    "uterus": "uterine",
    "ovary": "ovarian",
    "breast": "breast",
    "nose": "nasal",
    "carotid artery": "carotid",
    "aorta": "aortic",
    "colon": "colonic",
    "pancreas": "pancreatic",
    "epididymis": "epididymal",
    "gallbladder": "gallbladder",
    "esophagus": "esophageal",
    "rectum": "rectal",
    "vagina": "vaginal",
    "thyroid": "thyroid",
}
_FINDING_OF_ORGAN = re.compile(
    r"^(?P<finding>[a-z-]+(?: [a-z-]+)?) (?:of|in) (?:the )?(?P<organ>[a-z]+(?: artery)?)$"
)


def organ_first(name: str) -> str | None:
    """ "torsion of testis" -> "testicular torsion"; None when the name is not of that form."""
    match = _FINDING_OF_ORGAN.match(name)
    adjective = _ORGAN_ADJECTIVES.get(match["organ"]) if match else None
    return f"{adjective} {match['finding']}" if match and adjective else None


# An eponym in brackets names the condition with "syndrome" or "disease" ("Febrile neutrophilic
# dermatosis [Sweet]" is Sweet syndrome, "Neuromyelitis optica [Devic]" Devic disease). A
# lower-case bracket is not taken: as often as a name ("[chickenpox]") it is a word ("[stable]",
# "[flare]", "[battery]").
_EPONYM = re.compile(r"\[(?P<name>[A-Z][a-z\u00e0-\u00ff']+(?:-[A-Z][a-z\u00e0-\u00ff']+)*)\]\s*(?:,.*)?$")
# Head nouns a note uses for one another: "myeloproliferative disorder" = "... disease".
_HEAD_SWAPS = {"disease": "disorder", "infarction": "infarct"}
# "Disorder" replaces "disease" after an adjective ("myeloproliferative", "cerebrovascular"),
# never after a name ("Pompe disease", "Lyme disease") or an organ's noun.
_ADJECTIVE_ENDING = re.compile(r"(?:al|ic|ar|ous|ive|ary|oid|ile|ac|tory|immune)$")
# Organs a note also names by the noun before a one-word finding ("colon polyp", "kidney cyst").
_NOUN_FIRST_ORGANS = frozenset(_ORGAN_ADJECTIVES) - {"micturition"}
# "Deficiency of factor X" is said "factor X deficiency"; "vitamin B12 deficiency" "B12
# deficiency" (a vitamin named by its letter and number keeps its meaning without "vitamin").
_DEFICIENCY_OF = re.compile(r"^deficiency of (?P<what>[a-z0-9]+(?: [a-z0-9]+)?)$")
_VITAMIN_NUMBER = re.compile(r"\bvitamin (?=[a-z]\d)")
# A disease noun's adjective before an episode of it: "gout attack" is also "gouty attack".
_ADJECTIVES = {"gout": "gouty", "asthma": "asthmatic"}
# A one-word "-ia" condition a note says of the patient by its adjective ("asplenic" for asplenia).
# Not "-emia" ("hypoglycemic" names a drug class) nor "-philia" ("eosinophilic", "basophilic" name
# cells and infiltrates).
_IA_NOUN = re.compile(r"^[a-z]{4,}(?<!em)(?<!phil)ia$")
_EPISODES = frozenset({"attack", "attacks", "flare", "flares", "exacerbation"})

_PAIR_OF_ORGAN = re.compile(r"^(?P<first>[a-z-]+) and (?P<second>[a-z-]+) (?P<organ>(?:of|in) .+)$")


def other_names(description: str, name: str) -> list[str]:
    """Everyday names of the ICD-10-CM ``description`` (normalised to ``name``) that its own
    wording lacks: the organ's adjective or noun first, a swapped head noun, a bracketed eponym,
    a deficiency's word order, a disease's adjective."""
    found: list[str] = []
    # "Occlusion and stenosis of carotid artery" names two findings of one organ, each said alone.
    pair = _PAIR_OF_ORGAN.match(name)
    for finding in (pair["first"], pair["second"]) if pair else ():
        single = f"{finding} {pair['organ']}"
        found += [single, *other_names(description, single)]
    everyday = organ_first(name)
    if everyday is not None:
        found.append(everyday)
    organ, _, finding = name.partition(" ")
    if organ in _ORGAN_ADJECTIVES and _ORGAN_ADJECTIVES[organ] != organ and " " not in finding:
        found.append(f"{_ORGAN_ADJECTIVES[organ]} {finding}")  # "heart disease" -> "cardiac disease"
    match = _FINDING_OF_ORGAN.match(name)
    if match and match["organ"] in _NOUN_FIRST_ORGANS and " " not in match["finding"]:
        found.append(f"{match['organ']} {match['finding']}")  # "polyp of colon" -> "colon polyp"
    for variant in [name, *found]:
        *rest, last = variant.split(" ")
        if rest and last in _HEAD_SWAPS and (last != "disease" or _ADJECTIVE_ENDING.search(rest[-1])):
            found.append(" ".join([*rest, _HEAD_SWAPS[last]]))
    eponym = _EPONYM.search(description)
    if eponym is not None:
        found += [f"{eponym['name'].lower()} syndrome", f"{eponym['name'].lower()} disease"]
    deficiency = _DEFICIENCY_OF.match(name)
    if deficiency is not None:
        found.append(f"{deficiency['what']} deficiency")
    for variant in [*found, name]:
        shorter = _VITAMIN_NUMBER.sub("", variant)
        if shorter != variant:
            found.append(shorter)
    if _IA_NOUN.match(name) and name != "asthenia":  # "asthenic" is a body build ("normal asthenic")
        found.append(name[:-2] + "ic")  # "asplenic", "tachycardic", "ataxic": the patient is so
    words = name.split(" ")
    for i, word in enumerate(words[:-1]):
        if word in _ADJECTIVES and words[i + 1] in _EPISODES:
            found.append(" ".join([*words[:i], _ADJECTIVES[word], *words[i + 1 :]]))
    return [n for n in dict.fromkeys(found) if n != name and len(n) > 3 and not _NOT_EVERYDAY.search(n)]


# Everyday names notes use that no ICD-10-CM title or inclusion term words, each its own concept
# under the code of the title it means (checked against the release); ranked below every title.
_COLLOQUIAL = {
    "hypercoagulable condition": "D68.59",  # inclusion term "Hypercoagulable state NOS"
    "hypercoagulability": "D68.59",
    "visual changes": "H53.9",  # Unspecified visual disturbance
    "visual change": "H53.9",
    "vision changes": "H53.9",  # not "change in vision": "no change in" reads as "no change in X"
    "renal problems": "N28.9",  # Disorder of kidney and ureter, unspecified ("Renal disease NOS")
    "kidney problems": "N28.9",
    "heart problems": "I51.9",  # Heart disease, unspecified
    "cardiac problems": "I51.9",
}


# "Unspecified symptoms and signs involving the genitourinary system" is what a note calls
# "urinary symptoms" ("obstructive urinary symptoms", "no GI symptoms"): each body system these
# R-chapter titles name, said by the adjectives notes use for it.
_SYSTEM_SYMPTOMS = re.compile(
    r"^(?P<which>Other|Unspecified)(?: specified)? symptoms and signs involving the"
    r" (?P<systems>[a-z ]+?) systems?(?: and abdomen)?$"
)
_SYSTEM_ADJECTIVES = {
    "circulatory": ("circulatory", "cardiovascular", "cardiac"),
    "respiratory": ("respiratory", "pulmonary"),
    "digestive": ("digestive", "gastrointestinal", "gi"),
    "nervous": ("neurologic", "neurological"),
    "musculoskeletal": ("musculoskeletal",),
    "genitourinary": ("genitourinary", "urinary", "gu"),
}


def system_symptoms(description: str) -> tuple[list[str], int]:
    """ "<system> symptoms" names an R-chapter "symptoms and signs involving the X system" title
    gives, and its rank among such titles (an "Unspecified" title before an "Other" one)."""
    match = _SYSTEM_SYMPTOMS.match(description)
    if match is None:
        return [], 0
    names = [
        f"{adjective} symptoms"
        for system in match["systems"].split(" and ")
        for adjective in _SYSTEM_ADJECTIVES.get(system, ())
    ]
    return names, 0 if match["which"] == "Unspecified" else 1


def _icd_entries(tokenize: TokenizeFn) -> Iterator[Entry]:
    import simple_icd_10_cm as cm

    best: dict[str, tuple[tuple[int, int, int, str], str]] = {}
    for code in cm.get_all_codes(True):
        if cm.is_chapter_or_block(code) or code[0] in "VWXYZ" or len(code.replace(".", "")) >= 7:
            continue
        leaf = cm.is_leaf(code)
        names = [(cm.get_description(code), 0)] + [(term, 1) for term in cm.get_inclusion_term(code)]
        symptoms, which = system_symptoms(names[0][0])
        for name in symptoms:  # ranked below every title and inclusion term of that name
            rank = (0 if leaf else 1, 3, which, code)
            if name not in best or rank < best[name][0]:
                best[name] = (rank, code)
        for description, is_inclusion in names:
            if (
                is_inclusion
                and names[0][0].startswith("Fracture")
                and not re.search(r"fracture|broken", description, re.IGNORECASE)
            ):
                continue  # "Axis", "Knee cap" under "Fracture of ...": the bone, not a condition
            normal = normalise_condition(description)
            if normal is None:
                continue
            name, defaulted = normal
            # Leaf first; then a description over an inclusion term; then an exact name over
            # a defaulted one for categories, the defaulted leaf ("... unspecified") for leaves.
            rank = (0 if leaf else 1, is_inclusion, 0 if (defaulted == leaf) else 1, code)
            if name not in best or rank < best[name][0]:
                best[name] = (rank, code)
            # Ranked as an inclusion term (the organ's adjective: "testicular torsion") or below
            # one: a title or an inclusion term of that name wins.
            organ = organ_first(name)
            for everyday in other_names(description, name):
                other_rank = (rank[0], 1 if everyday == organ else 2, rank[2], code)
                if everyday not in best or other_rank < best[everyday][0]:
                    best[everyday] = (other_rank, code)
    for name, code in _COLLOQUIAL.items():
        best.setdefault(name, ((2, 3, 1, code), code))
    for name, (_, code) in sorted(best.items()):
        yield Entry("condition", tokenize(name), name, code, "ICD-10-CM", False)


# ---------------------------------------------------------------------------------------------
# Medications

_VARIANT_OK = re.compile(r"^[a-z][a-z0-9 .'+-]*[a-z0-9]$")
_SPLIT_COMBINATION = re.compile(r"\s*(?:/|,\s*and\s+|\s+and\s+|,\s*|\s+with\s+)\s*")
# Words that are ordinary English or too short to be a drug on their own (a dictionary
# synonym "today" or "plan" would otherwise be a medication in every note).
_SHORT = 4


def _identifier(data: dict[str, object] | None) -> tuple[str, str]:
    for key, system in (("drugbank_id", "DrugBank"), ("mesh_id", "MeSH"), ("medline_plus_id", "MedlinePlus")):
        value = (data or {}).get(key)
        if isinstance(value, str) and value:
            return value, system
    return "", ""


# A dosage form or salt in a dictionary name is not part of the ingredient ("lidocaine viscous",
# "timolol eye drops", "losartan potassium" -> lidocaine, timolol, losartan), unless what is left
# is an element or not a drug of its own ("ferrous sulfate", "calcium acetate" stay).
_FORM = re.compile(
    r"(?:^|\s+)(?:viscous|eye\s+drops?|ear\s+drops?|ophthalmic(?:\s+solution)?|otic|urogenital|topical|nasal\s+spray"
    r"|injection|oral(?:\s+solution)?|extended[\s-]release|er|xr|sr|(?:transdermal\s+)?patch(?:es)?|transdermal"
    r"|(?:(?:nasal|vaginal|rectal)\s+)?(?:cream|ointment|gel|lotion|suppositor(?:y|ies)))$"
)
_SALT = re.compile(
    r"\s+(?:hydrochloride|hcl|sodium|potassium|dipotassium|disodium|sulfate|succinate|tartrate|maleate|mesylate|besylate|citrate"
    r"|fumarate|bromide|acetate|phosphate|hyclate|monohydrate|dihydrate)$"
)
_ELEMENTS = frozenset(
    {"calcium", "magnesium", "sodium", "potassium", "zinc", "iron", "ferrous", "lithium", "aluminum"}
)


# A class page named in the plural ("stool softeners", "beta blockers") names no ingredient;
# "iron supplements" names its ingredient.
_CLASS = re.compile(r"\b(?:softeners|blockers|inhibitors|laxatives|antagonists|agonists|products)$")
_SUPPLEMENTS = re.compile(r"\s+supplements?$")


def _ingredient(name: str, canonical_data: dict[str, dict[str, object]]) -> str:
    name = _SUPPLEMENTS.sub("", _FORM.sub("", name))
    bare = _SALT.sub("", name)
    return bare if bare != name and bare in canonical_data and bare not in _ELEMENTS else name


def _is_medicine(data: dict[str, object] | None) -> bool:
    return any((data or {}).get(key) for key in ("drugbank_id", "medline_plus_id", "nhs_url"))


def _drug_entries(tokenize: TokenizeFn, ordinary: frozenset[str]) -> Iterator[Entry]:
    import bz2
    import pickle
    from importlib.resources import files

    source = files("drug_named_entity_recognition").joinpath("drug_ner_dictionary.pkl.bz2")
    with bz2.open(str(source), "rb") as handle:
        data = pickle.load(handle)  # the package's own shipped file
    canonical_data: dict[str, dict[str, object]] = data["drug_canonical_to_data"]
    for variant, canonicals in sorted(data["drug_variant_to_canonical"].items()):
        if len(set(canonicals)) != 1 or not _VARIANT_OK.match(variant) or len(variant) < 3:
            continue
        canonical = canonicals[0]
        ingredients = [
            ingredient
            for part in _SPLIT_COMBINATION.split(canonical)
            if part and (ingredient := _ingredient(part, canonical_data))
        ]
        if not ingredients or any(not _VARIANT_OK.match(part) or _CLASS.search(part) for part in ingredients):
            continue
        words = variant.split()
        if len(words) > 1 and all(w.isdigit() or w in ordinary for w in words):
            continue  # ordinary words and numbers ("at 10", the brand AT-10) read as prose
        # A MeSH-only entry is mostly a chemical or a protein ("serum amyloid a protein"), not a
        # medicine: only ingredients known to DrugBank, MedlinePlus or the NHS are kept.
        if not all(_is_medicine(canonical_data.get(i) or canonical_data.get(canonical)) for i in ingredients):
            continue
        codes, systems = [], set()
        for ingredient in ingredients:
            code, system = _identifier(canonical_data.get(ingredient))
            if not code and len(ingredients) == 1:
                code, system = _identifier(canonical_data.get(canonical))
            codes.append(code)
            systems.add(system)
        system = (
            systems.pop()
            if len(systems) == 1
            else "|".join(_identifier(canonical_data.get(i))[1] for i in ingredients)
        )
        tokens = tokenize(variant)
        if len(tokens) > 6:
            continue
        needs_context = len(variant) <= _SHORT or variant in ordinary
        yield Entry("medication", tokens, "|".join(ingredients), "|".join(codes), system, needs_context)


# ---------------------------------------------------------------------------------------------
# Files


_SKIPPED = frozenset({"-", "'", "\u2019"})


def _tokenizer() -> TokenizeFn:
    import spacy

    nlp = spacy.blank("en")

    def tokenize(text: str) -> tuple[str, ...]:
        # Hyphens and a plural possessive's apostrophe are not significant in matching
        # ("end-stage" = "end stage", "Graves' disease" = "Graves disease"): not stored.
        return tuple(t.text.lower() for t in nlp.make_doc(text) if not t.is_space and t.text not in _SKIPPED)

    return tokenize


def ordinary_words() -> frozenset[str]:
    """Ordinary English words that a drug dictionary also lists (data/ordinary_words.txt)."""
    path = GAZETTEER_PATH.parent / "ordinary_words.txt"
    words = (line.split("#", 1)[0].strip().lower() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(word for word in words if word)


def generate() -> list[Entry]:
    """Every entry, read from the packages (slow: imports both)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    tokenize = _tokenizer()
    ordinary = ordinary_words() | frozenset(STOP_WORDS)
    return list(_icd_entries(tokenize)) + list(_drug_entries(tokenize, ordinary))


def serialise(entries: list[Entry]) -> bytes:
    lines = [HEADER] + [
        "\t".join((e.kind, " ".join(e.tokens), e.concept, e.code, e.system, "1" if e.needs_context else ""))
        for e in entries
    ]
    # mtime=0: the same entries give the same bytes, so the committed file can be compared.
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)


def rows(path: Path = GAZETTEER_PATH) -> Iterator[list[str]]:
    """The committed gazetteer as raw rows, one at a time (no objects per entry are kept):
    kind, space-joined tokens, concept, code, system, needs_context ("1" or "")."""
    lines = io.StringIO(gzip.decompress(path.read_bytes()).decode("utf-8"))
    next(lines)  # header
    for line in lines:
        yield line.rstrip("\n").split("\t")


_TOKENS_COLUMN = re.compile(r"^[^\t\n]*\t([^\t\n]*)", re.MULTILINE)


def columns(path: Path = GAZETTEER_PATH) -> tuple[str, list[str]]:
    """The committed gazetteer for a fast load: every row's space-joined tokens, padded with a
    space each side, one row a line (to be folded in one pass), and the rows themselves."""
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    body = text[text.index("\n") + 1 :]  # past the header
    rows = body.split("\n")
    if rows and not rows[-1]:
        rows.pop()
    return " " + " \n ".join(_TOKENS_COLUMN.findall(body)) + " ", rows


def load(path: Path = GAZETTEER_PATH) -> list[Entry]:
    """The committed gazetteer as entries."""
    return [Entry(k, tuple(t.split(" ")), c, code, s, n == "1") for k, t, c, code, s, n in rows(path)]


def main() -> int:
    entries = generate()
    GAZETTEER_PATH.write_bytes(serialise(entries))
    kinds = {k: sum(1 for e in entries if e.kind == k) for k in ("condition", "medication")}
    print(f"wrote {GAZETTEER_PATH.name}: {kinds}, {GAZETTEER_PATH.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
