"""Recall and precision of extract() per kind on the hand-labelled MTSamples sets.

The development set (tests/data/mtsamples_labels.jsonl), the held-out set
(tests/data/mtsamples_heldout.jsonl, 45 other notes, a second labeller; definitions in
mtsamples_labels.md), the fresh set (tests/data/mtsamples_fresh.jsonl, 40 notes from beyond
the shared corpus, texts beside it, a third labeller; mtsamples_fresh.md) and four more fresh sets
(mtsamples_fresh2.jsonl ... fresh5.jsonl, 20, 30, 16 and 15 notes, one labeller each; their .md
files) were labelled from the note text by people who never saw the extractor; how each kind is scored is in
tests/mtsamples_scoring.py. The floors sit a little under the figures measured when they were set,
so a change that loses ground on any set fails here; the issue's
targets are printed beside them. Prints every miss and extra so a failure says what went wrong.
"""

from __future__ import annotations

import pytest
from mtsamples_scoring import SETS, Tally, load, missing_inputs, score, summary

from medupload.pipeline.extraction import extract

# Development set, measured on the 58 labelled notes (2026-12-01, issue 9): medications recall
# 0.943 / precision 0.959, allergies 0.909 / 0.952, condition assertions 0.880 right (0.904 found),
# labs 0.925 / 0.987; labs 1.000 / 0.994 after the lab rules of 2026-12-01 (urinalysis, fillers,
# pronouns, drug levels).
# Held-out set, scored once on its arrival BEFORE any change (the honest unseen measure, keep it):
# medications recall 0.869 (152/175) precision 0.927 (152/164); allergies 0.818 / 0.818;
# assertions 0.694 right (168/242), 0.789 found (191/242); labs recall 0.741 (129/174) precision
# 0.978 (131/134). Rules added after that were guided by its misses, so from then on it is a
# second development set, no longer unseen; its floors below follow the figures measured after.
# After the rules of 2026-12-01 (branch labs2): held-out medications 0.943 / 0.976, allergies
# 0.955 / 0.955, assertions 0.884 right (0.917 found), labs 0.931 / 1.000; dev medications
# 0.946 / 0.962, allergies 0.909 / 0.952, assertions 0.883 (0.907 found), labs 1.000 / 1.000.
# After the condition rules of branch assert3 (chronic "history of" is current, past events under
# PMH, list-scoped "status post", possessives and plurals, everyday names): assertions dev 0.901
# (0.929 found), held-out 0.909 (0.921 found); the other kinds unchanged. The 20 fresh unseen
# notes those rules were guided by (the fresh set's development half) went 0.763 -> 0.966.
# Fresh set (tests/data/mtsamples_fresh.md: 40 notes from beyond the shared corpus, a third
# labeller), scored once whole before any change: medications 0.911 / 0.951, allergies 0.921 /
# 0.921, assertions 0.747 (0.857 found), labs 0.896 / 0.994. Its 20 held-back notes, scored once
# after the labs3 and assert3 rules (the unseen measure): assertions 0.731 -> 0.832 (found 0.866 ->
# 0.924), medications 0.914 / 0.940 -> 0.925 / 0.945, labs 0.919 / 0.987 -> 0.938 / 0.987. All 40
# after: medications 0.925 / 0.957, allergies 0.921 / 0.921, assertions 0.899 (0.949 found), labs
# 0.957 / 0.994; from then on a development set like the others.
# After branch assert4 (past-tense course complications, hedges, chronic cirrhosis, capitalised
# headers without a colon, everyday condition names; RxNorm ingredients of brands and forms, a
# bare "insulin" as the named one): assertions dev 0.901 -> 0.914 (found 0.929 -> 0.938), held-out
# 0.909 -> 0.913 (0.921 -> 0.926), fresh 0.899 -> 0.941 (0.949 -> 0.970); medications dev 0.946 /
# 0.966 -> 0.950 / 0.973, held-out 0.949 / 0.976 -> 0.954 / 0.982, fresh 0.925 / 0.957 -> 0.967 /
# 0.986; allergies and labs unchanged.
# After branch labs4 (units cut short in dictation, CSF and urine contexts, drug levels in result
# lists, thresholds in comments): labs held-out 0.931 -> 0.960 (167/174) / 1.000, fresh 0.957 /
# 0.994 -> 0.994 / 1.000; the other kinds unchanged. Floors sit about 0.01-0.02 under these, so one
# item more or less on a set does not fail the suite but a lost rule does.
# Issue 9's later rounds (2026-12-01, second session): the second fresh set was tuned on by the
# assert5/labs6 rounds, the third by meds6/assert7/labs9 (half A) then assert8 (both halves), the
# fourth by assert9, the fifth by assert10. Each set's figure on arrival is in its .md and the README.
# After all of them: assertions dev 0.935, held-out 0.921, fresh 0.949, fresh2 0.917, fresh3 0.944,
# fresh4 0.927, fresh5 0.820 (0.708 on arrival); medications 0.950-0.984 recall, 0.973-0.992 precision on
# the tuned sets. Floors sit about 0.01-0.02 under the figures. assert11 (condition names prose uses:
# a determiner inside, a finding by its head noun, a body system's symptoms): assertions dev 0.951,
# held-out 0.930, fresh 0.958, fresh2 0.925, fresh5 0.854; the others unchanged.
# assert12 (history named again in the assessment, past surgical history, a story told at an
# earlier time, "in the past", consent risk lists, pseudo-negations), on top of assert11:
# assertions dev 0.954, held-out 0.938, fresh 0.962, fresh2 0.925, fresh3 0.955, fresh4 0.927,
# fresh5 0.865.
# assert14 (status on fresh6's misses: return visits, obstetric counts, operated organs, childhood,
# bare hedges, the past before the past, dated openings): assertions fresh 0.966, fresh3 0.960,
# fresh4 0.958, fresh5 0.921, fresh6 0.933 (= found: no status error left); the others unchanged.
# assert13 (conditions never found: "infarct", an organ's "problems", blurred vision, a drug's
# toxicity or overdose, "embolic phenomenon", an unknown "-oma" word, "bipolar disease"):
# assertions dev 0.957, fresh3 0.960, fresh4 0.938, fresh5 0.876, fresh6 0.883 (found 0.933 -> 0.975).
# meds8 (brands the dictionary maps to a bare moiety, opioid/acetaminophen strengths, vaccines,
# options not chosen, drugs to avoid, culture susceptibilities, class allergens, an allergy section
# ended by an unknown header, a bare "vitamin"): medications dev 0.953 / 0.986, held-out 0.966 /
# 0.988, fresh 0.978 / 0.992, fresh2 0.995 / 0.984, fresh3 0.938 / 0.966, fresh5 0.966 / 0.950,
# fresh6 0.990 / 0.990; allergies fresh4, fresh5 and fresh6 1.000 / 1.000, fresh 1.000 / 0.974.
FLOORS: dict[str, dict[str, dict[str, float]]] = {
    "dev": {
        "medications": {"recall": 0.94, "precision": 0.97},
        "allergies": {"recall": 0.85, "precision": 0.90},
        "assertions": {"recall": 0.94},
        "labs": {"recall": 0.98, "precision": 0.98},
    },
    "heldout": {
        "medications": {"recall": 0.95, "precision": 0.97},
        "allergies": {"recall": 0.90, "precision": 0.90},
        "assertions": {"recall": 0.93},
        "labs": {"recall": 0.95, "precision": 0.98},
    },
    "fresh": {
        "medications": {"recall": 0.96, "precision": 0.98},
        "allergies": {"recall": 0.99, "precision": 0.96},
        "assertions": {"recall": 0.95},
        "labs": {"recall": 0.97, "precision": 0.98},
    },
    "fresh2": {
        "medications": {"recall": 0.98, "precision": 0.97},
        "allergies": {"recall": 0.60, "precision": 0.90},
        "assertions": {"recall": 0.91},
        "labs": {"recall": 0.94, "precision": 0.98},
    },
    "fresh3": {
        "medications": {"recall": 0.92, "precision": 0.95},
        "allergies": {"recall": 0.90, "precision": 0.95},
        "assertions": {"recall": 0.95},
        "labs": {"recall": 0.92, "precision": 0.96},
    },
    "fresh4": {
        "medications": {"recall": 0.93, "precision": 0.97},
        "allergies": {"recall": 0.99, "precision": 0.99},
        "assertions": {"recall": 0.95},
        "labs": {"recall": 0.91, "precision": 0.95},
    },
    # Scored once, unseen, on 0f0b79c (assertions 0.708, found 0.809), then tuned on by assert10.
    "fresh5": {
        "medications": {"recall": 0.95, "precision": 0.94},
        "allergies": {"recall": 0.99, "precision": 0.99},
        "assertions": {"recall": 0.91},
        "labs": {"recall": 0.95, "precision": 0.95},
    },
    # Scored once, unseen: on e30b904 (before the rounds of 2026-12-01 night) assertions 0.825
    # (found 0.933), on 76887ab (after assert11, assert12, labs13) 0.850; then tuned on.
    "fresh6": {
        "medications": {"recall": 0.98, "precision": 0.98},
        "allergies": {"recall": 0.99, "precision": 0.99},
        "assertions": {"recall": 0.92},
        "labs": {"recall": 0.96, "precision": 0.95},  # 0.917 unseen; 0.959, 0.966 labs14/15
    },
    # Held back from both rounds of the night of 2026-12-01 and scored on e30b904 (before them),
    # 083f654 (after round 1) and e88fdce (after round 2): assertions 0.808 -> 0.817 -> 0.833 (found
    # 0.892 -> 0.917 -> 0.933); medications 0.954 / 0.976, labs 0.916 / 0.969 on e88fdce.
    "fresh7": {
        "medications": {"recall": 0.94, "precision": 0.96},
        "allergies": {"recall": 0.84, "precision": 0.66},
        "assertions": {"recall": 0.82},
        "labs": {"recall": 0.90, "precision": 0.95},
    },
    # Written during round 2, scored as fresh7: assertions 0.857 -> 0.882 -> 0.882 (found 0.908 ->
    # 0.933 -> 0.941); medications 0.918 / 0.973, labs 0.946 / 1.000 on e88fdce.
    "fresh8": {
        "medications": {"recall": 0.90, "precision": 0.96},
        "allergies": {"recall": 0.94, "precision": 0.99},
        "assertions": {"recall": 0.87},
        "labs": {"recall": 0.93, "precision": 0.99},
    },
}
TARGETS = "issue 9 targets: medications recall and precision >= 0.90, assertions >= 0.85, labs >= 0.95"
MINIMUM_NOTES = {
    "dev": 40,
    "heldout": 40,
    "fresh": 40,
    "fresh2": 20,
    "fresh3": 30,
    "fresh4": 16,
    "fresh5": 15,
    "fresh6": 20,
    "fresh7": 20,
    "fresh8": 20,
}


