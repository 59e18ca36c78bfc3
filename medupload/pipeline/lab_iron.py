"""A report's bare "% SATURATION" row: the transferrin saturation only inside an iron panel.

One reason to change: where a generic saturation row names the iron study. Quest and other labs
print the transferrin saturation of an "IRON, TIBC AND FERRITIN PANEL" as "% SATURATION"; outside
a block headed or filled by iron studies the words are an oxygen saturation or prose, never read.
"""

from __future__ import annotations

import re

__all__ = ["IRON_PRINT_NAMES", "in_iron_block"]

IRON_PRINT_NAMES = frozenset({"% SATURATION"})
_IRON_WORD = re.compile(
    r"\b(?:iron|tibc|uibc|ferritin|transferrin|iron[ \t]+binding[ \t]+capacity)\b", re.IGNORECASE
)
_BLOCK_BREAK = re.compile(r"\n[ \t]*\n")
_LINES = 6  # the row's panel heading or its iron rows sit this close above it


def in_iron_block(text: str, start: int) -> bool:
    """Whether the line at ``start`` follows, in its block, a line naming an iron study."""
    line_start = text.rfind("\n", 0, start) + 1
    breaks = [b.end() for b in _BLOCK_BREAK.finditer(text, 0, line_start)]
    lines = text[breaks[-1] if breaks else 0 : line_start].splitlines()[-_LINES:]
    return any(_IRON_WORD.search(line) for line in lines)
