"""Scores of extract() against the hand-labelled MTSamples notes (tests/data/mtsamples_labels.jsonl).

Shared by tests/test_mtsamples_scores.py (floors) and bench/extraction.py (figures). The labels
were written by someone who never saw the extractor; see tests/data/mtsamples_labels.md for their
definitions. How each kind is scored:

- medications: per note, the set of labelled ingredients against the concepts of the asserted
  (not negated) medication facts, lower case; recall and precision over all notes' pairs.
- allergies: per note, labelled allergens against allergy facts; a fact names the allergen by its
  concept or by the text it matched ("sulfa"); "nkda" is the no-known-allergies statement.
- condition assertions: a labelled span is found when a condition fact overlaps that occurrence,
  and right when the fact's flags give the labelled status (negated > family > uncertain or
  hypothetical > historical > present).
- labs: a labelled (test, value) is right when a lab fact whose span starts at an occurrence of the
  labelled test text has that value (numbers compared, "12,000" = 12000; a count given in
  thousands, 12.0 for 12,000, is the same value; a range "5-9" / "5 to 10" needs both ends; a
  qualitative result, "Negative", its word; a value in another unit than the fact's, "97 umol/L"
  against creatinine in mg/dL, is converted by pint with the lab's molar mass); precision over lab
  facts with a value. The same scoring serves the lab-report set (tests/data/lab_reports.jsonl).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# MTSAMPLES_LABELS points elsewhere (e.g. the labels branch's worktree) before it is merged.
LABELS = Path(os.environ.get("MTSAMPLES_LABELS") or ROOT / "tests" / "data" / "mtsamples_labels.jsonl")
#: 45 other notes labelled by a second labeller who never saw the extractor (mtsamples_labels.md,
#: "Held-out set"): the unseen measure.
HELDOUT = ROOT / "tests" / "data" / "mtsamples_heldout.jsonl"
#: 40 notes from beyond the shared corpus (their texts are in FRESH_NOTES), labelled by a third
#: labeller (mtsamples_labels.md, "Fresh set"): half tuned on, half kept unseen until scored once.
FRESH = ROOT / "tests" / "data" / "mtsamples_fresh.jsonl"
FRESH_NOTES = ROOT / "tests" / "data" / "mtsamples_fresh_notes.jsonl"
#: 20 more such notes, a fourth labeller, scored once after the rules the other three guided
#: (mtsamples_fresh2.md).
FRESH2 = ROOT / "tests" / "data" / "mtsamples_fresh2.jsonl"
FRESH2_NOTES = ROOT / "tests" / "data" / "mtsamples_fresh2_notes.jsonl"
#: 30 more, a fifth labeller (mtsamples_fresh3.md), scored when they came after the rounds the
#: other four guided.
FRESH3 = ROOT / "tests" / "data" / "mtsamples_fresh3.jsonl"
FRESH3_NOTES = ROOT / "tests" / "data" / "mtsamples_fresh3_notes.jsonl"
#: 16 more, a sixth labeller (mtsamples_fresh4.md), scored when they came after the rounds the
#: third fresh set guided.
FRESH4 = ROOT / "tests" / "data" / "mtsamples_fresh4.jsonl"
FRESH4_NOTES = ROOT / "tests" / "data" / "mtsamples_fresh4_notes.jsonl"
#: 15 more, a seventh labeller (mtsamples_fresh5.md), scored when they came after the last rounds.
FRESH5 = ROOT / "tests" / "data" / "mtsamples_fresh5.jsonl"
FRESH5_NOTES = ROOT / "tests" / "data" / "mtsamples_fresh5_notes.jsonl"
FRESH6 = ROOT / "tests" / "data" / "mtsamples_fresh6.jsonl"
FRESH6_NOTES = ROOT / "tests" / "data" / "mtsamples_fresh6_notes.jsonl"
FRESH7 = ROOT / "tests" / "data" / "mtsamples_fresh7.jsonl"
FRESH7_NOTES = ROOT / "tests" / "data" / "mtsamples_fresh7_notes.jsonl"
FRESH8 = ROOT / "tests" / "data" / "mtsamples_fresh8.jsonl"
FRESH8_NOTES = ROOT / "tests" / "data" / "mtsamples_fresh8_notes.jsonl"
#: The labelled sets by name: the development set the extractor was tuned on, the held-out set
#: (since tuned on too) and the fresh sets, in the order they came.
SETS = {
    "dev": LABELS,
    "heldout": HELDOUT,
    "fresh": FRESH,
    "fresh2": FRESH2,
    "fresh3": FRESH3,
    "fresh4": FRESH4,
    "fresh5": FRESH5,
    "fresh6": FRESH6,
    "fresh7": FRESH7,
    "fresh8": FRESH8,
}
NOTES = ROOT.parent / "shared" / "data" / "mtsamples" / "notes.jsonl"
#: Where a set's note texts are, when not in the shared corpus.
NOTES_OF = {
    FRESH: FRESH_NOTES,
    FRESH2: FRESH2_NOTES,
    FRESH3: FRESH3_NOTES,
    FRESH4: FRESH4_NOTES,
    FRESH5: FRESH5_NOTES,
    FRESH6: FRESH6_NOTES,
    FRESH7: FRESH7_NOTES,
    FRESH8: FRESH8_NOTES,
}
NKDA_LABEL = "nkda"
#: Lab-report texts written for the project (tabular rows, flags, ranges, methods, qualitative and
#: missing results) with their labels, taken from the text: see tests/test_lab_reports.py.
LAB_REPORTS = ROOT / "tests" / "data" / "lab_reports.jsonl"
#: The lab-report sets by name: the first 22 reports, then each later set of layouts, scored once
#: when it came before any rule was tuned on it (lab_reports.md, lab_reports_3.md ... _5.md).
LAB_REPORT_SETS = {
    "reports": LAB_REPORTS,
    "reports3": ROOT / "tests" / "data" / "lab_reports_3.jsonl",
    "reports4": ROOT / "tests" / "data" / "lab_reports_4.jsonl",
    "reports5": ROOT / "tests" / "data" / "lab_reports_5.jsonl",
    "reports6": ROOT / "tests" / "data" / "lab_reports_6.jsonl",
    "reports7": ROOT / "tests" / "data" / "lab_reports_7.jsonl",
    "reports8": ROOT / "tests" / "data" / "lab_reports_8.jsonl",
    "reports9": ROOT / "tests" / "data" / "lab_reports_9.jsonl",
    "reports10": ROOT / "tests" / "data" / "lab_reports_10.jsonl",
}


def missing_inputs(labels: Path = LABELS) -> str | None:
    """Why the scores on ``labels`` cannot be computed here, or None."""
    if not labels.exists():
        return f"labelled set not found at {labels} (the labels branch is not merged)"
    notes = NOTES_OF.get(labels, NOTES)
    if not notes.exists():
        return f"MTSamples notes not found at {notes} (the shared data directory is not mounted)"
    return None


def load(path: Path = LABELS) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The labelled notes of ``path`` and the texts of the corpus they come from, by id."""
    labels = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    notes = {}
    for line in NOTES_OF.get(path, NOTES).read_text(encoding="utf-8").splitlines():
        if line.strip():
            note = json.loads(line)
            notes[int(note["id"])] = note["text"]
    return labels, notes