@pytest.fixture(scope="module", params=sorted(SETS))
def tallies(request: pytest.FixtureRequest) -> tuple[str, dict[str, Tally]]:
    name: str = request.param
    reason = missing_inputs(SETS[name])
    if reason:
        pytest.skip(reason)
    labels, notes = load(SETS[name])
    least = MINIMUM_NOTES[name]
    assert len(labels) >= least, f"the {name} set should cover at least {least} notes"
    return name, score(labels, notes, extract)


def test_scores_per_kind_meet_their_floors(tallies: tuple[str, dict[str, Tally]]) -> None:
    name, tally_of = tallies
    print(f"\nmtsamples {name} set: {summary(tally_of)}\n{TARGETS}")
    for kind, tally in tally_of.items():
        if tally.misses:
            print(f"  {kind} misses ({len(tally.misses)}): {'; '.join(tally.misses)}")
        if tally.extras:
            print(f"  {kind} extras ({len(tally.extras)}): {'; '.join(tally.extras)}")
    below = [
        f"{kind} {measure} {getattr(tally_of[kind], measure):.3f} < {floor}"
        for kind, floors in FLOORS[name].items()
        for measure, floor in floors.items()
        if getattr(tally_of[kind], measure) < floor
    ]
    assert below == []


def test_every_label_is_scored(tallies: tuple[str, dict[str, Tally]]) -> None:
    """The scorer found every labelled item (a typo in a label would silently lower recall)."""
    name, tally_of = tallies
    labels, _ = load(SETS[name])
    assert tally_of["assertions"].labelled == tally_of["assertions_found"].labelled
    assertions = sum(len(label["assertions"]) for label in labels)
    assert tally_of["assertions"].labelled == assertions >= 3 * len(labels)
    assert tally_of["medications"].labelled == sum(len(set(label["medications"])) for label in labels) >= 100
    # At least 30 lab values a set: the eighth set has 37, as lab-rich rows that are not procedures
    # have become scarce among the MTSamples rows no set has taken yet.
    assert tally_of["labs"].labelled == sum(len(label["labs"]) for label in labels) >= 30
