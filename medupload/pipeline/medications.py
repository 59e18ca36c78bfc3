"""Medication instructions: dose, route and frequency after a drug name, allergy cues, and
whether a mention has drug context.

A sig may continue on the next line ("insulin glargine\n22 units subcutaneously at bedtime",
as OCR gives a list whose instructions wrap or sit in a second column): when nothing follows
the name on its own line, the next line is read, if it starts like an instruction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
