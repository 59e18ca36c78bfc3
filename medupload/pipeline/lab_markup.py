"""A report's layout marks rewritten to plain rows, with the text's length unchanged.

One reason to change: how a converted or scanned report's marks that hide a plain row are undone
before any lab is read. Markdown's bold (``**118**``), a Markdown pipe row whose cells hold two
rows merged with ``<br>`` (the n-th part of each cell is the n-th row), a handwritten form's
blanks (``Hb: __11.6__``, with a corrected value after a superseded one: ``K+: _5.8_ _4.9_``),
and a PDF's column stream (every name, then every result, then every unit, one a line). Every
rewrite keeps the text's length, so offsets outside a rewritten row (dates, OCR confidences)
still hold.
"""

from __future__ import annotations

import itertools
import re

from medupload.pipeline.email_text import plain_email
from medupload.pipeline.lab_wrapped import joined_names
from medupload.pipeline.mentions import Mention

__all__ = ["Moves", "code_before_name", "original_span", "plain_layout"]

# A colon between a name and its value with no space ("Ferritin:8ng/mL", an OCR'd form): a space.
_GLUED_COLON = re.compile(r"(?<=[A-Za-z)]):(?=[<>]?\d)")
_BOLD = re.compile(r"\*\*(?=\S)([^*\n]{1,80}?)\*\*")
# A handwritten blank around a value: "__11.6__", "_96_"; two filled blanks in a row are a
# correction, the last one the result ("_5.8_ _4.9_ mmol/L (rpt - 1st sample haemolysed)").
_BLANK_VALUE = re.compile(r"(?<![\w_])_{1,8}([<>]?\d[\d.,]*)_{1,8}(?![\w_])")
_SUPERSEDED = re.compile(r"(?<![\w_])_{1,8}[<>]?\d[\d.,]*_{1,8}(?=[ \t]+_{1,8}[<>]?\d[\d.,]*_{1,8}(?![\w_]))")
_PIPE_ROW = re.compile(r"^[ \t]*\|.*<br\s*/?>.*\|[ \t]*$", re.MULTILINE | re.IGNORECASE)
# A Markdown row's outer bars are furniture: "| Glucose |" reads as a drug name's "I Glucose".
_OUTER_BARS = re.compile(r"^([ \t]*)\|(?=[^|\n]*\|)(.*)\|([ \t]*)$", re.MULTILINE)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
# A column stream's header words, each alone on its line, in the order a PDF printed them.
_NAME_HEAD = re.compile(r"^(?:test|investigation|analyte|test name)[ \t]*$", re.IGNORECASE)
_RESULT_HEAD = re.compile(r"^(?:results?|value)[ \t]*$", re.IGNORECASE)
_UNIT_HEAD = re.compile(r"^units?[ \t]*$", re.IGNORECASE)
_FLAG_HEAD = re.compile(r"^flags?[ \t]*$", re.IGNORECASE)
_RANGE_HEAD = re.compile(r"^(?:reference|ref\.?)(?:[ \t]+(?:range|interval|values?))?[ \t]*$", re.IGNORECASE)
_STREAM_VALUE = re.compile(r"^[<>]?\d[\d.,]*$|^[A-Za-z][A-Za-z ]{0,20}$")
_STREAM_NUMBER = re.compile(r"^[<>]?\d[\d.,]*$")


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


def _unbold(match: re.Match[str], moves: Moves) -> str:
    """``**118**`` as ``118`` and four spaces: a cell's value stays where a cell's value starts."""
    moves.append((match.start(), match.start() + len(match.group(1)), match.start(1)))
    return match.group(1) + "    "


def _unblank(match: re.Match[str]) -> str:
    inner = match.group(1)
    left = match.start(1) - match.start()
    return " " * left + inner + " " * (match.end() - match.end(1))


Moves = list[tuple[int, int, int]]  # (start, end) in the plain text, and where it started in the input


