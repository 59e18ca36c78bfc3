"""Clinical extraction: OCR text -> conditions, medications, labs, allergies and procedures.

Rule-based (no statistical model can be shipped): a blank spaCy English tokenizer, our own
line-aware sentence splitter, a gazetteer matcher over ``vocabulary()`` (ICD-10-CM and a drug
dictionary under the curated CSVs; longest match, OCR-folded tokens), medspaCy's ConText for
assertions (negated, historical, family, hypothetical, uncertain) and its Sectionizer. Values,
units, doses, routes, frequencies and dates are read with regular expressions from the text
right after each match (``labs``, ``medications``, ``dates``), so every fact keeps exact offsets.

Guards, because a false diagnosis or drug is worse than a miss: a test or method name
("CKD-EPI", "HIV test") is matched as such and yields nothing; a condition followed by a test
word ("hepatitis panel") is dropped; a drug name that is short or ordinary English counts only
with drug context; a drug in an allergy statement is an allergy, never a medication.

The pipeline is built once per process (``nlp()``); ``extract`` serialises only the spaCy
call behind a lock, so it can be used from a thread pool.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from medupload.pipeline import assertions
from medupload.pipeline.dates import document_date, find_dates
from medupload.pipeline.document import Confidences, classify
from medupload.pipeline.labs import read_lab
from medupload.pipeline.medications import (
    ALLERGIES_NONE,
    ALLERGY_CUE,
    has_drug_context,
    read_sig_lines,
)
from medupload.pipeline.vocabulary import NO_KNOWN_ALLERGIES, Concept, Hit, blank_english, fold, vocabulary

__all__ = ["DOCUMENT_TYPES", "NO_KNOWN_ALLERGIES", "ExtractedFact", "Extraction", "extract", "fold", "nlp"]

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
#: Below this OCR confidence, or with a value/unit we could not trust, a fact needs review.
REVIEW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class ExtractedFact:
    kind: str  # condition | medication | lab | allergy | procedure
    concept: str  # normalised name; for a medication the ingredient, never the brand
    code: str | None  # ICD-10-CM / RxNorm / LOINC / DrugBank / MeSH / MedlinePlus code
    system: str | None  # which code system ``code`` is from
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
# The spaCy / medspaCy pipeline (built once per process)

_BUILD_LOCK = threading.Lock()
_NLP_LOCK = threading.Lock()
_NLP: dict[bool, Any] = {}
_HITS = "medupload_hits"  # doc.user_data key: entity start char -> Hit


def _quiet_loggers() -> None:
    # medspaCy and PyRuSH log every sentence at DEBUG level through loguru.
    try:
        from loguru import logger

        logger.disable("medspacy")
        logger.disable("PyRuSH")
    except ImportError:  # pragma: no cover - loguru comes with medspacy
        pass


def _lines(doc: Any) -> Any:
    # Clinical text is line-oriented: a list item must not inherit the negation of the line
    # above, so every line break and every full stop ends a sentence.
    for i, token in enumerate(doc):
        if i == 0:
            token.is_sent_start = True
            continue
        prev = doc[i - 1]
        if "\n" in prev.text or "\n" in prev.whitespace_:
            # A wrapped line of prose continues ("her father had\na stroke"); a line starting
            # with a capital, digit or bullet starts a new item.
            before = doc[i - 2] if prev.is_space and i >= 2 else prev
            wrapped = token.text[:1].islower() and before.text not in {".", ":", ";", "!", "?"}
            token.is_sent_start = not wrapped
        else:
            token.is_sent_start = prev.text in {".", "!", "?", ";"}
    return doc


def _lookup_plural(table: dict[tuple[str, ...], Hit], tokens: tuple[str, ...]) -> Hit | None:
    """The name as written, else with its last word singular ("chest pains", "strokes")."""
    hit = table.get(tokens)
    if hit is None and len(tokens[-1]) > 4 and tokens[-1].endswith("s") and not tokens[-1].endswith("ss"):
        hit = table.get((*tokens[:-1], tokens[-1][:-1]))
    return hit


def _gazetteer(doc: Any, with_base: bool) -> Any:
    """Longest match from each token over the lexicon: case-sensitive abbreviations first, then
    folded names; hyphens are skipped so "end-stage" meets "end stage"."""
    from spacy.tokens import Span

    vocab = vocabulary(with_base)
    lexicon = vocab.lexicon
    tokens = [t for t in doc if not t.is_space and t.text != "-"]
    texts = [t.text for t in tokens]
    folded = [fold(t) for t in texts]
    spans: list[Any] = []
    hits: dict[int, Hit] = {}
    i, count = 0, len(tokens)
    while i < count:
        found: tuple[int, Hit] | None = None
        for n in range(min(lexicon.longest_exact.get(texts[i], 0), count - i), 0, -1):
            hit = lexicon.exact.get(tuple(texts[i : i + n]))
            if hit is not None:
                found = (n, hit)
                break
        shortest = found[0] if found else 0
        first = folded[i]
        longest = lexicon.longest_folded.get(first, 0)
        if first.endswith("s"):
            longest = max(longest, lexicon.longest_folded.get(first[:-1], 0))
        for n in range(min(longest, count - i), shortest, -1):
            hit = _lookup_plural(lexicon.folded, tuple(folded[i : i + n]))
            if hit is not None:
                found = (n, hit)
                break
        if found is None:
            i += 1
            continue
        n, hit = found
        first, last = tokens[i], tokens[i + n - 1]
        if "\n" not in doc[first.i : last.i + 1].text:  # a name never spans two lines
            label = vocab.concepts[hit.concepts[0]].kind.upper()
            spans.append(Span(doc, first.i, last.i + 1, label=label))
            hits[first.idx] = hit
        i += n
    doc.ents = spans
    doc.user_data[_HITS] = hits
    return doc


def _register_components() -> None:
    from spacy.language import Language

    if "medupload_lines" not in Language.factories:
        Language.component("medupload_lines", func=_lines)
    if "medupload_gazetteer" not in Language.factories:
        Language.component("medupload_gazetteer", func=lambda doc: _gazetteer(doc, True))
    if "medupload_gazetteer_curated" not in Language.factories:
        Language.component("medupload_gazetteer_curated", func=lambda doc: _gazetteer(doc, False))


def _near_medication(target: Any, modifier: Any, between: Any) -> bool:
    # A negation far from a drug name in the sentence ("if the pain does not improve, I will
    # consider adding methotrexate") is about something else; next to it ("no aspirin") it counts.
    return target.label_ != "MEDICATION" or between is None or len(between) <= 3


def _context_rules(default_path: str, with_base: bool) -> list[Any]:
    """medspaCy's default ConText rules, adjusted by data/context_rules.yaml."""
    from medspacy.context import ConTextRule

    config = vocabulary(with_base).context
    dropped = {literal.lower() for literal in config.get("drop", [])}
    conditions_only = {literal.lower() for literal in config.get("conditions_only", [])}
    raw = [(r.literal, r.category, r.pattern, r.direction) for r in ConTextRule.from_json(default_path)]
    raw += [(literal, category, None, direction) for literal, category, direction in config.get("add", [])]
    rules = []
    for literal, category, pattern, direction in raw:
        if literal.lower() in dropped:
            continue
        negation = category == "NEGATED_EXISTENCE" and direction != "TERMINATE"
        rules.append(
            ConTextRule(
                literal,
                category,
                pattern=pattern,
                direction=direction,
                on_modifies=_near_medication if negation else None,
                allowed_types={"CONDITION"} if literal.lower() in conditions_only else None,
            )
        )
    return rules


