"""A lab's name that a narrow column or a PDF's conversion wrapped onto two lines, joined back.

One reason to change: when a line break inside a row's name cell is read as a space. A PDF turned
to text, or a report printed with a narrow name column, breaks a long name and leaves the result
on the second line ("Alkaline" / "Phosphatase      188   H   U/L   40-129"). The break is made a
space (the text keeps its length, so every offset holds) only when the first line is a short
name fragment with no digits, the second starts with words and holds a result after a column
gap and starts no lab's name of its own (a heading or a translated gloss above a row), and the
first line's words with the second's make a lab's name.
"""

from __future__ import annotations

import re

from medupload.pipeline.vocabulary import key, name_tokens, vocabulary

__all__ = ["joined_names"]

# The first line: a few words of a name, nothing else ("Alkaline", "Aspartate", "Lactate").
_FRAGMENT = re.compile(r"^[ \t]*([A-Za-zÀ-ÿ][A-Za-zÀ-ÿ.,'/ -]{0,30}?)[ \t]*$")
# The second line: the name's rest, then a column gap and a number ("Phosphatase    188  H").
_ROW_REST = re.compile(r"^[ \t]*([A-Za-zÀ-ÿ][A-Za-zÀ-ÿ.,'/() -]{0,40}?)(?:\t|[ ]{2,})[<>]?[ \t]*\d")
_MOST_WORDS = 4


def _lab_across(fragment: str, rest: str) -> bool:
    """Whether a lab's name starts with ``fragment`` and ends in ``rest``, where ``rest`` starts
    no lab's name of its own."""
    vocab = vocabulary()
    first, second = list(name_tokens(fragment)), list(name_tokens(rest))
    if not first or not second or len(first) > _MOST_WORDS:
        return False
    tokens = first + second

    def lab_at(start: int, stop: int) -> bool:
        words = tokens[start:stop]
        hit = vocab.lexicon.folded.get(key(words)) or vocab.lexicon.exact.get(tuple(words))
        return hit is not None and vocab.concepts[hit.concepts[0]].kind == "lab"

    if any(lab_at(len(first), stop) for stop in range(len(first) + 1, len(tokens) + 1)):
        return False  # the second line's row names a lab of its own (a gloss or heading above it)
    # the name starts with the cell ("Lactate" / "Dehydrogenase  260": the longer name wins over
    # the first line's own name, which has no result on its line)
    return any(lab_at(0, stop) for stop in range(len(first) + 1, len(tokens) + 1))


def joined_names(text: str) -> str:
    """``text`` with the line break inside each wrapped lab name made a space (same length)."""
    if "\n" not in text:
        return text
    lines = text.split("\n")
    joins = []
    offset = 0
    for i, line in enumerate(lines[:-1]):
        offset += len(line) + 1
        fragment = _FRAGMENT.match(line)
        if fragment is None:
            continue
        rest = _ROW_REST.match(lines[i + 1])
        if rest is not None and _lab_across(fragment.group(1), rest.group(1)):
            joins.append(offset - 1)
    if not joins:
        return text
    chars = list(text)
    for at in joins:
        chars[at] = " "
    return "".join(chars)
