"""A component trend print: one section per test, its name heading the section (with a qualifier
and its reference range on the line: "EGFR CKD-EPI 2021      Ref Range: >=60 mL/min/1.73m2"), a
column header naming the value column, then one row per collection, newest first:
"05/28/2026 08:05   6.9   H   %   Final". Each dated row's first cell is a result of that date;
a row without a number ("Hemolyzed ... Canceled") is none, and an undated line under a row (a
superseded value, "previously reported as 79") is no result. The section ends at a blank line.
"""

from __future__ import annotations

import re

from medupload.pipeline.labs import LabReading, reading
from medupload.pipeline.vocabulary import LabDef

# After the name on its heading line: up to four words of a qualifier ("CKD-EPI 2021", ", URINE")
# and the reference range; nothing else.
_HEADING_REST = re.compile(
    r"(?:[ \t][^\s:]+){0,4}?(?:[ \t]{2,}ref(?:erence)?[ \t]+(?:range|interval)[ \t]*:[^\n]*)?[ \t]*$",
    re.IGNORECASE,
)
_NAME_PREFIX = re.compile(r"(?:[A-Za-z]{1,5}[ \t])?")  # "POC INR": a point-of-care test
_COLUMN_HEADER = re.compile(r"[ \t]*(?:collected|date)\b[^\d\n]*\b(?:value|result)\b[^\d\n]*$", re.IGNORECASE)
_ROW = re.compile(
    r"[ \t]*(?P<date>\d{1,2}/\d{1,2}/\d{4})(?:[ \t]+\d{1,2}:\d{2})?[ \t]{2,}"
    r"(?P<cmp>[<>]=?)?(?P<num>\d+(?:[.,]\d+)?)(?![\d/:])"
)
_HEADER_LINES = 3  # lines between the heading and its column header (a therapeutic range)
_MAX_ROWS = 40


def _lines(text: str, start: int) -> tuple[int, int]:
    end = text.find("\n", start)
    return start, len(text) if end == -1 else end


def trend_section_cells(
    text: str, name_start: int, name_end: int, lab: LabDef, dates: list[tuple[int, int, str]]
) -> list[tuple[LabReading, str]]:
    """The results of a trend section this name heads, each with its row's date (ISO from
    ``dates``: start, end, iso); [] when the name heads no such section."""
    line_start, line_end = _lines(text, text.rfind("\n", 0, name_start) + 1)
    if _NAME_PREFIX.fullmatch(text, line_start, name_start) is None:
        return []
    if _HEADING_REST.fullmatch(text, name_end, line_end) is None:
        return []
    by_start = {start: iso for start, _end, iso in dates}
    position, header = line_end + 1, False
    for _ in range(_HEADER_LINES):
        row_start, row_end = _lines(text, position)
        position = row_end + 1
        if _COLUMN_HEADER.fullmatch(text, row_start, row_end):
            header = True
            break
        if not text[row_start:row_end].strip():
            return []
    if not header:
        return []
    found: list[tuple[LabReading, str]] = []
    for _ in range(_MAX_ROWS):
        if position >= len(text):
            break
        row_start, row_end = _lines(text, position)
        position = row_end + 1
        if not text[row_start:row_end].strip():
            break
        row = _ROW.match(text, row_start, row_end)
        if row is None:
            continue  # a note under a row, "Hemolyzed ... Canceled", a trend summary
        iso = by_start.get(row.start("date"))
        if iso is None:
            continue
        value = reading(text, row.start("num"), row_end, row["num"], row["cmp"] or "", row.end("num"), lab)
        if value.value is not None:
            found.append((value, iso))
    return found