def build_nlp(with_base: bool = True) -> Any:
    """Build the pipeline (slow: ~1-2 s). Use ``nlp()`` to get the shared instance.
    ``with_base=False`` matches the curated vocabularies only (the bench's baseline)."""
    _quiet_loggers()
    import medspacy  # noqa: F401  (registers the medspacy_* factories)
    from medspacy.section_detection import SectionRule

    _register_components()
    import spacy

    vocabulary(with_base)  # load before the pipeline is used
    # The tokenizer that split the vocabulary's names, unless another pipeline already uses it.
    nlp = blank_english() if not blank_english().pipe_names else spacy.blank("en")
    nlp.add_pipe("medupload_lines")
    nlp.add_pipe("medupload_gazetteer" if with_base else "medupload_gazetteer_curated")
    # NKDA says "no known ..." itself: a statement, not a negated allergy; test names yield nothing.
    context = nlp.add_pipe(
        "medspacy_context", config={"rules": None, "excluded_types": ["NKDA", "TEST_NAME"]}
    )
    context.add(_context_rules(context.DEFAULT_RULES_FILEPATH, with_base))
    # Section-implied assertions are applied in ``_mentions``, scoped to the header's
    # paragraph: medspaCy's defaults would mark everything after "ALLERGIES:" as hypothetical
    # until the next header. Headers must start a line: "she used to have allergies" is prose.
    sectionizer = nlp.add_pipe(
        "medspacy_sectionizer", config={"span_attrs": None, "require_start_line": True}
    )
    # Its default rules are all phrases: one never-matching token pattern avoids W036 warnings.
    sectionizer.add([SectionRule("unused", "unused", pattern=[{"ORTH": "\u2063medupload\u2063"}])])
    return nlp


