"""Lab values: the number (and unit) after a lab name, checked against the lab's units and
plausible range (converted to its canonical unit through pint, molar mass where needed, for that
check only). The value is kept as written, in its own unit ("Bilirubin 9 umol/L" stays 9 umol/L;
a bare number takes the canonical unit): staff and patients read the report's number.

Report layouts: the unit may sit in the reference-range column ("104 H   65-99 mg/dL"); a
cumulative table's header of dates makes one result per filled cell, dated by its column; a name
alone on its line takes the value line below (a portal pasted one cell per line); a differential
name whose value is a count (x10^9/L) is the absolute count. Limits (">=60"), goals, previous and
home readings are not results.

A parenthesised method or reference range right after the name is skipped ("eGFR (CKD-EPI
2021) 68" -> 68); a flag (H, L, *) is allowed before the number and after it; a range
("3.5-5.1") is never a value. "less than 0.5", "greater than 100" read as "<0.5", ">100".
A count written before its name ("16 segs, 6 bands", "75% segs", "15.7 for WBC") is the name's
value when the number opens a clause (line start, comma, colon, "with", "and"), so it cannot be
the previous name's value.

OCR's letters inside a number ("1O2", "4.l") are read back as digits before anything is read
(``lab_ocr``).

One reason to change (how a value is read next to one name, in prose or a row), ~550 lines, kept
one module because every rule here reads the same few characters after a name and they must agree
on what a value is: where a result sits in a report is ``lab_layouts`` and ``lab_columns``, unit
conversion ``lab_units``, and layouts read by their structure instead of by a name's neighbourhood
(HL7 v2, keyed blocks, coded and drug-screen tables) are ``lab_structured`` and its modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medupload.pipeline.lab_units import convert_to_canonical
from medupload.pipeline.vocabulary import LabDef, UnitDef, vocabulary

# What may sit between a name and its result: a method, unit or range in parentheses, a
# qualifier ("fasting", ", Total", ", high sensitivity"), "%" or "#" (a differential's column),
# dotted leaders ("BNP ........ 412"), separators and linking words, a date, a flag.
_BETWEEN = (
    r"(?:[ \t]*(?:\([^)\n]{0,40}\)|\[[^\]\n]{3,40}\]"  # "Potassium [3.5-5.1]: 5.2"
    r"|,?[ \t]*(?:fasting|random|total|serum|plasma|direct|calculated|calc|blood"
    # a dotted leader is taken whole, never re-split (re-splitting it was exponential on a miss)
    r"|urine|high[ -]sensitivity|hs)\b|[%#](?=[ \t])|\.{2,}(?!\.)|_{2,}(?!_)"
    # a performing-lab code ("Free T4  01  1.02"; a result never has a leading zero), a footnote
    # mark ("[3]"), an assay generation ("TSH 3rd gen")
    r"|0\d{1,2}(?=[ \t])|\[\d{1,2}\]|\d(?:st|nd|rd|th)[ \t]+gen(?:eration)?\b))*[ \t]*"
    # "estimation": a UK GP system's term ("Haemoglobin estimation 124 g/L")
    r"(?:(?:[:=|,\t]|-(?!\d)|level|levels|lvl|estimation|result|value|was|were|is|of|now|today|measured|at"
    r"|to)[ \t]*)*"
    r"(?:(?:19|20)\d\d-\d\d?-\d\d?[ \t:|]+|\d\d?/\d\d?/\d{2,4}[ \t:|]+)?"
    r"(?:(?:\b[HL]\b|\*|\+(?=[ \t]))[ \t]*)?"  # "Kreatinin  +  1,12": a flag printed before the value
)
# Thousands in groups ("1,240,000"), or split by a space after the comma ("15, 000": a clause's
# next number never starts with 0).
_MANY_THOUSANDS = r"\d{1,3}(?:,\d{3}){2,}(?!\d)|\d{1,3},[ ]0\d\d(?![\d.])"
# After a number, an ordinal or a decade ("3rd", "the 130s"): not a result.
_NOT_A_VALUE_AFTER = (
    r"(?:st|nd|rd|th|(?<=0)s)\b"  # "12.5s" stays 12.5 seconds
    # a day of a written date ("Haemoglobin estimation   3 June 2024   128 g/L": an older result)
    r"|[ \t]+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?[ \t]+(?:19|20)\d\d\b"
)
LAB_VALUE_RE = re.compile(
    r"^" + _BETWEEN + r"(?P<cmp>[<>≤≥]=?[ \t]*|(?:less|lower|fewer|greater|more|higher)[ \t]+than[ \t]+"
    r"|(?:over|above)[ \t]+(?=\d+(?:,\d{3})*(?:\.\d+)?[ \t]*(?:[.;,)]|and\b|$)))?"  # "lipase over 3000."
    r"(?P<num>-?" + _MANY_THOUSANDS + r"|-?\d+(?:[.,]\d+)?)"
    # "4+": a dipstick grade; "11/20": a date, "2/week" a rate, but "11,200/uL": a volume glued on
    r"(?![\d+]|/(?!(?:[uµμ]l|mm3|mm³|cu\.?mm|d?l|ml)(?![A-Za-z]))|[ \t]*-[ \t]*\d|[.,]\d|"
    + _NOT_A_VALUE_AFTER
    + ")",
    re.IGNORECASE,
)
# A count per field (urine microscopy) is written as a range: "WBC 25-50 /HPF", "5 to 10 WBCs".
RANGE_VALUE_RE = re.compile(
    r"^" + _BETWEEN + r"(?P<cmp>(?:greater|more)[ \t]+than[ \t]+|>[ \t]*)?"
    r"(?P<num>\d+)(?:[ \t]*(?:-|to)[ \t]*(?P<high>\d+))?(?![\d/.])",
    re.IGNORECASE,
)
BEFORE_RANGE_RE = re.compile(
    r"(?:^|(?<=[\s,;:(]))(?P<cmp>(?:greater|more)[ \t]+than[ \t]+|>[ \t]*)?"
    r"(?P<num>\d+)(?:[ \t]*(?:-|to)[ \t]*(?P<high>\d+))?[ \t]*$",
    re.IGNORECASE,
)
PER_FIELD = "/[HPF]"
# Counts per microscope field: high-power (cells) or low-power (casts).
PER_FIELDS = frozenset({PER_FIELD, "/[LPF]"})
# Values that spanned a range, told in prose ("INR's of 2.0-2.2", "sodium ranging from 128 to
# 131"); a range right after the name, in a table, is a reference range and never matches here.
SPREAD_RE = re.compile(
    r"^(?:'s|s)?[ \t]+(?:(?:were|was|have[ \t]+been|has[ \t]+been)[ \t]+)?"
    r"(?:of|between|ranging[ \t]+from|in[ \t]+the[ \t]+range[ \t]+of)[ \t]+"
    r"(?P<num>\d+(?:\.\d+)?)[ \t]*(?:-|to|and)[ \t]*(?P<high>\d+(?:\.\d+)?)(?![\d/]|\.\d)",
    re.IGNORECASE,
)
# A titre ("ANA was positive at 1:640"): the dilution is the result.
TITRE = "titer"
TITRE_RE = re.compile(r"[^.\n]{0,50}?(?<![\d:])(?P<titre>1[ \t]*:[ \t]*\d{1,6})(?![\d:])")
# A result in words, right after the name (a dipstick, a serology): "Nitrite   Positive", "Sugar-Nil".
QUALITATIVE_RE = re.compile(
    # a count of sets ("Blood cultures x 2 ..... No growth") may sit before the word
    r"^(?:[ \t]*(?:[:=|-]|\.{2,}(?!\.)|\([^)\n]{0,40}\)|x[ \t]*\d\b))*[ \t]*"
    r"(?P<word>not[ \t]+detected|nil|non[ -]?reactive|negative|positive|trace|small|moderate|large|detected"
    r"|reactive|equivocal|indeterminate|borderline|(?:no|mixed)[ \t]+growth|[1-4]\+"
    r"|none[ \t]+seen|not[ \t]+seen|present|absent"  # urine microscopy (yeast, clumps)
    r"|negatif|eser"  # Turkish: negative, trace
    # a form's shorthand: "Nitrites: Neg", "Glucose: ++" (plus signs after a colon, never "K+")
    r"|neg|pos|(?:(?<=[:=])|(?<=[:=][ \t]))\+{1,4})(?![A-Za-z+])",
    re.IGNORECASE,
)

_COLUMN_GAP = re.compile(r"[^\n]*?(?:[ ]{2,}|\t|\.{2,})")
# A count before its name, opening a clause: "with 16 segs", ", 75% segs", ": 15.7 for WBC".
BEFORE_VALUE_RE = re.compile(
    r"(?:^|[,;:(]|\bwith|\band|\bshowed|\bshows|\brevealed)[ \t]*"
    r"(?P<cmp>(?:less|lower|fewer|greater|more|higher)[ \t]+than[ \t]+)?"
    r"(?P<num>\d+(?:\.\d+)?)[ \t]*(?P<unit>%)?[ \t]*(?:for[ \t]+)?$",
    re.IGNORECASE | re.MULTILINE,  # a line's start is "^" too: the search starts at a line's start
)


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class LabReading:
    value: str | None = None
    unit: str | None = None
    end: int | None = None  # where the reading ends (extends the fact's span)
    trusted: bool = True


# A value a few words after the name, after a linking word: "potassium on a heel stick was 6.3",
# "creatinine has gone up from 2.1", "white count of 9.6".
_DATE_WORD = (
    r"\d{1,2}/\d{1,2}/\d{2,4}|(?:19|20)\d\d"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?[ \t]+\d{1,2},?(?:[ \t]+\d{4})?"
)
# A value in brackets after its date: "PSA from 7/2008 (4.2) to 4/2009 (10.5)".
_DATED_OPEN = r"(?:\d{1,2}/(?:\d{1,2}/)?(?:19|20)\d\d[ \t]*\([ \t]*)?"
_CLOCK_TIME = r"\d{1,2}:?\d\d[ \t]*(?:hours|hrs|h|am|pm|a\.m\.|p\.m\.)(?![A-Za-z])"
GAP_VALUE_RE = re.compile(
    r"[ \t]*,?[ \t]*(?:(?:[A-Za-z][a-z-]*|" + _DATE_WORD + "|" + _CLOCK_TIME + r")[ \t]+){0,8}?"
    r"(?:was|were|is|are|of|at|to|be|reached|from|showed|shows|as)[ \t]+"
    r"(?:(?:of|about|approximately|around|only|like|roughly|nearly|almost|just|in[ \t]+the"
    r"|currently|presently|still|now)[ \t]+)*"
    + _DATED_OPEN
    + r"(?P<cmp>[<>≤≥]=?[ \t]*|(?:less|lower|fewer|greater|more|higher)[ \t]+than[ \t]+)?"
    r"(?P<num>" + _MANY_THOUSANDS + r"|\d+(?:[.,]\d+)?)"
    r"(?![\d/:]|[ \t]*-[ \t]*\d|[.,]\d|[ \t]*(?:hours|hrs)\b|" + _NOT_A_VALUE_AFTER + ")",
    re.IGNORECASE,
)
# An approximate value told as a level or a range: "H and H was down in the 6 level", "creatinine in
# the 2 range" (a single number: "INR in the 2-3 range" is a target, "in the 140s" no value).
IN_THE_RANGE_RE = re.compile(
    r"[ \t]*(?:(?:was|were|is|are|has|have|been|down|up|running|remained|stayed|stable)[ \t]+){0,3}"
    r"in[ \t]+(?:the[ \t]+)?(?P<num>\d+(?:\.\d+)?)[ \t]+(?:range|level|area)\b",  # "glucose in 30 range"
    re.IGNORECASE,
)
# Words between a name and a number that make the number a limit, a goal or an old value
# ("LDL goal of <70", "Hgb previously reported as 6.9", "creatinine at baseline of 0.9").
NOT_THIS_RESULT = re.compile(
    r"\b(?:goal|target|aim|previous(?:ly)?|prior|baseline|superseded|reference|cut-?off|threshold)\b",
    re.IGNORECASE,
)
# The lab named in the sentence before, as a pronoun: "The PSA has been rising. This month it
# reached 1.2."
PRONOUN_VALUE_RE = re.compile(
    r"[^.\n]{0,40}?\bit[ \t]+(?:has[ \t]+|had[ \t]+|was[ \t]+)?(?:now[ \t]+)?"
    r"(?:reached|was|is|came[ \t]+(?:down|back)[ \t]+(?:to|at)|went[ \t]+(?:up|down)[ \t]+to"
    r"|(?:rose|fell|increased|decreased|dropped|peaked)[ \t]+(?:to|at))[ \t]+"
    r"(?:(?:about|approximately|around|only)[ \t]+)?"
    r"(?P<cmp>[<>]=?[ \t]*|(?:less|greater|more)[ \t]+than[ \t]+)?"
    r"(?P<num>\d+(?:\.\d+)?)(?![\d/]|\.\d)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[^.\n]*\.[ \t]+")
_DIGIT = re.compile(r"\d")
# Two values for two names: "BUN and creatinine were 109 and 6.9", "H&H 12.0 and 36".
PAIR_VALUES_RE = re.compile(
    r"[ \t]*(?:[A-Za-z][a-z-]*[ \t]+){0,4}?(?:(?:were|are|was|is|of|at)[ \t]+)*(?:of[ \t]+)?"
    r"(?P<a>\d+(?:\.\d+)?)[ \t]*(?:and|&|/|,)[ \t]*(?P<b>\d+(?:\.\d+)?)(?![\d/]|\.\d)",
    re.IGNORECASE,
)
# A second value after the first: "has gone up from 5.4 to 6.1", and a series of them:
# "elevated at 20,800, subsequently increased to 24.7 and then decreased to 16.6".
THEN_VALUE_RE = re.compile(
    # the first value's date may sit before "to": "from 14.1 on 6/8 to 12.9 on 7/19"
    r"(?:(?:[ \t]+on[ \t]+\d{1,2}/\d{1,4}(?:/\d{2,4})?)?"
    r"(?:[ \t]*,?[ \t]*(?:and[ \t]+)?(?:(?:then|subsequently|later|eventually|further)[ \t]+)*"
    r"(?:(?:has[ \t]+|had[ \t]+|was[ \t]+)?(?:increased|decreased|rose|risen|fell|fallen|dropped|climbed"
    r"|peaked|improved|normalized|trended[ \t]+(?:up|down)|went[ \t]+(?:up|down)|came[ \t]+down))?)?"
    r"[ \t]*\)?[ \t]+to[ \t]+" + _DATED_OPEN + r"(?P<num>\d+(?:\.\d+)?)(?![\d/]|\.\d)"
    # two results of one test that end the clause: "troponin I 0.085 and 0.074."
    r"|[ \t]+and[ \t]+(?P<again>\d+(?:\.\d+)?)(?=[ \t]*(?:[.;,)]|$))"
    # a series told with "then": "CK was 261, then 315, and then 529"; "troponin was 0.01 followed
    # by 0.04"; the value it moved from: "Sodium 149; this is down from 151", "creatinine 1.5 up from 1.2"
    r"|[ \t]*(?:,[ \t]*(?:and[ \t]+)?then|,?[ \t]*followed[ \t]+by"
    r"|[;,]?[ \t]*(?:(?:this|which|it)[ \t]+(?:is|was|has[ \t]+come)[ \t]+)?(?:up|down)[ \t]+from)"
    r"[ \t]+(?P<next>\d+(?:\.\d+)?)"
    r"(?![\d/]|\.\d|[ \t]*(?:-|to\b|days?\b|weeks?\b|months?\b|years?\b|hours?\b|times\b|mg\b)))",
    re.IGNORECASE | re.MULTILINE,
)
# A row of results each dated in brackets or with "on": "Creatinine 1.4 (12/11/2026), 1.9 (14/11/2026)".
# The next value is taken only when a date follows it too, so a list of other tests is not read.
_ROW_DATE = r"(?:\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?|(?:19|20)\d\d-\d\d-\d\d)"
_ITS_DATE = r"[ \t]*(?:\([ \t]*(?:on[ \t]+)?" + _ROW_DATE + r"[ \t]*\)|on[ \t]+" + _ROW_DATE + r"(?![\d/.-]))"
DATED_NEXT_RE = re.compile(
    _ITS_DATE
    + r"[ \t]*[,;][ \t]*(?:and[ \t]+)?(?P<num>\d+(?:[.,]\d+)?)(?![\d/]|[.,]\d)(?=[ \t]*[A-Za-z/%]*"
    + _ITS_DATE
    + ")"
)
_THOUSANDS = re.compile(r"\d{1,3}(?:,[ ]?\d{3})+")
_DOSE_UNIT = re.compile(
    r"[ \t]*(?:mg|mcg|µg|units?|iu|meq|tabs?|tablets?|caps?|capsules?|puffs?|drops?)\b(?![ \t]*/)",
    re.IGNORECASE,
)
# A route or a frequency right after a bare number makes it a dose ("Folic acid 2 by mouth daily").
_DOSE_WORDS = re.compile(
    r"[ \t]*(?:by[ \t]+mouth|p\.?o\.?(?![A-Za-z\d])|orally|daily|nightly|every[ \t]+(?:day|morning|night)"
    r"|once|twice|[bt]\.?i\.?d\.?(?![A-Za-z])|q\.?i\.?d\.?(?![A-Za-z])|q\.?d\.?(?![A-Za-z])|at[ \t]+bedtime)",
    re.IGNORECASE,
)
# A unit cut short in dictation ("creatinine 0.6 mg", "CO2 30 mEq", "bilirubin was 25.4 mg"): the
# numerator of one of the lab's units, ending its clause, where the number is told as a result (after
# "was", "is", "of") or sits in a list of results ("BUN 11 mg/dL, creatinine 0.6 mg, ...").
_CLAUSE_END = re.compile(r"[ \t]*(?:[,;)]|\.(?!\d)|and\b|\n|$)", re.IGNORECASE)
_TOLD_AS_RESULT = re.compile(r"\b(?:was|were|is|are|of)\b", re.IGNORECASE)
_RESULT_BEFORE = re.compile(
    r"\d[ \t]*(?:(?:[A-Za-z]*/[A-Za-z\d.]+|%)[ \t]*)?,[ \t]*(?:and[ \t]+)?(?:[A-Za-z][\w-]*[ \t]*){1,4}$"
)
_RESULT_AFTER = re.compile(
    r"[ \t]*[,;][ \t]*(?:and[ \t]+)?(?:[A-Za-z][\w/-]*[ \t]+){1,3}"
    r"(?:(?:was|is|of|(?:greater|less)[ \t]+than)[ \t]+)?\d+(?:\.\d+)?",
    re.IGNORECASE,
)


def _cut_unit(text: str, start: int, num_start: int, dose: re.Match[str], lab: LabDef) -> UnitDef | None:
    """The lab's unit a dose-like unit after a result stands for, when cut short; else None."""
    units = vocabulary().units
    word = dose.group().strip().lower()
    raw = next(
        (u for alias, u in units.items() if alias.startswith(word + "/") and u.display in lab.units), None
    )
    if raw is None or not _CLAUSE_END.match(text, dose.end()):
        return None
    told = _TOLD_AS_RESULT.search(text, start, num_start) is not None
    after = _RESULT_AFTER.match(text, dose.end())
    listed = _RESULT_BEFORE.search(text, max(0, start - 60), start) is not None or (
        after is not None and not _DOSE_UNIT.match(text, after.end())  # not "..., Lasix 40 mg"
    )
    return raw if told or listed else None