def _split_row(row: str, at: int, moves: Moves) -> str:
    """``| A<br>B | 52<br>190 |`` as ``| A | 52 |`` and ``| B | 190 |``, padded to its length."""
    bounds = [m.start() for m in re.finditer(r"\|", row)]
    cells = [(a + 1, b) for a, b in itertools.pairwise(bounds)]
    parts: list[list[tuple[str, int]]] = []  # each cell's parts and where each starts in ``row``
    for a, b in cells:
        cuts = [a] + [m.end() for m in _BR.finditer(row, a, b)]
        ends = [m.start() for m in _BR.finditer(row, a, b)] + [b]
        cell = []
        for c, e in zip(cuts, ends, strict=True):
            piece = row[c:e]
            cell.append((piece.strip(), c + len(piece) - len(piece.lstrip())))
        parts.append(cell)
    depth = max(len(p) for p in parts)
    if depth < 2 or any(len(p) not in {1, depth} for p in parts):
        return row  # merged cells that do not line up: left as printed
    lines = []
    placed: Moves = []
    offset = 0
    for n in range(depth):
        line = "|"
        for cell in parts:
            word, origin = cell[n] if len(cell) == depth else (cell[0] if n == 0 else ("", 0))
            line += " "
            if word:
                placed.append((at + offset + len(line), at + offset + len(line) + len(word), at + origin))
            line += word + " |"
        lines.append(line)
        offset += len(line) + 1
    joined = "\n".join(lines)
    if len(joined) > len(row):
        return row
    moves.extend(placed)
    return joined + " " * (len(row) - len(joined))


def _column(lines: list[str], at: int) -> tuple[list[str], int]:
    """The entries below a column's header line ``at``, up to the next header word."""
    entries = []
    i = at + 1
    while i < len(lines):
        line = lines[i].strip()
        if (
            any(h.match(line) for h in (_NAME_HEAD, _RESULT_HEAD, _UNIT_HEAD, _FLAG_HEAD, _RANGE_HEAD))
            or not line
        ):
            break
        entries.append(line)
        i += 1
    return entries, i


def _stream_rows(text: str, moves: Moves) -> str:
    """A column stream (``Test`` / names / ``Result`` / values / ``Flag`` ... / ``Units`` / units)
    as one row per test: the n-th name with the n-th result (and unit, when every row has one)."""
    lines = text.split("\n")
    starts = [0]  # each line's offset in ``text``; a rewritten block keeps its length and lines
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    i = 0
    while i < len(lines):
        if not _NAME_HEAD.match(lines[i].strip()):
            i += 1
            continue
        names, j = _column(lines, i)
        if not names or j >= len(lines) or not _RESULT_HEAD.match(lines[j].strip()):
            i += 1
            continue
        results, k = _column(lines, j)
        if len(results) != len(names) or not all(_STREAM_VALUE.match(r) for r in results):
            i += 1
            continue
        if not any(_STREAM_NUMBER.match(r) for r in results):
            i += 1
            continue
        end = k  # the rows end where the result column does, or after the units
        units: list[str] = []
        m = k
        if m < len(lines) and _FLAG_HEAD.match(lines[m].strip()):
            flags, m = _column(lines, m)
            if len(flags) > len(names):
                m = -1
        if 0 <= m < len(lines) and _UNIT_HEAD.match(lines[m].strip()):
            found, after = _column(lines, m)
            if len(found) == len(names):
                units, end = found, after
        block = "\n".join(lines[i:end])
        rows = [
            " ".join(filter(None, (n, r, units[x] if units else "")))
            for x, (n, r) in enumerate(zip(names, results, strict=True))
        ]
        # Padding goes as blank lines (a row stays one line): the block keeps its count of lines.
        new_lines = rows + [""] * (end - i - len(rows))
        extra = len(block) - len("\n".join(new_lines))
        if extra < 0:
            i += 1
            continue
        new_lines[-1] += " " * extra
        columns = [(names, i + 1), (results, j + 1)] + ([(units, end - len(units))] if units else [])
        row_at = starts[i]
        for x in range(len(rows)):
            col_at = row_at
            for entries, first in columns:
                line = lines[first + x]
                origin = starts[first + x] + len(line) - len(line.lstrip())
                moves.append((col_at, col_at + len(entries[x]), origin))
                col_at += len(entries[x]) + 1
            row_at += len(rows[x]) + 1
        lines[i:end] = new_lines
        i = end
    return "\n".join(lines)