def nlp(with_base: bool = True) -> Any:
    """The process-wide pipeline, built on first use."""
    if with_base not in _NLP:
        with _BUILD_LOCK:
            if with_base not in _NLP:
                _NLP[with_base] = build_nlp(with_base)
    return _NLP[with_base]


# ---------------------------------------------------------------------------------------------
# Extraction


@dataclass
class _Mention:
    concepts: tuple[Concept, ...]  # a combination product: one per ingredient
    needs_context: bool
    start: int
    end: int
    section: str | None
    flags: assertions.Flags
    matched: str = ""

    @property
    def kind(self) -> str:
        return self.concepts[0].kind


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return line_start, (len(text) if line_end == -1 else line_end)


def _mentions(text: str, with_base: bool) -> list[_Mention]:
    pipeline = nlp(with_base)
    with _NLP_LOCK:  # spaCy components share mutable state; the rest runs unlocked
        doc = pipeline(text)
    vocab = vocabulary(with_base)
    hits: dict[int, Hit] = doc.user_data.get(_HITS, {})
    mentions: list[_Mention] = []
    for ent in doc.ents:
        hit = hits.get(ent.start_char)
        title = ent._.section_title
        if hit is None or (title is not None and title.start_char <= ent.start_char < title.end_char):
            continue  # "HISTORY OF PRESENT ILLNESS:" is a header, not a finding
        mentions.append(
            _Mention(
                concepts=tuple(vocab.concepts[i] for i in hit.concepts),
                needs_context=hit.needs_context,
                start=ent.start_char,
                end=ent.end_char,
                section=ent._.section_category,
                flags=assertions.flags(text, ent, vocab.context.get("section_attributes", {})),
                matched=ent.text,
            )
        )
    return mentions


_TEST_WORD = re.compile(
    r"[ \t]*(?:test(?:s|ing)?|panel|screen(?:ing)?|antibod(?:y|ies)|antigen|serology|titers?|titres?|pcr"
    r"|assay|equation|formula|viral\s+load|ab\b|ag\b|vaccines?|vaccinations?|immunizations?|shots?)",
    re.IGNORECASE,
)


def _is_test_name(text: str, mention: _Mention, previous: _Mention | None) -> bool:
    """ "HIV test", "hepatitis panel", or a condition inside a lab's parenthesis ("eGFR (CKD)")."""
    if _TEST_WORD.match(text, mention.end):
        return True
    if previous is not None and previous.kind == "lab":
        between = text[previous.end : mention.start]
        return "\n" not in between and between.strip().startswith("(") and ")" not in between
    return False


def _is_reaction(text: str, mention: _Mention, before: list[_Mention]) -> bool:
    """A reaction listed with an allergen on its line ("ALLERGIES: Penicillin (hives)")."""
    if not (mention.section or "").startswith("allerg") or not before:
        return False
    previous = before[-1]
    return previous.kind in {"medication", "allergen"} and "\n" not in text[previous.end : mention.start]


_LIST_GLUE = re.compile(r"^[\s,;/]*(?:and|or|plus)?[\s,;/]*$", re.IGNORECASE)


def _in_drug_list(text: str, mentions: list[_Mention], i: int) -> bool:
    """Listed with another drug ("Dilantin, ASA, and Diltiazem"): that is drug context."""
    for j in (i - 1, i + 1):
        if 0 <= j < len(mentions) and mentions[j].kind == "medication" and not mentions[j].needs_context:
            a, b = sorted((mentions[i], mentions[j]), key=lambda x: x.start)
            if _LIST_GLUE.match(text[a.end : b.start]):
                return True
    return False


def _skip_parenthesis(text: str, end: int, limit: int) -> int:
    """Past a parenthesis right after a lab name (a method or a reference range)."""
    match = re.compile(r"[ \t]*\([^)\n]{0,40}\)").match(text, end, limit)
    return match.end() if match else end