@dataclass
class Tally:
    right: int = 0
    labelled: int = 0
    predicted: int = 0
    predicted_right: int = 0
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    #: Values read from text a report marks as no result (a range, a previous or cancelled result).
    traps: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.right / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.predicted_right / self.predicted if self.predicted else 1.0


def _number(value: str) -> float | None:
    # Thousands as written in dictation too: "12,000" and "15, 000".
    cleaned = re.sub(r"(?<=\d), ?(?=\d{3}\b)", "", value.strip().lstrip("<>≤≥= "))
    try:
        return float(cleaned.replace(",", "."))
    except ValueError:
        return None


_RANGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-|to)\s*(\d+(?:\.\d+)?)\s*$", re.IGNORECASE)


def _close(a: float, b: float) -> bool:
    return any(abs(a * scale - b) <= 0.005 * max(abs(b), 1e-9) for scale in (1, 1000))


def same_value(ours: str | None, theirs: str) -> bool:
    range_ours, range_theirs = _RANGE.match(ours or ""), _RANGE.match(theirs)
    if range_ours or range_theirs:
        return bool(range_ours and range_theirs) and all(
            _close(float(range_ours[i]), float(range_theirs[i]))  # type: ignore[index]
            for i in (1, 2)
        )
    a, b = _number(ours or ""), _number(theirs)
    if b is None:  # a qualitative result: its word
        return (ours or "").strip().lower() == theirs.strip().lower()
    if a is None:
        return False
    return _close(a, b)


