"""Lab values on lab reports: recall and precision of extract() on tests/data/lab_reports.jsonl.

Nine reports written for the project in the layouts labs send: a fixed-width table with flags and
reference intervals, a CBC with differential and a hemolysed HbA1c, a urinalysis with qualitative
results and per-HPF counts, a pipe-delimited export with a hemolysed potassium, dotted leaders with
"<" results and a clotted sample, SI units; then (written after the rules for the first six, and
scored before any change: 0.633 / 0.909) a BMP with ion notation and a blood gas, a colon layout
of thyroid and iron studies, and a diabetes follow-up with urine chemistry. Each label is the row's
test name as written and its result as written (with its unit), taken from the text; rows without
a result are not labelled, so a value read from one counts against precision. Reports 101-108
came later from a lab scientist who never saw the extractor, in eight other real-world layouts
(tests/data/lab_reports.md), with the values a reader must not take (ranges, previous, cancelled
results) listed beside them; reports 201-205 (five more layouts: an Australian cumulative report,
a bilingual Canadian one, point-of-care analyser slips, a pre-operative letter, a faxed OCR'd
panel) came last from a second lab scientist. Scored as tests/mtsamples_scoring.py describes.
"""

from __future__ import annotations

import pytest
from mtsamples_scoring import LAB_REPORT_SETS, LAB_REPORTS, Tally, score_lab_reports

from medupload.pipeline.extraction import extract

# Measured 2026-12-01: the first six reports 0.559 / 1.000 before the lab rules, 1.000 / 1.000
# after; the last three 0.633 / 0.909 when written, 1.000 / 0.967 after ("triglycerides > 400" in
# a comment is read as a value). All nine: 1.000 / 0.990. Every report was used for development:
# expect less on other layouts. Reports 101-108 (lab_reports.md): 0.551 / 0.966 when they came;
# the four held back from the labs3 rules 0.598 / 0.930 -> 0.902 / 0.987 (0.949 on the project's
# urinalysis convention); all seventeen after: 0.977 / 0.994, then 0.988 / 0.997 after labs4.
# Reports 201-205, scored once when they came (after labs4): 0.477 / 0.849 with 9 values taken from
# text that is no result; after the labs5 rules tuned on them 0.992 / 1.000, none taken. All
# twenty-two: 0.991 / 0.998.
FLOORS = {"recall": 0.95, "precision": 0.97}
# Later sets of layouts, each scored once when it came (the unseen figure) and then tuned on, in
# tests/data/lab_reports_3.md ... _6.md. Their floors sit a little under the figures after the
# round tuned on them; the first is the 22 reports above.
SET_FLOORS = {
    "reports3": {"recall": 0.94, "precision": 0.98},
    "reports4": {"recall": 0.89, "precision": 0.98},
    "reports5": {"recall": 0.78, "precision": 0.97},
    "reports6": {"recall": 0.90, "precision": 0.98},
    "reports7": {"recall": 0.95, "precision": 0.98},
    "reports8": {"recall": 0.99, "precision": 0.99},
    # Everyday layouts (lab_reports_9.md, _10.md). 901-904 scored once on 76887ab (0.716 / 0.962),
    # 1.000 / 1.000 after labs14 tuned on them; 905-908 were held back and scored on e30b904, 083f654
    # and e88fdce (0.725, 0.752, 0.752); 1001-1008 likewise (0.817, 0.900, 0.941).
    "reports9": {"recall": 0.86, "precision": 0.99},
    "reports10": {"recall": 0.93, "precision": 0.99},
}


def _print(name: str, tally: Tally) -> None:
    print(
        f"\nlab {name}: recall {tally.recall:.3f} ({tally.right}/{tally.labelled}) "
        f"precision {tally.precision:.3f} ({tally.predicted_right}/{tally.predicted})"
    )
    for miss in tally.misses:
        print(f"  miss {miss}")
    for extra in tally.extras:
        print(f"  extra {extra}")
    for trap in tally.traps:
        print(f"  taken though no result {trap}")


def test_lab_values_on_lab_reports_meet_their_floors() -> None:
    tally = score_lab_reports(extract)
    _print(LAB_REPORTS.name, tally)
    assert tally.labelled >= 300
    assert tally.recall >= FLOORS["recall"]
    assert tally.precision >= FLOORS["precision"]
    # No value is taken from text a report marks as no result (a threshold in a comment, a limit).
    assert not tally.traps


@pytest.mark.parametrize("name", sorted(SET_FLOORS))
def test_lab_values_on_the_later_report_sets_meet_their_floors(name: str) -> None:
    path = LAB_REPORT_SETS[name]
    tally = score_lab_reports(extract, path=path)
    _print(path.name, tally)
    assert tally.labelled >= 100
    assert tally.recall >= SET_FLOORS[name]["recall"]
    assert tally.precision >= SET_FLOORS[name]["precision"]
    assert not tally.traps
