"""Medication instructions: dose, route and frequency after a drug name, allergy cues, and
whether a mention has drug context; and when a drug-named mention is no medication or allergy of
the patient's (a vaccine, an option not chosen, a culture's susceptibility, a tolerated drug in an
allergy statement, a hedged reaction, a drug under a header that ended the allergy section).

A sig may continue on the next line ("insulin glargine\n22 units subcutaneously at bedtime",
as OCR gives a list whose instructions wrap or sit in a second column): when nothing follows
the name on its own line, the next line is read, if it starts like an instruction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from medupload.pipeline.vocabulary import vocabulary

DOSE_RE = re.compile(
    r"(?<![\w.])(?P<dose>\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?)\s*"
    r"(?P<unit>mg|mcg|µg|ug|g|grams?|units?|iu|u|ml|meq|%)(?![A-Za-z])",
    re.IGNORECASE,
)
_DOSE_UNITS = {
    "mg": "mg",
    "mcg": "mcg",
    "µg": "mcg",
    "ug": "mcg",
    "g": "g",
    "gram": "g",
    "grams": "g",
    "unit": "units",
    "units": "units",
    "iu": "units",
    "u": "units",
    "ml": "mL",
    "meq": "mEq",
    "%": "%",
}
# An allergy statement right before a drug on the same line: "Allergies: penicillin, sulfa",
# "allergic to codeine" (a sentence end in between breaks it).
ALLERGY_CUE = re.compile(
    r"(?:allerg(?:ic|y|ies)\s*(?:to\b|:|-)|intoleran(?:t|ce)\s+to\b|reaction\s+to\b)[^.\n]*$", re.IGNORECASE
)
ALLERGIES_NONE = re.compile(
    r"\b(?:drug\s+)?allerg(?:y|ies)\s*[:\-]\s*(?P<none>none(?:\s+known)?|nil|denie[sd])\b", re.IGNORECASE
)


@dataclass
class Sig:
    dose: str | None = None
    unit: str | None = None
    route: str | None = None
    frequency: str | None = None
    end: int | None = None


def read_sig(text: str, start: int, stop: int) -> Sig:
    window = text[start:stop]
    sig = Sig()
    ends: list[int] = []
    dose = DOSE_RE.search(window)
    if dose:
        sig.dose = re.sub(r"\s+", "", dose["dose"])
        sig.unit = _DOSE_UNITS[dose["unit"].lower()]
        ends.append(dose.end())
    for field_name, pattern, value in vocabulary().sig:
        if getattr(sig, field_name) is not None:
            continue
        found = pattern.search(window)
        if found:
            setattr(sig, field_name, value)
            ends.append(found.end())
    if ends:
        sig.end = start + max(ends)
    return sig


# A continuation line starts with a dose ("22 units"), a count ("1 tab", "2 puffs") or a route/
# frequency word, not with another name.
_CONTINUATION = re.compile(
    r"[ \t]*(?:[-*•]\s*)?(?:\d+(?:\.\d+)?\s*(?:mg|mcg|µg|ug|g|grams?|units?|iu|u|ml|meq|%|tabs?|tablets?"
    r"|caps?|capsules?|puffs?|drops?|sprays?)\b|take\b|inject\b|apply\b|inhale\b|sig\b)",
    re.IGNORECASE,
)
#: Sections whose every drug-looking word is a drug.
MEDICATION_SECTIONS = frozenset({"medications", "allergies", "allergy"})


def read_sig_lines(text: str, start: int, stop: int, line_end: int) -> Sig:
    """The sig on the rest of the line (up to ``stop``), else on the next line when that line
    starts like an instruction (the dose/sig of a list item wrapped by OCR)."""
    sig = read_sig(text, start, stop)
    if sig.end is not None or text[start:line_end].strip(" \t,;:-") or line_end >= len(text):
        return sig
    next_end = text.find("\n", line_end + 1)
    next_end = len(text) if next_end == -1 else next_end
    if not _CONTINUATION.match(text, line_end + 1, next_end):
        return sig
    return read_sig(text, line_end + 1, min(next_end, line_end + 1 + 80))


def has_drug_context(sig: Sig, section: str | None) -> bool:
    """A dose, route or frequency read with the name, or a medications/allergies section."""
    return bool(sig.dose or sig.route or sig.frequency) or (section or "") in MEDICATION_SECTIONS


# ---------------------------------------------------------------------------------------------
# Drug names that are not a drug the patient takes: a vaccine (labels exclude immunisations), a
# dictionary synonym that is an ordinary word of a list ("Daypro generic"), a negated compound
# ("non-insulin diabetes"), what is mixed into a maintenance fluid ("20 mEq/L of potassium
# chloride"), and, without a dose, a drug the sentence rules out: to avoid ("Would avoid other
# blood thinners including Plavix"), an option not (yet) chosen ("Other medication options would
# include Keppra"), or a culture's susceptibility ("Enterococcus susceptible to ampicillin").

_VACCINE = re.compile(r"vaccin|toxoid|immuni[sz]ation", re.IGNORECASE)
_NOT_DRUG_WORDS = frozenset({"generic", "generics"})
# A test result, not a drug: "negative nitrates" on a urinalysis, "positive for cocaine" on a screen.
_RESULT_BEFORE = re.compile(
    r"\b(?:negative|positive|trace)\s+(?:for\s+)?(?:[A-Za-z][\w-]*\s*(?:,\s*(?:and|or)\b|,|/|\bor\b|\band\b)\s*){0,4}$",
    re.IGNORECASE,
)
_NON_BEFORE = re.compile(r"\bnon[- ]?$", re.IGNORECASE)
_PER_LITRE_BEFORE = re.compile(r"\d\s*(?:meq|mmol|mg|g)\s*/\s*l(?:iter|itre)?\s+(?:of\s+)?$", re.IGNORECASE)
_PER_LITRE_AFTER = re.compile(r"[ \t,]*\d+(?:\.\d+)?\s*(?:meq|mmol)\s*/\s*l\b", re.IGNORECASE)
# The cue, then only a list of names ("Plavix, Integrilin, and"): the drug is what is avoided.
_LIST_TO_NAME = (
    r"(?:\s+(?:the\s+)?(?:use\s+of\s+)?(?:[\w-]+\s+){0,3}?(?:including|such\s+as|like|e\.g\.,?))?"
    r"(?:\s*[A-Za-z][\w-]*(?:\s+[\w-]+)?\s*(?:,\s*(?:and|or)\b|,|/|\bor\b|\band\b))*\s*$"
)
_AVOID = re.compile(
    r"\b(?:avoid(?:ing|ed)?|reluctant\s+to\s+(?:recommend|use|start|give|prescribe)"
    r"|(?:would|will|do|did|should)\s+not\s+(?:recommend|use|start|give|prescribe)|not\s+a\s+candidate\s+for)"
    + _LIST_TO_NAME,
    re.IGNORECASE,
)
# Options or alternatives named in the sentence before the drug, with no choice made in between and
# not about a drug already taken ("the option of stopping the Detrol").
_OPTIONS = re.compile(
    r"\b(?:options?|alternatives?)\s+(?:would\s+|might\s+|could\s+)?(?:include|including|of|such\s+as|are|were)\b"
    r"(?![^.;\n]*\b(?:chose|chosen|decided|elected|agreed|opted|will|start(?:ed)?|prescribed|begin|began"
    r"|given|placed|continu\w*|stop\w*|discontinu\w*|increas\w*|decreas\w*|taper\w*|wean\w*|reduc\w*|stay\w*)\b)[^.;\n]*$",
    re.IGNORECASE,
)
_SUSCEPTIBLE = re.compile(r"\b(?:susceptib\w+|sensitive|resistant|resistance)\s+to\b[^.;\n]*$", re.IGNORECASE)
_CULTURE = re.compile(
    r"cultur|colon(?:y|ies)\b|\bgrew\b|\bgrowing\b|organism|isolate|bacteri|\bcoli\b|staph|strep|enterococc"
    r"|pseudomonas|klebsiella",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?:[.;!?](?=\s)|\n)")


def _sentence_before(text: str, start: int) -> str:
    window = text[max(0, start - 200) : start]
    ends = list(_SENTENCE_END.finditer(window))
    return window[ends[-1].end() :] if ends else window


def not_given(text: str, start: int, end: int, concepts: list[str], dosed: bool) -> bool:
    """A drug-named mention that is no medication of the patient's (see above)."""
    matched = text[start:end]
    if any(_VACCINE.search(c) for c in concepts) or _VACCINE.search(matched):
        return True
    if matched.lower() in _NOT_DRUG_WORDS or _NON_BEFORE.search(text, max(0, start - 4), start):
        return True
    if _PER_LITRE_BEFORE.search(text, max(0, start - 20), start) or _PER_LITRE_AFTER.match(text, end):
        return True
    if dosed:
        return False
    if _RESULT_BEFORE.search(text, max(0, start - 80), start):
        return True
    before = _sentence_before(text, start)
    if _AVOID.search(before) or _OPTIONS.search(before):
        return True
    return bool(_SUSCEPTIBLE.search(before) and _CULTURE.search(before))


