"""A condition name with a determiner or a possessive inside it, as prose says it: "swelling of
the tongue", "decrease in her appetite", "stricture of the esophagus", "history of a stroke".

Vocabulary names (ICD-10-CM titles and their everyday forms) say "swelling of tongue", "decrease
in appetite". A word such as "the", "a", "his" or "her" right after a preposition inside a name
is not significant: the matcher also reads the tokens without it, and keeps that reading only
when it is longer than the plain one and names a condition (a drug or a lab is never read across
a gap). The word must be in lower case ("with A fib" is not "with fib").
"""

from __future__ import annotations

from bisect import bisect_right

#: Prepositions after which a determiner or possessive may sit inside a condition name.
PREPOSITIONS = frozenset({"of", "ln", "to", "wlth", "on", "from", "lnto", "at"})  # folded ("i" -> "l")
#: Determiners and possessives (as written, lower case).
DETERMINERS = frozenset({"the", "a", "an", "his", "her", "their", "its", "my", "your", "our", "this", "that"})


def gap_positions(folded: list[str], texts: list[str]) -> list[int]:
    """Positions of the determiners that follow a preposition, in order (the matcher reads past
    them only where they are)."""
    return [k for k in range(1, len(texts)) if texts[k] in DETERMINERS and folded[k - 1] in PREPOSITIONS]


def gapped(folded: list[str], gaps: list[int], start: int, limit: int) -> list[int]:
    """Token positions from ``start`` onwards (at most ``limit`` of them) with every determiner
    of ``gaps`` (``gap_positions``) left out; empty when none is left out."""
    first = bisect_right(gaps, start)
    if first == len(gaps) or gaps[first] > start + limit:
        return []  # no determiner within reach: the plain reading is the only one
    skipped = set(gaps[first:])
    positions = [start]
    k = start + 1
    while k < len(folded) and len(positions) < limit:
        if k not in skipped:
            positions.append(k)
        k += 1
    return positions
