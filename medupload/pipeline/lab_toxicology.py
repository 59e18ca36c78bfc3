"""Drug-screen tables (urine drug testing, medication monitoring): a drug's row is a result, not a
medication. Only inside such a table: a heading names a screen or a confirmation
("PRESUMPTIVE SCREEN (Immunoassay)", "DEFINITIVE (LC-MS/MS)", "DRUG SCREEN", "CONFIRMATION") and
its header row has a Result column. Each row's word (POS/NEG, Positive, Detected, ...) is the
result; a confirmation's concentration (under a "Conc" header) is a second result with the
header's unit; the cut-off and consistency columns are never values. A screen's test is
"urine <drug> screen", a confirmation's "urine <drug>" (the specimen named in the report).

One reason to change: how a drug-screen table is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from medupload.pipeline.assertions import Flags
from medupload.pipeline.mentions import Mention
from medupload.pipeline.vocabulary import Concept

_HEADING = re.compile(
    r"^[ \t]*(?P<title>[^\n]*?\b(?P<kind>presumptive|screen(?:ing)?|immunoassay|definitive|confirmat\w*"
    r"|lc-?ms(?:/ms)?|gc-?ms|drug[ \t]+screen|toxicology)\b[^\n]*?)[ \t]{2,}(?P<columns>result\b[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_CONFIRMATION = re.compile(r"definitive|confirmat|lc-?ms|gc-?ms|quantitat", re.IGNORECASE)
_WORD = r"(?:POS(?:ITIVE)?|NEG(?:ATIVE)?|(?:NOT[ \t]+|NONE[ \t]+)?DETECTED|PRESUMPTIVE[ \t]+POSITIVE|ND)"
_ROW = re.compile(
    r"^(?P<indent>[ \t]+)(?P<name>[A-Za-z][\w ,/()'.-]*?)[ \t]*(?:\([^()\n]*\))?[ \t]{2,}"
    r"(?P<word>" + _WORD + r")\b(?P<rest>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_CONCENTRATION = re.compile(r"[<>]?[ \t]*\d+(?:\.\d+)?")
_CONC_HEADER = re.compile(r"\bconc\w*\.?[ \t]*(?P<unit>[a-zµμ]+/[a-z]+)?", re.IGNORECASE)
_CELL = re.compile(r"\S+(?:[ ]\S+)*")
_URINE = re.compile(r"\burin\w*", re.IGNORECASE)


@dataclass(frozen=True)
class DrugResult:
    name: str  # the drug as printed, without a parenthetical ("Cannabinoids (THC)" -> "Cannabinoids")
    name_start: int
    name_end: int
    concept: str  # "urine buprenorphine screen", "urine buprenorphine"
    value: str
    unit: str | None
    row_start: int
    row_end: int


def read_drug_tables(text: str) -> list[DrugResult]:
    """Every row of every drug-screen table in ``text``."""
    results: list[DrugResult] = []
    for heading in _HEADING.finditer(text):
        confirmation = _CONFIRMATION.search(heading.group("title")) is not None
        columns_at = heading.start("columns") - (text.rfind("\n", 0, heading.start()) + 1)
        conc = _CONC_HEADER.search(heading.group("columns"))
        conc_x = columns_at + conc.start() if conc is not None and confirmation else None
        unit = conc.group("unit") if conc is not None else None
        specimen = "urine " if _URINE.search(text, 0, heading.start()) else ""
        position = heading.end() + 1
        while position < len(text):
            line_end = text.find("\n", position)
            line_end = len(text) if line_end == -1 else line_end
            row = _ROW.match(text, position, line_end)
            if row is None:
                break  # the table ends at its first line that is no drug row
            name = row.group("name").strip()
            drug = re.sub(r"[ \t]+", " ", name.lower())
            concept = f"{specimen}{drug}" + ("" if confirmation else " screen")
            name_start = row.start("name")
            common = (name, name_start, name_start + len(name), concept)
            results.append(DrugResult(*common, row.group("word"), None, position, line_end))
            if conc_x is not None:
                for cell in _CELL.finditer(row.group("rest")):
                    x = row.start("rest") + cell.start() - position
                    if abs(x - conc_x) <= 3 and _CONCENTRATION.fullmatch(cell.group()):
                        value = cell.group().replace(" ", "")
                        results.append(DrugResult(*common, value, unit, position, line_end))
            position = line_end + 1
    return results


def drug_mentions(results: Sequence[DrugResult]) -> list[Mention]:
    """Each row's result as a lab mention on the drug's printed name."""
    return [
        Mention(
            (Concept("lab", r.concept, None, None),),
            False,
            r.name_start,
            r.name_end,
            "results",
            Flags(),
            r.name,
        )
        for r in results
    ]