# A unit of a body measurement or a vital sign right after a number: no lab's result.
_BODY_UNIT = re.compile(r"[ \t]*(?:kg|lbs?|cm|mm[ \t]*Hg|bpm|°[CF]|m2|m²)(?![\w/])", re.IGNORECASE)
# A flag glued to the value or starred ("168H", "168*H*", "87 (H)*"), before the unit's column.
_GLUED_FLAG = re.compile(
    r"(?:HH|LL|H|L)\*?(?=[ \t])|[ \t]*(?:\*(?:HH|LL|H|L|A)?\*?|\((?:HH|LL|H|L|A)\)\*?)(?=[ \t])"
)
_PER_MICROLITRE = "10*3/uL"  # counts written per microlitre ("12,000") are shown in thousands
_PER_CELL = "cells/uL"
_DOTTED_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+")


def read_lab(text: str, start: int, stop: int, lab: LabDef) -> LabReading:
    """The value right after a lab name (``text[start:stop]``), else a few words on, else (a
    test with one) a result in words, else a pronoun's value in the next sentence."""
    window = text[start:stop]
    if lab.unit == TITRE:
        worded = QUALITATIVE_RE.match(window)  # "RPR  Reactive 1:4": the word, then the titre after it
        if worded is not None:
            return LabReading(" ".join(worded["word"].lower().split()), None, start + worded.end())
        titre = TITRE_RE.match(window)
        if titre is not None:
            return LabReading(titre["titre"], None, start + titre.end())
    if lab.unit in PER_FIELDS:
        match = RANGE_VALUE_RE.match(window)
        if match is not None:
            return _per_field(text, match, start, stop, lab)
    spread = SPREAD_RE.match(window)
    if spread is not None and lab.unit not in PER_FIELDS:  # "INR's of 2.0-2.2": both ends, each plausible
        low, high = (
            reading(text, start, stop, spread[g], "", start + spread.end(g), lab) for g in ("num", "high")
        )
        if low.value is not None and high.value is not None and low.trusted and high.trusted:
            return LabReading(f"{low.value}-{high.value}", lab.unit, start + spread.end())
    match = LAB_VALUE_RE.match(window)
    if match is None:
        match = GAP_VALUE_RE.match(window)
        if match is not None and NOT_THIS_RESULT.search(window, 0, match.start("num")):
            return LabReading()
    if match is None and (approximate := IN_THE_RANGE_RE.match(window)) is not None:
        return reading(text, start, stop, approximate["num"], "", start + approximate.end("num"), lab)
    if match is None and lab.qualitative:
        words = QUALITATIVE_RE.match(window)
        # a culture's result is its growth: "culture negative" in a note is a comment, not a result
        # (read from a report's result column, past a gap or a leader, never from prose)
        if words is not None and (
            not lab.concept.endswith("culture")
            or ("growth" in words["word"].lower() and _COLUMN_GAP.match(window) is not None)
        ):
            return LabReading(" ".join(words["word"].lower().split()), None, start + words.end())
    if match is None:
        # No number in the rest of its sentence: the next sentence may give it as "it".
        sentence = _SENTENCE_END.match(text, start)
        if sentence is not None and sentence.end() - start < 120 and not _DIGIT.search(sentence[0]):
            pronoun = PRONOUN_VALUE_RE.match(text, sentence.end(), sentence.end() + 120)
            if pronoun is not None:
                found = reading(
                    text,
                    sentence.end(),
                    pronoun.end(),
                    pronoun["num"],
                    _comparator(pronoun["cmp"]),
                    pronoun.end("num"),
                    lab,
                )
                return LabReading(found.value, found.unit, None, found.trusted)
    if match is None:
        return LabReading()
    return reading(text, start, stop, match["num"], _comparator(match["cmp"]), start + match.end(), lab)


