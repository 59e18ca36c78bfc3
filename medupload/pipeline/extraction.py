"""Clinical extraction: OCR text -> conditions, medications, labs, allergies and procedures.

Rule-based (no statistical model can be shipped): a blank spaCy English tokenizer, our own
line-aware sentence splitter, medspaCy's TargetMatcher fed from the vocabularies in
``data/``, ConText for assertions (negated, historical, family, hypothetical, uncertain) and
the Sectionizer. Values, units, doses, routes, frequencies and dates are read with regular
expressions from the text right after each match, so every fact keeps exact offsets.

OCR slips are tolerated by matching on a *folded* token form (lower case, 0->o, 1/i/|/!->l),
so "HbAlc", "HbA1c" and "hba1c" meet, as do "Metformln" and "metformin". Abbreviations
written in capitals in the vocabularies ("HTN", "ECG") are matched case-sensitively and
unfolded, because their lower-case forms are ordinary words.

The pipeline is built once per process (``nlp()``); ``extract`` serialises only the spaCy
call behind a lock, so it can be used from a thread pool.
"""

from __future__ import annotations

import bisect
import csv
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"

DOCUMENT_TYPES: tuple[str, ...] = (
    "lab_report",
    "medication_list",
    "discharge_summary",
    "imaging_report",
    "immunization_record",
    "referral_letter",
    "insurance_card",
    "other",
)

NO_KNOWN_ALLERGIES = "no known drug allergies"
#: Below this OCR confidence, or with a value/unit we could not trust, a fact needs review.
REVIEW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class ExtractedFact:
    kind: str  # condition | medication | lab | allergy | procedure
    concept: str  # normalised name; for a medication the ingredient, never the brand
    code: str | None  # ICD-10-CM / RxNorm / LOINC code
    system: str | None  # "ICD-10-CM" | "RxNorm" | "LOINC"
    text: str  # the matched text span (== input[start:end])
    start: int
    end: int
    value: str | None = None  # lab result value, medication dose
    unit: str | None = None  # normalised unit
    route: str | None = None
    frequency: str | None = None
    date: str | None = None  # ISO: a lab's collection date, else the document date
    section: str | None = None
    negated: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    uncertain: bool = False
    confidence: float = 1.0  # 0..1, OCR word confidence around the span (minimum)


@dataclass(frozen=True)
class Extraction:
    facts: list[ExtractedFact]
    document_type: str
    document_date: str | None


# ---------------------------------------------------------------------------------------------
# Vocabularies (data files)


@dataclass(frozen=True)
class Concept:
    kind: str  # condition | medication | lab | allergen | procedure | nkda
    concept: str
    code: str | None
    system: str | None
    names: tuple[str, ...]


@dataclass(frozen=True)
class LabDef:
    concept: str
    unit: str | None  # canonical display unit
    units: tuple[str, ...]  # accepted display units (whitelist)
    molar_mass: float | None  # g/mol, for mass <-> substance conversions
    low: float | None  # plausible range in the canonical unit
    high: float | None


@dataclass(frozen=True)
class UnitDef:
    display: str
    pint: str
    scale: float


@dataclass(frozen=True)
class Vocabulary:
    concepts: tuple[Concept, ...]
    labs: dict[str, LabDef]
    units: dict[str, UnitDef]  # lower-case alias -> unit
    unit_re: re.Pattern[str]
    sig: tuple[tuple[str, re.Pattern[str], str], ...]  # (field, pattern, normalised value)
    doc_types: dict[str, Any]
    context: dict[str, Any]


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _names(cell: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in cell.split("|") if name.strip())


