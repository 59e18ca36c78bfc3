"""The spaCy / medspaCy pipeline, built once per process and shared by threads.

A blank English tokenizer; our line-aware sentence splitter (clinical text is line-oriented);
a gazetteer matcher over ``vocabulary()`` (longest match from each token: case-sensitive
abbreviations, then OCR-folded names; hyphens skipped; a plural's singular; a determiner inside a
condition name read past, ``name_gaps``); medspaCy's ConText
(rules: its defaults adjusted by data/context_rules.yaml) and its Sectionizer. Each entity's
vocabulary hit is kept in ``doc.user_data[HITS]`` by start character.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
import threading
import types
from typing import Any

from medupload.pipeline import condition_forms, misspellings, name_gaps
from medupload.pipeline.vocabulary import SKIPPED_TOKENS, Hit, blank_english, fold, vocabulary

_BUILD_LOCK = threading.Lock()
NLP_LOCK = threading.Lock()  # spaCy components share mutable state: one document at a time
_NLP: dict[bool, Any] = {}
HITS = "medupload_hits"  # doc.user_data key: entity start char -> Hit


def _quiet_loggers() -> None:
    # medspaCy and PyRuSH log every sentence at DEBUG level through loguru.
    try:
        from loguru import logger

        logger.disable("medspacy")
        logger.disable("PyRuSH")
    except ImportError:  # pragma: no cover - loguru comes with medspacy
        pass


class _Deferred(types.ModuleType):
    """A module imported on its first attribute access (see ``_defer_import``)."""

    def __getattr__(self, name: str) -> Any:  # only for attributes the stand-in lacks
        del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)  # holders of the stand-in now see the real module
        return getattr(real, name)


def _defer_import(name: str) -> None:
    """Stand in for module ``name`` until it is used. medspaCy imports QuickUMLS, which imports
    NLTK at module level (0.2-0.45 s, a fifth of the build) and uses it only when a QuickUMLS
    matcher is made, which this pipeline never does. ``import nltk`` then binds the stand-in;
    ``nltk.anything`` (or importing a submodule, through ``__path__``) imports the real NLTK."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return
    stand_in = _Deferred(name)
    stand_in.__spec__ = spec  # what ``import`` checks: the stand-in is not re-imported
    sys.modules[name] = stand_in


_ENDS = frozenset({".", "!", "?", ";"})
_HEAD_ENDS = frozenset({".", ":", ";", "!", "?"})


def _lines(doc: Any) -> Any:
    # Clinical text is line-oriented: a list item must not inherit the negation of the line
    # above, so every line break and every full stop ends a sentence. Set in one array call:
    # token by token, spaCy re-checks the document's annotations on every assignment.
    import numpy
    from spacy.attrs import SENT_START

    texts = [t.text for t in doc]
    spaces = [t.whitespace_ for t in doc]
    starts = numpy.full((len(texts), 1), -1, dtype="int64")
    for i in range(len(texts)):
        if i == 0:
            starts[i, 0] = 1
            continue
        prev = texts[i - 1]
        if "\n" in prev or "\n" in spaces[i - 1]:
            # A wrapped line of prose continues ("her father had\na stroke"); a line starting
            # with a capital, digit or bullet starts a new item.
            before = texts[i - 2] if i >= 2 and not prev.strip() else prev
            wrapped = texts[i][:1].islower() and before not in _HEAD_ENDS
            starts[i, 0] = -1 if wrapped else 1
        elif prev in _ENDS:
            starts[i, 0] = 1
    if len(texts):
        doc.from_array([SENT_START], starts.view("uint64"))  # spaCy reads -1 from its uint64 form
    return doc


def _singulars(word: str) -> tuple[str, ...]:
    """Singular forms a plural (folded) word may have: "strokes" -> "stroke", "malignancies"
    (folded "mallgnancles") -> "mallgnancy", "abscesses" -> "abscess"."""
    if len(word) <= 4 or not word.endswith("s") or word.endswith("ss"):
        return ()
    forms = [word[:-1]]
    if len(word) > 5 and word.endswith("les"):  # "-ies" folded ("i" -> "l")
        forms.append(word[:-3] + "y")
    if word.endswith(("sses", "xes", "ches", "shes")):
        forms.append(word[:-2])
    return tuple(forms)


def _lookup_plural(table: dict[tuple[str, ...], Hit], tokens: tuple[str, ...]) -> Hit | None:
    """The name as written, else with its last word singular ("chest pains", "strokes",
    "malignancies", "abscesses")."""
    hit = table.get(tokens)
    if hit is None:
        for singular in _singulars(tokens[-1]):
            hit = table.get((*tokens[:-1], singular))
            if hit is not None:
                break
    return hit


