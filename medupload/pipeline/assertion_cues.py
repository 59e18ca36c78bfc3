"""ConText cues that say nothing about a condition in the phrase they sit in: "return" in "a
routine return appointment", "child" in "her third child", a relative's cue after "his personal
history of", "decline" as a worsening ("some decline with regards to her depression"), a hedge
over what a hedged condition comes "with", "recent" before a chronic condition. ``assertions``
asks ``not_a_cue_here`` for each modifier it weighs."""

from __future__ import annotations

import re
from typing import Any

# "her third child": an obstetric count, not a relative ("third child with one miscarriage").
_ORDINAL_BEFORE = re.compile(
    r"\b(?:first|second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th))[ \t]+$", re.IGNORECASE
)
# "his family history of esophageal cancer and his personal history of heartburn": the
# patient's own history ends a relative's cue.
PERSONAL_HISTORY = re.compile(r"\b(?:personal|own)[ \t]+(?:medical[ \t]+)?history\b", re.IGNORECASE)
# "routine return appointment", "returns in followup": a visit, not a hypothetical return.
_RETURN_VISIT = re.compile(
    r"[ \t]+(?:(?:office|clinic|routine)[ \t]+)?(?:visit|appointment|follow[ -]?up|in[ \t]+follow)",
    re.IGNORECASE,
)
# "some decline ... with regards to her depression", "a decline in function": a worsening, not a
# refusal ("declines surgery").
_DECLINE_NOUN_BEFORE = re.compile(
    r"\b(?:some|a|the|further|slight|significant|gradual|steady|cognitive|functional|mental)[ \t]+$",
    re.IGNORECASE,
)


_WITH = re.compile(r"^[ \t]*,?[ \t]*with[ \t]", re.IGNORECASE)


def _accompanied(text: str, cue_end: int, ent: Any) -> bool:
    """Whether another condition between a hedge and ``ent`` is followed by "with": what comes with
    a hedged condition ("probably still showing signs of volume depletion with hypotension") is
    told as found."""
    for other in ent.doc.ents:
        if (
            other.label_ == "CONDITION"
            and cue_end <= other.start_char
            and other.end_char < ent.start_char
            and _WITH.match(text[other.end_char : ent.start_char])
        ):
            return True
    return False


def not_a_cue_here(text: str, category: str, span: Any, ent: Any, chronic: bool) -> bool:
    """Whether the ConText modifier ``span`` of ``category`` is not about ``ent`` (see above);
    ``chronic``: the condition, once had, is had for good."""
    if (
        category == "FAMILY"
        and span.text.lower() in ("child", "children")
        and _ORDINAL_BEFORE.search(text, max(0, span.start_char - 12), span.start_char)
    ):
        return True  # "this is her third child": a count of her pregnancies
    if (
        category == "FAMILY"
        and span.end_char <= ent.start_char
        and PERSONAL_HISTORY.search(text, span.end_char, ent.start_char)
    ):
        return True  # "family history of X and his personal history of Y": Y is his own
    if (
        category == "HYPOTHETICAL"
        and span.text.lower() == "return"
        and _RETURN_VISIT.match(text, span.end_char)
    ):
        return True  # "a routine return appointment for this woman with X": a visit
    if (
        category == "NEGATED_EXISTENCE"
        and span.text.lower() == "decline"
        and _DECLINE_NOUN_BEFORE.search(text, max(0, span.start_char - 15), span.start_char)
    ):
        return True  # "noting some decline with regards to her depression": it got worse
    if (
        category == "POSSIBLE_EXISTENCE"
        and span.end_char <= ent.start_char
        and _accompanied(text, span.end_char, ent)
    ):
        return True  # "probably signs of volume depletion with hypotension": the hypotension is seen
    # "documented to have recent atrial fibrillation": a chronic one began, and is had now
    return category == "HISTORICAL" and span.text.lower() in ("recent", "recently") and chronic
