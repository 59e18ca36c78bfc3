"""Lab units: a value in one unit to the lab's canonical unit, through pint (a molar mass where the
dimensions differ) or a known affine relation. Used to check that a value is plausible; the value
itself is kept as written (labs.py)."""

from __future__ import annotations

import threading
from typing import Any

from medupload.pipeline.vocabulary import LabDef, UnitDef, vocabulary

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


# Units that are not a scale of the canonical one: HbA1c in IFCC mmol/mol is NGSP % through the
# IFCC-NGSP master equation (NGSP = 0.09148 x IFCC + 2.152), never pint's 58 mmol/mol = 5.8 %.
_AFFINE: dict[tuple[str, str], tuple[float, float]] = {("mmol/mol", "%"): (0.09148, 2.152)}


# Cell counts: one number per microlitre in each of its written forms ("/cumm", "cells/uL",
# "x10^9/L", "lakhs/cumm"), counted by the alias's own scale, never by the display it shares.
_PER_MICROLITRE = {"10*3/uL": 1e3, "10*6/uL": 1e6, "cells/uL": 1.0}
_PER_MICROLITRE_PINT = {"1/uL": 1.0, "1/L": 1e-6}


def _count(value: float, raw: UnitDef, lab: LabDef) -> float | None:
    """A cell count in ``raw`` as the lab's count unit, by arithmetic (no pint for a count)."""
    per = _PER_MICROLITRE_PINT.get(raw.pint)
    if per is None:
        return None
    return value * raw.scale * per / _PER_MICROLITRE[lab.unit or ""]


def convert_to_canonical(value: float, raw: UnitDef, lab: LabDef) -> float | None:
    """``value`` in ``raw`` to the lab's canonical unit, through pint (molar mass if needed)."""
    if lab.unit in _PER_MICROLITRE and raw.display in _PER_MICROLITRE and raw.display != lab.unit:
        return _count(value, raw, lab)  # "11,200 /cumm" is 11.2 x10^3/uL
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
