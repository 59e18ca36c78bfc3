"""The mentions ``extract`` starts from, and the guards that decide which of them count.

``find_mentions`` runs the spaCy pipeline (gazetteer matcher, Sectionizer, ConText) over the text
and returns each vocabulary match with its section and assertion flags. The guards are the
precision rules, because a false diagnosis or drug is worse than a miss: a test or method name is not a
condition, a reaction beside an allergen is not a finding, a short or ordinary drug name needs
drug context, a habit or a measured hormone is not a medication, a release form belongs to its
drug, and pulse oximetry among the vital signs is not a lab. A bare drug name ("insulin") that heads
a more specific one the document names ("insulin glargine") means that one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from medupload.pipeline import assertions, condition_forms
from medupload.pipeline.clinical_nlp import HITS, NLP_LOCK, nlp
from medupload.pipeline.drug_harm import harm_mentions
from medupload.pipeline.vocabulary import Concept, Hit, fold, vocabulary


@dataclass
class Mention:
    concepts: tuple[Concept, ...]  # a combination product: one per ingredient
    needs_context: bool
    start: int
    end: int
    section: str | None
    flags: assertions.Flags
    matched: str = ""

    @property
    def kind(self) -> str:
        return self.concepts[0].kind


def line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, (len(text) if line_end == -1 else line_end)


def find_mentions(text: str, with_base: bool) -> list[Mention]:
    pipeline = nlp(with_base)
    with NLP_LOCK:  # spaCy components share mutable state; the rest runs unlocked
        doc = pipeline(text)
    vocab = vocabulary(with_base)
    hits: dict[int, Hit] = doc.user_data.get(HITS, {})
    mentions: list[Mention] = []
    for ent in doc.ents:
        hit = hits.get(ent.start_char)
        title = ent._.section_title
        if hit is None or (title is not None and title.start_char <= ent.start_char < title.end_char):
            continue  # "HISTORY OF PRESENT ILLNESS:" is a header, not a finding
        concepts = tuple(vocab.concepts[i] for i in hit.concepts)
        if concepts[0].concept == condition_forms.OMA_FINDING:  # "osteochondroma": the word itself
            word = ent.text.lower()
            concepts = (Concept("condition", word[:-1] if word.endswith("s") else word, None, None),)
        mentions.append(
            Mention(
                concepts=concepts,
                needs_context=hit.needs_context,
                start=ent.start_char,
                end=ent.end_char,
                section=ent._.section_category,
                flags=assertions.flags(text, ent, vocab.context, vocab.concepts[hit.concepts[0]].code),
                matched=ent.text,
            )
        )
    return harm_mentions(text, _specific_for_bare(mentions))  # "lithium toxicity"


def _specific_for_bare(mentions: list[Mention]) -> list[Mention]:
    """A bare drug name that heads a more specific one named in the same document ("insulin"
    with "Lantus" = insulin glargine; "sliding scale insulin") means that drug, not another: it
    takes the nearest specific one before it, else the first after it."""
    singles = [m for m in mentions if m.kind == "medication" and len(m.concepts) == 1]
    names = {m.concepts[0].concept for m in singles}
    bare = {n for n in names if any(o.startswith(n + " ") for o in names)}
    if not bare:
        return mentions
    result = []
    for m in mentions:
        name = m.concepts[0].concept if m.kind == "medication" and len(m.concepts) == 1 else None
        if name in bare:
            specific = [o for o in singles if o.concepts[0].concept.startswith(f"{name} ")]
            before = [o for o in specific if o.start < m.start]
            m = replace(m, concepts=(before[-1] if before else specific[0]).concepts)
        result.append(m)
    return result


_TEST_WORD = re.compile(
    r"[ \t]*(?:test(?:s|ing)?|panel|screen(?:ing)?|antibod(?:y|ies)|antigen|serology|titers?|titres?|pcr"
    r"|assay|equation|formula|viral\s+load|ab\b|ag\b|vaccines?|vaccinations?|immunizations?|shots?)",
    re.IGNORECASE,
)


def is_test_name(text: str, mention: Mention, previous: Mention | None) -> bool:
    """ "HIV test", "hepatitis panel", or a condition inside a lab's parenthesis ("eGFR (CKD)")."""
    if _TEST_WORD.match(text, mention.end):
        return True
    if previous is not None and previous.kind == "lab":
        between = text[previous.end : mention.start]
        return "\n" not in between and between.strip().startswith("(") and ")" not in between
    return False


def is_reaction(text: str, mention: Mention, before: list[Mention]) -> bool:
    """A reaction listed with an allergen on its line ("ALLERGIES: Penicillin (hives)")."""
    if not (mention.section or "").startswith("allerg") or not before:
        return False
    previous = before[-1]
    return previous.kind in {"medication", "allergen"} and "\n" not in text[previous.end : mention.start]


