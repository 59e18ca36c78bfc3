"""OCR's slips in a lab report undone before anything is read, each keeping the text's length.

One reason to change: which character slips of a phone photo's or a fax's OCR are read back.
- Letters inside a number ("1O2", "4.l", "O.94", "l05", "6.4O"), and a space before a decimal
  point ("13 .2 g/dL"), read back as the number.
- Tesseract's "rn" for a narrow "m" inside a lab's name ("Sodiurn", "Hernoglobin"), which the
  matcher's folding of look-alike characters cannot undo: it changes the word's length. A word is
  rewritten only when it is no name the lexicon knows and the word with "m" for "rn" is a lab's
  name (or its first word); the freed character becomes a space after it.
"""

from __future__ import annotations

import functools
import re

from medupload.pipeline.vocabulary import fold, vocabulary

__all__ = ["repair_ocr_digits", "repair_ocr_names", "repair_ocr_units"]

# OCR reads 0 as O or o, 1 as l or I, 5 as S inside a number ("1O2", "4.l", "O.94", "1S.2"). A
# token is repaired only where no word could be meant: it starts with a digit (or is "O." / "l."
# before a digit, as in "O.94", or "l" before two digits, "l05"), holds nothing but digits,
# confusable letters and one decimal separator, and a confusable letter at its end follows the
# separator ("4.l"; "2l", "2.5l" stay litres, "S1", "O2", "I10" stay words). One character for
# one, so every offset stays.
_OCR_NUMBER = re.compile(
    # a lower-case "l" opens a number before two digits ("l05 H mg/dL"; "l4-l5", a spine level, stays)
    r"(?<![\w.,])(?:\d|[Ool](?=[.,]\d)|l(?=\d\d|\d[.,]\d))[\dOolIS]*(?:[.,][\dOolIS]+)?(?![\w])"
)
_SEPARATOR = re.compile(r"\d[.,]\d")
_OCR_DIGITS = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "S": "5"})


def _repaired(match: re.Match[str]) -> str:
    token = match.group()
    if token.isdigit() or not any(c.isdigit() for c in token):
        return token
    if not token[-1].isdigit() and token[-2] not in ".," and not _digit_at_end(match, token):
        return token  # "2l", "2.5l": litres
    return token.translate(_OCR_DIGITS)


# After a decimal number, a letter that is no unit ("6.4O", "2.4S"), or an "l" before the row's
# unit ("0,9l  mg/dL"), is a digit.
_UNIT_AFTER = re.compile(r"[ \t]+[^\s/]*/")


def _digit_at_end(match: re.Match[str], token: str) -> bool:
    if not _SEPARATOR.search(token):
        return False
    unit_after = _UNIT_AFTER.match(match.string, match.end()) is not None
    return token[-1] in "OS" or (token[-1] == "l" and unit_after)


# OCR's space before a number's decimal point ("13 .2 g/dL"): the space moves after the number.
_SPACED_DECIMAL = re.compile(r"(?<![\w.,])(\d{1,4}) \.(\d{1,3})(?![\w.,])")


def repair_ocr_digits(text: str) -> str:
    """``text`` with OCR's letters for digits inside numbers read back as digits, and a space
    before a decimal point moved after the number, same length."""
    if " ." in text:
        text = _SPACED_DECIMAL.sub(r"\1.\2 ", text)
    return _OCR_NUMBER.sub(_repaired, text)


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


def _name_repaired(match: re.Match[str]) -> str:
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
    return _RN_WORD.sub(_name_repaired, text)


# OCR's "1" for "l" and "0" for "o" inside a unit's word ("200-950 ce1ls/uL" in a reference
# column): a word of letters with such digits between letters is rewritten only when the
# letters make a word of a unit the vocabulary knows ("cells"); "HbA1c", "B12", "T4" stay.
_DIGIT_IN_WORD = re.compile(r"(?<![\w])[A-Za-z]+[01][A-Za-z01]*[A-Za-z](?=/)")  # "ce1ls", "Mi11ion"


@functools.cache
def _unit_words() -> frozenset[str]:
    """Every word of three or more letters in a unit's written form ("cells", "thousand")."""
    return frozenset(
        word for alias in vocabulary().units for word in re.findall(r"[a-zµ]{3,}", alias.lower())
    )


def _unit_word_repaired(match: re.Match[str]) -> str:
    word = match.group()
    candidate = word.replace("1", "l").replace("0", "o")
    return candidate if candidate.lower() in _unit_words() else word


def repair_ocr_units(text: str) -> str:
    """``text`` with OCR's digits for letters inside a unit's word read back, same length."""
    return _DIGIT_IN_WORD.sub(_unit_word_repaired, text)
