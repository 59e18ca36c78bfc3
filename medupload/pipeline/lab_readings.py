"""A lab's value(s) read after its name in prose and plain tables.

One reason to change: how a named lab's result is read from the text after (or before) its name
once ``extraction`` has decided the name is a lab fact. A pair name's two values ("H&H 12.0/36"),
two joined names' two values ("BUN and creatinine 27 and 1.9"), one value with its unit, its
companions and the later values of a change ("from 5.4 to 6.1"), and a cumulative table row's
dated cells. What is no result of this report (a target, a home reading, a previous value, a
threshold in prose, a quality-control level) reads as no value here. Where a result sits in a
report is ``lab_layouts``; reading one number and its unit is ``labs``.
"""

from __future__ import annotations

import re

from medupload.pipeline.lab_cards import read_card_value
from medupload.pipeline.lab_columns import CODED_NAME_END, PREVIOUS_ONLY, read_result_column
from medupload.pipeline.lab_comment_limits import comment_level
from medupload.pipeline.lab_companions import companion_readings
from medupload.pipeline.lab_layouts import (
    CSF_TESTS,
    DATED_AFTER,
    DIPSTICK_NAMES,
    GOAL_BEFORE,
    HOME_BEFORE,
    INDEFINITE_BEFORE,
    INTERPRETED_AFTER,
    LAST_BEFORE,
    PREVIOUS_BEFORE,
    PREVIOUS_LINE,
    DateTable,
    date_cells,
    in_csf_context,
    in_dipstick_block,
    in_other_fluid_context,
    in_urine_context,
    limit_in_prose,
    name_cell_end,
    quality_control,
    read_cell,
    read_value_line,
    table_at,
)
from medupload.pipeline.labs import (
    BEFORE_RANGE_RE,
    BEFORE_VALUE_RE,
    DATED_NEXT_RE,
    LAB_VALUE_RE,
    PAIR_VALUES_RE,
    PER_FIELDS,
    THEN_VALUE_RE,
    LabReading,
    read_lab,
    read_lab_before,
    read_next_sentence,
    reading,
)
from medupload.pipeline.mentions import LIST_GLUE, Mention
from medupload.pipeline.vocabulary import Concept, LabDef, vocabulary

__all__ = ["LAB_PAIRS", "dated_cells", "grouped_value", "lab_readings", "pair_readings", "skip_parenthesis"]


def skip_parenthesis(text: str, end: int, limit: int) -> int:
    """Past a parenthesis right after a lab name (a method or a reference range)."""
    match = re.compile(r"[ \t]*\([^)\n]{0,40}\)").match(text, end, limit)
    return match.end() if match else end


_COMMA = re.compile(r"[ \t]*,")
# A goal word opening a list of limits ("desirable TC <200, TG <150, LDL <100"): each is a limit.
_GOAL_WORD = re.compile(r"\b(?:desirable|target|goal|aim|optimal)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d.,]*")
_COMPARED = re.compile(r"[<>≤≥]=?[ \t]*$")
# A reading said after its value to be the patient's own ("168 last month at home with glucometer").
_HOME_AFTER = re.compile(
    r"[^.;\n]{0,40}?\b(?:at[ \t]+home|home[ \t]+(?:reading|monitoring)"
    r"|(?:with|on|by)[ \t]+(?:(?:a|the|my|his|her)[ \t]+)?glucometer)\b",
    re.IGNORECASE,
)


def _in_goal_list(text: str, line_start: int, start: int, value: str | None) -> bool:
    """Whether a compared value (``<200``) is one of a list of limits a goal word opens."""
    if value is None or value[0] not in "<>≤≥":
        return False
    window = max(line_start, start - 120)
    goals = list(_GOAL_WORD.finditer(text, window, start))
    if not goals:
        return False
    between = text[goals[-1].end() : start]
    if any(c in between for c in ";()\n"):
        return False
    return all(_COMPARED.search(between, 0, n.start()) for n in _NUMBER.finditer(between))


# Names grouped by slashes over values grouped by slashes ("Na/K/Ur/Cr/eGFR  134/3.9/8.4/128/37"):
# the n-th name's value is the n-th value. No space inside either group, at least two of each.
_NAME_GROUP = re.compile(r"[A-Za-z][A-Za-z0-9.]*(?:/[A-Za-z][A-Za-z0-9.]*)+")
_VALUE_GROUP = re.compile(r"[ \t]*:?[ \t]+(\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)+)(?![\d/.])")