def read_next_sentence(text: str, end: int, lab: LabDef) -> LabReading:
    """A later value of the same lab told as "it" in the next sentence, after a value ended at
    ``end`` ("Creatinine of 1.4. During the hospitalization it was decreased to 0.8")."""
    sentence = _SENTENCE_END.match(text, end)
    if sentence is None or sentence.end() - end > 40 or _DIGIT.search(sentence[0]):
        return LabReading()
    pronoun = PRONOUN_VALUE_RE.match(text, sentence.end(), sentence.end() + 120)
    if pronoun is None:
        return LabReading()
    start, cmp = sentence.end(), _comparator(pronoun["cmp"])
    found = reading(text, start, pronoun.end(), pronoun["num"], cmp, pronoun.end("num"), lab)
    return LabReading(found.value, found.unit, None, found.trusted)


def _per_field(text: str, match: re.Match[str], offset: int, stop: int, lab: LabDef) -> LabReading:
    """A count per microscope field: a number or a range, and the lab's unit."""
    low, high = int(match["num"]), int(match["high"]) if match["high"] else None
    end = offset + match.end()
    unit = vocabulary().unit_re.match(text, end, stop)
    if unit is not None and vocabulary().units[unit["unit"].lower()].display == lab.unit:
        end = unit.end()
    if (lab.high is not None and max(low, high or low) > lab.high) or (high is not None and high < low):
        return LabReading(None, None, end, trusted=False)
    value = f"{low}-{high}" if high is not None else _comparator(match["cmp"]) + str(low)
    return LabReading(value, lab.unit, end)


