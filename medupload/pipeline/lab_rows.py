"""A transposed results table: one column per test, one row per collection date (a discharge
summary's "Collected  WBC  Hgb  Na  K  Creat  BUN", a units row, then "02/03/26 14:22  18.4 H ...").

A test's results are the cells under its header cell, each dated by its row; a blank cell is no
result. The header line holds only names (no digits) in at least three cells, and the rows start
with a date. Kept apart from ``lab_layouts`` (dates in a header row, names down the side).
"""

from __future__ import annotations

import re

from medupload.pipeline.lab_layouts import read_cell
from medupload.pipeline.labs import LabReading
from medupload.pipeline.vocabulary import LabDef

_HEADER_CELL = re.compile(r"[^\s](?:[^\t\n ]| (?! ))*")  # a cell: words joined by single spaces
_ROW_DATE = re.compile(r"[ \t]*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")
_ROW_CELL = re.compile(r"(?:[<>]=?[ \t]?)?-?\d[\d.,]*(?:[ \t]?(?:\(?(?:HH|LL|H|L|A|C)\)?(?![\w/])|\*))?")
_MIN_COLUMNS = 4  # a date (or "Collected") column and three tests
_MAX_ROWS = 40
_UNIT_ROWS = 2  # rows between the header and the first dated row (the units)


def _columns(line: str) -> list[tuple[int, int]]:
    return [(c.start(), c.end()) for c in _HEADER_CELL.finditer(line)]


def dated_row_cells(
    text: str, name_start: int, name_end: int, lab: LabDef, dates: list[tuple[int, int, str]]
) -> list[tuple[LabReading, str]]:
    """The results under a header cell that is exactly this name, each with its row's date (ISO
    from ``dates``: start, end, iso); [] when the name is not a transposed table's header."""
    line_start = text.rfind("\n", 0, name_start) + 1
    line_end = text.find("\n", name_end)
    line_end = len(text) if line_end == -1 else line_end
    line = text[line_start:line_end]
    if any(ch.isdigit() for ch in line):
        return []
    columns = _columns(line)
    here = (name_start - line_start, name_end - line_start)
    if len(columns) < _MIN_COLUMNS or here not in columns:
        return []
    index = columns.index(here)
    low = columns[index - 1][1] if index else 0  # a cell under this header starts past the last one
    high = columns[index + 1][0] if index + 1 < len(columns) else 10_000
    by_start = {start: iso for start, _end, iso in dates}
    found: list[tuple[LabReading, str]] = []
    row_start, rows, undated = line_end + 1, 0, 0
    while row_start < len(text) and rows < _MAX_ROWS:
        row_end = text.find("\n", row_start)
        row_end = len(text) if row_end == -1 else row_end
        dated = _ROW_DATE.match(text, row_start, row_end)
        if dated is None:
            if found or undated >= _UNIT_ROWS or not text[row_start:row_end].strip():
                break
            undated += 1
        else:
            iso = by_start.get(dated.end() - len(dated.group().lstrip()))
            for cell in _ROW_CELL.finditer(text, dated.end(), row_end):
                x = cell.start() - row_start
                if iso is not None and low <= x < high and x >= here[0] - 3:
                    found.append((read_cell(text, cell.start(), cell.end(), lab), iso))
                    break
        rows += 1
        row_start = row_end + 1
    return [(r, iso) for r, iso in found if r.value is not None]