# An opioid written with two strengths ("hydrocodone 7.5 mg/500 mg", "Hydrocodone 10/500") is the
# acetaminophen combination: the second number is the acetaminophen (300-750 mg in every product).
_WITH_ACETAMINOPHEN = frozenset({"hydrocodone", "oxycodone", "codeine", "tramadol", "dihydrocodeine"})
_SECOND_STRENGTH = re.compile(r"\s*(?:mg)?\s*/\s*(?P<second>\d{3})\s*(?:mg)?(?![\d.])", re.IGNORECASE)
_FIRST_STRENGTH = re.compile(r"[ \t]*(?:\d+(?:\.\d+)?)", re.IGNORECASE)


def acetaminophen_paired(text: str, concept: str, end: int, dose: str | None) -> bool:
    """Whether ``concept`` named before ``end`` with ``dose`` is an opioid/acetaminophen product."""
    if concept not in _WITH_ACETAMINOPHEN or not dose:
        return False
    if "/" in dose:
        second = dose.split("/", 1)[1]
    else:
        first = _FIRST_STRENGTH.match(text, end)
        found = _SECOND_STRENGTH.match(text, first.end()) if first else None
        if found is None:
            return False
        second = found["second"]
    try:
        return 300 <= float(second) <= 750
    except ValueError:
        return False