def _comparator(words: str | None) -> str:
    """ "<", ">", "<=", ... from a sign or from "less than", "greater than"."""
    cleaned = (words or "").strip().lower()
    if cleaned.endswith("than"):
        return "<" if cleaned.split()[0] in {"less", "lower", "fewer"} else ">"
    if cleaned in {"over", "above"}:
        return ">"
    return cleaned


def read_lab_before(text: str, line_start: int, name_start: int, lab: LabDef) -> LabReading:
    """A count written before the name ("16 segs", "15.7 for WBC", "5-9 RBCs"), else nothing.
    The reading has no end: the fact's span stays the name."""
    if lab.unit in PER_FIELDS:
        ranged = BEFORE_RANGE_RE.search(text, line_start, name_start)
        if ranged is None:
            return LabReading()
        found = _per_field(text, ranged, 0, name_start, lab)
        return LabReading(found.value, found.unit, None, found.trusted)
    match = BEFORE_VALUE_RE.search(text, line_start, name_start)
    if match is None:
        return LabReading()
    found = reading(
        text, match.start("num"), name_start, match["num"], _comparator(match["cmp"]), match.end("num"), lab
    )
    return LabReading(found.value, found.unit, None, found.trusted)


# "At least" / "at most" is how a threshold, a target or a reference limit is written, never a
# measured result ("<0.01", ">90" are results; ">=60", "≤7" are limits).
_COUNT_UNITS = frozenset({"10*3/uL", "10*6/uL", "cells/uL"})
_THRESHOLD = frozenset({">=", "<=", "≥", "≤", "≥=", "≤="})


