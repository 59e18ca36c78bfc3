"""Numbers in a report's comment or interpretation sentence that are no result of this report.

A result row is often followed by a wrapped comment that quotes a level: a treatment target over
two lines ("Lipid targets (CCS 2021) for patients on / statin: LDL-C < 2.0 mmol/L"), a staging
band ("An eGFR of 45-59 on two occasions ... suggests CKD stage G3a"), a definition ("eGFR <60
for 3 months or more is consistent with CKD"), a bound ("triglycerides can be up to 2.3 mmol/L
after a meal") or an earlier result in prose ("A1c was 6.8 then"). The same-line guards in
``lab_layouts`` miss them because the word that makes the number a limit is on the line before
or after the number, so here the whole sentence is read, across wrapped prose lines.
"""

from __future__ import annotations

import re

# Words that make a level in the sentence a limit: a target, a band, a stage, a definition.
_LIMIT_WORD = re.compile(
    r"\b(?:targets?|goals?|aims?|objectives?|objetivos?|objectifs?|cibles?|metas?|zielwert\w*|ziel"
    r"|thresholds?|cut-?offs?|stages?|bands?|defin\w+|consistent[ \t\n]+with|indicat\w*"
    r"|suggest\w*)\b",
    re.IGNORECASE,
)
# A sentence ends at a full stop, "!", "?" or ";" before white space, at a blank line, or at a
# heading's colon closing its line ("DIAGNOSTICS:").
_SENTENCE_END = re.compile(r"[.!?;](?=\s)|\n[ \t]*\n|:[ \t]*\n")
# A line of prose, not a table row: no run of two spaces or a tab inside its text.
_TABLE_GAP = re.compile(r"\S(?: {2,}|\t)\S")
# "An eGFR of", "Any HbA1c": a test named in general, as a comment does.
_INDEFINITE_BEFORE = re.compile(r"\b(?:an?|any)[ \t]+(?:[A-Za-z-]+[ \t]+){0,3}$", re.IGNORECASE)
# "<60 for 3 months or more is consistent with CKD": what a comparator level means, nearby.
_MEANS_AFTER = re.compile(
    r"[^,\n.;]{0,40}?\b(?:(?:is|are)[ \t]+)?(?:consistent[ \t]+with|diagnostic|indicative|suggestive"
    r"|indicates?|suggests?|defines?)\b",
    re.IGNORECASE,
)
# "triglycerides can be up to 2.3": a bound the words between the name and the number set.
_BOUND_BETWEEN = re.compile(
    r"\b(?:can|could|may|might|should|must)[ \t]+be\b|\bno[ \t]+more[ \t]+than\b",
    re.IGNORECASE,
)
# "(A1c was 6.8 then)": an earlier result the sentence dates with "then".
_WAS_BETWEEN = re.compile(r"^[ \t]+(?:was|were)[ \t]+$", re.IGNORECASE)
_THEN_AFTER = re.compile(r"[ \t]+(?:back[ \t]+)?then\b[ \t]*(?:[).,;]|$)", re.IGNORECASE | re.MULTILINE)
_RANGE = re.compile(r"\d+(?:[.,]\d+)?[ \t]*[-–][ \t]*\d")


def _line_start(text: str, at: int) -> int:
    return text.rfind("\n", 0, at) + 1


def _prose_line(text: str, start: int) -> bool:
    end = text.find("\n", start)
    line = text[start : len(text) if end == -1 else end].strip()
    return bool(line) and _TABLE_GAP.search(line) is None


def sentence_before(text: str, name_start: int) -> str:
    """The sentence up to the name, taken back over wrapped prose lines (up to three)."""
    start = _line_start(text, name_start)
    if not _prose_line(text, start) and _TABLE_GAP.search(text, start, name_start):
        start = name_start  # a table row: only the words after its last gap
    for _ in range(3):
        if start == 0 or _SENTENCE_END.search(text, start, name_start):
            break
        previous = _line_start(text, start - 1)
        if not _prose_line(text, previous):
            break
        start = previous
    before = text[start:name_start]
    ends = list(_SENTENCE_END.finditer(before))
    return before[ends[-1].end() :] if ends else before


def _sentence_after(text: str, end: int) -> str:
    found = _SENTENCE_END.search(text, end, end + 240)
    return text[end : found.start() if found is not None else min(len(text), end + 240)]


def comment_level(
    text: str, name_start: int, name_end: int, value: str | None, value_end: int | None
) -> bool:
    """Whether a value read after a name is a level quoted in a comment sentence, not a result."""
    if not value or value_end is None:
        return False
    between = text[name_end : max(name_end, value_end - len(value))]
    if _BOUND_BETWEEN.search(between):
        return True  # "triglycerides can be up to 2.3 mmol/L after a meal"
    if _WAS_BETWEEN.match(between) and _THEN_AFTER.match(text, value_end):
        return True  # "(A1c was 6.8 then)"
    ranged = _RANGE.match(value) is not None
    if value[0] not in "<>≤≥" and not ranged:
        return False
    before = sentence_before(text, name_start)
    if _LIMIT_WORD.search(before):
        return True  # "Lipid targets ... for patients on / statin: LDL-C < 2.0 mmol/L"
    if _INDEFINITE_BEFORE.search(before) and _LIMIT_WORD.search(_sentence_after(text, value_end)):
        return True  # "An eGFR of 45-59 on two occasions ... suggests CKD stage G3a"
    return value[0] in "<>≤≥" and _MEANS_AFTER.match(text, value_end) is not None
