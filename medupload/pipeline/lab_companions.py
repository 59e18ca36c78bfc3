"""A result's companion values: the same result printed again beside it in a second unit, and the
titre printed after a serology's word.

- Two units on one line ("Glycémie à jeun  0,98 g/L   5,44 mmol/L", "Créatinine 7,9 mg/L 69,8
  µmol/L"), or the second unit on the line below, alone under the value ("HbA1c  6,1 %" then
  "   43 mmol/mol"): each number is a result, in its own unit.
- A differential's percent and count on one line ("Lymphocytes  31,4 %   1,76 G/L"): the count is
  the absolute count the name also stands for; its unit may be only its column's heading
  ("%   /mm³" over "Neutrófilos ....:  58,0   3.944").
- "RPR  Reactive 1:4", "ANA  POSITIVE  Titre 1:160": the word and the titre are both results.

Kept apart from ``labs`` (how one value is read after a name): this is what may follow a result.
"""

from __future__ import annotations

import re

from medupload.pipeline.lab_units import convert_to_canonical
from medupload.pipeline.labs import TITRE, TITRE_RE, LabReading, reading
from medupload.pipeline.vocabulary import LabDef, vocabulary

# The next cell: a number right after the first result's unit, on the same line.
_NEXT_NUMBER = re.compile(r"[ \t]+(?P<num>\d+(?:[.,]\d+)?)(?=[ \t]*[^\d\s.,])")
# The line below holds nothing before a number (it is indented under the value column).
_BELOW_NUMBER = re.compile(r"\n[ \t]{4,}(?P<num>\d+(?:[.,]\d+)?)(?=[ \t]*[^\d\s.,])")


def _in_other_unit(text: str, match: re.Match[str], first: LabReading, lab: LabDef) -> LabReading | None:
    line_end = text.find("\n", match.end("num"))
    stop = len(text) if line_end == -1 else line_end
    unit = vocabulary().unit_re.match(text, match.end("num"), stop)
    if unit is None:
        return None  # a bare number beside a result is a reference or a previous value
    found = reading(text, match.start("num"), stop, match["num"], "", match.end("num"), lab)
    if found.value is None or not found.trusted or found.unit is None or found.unit == first.unit:
        return None
    return found


# A differential printed in two columns headed by their units ("LEUCOGRAMA    %    /mm³" over
# "Neutrófilos ....:   58,0    3.944"): the second number's unit is its column's heading.
_WORD = re.compile(r"\S+")
_NEXT_CELL = re.compile(r"[ \t]{2,}(?P<num>\d+(?:[.,]\d+)?)(?=[ \t]|$)", re.MULTILINE)
_DOTTED_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+")
_HEADER_LINES = 12


def _heading_unit(text: str, start: int, end: int) -> str | None:
    """The unit written as the heading of the column ``text[start:end]`` sits in: the nearest
    line above (through rows, up to a blank line) with a unit over the same columns."""
    line_start = text.rfind("\n", 0, start) + 1
    left, right = start - line_start, end - line_start
    position = line_start
    units = vocabulary().units
    for _ in range(_HEADER_LINES):
        if position == 0:
            return None
        above = text.rfind("\n", 0, position - 1) + 1
        line = text[above : position - 1]
        if not line.strip():
            return None
        for word in _WORD.finditer(line):
            if word.start() <= right and word.end() >= left:
                unit = vocabulary().unit_re.match(line, word.start())
                if unit is not None and unit.end() == word.end() and unit.start("unit") == word.start():
                    return units[unit["unit"].lower()].display
        position = above
    return None


def _count_under_heading(text: str, match: re.Match[str], count: LabDef) -> LabReading | None:
    """A differential's absolute count whose unit is only its column's heading."""
    unit = _heading_unit(text, match.start("num"), match.end("num"))
    raw = next((u for u in vocabulary().units.values() if u.display == unit), None) if unit else None
    if raw is None or raw.display not in _COUNTS:
        return None
    written = match["num"]
    if raw.display == "cells/uL" and _DOTTED_THOUSANDS.fullmatch(written):
        number = float(written.replace(".", ""))  # "3.944 /mm³": a dot between thousands
    else:
        number = float(written.replace(",", "."))
    converted = convert_to_canonical(number, raw, count)
    if (
        converted is None
        or count.low is None
        or count.high is None
        or not count.low <= converted <= count.high
    ):
        return None
    return LabReading(written, raw.display, match.end("num"))


_COUNTS = frozenset({"10*3/uL", "cells/uL"})


def companion_readings(
    text: str, first: LabReading, lab: LabDef, line_end: int
) -> list[tuple[LabDef, LabReading]]:
    """Values printed with ``first`` (a result of ``lab`` that ends at ``first.end``), each with
    the lab it is a result of."""
    if first.value is None or first.end is None or not first.trusted:
        return []
    if lab.unit == TITRE and first.value[0].isalpha():
        titre = TITRE_RE.match(text, first.end, line_end)
        return [(lab, LabReading(titre["titre"], None, titre.end()))] if titre is not None else []
    if first.unit is None:
        return []
    labs = [lab] + ([vocabulary().labs[lab.count]] if lab.count is not None else [])
    for match in (_NEXT_NUMBER.match(text, first.end, line_end), _BELOW_NUMBER.match(text, line_end)):
        if match is None:
            continue
        for other in labs:
            found = _in_other_unit(text, match, first, other)
            if found is not None:
                return [(other, found)]

    cell = _NEXT_CELL.match(text, first.end, line_end)
    if lab.count is not None and first.unit == "%" and cell is not None:
        counted = _count_under_heading(text, cell, vocabulary().labs[lab.count])
        if counted is not None:
            return [(vocabulary().labs[lab.count], counted)]
    return []