def reading(
    text: str, start: int, stop: int, num: str, comparator: str, num_end: int, lab: LabDef
) -> LabReading:
    """``num`` (ending at ``num_end``) as a value of ``lab``: its unit read after it, checked
    against the lab's units and plausible range, converted to the canonical unit."""
    if comparator in _THRESHOLD:
        return LabReading(None, None, num_end)  # "HbA1c >=48 mmol/mol is consistent with diabetes"
    if num.startswith("-") and (lab.low is None or lab.low >= 0):
        num = num[1:]  # "Potassium -5.1": a dash, not a sign, for a test that is never negative
    thousands = bool(_THOUSANDS.fullmatch(num))
    number = float(num.replace(",", "").replace(" ", "")) if thousands else float(num.replace(",", "."))
    end = num_end
    # The unit may run past the next name it holds ("50 mg/g creat"), never past the line.
    line_end = text.find("\n", num_end)
    unit_stop = max(stop, len(text) if line_end == -1 else line_end)
    unit_match = vocabulary().unit_re.match(text, num_end, unit_stop)
    if unit_match is None and (flag := _GLUED_FLAG.match(text, num_end, unit_stop)) is not None:
        unit_match = vocabulary().unit_re.match(text, flag.end(), unit_stop)  # "168*H*   umol/L"
    raw = vocabulary().units[unit_match["unit"].lower()] if unit_match else None
    if unit_match and unit_match["unit"] == "G/L" and lab.unit in _COUNT_UNITS:
        raw = vocabulary().units["10^9/l"]  # French "G/L" is giga per litre for a count, not grams
    if unit_match:
        end = unit_match.end()
    elif (dose := _DOSE_UNIT.match(text, num_end, stop)) is not None:
        raw = _cut_unit(text, start, num_end - len(num), dose, lab)
        if raw is None:
            return LabReading(None, None, end, trusted=False)  # "Iron 325 mg daily": a dose, not a result
        end = dose.end()
    elif _DOSE_WORDS.match(text, num_end, stop):
        return LabReading(None, None, end, trusted=False)  # "Folic acid 2 by mouth": a dose
    elif _BODY_UNIT.match(text, num_end, unit_stop):
        return LabReading(None, None, end, trusted=False)  # "(C1: 66.0 kg": a weight, not a result
    else:
        raw = reference_unit(text, num_end, lab)  # "104 H   65-99 mg/dL": the unit sits in the range
    if lab.unit is None and lab.low is None and lab.qualitative:
        return LabReading(None, None, end, trusted=False)  # a result in words only ("Blood  Moderate")
    if lab.unit is None:  # unitless (INR) or a panel
        if raw is not None:
            return LabReading(None, None, end, trusted=False)
        plausible = lab.low is None or (lab.low <= number <= (lab.high or number))
        return LabReading(comparator + num if plausible else None, None, end, plausible)
    if raw is None:
        converted: float | None = number  # a bare number in a lab line: assume the canonical unit
        if lab.unit == _PER_MICROLITRE and lab.high is not None and number > lab.high:
            converted = number / 1000
        elif not _LETTER.search(text, start, num_end - len(num)) and (implied := _implied_unit(number, lab)):
            raw = implied  # "Creat 112, Hb 124": a UK letter's SI units, left unwritten
            converted = convert_to_canonical(number, raw, lab)
    elif raw.display in lab.units or (raw.display in _COUNT_UNITS and lab.unit in _COUNT_UNITS):
        if raw.display == _PER_CELL and _DOTTED_THOUSANDS.fullmatch(num):
            number = float(num.replace(".", ""))  # "245.000 /mm³": a dot between thousands (pt, es, de)
        converted = convert_to_canonical(number, raw, lab)  # a count per microlitre in any form
    else:
        return LabReading(None, None, end, trusted=False)
    if converted is None:
        return LabReading(None, None, end, trusted=False)
    if lab.low is not None and lab.high is not None and not lab.low <= converted <= lab.high:
        return LabReading(None, None, end, trusted=False)
    if raw is not None and raw.display != lab.unit:
        # The value as written in its own unit ("Bilirubin 9 umol/L" stays 9 umol/L): what staff and
        # patients see is the report's number; the conversion only checked that it is plausible.
        shown = _fmt(number) if thousands else num.replace(",", ".")
        return LabReading(comparator + shown, raw.display, end)
    plain = converted == number and not thousands
    shown = num.replace(",", ".") if plain else _fmt(converted)
    return LabReading(comparator + shown, lab.unit, end, trusted=not (raw is None and lab.unit_required))


