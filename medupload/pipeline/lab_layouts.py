"""Where a result sits in a lab report, and which text in it is no result.

Split from labs.py, which reads a value once its place is known: this module changes when a new
report layout is met (cumulative tables with one column per date, a row's name cell, a name alone
on its line with its value below, analyser blocks, the urine or CSF heading a test sits under), or
a new kind of text that looks like a result
but is not (a limit or target in prose, a previous, goal or home reading, a QC run). A header
row that names a result column is read by ``lab_columns``. About 530 lines, kept one module: its
two halves are asked together for every name (is it in a known layout, is the text around it a
result), and each is a list of small, independent rules; a layout read by its structure gets its
own module (``lab_structured`` and the readers it calls).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date

from medupload.pipeline.labs import (
    _DIGIT,
    _REFERENCE_UNIT,
    QUALITATIVE_RE,
    LabReading,
    _comparator,
    read_lab,
    reading,
)
from medupload.pipeline.vocabulary import LabDef, vocabulary

# Columns of a report row: a tab, or two spaces or more.
_CELL_SPLIT = re.compile(r"\t|[ \t]{2,}")


# ---------------------------------------------------------------------------------------------
# The fluid a test is on: urine or CSF, from the sentence or the heading over its table.

# A urinalysis named in the sentence before the test, a count per high-power field after it, or a
# urinalysis heading over the table the row sits in: "glucose", "protein", "WBC" are urine tests.
# "orina"/"urina" (es, it, pt), "idrar" (tr), a dipstick's or sediment's sub-heading ("tira reactiva")
_URINE_WORD = re.compile(
    r"(?i:\burin\w*|\bu/a\b|\b[ou]rina\b|\btira[ \t]+reactiva\b|\b[iİ]drar\b|\bsedimento?\b"
    r"|\bdipstick\b)|\bUA\b"
)
# (tr) "Tam İdrar Tetkiki" (complete urinalysis), a title-case heading
_URINE_TABLE = re.compile(
    r"(?i:specimen[ \t]+validity|urine[ \t]+drug[ \t]+\w+|urinalysis|tam[ \t]+[iİ]drar[ \t]+tetkiki)"
    r"(?:[ \t]+\(.*\))?"
)
_PER_FIELD_AFTER = re.compile(
    r"[^.\n]{0,30}?(?:/[ \t]*hpf\b|per[ \t]+(?:hpf|high[ -]power[ \t]+fields?))", re.IGNORECASE
)
_URINE_AFTER = re.compile(r"[ \t]*[,(]?[ \t]*(?:(?:random|spot|timed|24[- ]?h(?:ou)?r)[ \t]+)?urine\b", re.I)
# A blood panel or specimen named after the urine word, within the sentence: the tests after it
# are the blood's ("a urinalysis that had 0-2 WBCs ..., and chem-7, sodium 134, ... creatinine 0.9").
_BLOOD_AGAIN = re.compile(
    r"\b(?:serum|plasma|chem[- ]?\d{1,2}|chemistr(?:y|ies)|bmp|cmp|metabolic[ \t]+panel|cbc)\b", re.I
)
_SENTENCE_START = re.compile(r"[.;]\s|\n")
_HEADING_LINES = 40


def in_urine_context(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    sentence_start = max([line_start, *(m.end() for m in _SENTENCE_START.finditer(text, line_start, start))])
    urine = None
    for found in _URINE_WORD.finditer(text, sentence_start, start):
        urine = found  # the last urine word before the name
    if (
        (urine is not None and not _BLOOD_AGAIN.search(text, urine.end(), start))
        or _PER_FIELD_AFTER.match(text, end)
        or _URINE_AFTER.match(text, end)
    ):
        return True
    # The nearest heading above (a line of capitals, or ending with ":", with no digits).
    position = line_start
    for _ in range(_HEADING_LINES):
        if position == 0:
            return False
        previous = text.rfind("\n", 0, position - 1) + 1
        line = text[previous : position - 1].strip()
        position = previous
        if not line or _DIGIT.search(line):
            continue
        letters = [c for c in line if c.isalpha()]
        title = _CELL_SPLIT.split(line, 1)[0]  # a table's title before its column names
        if _URINE_TABLE.fullmatch(title):
            return True  # "SPECIMEN VALIDITY     Result   Units": a urine drug test's validity rows
        if line.endswith(":") or (len(letters) >= 4 and all(c.isupper() for c in letters)):
            if _URINE_WORD.search(line):
                return True
            if not _CELL_SPLIT.search(line):
                return False  # another section's heading
            # a row of several cells in capitals ("APPEARANCE   CLOUDY   CLEAR") is the table's
    return False


# Cerebrospinal fluid named earlier in the sentence ("CSF taken on 10/19/94 revealed: 22 WBC, 380 RBC,
# Glucose 58, Protein 29"): the counts and chemistry are the fluid's, with the fluid's ranges.
CSF_TESTS = {
    "total protein": "csf protein",
    "glucose": "csf glucose",
    "white blood cell count": "csf white blood cells",
    "red blood cell count": "csf red blood cells",
}
_CSF_WORD = re.compile(r"\bCSF\b|\b(?:cerebro)?spinal[ \t]+fluid\b|\blumbar[ \t]+puncture\b", re.IGNORECASE)


def in_csf_context(text: str, start: int) -> bool:
    return _fluid_before(text, start, _CSF_WORD)


# Another body fluid named before the test in its sentence ("Synovial fluid 3/12: WBC 68,000, 91%
# PMN"): that fluid's count, which no blood or urine lab stands for.
_OTHER_FLUID_WORD = re.compile(
    r"\b(?:synovial|pleural|peritoneal|ascitic|pericardial|joint)[ \t]+(?:fluid|aspirate)\b"
    r"|\b(?:BAL|bronchoalveolar[ \t]+lavage)\b",
    re.IGNORECASE,
)


def in_other_fluid_context(text: str, start: int) -> bool:
    return _fluid_before(text, start, _OTHER_FLUID_WORD)


def _fluid_before(text: str, start: int, fluid_word: re.Pattern[str]) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    sentence_start = max([line_start, *(m.end() for m in _SENTENCE_START.finditer(text, line_start, start))])
    fluid = None
    for found in fluid_word.finditer(text, sentence_start, start):
        fluid = found  # the last mention of the fluid before the name
    return fluid is not None and not _BLOOD_AGAIN.search(text, fluid.end(), start)


# ---------------------------------------------------------------------------------------------
# Cumulative tables: one result column per date ("Component  11/17/2026  11/18/2026 ... Ref Range").


@dataclass(frozen=True)
class DateColumn:
    start: int  # offsets within the header line
    end: int
    date: str  # ISO


@dataclass(frozen=True)
class DateTable:
    start: int  # the header line's offset in the text
    end: int  # where the next date header starts, or the end of the text
    columns: tuple[DateColumn, ...]


# Between two dates of a header only spaces, a time ("05:40", "0540") or a meridiem.
_HEADER_GAP = re.compile(r"(?:[ \t]+|\d{1,2}:\d\d(?::\d\d)?|\d{4}|[AP]M\b)*", re.IGNORECASE)
_NAME_COLUMN = 8  # a date header's first date starts past the names' column
_FLAG = r"(?:\((?:HH|LL|H|L|A|C)\)|(?:HH|LL|H|L|A|C)\b|\*)"
_CELL = re.compile(
    r"(?:" + _FLAG + r"[ \t]*)?(?P<cmp>[<>]=?[ \t]*)?(?P<num>-?\d+(?:[.,]\d+)?)[ \t]*"
    r"(?:" + _FLAG + r"[ \t]*)?(?:\[\d{1,2}\][ \t]*)?",
    re.IGNORECASE,
)


# A header row labelled "Date" over the result columns, one collection date each ("Date  14/09/26
# 12/11/26  28/11/26", then "Time" and "Request No." rows, as Australian cumulative reports print
# it). Its dates are read together: one whose day is past 12 says the row is day-first.
_LABELLED_HEADER = re.compile(
    r"^[ \t]*(?:date|collected|collection[ \t]+date|date[ \t]+collected)[ \t]*:?[ \t]+"
    r"(?:\d{1,2}[/.]\d{1,2}[/.](?:\d\d){1,2}[ \t]*){2,}$",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER_DATE = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.]((?:\d\d){1,2})\b")


def labelled_header_dates(text: str) -> list[tuple[int, int, str]]:
    """The dates (start, end, ISO) of the header rows labelled "Date" over result columns."""
    found = []
    for header in _LABELLED_HEADER.finditer(text):
        cells = list(_HEADER_DATE.finditer(text, header.start(), header.end()))
        day_first = any(int(c[1]) > 12 for c in cells) and not any(int(c[2]) > 12 for c in cells)
        row = []
        for c in cells:
            day, month = (int(c[1]), int(c[2])) if day_first else (int(c[2]), int(c[1]))
            year = int(c[3]) + (2000 if len(c[3]) == 2 else 0)
            try:
                row.append((c.start(), c.end(), date(year, month, day).isoformat()))
            except ValueError:
                break
        else:
            found.extend(row)
    return found


def date_tables(text: str, dates: list[tuple[int, int, str]]) -> list[DateTable]:
    """Header lines of two or more dates (``dates``: start, end, ISO) with nothing but spaces or
    times between them: each date is a result column for the rows below, up to the next header."""
    by_line: dict[int, list[tuple[int, int, str]]] = {}
    labelled = labelled_header_dates(text)
    for start, end, iso in [*labelled, *(d for d in dates if not any(a <= d[0] < b for a, b, _ in labelled))]:
        by_line.setdefault(text.rfind("\n", 0, start) + 1, []).append((start, end, iso))
    headers = []
    for line_start, found in sorted(by_line.items()):
        found.sort()
        if (
            len(found) < 2
            or len({iso for _, _, iso in found}) < len(found)  # one column per collection date
            or found[0][0] - line_start < _NAME_COLUMN  # the test names' column comes first
            or any(_HEADER_GAP.fullmatch(text, a[1], b[0]) is None for a, b in itertools.pairwise(found))
        ):
            continue  # e.g. a "Collected / Received / Reported" row of dates
        # A column runs from its date to the next one (a value may sit under the time written
        # after the date, "11/17/2026 05:40"); the last one to its date and time.
        line_end = text.find("\n", found[-1][1])
        line_end = len(text) if line_end == -1 else line_end
        last_time = _HEADER_GAP.match(text, found[-1][1], line_end)
        ends = [b[0] - 2 for b in found[1:]] + [last_time.end() if last_time else found[-1][1]]
        columns = tuple(
            DateColumn(s - line_start, max(e, end) - line_start, iso)
            for (s, e, iso), end in zip(found, ends, strict=True)
        )
        headers.append((line_start, _without_previous(text, line_start, columns)))
    return [
        DateTable(start, headers[k + 1][0] if k + 1 < len(headers) else len(text), columns)
        for k, (start, columns) in enumerate(headers)
    ]


# A column heading over a date that names an earlier result ("Current   Previous" over
# "11/20/26   08/14/26"): that column holds the previous result, no result of this report.
_PREVIOUS_HEADING = re.compile(
    r"\b(?:previous|prior|last|earlier|old|anterior|vorwert\w*|précédent\w*|antérieur\w*)\b", re.IGNORECASE
)


def _without_previous(text: str, line_start: int, columns: tuple[DateColumn, ...]) -> tuple[DateColumn, ...]:
    """The date columns, less those under a heading that names a previous result on the line above."""
    if line_start == 0:
        return columns
    above_start = text.rfind("\n", 0, line_start - 1) + 1
    headings = [
        (m.start() - above_start, m.end() - above_start)
        for m in _PREVIOUS_HEADING.finditer(text, above_start, line_start - 1)
    ]
    return tuple(c for c in columns if not any(a < c.end + 1 and b > c.start - 1 for a, b in headings))


def table_at(tables: list[DateTable], position: int) -> DateTable | None:
    return next((t for t in tables if t.start < position < t.end), None)


def date_cells(
    text: str, table: DateTable, start: int, line_start: int, line_end: int
) -> list[tuple[int, int, str]]:
    """The row's cells (text offsets) that sit under one date column each, with that date; a
    cell under no date (the name's qualifier, the reference range) or under two is no result."""
    cells = []
    position = start
    for gap in [*_CELL_SPLIT.finditer(text, start, line_end), None]:
        cell_end = gap.start() if gap is not None else line_end
        if cell_end > position:
            x0, x1 = position - line_start, cell_end - line_start
            under = [c for c in table.columns if x0 < c.end + 1 and x1 > c.start - 1]
            if len(under) == 1:
                cells.append((position, cell_end, under[0].date))
        if gap is not None:
            position = gap.end()
    return cells


def read_cell(text: str, start: int, end: int, lab: LabDef | None) -> LabReading:
    """One table cell as a result: a number with its flags (the unit from the reference column),
    or a qualitative word for a test that has one; ``lab`` None (a drug level) takes any number."""
    cell = _CELL.fullmatch(text, start, end)
    if cell is None:
        if lab is not None and lab.qualitative:
            words = QUALITATIVE_RE.match(text[start:end])
            if words is not None and words.end() == end - start:
                return LabReading(" ".join(words["word"].lower().split()), None, end)
        return LabReading()
    comparator = _comparator(cell["cmp"])
    if lab is None:
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end
        reference = _REFERENCE_UNIT.match(text, cell.end("num"), line_end)
        unit = vocabulary().unit_re.match(text, reference.end(), line_end) if reference else None
        raw = vocabulary().units[unit["unit"].lower()] if unit else None
        return LabReading(comparator + cell["num"], raw.display if raw else None, end)
    found = reading(text, start, end, cell["num"], comparator, cell.end("num"), lab)
    return LabReading(found.value, found.unit, end, found.trusted)


# ---------------------------------------------------------------------------------------------
# A row's name cell, a name alone on its line, a previous result.

# The rest of a row's name cell: text without digits up to the gap before the next column
# ("VITAMIN D,25-OH,TOTAL,IA   19 L", "Lactate, Whole Blood   4.6").
# A dotted leader ends the cell too ("Microalb/Creat Ratio ......... 30").
_NAME_CELL_REST = re.compile(r"[^\t\n\d]{1,40}?(?=\t|[ ]{2,}|[ ]?\.{3,})")


def name_cell_end(text: str, name_start: int, name_end: int) -> int | None:
    """Where a table row's name cell ends, when the name matched only its start; else None."""
    line_start = text.rfind("\n", 0, name_start) + 1
    if text[line_start:name_start].strip():
        return None
    rest = _NAME_CELL_REST.match(text, name_end)
    return rest.end() if rest is not None and rest.group().strip() else None


# A name alone on its line and its value alone on the next (a portal page pasted one cell per
# line: "Hemoglobin A1C" / "6.8 %" / "4.0 - 5.6 %" / "High").
_ALONE_AFTER = re.compile(
    # the name's trailing parenthetical, wrapped or not ("ГСПГ (глобулин, связывающий ...)")
    r"[ \t]*(?:\([^()\n]{0,80}\)[ \t]*)?"
    # a result card's status word on the name's line ("Ferritin        ● NORMAL" / "212 ug/L")
    r"(?:[●○•◉]?[ \t]*\b(?:HIGH|LOW|NORMAL|IN[ \t]RANGE|OUT[ \t]OF[ \t]RANGE|BORDERLINE|OPTIMAL"
    r"|ABNORMAL)[ \t]*)?"
    r":?[ \t]*\n(?:[ \t]*\n)?"  # OCR may leave a blank line between
    # a portal's label lines between the name and its value: the range line is skipped, never read
    # ("Hemoglobin A1C" / "Normal range: 4.0 - 5.6 %" / "Value" / "7.2 %"; "Result:" / "6.8 %")
    r"(?:[ \t]*(?i:(?:normal|standard|reference|ref\.?)[ \t]+(?:range|interval|values?)[ \t]*:[^\n]*"
    r"|(?:your[ \t]+)?(?:value|result)s?[ \t]*:?)[ \t]*\n){0,2}"
)
# A label before a name alone on its line ("Test: Ferritin" / "Result:" / "22 ng/mL").
_NAME_LABEL = re.compile(r"[ \t]*(?:test(?:[ \t]+name)?|component|analyte)[ \t]*:[ \t]*", re.IGNORECASE)
_VALUE_LINE = re.compile(r"[ \t]*(?P<cmp>[<>][ \t]*)?(?P<num>\d+(?:[.,]\d+)?)(?![\d.,])[^\n]*")
_WRAPPED_NAME = re.compile(r"[ \t]*(?:ab|ag|antibod(?:y|ies)|antigen|level|total)\b(?=[ \t]{2,}|\t)", re.I)
_FOOTNOTE = re.compile(r"[ \t]+[a-e](?=[ \t]{2,})")
_FLAG_ONLY = re.compile(
    r"[ \t]*(?:(?:high|low|abnormal|normal|critical|HH|LL|H|L|A)[ \t]*)?"
    # the reference range in its own column ("  >30.8 b  H  pmol/L    2.8 - 6.5")
    r"(?:(?<=[ \t]{2})[<>]?[ \t]*\d+(?:\.\d+)?(?:[ \t]*-[ \t]*\d+(?:\.\d+)?)?[ \t]*)?",
    re.IGNORECASE,
)


def read_value_line(text: str, name_start: int, name_end: int, lab: LabDef) -> LabReading:
    """The value on the line after a name that stands alone on its own, when that line holds only
    the value, its unit and a flag."""
    line_start = text.rfind("\n", 0, name_start) + 1
    alone = _ALONE_AFTER.match(text, name_end)
    labelled = _NAME_LABEL.fullmatch(text, line_start, name_start) is not None
    if (text[line_start:name_start].strip() and not labelled) or alone is None:
        return LabReading()
    next_start = alone.end()
    next_end = text.find("\n", next_start)
    next_end = len(text) if next_end == -1 else next_end
    value = _VALUE_LINE.fullmatch(text, next_start, next_end)
    if value is None:
        # the name's last word wrapped onto the row's line ("Thyroid Peroxidase (TPO)" / " Ab  02  14")
        wrapped = _WRAPPED_NAME.match(text, next_start, next_end)
        if wrapped is None:
            return LabReading()
        return read_lab(text, wrapped.end(), next_end, lab)
    cmp = _comparator(value["cmp"])
    footnote = _FOOTNOTE.match(text, value.end("num"), next_end)  # ">30.8 b": the report's footnote b
    num_end = footnote.end() if footnote is not None else value.end("num")
    found = reading(text, next_start, next_end, value["num"], cmp, num_end, lab)
    if found.value is None or found.end is None or not _FLAG_ONLY.fullmatch(text, found.end, next_end):
        return LabReading()
    return found


# A patient's own reading at home ("home fasting glucose 128", "glucometer readings"): not a lab result.
HOME_BEFORE = re.compile(
    r"\b(?:home|glucometer|self[- ]monitored)(?:[ \t]+(?:fasting|blood|morning|am|pm|capillary))*[ \t]+$",
    re.IGNORECASE,
)
# A goal named before the test ("Target A1c <7%", "goal LDL below 70"): not a result.
GOAL_BEFORE = re.compile(r"\b(?:goal|target|aim)(?:[ \t]+(?:of|for|is))?[ \t]*:?[ \t]+$", re.IGNORECASE)
# A previous result quoted beside the current one ("Previous HbA1c 64 mmol/mol on 02.05.2026"), a
# baseline ("baseline Cr 1.1"), or a pharmacy's dose estimate ("Cockcroft-Gault CrCl = 67 mL/min").
PREVIOUS_BEFORE = re.compile(
    r"(?:\b(?:previous(?:ly)?|prior|vorwert\w*|cockcroft(?:[- ]gault)?|предыдущ\w*)|\([ \t]*baseline)"
    r"(?:[ \t]+(?:reported|result(?:ed)?|value|результат\w*))?[ \t]+$",
    re.IGNORECASE,
)
# A line that lists earlier results under its label ("Tidigare svar: P-Calcium 2,64 mmol/L
# (2026-08-02)", "Previous results: ...", "Vorwerte: ...", "Antériorités : ...").
PREVIOUS_LINE = re.compile(
    r"[ \t]*(?:previous|prior|earlier|tidigare|tidligere|aiemmat|vorwerte?|vorbefunde?|frühere"
    r"|antériorités?|anteriorites?|résultats[ \t]+antérieurs|resultados?[ \t]+anteriore?s?|precedenti"
    r"|geçmiş)"  # (tr) "Geçmiş tetkik (karşılaştırma için): HGB 12.4 g/dL"
    r"(?:[ \t]+(?:results?|values?|svar|resultat|tuloksia?|werte|tetkik(?:ler)?|sonuç(?:lar)?))?"
    r"(?:[ \t]*\([^()\n]{0,24}\))?[ \t]*:"  # "Resultados anteriores (14/03/2025):"
    # (ru) "Предыдущий результат АМГ (12.01.2026): 8,7 нг/мл. Тестостерон общий (...): 2,6"
    r"|[ \t]*предыдущ\w*[ \t]+(?:результат\w*|значени\w*|анализ\w*)\b",
    re.IGNORECASE,
)
# "Last INR 3.4 on 11/16": the last result before this one, quoted with its own date. Without the
# date ("last A1c 7.2") a note may mean the result it reports, so it stays.
LAST_BEFORE = re.compile(r"\blast[ \t]+$", re.IGNORECASE)
DATED_AFTER = re.compile(r"[ \t]*(?:on|from|dated|\()[ \t]*\d{1,4}[/.-]\d{1,2}")
# A threshold a report's comment explains ("Note: A serum folate concentration of less than 3.1
# ng/mL is considered to represent clinical deficiency."): a test named with "a"/"any", a limit
# ("less than", "<"), and a verb that interprets it. Not this patient's result.
INDEFINITE_BEFORE = re.compile(r"\b(?:an?|any)[ \t]+(?:[A-Za-z-]+[ \t]+){0,3}$", re.IGNORECASE)
INTERPRETED_AFTER = re.compile(
    r"\s+(?:(?:is|are|was)\s+)?(?:considered|consistent\s+with|diagnostic|indicative|suggestive|defined"
    r"|represents?|indicates?|suggests?|defines?)\b",
    re.IGNORECASE,
)

# A limit written in prose, not a result: a comparator value ("K >5.5 mmol/L", "ferritin <30 ug/L")
# in a sentence of the same line that sets a condition, a target or a cut-off before the name
# ("if K >5.5 ...", "when Hb is <130 g/L", "Lipid treatment targets (CCS 2021): LDL-C <2.0 ..."),
# or that is followed by what is done or meant at that limit ("... will be phoned", "... indicates").
# A table's "<0.01" in its result column has neither.
_LIMIT_BEFORE = re.compile(
    r"\b(?:if|when|whenever|unless|targets?|goals?|aims?|cut-?offs?|thresholds?|cibles?|objectifs?|si"
    # a report's list of the limits it phones ("Critical limits: Potassium > 6.0 or < 2.8 mmol/L")
    r"|limits?|critical[ \t]+(?:values?|ranges?|levels?)|panic[ \t]+values?|alert[ \t]+values?"
    # a definition's level ("deficiency has been defined ... as a level of serum 25-OH vitamin D < 20")
    r"|defined)\b",
    re.IGNORECASE,
)
_CLAUSE_START = re.compile(r".*(?:[.!?;](?=\s)|^)", re.DOTALL)
_LIMIT_AFTER = re.compile(
    r"[ \t]*(?:(?:is|are|was|will[ \t]+be|should[ \t]+be|must[ \t]+be|to[ \t]+be|be)[ \t]+)?"
    # for whom the limit holds ("> 7,5 mmol/dygn hos män talar för ...", "in women indicates")
    r"(?:(?:in|for|hos|för|bei|chez|en|para)[ \t]+(?:men|women|males|females|adults|children|män|kvinnor"
    r"|vuxna|barn|männern|frauen|hommes|femmes|hombres|mujeres)[ \t]+)?"
    r"(?:phoned|called|telephoned|notified|reported[ \t]+to|referred|flagged|considered|indicates?|suggests?"
    r"|represents?|defines?|consistent[ \t]+with|diagnostic|requires?|warrants?|triggers?|corresponds?"
    # the same verbs in the report languages read here (sv, de, fr, es)
    r"|talar[ \t]+för|tyder[ \t]+på|sprich\w*[ \t]+für|évoque|evoque|suggère|sugiere|indica"
    # (ru) "> 2,0 при сниженном ГСПГ ... может встречаться при СПКЯ": at this level, in this setting
    r"|при|может|указывает|свидетельствует)\b",
    re.IGNORECASE,
)


# "HbA1c 48 mmol/mol or above is consistent with diabetes": a threshold written in words.
_OR_BEYOND = re.compile(
    r"[ \t]*(?:or|and)[ \t]+(?:above|over|more|higher|greater|below|under|less|lower)\b", re.IGNORECASE
)
# "Sputum culture  Specimen rejected - >25 squamous epithelial cells/LPF": the rejection's criterion.
_REJECTED_BEFORE = re.compile(r"\b(?:rejected|unsuitable|not[ \t]+(?:processed|cultured))\b", re.IGNORECASE)


def limit_in_prose(text: str, name_start: int, value: str | None, value_end: int | None) -> bool:
    """Whether a value read after a name is a limit stated in prose (a comparator value after
    "if", a number "or above"), or a sample's rejection criterion, not a result."""
    if not value:
        return False
    line_start = text.rfind("\n", 0, name_start) + 1
    before = text[line_start:name_start]
    if _REJECTED_BEFORE.search(before):
        return True
    if value_end is None:
        return False
    unit_end = vocabulary().unit_re.match(text, value_end, value_end + 20)
    if _OR_BEYOND.match(text, unit_end.end() if unit_end is not None else value_end) is not None:
        return True
    if value[0] not in "<>≤≥":
        return False
    clause = before[_CLAUSE_START.match(before).end() :]  # type: ignore[union-attr]
    label = before.split(":", 1)[0] if ":" in before else ""  # "Critical limits: K > 6.0; Glucose > 450"
    if _LIMIT_BEFORE.search(clause) or _LIMIT_BEFORE.search(label):
        return True
    line_end = text.find("\n", value_end)
    line_end = len(text) if line_end == -1 else line_end
    unit = vocabulary().unit_re.match(text, value_end, line_end)
    after = unit.end() if unit is not None and unit.start() - value_end < 3 else value_end
    return (
        _LIMIT_AFTER.match(text, after, line_end) is not None
        or _LIMIT_AFTER.match(text, value_end) is not None
    )


# A quality-control run printed with the patient's results (an analyser's control slip): the row
# is marked PASS/FAIL against its range, or its block (up to a blank or a rule line) is headed as a
# control ("Afinion 2    CONTROL", "QC", "Level II"). Not the patient's result.
_QC_VERDICT = re.compile(r"\b(?:PASS(?:ED)?|FAIL(?:ED)?)[ \t]*$")
_QC_HEADING = re.compile(
    r"\bCONTROLS?\b|\bQC\b|\bQ\.C\.|(?i:\bquality[ \t]+control\b|\bcontrol[ \t]+(?:level|lot|run)\b)"
    r"|\b[Ll]evel[ \t]+I{1,3}\b"
)
_BLOCK_BREAK = re.compile(r"\n[ \t]*(?:[-=_*]{3,}[^\n]*)?\n")


def quality_control(text: str, name_start: int) -> bool:
    """Whether the row at ``name_start`` is an analyser's quality-control result."""
    line_start = text.rfind("\n", 0, name_start) + 1
    line_end = text.find("\n", name_start)
    line_end = len(text) if line_end == -1 else line_end
    if _QC_VERDICT.search(text, name_start, line_end):
        return True
    breaks = [b.end() for b in _BLOCK_BREAK.finditer(text, 0, line_start)]
    block = text[breaks[-1] if breaks else max(0, line_start - 400) : line_start]
    return any(
        _QC_HEADING.search(line) and not re.search(r"[a-z]{3,}[ \t]+[a-z]{3,}", line)
        for line in block.splitlines()
    )


# A urine dipstick read by an analyser prints its pads as abbreviations ("GLU  NEGATIVE", "PRO  30
# mg/dL", "LEU  TRACE"). They are names only in a dipstick's block (up to a blank or a rule line,
# or at most a dozen lines), never as free words; GLU there is the urine glucose.
DIPSTICK_NAMES = frozenset({"GLU", "BIL", "KET", "SG", "BLO", "PH", "PRO", "URO", "NIT", "LEU"})
_DIPSTICK_WORD = re.compile(
    r"\b(?:dip[ -]?sticks?|dip|multistix|clinitek|chemstrip|combur(?:[ -]?test)?|uristix"
    r"|urine[ \t]+(?:strip|chemistry|analy[sz]er)|urinalysis|u/a)\b",
    re.IGNORECASE,
)
_DIPSTICK_LINES = 12


def in_dipstick_block(text: str, start: int) -> bool:
    """Whether ``start`` is in a block headed by a urine dipstick or its analyser."""
    line_start = text.rfind("\n", 0, start) + 1
    breaks = [b.end() for b in _BLOCK_BREAK.finditer(text, 0, line_start)]
    block_start = breaks[-1] if breaks else 0
    lines = text[block_start:line_start].splitlines()[-_DIPSTICK_LINES:]
    return any(_DIPSTICK_WORD.search(line) for line in lines)


# A lipid analyser's print name ("TRG  189 mg/dL" on a Cholestech cassette) is a name only in a block
# headed by a lipid panel or its analyser: elsewhere TRG is, say, the T-cell receptor gamma gene.
LIPID_PRINT_NAMES = frozenset({"TRG"})
_LIPID_WORD = re.compile(
    r"\b(?:lipids?|lipid[ \t]+(?:profile|panel|cassette)|cholestech|ldx|cholesterol)\b", re.IGNORECASE
)


def in_lipid_block(text: str, start: int) -> bool:
    """Whether ``start`` is in a block headed by a lipid panel or a lipid analyser."""
    line_start = text.rfind("\n", 0, start) + 1
    breaks = [b.end() for b in _BLOCK_BREAK.finditer(text, 0, line_start)]
    lines = text[breaks[-1] if breaks else 0 : line_start].splitlines()[-_DIPSTICK_LINES:]
    return any(_LIPID_WORD.search(line) for line in lines)
