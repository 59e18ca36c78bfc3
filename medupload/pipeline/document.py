"""Document-level reading: the document type by weighted cues, and OCR confidence around a span."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from medupload.pipeline.vocabulary import vocabulary


def classify(text: str, facts: Sequence[Any]) -> str:
    """The document type by weighted cues (see data/document_types.yaml)."""
    config = vocabulary().doc_types
    head = text[:300]
    counts = {
        "lab_with_value": sum(1 for f in facts if f.kind == "lab" and f.value is not None),
        "medication": sum(1 for f in facts if f.kind == "medication" and not f.negated),
    }
    best, best_score = "other", 0.0
    for name, spec in config["types"].items():
        score = 0.0
        for pattern, weight in (spec.get("cues") or {}).items():
            regex = _cue(pattern)
            hits = len(regex.findall(text))
            if hits:
                score += weight * min(hits, 3) + (weight if regex.search(head) else 0)
        for counter, weight in (spec.get("facts") or {}).items():
            score += min(weight * counts.get(counter, 0), 4.0)
        if score > best_score:
            best, best_score = name, score
    return best if best_score >= float(config.get("min_score", 3)) else "other"


@lru_cache(maxsize=256)
def _cue(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Confidence


@dataclass(frozen=True)
class Confidences:
    starts: list[int]
    ends: list[int]
    values: list[float]

    @classmethod
    def of(cls, words: Iterable[tuple[int, int, float]]) -> Confidences:
        ordered = sorted((int(s), int(e), float(c)) for s, e, c in words)
        return cls([w[0] for w in ordered], [w[1] for w in ordered], [w[2] for w in ordered])

    def around(self, start: int, end: int) -> float:
        """The lowest confidence of the OCR words overlapping [start, end); 1.0 if none."""
        if not self.starts:
            return 1.0
        low = bisect.bisect_right(self.ends, start)  # first word ending after start
        high = bisect.bisect_left(self.starts, end)  # words starting before end
        overlapping = [
            v
            for s, e, v in zip(self.starts[low:high], self.ends[low:high], self.values[low:high], strict=True)
            if e > start and s < end
        ]
        return max(0.0, min(1.0, min(overlapping))) if overlapping else 1.0