def extract(
    text: str,
    *,
    word_confidences: Sequence[tuple[int, int, float]] = (),
    today: date | None = None,
    with_base: bool = True,
) -> Extraction:
    """Facts, document type and document date of one document's text.

    ``word_confidences`` are the OCR words as (start, end, confidence 0..1) character spans of
    ``text``; a fact's confidence is the lowest among the words it overlaps (1.0 without OCR).
    ``today`` bounds plausible dates (future dates are ignored) and resolves 2-digit years.
    ``with_base=False`` uses the curated vocabularies only (for the bench's baseline).
    """
    today = today or date.today()
    if not text.strip():
        return Extraction([], "other", None)
    confidences = Confidences.of(word_confidences)
    dates = find_dates(text, today)
    doc_date = document_date(dates)
    doc_iso = doc_date.isoformat() if doc_date else None
    collected = next((d.value.isoformat() for d in dates if d.label == "collected"), None)
    mentions = _mentions(text, with_base)
    vocab = vocabulary(with_base)

    facts: list[ExtractedFact] = []
    for i, m in enumerate(mentions):
        if m.kind in {"test_name"}:
            continue
        line_start, line_end = _line_bounds(text, m.start, m.end)
        # The reading stops at the next mention that is a fact (a method name is read past).
        next_start = next(
            (n.start for n in mentions[i + 1 :] if n.start >= m.end and n.kind != "test_name"), len(text)
        )
        stop = min(line_end, next_start)
        kind = m.kind
        values: dict[str, Any] = {}
        end = m.end
        confidence_cap = 1.0
        if kind == "condition" and (
            _is_test_name(text, m, mentions[i - 1] if i else None) or _is_reaction(text, m, mentions[:i])
        ):
            continue  # a test or vaccine name; a reaction listed with an allergy ("Penicillin (hives)")
        in_allergy = kind in {"medication", "allergen"} and (
            (m.section or "").startswith("allerg")
            or bool(ALLERGY_CUE.search(text[max(line_start, m.start - 60) : m.start]))
        )
        wants_sig = kind in {"medication", "allergen", "lab"} and not in_allergy
        sig = read_sig_lines(text, m.end, min(stop, m.end + 80), line_end) if wants_sig else None
        # A supplement named like a lab ("calcium 500 mg daily") or a drug named like an allergen
        # ("codeine 30 mg") is a medication when a dose or a medications section says so.
        alias = vocab.medications.get(m.concepts[0].concept)
        if kind == "lab" and alias is not None:  # a result ("Glucose 142 mg/dL") keeps it a lab
            lab_def = vocab.labs[m.concepts[0].concept]
            if read_lab(text, m.end, min(stop, m.end + 60), lab_def).value is not None:
                alias = None
        if (
            kind in {"lab", "allergen"}
            and not in_allergy
            and alias is not None
            and sig is not None
            and (sig.dose or (m.section or "") == "medications")
        ):
            m = replace(m, concepts=(vocab.concepts[alias],))
            kind = "medication"
        if kind in {"medication", "allergen"}:
            if in_allergy:
                kind = "allergy"
            elif kind == "allergen":
                continue  # "latex gloves", "iodine prep": not an allergy statement
            else:
                assert sig is not None
                if m.needs_context and not (
                    has_drug_context(sig, m.section) or _in_drug_list(text, mentions, i)
                ):
                    continue  # "plan", "ASA" alone: not a drug without a dose, route or list
                values = {"value": sig.dose, "unit": sig.unit, "route": sig.route, "frequency": sig.frequency}
                end = sig.end or end  # a sig read from the next line extends the span over it
        elif kind == "nkda":
            kind = "allergy"
        elif kind == "lab":
            lab = vocab.labs[m.concepts[0].concept]
            after = _skip_parenthesis(text, m.end, line_end)
            stop = max(
                stop,
                min(
                    line_end,
                    next(
                        (n.start for n in mentions[i + 1 :] if n.start >= after and n.kind != "test_name"),
                        len(text),
                    ),
                ),
            )
            reading = read_lab(text, m.end, min(stop, after + 60), lab)
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
        for concept in m.concepts:
            facts.append(
                ExtractedFact(
                    kind=kind,
                    concept=concept.concept,
                    code=concept.code,
                    system=concept.system,
                    text=text[m.start : end],
                    start=m.start,
                    end=end,
                    value=values.get("value"),
                    unit=values.get("unit"),
                    route=values.get("route"),
                    frequency=values.get("frequency"),
                    date=values.get("date", doc_iso),
                    section=m.section,
                    negated=m.flags.negated,
                    historical=m.flags.historical,
                    family=m.flags.family,
                    hypothetical=m.flags.hypothetical,
                    uncertain=m.flags.uncertain,
                    confidence=round(min(confidence_cap, confidences.around(m.start, end)), 3),
                )
            )
    # "Allergies: none" has no vocabulary term to anchor it.
    for match in ALLERGIES_NONE.finditer(text):
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
