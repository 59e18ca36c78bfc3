"""Lab values: the number (and unit) after a lab name, checked against the lab's units and
plausible range, converted to its canonical unit through pint (molar mass where needed).

A parenthesised method or reference range right after the name is skipped ("eGFR (CKD-EPI
2021) 68" -> 68); a flag (H, L, *) is allowed before the number and after it; a range
("3.5-5.1") is never a value.
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
    r"(?P<cmp>[<>≤≥]=?[ \t]*)?(?P<num>\d+(?:[.,]\d+)?)(?![\d/]|[ \t]*-[ \t]*\d|[.,]\d)",
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


def read_lab(text: str, start: int, stop: int, lab: LabDef) -> LabReading:
    window = text[start:stop]
    match = LAB_VALUE_RE.match(window)
    if match is None:
        return LabReading()
    number = float(match["num"].replace(",", "."))
    comparator = (match["cmp"] or "").strip()
    end = start + match.end()
    unit_match = vocabulary().unit_re.match(window, match.end())
    raw = vocabulary().units[unit_match["unit"].lower()] if unit_match else None
    if unit_match:
        end = start + unit_match.end()
    if lab.unit is None:  # unitless (INR) or a panel
        if raw is not None:
            return LabReading(None, None, end, trusted=False)
        plausible = lab.low is None or (lab.low <= number <= (lab.high or number))
        return LabReading(comparator + match["num"] if plausible else None, None, end, plausible)
    if raw is None:
        converted: float | None = number  # a bare number in a lab line: assume the canonical unit
    elif raw.display in lab.units:
        converted = _convert(number, raw, lab)
    else:
        return LabReading(None, None, end, trusted=False)
    if converted is None:
        return LabReading(None, None, end, trusted=False)
    if lab.low is not None and lab.high is not None and not lab.low <= converted <= lab.high:
        return LabReading(None, None, end, trusted=False)
    shown = match["num"].replace(",", ".") if raw is None or raw.display == lab.unit else _fmt(converted)
    return LabReading(comparator + shown, lab.unit, end)
