"""Lab results exported as CSV in long format (a patient portal's "Download (CSV)"): one quoted
row per component under a header row that names the columns.

A CSV export is structured data, so it is read by its header, never by prose rules: the name,
value, unit, date and status columns are found by their header names, each row is split by the
``csv`` module (commas inside quotes, doubled quotes), and a row whose status or value says it was
not done ("Canceled") gives no result. The comment and reference-range columns are never values
(a threshold, a goal or a previous result quoted there), so the whole table is hidden from the
prose reading. One reason to change: how a CSV export's columns are recognised and read.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from medupload.pipeline.assertions import Flags
from medupload.pipeline.dates import find_dates
from medupload.pipeline.mentions import Mention, find_mentions
from medupload.pipeline.vocabulary import vocabulary

__all__ = ["CsvResult", "csv_mentions", "read_csv_results"]

_NAME_HEADERS = {"component", "test", "test name", "analyte", "result name", "component name", "observation"}
_VALUE_HEADERS = {"value", "result", "result value", "observed value"}
_UNIT_HEADERS = {"units", "unit", "result units", "result unit"}
_DATE_HEADERS = {"collection date", "collected", "date collected", "specimen date", "result date", "date"}
_STATUS_HEADERS = {"result status", "status"}
_CONTEXT_HEADERS = {"order name", "order", "panel", "specimen", "specimen type"}
_NOT_DONE = re.compile(r"cancel|not done|not performed|deleted|entered in error|pending", re.IGNORECASE)
_QUALITATIVE = re.compile(
    r"(?:negative|positive|nil|trace|detected|not detected|reactive|non-reactive|normal|abnormal)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CsvResult:
    name: str  # the name column's text, as printed
    name_start: int
    name_end: int
    context: str  # the order/specimen columns ("... RANDOM URINE"): which specimen the name is of
    value: str
    unit: str | None
    date: str | None  # ISO, from the row's date column
    table_start: int
    table_end: int


def _field_spans(line: str, offset: int) -> list[tuple[int, int]]:
    """Each field's text span (inside its quotes) in one CSV line, for the offsets ``csv`` omits."""
    spans = []
    pos = 0
    while pos <= len(line):
        if pos < len(line) and line[pos] == '"':
            end = pos + 1
            while True:
                end = line.find('"', end)
                if end < 0:
                    return []
                if line.startswith('""', end):
                    end += 2
                    continue
                break
            spans.append((offset + pos + 1, offset + end))
            pos = end + 1
        else:
            end = line.find(",", pos)
            end = len(line) if end < 0 else end
            spans.append((offset + pos, offset + end))
            pos = end
        if pos >= len(line) or line[pos] != ",":
            break
        pos += 1
    return spans


def _iso(field: str, today: date) -> str | None:
    """The field's date, ISO: the dates module reads every form a date is written in."""
    found = find_dates(field, today)
    return found[0].value.isoformat() if found else None


def _column(header: list[str], names: set[str]) -> int | None:
    return next((n for n, h in enumerate(header) if h.strip().lower() in names), None)


def read_csv_results(text: str, today: date) -> list[CsvResult]:
    """Every result row of each CSV table in ``text`` whose header names a name and a value column."""
    if text.count('","') < 3:
        return []
    lines: list[tuple[int, str]] = []
    pos = 0
    for line in text.split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1
    results: list[CsvResult] = []
    n = 0
    while n < len(lines):
        start, line = lines[n]
        n += 1
        if line.count(",") < 3:
            continue
        header = next(csv.reader([line]))
        name_col, value_col = _column(header, _NAME_HEADERS), _column(header, _VALUE_HEADERS)
        if name_col is None or value_col is None:
            continue
        unit_col, date_col = _column(header, _UNIT_HEADERS), _column(header, _DATE_HEADERS)
        status_col = _column(header, _STATUS_HEADERS)
        context_cols = [i for i, h in enumerate(header) if h.strip().lower() in _CONTEXT_HEADERS]
        rows: list[tuple[int, str, list[str]]] = []
        while n < len(lines) and lines[n][1].strip():
            row_start, row_line = lines[n]
            fields = next(csv.reader([row_line]))
            if len(fields) != len(header):
                break
            rows.append((row_start, row_line, fields))
            n += 1
        table_end = rows[-1][0] + len(rows[-1][1]) if rows else start + len(line)
        for row_start, row_line, fields in rows:
            value = fields[value_col].strip()
            status = fields[status_col] if status_col is not None else ""
            if not value or _NOT_DONE.search(value) or _NOT_DONE.search(status):
                continue  # "Canceled": the test was not done
            if not any(c.isdigit() for c in value) and not _QUALITATIVE.fullmatch(value):
                continue  # "Fasting","Yes": an answer at order entry, no result
            spans = _field_spans(row_line, row_start)
            if len(spans) != len(header):
                continue
            name_start, name_end = spans[name_col]
            unit = fields[unit_col].strip() if unit_col is not None else ""
            results.append(
                CsvResult(
                    name=fields[name_col],
                    name_start=name_start,
                    name_end=name_end,
                    context=" ".join(fields[i] for i in context_cols),
                    value=value,
                    unit=unit or None,
                    date=_iso(fields[date_col], today) if date_col is not None else None,
                    table_start=start,
                    table_end=table_end,
                )
            )
    return results


def csv_mentions(results: Sequence[CsvResult], with_base: bool) -> list[Mention | None]:
    """Each row's lab mention on its name column (matched on its own), the urine test where the
    name or its order names urine; None where the name is no lab the vocabulary knows."""
    vocab = vocabulary(with_base)
    out: list[Mention | None] = []
    for result in results:
        found = [m for m in find_mentions(result.name, with_base) if m.kind == "lab"]
        if not found:
            out.append(None)
            continue
        concept = found[0].concepts[0]
        lab = vocab.labs.get(concept.concept)
        specimen = f"{result.name} {result.context}".lower()
        if lab is not None and lab.urine is not None and "urine" in specimen:
            concept = vocab.concepts[vocab.lab_concepts[lab.urine]]
        span = (result.name_start, result.name_end)
        out.append(Mention((concept,), False, *span, "results", Flags(), result.name))
    return out