def _in_fact_unit(fact: Any, value: str, unit: str) -> str | None:
    """A labelled value written in another unit, in the fact's (canonical) unit."""
    from medupload.pipeline.lab_units import convert_to_canonical
    from medupload.pipeline.vocabulary import vocabulary

    vocab = vocabulary()
    raw, lab, number = vocab.units.get(unit.strip().lower()), vocab.labs.get(fact.concept), _number(value)
    if raw is None or lab is None or number is None or raw.display == fact.unit:
        return None
    converted = convert_to_canonical(number, raw, lab)
    return None if converted is None else f"{converted:.6g}"


def lab_value_right(fact: Any, item: dict[str, Any]) -> bool:
    if same_value(fact.value, item["value"]):
        return True
    other = _in_fact_unit(fact, item["value"], item.get("unit") or "") if fact.unit else None
    return other is not None and same_value(fact.value, other)


def status(fact: Any) -> str:
    if fact.negated:
        return "negated"
    if fact.family:
        return "family"
    if fact.uncertain or fact.hypothetical:
        return "uncertain"
    if fact.historical:
        return "historical"
    return "present"


def _occurrence(text: str, needle: str, n: int) -> int | None:
    start = -1
    for _ in range(max(n, 1)):
        start = text.find(needle, start + 1)
        if start == -1:
            return None
    return start


def score(
    labels: Iterable[dict[str, Any]], notes: dict[int, str], run: Callable[[str], Any]
) -> dict[str, Tally]:
    """Tallies per kind: medications, allergies, assertions (status right), assertions_found, labs."""
    tallies = {k: Tally() for k in ("medications", "allergies", "assertions", "assertions_found", "labs")}
    for label in labels:
        text = notes[int(label["id"])]
        facts = run(text).facts
        note = f"{label['id']}"

        meds = {f.concept.lower() for f in facts if f.kind == "medication" and not f.negated}
        wanted = {m.lower() for m in label["medications"]}
        t = tallies["medications"]
        t.labelled += len(wanted)
        t.right += len(wanted & meds)
        t.predicted += len(meds)
        t.predicted_right += len(wanted & meds)
        t.misses += [f"{note}:{m}" for m in sorted(wanted - meds)]
        t.extras += [f"{note}:{m}" for m in sorted(meds - wanted)]

        allergy_facts = [f for f in facts if f.kind == "allergy" and not f.negated]
        names = [
            {NKDA_LABEL} if f.concept == "no known drug allergies" else {f.concept.lower(), f.text.lower()}
            for f in allergy_facts
        ]
        wanted_allergies = {a.lower() for a in label["allergies"]}
        t = tallies["allergies"]
        t.labelled += len(wanted_allergies)
        hit = {a for a in wanted_allergies if any(a in n for n in names)}
        t.right += len(hit)
        t.misses += [f"{note}:{a}" for a in sorted(wanted_allergies - hit)]
        distinct = {frozenset(n) for n in names}
        t.predicted += len(distinct)
        good = {n for n in distinct if n & wanted_allergies}
        t.predicted_right += len(good)
        t.extras += [f"{note}:{sorted(n)[0]}" for n in distinct - good]

        conditions = [f for f in facts if f.kind == "condition"]
        for item in label["assertions"]:
            start = _occurrence(text, item["text"], int(item.get("occurrence", 1)))
            found, right = tallies["assertions_found"], tallies["assertions"]
            found.labelled += 1
            right.labelled += 1
            if start is None:
                continue
            end = start + len(item["text"])
            over = [f for f in conditions if f.start < end and f.end > start]
            if over:
                found.right += 1
            if any(status(f) == item["status"] for f in over):
                right.right += 1
            else:
                got = ",".join(sorted({status(f) for f in over})) or "-"
                right.misses += [f"{note}:{item['text']}={item['status']} got {got}"]

        score_labs(tallies["labs"], label["labs"], text, facts, note)
    return tallies


