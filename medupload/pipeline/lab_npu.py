"""NPU specimen prefixes on lab names (Nordic and Dutch reports): "B-Hemoglobin", "P-Kreatinin",
"fP-Glukos", "U-Kalcium", "dU-Kalcium", "Pt-Kreatininclearance". The prefix names the specimen
(system), so it decides which test the name is: "U-" is the urine test, "dU-" (24-h urine) the
day's excretion, and a blood prefix (B, P, S, fP, fS, vB, aB, Pt) keeps the blood test. The name's
span takes the prefix in ("dU-Kalcium"), as printed.

One reason to change: how a specimen prefix turns a name into its test.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from medupload.pipeline.mentions import Mention
from medupload.pipeline.vocabulary import Vocabulary

#: The prefix right before a name, at a word's start (so "HbA1c" in "B-HbA1c", never "pH-" text).
_PREFIX = re.compile(r"(?:(?<=[\s(|])|^)(?P<system>dU|fP|fS|vB|aB|cB|Pt|Ery|B|P|S|U)-$")
_SYSTEM = re.compile(r"dU|fP|fS|vB|aB|cB|Pt|Ery|B|P|S|U")
_GLUED_CODE = re.compile(r"[A-Za-z]{2,}-$")
_URINE = frozenset({"U"})
_DAY_URINE = frozenset({"dU"})


def _prefixed(text: str, start: int) -> re.Match[str] | None:
    return _PREFIX.search(text, max(0, start - 4), start)


def with_specimen_prefix(text: str, mentions: Sequence[Mention], vocab: Vocabulary) -> list[Mention]:
    """``mentions`` with each prefixed lab name's span over its prefix, and a urine prefix's name
    turned into its urine (or 24-h urine) test when the vocabulary has one."""
    out = []
    starts = {m.start for m in mentions if m.kind == "lab"}
    for mention in mentions:
        system_only = _SYSTEM.fullmatch(text[mention.start : mention.end]) is not None
        if system_only and mention.end + 1 in starts and text.startswith("-", mention.end):
            continue  # "Pt-" of "Pt-Kreatininclearance" is the specimen, not prothrombin time
        glued = mention.kind == "lab" and text[mention.end : mention.end + 1].isdigit()
        if glued and _GLUED_CODE.search(text, max(0, mention.start - 12), mention.start):
            continue  # "EDTA-K2": a code glued to a word, not a name and its value
        prefix = _prefixed(text, mention.start) if mention.kind == "lab" else None
        if prefix is None:
            out.append(mention)
            continue
        system = prefix.group("system")
        concept = mention.concepts[0]
        name = concept.concept.removeprefix("24-hour urine ").removeprefix("urine ")
        lab = vocab.labs[concept.concept]
        wanted = None
        if system in _DAY_URINE:
            wanted = f"24-hour urine {name}"
        elif system in _URINE:
            wanted = lab.urine or f"urine {name}"
        if wanted is not None and wanted in vocab.lab_concepts:
            concept = vocab.concepts[vocab.lab_concepts[wanted]]
        elif wanted is not None or concept.concept.startswith("24-hour urine"):
            out.append(mention)  # a urine prefix with no urine test in the vocabulary: as matched
            continue
        start = prefix.start()
        matched = text[start : mention.end]
        out.append(replace(mention, concepts=(concept, *mention.concepts[1:]), start=start, matched=matched))
    return out
