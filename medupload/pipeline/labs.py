"""Lab values: the number (and unit) after a lab name, checked against the lab's units and
plausible range, converted to its canonical unit through pint (molar mass where needed).

A parenthesised method or reference range right after the name is skipped ("eGFR (CKD-EPI
2021) 68" -> 68); a flag (H, L, *) is allowed before the number and after it; a range
("3.5-5.1") is never a value. "less than 0.5", "greater than 100" read as "<0.5", ">100".
A count written before its name ("16 segs, 6 bands", "75% segs", "15.7 for WBC") is the name's
value when the number opens a clause (line start, comma, colon, "with", "and"), so it cannot be
the previous name's value.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from medupload.pipeline.vocabulary import LabDef, UnitDef, vocabulary

LAB_VALUE_RE = re.compile(
    r"^[ \t]*(?:\([^)\n]{0,40}\)[ \t]*)?"
    r"(?:,?[ \t]*(?:fasting|random|total|serum|plasma|direct|calculated|calc|blood|urine)\b[ \t]*)*"
    r"(?:(?:[:=|,\t-]|level|levels|result|value|was|were|is|of|now|today|measured|at|to)[ \t]*)*"
    r"(?:(?:19|20)\d\d-\d\d?-\d\d?[ \t:|]+|\d\d?/\d\d?/\d{2,4}[ \t:|]+)?"
    r"(?:(?:\b[HL]\b|\*)[ \t]*)?"
    r"(?P<cmp>[<>≤≥]=?[ \t]*|(?:less|lower|fewer|greater|more|higher)[ \t]+than[ \t]+)?"
    r"(?P<num>\d+(?:[.,]\d+)?)(?![\d/]|[ \t]*-[ \t]*\d|[.,]\d)",
    re.IGNORECASE,
)
# A count before its name, opening a clause: "with 16 segs", ", 75% segs", ": 15.7 for WBC".
BEFORE_VALUE_RE = re.compile(
    r"(?:^|[,;:(]|\bwith|\band|\bshowed|\bshows|\brevealed)[ \t]*"
    r"(?P<cmp>(?:less|lower|fewer|greater|more|higher)[ \t]+than[ \t]+)?"
    r"(?P<num>\d+(?:\.\d+)?)[ \t]*(?P<unit>%)?[ \t]*(?:for[ \t]+)?$",
    re.IGNORECASE,
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


def _convert(value: float, raw: UnitDef, lab: LabDef) -> float | None:
    """``value`` in ``raw`` to the lab's canonical unit, through pint (molar mass if needed)."""
    if raw.display == lab.unit:
        return value * 1.0
    canonical = next((u for u in vocabulary().units.values() if u.display == lab.unit), None)
    if canonical is None:
        return None
    ureg = _ureg()
    quantity = ureg.Quantity(value * raw.scale, raw.pint)
    target = ureg.Quantity(canonical.scale, canonical.pint)
    try:
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
GAP_VALUE_RE = re.compile(
    r"[ \t]*,?[ \t]*(?:[A-Za-z][a-z-]*[ \t]+){0,4}?"
    r"(?:was|were|is|are|of|at|to|reached|from|showed|shows)[ \t]+"
    r"(?:(?:of|about|approximately|around|only)[ \t]+)*"
    r"(?P<cmp>[<>≤≥]=?[ \t]*|(?:less|lower|fewer|greater|more|higher)[ \t]+than[ \t]+)?"
    r"(?P<num>\d+(?:[.,]\d+)?)(?![\d/]|[ \t]*-[ \t]*\d|[.,]\d)",
    re.IGNORECASE,
)
# Two values for two names: "BUN and creatinine were 109 and 6.9", "H&H 12.0 and 36".
PAIR_VALUES_RE = re.compile(
    r"[ \t]*(?:[A-Za-z][a-z-]*[ \t]+){0,4}?(?:(?:were|are|was|is|of|at)[ \t]+)*(?:of[ \t]+)?"
    r"(?P<a>\d+(?:\.\d+)?)[ \t]*(?:and|&|/|,)[ \t]*(?P<b>\d+(?:\.\d+)?)(?![\d/]|\.\d)",
    re.IGNORECASE,
)
# A second value after the first: "has gone up from 5.4 to 6.1".
THEN_VALUE_RE = re.compile(r"[ \t]+to[ \t]+(?P<num>\d+(?:\.\d+)?)(?![\d/]|\.\d)", re.IGNORECASE)
_THOUSANDS = re.compile(r"\d{1,3},\d{3}")
_PER_MICROLITRE = "10*3/uL"  # counts written per microlitre ("12,000") are shown in thousands


def read_lab(text: str, start: int, stop: int, lab: LabDef) -> LabReading:
    """The value right after a lab name (``text[start:stop]``), else a few words on."""
    window = text[start:stop]
    match = LAB_VALUE_RE.match(window) or GAP_VALUE_RE.match(window)
    if match is None:
        return LabReading()
    return reading(text, start, stop, match["num"], _comparator(match["cmp"]), start + match.end(), lab)


def _comparator(words: str | None) -> str:
    """ "<", ">", "<=", ... from a sign or from "less than", "greater than"."""
    cleaned = (words or "").strip().lower()
    if cleaned.endswith("than"):
        return "<" if cleaned.split()[0] in {"less", "lower", "fewer"} else ">"
    return cleaned


def read_lab_before(text: str, line_start: int, name_start: int, lab: LabDef) -> LabReading:
    """A count written before the name ("16 segs", "15.7 for WBC"), else nothing. The reading
    has no end: the fact's span stays the name."""
    match = BEFORE_VALUE_RE.search(text, line_start, name_start)
    if match is None:
        return LabReading()
    found = reading(
        text, match.start("num"), name_start, match["num"], _comparator(match["cmp"]), match.end("num"), lab
    )
    return LabReading(found.value, found.unit, None, found.trusted)


def reading(
    text: str, start: int, stop: int, num: str, comparator: str, num_end: int, lab: LabDef
) -> LabReading:
    """``num`` (ending at ``num_end``) as a value of ``lab``: its unit read after it, checked
    against the lab's units and plausible range, converted to the canonical unit."""
    thousands = bool(_THOUSANDS.fullmatch(num))
    number = float(num.replace(",", "")) if thousands else float(num.replace(",", "."))
    end = num_end
    unit_match = vocabulary().unit_re.match(text, num_end, stop)
    raw = vocabulary().units[unit_match["unit"].lower()] if unit_match else None
    if unit_match:
        end = unit_match.end()
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
        converted = _convert(number, raw, lab)
    else:
        return LabReading(None, None, end, trusted=False)
    if converted is None:
        return LabReading(None, None, end, trusted=False)
    if lab.low is not None and lab.high is not None and not lab.low <= converted <= lab.high:
        return LabReading(None, None, end, trusted=False)
    plain = (raw is None or raw.display == lab.unit) and converted == number and not thousands
    shown = num.replace(",", ".") if plain else _fmt(converted)
    return LabReading(comparator + shown, lab.unit, end)
