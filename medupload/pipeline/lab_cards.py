"""A patient portal's result card: the test's name on a line of its own, then label lines, then
the value, printed after a label on its line or alone.

One reason to change: how a portal card's value is found below its name. An app page (the NHS
App, MyChart, a hospital portal) prints one card per test:

    Serum ferritin level            Microalbumin, Urine
    Value: 9 ug/L                   Normal range: 0.0 - 1.9 mg/dL
    Normal range: 13 - 150 ug/L     Value
                                    5.7 mg/dL

The name's line may hold a specimen or a qualifier around the matched name ("Serum ... level",
", Urine", "estimation") but no number and no sentence; the range line is skipped, never read;
the value line holds only the value, its unit and a flag (so a date line, "14 November 2026",
under a panel's heading is no value).
"""

from __future__ import annotations

import re

from medupload.pipeline.labs import LabReading, reading
from medupload.pipeline.vocabulary import LabDef

__all__ = ["read_card_value"]

# Before the name on its line: up to two words ("Serum", "Total", "Mean cell").
_BEFORE_NAME = re.compile(r"[ \t]*(?:[A-Za-z]+[ \t]+){0,2}")
# After the name on its line: qualifier words, no digit and no sentence's punctuation.
# (each word whole, so a long word is never re-split on a miss: that was exponential)
_AFTER_NAME = re.compile(
    r"(?:[ \t]*(?:,|-|\([A-Za-z ,-]{1,30}\)"
    # an eGFR's body-surface normalisation is part of its name ("... per 1.73 square metres")
    r"|per[ \t]+1\.73[ \t]*(?:square[ \t]+met(?:re|er)s|m2|m²)"
    # a word, or a number joined to one by a hyphen ("Vitamin D, 25-Hydroxy")
    r"|(?<![A-Za-z\d])(?:\d{1,3}-)?[A-Za-z]+(?![A-Za-z])))*[ \t]*:?[ \t]*\n"
)
# The label lines a card prints between its name and its value (up to two).
_LABEL_LINE = re.compile(
    r"[ \t]*(?i:(?:normal|standard|reference|ref\.?)[ \t]+(?:range|interval|values?)[ \t]*:[^\n]*"
    r"|(?:your[ \t]+)?(?:value|result)s?[ \t]*:?)[ \t]*\n"
)
_VALUE = re.compile(
    r"[ \t]*(?i:(?:your[ \t]+)?(?:value|result)[ \t]*:?[ \t]*)?"
    r"(?P<cmp>[<>]=?[ \t]*)?(?P<num>\d+(?:\.\d+)?)(?![\d.,])"
)
_UNIT_AND_FLAG = re.compile(
    r"[ \t]*(?:\(?(?:high|low|abnormal|normal|critical|HH|LL|H|L|A)\)?[ \t]*)?", re.IGNORECASE
)


def read_card_value(text: str, name_start: int, name_end: int, lab: LabDef) -> LabReading:
    """The value of a portal card whose name line holds the name at ``name_start``; else none."""
    line_start = text.rfind("\n", 0, name_start) + 1
    if _BEFORE_NAME.fullmatch(text, line_start, name_start) is None:
        return LabReading()
    after = _AFTER_NAME.match(text, name_end)
    if after is None:
        return LabReading()
    at = after.end()
    for _ in range(2):
        label = _LABEL_LINE.match(text, at)
        if label is None:
            break
        at = label.end()
    value = _VALUE.match(text, at)
    if value is None:
        return LabReading()
    value_end = text.find("\n", at)
    value_end = len(text) if value_end == -1 else value_end
    cmp = (value["cmp"] or "").replace(" ", "").replace("\t", "")
    found = reading(text, value.start("num"), value_end, value["num"], cmp, value.end("num"), lab)
    if found.value is None or found.end is None or not _UNIT_AND_FLAG.fullmatch(text, found.end, value_end):
        return LabReading()
    return found
