"""The hand-labelled MTSamples sets checked against the notes themselves.

Seven files: the development set (tests/data/mtsamples_labels.jsonl), the held-out set
(tests/data/mtsamples_heldout.jsonl) and five fresh sets (tests/data/mtsamples_fresh.jsonl,
mtsamples_fresh2.jsonl ... mtsamples_fresh5.jsonl, notes from beyond the shared corpus, their texts
beside them). The labels are the independent ground truth for extraction scores (issue 9, point
5); this test only proves each file is well formed and anchored in the note text, and that no two
sets share a note, never how an extractor does on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mtsamples" / "notes.jsonl"
DATA = Path(__file__).resolve().parent / "data"
DEV_LABELS = DATA / "mtsamples_labels.jsonl"
HELDOUT_LABELS = DATA / "mtsamples_heldout.jsonl"
FRESH_LABELS = DATA / "mtsamples_fresh.jsonl"
FRESH_NOTES = DATA / "mtsamples_fresh_notes.jsonl"
FRESH2_LABELS = DATA / "mtsamples_fresh2.jsonl"
FRESH2_NOTES = DATA / "mtsamples_fresh2_notes.jsonl"
FRESH3_LABELS = DATA / "mtsamples_fresh3.jsonl"
FRESH3_NOTES = DATA / "mtsamples_fresh3_notes.jsonl"
FRESH4_LABELS = DATA / "mtsamples_fresh4.jsonl"
FRESH4_NOTES = DATA / "mtsamples_fresh4_notes.jsonl"
FRESH5_LABELS = DATA / "mtsamples_fresh5.jsonl"
FRESH5_NOTES = DATA / "mtsamples_fresh5_notes.jsonl"
# Per set: the file, at least how many notes, how many of the medication-rich ones and how many
# specialties.
LABEL_SETS = {
    "dev": (DEV_LABELS, 40, 20, 8),
    "heldout": (HELDOUT_LABELS, 30, 15, 8),
    "fresh": (FRESH_LABELS, 40, 20, 8),
    "fresh2": (FRESH2_LABELS, 20, 10, 8),
    "fresh3": (FRESH3_LABELS, 30, 15, 8),
    "fresh4": (FRESH4_LABELS, 16, 8, 6),
    "fresh5": (FRESH5_LABELS, 15, 8, 8),
}
STATUSES = {"present", "negated", "historical", "family", "uncertain"}
# The 60 medication-rich notes added to the corpus (README beside notes.jsonl) all have ids >= 1305.
MEDICATION_RICH_FIRST_ID = 1305
KEYS = {"id", "specialty", "medication_section_only", "medications", "allergies", "assertions", "labs"}


@pytest.fixture(scope="module")
def notes() -> dict[int, dict]:
    if not NOTES.exists():
        pytest.skip(f"MTSamples notes not found at {NOTES} (the shared data directory is not mounted)")
    shared = {row["id"]: row for row in _read(NOTES)}
    fresh = {row["id"]: row for row in _read(FRESH_NOTES)}
    fresh2 = {row["id"]: row for row in _read(FRESH2_NOTES)}
    fresh3 = {row["id"]: row for row in _read(FRESH3_NOTES)}
    fresh4 = {row["id"]: row for row in _read(FRESH4_NOTES)}
    fresh5 = {row["id"]: row for row in _read(FRESH5_NOTES)}
    assert not shared.keys() & fresh.keys(), "a fresh note is already in the shared corpus"
    assert not (shared.keys() | fresh.keys()) & fresh2.keys(), "a second-fresh note is already used"
    used = shared.keys() | fresh.keys() | fresh2.keys()
    assert not used & fresh3.keys(), "a third-fresh note is already used"
    assert not (used | fresh3.keys()) & fresh4.keys(), "a fourth-fresh note is already used"
    assert not (used | fresh3.keys() | fresh4.keys()) & fresh5.keys(), "a fifth-fresh note is already used"
    return shared | fresh | fresh2 | fresh3 | fresh4 | fresh5


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module", params=sorted(LABEL_SETS))
def label_set(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def labels(label_set: str) -> list[dict]:
    return _read(LABEL_SETS[label_set][0])


def _is_lower_name(value: object) -> bool:
    return isinstance(value, str) and value == value.strip().lower() and value != ""


def test_the_set_is_large_enough_and_unique(
    labels: list[dict], label_set: str, notes: dict[int, dict]
) -> None:
    _, min_notes, min_medication_rich, min_specialties = LABEL_SETS[label_set]
    ids = [label["id"] for label in labels]
    assert len(ids) == len(set(ids)), "a note is labelled twice"
    assert len(labels) >= min_notes
    medication_rich = [label for label in labels if label["id"] >= MEDICATION_RICH_FIRST_ID]
    assert len(medication_rich) >= min_medication_rich
    specialties = {notes[i]["specialty"] for i in ids if i in notes}
    assert len(specialties) >= min_specialties, "labels span too few specialties"
    # Duplicate transcriptions (the corpus holds a few, e.g. the same prostatitis recheck twice) would
    # count one note twice in the scores.
    texts = [notes[i]["text"] for i in ids if i in notes]
    assert len(texts) == len(set(texts)), "two labelled notes have the same text"


def test_every_label_is_well_formed(labels: list[dict], notes: dict[int, dict]) -> None:
    for label in labels:
        where = label.get("id")
        assert set(label) == KEYS, (where, sorted(set(label) ^ KEYS))
        assert where in notes, f"note {where} is not in notes.jsonl"
        assert label["specialty"] == notes[where]["specialty"], where
        assert label["medication_section_only"] is False, where
        for kind in ("medications", "allergies"):
            values = label[kind]
            assert all(_is_lower_name(v) for v in values), (where, kind, values)
            assert len(values) == len(set(values)), (where, kind, "duplicate")
        assert 3 <= len(label["assertions"]) <= 6, (where, len(label["assertions"]))


def test_every_assertion_is_anchored_in_the_note(labels: list[dict], notes: dict[int, dict]) -> None:
    for label in labels:
        text = notes[label["id"]]["text"]
        seen: set[tuple[str, int]] = set()
        for assertion in label["assertions"]:
            where = (label["id"], assertion)
            assert set(assertion) == {"text", "occurrence", "concept", "status"}, where
            assert assertion["status"] in STATUSES, where
            assert _is_lower_name(assertion["concept"]), where
            occurrence = assertion["occurrence"]
            assert isinstance(occurrence, int) and occurrence >= 1, where
            assert text.count(assertion["text"]) >= occurrence, where
            key = (assertion["text"], occurrence)
            assert key not in seen, ("the same span is labelled twice", where)
            seen.add(key)


def test_every_lab_is_anchored_in_the_note(labels: list[dict], notes: dict[int, dict]) -> None:
    for label in labels:
        text = notes[label["id"]]["text"]
        for lab in label["labs"]:
            where = (label["id"], lab)
            assert set(lab) == {"test", "text", "value", "unit"}, where
            assert _is_lower_name(lab["test"]), where
            assert lab["text"] and lab["text"] in text, where
            assert lab["value"] and lab["value"] in text, where
            assert any(ch.isdigit() for ch in lab["value"]), where
            # The value is written next to the test's name somewhere in the note ("creatinine of 1",
            # "1-2 red cells per high power field"); a series can trail the name ("white count ... at
            # 20,800, subsequently increased to 24.7 and then decreased to 16.6").
            assert any(
                lab["value"] in text[max(0, start - 20) : start + len(lab["text"]) + 120]
                for start in _positions(text, lab["text"])
            ), where
            assert lab["unit"] == "" or lab["unit"] in text, where


def test_statuses_cover_every_kind(labels: list[dict]) -> None:
    statuses = {a["status"] for label in labels for a in label["assertions"]}
    assert statuses == STATUSES


def test_no_two_sets_share_a_note(notes: dict[int, dict]) -> None:
    # A held-out note the extractor was tuned on (or a duplicate transcription of one) would not be
    # held out; MTSamples repeats some transcriptions under several specialties.
    ids = {name: {label["id"] for label in _read(path)} for name, (path, *_) in LABEL_SETS.items()}
    names = sorted(ids)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert not ids[first] & ids[second], (first, second)
            texts = {notes[n]["text"][:200] for n in ids[first]}
            assert not [n for n in ids[second] if notes[n]["text"][:200] in texts], (first, second)
    shared_texts = {row["text"][:200] for row in _read(NOTES)}
    for name in ("fresh", "fresh2", "fresh3", "fresh4", "fresh5"):
        assert not [n for n in ids[name] if notes[n]["text"][:200] in shared_texts], name


def _positions(text: str, needle: str) -> list[int]:
    found: list[int] = []
    start = text.find(needle)
    while start != -1:
        found.append(start)
        start = text.find(needle, start + 1)
    return found
