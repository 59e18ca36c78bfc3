"""Lab names joined to their values by a hyphen ("FBS-142 mg/dl", "TC-212, TG-245", "Sugar-Nil"),
as diagnostic centres' message summaries write them.

The tokenizer keeps "FBS-142" one token, so the name is found on a copy of the text with such
hyphens read as spaces (offsets unchanged); the value is then read after the hyphen as after any
name. A hyphen joins only where it cannot be a minus or a range: right after a letter (or a short
code ending in a digit, "T3-1.12") and right before a value with no space on either side, in a
text that writes at least three results that way. A name the plain text already matched
past the hyphen ("CA-125", "COVID-19") keeps that match; shorter ones inside a joined name give
way. One reason to change: how hyphen-joined names are found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from medupload.pipeline.mentions import Mention, find_mentions

__all__ = ["with_hyphen_joined"]

# "FBS-142", "TC/HDL-5.6", "T3-1.12", "Sugar-Nil", "Pus cells-4-6/hpf"; not "(70-110)", "1800-000".
_JOIN = re.compile(
    r"(?:(?<=[A-Za-z)])|(?<=\b[A-Z]\d)|(?<=\b[A-Z][A-Za-z]\d))-(?=\d|(?:Nil|Trace|Absent|Present|Negative|Positive)\b)"
)
_MIN_JOINS = 3


def with_hyphen_joined(text: str, mentions: Sequence[Mention], with_base: bool) -> list[Mention]:
    """``mentions`` with the lab names found before joining hyphens that no mention covers."""
    joins = [match.start() for match in _JOIN.finditer(text)]
    if len(joins) < _MIN_JOINS:
        return list(mentions)
    chars = list(text)
    for at in joins:
        chars[at] = " "
    found = [m for m in find_mentions("".join(chars), with_base) if m.kind == "lab" and m.end in joins]
    # A longer name wins over the shorter ones inside it ("Blood Urea-32" over "Blood"); a name the
    # plain text matched past the hyphen ("CA-125") keeps that match.
    kept = [
        m
        for m in found
        if all(m.start <= o.start and o.end <= m.end for o in mentions if o.start < m.end and m.start < o.end)
    ]
    inside = [o for o in mentions if not any(m.start <= o.start and o.end <= m.end for m in kept)]
    return sorted([*inside, *kept], key=lambda m: (m.start, m.end))