def _float(cell: str) -> float | None:
    return float(cell) if cell.strip() else None


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """All data files, parsed once."""
    concepts: list[Concept] = []
    for row in _rows("conditions.csv"):
        concepts.append(
            Concept("condition", row["concept"], row["code"], "ICD-10-CM", _names(row["synonyms"]))
        )
    for row in _rows("medications.csv"):
        concepts.append(
            Concept("medication", row["ingredient"], row["rxnorm"], "RxNorm", _names(row["names"]))
        )
    for row in _rows("allergens.csv"):
        code = row["rxnorm"] or None
        concepts.append(
            Concept("allergen", row["concept"], code, "RxNorm" if code else None, _names(row["names"]))
        )
    for row in _rows("procedures.csv"):
        code = row["loinc"] or None
        concepts.append(
            Concept("procedure", row["concept"], code, "LOINC" if code else None, _names(row["names"]))
        )
    labs: dict[str, LabDef] = {}
    for row in _rows("labs.csv"):
        concepts.append(Concept("lab", row["concept"], row["loinc"], "LOINC", _names(row["names"])))
        labs[row["concept"]] = LabDef(
            concept=row["concept"],
            unit=row["unit"] or None,
            units=_names(row["units"]),
            molar_mass=_float(row["molar_mass"]),
            low=_float(row["low"]),
            high=_float(row["high"]),
        )
    nkda = (
        "NKDA|NKA|no known drug allergies|no known drug allergy|no known allergies|no known allergy"
        "|no known medication allergies|no known medicine allergies|no known drug allergies or sensitivities"
        "|no drug allergies|no medication allergies|no allergies"
    )
    concepts.append(Concept("nkda", NO_KNOWN_ALLERGIES, None, None, _names(nkda)))

    units = {
        row["alias"].lower(): UnitDef(row["unit"], row["pint"], float(row["scale"]))
        for row in _rows("units.csv")
    }
    aliases = sorted(units, key=len, reverse=True)
    unit_re = re.compile(
        r"\s*(?:\b[HL]\b\s*|\*\s*)?(?P<unit>" + "|".join(re.escape(a) for a in aliases) + r")(?![A-Za-z0-9])",
        re.IGNORECASE,
    )
    sig = tuple(
        (
            row["field"],
            re.compile(rf"(?<![A-Za-z])(?:{row['pattern']})(?![A-Za-z])", re.IGNORECASE),
            row["value"],
        )
        for row in _rows("sig.csv")
    )
    doc_types = yaml.safe_load((DATA_DIR / "document_types.yaml").read_text(encoding="utf-8"))
    context = yaml.safe_load((DATA_DIR / "context_rules.yaml").read_text(encoding="utf-8"))
    return Vocabulary(tuple(concepts), labs, units, unit_re, sig, doc_types, context)


# ---------------------------------------------------------------------------------------------
# The spaCy / medspaCy pipeline (built once per process)

_FOLD = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "!": "l"})


def fold(text: str) -> str:
    """The OCR-tolerant matching form of a token: confusable characters collapse together."""
    return text.lower().translate(_FOLD)


_BUILD_LOCK = threading.Lock()
_NLP_LOCK = threading.Lock()
_NLP: Any = None


def _quiet_loggers() -> None:
    # medspaCy and PyRuSH log every sentence at DEBUG level through loguru.
    try:
        from loguru import logger

        logger.disable("medspacy")
        logger.disable("PyRuSH")
    except ImportError:  # pragma: no cover - loguru comes with medspacy
        pass


def _register_components() -> None:
    from spacy.language import Language

    if "medupload_ocr_norm" not in Language.factories:

        @Language.component("medupload_ocr_norm")
        def _ocr_norm(doc: Any) -> Any:
            for token in doc:
                token.norm_ = fold(token.text)
            return doc

    if "medupload_lines" not in Language.factories:

        @Language.component("medupload_lines")
        def _lines(doc: Any) -> Any:
            # Clinical text is line-oriented: a list item must not inherit the negation of
            # the line above, so every line break and every full stop ends a sentence.
            for i, token in enumerate(doc):
                if i == 0:
                    token.is_sent_start = True
                    continue
                prev = doc[i - 1]
                if "\n" in prev.text or "\n" in prev.whitespace_:
                    # A wrapped line of prose continues ("her father had\na stroke"); a line
                    # starting with a capital, digit or bullet starts a new item.
                    before = doc[i - 2] if prev.is_space and i >= 2 else prev
                    wrapped = token.text[:1].islower() and before.text not in {".", ":", ";", "!", "?"}
                    token.is_sent_start = not wrapped
                else:
                    token.is_sent_start = prev.text in {".", "!", "?", ";"}
            return doc


