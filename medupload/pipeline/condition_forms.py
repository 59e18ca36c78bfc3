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
- The clinical short form of a head noun: "infarct" for "infarction" in every name ("old
  infarct", "cerebral infarct", "no infarcts"), as radiology and cardiology reports write it.
- A finding's adjective with a word that only says "it happened": "embolic phenomenon" =
  embolism, "ischemic changes", "a thrombotic event", "a septic process", "a manic episode". The
  adjective is made from a one-word finding's name by its ending ("-ism", "-ia", "-y" -> "-ic";
  "-osis" -> "-otic"; "-sis" -> "-tic"), so it comes only from a finding the lexicon has.
- A word ending in "-oma" that no name has ("osteochondroma", "seroma", "condyloma"): the
  ending names a tumour or a swelling, so the word is a finding of its own (no code).
  ``OMA_FINDING`` is the placeholder the lexicon keeps for it; the mention takes the word as its
  concept. Ordinary words and bones with the ending are kept out (``NOT_OMA``: "diploma",
  "zygoma"); "stoma" is too short.
- "disease" and "disorder" said for each other at the end of a name: "bipolar disease" =
  bipolar disorder, "seizure disease", "bladder disease" = bladder disorder; a name ICD-10-CM
  gives with the other word keeps its own meaning.
- An organ's trouble in everyday words: "thyroid problems", "no kidney problems", "heart
  trouble" = the title ICD-10-CM gives the organ's disorder ("Disorder of thyroid", "Heart
  disease"). Only for a word that is a site or qualifier in ``MIN_SITES`` other condition names,
  so an eponym ("Christmas disease", "Baker disease") gives no "Christmas problems".

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
_DISORDER = ("disease", "disorder", "diseases", "disorders")
_TROUBLE = ("problem", "problems", "trouble", "issues")
# Adjective endings of a one-word finding ("embolism" -> "embolic"), most specific first.
_ADJECTIVE_ENDINGS = (("osis", "otic"), ("sis", "tic"), ("ism", "ic"), ("ia", "ic"), ("y", "ic"))
# Words after such an adjective that name the finding itself: an event, not a thing or a place.
_HAPPENINGS = ("phenomenon", "phenomena", "event", "events", "episode", "episodes", "process", "changes")
# The placeholder concept of a word ending in "-oma" (a key no token makes: it has a space).
OMA_FINDING = "finding named by its -oma ending"
OMA_KEY = (OMA_FINDING,)
# Ordinary words and anatomy ("zygoma", "stroma") with the ending.
# fmt: off
NOT_OMA = frozenset({
    "diploma", "diplomas", "aroma", "aromas", "chroma", "zygoma", "zygomas", "stroma", "stromas",
    "oklahoma", "tacoma", "sonoma", "paloma",
})
# fmt: on
# A head noun and the short form reports use for it (ICD-10-CM's index: "Infarct, infarction").
_SHORT_FORMS = {"infarction": ("infarct", "infarcts")}
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
    disorder, trouble = {fold(w) for w in _DISORDER}, tuple(fold(w) for w in _TROUBLE)
    organ_disorders: dict[str, Any] = {}
    swapped = {fold("disease"): fold("disorder"), fold("disorder"): fold("disease")}
    named_with: dict[str, int] = defaultdict(int)  # condition names a word begins or ends
    for tokens, hit in folded.items():
        found = concept_of(hit)
        if found.kind != "condition" or len(tokens) < 2:
            continue
        named_with[tokens[0]] += 1
        named_with[tokens[-1]] += 1
        if tokens[-1] in swapped and tokens[-2].isalpha():
            added.setdefault((*tokens[:-1], swapped[tokens[-1]]), hit)
        if len(tokens) == 2 and tokens[1] in disorder:
            organ_disorders.setdefault(tokens[0], hit)
        elif len(tokens) == 3 and tokens[0] in disorder and tokens[1] == fold("of"):
            organ_disorders.setdefault(tokens[2], hit)
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
    for organ, hit in organ_disorders.items():
        # More names than its own disorder titles: an organ or qualifier, not an eponym.
        if organ.isalpha() and organ not in not_findings and named_with[organ] >= MIN_SITES + 2:
            for word in trouble:
                added.setdefault((organ, word), hit)
    for tokens, hit in added.items():
        folded.setdefault(tokens, hit)
    folded.setdefault(OMA_KEY, new_finding(OMA_FINDING))
    _add_word_forms(folded, concept_of, fold)  # after the derived findings: "embolic", "infarct"


def _add_word_forms(
    folded: dict[tuple[str, ...], Any], concept_of: Callable[[Any], Any], fold: Callable[[str], str]
) -> None:
    """ "embolic phenomenon" = embolism (a one-word finding's adjective with a happening word), and
    "infarct" for "infarction" in every name; one pass over the names."""
    happenings = tuple(fold(w) for w in _HAPPENINGS)
    # The lexicon keeps "thrombosis"-like words without their "s" ("thrombosi", folded).
    endings = [(fold(e), fold(a)) for e, a in _ADJECTIVE_ENDINGS]
    endings += [(e[:-1], a) for e, a in endings if e.endswith("s") and len(e) > 3]
    shorts = {fold(long): tuple(map(fold, short)) for long, short in _SHORT_FORMS.items()}
    added: dict[tuple[str, ...], Any] = {}
    for tokens, hit in folded.items():
        if len(tokens) == 1 and len(tokens[0]) >= 6 and tokens[0].isalpha():
            if concept_of(hit).kind != "condition":
                continue
            for ending, adjective in endings:
                if tokens[0].endswith(ending):
                    for word in happenings:
                        added.setdefault((tokens[0][: -len(ending)] + adjective, word), hit)
                    break
        for at, token in enumerate(tokens):
            if token in shorts and concept_of(hit).kind == "condition":
                for short in shorts[token][: 2 if len(tokens) == 1 else 1]:
                    added.setdefault((*tokens[:at], short, *tokens[at + 1 :]), hit)
                break
    for tokens, hit in added.items():
        folded.setdefault(tokens, hit)
