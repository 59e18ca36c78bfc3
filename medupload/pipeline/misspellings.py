"""Condition names as dictation misspells them: "Plantar fascitis", "alcohol dependance",
"bronchospams", "pnemonia".

A word is read as a condition word it is one edit away from (a letter left out, added, changed,
or two neighbours swapped) only when a slip is the likely reading: the word is long (8 letters
or more), no vocabulary name uses it, it is not an English word (pyspellchecker's English
frequency list, words seen 100 times or more: "injection", "station" stay themselves), it starts
with the condition word's letter, and exactly one condition word is that near. The matcher then
keeps the reading only where it makes a condition name, never a drug or a lab.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from importlib import resources

from medupload.pipeline.vocabulary import fold, vocabulary

MIN_LENGTH = 8  # a shorter word has too many real neighbours
MIN_CONDITION_WORD = 7
MIN_STEM = 4
# A word made from a known one ("stenting" from "stent", "umbilicus" the plural-looking name the
# matcher already reads) is no slip.
_SUFFIXES = ("ing", "ings", "ed", "ly", "ally", "er", "ers", "es", "s")
# pyspellchecker's counts: a misspelling common enough to be counted ("dependance" 50) is
# still below this.
ENGLISH_MIN_COUNT = 100
# fold() maps "i" to "l": edits are made in the folded alphabet.
_ALPHABET = "abcdefghjklmnopqrstuvwxyz"
_VOWELS = frozenset("aeiouy")
# A vowel written for another: "i" is left out as the new letter because folded it is "l".
_FOLDED_VOWELS = "aeouy"


# One entry of pyspellchecker's {"word": count} file, for a word long enough to matter.
_ENTRY = re.compile(rf'"([a-z]{{{MIN_STEM},}})": (\d+)')


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """English words of MIN_STEM letters or more seen ENGLISH_MIN_COUNT times or more.
    (Scanned, not ``json.load``-ed: the whole 160,000-word dict would cost ~25 MB at its peak.)"""
    path = resources.files("spellchecker") / "resources" / "en.json.gz"
    with gzip.open(str(path), "rt", encoding="utf-8") as handle:
        raw = handle.read()
    return frozenset(m[1] for m in _ENTRY.finditer(raw) if int(m[2]) >= ENGLISH_MIN_COUNT)


@lru_cache(maxsize=2)
def _words(with_base: bool) -> tuple[frozenset[str], frozenset[str]]:
    """(every folded word of a vocabulary name, the long folded words of condition names)."""
    vocab = vocabulary(with_base)
    known: set[str] = set()
    condition: set[str] = set()
    for tokens, hit in vocab.lexicon.folded.items():
        known.update(tokens)
        if vocab.concepts[hit.concepts[0]].kind == "condition":
            condition.update(t for t in tokens if len(t) >= MIN_CONDITION_WORD and t.isalpha())
    return frozenset(known), frozenset(condition)


def _one_edit(word: str, folded: str) -> set[str]:
    """Folded words one slip from ``word`` (``folded`` its folded form): a letter left out or
    added, two neighbours swapped, or a vowel written for another ("diabetis", "dependance"; a
    changed consonant makes another word: "phonophobia" is not "photophobia")."""
    splits = [(folded[:k], folded[k:]) for k in range(len(folded) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b for a, b in splits for c in _ALPHABET}
    lower = word.lower()
    edits |= {
        folded[:k] + c + folded[k + 1 :]
        for k in range(len(folded))
        if lower[k] in _VOWELS
        for c in _FOLDED_VOWELS
    }
    return edits


# British spellings of condition words, read as the American ones the vocabulary (ICD-10-CM)
# uses: "haemorrhage", "oedema", "anaemia", "diarrhoea", "oesophagitis", "tumour",
# "leucocytosis", "sulphonamide". Applied together, and kept only where the result is a
# condition name's word: "aerobic" or "shoes" never become one.
MIN_BRITISH = 5
_BRITISH = (
    (re.compile(r"leuc(?=o|a)"), "leuk"),
    (re.compile(r"ae"), "e"),
    (re.compile(r"oe"), "e"),
    (re.compile(r"our(?=s?$)"), "or"),
    (re.compile(r"sulph"), "sulf"),
)


@lru_cache(maxsize=2)
def _condition_words(with_base: bool) -> frozenset[str]:
    """Every folded word (MIN_BRITISH letters or more) of a condition name."""
    vocab = vocabulary(with_base)
    return frozenset(
        t
        for tokens, hit in vocab.lexicon.folded.items()
        if vocab.concepts[hit.concepts[0]].kind == "condition"
        for t in tokens
        if len(t) >= MIN_BRITISH and t.isalpha()
    )


def american_spelling(text: str, with_base: bool = True) -> str | None:
    """The folded condition word a British spelling ``text`` stands for ("Haemorrhage" ->
    "hemorrhage", "tumours" -> "tumors"), else None."""
    if len(text) < MIN_BRITISH or not text.isalpha():
        return None
    lower = text.lower()
    american = lower
    for pattern, replacement in _BRITISH:
        american = pattern.sub(replacement, american)
    if american == lower or (fold(lower),) in vocabulary(with_base).lexicon.folded:
        return None  # a name as written ("haemorrhage" is a synonym already)
    folded = fold(american)
    words = _condition_words(with_base)
    if folded in words or (folded.endswith("s") and folded[:-1] in words):
        return folded
    return None


def correction(text: str, with_base: bool = True, *, after_word: bool = False) -> str | None:
    """The folded condition word a misspelt ``text`` stands for, else None. ``after_word``: the
    token follows a word or a comma, so a capital marks a name ("with Surgicel"), not a slip.
    A British spelling ("oedema") is read as the American word."""
    british = american_spelling(text, with_base)
    if british is not None:
        return british
    if len(text) < MIN_LENGTH or not text.isalpha():
        return None
    if after_word and text[0].isupper() and text[1:].islower():
        return None
    folded = fold(text)
    known, condition = _words(with_base)
    lower = text.lower()
    english = english_words()
    if folded in known or lower in english:
        return None
    for suffix in _SUFFIXES:
        stem = lower[: -len(suffix)]
        if lower.endswith(suffix) and len(stem) >= MIN_STEM and (stem in english or fold(stem) in known):
            return None
    near = {w for w in _one_edit(text, folded) if w in condition and w[0] == folded[0]}
    if len(near) > 1:  # "diabetis": "diabetes" (a name by itself) before "diabetic"
        folded_names = vocabulary(with_base).lexicon.folded
        near = {w for w in near if (w,) in folded_names}
    return near.pop() if len(near) == 1 else None
