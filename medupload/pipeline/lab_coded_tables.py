"""Result tables with a code column (a hospital LIS print): "No  代号  项目名称  结果  参考范围  单位",
or "Code  Test  Result  Unit  Reference", possibly printed twice side by side on one line, split by
"|" ("... 单位 | No 代号 项目名称 结果 ..."). The header says which column is what, so each row is
read by column: the name cell is the fact's span, its test the one the name (or else the code)
names; the result cell is the value without its flag (↑ ↓ H L *); the unit cell is the unit. Row
numbers, codes, ranges and flags are never values. Columns are found by their printed position
(a CJK character takes two columns), so a side-by-side table's halves are read apart.

One reason to change: how a coded result table is read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from medupload.pipeline.assertions import Flags
from medupload.pipeline.mentions import Mention
from medupload.pipeline.vocabulary import Concept

_HEADER_WORDS: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"no\.?|#|序号|nr\.?", re.IGNORECASE),
    "code": re.compile(r"代号|代码|缩写|英文缩写|code|abbr\.?|kod|código|codigo", re.IGNORECASE),
    "name": re.compile(
        r"项目名称|项目|检验项目|test(?:[ ]name)?|analyte|name|examen|prueba|analys|estudio", re.IGNORECASE
    ),
    "result": re.compile(r"结果|检验结果|results?|resultat|resultado|résultat|wert|befund", re.IGNORECASE),
    "unit": re.compile(r"单位|units?|unidad(?:es)?|unité|enhet|einheit", re.IGNORECASE),
    "range": re.compile(
        r"参考范围|参考值|参考区间|ref(?:erence)?(?:[ ](?:range|interval))?|range|rango", re.IGNORECASE
    ),
    "flag": re.compile(r"提示|标志|flags?|markering", re.IGNORECASE),
}
_CELL = re.compile(r"\|(?!\S)|[^\s|](?:(?! {2}|\t|\|)[^\n])*")
_FLAG = re.compile(r"[ \t]*(?:[↑↓]+|\b[HL]\b|\*+)[ \t]*")
_RANGE = re.compile(r"\d+(?:[.,]\d+)?[ \t]*[-–~][ \t]*\d")
_RULE = re.compile(r"[ \t]*[-=_]{5,}[ \t]*$")


@dataclass(frozen=True)
class _Cell:
    x: int  # printed column
    start: int  # offset in the text
    end: int
    text: str


@dataclass(frozen=True)
class CodedRow:
    name: str
    name_start: int
    name_end: int
    code_start: int  # the code cell's span (-1 when the row has none)
    code_end: int
    value: str
    unit: str | None
    line_start: int
    line_end: int


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1


def _cells(text: str, start: int, end: int) -> list[_Cell]:
    cells = []
    x = 0
    position = start
    for match in _CELL.finditer(text, start, end):
        x += sum(_width(c) for c in text[position : match.start()])
        cells.append(_Cell(x, match.start(), match.end(), match.group().strip()))
        x += sum(_width(c) for c in match.group())
        position = match.end()
    return cells


def _header(cells: list[_Cell]) -> list[tuple[int, str]] | None:
    """The columns (printed x, kind) of a header line, or None when the line is no coded header."""
    columns = []
    for cell in cells:
        if cell.text == "|":
            columns.append((cell.x, "divider"))
            continue
        kind = next((k for k, pattern in _HEADER_WORDS.items() if pattern.fullmatch(cell.text)), None)
        if kind is None:
            return None
        columns.append((cell.x, kind))
    kinds = [kind for _, kind in columns]
    if not {"code", "name", "result"} <= set(kinds):
        return None
    return columns


def _column(columns: list[tuple[int, str]], x: int) -> int:
    """The column a cell starting at printed ``x`` is under (the last header starting at or before
    it, a little slack for right-aligned numbers)."""
    found = 0
    for index, (column_x, _) in enumerate(columns):
        if column_x <= x + 1:
            found = index
    return found


def read_coded_tables(text: str) -> list[CodedRow]:
    """Every row of every coded result table in ``text``."""
    if not any(pattern.search(text) for pattern in (_HEADER_WORDS["code"],)):
        return []
    rows: list[CodedRow] = []
    lines = []
    offset = 0
    for line in text.split("\n"):
        lines.append((offset, offset + len(line)))
        offset += len(line) + 1
    columns: list[tuple[int, str]] | None = None
    read = 0  # rows read under the current header
    for start, end in lines:
        if start == end or (_RULE.match(text, start, end) and read):
            columns = None  # a blank line or a rule under the rows ends the table
            continue
        cells = _cells(text, start, end)
        header = _header(cells)
        if header is not None:
            columns, read = header, 0
            continue
        if columns is None:
            continue
        found = _row(cells, columns, start, end)
        read += len(found)
        rows.extend(found)
    return rows


def _row(cells: list[_Cell], columns: list[tuple[int, str]], start: int, end: int) -> list[CodedRow]:
    halves: dict[int, dict[str, _Cell]] = {}
    for cell in cells:
        if cell.text == "|":
            continue
        index = _column(columns, cell.x)
        half = sum(1 for x, kind in columns[:index] if kind == "divider")
        halves.setdefault(half, {}).setdefault(columns[index][1], cell)
    out = []
    for half in halves.values():
        name = half.get("name") or half.get("code")
        result = half.get("result")
        if name is None or result is None:
            continue
        value = _FLAG.sub(" ", result.text).strip()
        if not value or _RANGE.match(value) or not re.search(r"\w", value):
            continue
        code = half.get("code")
        unit = half.get("unit")
        out.append(
            CodedRow(
                name.text,
                name.start,
                name.start + len(name.text),
                code.start if code is not None else -1,
                code.start + len(code.text) if code is not None else -1,
                value,
                unit.text if unit is not None else None,
                start,
                end,
            )
        )
    return out


def coded_mentions(rows: Sequence[CodedRow], mentions: Sequence[Mention]) -> list[Mention]:
    """Each row as a lab mention on its name cell: the lab its name names, else its code's."""
    out = []
    for row in rows:
        concept = None
        for start, end in ((row.name_start, row.name_end), (row.code_start, row.code_end)):
            named = [m for m in mentions if m.kind == "lab" and start <= m.start < end]
            if named:
                concept = named[0].concepts[0]
                break
        concept = concept or Concept("lab", row.name.lower(), None, None)
        out.append(Mention((concept,), False, row.name_start, row.name_end, "results", Flags(), row.name))
    return out