# A lab name glued to its value on a terse report ("WBC14.3K", "Na132", "ESR=123", a field
# "Hematocrit:31.8" typed without a space), or a count glued to its name ("10.4WBC", "2-3WBC"):
# the token is split.
_GLUED = re.compile(r"([A-Za-z]+)([=:]?\d+(?:[.,]\d+)?)")
_NUMBERED = re.compile(r"(\d{1,2}\)|\?|\d{1,2}\)\?)([A-Za-z][A-Za-z/'-]*)")
_GLUED_BEFORE = re.compile(r"(\d+(?:\.\d+)?)([A-Za-z]{3,})")


def _split_glued_values(doc: Any, vocab: Any) -> None:
    """Split "WBC14.3" into "WBC" and "14.3" (and "10.4WBC" into "10.4" and "WBC") when the
    letters are a lab's name and the whole token is not itself a name ("HbA1c", "B12", "CO2"
    stay whole)."""
    lexicon = vocab.lexicon
    splits = []
    for token in doc:
        numbered = _NUMBERED.fullmatch(token.text)
        if numbered is not None:  # "2)COPD", "1)?HTN", "?HTN": a list number or a query glued on
            splits.append((token, len(numbered[1])))
            continue
        glued = _GLUED.fullmatch(token.text)
        letters, cut = (glued[1], len(glued[1])) if glued else (None, 0)
        if glued is None:
            before = _GLUED_BEFORE.fullmatch(token.text)
            if before is None:
                continue
            letters, cut = before[2], len(before[1])
        if (token.text,) in lexicon.exact or (fold(token.text),) in lexicon.folded:
            continue
        hit = _lookup_plural(lexicon.exact, (letters,)) or _lookup_plural(lexicon.folded, (fold(letters),))
        if hit is not None and vocab.concepts[hit.concepts[0]].kind == "lab":
            splits.append((token, cut))
    if splits:
        with doc.retokenize() as retokenizer:
            for token, cut in splits:
                retokenizer.split(token, [token.text[:cut], token.text[cut:]], heads=[(token, 1), (token, 1)])


# A condition word with a quantity/extent prefix or a combining form before it
# ("polyradiculopathy", "glomerulonephropathy") is that condition. Prefixes that change the
# meaning are not in the list: negating ("non", "un", "anti"), opposite ("hyper", "hypo"), false
# ("pseudo").
_PREFIX = re.compile(r"(?:poly|mono|multi|micro|macro|pan|(?!pseudo)[a-z]{3,}o)")


def _prefixed_condition(folded_token: str, vocab: Any) -> Hit | None:
    """The known condition word (7 letters or more) after a prefix, the longest first."""
    for cut in range(3, len(folded_token) - 6):
        if not _PREFIX.fullmatch(folded_token, 0, cut):
            continue
        hit = vocab.lexicon.folded.get((folded_token[cut:],))
        if hit is not None and vocab.concepts[hit.concepts[0]].kind == "condition":
            return hit
    return None


_OMA = re.compile(r"[a-z]{3,}(?<!st)omas?")  # "-oma" words; "colostoma"-like stomas are no finding


def _oma_word(token: str, vocab: Any) -> Hit | None:
    """The placeholder hit of a word ending in "-oma" that no name has ("osteochondroma"): the
    ending names a tumour or swelling (see ``condition_forms``)."""
    word = token.lower()
    singular = word[:-1] if word.endswith("s") else word
    if len(singular) < 6 or not _OMA.fullmatch(word) or word in condition_forms.NOT_OMA:
        return None
    if token[0].isupper() and not token.isupper() and token[1:] != word[1:]:
        return None  # "McOma"-like names
    return vocab.lexicon.folded.get(condition_forms.OMA_KEY)


def _after_word(text: str, start: int) -> bool:
    """Whether a word or a comma comes just before ``start`` on its line."""
    before = text[max(0, start - 40) : start].rstrip(" \t")
    return bool(before) and (before[-1].isalpha() or before[-1] == ",")