_LETTER = re.compile(r"[A-Za-z]")


def _implied_unit(number: float, lab: LabDef) -> UnitDef | None:
    """The first of the lab's other units a bare number is plausible in, when it is not plausible
    in the canonical one (a letter from a country that reports in SI units: creatinine 112 is
    umol/L, haemoglobin 124 g/L, glucose 6.1 mmol/L); None when it is plausible, or in none. Read
    only right after the name ("Creat 112"), never after words ("intake ... about 25", "from 5.4")."""
    if lab.low is None or lab.high is None or lab.low <= number <= lab.high or lab.unit in _COUNT_UNITS:
        return None
    units = vocabulary().units
    for display in lab.units:
        if display == lab.unit:
            continue
        unit = next((u for u in units.values() if u.display == display), None)
        converted = convert_to_canonical(number, unit, lab) if unit is not None else None
        if converted is not None and lab.low <= converted <= lab.high:
            return unit
    return None


# A reference range after the value, in its own column, that carries the row's unit (US reference
# labs, cumulative tables: "GLUCOSE   104 H   65-99 mg/dL", "3.1 (L)  ...  3.5 - 5.1 mmol/L"). Only
# the rest of the row is read, past cells of values and flags.
_REFERENCE_UNIT = re.compile(
    # a flag in brackets or stars, glued to the value or not ("168*H*", "87 (H)", "5.9H*")
    r"(?:[ \t]*(?:\*?\(?(?:HH|LL|H|L|A|C|High|Low|Abnormal|Abn)\)?\*?(?![A-Za-z])|\*+|[<>]?\d+(?:\.\d+)?)"
    r"(?![^ \t\n]))*"
    r"(?:[ \t]{2,}|\t)[ \t]*[\[(]?[ \t]*(?:(?:[<>]=?|[≤≥])[ \t]*|[<>][ \t]*or[ \t]*=[ \t]*)?"
    r"\d+(?:\.\d+)?(?:[ \t]*-[ \t]*\d+(?:\.\d+)?)?[ \t]*[\])]?[ \t]*",
    re.IGNORECASE,
)