# A report printed one block per exam: the exam's name alone on a line in capitals, its specimen
# and method lines, then "Resultado: 104 mg/dL" (a Brazilian laudo; "Result:", "Hasil:").
_EXAM_HEAD = re.compile(
    r"^([A-ZÀ-Ý][A-ZÀ-Ý0-9 ,/'-]{1,60}?)[ \t]*(?:\([^()\n]{0,30}\)|[ \t]-[ \t].*)?[ \t]*$"
)
_RESULT_LINE = re.compile(
    r"^[ \t]*(?:resultado|result|hasil|uitslag|résultat|ergebnis)[ \t]*:[ \t]*([<>]?\d[\d.,]*(?:[ \t]+\S+)?)",
    re.IGNORECASE,
)
_BLOCK_RULE = re.compile(r"^[ \t]*(?:[_=-][ \t]*){5,}$")


def _exam_results(text: str, moves: Moves) -> str:
    """Each exam block's ``Resultado:`` read as a row of the exam's name: the name written over
    the word "Resultado" when it fits, else the value after the name on the name's line."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    for i, line in enumerate(lines):
        head = _EXAM_HEAD.match(line)
        if head is None or (i and lines[i - 1].strip() and not _BLOCK_RULE.match(lines[i - 1])):
            continue  # a block's name follows a blank line or a rule
        for k in range(i + 1, min(i + 8, len(lines))):
            if _BLOCK_RULE.match(lines[k]) or (_EXAM_HEAD.match(lines[k]) and lines[k].strip()):
                break
            result = _RESULT_LINE.match(lines[k])
            if result is None:
                continue
            name, value = head.group(1), result.group(1)
            row = f"{name} {value}"
            if len(name) < result.start(1):  # the name written over "Resultado:"
                moves.append((starts[k], starts[k] + len(name), starts[i]))
                lines[k] = name + " " * (result.start(1) - len(name)) + lines[k][result.start(1) :]
                break
            if len(row) > len(line):
                break
            moves.append((starts[i] + len(name) + 1, starts[i] + len(row), starts[k] + result.start(1)))
            lines[i] = row + " " * (len(line) - len(row))
            lines[k] = " " * len(lines[k])
            break
    return "\n".join(lines)


# A differential printed slash-grouped: "Basofil/Eosinofil/Batang/Segmen/Limfosit/Monosit" over
# "0/3/2/62/26/7  0-1/1-3/2-6/50-70/20-40/2-8  %": the n-th name's result is the n-th number.
_SLASH_NAMES = re.compile(r"^[ \t]*([A-Za-zÀ-ÿ][\w .#%-]{0,30}(?:/[A-Za-zÀ-ÿ][\w .#%-]{0,30}){2,11})[ \t]*$")
_SLASH_VALUES = re.compile(r"^[ \t]*(\d+(?:[.,]\d+)?(?:/\d+(?:[.,]\d+)?){2,11})(?=[ \t]|$)")
_SLASH_UNIT = re.compile(r"[ \t](%|/[a-zA-Zµ]+|10\^\d+/[a-zA-Zµ]+)(?=[ \t]|$)")


def _slash_groups(text: str, moves: Moves) -> str:
    """A slash-grouped name line and value line as one row per name (the ranges dropped)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    pieces: list[tuple[int, int, str]] = []  # (start, end, same-length replacement)
    for i in range(len(lines) - 1):
        names_line, values_line = lines[i], lines[i + 1]
        names = _SLASH_NAMES.match(names_line)
        values = _SLASH_VALUES.match(values_line) if names is not None else None
        if names is None or values is None:
            continue
        name_parts = names.group(1).split("/")
        value_parts = values.group(1).split("/")
        if len(name_parts) != len(value_parts):
            continue
        unit = _SLASH_UNIT.search(values_line, values.end())
        at, rows, placed, offset = starts[i], [], [], 0
        name_at, value_at = names.start(1), values.start(1)
        for name, value in zip(name_parts, value_parts, strict=True):
            row = f"{name.strip()} {value}" + (f" {unit.group(1)}" if unit is not None else "")
            lead = len(name) - len(name.lstrip())
            placed.append((at + offset, at + offset + len(name.strip()), at + name_at + lead))
            value_start = at + offset + len(name.strip()) + 1
            placed.append((value_start, value_start + len(value), starts[i + 1] + value_at))
            rows.append(row)
            offset += len(row) + 1
            name_at += len(name) + 1
            value_at += len(value) + 1
        block = "\n".join(rows)
        width = starts[i + 2] - 1 - at
        if len(block) > width:
            continue
        moves.extend(placed)
        pieces.append((at, at + width, block + " " * (width - len(block))))
    for start, end, replacement in reversed(pieces):
        text = text[:start] + replacement + text[end:]
    return text


