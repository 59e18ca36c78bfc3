"""Assertion flags of a mention: medspaCy ConText's, plus what a section implies.

ConText (rules: medspaCy's defaults adjusted by ``data/context_rules.yaml``) gives negated,
historical, family, hypothetical and uncertain from the sentence. A section adds its own
(``section_attributes`` in the same file: a family-history section makes every mention in it
family), scoped to the header's paragraph, and the rules below cover phrasing ConText's
window misses on real notes:
- a negation list: "denies fever, chills or dysuria" / "no nausea, vomiting, or diarrhea"
  negates every item up to the end of the clause;
- "family history of X", "FH: X", "mother with X" before the mention on the same line -> family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# A negation cue that governs a list: the items after it, separated by commas, "or", "and",
# "nor", up to a clause end (full stop, semicolon, "but", a line end).
_LIST_NEGATION = re.compile(
    r"(?:\b(?:denies|denied|deny|denying|negative\s+for|no|without|free\s+of|absence\s+of)\b)"
    r"(?P<list>[^.;:\n]*)$",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(
    r"\b(?:but|however|although|except|though|which|who|with\s+(?!no\b))\b", re.IGNORECASE
)
_FAMILY_LEAD = re.compile(
    r"(?P<cue>\bfamily\s+history\b|\bfamily\s+hx\b|\bFH\b\s*[:\-]|\b(?:mother|father|brother|sister|aunt|uncle"
    r"|grandmother|grandfather|grandparents?|siblings?|parents?|son|daughter|cousin)\b(?:'s)?\s+"
    r"(?:has|had|have|with|died|passed|suffer\w*|was\s+diagnosed|diagnosed)\b)[^.;\n]*$",
    re.IGNORECASE,
)
_PATIENT_AGAIN = re.compile(
    r"\b(?:she|he|the\s+patient|patient)\s+(?:has|had|is|was|denies)\b", re.IGNORECASE
)


# A dated or "ago" event right after the mention: "Myocardial infarction in 2015", "a stroke
# three years ago", "appendicitis as a child".
_PAST_AFTER = re.compile(
    r"[ \t]*,?[ \t]*(?:in[ \t]+(?:19|20)\d\d\b|\((?:19|20)\d\d\)"
    r"|(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|several|many)[ \t]+(?:years?|months?)"
    r"[ \t]+ago\b|in[ \t]+the[ \t]+past\b|as[ \t]+a[ \t]+child\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Flags:
    negated: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    uncertain: bool = False


def _negated_by_list(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    before = text[max(line_start, start - 200) : start]
    match = _LIST_NEGATION.search(before)
    if match is None:
        return False
    items = match["list"]
    # Only a list: the words between the cue and the mention are items and separators.
    return not _CLAUSE_BREAK.search(items) and items.count(" ") <= 24


def flags(text: str, ent: Any, implied: dict[str, str]) -> Flags:
    """The flags of the medspaCy entity ``ent`` in ``text``."""
    found = {
        "negated": bool(ent._.is_negated),
        "historical": bool(ent._.is_historical),
        "family": bool(ent._.is_family),
        "hypothetical": bool(ent._.is_hypothetical),
        "uncertain": bool(ent._.is_uncertain),
    }
    title = ent._.section_title
    attribute = implied.get(ent._.section_category or "")
    if attribute and title is not None and not _BLANK_LINE.search(text, title.end_char, ent.start_char):
        found[attribute] = True
    if not found["negated"] and _negated_by_list(text, ent.start_char):
        found["negated"] = True
    if not found["historical"] and ent.label_ == "CONDITION" and _PAST_AFTER.match(text, ent.end_char):
        found["historical"] = True
    line_start = text.rfind("\n", 0, ent.start_char) + 1
    lead = _FAMILY_LEAD.search(text, line_start, ent.start_char)
    if lead and not _PATIENT_AGAIN.search(text, lead.end("cue"), ent.start_char):
        found["family"] = True
    return Flags(**found)