def reference_unit(text: str, end: int, lab: LabDef) -> UnitDef | None:
    """The unit of a reference range later on the value's row, if it is one of the lab's units."""
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    reference = _REFERENCE_UNIT.match(text, end, line_end)
    if reference is None:
        return None
    unit = vocabulary().unit_re.match(text, reference.end(), line_end)
    raw = vocabulary().units[unit["unit"].lower()] if unit else None
    return raw if raw is not None and raw.display in lab.units else None


# A drug's level ("Dilantin level 12", "doxycycline level ... was 6.5 mcg/mL", "Vancomycin, Trough"): a
# lab of its own.
DRUG_LEVEL_RE = re.compile(
    r"[ \t]*,?[ \t]+(?:serum[ \t]+|blood[ \t]+)?(?:levels?|lvl|trough|peak)\b"
    # a report row named by drug and specimen ("Lithium, Serum     0.72   mmol/L")
    r"|[ \t]*,[ \t]*(?:serum|plasma|whole[ \t]+blood)(?=[ \t]+[<>]?\d)",
    re.IGNORECASE,
)


# Drugs measured by therapeutic drug monitoring, with a plausible level range that lies apart from
# their doses: a bare number after one, ending its clause, is its level ("Digoxin was 1.3.",
# "..., BUN 36, digoxin 0.6, white count 5.8"), never a dose (digoxin 0.125-0.25 mg, lithium
# 300 mg, phenytoin 100 mg, vancomycin 1 g). Drugs whose doses and levels overlap (tacrolimus,
# cyclosporine) are left out.
MONITORED_LEVELS: dict[str, tuple[float, float]] = {
    "digoxin": (0.3, 5),
    "lithium": (0.1, 5),
    "phenytoin": (1, 50),
    "carbamazepine": (1, 30),
    "vancomycin": (2, 100),
    "gentamicin": (0.1, 30),
    "theophylline": (2, 50),
}
# Drugs whose doses and levels overlap: a bare number is their level only as an item of a list of
# results ("LDL 158, and cyclosporine 163."), never in a list of drugs ("prednisone 5, tacrolimus 2").
LISTED_LEVELS: dict[str, tuple[float, float]] = {
    "cyclosporine": (25, 2000),
    "tacrolimus": (1, 40),
    "sirolimus": (1, 40),
    "everolimus": (1, 40),
}
LIST_ITEM_GLUE = re.compile(r"[ \t]*,?[ \t]*(?:and[ \t]+)?")
_BARE_LEVEL = re.compile(
    r"[ \t]+(?:(?:was|is|of)[ \t]+)?(?P<num>\d+(?:\.\d+)?)(?=[ \t]*(?:[.;,)]|and\b|\n|$))", re.IGNORECASE
)


def read_bare_level(text: str, end: int, drug: str, listed: bool = False) -> LabReading:
    """A monitored drug's level written as a bare number after its name, else nothing; ``listed``:
    the name follows a lab result in a list."""
    bounds = MONITORED_LEVELS.get(drug) or (LISTED_LEVELS.get(drug) if listed else None)
    match = _BARE_LEVEL.match(text, end) if bounds else None
    if match is None or bounds is None or not bounds[0] <= float(match["num"]) <= bounds[1]:
        return LabReading()
    return LabReading(match["num"], None, match.end("num"))


def read_drug_level(text: str, start: int, stop: int) -> LabReading:
    """The value after a drug level's name: as written, with any known unit (no range is known)."""
    window = text[start:stop]
    match = LAB_VALUE_RE.match(window) or GAP_VALUE_RE.match(window)
    if match is None:
        return LabReading()
    end = start + match.end()
    unit = vocabulary().unit_re.match(text, end, stop)
    raw = vocabulary().units[unit["unit"].lower()] if unit else None
    value = _comparator(match["cmp"]) + match["num"]
    return LabReading(value, raw.display if raw else None, unit.end() if unit else end)