def _target_rules(nlp: Any) -> list[Any]:
    from medspacy.ner import TargetRule

    rules: list[Any] = []
    for index, concept in enumerate(vocabulary().concepts):
        for name in concept.names:
            tokens = [t.text for t in nlp.make_doc(name) if not t.is_space]
            if not any(c.islower() for c in name):
                pattern = [{"ORTH": t} for t in tokens]  # abbreviation: exact, case-sensitive
            else:
                pattern = [{"NORM": fold(t)} for t in tokens]
            rules.append(TargetRule(name, concept.kind.upper(), pattern=pattern, metadata={"index": index}))
    # Every rule above is a token pattern; a regular expression that never occurs keeps
    # medspaCy's regex matcher non-empty, so spaCy does not warn (W036) on every document.
    rules.append(TargetRule("unused", "UNUSED", pattern="\u2063medupload\u2063"))
    return rules


def _context_rules(default_path: str) -> list[Any]:
    """medspaCy's default ConText rules, adjusted by data/context_rules.yaml."""
    from medspacy.context import ConTextRule

    config = vocabulary().context
    dropped = {literal.lower() for literal in config.get("drop", [])}
    rules = [r for r in ConTextRule.from_json(default_path) if r.literal.lower() not in dropped]
    for literal, category, direction in config.get("add", []):
        rules.append(ConTextRule(literal, category, direction=direction))
    return rules


def build_nlp() -> Any:
    """Build the pipeline (slow: ~1 s). Use ``nlp()`` to get the shared instance."""
    _quiet_loggers()
    import medspacy  # noqa: F401  (registers the medspacy_* factories)
    import spacy

    _register_components()
    nlp = spacy.blank("en")
    nlp.add_pipe("medupload_ocr_norm")
    nlp.add_pipe("medupload_lines")
    matcher = nlp.add_pipe("medspacy_target_matcher")
    matcher.add(_target_rules(nlp))
    # NKDA says "no known ..." itself: it is a statement, not a negated allergy.
    context = nlp.add_pipe("medspacy_context", config={"rules": None, "excluded_types": ["NKDA"]})
    context.add(_context_rules(context.DEFAULT_RULES_FILEPATH))
    # Section-implied assertions are applied in ``_mentions``, scoped to the header's
    # paragraph: medspaCy's defaults would mark everything after "ALLERGIES:" as hypothetical
    # until the next header.
    # Headers must start a line: "she used to have allergies" is prose, not a section.
    sectionizer = nlp.add_pipe(
        "medspacy_sectionizer", config={"span_attrs": None, "require_start_line": True}
    )
    from medspacy.section_detection import SectionRule

    # Its default rules are all phrases: one never-matching token pattern avoids W036 warnings.
    sectionizer.add([SectionRule("unused", "unused", pattern=[{"ORTH": "\u2063medupload\u2063"}])])
    return nlp


def nlp() -> Any:
    """The process-wide pipeline, built on first use."""
    global _NLP
    if _NLP is None:
        with _BUILD_LOCK:
            if _NLP is None:
                _NLP = build_nlp()
    return _NLP


# ---------------------------------------------------------------------------------------------
# Dates

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
    r"|(?P<um>\d{1,2})[/.-](?P<ud>\d{1,2})[/.-](?P<uy>\d{4}|\d{2})"
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
            return date(year, int(g["um"]), int(g["ud"]))
        if g["ny"]:
            return date(int(g["ny"]), _MONTHS[g["nm"][:3].lower()], int(g["nd"]))
        if g["dy"]:
            return date(int(g["dy"]), _MONTHS[g["dm"][:3].lower()], int(g["dd"]))
    except (ValueError, KeyError):
        return None
    return None


@dataclass(frozen=True)
class _Date:
    value: date
    start: int
    end: int
    label: str  # "doc:<priority>", "collected", "dob", or "" (unlabelled)


