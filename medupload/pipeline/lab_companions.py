"""A result's companion values: the same result printed again beside it in a second unit, and the
titre printed after a serology's word.

- Two units on one line ("Glycémie à jeun  0,98 g/L   5,44 mmol/L", "Créatinine 7,9 mg/L 69,8
  µmol/L"), or the second unit on the line below, alone under the value ("HbA1c  6,1 %" then
  "   43 mmol/mol"): each number is a result, in its own unit.
- A differential's percent and count on one line ("Lymphocytes  31,4 %   1,76 G/L"): the count is
  the absolute count the name also stands for.
- "RPR  Reactive 1:4", "ANA  POSITIVE  Titre 1:160": the word and the titre are both results.

Kept apart from ``labs`` (how one value is read after a name): this is what may follow a result.
"""

from __future__ import annotations

import re

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
    return []
