"""The lab mention of each observation of a structured message (HL7 v2, FHIR JSON): its printed
name and its alternate name are matched on their own, one a line, apart from the codes and
punctuation that glue them in the message, and the vocabulary's lab concept is taken, keeping the
message's own code when the vocabulary has none.

One reason to change: how a coded observation's names become its lab concept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from medupload.pipeline.assertions import Flags
from medupload.pipeline.mentions import Mention, find_mentions
from medupload.pipeline.vocabulary import Concept


class ObservationName(NamedTuple):
    name: str  # as printed (the mention's text)
    alternate: str  # another name of the same test, matched when the printed one is not known
    name_start: int  # the printed name's span in the text
    name_end: int
    code: str | None  # the message's code for the test
    system: str | None  # its code system ("LOINC")


def observation_name_mentions(observations: Sequence[ObservationName], with_base: bool) -> list[Mention]:
    """Each observation as a lab mention on its printed name, its lab the one its printed name (or
    else its alternate name) names."""
    lines = [line for o in observations for line in (o.name, o.alternate)]
    names = "\n".join(lines)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    found = [m for m in find_mentions(names, with_base) if m.kind == "lab"] if names.strip() else []
    out = []
    for n, observation in enumerate(observations):
        named = [m for m in found if starts[2 * n] <= m.start < starts[2 * n + 2]]
        concept = Concept("lab", observation.name.lower(), observation.code, observation.system)
        if named:  # the vocabulary's lab, with the message's code when the vocabulary has none
            concept = named[0].concepts[0]
            if concept.code is None and observation.code:
                concept = concept._replace(code=observation.code, system=observation.system)
        span = (observation.name_start, observation.name_end)
        out.append(Mention((concept,), False, *span, "results", Flags(), observation.name))
    return out
