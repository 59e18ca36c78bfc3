"""What a note's layout says about a condition mention: whether it is in its section header's
paragraph (a section's implied status reaches that far), under a past surgical history header, or
an item of a consent's list of risks ("Potential complications include:\n1. Infection.")."""

from __future__ import annotations

import re
from typing import Any

BLANK_LINE = re.compile(r"\n[ \t]*\n")
# A header the sectionizer does not know ("DETAILS:") still ends the section above it.
_HEADER_LINE = re.compile(r"\n[ \t]*[A-Z][A-Z /&-]{2,40}:")

# A past surgical history header: "PAST SURGICAL HISTORY:", "Surgical history:", "PSH:".
SURGICAL_TITLE = re.compile(r"\bsurg|^\s*psh\b", re.IGNORECASE)


def in_header_paragraph(text: str, ent: Any) -> bool:
    """Whether ``ent`` is in its section header's paragraph (no blank line or unknown header
    between them)."""
    title = ent._.section_title
    return (
        title is not None
        and not BLANK_LINE.search(text, title.end_char, ent.start_char)
        and not _HEADER_LINE.search(text, title.end_char, ent.start_char)
    )


# A consent's list of what could happen: "Potential complications include, but are not limited
# to:\n1. Infection.\n2. Bleeding." (a bare "COMPLICATIONS:" header is the operation's own).
_RISK_LIST_HEAD = re.compile(
    r"\b(?:risks?|complications?|side[ \t]+effects?)\b[^\n]*"
    r"\b(?:include[sd]?|including|such[ \t]+as|are|were|potential|possible)\b[^\n]*:[ \t]*$",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"[ \t]*(?:\d{1,2}[.)]|[-*\u2022])[ \t]*")


def in_risk_list(text: str, ent: Any) -> bool:
    """Whether ``ent`` is an item of a list that a risks/complications line introduces."""
    start = text.rfind("\n", 0, ent.start_char) + 1
    if not _LIST_ITEM.match(text, start):
        return False
    for _ in range(20):  # up over the list's items to the line that introduces it
        if start == 0:
            return False
        above = text.rfind("\n", 0, start - 1) + 1
        line = text[above : start - 1]
        if _RISK_LIST_HEAD.search(line):
            return True
        if not _LIST_ITEM.match(line):
            return False
        start = above
    return False
