"""Harm done by a named drug: "lithium toxicity", "cyclosporine toxicity", "acetaminophen
overdose", "an overdose of Tylenol", "toxicity from digoxin".

ICD-10-CM names such a condition by the drug's class ("Poisoning by ... antiepileptic"), never by
the ingredient a note writes, so the lexicon has no name for it. A medication mention joined to a
harm word is that condition: a condition of its own (named "<ingredient> toxicity"), spanning both,
with the status ConText gave the drug's mention ("possible lithium toxicity" is uncertain). Its
span is the harm words ("toxicity", "overdose of"): the drug's own mention stays beside it (the
patient was given it), and mentions never overlap.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from medupload.pipeline.vocabulary import Concept

_HARM = r"toxicity|overdose|intoxication|poisoning"
# "<drug> toxicity", "<drug>-toxicity"
_AFTER = re.compile(rf"[ \t]*-?[ \t]*({_HARM})\b", re.IGNORECASE)
# "overdose of Tylenol", "toxicity from his lithium"
_BEFORE = re.compile(
    rf"\b({_HARM})[ \t]+(?:of|on|from|with|due[ \t]+to)[ \t]+(?:(?:his|her|their|the|a)[ \t]+)?$",
    re.IGNORECASE,
)


def harm_mentions(text: str, mentions: list[Any]) -> list[Any]:
    """``mentions`` with a condition mention added for each medication named with a harm word."""
    added = []
    for m in mentions:
        if m.kind != "medication" or len(m.concepts) != 1 or m.needs_context:
            continue
        after = _AFTER.match(text, m.end)
        before = _BEFORE.search(text, max(0, m.start - 40), m.start)
        if after is not None:
            start, end, word = after.start(1), after.end(), after.group(1)
        elif before is not None:
            start, end, word = before.start(), before.end(1), before.group(1)
        else:
            continue
        concept = Concept("condition", f"{m.concepts[0].concept} {word.lower()}", None, None)
        added.append(replace(m, concepts=(concept,), start=start, end=end, matched=text[start:end]))
    if not added:
        return mentions
    return sorted([*mentions, *added], key=lambda m: m.start)