def score_labs(t: Tally, items: list[dict[str, Any]], text: str, facts: list[Any], note: str) -> None:
    """One document's lab values into ``t``: each labelled item found at its text with its value;
    precision over the lab facts that have a value."""
    labs = [f for f in facts if f.kind == "lab" and f.value is not None]
    for item in items:
        t.labelled += 1
        # On the labelled name: a fact may start at a word inside it ("sodium" of "Serum sodium level").
        spans = [range(m.start(), m.end()) for m in re.finditer(re.escape(item["text"]), text)]
        on_name = [f for f in labs if any(f.start in span for span in spans)]
        if not any(lab_value_right(f, item) for f in on_name):
            got = ",".join(f"{f.text!r}={f.value}" for f in on_name) or "-"
            t.misses += [f"{note}:{item['text']}={item['value']} got {got}"]
        else:
            t.right += 1
    t.predicted += len(labs)
    right_facts = {i for i, f in enumerate(labs) if any(lab_value_right(f, item) for item in items)}
    t.predicted_right += len(right_facts)
    t.extras += [f"{note}:{labs[i].text}={labs[i].value}" for i in range(len(labs)) if i not in right_facts]


def score_lab_reports(
    run: Callable[[str], Any], ids: Callable[[int], bool] = lambda _: True, path: Path = LAB_REPORTS
) -> Tally:
    """Lab values on the lab-report set (the reports of ``path`` whose id ``ids`` accepts): recall
    and precision, misses and extras by report name, and the values taken from its ``not_results``."""
    tally = Tally()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        report = json.loads(line)
        if not ids(int(report["id"])):
            continue
        facts = run(report["text"]).facts
        score_labs(tally, report["labs"], report["text"], facts, report["name"])
        tally.traps += _traps_taken(report, facts)
    return tally


def _traps_taken(report: dict[str, Any], facts: list[Any]) -> list[str]:
    """The ``not_results`` entries with a (wrong) value that a lab fact inside their text has."""
    taken = []
    labs = [f for f in facts if f.kind == "lab" and f.value is not None]
    for trap in report.get("not_results", []):
        if "value" not in trap:
            continue
        for match in re.finditer(re.escape(trap["text"]), report["text"]):
            inside = [f for f in labs if f.start < match.end() and f.end > match.start()]
            if any(same_value(f.value, trap["value"]) for f in inside):
                taken.append(f"{report['name']}:{trap['text']!r} ({trap['reason']})")
                break
    return taken


def summary(tallies: dict[str, Tally]) -> str:
    return "; ".join(
        f"{kind} recall {t.recall:.3f} ({t.right}/{t.labelled}) precision {t.precision:.3f} "
        f"({t.predicted_right}/{t.predicted})"
        if kind in {"medications", "allergies", "labs"}
        else f"{kind} {t.recall:.3f} ({t.right}/{t.labelled})"
        for kind, t in tallies.items()
    )
