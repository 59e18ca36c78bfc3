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
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from medupload.pipeline.vocabulary import LabDef, UnitDef, vocabulary

# What may sit between a name and its result: a method, unit or range in parentheses, a
# qualifier ("fasting", ", Total", ", high sensitivity"), "%" or "#" (a differential's column),
# dotted leaders ("BNP ........ 412"), separators and linking words, a date, a flag.
_BETWEEN = (
    r"(?:[ \t]*(?:\([^)\n]{0,40}\)|,?[ \t]*(?:fasting|random|total|serum|plasma|direct|calculated|calc|blood"
    # a dotted leader is taken whole, never re-split (re-splitting it was exponential on a miss)
    r"|urine|high[ -]sensitivity|hs)\b|[%#](?=[ \t])|\.{2,}(?!\.)|_{2,}(?!_)"
    # a performing-lab code ("Free T4  01  1.02"; a result never has a leading zero), a footnote
    # mark ("[3]"), an assay generation ("TSH 3rd gen")
    r"|0\d{1,2}(?=[ \t])|\[\d{1,2}\]|\d(?:st|nd|rd|th)[ \t]+gen(?:eration)?\b))*[ \t]*"
    r"(?:(?:[:=|,\t]|-(?!\d)|level|levels|result|value|was|were|is|of|now|today|measured|at|to)[ \t]*)*"
    r"(?:(?:19|20)\d\d-\d\d?-\d\d?[ \t:|]+|\d\d?/\d\d?/\d{2,4}[ \t:|]+)?"
    r"(?:(?:\b[HL]\b|\*)[ \t]*)?"
)
# Thousands in groups ("1,240,000"), or split by a space after the comma ("15, 000": a clause's
# next number never starts with 0).
_MANY_THOUSANDS = r"\d{1,3}(?:,\d{3}){2,}(?!\d)|\d{1,3},[ ]0\d\d(?![\d.])"
# After a number, an ordinal or a decade ("3rd", "the 130s"): not a result.
_NOT_A_VALUE_AFTER = r"(?:st|nd|rd|th|(?<=0)s)\b"  # "12.5s" stays 12.5 seconds
LAB_VALUE_RE = re.compile(
    r"^" + _BETWEEN + r"(?P<cmp>[<>≤≥]=?[ \t]*|(?:less|lower|fewer|greater|more|higher)[ \t]+than[ \t]+"
    r"|(?:over|above)[ \t]+(?=\d+(?:,\d{3})*(?:\.\d+)?[ \t]*(?:[.;,)]|and\b|$)))?"  # "lipase over 3000."
    r"(?P<num>-?" + _MANY_THOUSANDS + r"|-?\d+(?:[.,]\d+)?)"
    r"(?![\d/+]|[ \t]*-[ \t]*\d|[.,]\d|" + _NOT_A_VALUE_AFTER + ")",  # "4+": a dipstick grade
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
TITRE_RE = re.compile(r"[^.\n]{0,30}?(?<![\d:])(?P<titre>1[ \t]*:[ \t]*\d{1,6})(?![\d:])")
# A result in words, right after the name (a dipstick, a serology): "Nitrite   Positive".
QUALITATIVE_RE = re.compile(
    r"^(?:[ \t]*(?:[:=|]|\.{2,}(?!\.)|\([^)\n]{0,40}\)))*[ \t]*"
    r"(?P<word>not[ \t]+detected|non-?reactive|negative|positive|trace|small|moderate|large|detected|reactive"
    r"|[1-4]\+"
    r"|none[ \t]+seen|not[ \t]+seen|present|absent)(?![A-Za-z+])",  # urine microscopy (yeast, clumps)
    re.IGNORECASE,
)

# A count before its name, opening a clause: "with 16 segs", ", 75% segs", ": 15.7 for WBC".
BEFORE_VALUE_RE = re.compile(
    r"(?:^|[,;:(]|\bwith|\band|\bshowed|\bshows|\brevealed)[ \t]*"
    r"(?P<cmp>(?:less|lower|fewer|greater|more|higher)[ \t]+than[ \t]+)?"
    r"(?P<num>\d+(?:\.\d+)?)[ \t]*(?P<unit>%)?[ \t]*(?:for[ \t]+)?$",
    re.IGNORECASE | re.MULTILINE,  # a line's start is "^" too: the search starts at a line's start
)
_UREG: Any = None
_UREG_LOCK = threading.Lock()


def _ureg() -> Any:
    """pint's registry is slow to build, and only needed for an actual conversion."""
    global _UREG
    with _UREG_LOCK:
        if _UREG is None:
            import pint

            _UREG = pint.UnitRegistry()
    return _UREG


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


# Units that are not a scale of the canonical one: HbA1c in IFCC mmol/mol is NGSP % through the
# IFCC-NGSP master equation (NGSP = 0.09148 x IFCC + 2.152), never pint's 58 mmol/mol = 5.8 %.
_AFFINE: dict[tuple[str, str], tuple[float, float]] = {("mmol/mol", "%"): (0.09148, 2.152)}


def convert_to_canonical(value: float, raw: UnitDef, lab: LabDef) -> float | None:
    """``value`` in ``raw`` to the lab's canonical unit, through pint (molar mass if needed)."""
    if raw.display == lab.unit:
        return value * 1.0
    affine = _AFFINE.get((raw.display, lab.unit or ""))
    if affine is not None:
        return value * affine[0] + affine[1]
    canonical = next((u for u in vocabulary().units.values() if u.display == lab.unit), None)
    if canonical is None:
        return None
    ureg = _ureg()
    try:  # a unit pint cannot parse is not a conversion either
        quantity = ureg.Quantity(value * raw.scale, raw.pint)
        target = ureg.Quantity(canonical.scale, canonical.pint)
        if quantity.dimensionality != target.dimensionality and lab.molar_mass:
            molar = ureg.Quantity(lab.molar_mass, "g/mol")
            for candidate in (quantity * molar, quantity / molar):
                if candidate.dimensionality == target.dimensionality:
                    quantity = candidate
                    break
        return float((quantity / target).to("dimensionless").magnitude)
    except Exception:  # pint raises several error types for incompatible units
        return None


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
GAP_VALUE_RE = re.compile(
    r"[ \t]*,?[ \t]*(?:(?:[A-Za-z][a-z-]*|" + _DATE_WORD + r")[ \t]+){0,8}?"
    r"(?:was|were|is|are|of|at|to|be|reached|from|showed|shows|as)[ \t]+"
    r"(?:(?:of|about|approximately|around|only|like|roughly|nearly|almost|just|in[ \t]+the)[ \t]+)*"
    + _DATED_OPEN
    + r"(?P<cmp>[<>≤≥]=?[ \t]*|(?:less|lower|fewer|greater|more|higher)[ \t]+than[ \t]+)?"
    r"(?P<num>" + _MANY_THOUSANDS + r"|\d+(?:[.,]\d+)?)"
    r"(?![\d/]|[ \t]*-[ \t]*\d|[.,]\d|" + _NOT_A_VALUE_AFTER + ")",
    re.IGNORECASE,
)
# An approximate value told as a level or a range: "H and H was down in the 6 level", "creatinine in
# the 2 range" (a single number: "INR in the 2-3 range" is a target, "in the 140s" no value).
IN_THE_RANGE_RE = re.compile(
    r"[ \t]*(?:(?:was|were|is|are|has|have|been|down|up|running|remained|stayed|stable)[ \t]+){0,3}"
    r"in[ \t]+the[ \t]+(?P<num>\d+(?:\.\d+)?)[ \t]+(?:range|level|area)\b",
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
    r"(?:(?:[ \t]*,?[ \t]*(?:and[ \t]+)?(?:(?:then|subsequently|later|eventually|further)[ \t]+)*"
    r"(?:(?:has[ \t]+|had[ \t]+|was[ \t]+)?(?:increased|decreased|rose|risen|fell|fallen|dropped|climbed"
    r"|peaked|improved|normalized|trended[ \t]+(?:up|down)|went[ \t]+(?:up|down)|came[ \t]+down))?)?"
    r"[ \t]*\)?[ \t]+to[ \t]+" + _DATED_OPEN + r"(?P<num>\d+(?:\.\d+)?)(?![\d/]|\.\d)"
    # two results of one test that end the clause: "troponin I 0.085 and 0.074."
    r"|[ \t]+and[ \t]+(?P<again>\d+(?:\.\d+)?)(?=[ \t]*(?:[.;,)]|$)))",
    re.IGNORECASE | re.MULTILINE,
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


_PER_MICROLITRE = "10*3/uL"  # counts written per microlitre ("12,000") are shown in thousands


def read_lab(text: str, start: int, stop: int, lab: LabDef) -> LabReading:
    """The value right after a lab name (``text[start:stop]``), else a few words on, else (a
    test with one) a result in words, else a pronoun's value in the next sentence."""
    window = text[start:stop]
    if lab.unit == TITRE:
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
        if words is not None:
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
    raw = vocabulary().units[unit_match["unit"].lower()] if unit_match else None
    if unit_match:
        end = unit_match.end()
    elif (dose := _DOSE_UNIT.match(text, num_end, stop)) is not None:
        raw = _cut_unit(text, start, num_end - len(num), dose, lab)
        if raw is None:
            return LabReading(None, None, end, trusted=False)  # "Iron 325 mg daily": a dose, not a result
        end = dose.end()
    elif _DOSE_WORDS.match(text, num_end, stop):
        return LabReading(None, None, end, trusted=False)  # "Folic acid 2 by mouth": a dose
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
    elif raw.display in lab.units:
        converted = convert_to_canonical(number, raw, lab)
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


# A reference range after the value, in its own column, that carries the row's unit (US reference
# labs, cumulative tables: "GLUCOSE   104 H   65-99 mg/dL", "3.1 (L)  ...  3.5 - 5.1 mmol/L"). Only
# the rest of the row is read, past cells of values and flags.
_REFERENCE_UNIT = re.compile(
    r"(?:[ \t]*(?:\(?(?:HH|LL|H|L|A|C|High|Low|Abnormal|Abn)\)?(?![A-Za-z])|\*|[<>]?\d+(?:\.\d+)?)"
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


# A urinalysis named in the sentence before the test, a count per high-power field after it, or a
# urinalysis heading over the table the row sits in: "glucose", "protein", "WBC" are urine tests.
_URINE_WORD = re.compile(r"(?i:\burin\w*|\bu/a\b)|\bUA\b")
_PER_FIELD_AFTER = re.compile(
    r"[^.\n]{0,30}?(?:/[ \t]*hpf\b|per[ \t]+(?:hpf|high[ -]power[ \t]+fields?))", re.IGNORECASE
)
_URINE_AFTER = re.compile(r"[ \t]*[,(]?[ \t]*(?:(?:random|spot|timed|24[- ]?h(?:ou)?r)[ \t]+)?urine\b", re.I)
# A blood panel or specimen named after the urine word, within the sentence: the tests after it
# are the blood's ("a urinalysis that had 0-2 WBCs ..., and chem-7, sodium 134, ... creatinine 0.9").
_BLOOD_AGAIN = re.compile(
    r"\b(?:serum|plasma|chem[- ]?\d{1,2}|chemistr(?:y|ies)|bmp|cmp|metabolic[ \t]+panel|cbc)\b", re.I
)
_SENTENCE_START = re.compile(r"[.;]\s|\n")
_HEADING_LINES = 40


def in_urine_context(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    sentence_start = max([line_start, *(m.end() for m in _SENTENCE_START.finditer(text, line_start, start))])
    urine = None
    for found in _URINE_WORD.finditer(text, sentence_start, start):
        urine = found  # the last urine word before the name
    if (
        (urine is not None and not _BLOOD_AGAIN.search(text, urine.end(), start))
        or _PER_FIELD_AFTER.match(text, end)
        or _URINE_AFTER.match(text, end)
    ):
        return True
    # The nearest heading above (a line of capitals, or ending with ":", with no digits).
    position = line_start
    for _ in range(_HEADING_LINES):
        if position == 0:
            return False
        previous = text.rfind("\n", 0, position - 1) + 1
        line = text[previous : position - 1].strip()
        position = previous
        if not line or _DIGIT.search(line):
            continue
        letters = [c for c in line if c.isalpha()]
        if line.endswith(":") or (len(letters) >= 4 and all(c.isupper() for c in letters)):
            if _URINE_WORD.search(line):
                return True
            if not _CELL_SPLIT.search(line):
                return False  # another section's heading
            # a row of several cells in capitals ("APPEARANCE   CLOUDY   CLEAR") is the table's
    return False


# Cerebrospinal fluid named earlier in the sentence ("CSF taken on 10/19/94 revealed: 22 WBC, 380 RBC,
# Glucose 58, Protein 29"): the counts and chemistry are the fluid's, with the fluid's ranges.
CSF_TESTS = {
    "total protein": "csf protein",
    "glucose": "csf glucose",
    "white blood cell count": "csf white blood cells",
    "red blood cell count": "csf red blood cells",
}
_CSF_WORD = re.compile(r"\bCSF\b|\b(?:cerebro)?spinal[ \t]+fluid\b|\blumbar[ \t]+puncture\b", re.IGNORECASE)


def in_csf_context(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    sentence_start = max([line_start, *(m.end() for m in _SENTENCE_START.finditer(text, line_start, start))])
    fluid = None
    for found in _CSF_WORD.finditer(text, sentence_start, start):
        fluid = found  # the last mention of the fluid before the name
    return fluid is not None and not _BLOOD_AGAIN.search(text, fluid.end(), start)


# A drug's level ("Dilantin level 12", "doxycycline level ... was 6.5 mcg/mL", "Vancomycin, Trough"): a
# lab of its own.
DRUG_LEVEL_RE = re.compile(
    r"[ \t]*,?[ \t]+(?:serum[ \t]+|blood[ \t]+)?(?:levels?|trough|peak)\b", re.IGNORECASE
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


# ---------------------------------------------------------------------------------------------
# Cumulative tables: one result column per date ("Component  11/17/2026  11/18/2026 ... Ref Range").


@dataclass(frozen=True)
class DateColumn:
    start: int  # offsets within the header line
    end: int
    date: str  # ISO


@dataclass(frozen=True)
class DateTable:
    start: int  # the header line's offset in the text
    end: int  # where the next date header starts, or the end of the text
    columns: tuple[DateColumn, ...]


# Between two dates of a header only spaces, a time ("05:40", "0540") or a meridiem.
_HEADER_GAP = re.compile(r"(?:[ \t]+|\d{1,2}:\d\d(?::\d\d)?|\d{4}|[AP]M\b)*", re.IGNORECASE)
_CELL_SPLIT = re.compile(r"\t|[ \t]{2,}")
_NAME_COLUMN = 8  # a date header's first date starts past the names' column
_FLAG = r"(?:\((?:HH|LL|H|L|A|C)\)|(?:HH|LL|H|L|A|C)\b|\*)"
_CELL = re.compile(
    r"(?:" + _FLAG + r"[ \t]*)?(?P<cmp>[<>]=?[ \t]*)?(?P<num>-?\d+(?:[.,]\d+)?)[ \t]*"
    r"(?:" + _FLAG + r"[ \t]*)?(?:\[\d{1,2}\][ \t]*)?",
    re.IGNORECASE,
)


# A header row labelled "Date" over the result columns, one collection date each ("Date  14/09/26
# 12/11/26  28/11/26", then "Time" and "Request No." rows, as Australian cumulative reports print
# it). Its dates are read together: one whose day is past 12 says the row is day-first.
_LABELLED_HEADER = re.compile(
    r"^[ \t]*(?:date|collected|collection[ \t]+date|date[ \t]+collected)[ \t]*:?[ \t]+"
    r"(?:\d{1,2}[/.]\d{1,2}[/.](?:\d\d){1,2}[ \t]*){2,}$",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER_DATE = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.]((?:\d\d){1,2})\b")


def labelled_header_dates(text: str) -> list[tuple[int, int, str]]:
    """The dates (start, end, ISO) of the header rows labelled "Date" over result columns."""
    found = []
    for header in _LABELLED_HEADER.finditer(text):
        cells = list(_HEADER_DATE.finditer(text, header.start(), header.end()))
        day_first = any(int(c[1]) > 12 for c in cells) and not any(int(c[2]) > 12 for c in cells)
        row = []
        for c in cells:
            day, month = (int(c[1]), int(c[2])) if day_first else (int(c[2]), int(c[1]))
            year = int(c[3]) + (2000 if len(c[3]) == 2 else 0)
            try:
                row.append((c.start(), c.end(), date(year, month, day).isoformat()))
            except ValueError:
                break
        else:
            found.extend(row)
    return found


def date_tables(text: str, dates: list[tuple[int, int, str]]) -> list[DateTable]:
    """Header lines of two or more dates (``dates``: start, end, ISO) with nothing but spaces or
    times between them: each date is a result column for the rows below, up to the next header."""
    by_line: dict[int, list[tuple[int, int, str]]] = {}
    labelled = labelled_header_dates(text)
    for start, end, iso in [*labelled, *(d for d in dates if not any(a <= d[0] < b for a, b, _ in labelled))]:
        by_line.setdefault(text.rfind("\n", 0, start) + 1, []).append((start, end, iso))
    headers = []
    for line_start, found in sorted(by_line.items()):
        found.sort()
        if (
            len(found) < 2
            or len({iso for _, _, iso in found}) < len(found)  # one column per collection date
            or found[0][0] - line_start < _NAME_COLUMN  # the test names' column comes first
            or any(_HEADER_GAP.fullmatch(text, a[1], b[0]) is None for a, b in itertools.pairwise(found))
        ):
            continue  # e.g. a "Collected / Received / Reported" row of dates
        # A column runs from its date to the next one (a value may sit under the time written
        # after the date, "11/17/2026 05:40"); the last one to its date and time.
        line_end = text.find("\n", found[-1][1])
        line_end = len(text) if line_end == -1 else line_end
        last_time = _HEADER_GAP.match(text, found[-1][1], line_end)
        ends = [b[0] - 2 for b in found[1:]] + [last_time.end() if last_time else found[-1][1]]
        columns = tuple(
            DateColumn(s - line_start, max(e, end) - line_start, iso)
            for (s, e, iso), end in zip(found, ends, strict=True)
        )
        headers.append((line_start, columns))
    return [
        DateTable(start, headers[k + 1][0] if k + 1 < len(headers) else len(text), columns)
        for k, (start, columns) in enumerate(headers)
    ]


def table_at(tables: list[DateTable], position: int) -> DateTable | None:
    return next((t for t in tables if t.start < position < t.end), None)


def date_cells(
    text: str, table: DateTable, start: int, line_start: int, line_end: int
) -> list[tuple[int, int, str]]:
    """The row's cells (text offsets) that sit under one date column each, with that date; a
    cell under no date (the name's qualifier, the reference range) or under two is no result."""
    cells = []
    position = start
    for gap in [*_CELL_SPLIT.finditer(text, start, line_end), None]:
        cell_end = gap.start() if gap is not None else line_end
        if cell_end > position:
            x0, x1 = position - line_start, cell_end - line_start
            under = [c for c in table.columns if x0 < c.end + 1 and x1 > c.start - 1]
            if len(under) == 1:
                cells.append((position, cell_end, under[0].date))
        if gap is not None:
            position = gap.end()
    return cells


def read_cell(text: str, start: int, end: int, lab: LabDef | None) -> LabReading:
    """One table cell as a result: a number with its flags (the unit from the reference column),
    or a qualitative word for a test that has one; ``lab`` None (a drug level) takes any number."""
    cell = _CELL.fullmatch(text, start, end)
    if cell is None:
        if lab is not None and lab.qualitative:
            words = QUALITATIVE_RE.match(text[start:end])
            if words is not None and words.end() == end - start:
                return LabReading(" ".join(words["word"].lower().split()), None, end)
        return LabReading()
    comparator = _comparator(cell["cmp"])
    if lab is None:
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end
        reference = _REFERENCE_UNIT.match(text, cell.end("num"), line_end)
        unit = vocabulary().unit_re.match(text, reference.end(), line_end) if reference else None
        raw = vocabulary().units[unit["unit"].lower()] if unit else None
        return LabReading(comparator + cell["num"], raw.display if raw else None, end)
    found = reading(text, start, end, cell["num"], comparator, cell.end("num"), lab)
    return LabReading(found.value, found.unit, end, found.trusted)


# ---------------------------------------------------------------------------------------------
# A row's name cell, a name alone on its line, a previous result.

# The rest of a row's name cell: text without digits up to the gap before the next column
# ("VITAMIN D,25-OH,TOTAL,IA   19 L", "Lactate, Whole Blood   4.6").
_NAME_CELL_REST = re.compile(r"[^\t\n\d]{1,40}?(?=\t|[ ]{2,})")


def name_cell_end(text: str, name_start: int, name_end: int) -> int | None:
    """Where a table row's name cell ends, when the name matched only its start; else None."""
    line_start = text.rfind("\n", 0, name_start) + 1
    if text[line_start:name_start].strip():
        return None
    rest = _NAME_CELL_REST.match(text, name_end)
    return rest.end() if rest is not None and rest.group().strip() else None


# A name alone on its line and its value alone on the next (a portal page pasted one cell per
# line: "Hemoglobin A1C" / "6.8 %" / "4.0 - 5.6 %" / "High").
_ALONE_AFTER = re.compile(r"[ \t]*:?[ \t]*\n")
_VALUE_LINE = re.compile(r"[ \t]*(?P<cmp>[<>][ \t]*)?(?P<num>\d+(?:[.,]\d+)?)(?![\d.,])[^\n]*")
_WRAPPED_NAME = re.compile(r"[ \t]*(?:ab|ag|antibod(?:y|ies)|antigen|level|total)\b(?=[ \t]{2,}|\t)", re.I)
_FOOTNOTE = re.compile(r"[ \t]+[a-e](?=[ \t]{2,})")
_FLAG_ONLY = re.compile(
    r"[ \t]*(?:(?:high|low|abnormal|normal|critical|HH|LL|H|L|A)[ \t]*)?"
    # the reference range in its own column ("  >30.8 b  H  pmol/L    2.8 - 6.5")
    r"(?:(?<=[ \t]{2})[<>]?[ \t]*\d+(?:\.\d+)?(?:[ \t]*-[ \t]*\d+(?:\.\d+)?)?[ \t]*)?",
    re.IGNORECASE,
)


def read_value_line(text: str, name_start: int, name_end: int, lab: LabDef) -> LabReading:
    """The value on the line after a name that stands alone on its own, when that line holds only
    the value, its unit and a flag."""
    line_start = text.rfind("\n", 0, name_start) + 1
    alone = _ALONE_AFTER.match(text, name_end)
    if text[line_start:name_start].strip() or alone is None:
        return LabReading()
    next_start = alone.end()
    next_end = text.find("\n", next_start)
    next_end = len(text) if next_end == -1 else next_end
    value = _VALUE_LINE.fullmatch(text, next_start, next_end)
    if value is None:
        # the name's last word wrapped onto the row's line ("Thyroid Peroxidase (TPO)" / " Ab  02  14")
        wrapped = _WRAPPED_NAME.match(text, next_start, next_end)
        if wrapped is None:
            return LabReading()
        return read_lab(text, wrapped.end(), next_end, lab)
    cmp = _comparator(value["cmp"])
    footnote = _FOOTNOTE.match(text, value.end("num"), next_end)  # ">30.8 b": the report's footnote b
    num_end = footnote.end() if footnote is not None else value.end("num")
    found = reading(text, next_start, next_end, value["num"], cmp, num_end, lab)
    if found.value is None or found.end is None or not _FLAG_ONLY.fullmatch(text, found.end, next_end):
        return LabReading()
    return found


# A patient's own reading at home ("home fasting glucose 128", "glucometer readings"): not a lab result.
HOME_BEFORE = re.compile(
    r"\b(?:home|glucometer|self[- ]monitored)(?:[ \t]+(?:fasting|blood|morning|am|pm|capillary))*[ \t]+$",
    re.IGNORECASE,
)
# A goal named before the test ("Target A1c <7%", "goal LDL below 70"): not a result.
GOAL_BEFORE = re.compile(r"\b(?:goal|target|aim)(?:[ \t]+(?:of|for|is))?[ \t]*:?[ \t]+$", re.IGNORECASE)
# A previous result quoted beside the current one ("Previous HbA1c 64 mmol/mol on 02.05.2026").
PREVIOUS_BEFORE = re.compile(
    r"\b(?:previous(?:ly)?|prior)(?:[ \t]+(?:reported|result(?:ed)?|value))?[ \t]+$", re.IGNORECASE
)
# "Last INR 3.4 on 11/16": the last result before this one, quoted with its own date. Without the
# date ("last A1c 7.2") a note may mean the result it reports, so it stays.
LAST_BEFORE = re.compile(r"\blast[ \t]+$", re.IGNORECASE)
DATED_AFTER = re.compile(r"[ \t]*(?:on|from|dated|\()[ \t]*\d{1,4}[/.-]\d{1,2}")
# A threshold a report's comment explains ("Note: A serum folate concentration of less than 3.1
# ng/mL is considered to represent clinical deficiency."): a test named with "a"/"any", a limit
# ("less than", "<"), and a verb that interprets it. Not this patient's result.
INDEFINITE_BEFORE = re.compile(r"\b(?:an?|any)[ \t]+(?:[A-Za-z-]+[ \t]+){0,3}$", re.IGNORECASE)
INTERPRETED_AFTER = re.compile(
    r"\s+(?:(?:is|are|was)\s+)?(?:considered|consistent\s+with|diagnostic|indicative|suggestive|defined"
    r"|represents?|indicates?|suggests?|defines?)\b",
    re.IGNORECASE,
)

# A limit written in prose, not a result: a comparator value ("K >5.5 mmol/L", "ferritin <30 ug/L")
# in a sentence of the same line that sets a condition, a target or a cut-off before the name
# ("if K >5.5 ...", "when Hb is <130 g/L", "Lipid treatment targets (CCS 2021): LDL-C <2.0 ..."),
# or that is followed by what is done or meant at that limit ("... will be phoned", "... indicates").
# A table's "<0.01" in its result column has neither.
_LIMIT_BEFORE = re.compile(
    r"\b(?:if|when|whenever|unless|targets?|goals?|aims?|cut-?offs?|thresholds?|cibles?|objectifs?|si)\b",
    re.IGNORECASE,
)
_CLAUSE_START = re.compile(r".*(?:[.!?;](?=\s)|^)", re.DOTALL)
_LIMIT_AFTER = re.compile(
    r"[ \t]*(?:(?:is|are|was|will[ \t]+be|should[ \t]+be|must[ \t]+be|to[ \t]+be|be)[ \t]+)?"
    r"(?:phoned|called|telephoned|notified|reported[ \t]+to|referred|flagged|considered|indicates?|suggests?"
    r"|represents?|defines?|consistent[ \t]+with|diagnostic|requires?|warrants?|triggers?|corresponds?)\b",
    re.IGNORECASE,
)


def limit_in_prose(text: str, name_start: int, value: str | None, value_end: int | None) -> bool:
    """Whether a comparator value read after a name is a limit stated in prose, not a result."""
    if not value or value[0] not in "<>≤≥" or value_end is None:
        return False
    line_start = text.rfind("\n", 0, name_start) + 1
    before = text[line_start:name_start]
    clause = before[_CLAUSE_START.match(before).end() :]  # type: ignore[union-attr]
    if _LIMIT_BEFORE.search(clause):
        return True
    line_end = text.find("\n", value_end)
    line_end = len(text) if line_end == -1 else line_end
    unit = vocabulary().unit_re.match(text, value_end, line_end)
    after = unit.end() if unit is not None and unit.start() - value_end < 3 else value_end
    return (
        _LIMIT_AFTER.match(text, after, line_end) is not None
        or _LIMIT_AFTER.match(text, value_end) is not None
    )


# A quality-control run printed with the patient's results (an analyser's control slip): the row
# is marked PASS/FAIL against its range, or its block (up to a blank or a rule line) is headed as a
# control ("Afinion 2    CONTROL", "QC", "Level II"). Not the patient's result.
_QC_VERDICT = re.compile(r"\b(?:PASS(?:ED)?|FAIL(?:ED)?)[ \t]*$")
_QC_HEADING = re.compile(
    r"\bCONTROLS?\b|\bQC\b|\bQ\.C\.|(?i:\bquality[ \t]+control\b|\bcontrol[ \t]+(?:level|lot|run)\b)"
    r"|\b[Ll]evel[ \t]+I{1,3}\b"
)
_BLOCK_BREAK = re.compile(r"\n[ \t]*(?:[-=_*]{3,}[^\n]*)?\n")


def quality_control(text: str, name_start: int) -> bool:
    """Whether the row at ``name_start`` is an analyser's quality-control result."""
    line_start = text.rfind("\n", 0, name_start) + 1
    line_end = text.find("\n", name_start)
    line_end = len(text) if line_end == -1 else line_end
    if _QC_VERDICT.search(text, name_start, line_end):
        return True
    breaks = [b.end() for b in _BLOCK_BREAK.finditer(text, 0, line_start)]
    block = text[breaks[-1] if breaks else max(0, line_start - 400) : line_start]
    return any(
        _QC_HEADING.search(line) and not re.search(r"[a-z]{3,}[ \t]+[a-z]{3,}", line)
        for line in block.splitlines()
    )


# A urine dipstick read by an analyser prints its pads as abbreviations ("GLU  NEGATIVE", "PRO  30
# mg/dL", "LEU  TRACE"). They are names only in a dipstick's block (up to a blank or a rule line,
# or at most a dozen lines), never as free words; GLU there is the urine glucose.
DIPSTICK_NAMES = frozenset({"GLU", "BIL", "KET", "SG", "BLO", "PH", "PRO", "URO", "NIT", "LEU"})
_DIPSTICK_WORD = re.compile(
    r"\b(?:dip[ -]?sticks?|dip|multistix|clinitek|chemstrip|combur(?:[ -]?test)?|uristix"
    r"|urine[ \t]+(?:strip|chemistry|analy[sz]er)|urinalysis|u/a)\b",
    re.IGNORECASE,
)
_DIPSTICK_LINES = 12


def in_dipstick_block(text: str, start: int) -> bool:
    """Whether ``start`` is in a block headed by a urine dipstick or its analyser."""
    line_start = text.rfind("\n", 0, start) + 1
    breaks = [b.end() for b in _BLOCK_BREAK.finditer(text, 0, line_start)]
    block_start = breaks[-1] if breaks else 0
    lines = text[block_start:line_start].splitlines()[-_DIPSTICK_LINES:]
    return any(_DIPSTICK_WORD.search(line) for line in lines)


# A lipid analyser's print name ("TRG  189 mg/dL" on a Cholestech cassette) is a name only in a block
# headed by a lipid panel or its analyser: elsewhere TRG is, say, the T-cell receptor gamma gene.
LIPID_PRINT_NAMES = frozenset({"TRG"})
_LIPID_WORD = re.compile(
    r"\b(?:lipids?|lipid[ \t]+(?:profile|panel|cassette)|cholestech|ldx|cholesterol)\b", re.IGNORECASE
)


def in_lipid_block(text: str, start: int) -> bool:
    """Whether ``start`` is in a block headed by a lipid panel or a lipid analyser."""
    line_start = text.rfind("\n", 0, start) + 1
    breaks = [b.end() for b in _BLOCK_BREAK.finditer(text, 0, line_start)]
    lines = text[breaks[-1] if breaks else 0 : line_start].splitlines()[-_DIPSTICK_LINES:]
    return any(_LIPID_WORD.search(line) for line in lines)
