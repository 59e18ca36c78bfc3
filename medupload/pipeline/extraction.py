"""Clinical extraction: OCR text -> conditions, medications, labs, allergies and procedures.

Rule-based (no statistical model can be shipped): a blank spaCy English tokenizer, our own
line-aware sentence splitter, a gazetteer matcher over ``vocabulary()`` (ICD-10-CM and a drug
dictionary under the curated CSVs; longest match, OCR-folded tokens), medspaCy's ConText for
assertions (negated, historical, family, hypothetical, uncertain) and its Sectionizer. Values,
units, doses, routes, frequencies and dates are read with regular expressions from the text
right after each match (``labs``, ``medications``, ``dates``), so every fact keeps exact offsets.

The matches and the guards that decide which count (a test or method name is never a condition,
a short or ordinary drug name needs drug context, ...) are in ``mentions``; here they become
facts with values, doses and dates. A drug in an allergy statement is an allergy, never a
medication.

The pipeline is built once per process (``nlp()``); ``extract`` serialises only the spaCy
call behind a lock, so it can be used from a thread pool.

Why one module of ~475 lines: it is the one place where a match becomes a fact, and the four
kinds share one pass over the matches (a lab's value stops at the next name, a drug in an allergy
statement is no medication). What changes for other reasons already lives elsewhere: reading a
named lab's value(s) in prose and plain tables (``lab_readings``), reading a value (``labs``),
where a result sits in a report (``lab_layouts``), units (``lab_units``), doses and sigs
(``medications``), which matches count (``mentions``), and layouts read by their structure before
any of this (``lab_structured``: HL7 v2, keyed blocks, coded and drug-screen tables; NPU specimen
prefixes in ``lab_npu``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from medupload.pipeline.clinical_nlp import build_nlp, nlp
from medupload.pipeline.dates import document_date, find_dates
from medupload.pipeline.document import Confidences, classify
from medupload.pipeline.lab_columns import read_result_column
from medupload.pipeline.lab_hyphen import with_hyphen_joined
from medupload.pipeline.lab_iron import IRON_PRINT_NAMES, in_iron_block
from medupload.pipeline.lab_layouts import (
    DIPSTICK_NAMES,
    LIPID_PRINT_NAMES,
    date_tables,
    in_dipstick_block,
    in_lipid_block,
    in_urine_context,
    read_value_line,
)
from medupload.pipeline.lab_markup import Moves, code_before_name, original_span, plain_layout
from medupload.pipeline.lab_npu import with_specimen_prefix
from medupload.pipeline.lab_ocr import repair_ocr_digits, repair_ocr_names, repair_ocr_units
from medupload.pipeline.lab_readings import dated_cells, lab_readings, skip_parenthesis
from medupload.pipeline.lab_rows import dated_row_cells
from medupload.pipeline.lab_structured import read_structured_labs
from medupload.pipeline.lab_trend import trend_section_cells
from medupload.pipeline.labs import (
    DRUG_LEVEL_RE,
    LIST_ITEM_GLUE,
    LabReading,
    read_bare_level,
    read_drug_level,
    read_lab,
)
from medupload.pipeline.medications import (
    ALLERGIES_NONE,
    ALLERGY_CUE,
    acetaminophen_paired,
    allergy_section_ended,
    context_only,
    has_drug_context,
    hedged_reaction,
    not_given,
    read_sig_lines,
    tolerated,
)
from medupload.pipeline.mentions import (
    FIELD_LABEL,
    Mention,
    among_vitals,
    find_mentions,
    in_drug_list,
    is_reaction,
    is_test_name,
    lab_inside,
    line_bounds,
    named_as_drug,
    not_taken,
    release_form,
)
from medupload.pipeline.vocabulary import NO_KNOWN_ALLERGIES, Concept, fold, vocabulary

__all__ = [
    "DOCUMENT_TYPES",
    "NO_KNOWN_ALLERGIES",
    "ExtractedFact",
    "Extraction",
    "build_nlp",
    "extract",
    "fold",
    "nlp",
]

DOCUMENT_TYPES: tuple[str, ...] = (
    "lab_report",
    "medication_list",
    "discharge_summary",
    "imaging_report",
    "immunization_record",
    "referral_letter",
    "insurance_card",
    "other",
)
#: Below this OCR confidence, or with a value/unit we could not trust, a fact needs review.
REVIEW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class ExtractedFact:
    kind: str  # condition | medication | lab | allergy | procedure
    concept: str  # normalised name; for a medication the ingredient, never the brand
    code: str | None  # ICD-10-CM / RxNorm / LOINC / DrugBank / MeSH / MedlinePlus code
    system: str | None  # which code system ``code`` is from
    text: str  # the matched text span (== input[start:end])
    start: int
    end: int
    value: str | None = None  # lab result value, medication dose
    unit: str | None = None  # normalised unit
    route: str | None = None
    frequency: str | None = None
    date: str | None = None  # ISO: a lab's collection date, else the document date
    section: str | None = None
    negated: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    uncertain: bool = False
    confidence: float = 1.0  # 0..1, OCR word confidence around the span (minimum)


@dataclass(frozen=True)
class Extraction:
    facts: list[ExtractedFact]
    document_type: str
    document_date: str | None


# ---------------------------------------------------------------------------------------------
# Extraction


def _fact(
    text: str,
    m: Mention,
    kind: str,
    concept: Concept,
    values: dict[str, Any],
    end: int,
    cap: float,
    confidences: Confidences,
    doc_iso: str | None,
) -> ExtractedFact:
    return ExtractedFact(
        kind=kind,
        concept=concept.concept,
        code=concept.code,
        system=concept.system,
        text=text[m.start : end],
        start=m.start,
        end=end,
        value=values.get("value"),
        unit=values.get("unit"),
        route=values.get("route"),
        frequency=values.get("frequency"),
        date=values.get("date", doc_iso),
        section=m.section,
        negated=m.flags.negated,
        historical=m.flags.historical,
        family=m.flags.family,
        hypothetical=m.flags.hypothetical,
        uncertain=m.flags.uncertain,
        confidence=round(min(cap, confidences.around(m.start, end)), 3),
    )


_LAST_DIGIT = re.compile(r"\d(?=\D*$)")
_DIGIT = re.compile(r"\d")


def extract(
    text: str,
    *,
    word_confidences: Sequence[tuple[int, int, float]] = (),
    today: date | None = None,
    with_base: bool = True,
) -> Extraction:
    """Facts, document type and document date of one document's text.

    ``word_confidences`` are the OCR words as (start, end, confidence 0..1) character spans of
    ``text``; a fact's confidence is the lowest among the words it overlaps (1.0 without OCR).
    ``today`` bounds plausible dates (future dates are ignored) and resolves 2-digit years.
    ``with_base=False`` uses the curated vocabularies only (for the bench's baseline).
    """
    today = today or date.today()
    if not text.strip():
        return Extraction([], "other", None)
    text = repair_ocr_digits(text)  # "1O2", "4.l": OCR's letters inside numbers; offsets unchanged
    text = repair_ocr_names(text)  # "Sodiurn": OCR's "rn" for "m" in a lab's name; offsets unchanged
    text = repair_ocr_units(text)  # "ce1ls/uL": OCR's "1" for "l" in a unit's word; offsets unchanged
    printed = text
    text, moves = plain_layout(text)  # "**118**", "<br>" cells, "__11.6__", a column stream; same length
    confidences = Confidences.of(word_confidences)
    dates = find_dates(text, today)
    doc_date = document_date(dates)
    doc_iso = doc_date.isoformat() if doc_date else None
    collected = next((d.value.isoformat() for d in dates if d.label == "collected"), None)
    vocab = vocabulary(with_base)
    mentions = with_specimen_prefix(text, find_mentions(text, with_base), vocab)  # "dU-Kalcium"
    mentions = with_hyphen_joined(text, mentions, with_base)  # "FBS-142", "TC-212, TG-245"
    structured = read_structured_labs(text, mentions, with_base, today)  # HL7, keyed blocks, coded tables
    dated = [(d.start, d.end, d.value.isoformat()) for d in dates if d.label != "dob"]
    tables = date_tables(text, dated)
    tabled: set[tuple[str, str | None, str]] = set()  # (concept, value, date) read from a table's cell

    facts: list[ExtractedFact] = []
    assigned: dict[
        int, list[tuple[Concept, LabReading]]
    ] = {}  # the second of "BUN and creatinine 27 and 1.9"
    read_past = 0  # past a lab's alias in brackets after its name ("AST (SGOT)")
    units_read: list[tuple[int, int]] = []  # a unit read after a value ("50 mg/g creat")
    for i, m in enumerate(mentions):
        if m.kind in {"test_name"} or release_form(text, mentions, i) or structured.hides(m.kind, m.start):
            continue  # a structured layout's result is read by its structure (below)
        if i not in assigned and (m.start < read_past or any(a <= m.start < b for a, b in units_read)):
            continue
        if (
            m.kind == "lab"
            and m.matched.upper() in DIPSTICK_NAMES - {"GLU", "PH"}  # glucose and pH anywhere
            and not in_dipstick_block(text, m.start)
        ):
            continue  # "PRO", "LEU", "SG" name a dipstick's pad only on a dipstick's printout
        if code_before_name(text, mentions, i):
            continue  # "CHOL   Cholesterol totaal 4,8": the row is read at the lab's name
        if m.kind == "lab" and m.matched.upper() in LIPID_PRINT_NAMES and not in_lipid_block(text, m.start):
            continue  # "TRG" is the triglycerides only on a lipid panel's printout
        if m.kind == "lab" and m.matched.upper() in IRON_PRINT_NAMES and not in_iron_block(text, m.start):
            continue  # "% SATURATION" is the transferrin saturation only in an iron panel
        line_start, line_end = line_bounds(text, m.start, m.end)
        lab_named = (
            m.kind == "lab"
            or vocab.lexicon.lab_alternates.get(vocab.medications.get(m.concepts[0].concept, -1)) is not None
        )
        after = skip_parenthesis(text, m.end, line_end) if lab_named else m.end
        if not _DIGIT.search(text, m.end, after):  # "AST (SGOT)"; not "22 WBC (21 lymphocytes, ...)"
            read_past = max(read_past, after)
        # The reading stops at the next mention that is a fact (a method name is read past).
        next_start = next(
            (n.start for n in mentions[i + 1 :] if n.start >= after and n.kind != "test_name"), len(text)
        )
        stop = min(line_end, next_start)
        kind = m.kind
        values: dict[str, Any] = {}
        end = m.end
        confidence_cap = 1.0
        level = DRUG_LEVEL_RE.match(text, m.end) if kind == "medication" else None
        if level is not None:  # "doxycycline level ... was 6.5 mcg/mL": a lab, not a drug taken
            concept = Concept("lab", f"{m.concepts[0].concept} level", None, None)
            cells = dated_cells(text, tables, m, line_start, line_end, None)
            for result, iso in cells:
                values = {"value": result.value, "unit": result.unit, "date": iso}
                value_end = result.end or m.end
                facts.append(_fact(text, m, "lab", concept, values, value_end, 1.0, confidences, doc_iso))
            if cells:
                continue
            result = read_drug_level(text, level.end(), max(stop, level.end()))
            value_end = result.end if result.value is not None and result.end else level.end()
            dated = [d for d in dates if m.start <= d.start < value_end and d.label != "dob"]
            when = dated[0].value.isoformat() if dated else (collected or doc_iso)
            values = {"value": result.value, "unit": result.unit, "date": when}
            facts.append(_fact(text, m, "lab", concept, values, value_end, 1.0, confidences, doc_iso))
            continue
        if kind == "medication" and (m.section or "") != "medications":
            last = facts[-1] if facts else None
            listed = (  # "..., LDL 158, and cyclosporine 163.": an item of a list of results
                last is not None
                and last.kind == "lab"
                and last.value is not None
                and last.end <= m.start
                and LIST_ITEM_GLUE.fullmatch(text, last.end, m.start) is not None
            )
            bare = read_bare_level(text, m.end, m.concepts[0].concept, listed)  # "Digoxin was 1.3."
            if bare.value is not None and bare.end is not None:
                concept = Concept("lab", f"{m.concepts[0].concept} level", None, None)
                values = {"value": bare.value, "unit": None, "date": collected or doc_iso}
                facts.append(_fact(text, m, "lab", concept, values, bare.end, 1.0, confidences, doc_iso))
                continue
        if kind == "condition" and (
            is_test_name(text, m, mentions[i - 1] if i else None) or is_reaction(text, m, mentions[:i])
        ):
            continue  # a test or vaccine name; a reaction listed with an allergy ("Penicillin (hives)")
        inner = lab_inside(m) if kind == "condition" else None
        if inner is not None:  # "an elevated PSA of 5": the finding, and the lab's value
            result = read_lab(text, m.end, min(stop, m.end + 60), vocab.labs[inner[1].concept])
            if result.value is not None:
                lab_mention = replace(m, start=m.start + inner[0], matched=m.matched[inner[0] :])
                line_dates = [d for d in dates if line_start <= d.start < line_end and d.label != "dob"]
                when = line_dates[0].value.isoformat() if line_dates else (collected or doc_iso)
                values = {"value": result.value, "unit": result.unit, "date": when}
                cap = 1.0 if result.trusted else REVIEW_CONFIDENCE
                value_end = result.end or m.end
                facts.append(
                    _fact(text, lab_mention, "lab", inner[1], values, value_end, cap, confidences, doc_iso)
                )
                values = {}
        in_allergy = kind in {"medication", "allergen"} and (
            ((m.section or "").startswith("allerg") and not allergy_section_ended(text, line_start))
            or bool(ALLERGY_CUE.search(text[max(line_start, m.start - 60) : m.start]))
        )
        in_allergy = in_allergy and not tolerated(text, m.start)  # "but he can get morphine"
        wants_sig = kind in {"medication", "allergen", "lab"} and not in_allergy
        sig = read_sig_lines(text, m.end, min(stop, m.end + 80), line_end) if wants_sig else None
        # A supplement named like a lab ("calcium 500 mg daily") or a drug named like an allergen
        # ("codeine 30 mg") is a medication when a dose or a medications section says so.
        alias = vocab.medications.get(m.concepts[0].concept)
        if kind == "lab" and alias is not None:  # a result ("Glucose 142 mg/dL") keeps it a lab
            lab_def = vocab.labs[m.concepts[0].concept]
            if lab_def.urine is not None and in_urine_context(text, m.start, m.end):
                lab_def = vocab.labs[lab_def.urine]  # "Creatinine, random urine: 110 mg/dL"
            column = read_result_column(text, m.start, m.end, lab_def)
            if (
                (column is not None and column.value is not None)
                or read_lab(text, m.end, min(stop, m.end + 60), lab_def).value is not None
                or read_value_line(text, m.start, m.end, lab_def).value
                is not None  # "Creatinine" / "1.12 mg/dL"
                or trend_section_cells(text, m.start, m.end, lab_def, dated)  # its trend section's rows
            ):
                alias = None
        if (
            kind in {"lab", "allergen"}
            and not in_allergy
            and alias is not None
            and sig is not None
            and (sig.dose or (m.section or "") == "medications")
        ):
            m = replace(m, concepts=(vocab.concepts[alias],))
            kind = "medication"
        alternate = vocab.lexicon.lab_alternates.get(vocab.medications.get(m.concepts[0].concept, -1))
        if kind == "medication" and alternate is not None and not in_allergy:
            # "Vitamin B12: 212 pg/mL" is the lab; "vitamin B12 1000 mcg daily" stays the drug.
            result = read_lab(text, m.end, min(stop, m.end + 60), vocab.labs[alternate])
            if result.value is not None and result.trusted:
                line_dates = [d for d in dates if line_start <= d.start < line_end and d.label != "dob"]
                when = line_dates[0].value.isoformat() if line_dates else (collected or doc_iso)
                values = {"value": result.value, "unit": result.unit, "date": when}
                concept = vocab.concepts[vocab.lab_concepts[alternate]]
                value_end = result.end or m.end
                facts.append(_fact(text, m, "lab", concept, values, value_end, 1.0, confidences, doc_iso))
                continue
        if kind in {"medication", "allergen"}:
            if in_allergy and hedged_reaction(text, m.start, line_start, m.section, m.flags):
                continue  # "She may have some reaction to ... her statin drugs": a suspicion, no allergy
            if in_allergy:
                kind = "allergy"
            elif kind == "allergen":
                continue  # "latex gloves", "iodine prep": not an allergy statement
            else:
                assert sig is not None
                if (m.needs_context or context_only(m.matched)) and not (
                    has_drug_context(sig, m.section)
                    or in_drug_list(text, mentions, i)
                    or named_as_drug(text, m)
                ):
                    continue  # "plan", "ASA" alone: not a drug without a dose, route or list
                if m.needs_context and FIELD_LABEL.match(text, m.end):
                    continue  # "Allow Generic: No": a field label
                if not sig.dose and not_taken(text, m):
                    continue  # "methamphetamine abuse", "serum cortisol": not a drug taken
                if not_given(text, m.start, m.end, [c.concept for c in m.concepts], bool(sig.dose)):
                    continue  # a vaccine, an option not chosen, a drug to avoid (medications.py)
                values = {"value": sig.dose, "unit": sig.unit, "route": sig.route, "frequency": sig.frequency}
                end = sig.end or end  # a sig read from the next line extends the span over it
                paracetamol = vocab.medications.get("acetaminophen")
                if paracetamol is not None and acetaminophen_paired(
                    text, m.concepts[0].concept, m.end, sig.dose
                ):
                    m = replace(m, concepts=(*m.concepts, vocab.concepts[paracetamol]))
        elif kind == "nkda":
            kind = "allergy"
        elif kind == "lab":
            if among_vitals(text, m.concepts[0].concept, line_start, line_end):
                continue  # "pulse 67, ..., SaO2 is 99% on room air": a vital sign
            concept = m.concepts[0]
            lab = vocab.labs[concept.concept]
            if lab.urine is not None and in_urine_context(text, m.start, m.end):
                concept = vocab.concepts[vocab.lab_concepts[lab.urine]]
            cells = dated_cells(text, tables, m, line_start, line_end, vocab.labs[concept.concept])
            cells = cells or dated_row_cells(text, m.start, m.end, vocab.labs[concept.concept], dated)
            cells = cells or trend_section_cells(text, m.start, m.end, vocab.labs[concept.concept], dated)
            for reading, iso in cells:
                cap = 1.0 if reading.trusted else REVIEW_CONFIDENCE
                values = {"value": reading.value, "unit": reading.unit, "date": iso}
                value_end = reading.end or m.end
                facts.append(_fact(text, m, "lab", concept, values, value_end, cap, confidences, doc_iso))
                tabled.add((concept.concept, reading.value, iso))
            if cells:
                continue
            results = assigned.pop(i, None) or lab_readings(text, mentions, i, stop, line_end, assigned)
            line_dates = [d for d in dates if line_start <= d.start < line_end and d.label != "dob"]
            short = len(fold(m.matched).replace(" ", "")) <= 3
            for concept, reading in results:
                # A date later on the row, past other numbers, is another result's ("228 05/14/2026"
                # in a previous-result column): not this value's.
                after = reading.end if reading.value is not None and reading.end else m.end
                own = [d for d in line_dates if d.start < after or not _DIGIT.search(text, after, d.start)]
                when = own[0].value.isoformat() if own else (collected or doc_iso)
                follows = [d for d in own if d.start >= after]
                if len(results) > 1 and follows:  # "1.4 (11/12/2026), 1.9 (11/14/2026)": each its date
                    when = follows[0].value.isoformat()
                lab = vocab.labs[concept.concept]
                bare = short and not (lab.unit is None and lab.low is None)
                if reading.value is None and (m.needs_context or bare):
                    continue  # a bare "K", "Na", "LDL", "blood", "protein" without a result is too ambiguous
                if reading.value is not None and (concept.concept, reading.value, when) in tabled:
                    continue  # a comment repeating a table's result ("critical value called ...")
                value_end = (reading.end or m.end) if reading.value is not None else m.end
                cap = 1.0 if reading.trusted else REVIEW_CONFIDENCE
                values = {"value": reading.value, "unit": reading.unit, "date": when}
                facts.append(_fact(text, m, "lab", concept, values, value_end, cap, confidences, doc_iso))
                if reading.value is not None and reading.unit is not None:
                    digit = _LAST_DIGIT.search(text, m.end, value_end)
                    units_read.append((digit.end() if digit else m.end, value_end))
            continue
        for concept in m.concepts:
            facts.append(_fact(text, m, kind, concept, values, end, confidence_cap, confidences, doc_iso))
    for result in structured.results:
        printed = [
            d.value.isoformat() for d in dates if d.label == "collected" and d.start < result.block_start
        ]
        values = {
            "value": result.value,
            "unit": result.unit,
            "date": result.date or (printed[-1] if printed else collected or doc_iso),
        }
        named, end = result.mention, result.mention.end
        facts.append(_fact(text, named, "lab", named.concepts[0], values, end, 1.0, confidences, doc_iso))
    # "Allergies: none" has no vocabulary term to anchor it.
    for match in ALLERGIES_NONE.finditer(text):
        start, end = match.start(), match.end()
        if not any(f.kind == "allergy" and f.start < end and f.end > start for f in facts):
            facts.append(
                ExtractedFact(
                    kind="allergy",
                    concept=NO_KNOWN_ALLERGIES,
                    code=None,
                    system=None,
                    text=text[start:end],
                    start=start,
                    end=end,
                    date=doc_iso,
                    section="allergies",
                    confidence=round(confidences.around(start, end), 3),
                )
            )
    if moves:  # a fact read in a rewritten row is placed where its words were printed
        facts = [_as_printed(f, printed, moves) for f in facts]
    facts.sort(key=lambda f: (f.start, f.end))
    return Extraction(facts=facts, document_type=classify(text, facts), document_date=doc_iso)


def _as_printed(fact: ExtractedFact, printed: str, moves: Moves) -> ExtractedFact:
    start, end = original_span(moves, fact.start, fact.end)
    if (start, end) == (fact.start, fact.end):
        return fact
    return replace(fact, start=start, end=end, text=printed[start:end])
