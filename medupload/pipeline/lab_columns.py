"""Where a row's result sits when a header row names the columns ("Test | Result | Flag | Units |
Reference range" in any order, "Observed Value" / "Biological Reference Interval", "In Range / Out of
Range", "Ergebnis / Einheit / Referenzbereich", a "Previous" column): the cell under a result
heading is the result, the cell under the units heading its unit, a previous column's number never.

Split from lab_layouts.py (which finds results by the name's neighbourhood, date columns and
no-result text): this module changes when a new column heading is met.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medupload.pipeline.lab_layouts import _CELL, _CELL_SPLIT
from medupload.pipeline.labs import _DIGIT, QUALITATIVE_RE, LabReading, _comparator, reading
from medupload.pipeline.vocabulary import LabDef

# A header row naming the columns ("Test | Result | Flag | Units | Reference range", in any order;
# "Observed Value" / "Biological Reference Interval"; "In Range / Out of Range"): a row's result is
# the cell under a result column, its unit the cell under the units column. Reports put the
# reference range or the unit before the result as often as after it, where the reader of a name's
# next number would take the range's or find none.

_HEADING_RESULT = re.compile(
    r"(?:observed|your|current|patient|test)?[ \t]*(?:results?|values?)(?:[ \t]+(?:value|obtained))?"
    r"|in[ \t]+range|out[ \t]+of[ \t]+range|within[ \t]+range|outside[ \t]+range|normal|abnormal"
    r"|ergebnis(?:se)?|befund|messwert|wert|r[ée]sultats?|valeur|resultado|risultato",
    re.IGNORECASE,
)
_HEADING_UNIT = re.compile(r"units?|einheit|unit[ée]s?|unidad(?:es)?|unit[àa]", re.IGNORECASE)
# The other headings a header row is made of (a name's, a range's, a flag's, a method's column).
_HEADING_OTHER = re.compile(
    r"(?:test(?:s|[ \t]+name|[ \t]+description)?|analytes?|parameters?|investigations?|components?"
    r"|examinations?|determinations?|description|untersuchung|analyse|examen|prueba|esame"
    r"|(?:biological[ \t]+|bio\.?[ \t]+)?(?:ref(?:erence)?\.?|normal|standard|expected)[ \t]*"
    r"(?:ranges?|intervals?|interval|values?|limits?)?(?:[ \t]*&[ \t]*units?)?"
    r"|referenz(?:bereich|wert)?|normbereich|normalbereich|norm|valeurs?[ \t]+de[ \t]+r[ée]f[ée]rence"
    r"|flags?|h/l|status|method(?:ology)?|specimen|sample|lab|site|comments?|notes?)",
    re.IGNORECASE,
)
# A column of earlier results ("Previous (11/02/2026)", "Prior Result", "Last Value"): never this
# report's result, even when the result cell beside it is blank.
_HEADING_PREVIOUS = re.compile(
    r"(?:previous|prior|last|earlier|old)(?:[ \t]+(?:results?|values?|reading))?"
    r"(?:[ \t]+(?:and|&)[ \t]+date)?",
    re.IGNORECASE,
)
# A date or a bracket in a heading cell ("Previous (11/02/2026)", "Result (SI)") says nothing of its kind.
_HEADING_NOISE = re.compile(r"\([^)\n]*\)|\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}")
_HEADER_CELL = re.compile(r"[^\t\n]+?(?=\t|[ ]{2,}|[ \t]*$)")


@dataclass(frozen=True)
class ColumnTable:
    start: int  # the header line's offset
    end: int  # up to the next header, or the end of the text
    columns: tuple[tuple[int, int, str], ...]  # (x start, x end, "result" | "unit" | "previous" | "other")


def _header_columns(line: str) -> tuple[tuple[int, int, str], ...] | None:
    cells = []
    for cell in _HEADER_CELL.finditer(line):
        word = _HEADING_NOISE.sub("", cell.group()).strip().rstrip(":").strip()
        if not word:
            continue
        if _HEADING_PREVIOUS.fullmatch(word):
            kind = "previous"
        elif _HEADING_RESULT.fullmatch(word):
            kind = "result"
        elif _HEADING_UNIT.fullmatch(word):
            kind = "unit"
        elif _HEADING_OTHER.fullmatch(word):
            kind = "other"
        else:
            return None  # a line of words that is no header
        start = cell.start() + len(cell.group()) - len(cell.group().lstrip())
        cells.append((start, cell.end(), kind))
    kinds = [k for _, _, k in cells]
    if "result" not in kinds or len(cells) < 3 or kinds[0] == "result":
        return None
    return tuple(cells)


_LINE = re.compile(r"[^\n]*\n?")


def result_tables(text: str) -> list[ColumnTable]:
    """The header rows of the text that name a result column, each over the rows below it."""
    found = []
    for line in _LINE.finditer(text):
        content = line.group().rstrip("\n")
        if (
            len(content) > 200
            or not _CELL_SPLIT.search(content)
            or _DIGIT.search(_HEADING_NOISE.sub("", content))
        ):
            continue
        columns = _header_columns(content)
        if columns is not None:
            found.append((line.start(), columns))
    return [
        ColumnTable(start, found[k + 1][0] if k + 1 < len(found) else len(text), columns)
        for k, (start, columns) in enumerate(found)
    ]


_TABLES_CACHE: dict[int, tuple[str, list[ColumnTable]]] = {}


def _cached_tables(text: str) -> list[ColumnTable]:
    key = id(text)
    cached = _TABLES_CACHE.get(key)
    if cached is None or cached[0] is not text:
        _TABLES_CACHE.clear()
        cached = (text, result_tables(text))
        _TABLES_CACHE[key] = cached
    return cached[1]


def _row_cells(text: str, start: int, line_start: int, line_end: int) -> list[tuple[int, int]]:
    cells = []
    position = start
    for gap in [*_CELL_SPLIT.finditer(text, start, line_end), None]:
        cell_end = gap.start() if gap is not None else line_end
        if cell_end > position:
            cells.append((position, cell_end))
        if gap is not None:
            position = gap.end()
    return cells


def _column_of(columns: tuple[tuple[int, int, str], ...], x0: int, x1: int) -> int:
    """The header column a cell at x0..x1 sits under: the most overlapped, else the nearest."""

    def overlap(col: tuple[int, int, str]) -> int:
        return min(x1, col[1]) - max(x0, col[0])

    best = max(range(len(columns)), key=lambda k: overlap(columns[k]))
    if overlap(columns[best]) > 0:
        return best
    middle = (x0 + x1) / 2
    return min(range(len(columns)), key=lambda k: abs((columns[k][0] + columns[k][1]) / 2 - middle))


_ROW_LINES = 80  # a header reaches this many lines at most
# A row whose result cell is blank and whose only number is under a previous-result column.
PREVIOUS_ONLY = LabReading(None, None, None, trusted=False)


def read_result_column(text: str, name_start: int, name_end: int, lab: LabDef) -> LabReading | None:
    """The result of the row that starts with a name, from the cell under a header's result column
    (and its unit from the units column); None when the row is under no such header; ``PREVIOUS_ONLY``
    when its only number is an earlier result's."""
    line_start = text.rfind("\n", 0, name_start) + 1
    if text[line_start:name_start].strip():
        return None
    table = next((t for t in _cached_tables(text) if t.start < line_start < t.end), None)
    if table is None or text.count("\n", table.start, line_start) > _ROW_LINES:
        return None
    line_end = text.find("\n", name_end)
    line_end = len(text) if line_end == -1 else line_end
    cells = _row_cells(text, name_end, line_start, line_end)
    if len(cells) < 2:
        return None
    results: list[tuple[int, int]] = []
    unit_cell, unit_end = None, 0
    previous = False
    for start, end in cells:
        kind = table.columns[_column_of(table.columns, start - line_start, end - line_start)][2]
        previous = previous or (kind == "previous" and _DIGIT.search(text, start, end) is not None)
        if kind == "result":
            results.append((start, end))
        elif kind == "unit" and unit_cell is None:
            unit_cell, unit_end = text[start:end], end
    for start, end in results:
        cell = _CELL.fullmatch(text, start, end)
        if cell is None:
            if lab.qualitative:
                words = QUALITATIVE_RE.match(text[start:end])
                if words is not None and words.end() == end - start:
                    return LabReading(" ".join(words["word"].lower().split()), None, end)
            continue
        comparator = _comparator(cell["cmp"])
        if unit_cell is None:
            found = reading(text, start, end, cell["num"], comparator, cell.end("num"), lab)
        else:
            row = f"{cell['num']} {unit_cell}"
            found = reading(row, 0, len(row), cell["num"], comparator, len(cell["num"]), lab)
            if found.value is not None and found.unit is not None:
                end = max(end, unit_end)  # the fact spans its unit, names in it ("mg/g creat") too
        return LabReading(found.value, found.unit, end, found.trusted)
    # No result on the row but an earlier one beside it: the row has no result to read further on.
    return PREVIOUS_ONLY if previous else None


# A coded name (a GP system's print, an order catalogue) ends with its code in brackets: a SNOMED
# CT concept id ("Serum sodium level (1000661000000107)  140 mmol/L") or a LOINC code ("(2951-2)").
# The result is read after the code, past whatever words the long name has ("eGFR using creatinine
# (CKD-EPI) per 1.73 square metres (1011481000000105)   73").
CODED_NAME_END = re.compile(r"[^\n]{0,100}?[(\[](?:\d{6,18}|\d{3,6}-\d)[)\]]")
