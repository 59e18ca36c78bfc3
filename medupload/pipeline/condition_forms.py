"""Condition names derived from the vocabulary's own names when the lexicon is built: the forms
prose uses that no title words.

- A participle-first name said with its noun: "decreased appetite" = "decrease in appetite" (a
  determiner inside is read by the matcher: "decrease in her appetite"), "increased urination" =
  "increase in urination"; "alcohol withdrawal" = "withdrawal from alcohol".
- A finding named by its head noun alone: "no hematoma", "rule out a stricture", "there was
  stenosis in the mid-venous limb", "polyps removed", "no perforation". ICD-10-CM names such a
  finding only at a site ("Stenosis of bronchus", "Hematoma of ear"), so the bare word is no
  name. A word that heads condition names at ``MIN_SITES`` sites or more ("X of <site>", "X in
  <site>") is a finding by itself, unless it names a class or a relation rather than a finding, or
  is also a procedure or an ordinary word (``NOT_FINDINGS``). It is a concept of its own without
  a code: no ICD-10-CM code names the finding without its site.

Forms are folded ("i" -> "l") as the lexicon's keys are; a name already taken keeps its
meaning.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

_NOMINAL = {"decreased": ("decrease", "in"), "increased": ("increase", "in"), "reduced": ("reduction", "in")}
_WITHDRAWAL = "withdrawal"
MIN_SITES = 3
_OF = ("of", "in")
# Heads of site-named titles that are no finding on their own: a class ("disease", "lesion",
# "complication"), a relation or an amount ("absence", "loss", "excess"), also a procedure or a
# movement ("dissection", "aspiration", "avulsion", an "occlusion" clamp, "rupture" of membranes,
# the tongue's "protrusion"), or an ordinary word ("strain", "food", "bite", "supervision").
# fmt: off
NOT_FINDINGS = frozenset({
    "disease", "diseases", "disorder", "disorders", "syndrome", "condition", "conditions",
    "complication", "complications", "sequelae", "neoplasm", "abnormality", "abnormalities", "anomaly",
    "anomalies", "malformation", "finding", "defects", "lesion", "change", "changes", "deficiency",
    "decrease", "increase", "elevation", "loss", "lack", "absence", "excess", "exposure", "fear",
    "food", "seeds", "bones", "bite", "splinter", "vomitus", "supervision", "underdosing", "breakdown",
    "disturbances", "disruption", "discontinuity", "displacement", "malposition", "transposition",
    "inversion", "eversion", "duplication", "fusion", "compression", "aspiration", "dissection",
    "extravasation", "leakage", "overproduction", "hypersecretion", "failure", "instability", "abuse",
    "strain", "avulsion", "rupture", "dependence", "reaction", "personality", "pregnancy", "labor",
    "calculus", "occlusion", "protrusion",
})
# fmt: on


def add(
    folded: dict[tuple[str, ...], Any],
    concept_of: Callable[[Any], Any],
    new_finding: Callable[[str], Any],
    fold: Callable[[str], str],
) -> None:
    """Add the derived names to ``folded`` (the lexicon's folded table). ``concept_of`` gives a
    hit's (first) concept, ``new_finding`` the hit of a new condition concept of that name, ``fold``
    the lexicon's folding (the vocabulary module passes its own: it imports this one)."""
    nominal = {fold(k): tuple(map(fold, v)) for k, v in _NOMINAL.items()}
    withdrawal, of = fold(_WITHDRAWAL), {fold(w) for w in _OF}
    not_findings = {fold(w) for w in NOT_FINDINGS}
    added: dict[tuple[str, ...], Any] = {}
    heads: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    words: dict[str, str] = {}
    for tokens, hit in folded.items():
        found = concept_of(hit)
        if found.kind != "condition" or len(tokens) < 2:
            continue
        if tokens[0] in nominal:
            added.setdefault((*nominal[tokens[0]], *tokens[1:]), hit)
        elif len(tokens) == 2 and tokens[1] == withdrawal:
            added.setdefault((withdrawal, "from", tokens[0]), hit)
        if len(tokens) >= 3 and tokens[1] in of and tokens[0].isalpha() and tokens[0] not in not_findings:
            heads[tokens[0]].add(tokens[2:])
            for word in found.concept.split():
                if fold(word) == tokens[0]:
                    words.setdefault(tokens[0], word)
    for head, sites in heads.items():
        if len(sites) < MIN_SITES or head not in words or len(head) < 4:
            continue
        if (head,) in folded or (head[:-1],) in folded or (head + "s",) in folded or head[:-1] in heads:
            continue  # named already (the lexicon keeps "stenosis"-like words without their "s")
        added.setdefault((head,), new_finding(words[head]))
    for tokens, hit in added.items():
        folded.setdefault(tokens, hit)