def _find_dates(text: str, today: date) -> list[_Date]:
    found: list[_Date] = []
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
        found.append(_Date(value, match.start(), match.end(), label))
    return found


def _document_date(dates: Sequence[_Date]) -> date | None:
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


# ---------------------------------------------------------------------------------------------
# Values, units, medication instructions

_LAB_VALUE_RE = re.compile(
    r"^[ \t]*(?:\([^)\n]{0,40}\)[ \t]*)?"
    r"(?:,?[ \t]*(?:fasting|random|total|serum|plasma|direct|calculated|calc|blood|urine)\b[ \t]*)*"
    r"(?:(?:[:=|,\t-]|level|levels|result|value|was|were|is|of|now|today|measured|at|to)[ \t]*)*"
    r"(?:(?:19|20)\d\d-\d\d?-\d\d?[ \t:|]+|\d\d?/\d\d?/\d{2,4}[ \t:|]+)?"
    r"(?P<cmp>[<>≤≥]=?[ \t]*)?(?P<num>\d+(?:[.,]\d+)?)(?![\d/]|-\d|[.,]\d)",
    re.IGNORECASE,
)
_DOSE_RE = re.compile(
    r"(?<![\w.])(?P<dose>\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?)\s*"
    r"(?P<unit>mg|mcg|µg|ug|g|grams?|units?|iu|u|ml|meq|%)(?![A-Za-z])",
    re.IGNORECASE,
)
_DOSE_UNITS = {
    "mg": "mg",
    "mcg": "mcg",
    "µg": "mcg",
    "ug": "mcg",
    "g": "g",
    "gram": "g",
    "grams": "g",
    "unit": "units",
    "units": "units",
    "iu": "units",
    "u": "units",
    "ml": "mL",
    "meq": "mEq",
    "%": "%",
}
# An allergy statement right before a drug on the same line: "Allergies: penicillin, sulfa",
# "allergic to codeine" (a sentence end in between breaks it).
_ALLERGY_CUE = re.compile(
    r"(?:allerg(?:ic|y|ies)\s*(?:to\b|:|-)|intoleran(?:t|ce)\s+to\b|reaction\s+to\b)[^.\n]*$", re.IGNORECASE
)
_ALLERGIES_NONE = re.compile(
    r"\b(?:drug\s+)?allerg(?:y|ies)\s*[:\-]\s*(?P<none>none(?:\s+known)?|nil|denie[sd])\b", re.IGNORECASE
)

_UREG: Any = None
_UREG_LOCK = threading.Lock()


def _ureg() -> Any:
    """pint's registry is slow to build, and only needed for an actual conversion."""
    global _UREG
    with _UREG_LOCK:
        if _UREG is None:
            import pint

            _UREG = pint.UnitRegistry()
    return _UREG


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _convert(value: float, raw: UnitDef, lab: LabDef) -> float | None:
    """``value`` in ``raw`` to the lab's canonical unit, through pint (molar mass if needed)."""
    if raw.display == lab.unit:
        return value * 1.0
    canonical = next((u for u in vocabulary().units.values() if u.display == lab.unit), None)
    if canonical is None:
        return None
    ureg = _ureg()
    quantity = ureg.Quantity(value * raw.scale, raw.pint)
    target = ureg.Quantity(canonical.scale, canonical.pint)
    try:
        if quantity.dimensionality != target.dimensionality and lab.molar_mass:
            molar = ureg.Quantity(lab.molar_mass, "g/mol")
            for candidate in (quantity * molar, quantity / molar):
                if candidate.dimensionality == target.dimensionality:
                    quantity = candidate
                    break
        return float((quantity / target).to("dimensionless").magnitude)
    except Exception:  # pint raises several error types for incompatible units
        return None


@dataclass
class _LabReading:
    value: str | None = None
    unit: str | None = None
    end: int | None = None  # where the reading ends (extends the fact's span)
    trusted: bool = True


