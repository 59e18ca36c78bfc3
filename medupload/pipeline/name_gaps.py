"""A condition name with a determiner or a possessive inside it, as prose says it: "swelling of
the tongue", "decrease in her appetite", "stricture of the esophagus", "history of a stroke".

Vocabulary names (ICD-10-CM titles and their everyday forms) say "swelling of tongue", "decrease
in appetite". A word such as "the", "a", "his" or "her" right after a preposition inside a name
is not significant: the matcher also reads the tokens without it, and keeps that reading only
when it is longer than the plain one and names a condition (a drug or a lab is never read across
a gap). The word must be in lower case ("with A fib" is not "with fib").
"""

from __future__ import annotations

#: Prepositions after which a determiner or possessive may sit inside a condition name.
PREPOSITIONS = frozenset({"of", "ln", "to", "wlth", "on", "from", "lnto", "at"})  # folded ("i" -> "l")
#: Determiners and possessives (as written, lower case).
DETERMINERS = frozenset({"the", "a", "an", "his", "her", "their", "its", "my", "your", "our", "this", "that"})


def gapped(folded: list[str], texts: list[str], start: int, limit: int) -> list[int]:
    """Token positions from ``start`` onwards (at most ``limit`` of them) with every determiner
    that follows a preposition left out; empty when none is left out."""
    positions = [start]
    k = start + 1
    skipped = False
    while k < len(folded) and len(positions) < limit:
        if texts[k] in DETERMINERS and folded[k - 1] in PREPOSITIONS:
            skipped = True
        else:
            positions.append(k)
        k += 1
    return positions if skipped else []