def grouped_value(text: str, start: int, end: int, line_end: int) -> tuple[str, int] | None:
    """The value in the same position as the name at ``start``-``end`` in a slash-grouped pair of
    names and values, with the value's end; None when the name is in no such group."""
    line_start = text.rfind("\n", 0, start) + 1
    for group in _NAME_GROUP.finditer(text, line_start, line_end):
        if group.end() < end:
            continue
        if group.start() > start:
            return None
        values = _VALUE_GROUP.match(text, group.end(), line_end)
        names = group[0].split("/")
        if values is None or len(values[1].split("/")) != len(names):
            return None
        # The name's position: the group's names before it, counted by the slashes before it.
        position = text.count("/", group.start(), start)
        if text[start:end].count("/") or position >= len(names):
            return None
        offset = values.start(1)
        for number in values[1].split("/")[:position]:
            offset += len(number) + 1
        number = values[1].split("/")[position]
        return number, offset + len(number)
    return None


# A standardisation named after the name ("HbA1c IFCC 45 mmol/mol", "(HbA1c) DCCT 6,3 %"): read past it.
_STANDARD_AFTER = re.compile(r"(?:[ \t]*\([^)\n]{0,40}\))?[ \t]+(?:IFCC|DCCT|NGSP)\b")
# A trend written with arrows ("CRP 280 -> 146 -> 46"): each value before an arrow is an earlier one.
_ARROW_NEXT = re.compile(r"[ \t]*(?:->|→|=>|-->)[ \t]*(\d+(?:\.\d+)?)(?!\d|\.\d)")


#: A name that stands for two labs, read as a pair of values ("H&H 12.0 and 36").
LAB_PAIRS = {"hemoglobin and hematocrit": ("hemoglobin", "hematocrit")}


def pair_readings(
    text: str, at: int, line_end: int, first: str, second: str, *, smaller_first: bool = False
) -> list[tuple[Concept, LabReading]] | None:
    vocab = vocabulary()
    match = PAIR_VALUES_RE.match(text, at, line_end)
    if match is None:
        return None
    order = ("a", "b")
    if smaller_first and float(match["a"]) > float(match["b"]):
        order = ("b", "a")  # "H&H 37.4/12.1": the haemoglobin is always the smaller number
    out = []
    for name, group in zip((first, second), order, strict=True):
        stop = match.start("b") if group == "a" else line_end
        lab = vocab.labs[name]
        concept = vocab.concepts[vocab.lab_concepts[name]]
        out.append((concept, reading(text, at, stop, match[group], "", match.end(group), lab)))
    return out