def hedged_reaction(text: str, start: int, line_start: int, section: str | None, flags: Any) -> bool:
    """A drug after a reaction cue outside an allergies section, hedged ("She may have some reaction
    to her multiple medications including her statin drugs"): a suspected side effect, not an
    allergy entry. A hedged allergy stays one ("a question of her being allergic to Septra",
    "perhaps contrast medium" in an allergies section)."""
    if (section or "").startswith("allerg"):
        return False
    cue = ALLERGY_CUE.search(text[max(line_start, start - 60) : start])
    if cue is None or "allerg" in cue[0].lower():
        return False
    return bool(getattr(flags, "uncertain", False) or getattr(flags, "hypothetical", False))


# A header in capitals alone on its line, of two to five words ("HISTORY OF PRESENT COMPLAINT:"),
# that the section rules do not know leaves the drugs under it in the ALLERGIES section above;
# the nearest header line above a drug says whether its allergy section still runs.
_CAPS_HEADER = re.compile(r"[ \t]*[A-Z][A-Z]+(?:[ \t]+[A-Z][A-Z]+){1,4}[ \t]*:[ \t]*$")
_ALLERGY_HEADER = re.compile(r"[ \t]*(?:[A-Z][A-Z /&-]*)?ALLERG[A-Z /&-]*:?", re.IGNORECASE)


def allergy_section_ended(text: str, line_start: int, lines: int = 40) -> bool:
    """Whether a non-allergy header lies between the allergies header and the line at ``line_start``."""
    end = line_start
    for _ in range(lines):
        if end <= 0:
            return False
        start = text.rfind("\n", 0, end - 1) + 1
        line = text[start : end - 1] if text[end - 1 : end] == "\n" else text[start:end]
        if _ALLERGY_HEADER.match(line):
            return False
        if _CAPS_HEADER.fullmatch(line):
            return True
        end = start
    return False


# A bare "vitamin" is a multivitamin only where drugs are listed or dosed ("and vitamin." ending a
# medication list, "one vitamin daily"); in prose ("a diet rich in vitamin") it is no drug.
_CONTEXT_ONLY = frozenset({"vitamin", "vitamins"})


def context_only(matched: str) -> bool:
    """A name that counts as a drug only with drug context, though the vocabulary does not say so."""
    return matched.lower() in _CONTEXT_ONLY


# In an allergy statement, a drug the patient is said to tolerate ("ALLERGIC TO TYLENOL WITH
# CODEINE, but he states he can get morphine along with Benadryl") is no allergen but a drug taken.
_TOLERATED_BEFORE = re.compile(
    r"\b(?:can\s+(?:get|take|have|tolerate|use)|tolerat(?:es|ed|ing)|is\s+able\s+to\s+take"
    r"|does\s+(?:fine|well)\s+with)\b[^.;\n]*$",
    re.IGNORECASE,
)


def tolerated(text: str, start: int) -> bool:
    """A drug named after a tolerance cue in its sentence (see above)."""
    return bool(_TOLERATED_BEFORE.search(_sentence_before(text, start)))