def plain_layout(text: str) -> tuple[str, Moves]:
    """``text`` with wrapped names joined, and bold marks, handwritten blanks, ``<br>``-merged pipe
    rows and column streams made plain rows, the same length as ``text``; and where each moved
    word was in ``text``."""
    text, moves = plain_email(text)  # a forwarded e-mail: quoted-printable decoded, "> " marks blanked
    text = joined_names(text)  # "Alkaline" / "Phosphatase   188": a name wrapped in its cell
    if ":" in text:
        text = _GLUED_COLON.sub(" ", text)  # "Ferritin:8ng/mL": the name and its value one word
    if "**" in text:
        text = _BOLD.sub(lambda m: _unbold(m, moves), text)
    if "_" in text:
        text = _SUPERSEDED.sub(_blank, text)
        text = _BLANK_VALUE.sub(_unblank, text)
    if "<br" in text.lower():
        text = _PIPE_ROW.sub(lambda m: _split_row(m.group(), m.start(), moves), text)
    if "|" in text:
        text = _OUTER_BARS.sub(lambda m: f"{m.group(1)} {m.group(2)} {m.group(3)}", text)
    if "\nResult" in text or "\nresult" in text.lower():
        text = _stream_rows(text, moves)
    if "/" in text:
        text = _slash_groups(text, moves)
    if _RESULT_LINE.search(text) is not None or re.search(
        r"(?im)^[ \t]*(?:resultado|result|hasil)[ \t]*:", text
    ):
        text = _exam_results(text, moves)
    return text, moves


def original_span(moves: Moves, start: int, end: int) -> tuple[int, int]:
    """Where the span ``start``-``end`` of the plain text was in the input: each end on the word
    it falls in (a moved word at its printed place)."""

    def back(at: int) -> int:
        return next((origin + at - a for a, b, origin in moves if a <= at < b), at)

    first = back(start)
    last = back(end - 1) + 1 if end > start else first
    return (first, last) if last > first else (first, first + (end - start))


def code_before_name(text: str, mentions: list[Mention], i: int) -> bool:
    """Whether mention ``i`` is a lab's memo code printed before the same lab's name ("CHOL
    Cholesterol totaal 4,8", "TSH  TSH 2,1" in a GP journal): the row's result is the name's."""
    m = mentions[i]
    if i + 1 >= len(mentions) or m.kind != "lab" or not m.matched.isupper():
        return False
    following = mentions[i + 1]
    if following.kind != "lab" or following.concepts[0].concept != m.concepts[0].concept:
        return False
    return text[m.end : following.start].strip(" \t") == "" and following.start > m.end