def _gazetteer(doc: Any, with_base: bool) -> Any:
    """Longest match from each token over the lexicon: case-sensitive abbreviations first, then
    folded names; hyphens are skipped so "end-stage" meets "end stage"."""
    from spacy.tokens import Span

    vocab = vocabulary(with_base)
    lexicon = vocab.lexicon
    _split_glued_values(doc, vocab)
    tokens = [t for t in doc if not t.is_space and t.text not in SKIPPED_TOKENS]
    texts = [t.text for t in tokens]
    # spaCy keeps a single letter's full stop on it ("Humulin N.", "vitamin D." ending a
    # sentence): the letter alone is the name's word.
    folded = [fold(t[0]) if len(t) == 2 and t[1] == "." and t[0].isalpha() else fold(t) for t in texts]
    # A misspelt condition word ("fascitis") is read as the word it slips from, for conditions only.
    text = doc.text
    misspelt = {
        k: c
        for k, t in enumerate(texts)
        if len(t) >= misspellings.MIN_BRITISH
        and (c := misspellings.correction(t, with_base, after_word=_after_word(text, tokens[k].idx)))
    }
    for k, corrected in misspelt.items():
        folded[k] = corrected
    spans: list[Any] = []
    hits: dict[int, Hit] = {}
    i, count = 0, len(tokens)

    def one_line(start: int, n: int) -> bool:
        """A name never spans two lines: "Thyroid Peroxidase (TPO)" ends its line even where a
        longer name would run on into the next one ("... (TPO) Ab")."""
        return n == 1 or "\n" not in text[tokens[start].idx : tokens[start + n - 1].idx]

    gaps = name_gaps.gap_positions(folded, texts)

    def _gapped_condition(start: int, plain: int) -> tuple[int, Hit] | None:
        """A condition name read without a determiner inside it ("swelling of the tongue"),
        when longer than the plain reading of ``plain`` tokens (see ``name_gaps``)."""
        positions = name_gaps.gapped(folded, gaps, start, lexicon.longest_folded.get(folded[start], 0))
        for n in range(len(positions), 1, -1):
            span = positions[n - 1] - start + 1
            if span <= max(n, plain):
                break
            hit = _lookup_plural(lexicon.folded, tuple(folded[k] for k in positions[:n]))
            if hit is None or not one_line(start, span):
                continue
            if vocab.concepts[hit.concepts[0]].kind == "condition":
                return span, hit
        return None

    while i < count:
        found: tuple[int, Hit] | None = None
        for n in range(min(lexicon.longest_exact.get(texts[i], 0), count - i), 0, -1):
            hit = lexicon.exact.get(tuple(texts[i : i + n]))
            if hit is not None and one_line(i, n):
                found = (n, hit)
                break
        shortest = found[0] if found else 0
        first = folded[i]
        longest = lexicon.longest_folded.get(first, 0)
        for singular in _singulars(first):
            longest = max(longest, lexicon.longest_folded.get(singular, 0))
        for n in range(min(longest, count - i), shortest, -1):
            hit = _lookup_plural(lexicon.folded, tuple(folded[i : i + n]))
            if hit is not None and one_line(i, n):
                found = (n, hit)
                break
        gapped = _gapped_condition(i, found[0] if found else 0)
        if gapped is not None:
            found = gapped
        if found is None and len(texts[i]) >= 3 and texts[i][-1] == "s" and texts[i][:-1].isupper():
            # an abbreviation's plural: "PSAs", "RBCs"
            hit = lexicon.exact.get((texts[i][:-1],)) or lexicon.folded.get((folded[i][:-1],))
            found = (1, hit) if hit is not None else None
        if found is None:
            hit = _prefixed_condition(folded[i], vocab) or _oma_word(texts[i], vocab)
            if hit is None:
                i += 1
                continue
            found = (1, hit)
        n, hit = found
        first, last = tokens[i], tokens[i + n - 1]
        label = vocab.concepts[hit.concepts[0]].kind.upper()
        slipped = [k for k in range(i, i + n) if k in misspelt]
        if slipped and label != "CONDITION":
            folded[slipped[0]] = fold(texts[slipped[0]])  # not a condition name: read as written
            del misspelt[slipped[0]]
            continue
        spans.append(Span(doc, first.i, last.i + 1, label=label))
        hits[first.idx] = hit
        i += n
    doc.ents = spans
    doc.user_data[HITS] = hits
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


_CAUSE = "CAUSE"  # a category no flag reads: it only ends a negation's scope


