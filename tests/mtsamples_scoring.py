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
  thousands, 12.0 for 12,000, is the same value); precision over lab facts with a value.
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
NOTES = ROOT.parent / "shared" / "data" / "mtsamples" / "notes.jsonl"
NKDA_LABEL = "nkda"


def missing_inputs() -> str | None:
    """Why the scores cannot be computed here, or None."""
    if not LABELS.exists():
        return f"labelled set not found at {LABELS} (the labels branch is not merged)"
    if not NOTES.exists():
        return f"MTSamples notes not found at {NOTES} (the shared data directory is not mounted)"
    return None


def load() -> tuple[list[dict[str, Any]], dict[int, str]]:
    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    notes = {}
    for line in NOTES.read_text(encoding="utf-8").splitlines():
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

    @property
    def recall(self) -> float:
        return self.right / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.predicted_right / self.predicted if self.predicted else 1.0


def _number(value: str) -> float | None:
    cleaned = re.sub(r"(?<=\d),(?=\d{3}\b)", "", value.strip().lstrip("<>≤≥= "))
    try:
        return float(cleaned.replace(",", "."))
    except ValueError:
        return None


def same_value(ours: str | None, theirs: str) -> bool:
    a, b = _number(ours or ""), _number(theirs)
    if a is None or b is None:
        return False
    return any(abs(a * scale - b) <= 0.005 * max(abs(b), 1e-9) for scale in (1, 1000))


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

        labs = [f for f in facts if f.kind == "lab" and f.value is not None]
        t = tallies["labs"]
        used: set[int] = set()
        for item in label["labs"]:
            t.labelled += 1
            starts = [m.start() for m in re.finditer(re.escape(item["text"]), text)]
            match = next(
                (i for i, f in enumerate(labs) if f.start in starts and same_value(f.value, item["value"])),
                None,
            )
            if match is None:
                t.misses += [f"{note}:{item['text']}={item['value']}"]
            else:
                t.right += 1
                used.add(match)
        t.predicted += len(labs)
        right_facts = {
            i for i, f in enumerate(labs) if any(same_value(f.value, item["value"]) for item in label["labs"])
        }
        t.predicted_right += len(right_facts)
        t.extras += [f"{note}:{labs[i].text}" for i in range(len(labs)) if i not in right_facts]
    return tallies


def summary(tallies: dict[str, Tally]) -> str:
    return "; ".join(
        f"{kind} recall {t.recall:.3f} ({t.right}/{t.labelled}) precision {t.precision:.3f} "
        f"({t.predicted_right}/{t.predicted})"
        if kind in {"medications", "allergies", "labs"}
        else f"{kind} {t.recall:.3f} ({t.right}/{t.labelled})"
        for kind, t in tallies.items()
    )