LIST_GLUE = re.compile(
    r"^[\s,;/.]*(?:\d{1,2}[.)])?[\s,;/.]*(?:and|or|plus)?[\s,;/]*(?:then[\s,]+)?$", re.IGNORECASE
)
# Drug context around a short name: a dosage form after it ("EMLA cream"), a treatment verb
# before it ("treated with AZT").
_FORM_AFTER = re.compile(
    r"[ \t]+(?:cream|ointment|gel|lotion|solution|suspension|drops|patch|spray|suppository|tablets?|capsules?"
    r"|inhaler|injection|infusion|drip)\b",
    re.IGNORECASE,
)
_TREATED_BEFORE = re.compile(
    r"\b(?:treated\s+with|started\s+on|placed\s+on|switched\s+to|changed\s+to|prescribed|given|received"
    r"|taking|takes|took)\s+(?:\w+\s+)?$",
    re.IGNORECASE,
)


def named_as_drug(text: str, mention: Mention) -> bool:
    """A dosage form after the name ("EMLA cream") or a treatment verb before it ("treated with AZT")."""
    return bool(_FORM_AFTER.match(text, mention.end)
                or _TREATED_BEFORE.search(text, max(0, mention.start - 30), mention.start))


def in_drug_list(text: str, mentions: list[Mention], i: int) -> bool:
    """Listed with another drug ("Dilantin, ASA, and Diltiazem"): that is drug context."""
    for j in (i - 1, i + 1):
        if 0 <= j < len(mentions) and mentions[j].kind == "medication" and not mentions[j].needs_context:
            a, b = sorted((mentions[i], mentions[j]), key=lambda x: x.start)
            if LIST_GLUE.match(text[a.end : b.start]):
                return True
    return False


# A substance named as a habit ("methamphetamine and alcohol abuse") or a hormone measured
# ("serum cortisol analysis", "aldosterone and ACTH level measurement"), not a drug taken.
_HABIT_AFTER = re.compile(
    r"(?:[ \t]*(?:,|/|and|or)?[ \t]*[A-Za-z]+){0,3}?[ \t]*/?[ \t]*"
    r"(?:abuse|dependence|addiction|intoxication|overdose|withdrawal)\b",
    re.IGNORECASE,
)
_MEASURED_BEFORE = re.compile(r"\b(?:serum|plasma|urine|urinary|blood)[ \t]+$", re.IGNORECASE)
_MEASURED_AFTER = re.compile(
    r"(?:[ \t]*(?:,|/|and|or)?[ \t]*[A-Za-z0-9]+){0,3}?[ \t]+(?:levels?|analysis|measurements?|assays?"
    r"|stimulation[ \t]+test|suppression[ \t]+test)\b",
    re.IGNORECASE,
)
# Social-history sections tell habits (alcohol, tobacco, street drugs); a drug there counts
# only with a dose.
_HABIT_SECTIONS = frozenset({"social_history"})


def not_taken(text: str, mention: Mention) -> bool:
    """A drug name that is a habit or a measured substance, not a medication taken."""
    return (
        (mention.section or "") in _HABIT_SECTIONS
        or bool(_HABIT_AFTER.match(text, mention.end))
        or bool(_MEASURED_BEFORE.search(text, max(0, mention.start - 12), mention.start))
        or bool(_MEASURED_AFTER.match(text, mention.end))
    )


# A release form after a drug's name ("Sinemet CR", "Toprol XL") is part of that name, not a lab
# ("CR" creatinine) or another drug.
_RELEASE_FORMS = frozenset({"CR", "ER", "SR", "XL", "XR", "LA", "DR", "ODT", "CD", "ES"})
# A short or ordinary name followed by a colon is a form's field label ("Allow Generic: No").
FIELD_LABEL = re.compile(r"[ \t]*:")


def release_form(text: str, mentions: list[Mention], i: int) -> bool:
    previous = mentions[i - 1] if i else None
    return (
        previous is not None
        and previous.kind == "medication"
        and mentions[i].matched in _RELEASE_FORMS
        and text[previous.end : mentions[i].start] in {" ", "-"}
    )


_WORD = re.compile(r"\S+")
# Pulse oximetry among the vital signs is a vital sign, not a lab result.
_VITAL_SIGN_LABS = frozenset({"oxygen saturation"})
_VITALS = re.compile(
    r"\b(?:vital\s+signs|blood\s+pressure|pulse|respirat\w*|temperature|heart\s+rate|room\s+air)\b",
    re.IGNORECASE,
)


def among_vitals(text: str, concept: str, line_start: int, line_end: int) -> bool:
    return concept in _VITAL_SIGN_LABS and bool(_VITALS.search(text, line_start, line_end))


def lab_inside(mention: Mention) -> tuple[int, Concept] | None:
    """The lab a condition's name ends with ("elevated PSA", "low hemoglobin"): its offset in
    the name and its concept, else None."""
    vocab = vocabulary()
    words = list(_WORD.finditer(mention.matched))
    for k in range(1, len(words)):
        tail = tuple(w[0] for w in words[k:])
        hit = vocab.lexicon.exact.get(tail) or vocab.lexicon.folded.get(tuple(fold(w) for w in tail))
        if hit is not None and vocab.concepts[hit.concepts[0]].kind == "lab":
            return words[k].start(), vocab.concepts[hit.concepts[0]]
    return None