def _read_lab(text: str, start: int, stop: int, lab: LabDef) -> _LabReading:
    window = text[start:stop]
    match = _LAB_VALUE_RE.match(window)
    if match is None:
        return _LabReading()
    number = float(match["num"].replace(",", "."))
    comparator = (match["cmp"] or "").strip()
    end = start + match.end()
    unit_match = vocabulary().unit_re.match(window, match.end())
    raw = vocabulary().units[unit_match["unit"].lower()] if unit_match else None
    if unit_match:
        end = start + unit_match.end()
    if lab.unit is None:  # unitless (INR) or a panel
        if raw is not None:
            return _LabReading(None, None, end, trusted=False)
        plausible = lab.low is None or (lab.low <= number <= (lab.high or number))
        return _LabReading(comparator + match["num"] if plausible else None, None, end, plausible)
    if raw is None:
        converted: float | None = number  # a bare number in a lab line: assume the canonical unit
    elif raw.display in lab.units:
        converted = _convert(number, raw, lab)
    else:
        return _LabReading(None, None, end, trusted=False)
    if converted is None:
        return _LabReading(None, None, end, trusted=False)
    if lab.low is not None and lab.high is not None and not lab.low <= converted <= lab.high:
        return _LabReading(None, None, end, trusted=False)
    shown = match["num"].replace(",", ".") if raw is None or raw.display == lab.unit else _fmt(converted)
    return _LabReading(comparator + shown, lab.unit, end)


@dataclass
class _Sig:
    dose: str | None = None
    unit: str | None = None
    route: str | None = None
    frequency: str | None = None
    end: int | None = None


def _read_sig(text: str, start: int, stop: int) -> _Sig:
    window = text[start:stop]
    sig = _Sig()
    ends: list[int] = []
    dose = _DOSE_RE.search(window)
    if dose:
        sig.dose = re.sub(r"\s+", "", dose["dose"])
        sig.unit = _DOSE_UNITS[dose["unit"].lower()]
        ends.append(dose.end())
    for field_name, pattern, value in vocabulary().sig:
        if getattr(sig, field_name) is not None:
            continue
        found = pattern.search(window)
        if found:
            setattr(sig, field_name, value)
            ends.append(found.end())
    if ends:
        sig.end = start + max(ends)
    return sig


# ---------------------------------------------------------------------------------------------
# Document type


def classify(text: str, facts: Sequence[ExtractedFact]) -> str:
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
class _Confidences:
    starts: list[int]
    ends: list[int]
    values: list[float]

    @classmethod
    def of(cls, words: Iterable[tuple[int, int, float]]) -> _Confidences:
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


# ---------------------------------------------------------------------------------------------
# Extraction


@dataclass
class _Mention:
    concept: Concept
    start: int
    end: int
    section: str | None
    negated: bool
    historical: bool
    family: bool
    hypothetical: bool
    uncertain: bool
    matched: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, (len(text) if line_end == -1 else line_end)


def _mentions(text: str) -> list[_Mention]:
    pipeline = nlp()
    with _NLP_LOCK:  # spaCy components share mutable state; the rest runs unlocked
        doc = pipeline(text)
    concepts = vocabulary().concepts
    implied: dict[str, str] = vocabulary().context.get("section_attributes", {})
    mentions: list[_Mention] = []
    for ent in doc.ents:
        rule = ent._.target_rule
        if rule is None or not rule.metadata:
            continue
        flags = {"negated": False, "historical": False, "family": False, "hypothetical": False}
        title = ent._.section_title
        attribute = implied.get(ent._.section_category or "")
        if attribute and title is not None and not _BLANK_LINE.search(text, title.end_char, ent.start_char):
            flags[attribute] = True
        mentions.append(
            _Mention(
                concept=concepts[rule.metadata["index"]],
                start=ent.start_char,
                end=ent.end_char,
                section=ent._.section_category,
                negated=bool(ent._.is_negated) or flags["negated"],
                historical=bool(ent._.is_historical) or flags["historical"],
                family=bool(ent._.is_family) or flags["family"],
                hypothetical=bool(ent._.is_hypothetical) or flags["hypothetical"],
                uncertain=bool(ent._.is_uncertain),
                matched=ent.text,
            )
        )
    return mentions


