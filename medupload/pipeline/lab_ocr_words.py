"""OCR's "rn" for "m" inside a lab's name, read back ("Sodiurn" -> "Sodium ", "Hernoglobin").

One reason to change: which letter slips of a phone photo's OCR are undone in a lab's name before
names are looked up. Tesseract reads a narrow "m" as "rn" (every "-ium" electrolyte, haemoglobin),
which the matcher's folding of look-alike characters cannot undo: it changes the word's length.
A word is rewritten only when it is no name the lexicon knows and the word with "m" for "rn" is a
lab's name (or its first word); the freed character becomes a space after it, so the text keeps
its length and every offset holds.
"""

from __future__ import annotations

import functools
import re

from medupload.pipeline.vocabulary import fold, vocabulary

__all__ = ["repair_ocr_names"]

_RN_WORD = re.compile(r"(?<![\w-])[A-Za-z]*(?:rn|RN)[A-Za-z]*(?![\w-])")


@functools.cache
def _lab_first_words() -> frozenset[str]:
    """The folded first word of every lab name in the lexicon."""
    vocab = vocabulary()
    return frozenset(
        tokens[0]
        for table in (vocab.lexicon.folded,)
        for tokens, hit in table.items()
        if vocab.concepts[hit.concepts[0]].kind == "lab"
    )


def _repaired(match: re.Match[str]) -> str:
    word = match.group()
    if (fold(word),) in vocabulary().lexicon.folded or fold(word) in vocabulary().lexicon.longest_folded:
        return word  # a word the lexicon knows as written ("Fern", a drug's name)
    candidate = word.replace("rn", "m").replace("RN", "M")
    if fold(candidate) not in _lab_first_words():
        return word
    return candidate + " " * (len(word) - len(candidate))


def repair_ocr_names(text: str) -> str:
    """``text`` with OCR's "rn" for "m" read back in lab names, same length."""
    if "rn" not in text and "RN" not in text:
        return text
    return _RN_WORD.sub(_repaired, text)