def lab_readings(
    text: str,
    mentions: list[Mention],
    i: int,
    stop: int,
    line_end: int,
    assigned: dict[int, list[tuple[Concept, LabReading]]],
) -> list[tuple[Concept, LabReading]]:
    """The lab's value(s): a pair name's two, two joined names' two, else one, and a second
    one after it ("from 5.4 to 6.1")."""
    m = mentions[i]
    concept = m.concepts[0]
    vocab = vocabulary()
    urine = vocab.labs[concept.concept].urine
    if urine is not None and (
        in_urine_context(text, m.start, m.end)
        or (m.matched.upper() in DIPSTICK_NAMES and in_dipstick_block(text, m.start))
    ):
        concept = vocab.concepts[vocab.lab_concepts[urine]]
    elif concept.concept in CSF_TESTS and in_csf_context(text, m.start):
        concept = vocab.concepts[vocab.lab_concepts[CSF_TESTS[concept.concept]]]
    elif in_other_fluid_context(text, m.start):
        return [(concept, LabReading())]  # a synovial or pleural fluid count: no blood lab's value
    if (grouped := grouped_value(text, m.start, m.end, line_end)) is not None:
        number, number_end = grouped  # "Na/K/Ur/Cr/eGFR  134/3.9/8.4/128/37": the value in its place
        found = reading(text, m.end, line_end, number, "", number_end, vocab.labs[concept.concept])
        return [(concept, found)]
    if concept.concept in LAB_PAIRS:
        pair = pair_readings(text, m.end, line_end, *LAB_PAIRS[concept.concept], smaller_first=True)
        if pair is None:
            # One value for the pair ("H and H was down in the 6 level"): the first test of the pair
            # (the one written with the smaller numbers) it is plausible for.
            for name in LAB_PAIRS[concept.concept]:
                single = read_lab(text, m.end, min(stop, m.end + 60), vocab.labs[name])
                if single.value is not None and single.trusted:
                    return [(vocab.concepts[vocab.lab_concepts[name]], single)]
        return pair or [(concept, LabReading())]
    following = mentions[i + 1] if i + 1 < len(mentions) else None
    if (
        following is not None
        and following.kind == "lab"
        and following.concepts[0].concept not in LAB_PAIRS
        and following.start < line_end
        and LIST_GLUE.match(text[m.end : following.start])
    ):
        pair = pair_readings(text, following.end, line_end, concept.concept, following.concepts[0].concept)
        if pair is not None:
            assigned[i + 1] = [pair[1]]
            return [pair[0]]
    lab = vocab.labs[concept.concept]
    coded = CODED_NAME_END.match(text, m.end, line_end)
    after = coded.end() if coded is not None else skip_parenthesis(text, m.end, line_end)
    next_fact = next(
        (n.start for n in mentions[i + 1 :] if n.start >= after and n.kind != "test_name"), len(text)
    )
    stop = max(stop, min(line_end, next_fact))
    line_start = text.rfind("\n", 0, m.start) + 1
    if GOAL_BEFORE.search(text, max(line_start, m.start - 20), m.start) or HOME_BEFORE.search(
        text, max(line_start, m.start - 40), m.start
    ):
        return [(concept, LabReading())]  # "Target A1c <7%", "home fasting glucose 128"
    if (
        PREVIOUS_BEFORE.search(text, max(line_start, m.start - 40), m.start)
        or PREVIOUS_LINE.match(text, line_start)
    ) and LAB_VALUE_RE.match(text[m.end : min(stop, after + 60)]):
        return [(concept, LabReading())]  # "Previous HbA1c 64 mmol/mol": not this report's result
    column = read_result_column(text, m.start, m.end, lab)  # a header row named the result column
    if column is PREVIOUS_ONLY:
        return [(concept, LabReading())]  # a blank result beside a previous result's column
    first = column if column is not None and column.value is not None else LabReading()
    if first.value is None:
        first = read_lab(text, after if coded is not None else m.end, min(stop, after + 60), lab)
    if first.value is None and (standard := _STANDARD_AFTER.match(text, m.end, line_end)) is not None:
        first = read_lab(text, standard.end(), min(line_end, standard.end() + 60), lab)
    if first.value is None and first.trusted and (cell := name_cell_end(text, m.start, m.end)) is not None:
        # "VITAMIN D,25-OH,TOTAL,IA   19 L": read from the next cell, up to the next name there
        beyond = next(
            (n.start for n in mentions[i + 1 :] if n.start >= cell and n.kind != "test_name"), line_end
        )
        first = read_lab(text, cell, min(line_end, beyond, cell + 60), lab)
    if first.value is None and not first.trusted and lab.count is not None:
        # "Neutrophils  3.9  x10^9/L": a differential given as a count is the absolute count.
        counted = read_lab(text, m.end, min(stop, after + 60), vocab.labs[lab.count])
        if counted.value is not None and counted.trusted and counted.unit is not None:
            concept, lab = vocab.concepts[vocab.lab_concepts[lab.count]], vocab.labs[lab.count]
            first = counted
    if first.value is None and first.trusted:
        first = read_value_line(text, m.start, m.end, lab)
    if first.value is None and first.trusted:
        first = read_card_value(text, m.start, m.end, lab)  # "Serum ferritin level" / "Value: 9 ug/L"
    if first.value is not None and (_COMMA.match(text, m.end) or _COMMA.match(text, after)):
        # "16 segs, 6 bands, 54 lymphocytes, 13% of which ...": a number after a comma is the
        # next clause's; this name's count is the one before it, or none.
        before = read_lab_before(text, text.rfind("\n", 0, m.start) + 1, m.start, lab)
        ahead = following is not None and following.kind == "lab" and following.start < line_end
        counted = BEFORE_RANGE_RE if lab.unit in PER_FIELDS else BEFORE_VALUE_RE
        if before.value is not None or (ahead and counted.search(text, m.end, following.start)):
            first = before
    if first.value is None and first.trusted:
        first = read_lab_before(text, text.rfind("\n", 0, m.start) + 1, m.start, lab)
    if first.value is None and lab.urine is not None and vocab.labs[lab.urine].unit in PER_FIELDS:
        # A range counted before a cell name ("moderate leukocytes, 30-50 white blood cells") is a
        # count per microscope field: blood counts are never written as a range.
        ranged = BEFORE_RANGE_RE.search(text, text.rfind("\n", 0, m.start) + 1, m.start)
        if ranged is not None and ranged["high"] is not None:
            counted = read_lab_before(text, ranged.start(), m.start, vocab.labs[lab.urine])
            if counted.value is not None:
                concept, first = vocab.concepts[vocab.lab_concepts[lab.urine]], counted
                lab = vocab.labs[lab.urine]
    if (
        first.value is not None
        and first.value[0] in "<>"
        and first.end is not None
        and INDEFINITE_BEFORE.search(text, max(0, m.start - 30), m.start)
        and INTERPRETED_AFTER.match(text, first.end)
    ):
        return [(concept, LabReading())]  # "A folate of less than 3.1 ng/mL is considered deficiency"
    if limit_in_prose(text, m.start, first.value, first.end):
        return [(concept, LabReading())]  # "if K >5.5 mmol/L please let ... know", "... <2.0 will be phoned"
    if comment_level(text, m.start, m.end, first.value, first.end):
        return [(concept, LabReading())]  # "Lipid targets ... LDL-C < 2.0", "An eGFR of 45-59 ... suggests"
    if (
        first.end is not None
        and LAST_BEFORE.search(text, max(line_start, m.start - 20), m.start)
        and DATED_AFTER.match(text, first.end)
    ):
        return [(concept, LabReading())]  # "Last INR 3.4 on 11/16": an earlier result quoted with its date
    if first.value is not None and first.end is not None and _ARROW_NEXT.match(text, first.end):
        at = first.end  # the latest value of an arrow trend is the one to read
        while (arrow := _ARROW_NEXT.match(text, at, line_end)) is not None:
            at = arrow.end()
            last = arrow
        first = reading(text, last.start(1), line_end, last[1], "", last.end(1), lab)
        return [(concept, first)]
    if _in_goal_list(text, line_start, m.start, first.value):
        return [(concept, LabReading())]  # "desirable TC <200, TG <150, LDL <100": limits, no results
    if first.end is not None and _HOME_AFTER.match(text, first.end):
        return [(concept, LabReading())]  # "Sugar was 168 last month at home with glucometer"
    if quality_control(text, m.start):
        return [(concept, LabReading())]  # a control level run on the analyser, not the patient
    results = [(concept, first)] + [
        (vocab.concepts[vocab.lab_concepts[other.concept]], found)
        for other, found in companion_readings(text, first, lab, line_end)
    ]
    end = results[-1][1].end if first.value is not None else None
    while end is not None and len(results) < 6:  # "from 5.4 to 6.1", "increased to 24.7 and then ..."
        then = THEN_VALUE_RE.match(text, end, line_end) or DATED_NEXT_RE.match(text, end, line_end)
        if then is None:
            later = read_next_sentence(text, end, lab)  # "... it was decreased to 0.8"
            if later.value is not None:
                results.append((concept, later))
            break
        group = (
            "num"
            if then.re is DATED_NEXT_RE or then["num"] is not None
            else ("next" if then["next"] is not None else "again")
        )
        found = reading(text, end, line_end, then[group], "", then.end(group), lab)
        if found.value is None:
            break
        results.append((concept, found))
        end = found.end
    return results


def dated_cells(
    text: str, tables: list[DateTable], m: Mention, line_start: int, line_end: int, lab: LabDef | None
) -> list[tuple[LabReading, str]]:
    """A cumulative table's row: one reading per filled cell under a date column, with that date.
    The row starts with the name (a comment that repeats a result is not a row)."""
    table = table_at(tables, m.start)
    if table is None or text[line_start : m.start].strip():
        return []
    found = [
        (read_cell(text, start, end, lab), iso)
        for start, end, iso in date_cells(text, table, m.end, line_start, line_end)
    ]
    return [(r, iso) for r, iso in found if r.value is not None or not r.trusted]
