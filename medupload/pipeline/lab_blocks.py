"""Lab results printed as vertical key-value blocks, one block per result (an EHR's chart print):

    Test Name ......... Hemoglobin
    Result ............ 11.6         Abnormal Flag: L
    Units ............. g/dL
    Reference Range ... 11.7-15.5
    Prior Result ...... 12.9 (01/12/2024)

The keys say which line is what, so the block is read by its keys: the value is the Result line's
first column, the unit the Units line's; the reference, prior result, status, comment and flag
lines are never values. A result that is a placeholder ("Cancelled - duplicate order", "Not
done", "Pending") has no value. The fact keeps its span on the printed name.

One reason to change: how a keyed block of one result is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from medupload.pipeline.assertions import Flags
from medupload.pipeline.mentions import Mention
from medupload.pipeline.vocabulary import Concept

_KEY_LINE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<key>test[ \t]+name|test|analyte|component|observation"
    r"|result[ \t]+value|result[ \t]+status|result|value|units?"
    r"|reference[ \t]+(?:range|interval)|ref\.?[ \t]+range|normal[ \t]+range|prior[ \t]+result"
    r"|previous[ \t]+result|status|interpretation|comments?|abnormal[ \t]+flag|flag)"
    r"[ \t]*(?:\.{2,}|:)[ \t]*(?P<field>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_NAME_KEYS = frozenset({"test name", "test", "analyte", "component", "observation"})
_RESULT_KEYS = frozenset({"result", "result value", "value"})
_UNIT_KEYS = frozenset({"units", "unit"})
_COLUMN_GAP = re.compile(r"[ \t]{2,}|\t")
_TRAILING_PARENTHESIS = re.compile(r"[ \t]*\([^()\n]*\)[ \t]*$")
# A flag printed with the value ("11.6 L", "*148", "192 ↑"): not part of it.
_VALUE_FLAG = re.compile(
    r"^\*+|[ \t]+(?:[HL]{1,2}|[↑↓]|\*+|high|low|abnormal|critical)$|[↑↓*]+$", re.IGNORECASE
)
_NO_RESULT = re.compile(
    r"^(?:cancel+ed|not[ \t]+(?:done|performed|reported|tested)|pending|in[ \t]+progress|see[ \t]+"
    r"(?:note|comment|below)|tnp|qns|duplicate|test[ \t]+not|specimen[ \t]+(?:rejected|not))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class KeyedResult:
    name: str  # as printed, without a trailing parenthetical ("RPR (Syphilis Screen)" -> "RPR")
    name_start: int
    name_end: int
    value: str | None
    unit: str | None
    block_start: int  # the block's span (its key lines): no other reading is taken inside it
    block_end: int


def _key(match: re.Match[str]) -> str:
    return re.sub(r"[ \t]+", " ", match.group("key").lower())


def _first_column(match: re.Match[str]) -> tuple[str, int]:
    field = match.group("field")
    gap = _COLUMN_GAP.search(field)
    first = field[: gap.start()] if gap else field
    return first.strip(), match.start("field")


def _value(field: str) -> str | None:
    value = _VALUE_FLAG.sub("", field).strip()
    if not value or _NO_RESULT.match(value):
        return None
    return value


def _continued(text: str, end: int, indent: int) -> int:
    """Past the lines that continue a key's field (indented deeper than the keys)."""
    while True:
        line_end = text.find("\n", end + 1)
        line = text[end + 1 : len(text) if line_end == -1 else line_end]
        if not line.strip() or len(line) - len(line.lstrip()) <= indent + 4 or _KEY_LINE.match(line):
            return end
        end = len(text) if line_end == -1 else line_end


# A value alone on the line below an empty "Result:" key, with its unit and a flag after it.
_VALUE_BELOW = re.compile(
    r"\n[ \t]*(?P<value>[<>]?[ \t]*\d+(?:[.,]\d+)?)(?:[ \t]+\(?[HL]{1,2}\)?(?=[ \t]|$))?"
    r"(?:[ \t]*(?P<unit>%|[A-Za-zµ][^\s]*))?(?:[ \t]+[^\n]*)?(?=\n|$)"
)
_FLAG_WORD = re.compile(r"\(?(?:[HL]{1,2}|high|low|abnormal|critical)\)?", re.IGNORECASE)


def _value_below(text: str, end: int) -> tuple[str, str | None, int] | None:
    """The number on the line after ``end`` (a key line with an empty field), the unit after it,
    and its line's end."""
    below = _VALUE_BELOW.match(text, end)
    if below is None or _KEY_LINE.match(text, end + 1):
        return None
    unit = below.group("unit")
    if unit is not None and _FLAG_WORD.fullmatch(unit):
        unit = None
    return below.group("value").replace(" ", ""), unit, below.end()


def keyed_mentions(results: Sequence[KeyedResult], mentions: Sequence[Mention]) -> list[Mention]:
    """Each result as a lab mention on its printed name: the lab a mention at its name names, else
    the printed name (the key says it is a test: "ABO Group", "Antibody Screen")."""
    out = []
    for result in results:
        named = [m for m in mentions if m.kind == "lab" and result.name_start <= m.start < result.name_end]
        concept = named[0].concepts[0] if named else Concept("lab", result.name.lower(), None, None)
        span = (result.name_start, result.name_end)
        out.append(Mention((concept,), False, *span, "results", Flags(), result.name))
    return out


def read_keyed_results(text: str) -> list[KeyedResult]:
    """Every block in ``text`` with a name key and a result key (empty when there is none)."""
    if "result" not in text.lower():
        return []
    results = []
    lines = list(_KEY_LINE.finditer(text))
    for n, line in enumerate(lines):
        if _key(line) not in _NAME_KEYS:
            continue
        name, name_start = _first_column(line)
        if not name:
            continue
        block_end = line.end()
        value = unit = None
        has_result = False
        for following in lines[n + 1 :]:
            block_end = _continued(text, block_end, len(line.group("indent")))
            between = text[block_end : following.start()]
            if between.strip() or between.count("\n") > 1 or _key(following) in _NAME_KEYS:
                break  # a blank line, other text or the next name ends the block
            block_end = following.end()
            key = _key(following)
            if key in _RESULT_KEYS and not has_result:
                has_result = True
                value = _value(_first_column(following)[0])
                if not following.group("field").strip() and (below := _value_below(text, following.end())):
                    value, unit, block_end = below  # "Result:" / "6.8 %   (H)": the value on its own line
            elif key in _UNIT_KEYS and unit is None:
                unit = _first_column(following)[0] or None
        if not has_result:
            continue
        block_end = _continued(text, block_end, len(line.group("indent")))
        shown = _TRAILING_PARENTHESIS.sub("", name) or name
        results.append(
            KeyedResult(shown, name_start, name_start + len(shown), value, unit, line.start(), block_end)
        )
    return results