def _context_rules(default_path: str, with_base: bool) -> list[Any]:
    """medspaCy's default ConText rules, adjusted by data/context_rules.yaml."""
    from medspacy.context import ConTextRule

    config = vocabulary(with_base).context
    dropped = {literal.lower() for literal in config.get("drop", [])}
    conditions_only = {literal.lower() for literal in config.get("conditions_only", [])}
    medications_only = {literal.lower() for literal in config.get("medications_only", [])}
    # ``drop`` removes default rules only: an added rule may give a dropped literal a new meaning.
    raw = [
        (r.literal, r.category, r.pattern, r.direction)
        for r in ConTextRule.from_json(default_path)
        if r.literal.lower() not in dropped
    ]
    raw += [(literal, category, None, direction) for literal, category, direction in config.get("add", [])]
    # "possible causes for X", "in all probability secondary to X": a hedge or a history spans the
    # cause, a negation does not ("no pain as a cause for the fall"). These terminators become a
    # category of their own that only negations stop at.
    negation_only = {literal.lower() for literal in config.get("terminate_negation_only", [])}
    rules = []
    for literal, category, pattern, direction in raw:
        if direction == "TERMINATE" and literal.lower() in negation_only:
            category, direction = _CAUSE, "FORWARD"
        negation = category == "NEGATED_EXISTENCE" and direction != "TERMINATE"
        rules.append(
            ConTextRule(
                literal,
                category,
                pattern=pattern,
                direction=direction,
                on_modifies=_near_medication if negation else None,
                allowed_types=(
                    {"CONDITION"}
                    if literal.lower() in conditions_only
                    else {"MEDICATION"} if literal.lower() in medications_only else None
                ),
                terminated_by={_CAUSE} if negation else None,
            )
        )
    return rules


def build_nlp(with_base: bool = True) -> Any:
    """Build the pipeline (slow: ~1-2 s). Use ``nlp()`` to get the shared instance.
    ``with_base=False`` matches the curated vocabularies only (the bench's baseline)."""
    _quiet_loggers()
    _defer_import("nltk")
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
    sectionizer.add(_section_rules(with_base, sectionizer.DEFAULT_RULES_FILEPATH))
    return nlp


# Any other header of two to five words in capitals alone on its line ("MAJOR FINDINGS:",
# "PROCEDURES AND IMMUNIZATIONS:") ends the section above: otherwise an ALLERGIES section runs on
# over the plan's drugs. One capitalised word ("LUNGS:", "MOTHER:") is a sub-heading and does not;
# nor does a header that names allergies, medications or a history ("ALLERGIES TO MEDICATIONS:",
# "SUBSTANCE AND ALCOHOL HISTORY:"), which belongs to the section it names or continues.
# A regular expression: medspaCy keeps the token rules' match when both cover the same header.
_OTHER_HEADER = (
    r"(?m)^(?![A-Z \t]*\b(?:ALLERG|MEDICATION|MEDS\b|DRUGS?\b|HISTORY|FAMILY))"
    r"[A-Z][A-Z]+(?:[ \t]+[A-Z][A-Z]+){1,4}:(?=[ \t]*$)"
)


def _section_rules(with_base: bool, default_path: str) -> list[Any]:
    """Headers from data/context_rules.yaml (``section_headers``), any case, then ":"; and
    capitalised headers alone on their line."""
    from medspacy.section_detection import SectionRule

    headers: dict[str, list[str]] = vocabulary(with_base).context.get("section_headers", {})
    rules = [
        SectionRule(literal, category, pattern=[{"LOWER": w} for w in literal.split()] + [{"ORTH": ":"}])
        for category, literals in headers.items()
        for literal in literals
    ]
    # A header in capitals alone on its line is a header without its colon ("MEDICATIONS\n1.
    # Dilantin ..."): otherwise the section above (often SOCIAL HISTORY) runs on over the list.
    # Ours and medspaCy's capitalised headers; prose never fills a line with capitals.
    with open(default_path, encoding="utf-8") as file:
        defaults = json.load(file)["section_rules"]
    literals = {
        (r["literal"].rstrip(":").strip(), r["category"])
        for r in defaults
        if r["literal"].endswith(":") and r["literal"].isupper()
    }
    literals |= {(literal.upper(), category) for category, names in headers.items() for literal in names}
    end = {"IS_SPACE": True, "TEXT": {"REGEX": "\n"}}  # the line's end
    rules.append(SectionRule("other header", "other", pattern=_OTHER_HEADER))
    rules += [
        SectionRule(f"{literal} (line)", category, pattern=[*({"ORTH": w} for w in literal.split()), end])
        for literal, category in sorted(literals)
        if len(literal) > 3
    ]
    return rules


def nlp(with_base: bool = True) -> Any:
    """The process-wide pipeline, built on first use."""
    if with_base not in _NLP:
        with _BUILD_LOCK:
            if with_base not in _NLP:
                _NLP[with_base] = build_nlp(with_base)
    return _NLP[with_base]