def extract(
    text: str,
    *,
    word_confidences: Sequence[tuple[int, int, float]] = (),
    today: date | None = None,
) -> Extraction:
    """Facts, document type and document date of one document's text.

    ``word_confidences`` are the OCR words as (start, end, confidence 0..1) character spans of
    ``text``; a fact's confidence is the lowest among the words it overlaps (1.0 without OCR).
    ``today`` bounds plausible dates (future dates are ignored) and resolves 2-digit years.
    """
    today = today or date.today()
    if not text.strip():
        return Extraction([], "other", None)
    confidences = _Confidences.of(word_confidences)
    dates = _find_dates(text, today)
    doc_date = _document_date(dates)
    doc_iso = doc_date.isoformat() if doc_date else None
    collected = next((d.value.isoformat() for d in dates if d.label == "collected"), None)
    mentions = _mentions(text)
    vocab = vocabulary()

    facts: list[ExtractedFact] = []
    for i, m in enumerate(mentions):
        line_start, line_end = _line_bounds(text, m.start, m.end)
        next_start = next((n.start for n in mentions[i + 1 :] if n.start >= m.end), len(text))
        stop = min(line_end, next_start)
        kind = m.concept.kind
        values: dict[str, Any] = {}
        end = m.end
        confidence_cap = 1.0
        if kind in {"medication", "allergen"}:
            in_allergy = (m.section or "").startswith("allerg") or bool(
                _ALLERGY_CUE.search(text[max(line_start, m.start - 60) : m.start])
            )
            if in_allergy:
                kind = "allergy"
            elif kind == "allergen":
                continue  # "latex gloves", "iodine prep": not an allergy statement
            else:
                sig = _read_sig(text, m.end, min(stop, m.end + 80))
                values = {"value": sig.dose, "unit": sig.unit, "route": sig.route, "frequency": sig.frequency}
                end = sig.end or end
        elif kind == "nkda":
            kind = "allergy"
        elif kind == "lab":
            lab = vocab.labs[m.concept.concept]
            reading = _read_lab(text, m.end, min(stop, m.end + 60), lab)
            is_panel = lab.unit is None and lab.low is None
            if reading.value is None and not is_panel and len(fold(m.matched).replace(" ", "")) <= 3:
                continue  # a bare "K", "Na", "LDL" without a result is too ambiguous
            line_dates = [d for d in dates if line_start <= d.start < line_end and d.label != "dob"]
            values = {
                "value": reading.value,
                "unit": reading.unit,
                "date": line_dates[0].value.isoformat() if line_dates else (collected or doc_iso),
            }
            if reading.value is not None:
                end = reading.end or end
            if not reading.trusted:
                confidence_cap = REVIEW_CONFIDENCE
        facts.append(
            ExtractedFact(
                kind=kind,
                concept=m.concept.concept,
                code=m.concept.code,
                system=m.concept.system,
                text=text[m.start : end],
                start=m.start,
                end=end,
                value=values.get("value"),
                unit=values.get("unit"),
                route=values.get("route"),
                frequency=values.get("frequency"),
                date=values.get("date", doc_iso),
                section=m.section,
                negated=m.negated,
                historical=m.historical,
                family=m.family,
                hypothetical=m.hypothetical,
                uncertain=m.uncertain,
                confidence=round(min(confidence_cap, confidences.around(m.start, end)), 3),
            )
        )
    # "Allergies: none" has no vocabulary term to anchor it.
    for match in _ALLERGIES_NONE.finditer(text):
        start, end = match.start(), match.end()
        if not any(f.kind == "allergy" and f.start < end and f.end > start for f in facts):
            facts.append(
                ExtractedFact(
                    kind="allergy",
                    concept=NO_KNOWN_ALLERGIES,
                    code=None,
                    system=None,
                    text=text[start:end],
                    start=start,
                    end=end,
                    date=doc_iso,
                    section="allergies",
                    confidence=round(confidences.around(start, end), 3),
                )
            )
    facts.sort(key=lambda f: (f.start, f.end))
    return Extraction(facts=facts, document_type=classify(text, facts), document_date=doc_iso)
