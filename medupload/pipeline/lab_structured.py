"""Lab results whose layout says what each part is, read by that structure before any prose rule:
an HL7 v2 message (``lab_hl7``), a FHIR JSON export (``lab_fhir``), a long-format CSV export
(``lab_csv``), vertical key-value blocks
(``lab_blocks``), coded result tables (``lab_coded_tables``) and drug-screen tables
(``lab_toxicology``). Inside their spans no other
lab reading is taken (and no medication inside a drug-screen row), so a range, a code, a cut-off
or a prior result beside them is never read as a value.

One reason to change: which structured layouts are read first, and what they hide from the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from medupload.pipeline.lab_blocks import keyed_mentions, read_keyed_results
from medupload.pipeline.lab_coded_tables import coded_mentions, read_coded_tables
from medupload.pipeline.lab_csv import csv_mentions, read_csv_results
from medupload.pipeline.lab_fhir import fhir_mentions, read_fhir_observations
from medupload.pipeline.lab_hl7 import observation_mentions, read_hl7_observations
from medupload.pipeline.lab_toxicology import drug_mentions, read_drug_tables
from medupload.pipeline.mentions import Mention


@dataclass(frozen=True)
class StructuredResult:
    mention: Mention  # on the printed name, with its lab concept
    value: str
    unit: str | None
    block_start: int  # where its block starts (a collection date printed above it is its date)
    date: str | None = None  # ISO, the row's own date column (a CSV export)


@dataclass
class StructuredLabs:
    results: list[StructuredResult] = field(default_factory=list)
    whole_text: bool = False  # an HL7 message or FHIR JSON: every lab of the text is one of ``results``
    lab_spans: list[tuple[int, int]] = field(default_factory=list)  # no other lab reading inside
    drug_spans: list[tuple[int, int]] = field(default_factory=list)  # no medication inside

    def hides(self, kind: str, start: int) -> bool:
        """Whether a mention of ``kind`` at ``start`` is left to the structured reading."""
        if kind == "lab" and (self.whole_text or any(a <= start < b for a, b in self.lab_spans)):
            return True
        return kind in {"lab", "medication"} and any(a <= start < b for a, b in self.drug_spans)


def read_structured_labs(
    text: str, mentions: Sequence[Mention], with_base: bool, today: date
) -> StructuredLabs:
    found = StructuredLabs()
    observations = read_hl7_observations(text)
    if observations:
        found.whole_text = True
        for observation, named in zip(
            observations, observation_mentions(observations, with_base), strict=True
        ):
            if observation.value is not None:  # not done ("TNP", status X): its range is no result
                found.results.append(StructuredResult(named, observation.value, observation.unit, 0))
        return found
    fhir = read_fhir_observations(text)
    if fhir:
        found.whole_text = True
        for observation, named in zip(fhir, fhir_mentions(fhir, with_base), strict=True):
            if observation.value is not None:  # entered in error, cancelled: no result
                found.results.append(StructuredResult(named, observation.value, observation.unit, 0))
        return found
    rows = read_csv_results(text, today)
    for row, named in zip(rows, csv_mentions(rows, with_base), strict=True):
        found.lab_spans.append((row.table_start, row.table_end))
        if named is not None:
            found.results.append(StructuredResult(named, row.value, row.unit, row.table_start, row.date))
    keyed = read_keyed_results(text)
    for block, named in zip(keyed, keyed_mentions(keyed, mentions), strict=True):
        found.lab_spans.append((block.block_start, block.block_end))
        if block.value is not None:  # "Cancelled - duplicate order": no value
            found.results.append(StructuredResult(named, block.value, block.unit, block.block_start))
    coded = read_coded_tables(text)
    for row, named in zip(coded, coded_mentions(coded, mentions), strict=True):
        found.lab_spans.append((row.line_start, row.line_end))
        found.results.append(StructuredResult(named, row.value, row.unit, row.line_start))
    drugs = read_drug_tables(text)
    for drug, named in zip(drugs, drug_mentions(drugs), strict=True):
        found.drug_spans.append((drug.row_start, drug.row_end))
        found.results.append(StructuredResult(named, drug.value, drug.unit, drug.row_start))
    return found
