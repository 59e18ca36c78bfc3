"""Dates in clinical text: every date with its label (document, collection, birth), and the
document's own date. Future dates are ignored; two-digit years resolve against ``today``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE_RE = re.compile(
    r"(?<![\d/.-])(?:"
    r"(?P<iy>(?:19|20)\d\d)-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    r"|(?P<um>\d{1,2})(?P<sep>[/.-])(?P<ud>\d{1,2})(?P=sep)(?P<uy>\d{4}|\d{2})"
    r"|(?P<nm>" + _MONTH + r")\s+(?P<nd>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<ny>(?:19|20)\d\d)"
    r"|(?P<dd>\d{1,2})[\s-](?P<dm>" + _MONTH + r")[\s,-]+(?P<dy>(?:19|20)\d\d)"
    r")(?![\d/])",
    re.IGNORECASE,
)
_DOB_RE = re.compile(r"(?:birth|dob|d\.o\.b|born)\W{0,3}(?:date)?\W{0,3}$", re.IGNORECASE)
_DOC_DATE_LABELS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(rf"\b(?:{label})\s*(?:date)?\s*[:#=]?\s*$", re.IGNORECASE)
    for label in (
        r"discharge\s+date|date\s+of\s+discharge|discharged",
        r"report\s+date|date\s+reported|reported|date\s+of\s+report|result\s+date|resulted",
        r"date\s+of\s+service|service\s+date|dos|visit\s+date|date\s+of\s+visit|encounter\s+date"
        r"|exam\s+date|date\s+of\s+exam|study\s+date|letter\s+date|date\s+issued|issued",
    )
)
_GENERIC_DATE_LABEL = re.compile(
    r"(?<![A-Za-z] )(?<![A-Za-z])(?<!birth )(?<!admission )\bdate\s*[:#=]?\s*$", re.IGNORECASE
)
_COLLECTED_LABEL = re.compile(
    r"\b(?:collection\s+date|date\s+collected|collected(?:\s+on)?|specimen\s+collected|drawn(?:\s+on)?"
    r"|date\s+drawn|sample\s+date)\s*[:#=]?\s*$",
    re.IGNORECASE,
)


def _to_date(match: re.Match[str], today: date) -> date | None:
    g = match.groupdict()
    try:
        if g["iy"]:
            return date(int(g["iy"]), int(g["im"]), int(g["id"]))
        if g["uy"]:
            year = int(g["uy"])
            if len(g["uy"]) == 2:
                year += 2000 if year <= today.year % 100 else 1900
            month, day = int(g["um"]), int(g["ud"])
            if g["sep"] == "." or month > 12:
                month, day = day, month  # "14.10.2026", "25/12/2025": day first (UK, Europe)
            return date(year, month, day)
        if g["ny"]:
            return date(int(g["ny"]), _MONTHS[g["nm"][:3].lower()], int(g["nd"]))
        if g["dy"]:
            return date(int(g["dy"]), _MONTHS[g["dm"][:3].lower()], int(g["dd"]))
    except (ValueError, KeyError):
        return None
    return None


@dataclass(frozen=True)
class FoundDate:
    value: date
    start: int
    end: int
    label: str  # "doc:<priority>", "collected", "dob", or "" (unlabelled)


def find_dates(text: str, today: date) -> list[FoundDate]:
    found: list[FoundDate] = []
    for match in DATE_RE.finditer(text):
        value = _to_date(match, today)
        if value is None or value > today:
            continue
        before = text[max(0, match.start() - 40) : match.start()]
        label = ""
        if _DOB_RE.search(before):
            label = "dob"
        elif _COLLECTED_LABEL.search(before):
            label = "collected"
        else:
            for priority, pattern in enumerate(_DOC_DATE_LABELS):
                if pattern.search(before):
                    label = f"doc:{priority}"
                    break
            else:
                if _GENERIC_DATE_LABEL.search(before):
                    label = f"doc:{len(_DOC_DATE_LABELS)}"
        found.append(FoundDate(value, match.start(), match.end(), label))
    return found


def document_date(dates: Sequence[FoundDate]) -> date | None:
    """A labelled document date (discharge > report > service > "Date:"), else a collection
    date, else the first date that is not a date of birth."""
    labelled = sorted((d for d in dates if d.label.startswith("doc:")), key=lambda d: (d.label, d.start))
    if labelled:
        return labelled[0].value
    for wanted in ("collected", ""):
        for d in dates:
            if d.label == wanted:
                return d.value
    return None
