"""Assertion flags of a mention: medspaCy ConText's, plus what a section implies.

ConText (rules: medspaCy's defaults adjusted by ``data/context_rules.yaml``) gives negated,
historical, family, hypothetical and uncertain from the sentence. A section adds its own
(``section_attributes`` in the same file: a family-history section makes every mention in it
family), scoped to the header's paragraph, and the rules below cover phrasing ConText's
window misses on real notes:
- a family word that names the informant ("Mother reports that ...") or the patient ("the
  child") is not a family history; "past medical history is significant for X" is a list of
  current problems, not a past;
- "family history of X", "FH: X", "mother with X" before the mention on the same line -> family;
- a cue inside the mention ("migraine without aura") or inside a parenthesis the mention is
  outside of ("the left ear (not the operated one) has an infection") does not modify it;
- "history of X" is current when its sentence shows treatment or says so ("history of lupus,
  currently on Plaquenil") or X is chronic (``chronic_conditions``: hypertension, diabetes ...);
  "old infarct", "old inferior wall infarct", "X (quit 1992)", "X, resolved", "resolved X",
  "X last year" are past; "a recent diagnosis of X" is current; "history of X" is current when
  the assessment names X with no cue of its own (the labels' convention), unless the history is
  told as a reason ("due to his history of X, an ultrasound was done");
- "chest pain, acute MI ruled out, UTI": a cue ending a list item negates that item only;
- an acute event (``past_events``: a stroke, an MI, a GI bleed) listed under past medical history
  is past; "status post", "recent" mark one list item, not the items after its comma;
- "?X" and "? X" are queried;
- (``assertion_time``) a sentence that opens at an earlier time ("At that time, he was
  admitted with constipation"), the admission told right after one ("on his last visit ... He
  was admitted and found to have an acute MI"), or an earlier stay named in it ("after being
  admitted for X") is past for any but a chronic condition; so is the last clause before "Since
  then, this had resolved."; in the history sections the story goes on at that time for up to
  three past-tense sentences, until one is back in the present or names a diagnosis;
- a non-chronic condition under a PAST SURGICAL HISTORY header was operated on: past;
- a relative who came along ("visiting with her husband") is no family history; "given his history
  of X" is the reason for a hedge, not hedged; "history of X since 1992", "history of metastatic X"
  are current; "past surgical history ... X", "X surgery in 1998", "X and Y resolved" are past;
  "status post EGD confirming X" is a finding, current.
- (``assertion_cues``) a cue that says nothing about the condition in its phrase: "a routine return
  appointment", "her third child", a relative's cue after "his personal history of", "some decline
  with regards to her depression", a hedge over what a hedged condition comes "with", "recent"
  before a chronic condition;
- "history of X for which he has a pacemaker" is current; a lesion removed at a dated or past-history
  operation ("removal of the melanoma ... in 1984") is past, the note's own operation's is not.

About 450 lines, kept one module: it is where ConText's modifiers and a section's meaning are weighed
into one set of flags; the rule families that change for reasons of their own already live in
``assertion_time``, ``assertion_layout`` and ``assertion_cues``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from medupload.pipeline.assertion_cues import PERSONAL_HISTORY, not_a_cue_here
from medupload.pipeline.assertion_layout import (
    SURGICAL_TITLE,
    in_header_paragraph,
    in_risk_list,
)
from medupload.pipeline.assertion_time import (
    PAST_AFTER,
    RESOLVED_AFTER,
    cured_by_own_operation,
    removed_before,
    told_as_past,
)
from medupload.pipeline.clinical_nlp import HITS

_FAMILY_LEAD = re.compile(
    r"(?P<cue>\bfamily\s+history\b|\bfamily\s+hx\b|\bFH\b\s*[:\-]|\b(?:mother|father|brother|sister|aunt|uncle"
    r"|grandmother|grandfather|grandparents?|siblings?|parents?|son|daughter|cousin)\b(?:'s)?\s+(?:who\s+)?"
    r"(?:has|had|have|with|died|passed|suffer\w*|was\s+diagnosed|diagnosed)\b)[^.;\n]*$",
    re.IGNORECASE,
)
_PATIENT_AGAIN = re.compile(
    r"\b(?:she|he|the\s+patient|patient)\s+(?:(?:also|still|now|additionally|himself|herself)\s+)?"
    r"(?:has|had|is|was|denies)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Flags:
    negated: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    uncertain: bool = False


# Family words that are not about a relative's condition: the informant ("Mother reports that
# he has loose stools") or the patient ("the child is being treated for sepsis").
_INFORMANT_AFTER = re.compile(
    r"^\s*(?:'s\s+)?(?:reports?|reported|states?|stated|says|said|notes?|noted|relates?|feels|believes"
    r"|thinks|brought|brings|is\s+concerned|was\s+concerned|spoke|speaks|called|asked|noticed|was\s+told)\b",
    re.IGNORECASE,
)
_PATIENT_BEFORE = re.compile(r"\b(?:the|this|our|a)\s*$", re.IGNORECASE)
# A relative who came along ("visiting with her husband", "accompanied by his mother") is not
# the one with the condition, unless the text goes on to say so ("with her mother, who has ...").
_COMPANION_BEFORE = re.compile(r"\b(?:with|by|visiting)\s+(?:her|his|their|the)\s*$", re.IGNORECASE)
_RELATIVE_HAS_AFTER = re.compile(r"^\s*(?:'s\b|,?\s*(?:who|which)\b|,?\s*(?:has|had|with)\b)", re.IGNORECASE)
# "Past medical history is significant for hypertension": a list of current problems.
_HISTORY_LIST_AFTER = re.compile(
    r"^\s*(?:is\s+|was\s+)?(?:significant|remarkable|notable|positive)\s+for\b|^\s*(?:includes?|including|:)",
    re.IGNORECASE,
)


_DURATION_BEFORE = re.compile(
    r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|few|several)[ \t-]+"
    r"(?:hours?|days?|weeks?|months?)"
    r"['’]?[ \t-]+$",
    re.IGNORECASE,
)
# "an old infarct", "healed fracture", "childhood asthma": a past event named as such.
# Where the event was may sit between: "old inferior wall myocardial infarction".
_PAST_BEFORE = re.compile(
    r"(?<![-\w])(?:old|healed|childhood)[ \t]+(?:(?:anterior|posterior|inferior|lateral|septal|apical"
    r"|anteroseptal|anterolateral|inferolateral|inferoposterior|posterolateral|wall|left|right|lacunar|cerebellar"
    r"|thalamic|pontine|frontal|parietal|temporal|occipital|basal|ganglia|subcortical)[ \t]+){0,3}$",
    re.IGNORECASE,
)
_PAST_NAMED = re.compile(r"(?:old|healed|childhood)\s", re.IGNORECASE)
# The sentence of a "history of X" says X is current.
_CURRENT = re.compile(
    r"\b(?:currently|presently|still|ongoing|continues|started\s+on|now\s+on"
    r"|for\s+which\s+(?:he|she|they|the\s+patient)\s+(?:has(?!\s+been)|is|takes|uses|receives|wears))\b",
    re.IGNORECASE,
)
# "a history of hyperthyroidism since 1992": had from then until now.
_SINCE_AFTER = re.compile(
    r"[ \t]*,?[ \t]*since[ \t]+(?:(?:19|20)\d\d|childhood|birth|age\b|the[ \t]+age"
    r"|(?:his|her)[ \t]+(?:teens|twenties|thirties|childhood|youth))",
    re.IGNORECASE,
)
# "a history of metastatic breast cancer": metastatic disease is not over.
_METASTATIC = re.compile(r"\bmetasta", re.IGNORECASE)
# "Past surgical history is significant for ...": the conditions there were operated on, so past.
_SURGICAL_BEFORE = re.compile(r"\bsurgical[ \t]+$", re.IGNORECASE)
# "likely X given his history of Y": Y is the reason for the hedge, not hedged itself.
_REASON_BETWEEN = re.compile(
    r"\bgiven[ \t]+(?:his|her|their|the)[ \t]+(?:\w+[ \t]+)?history\b", re.IGNORECASE
)
# "due to his history of kidney stone, renal ultrasound ... was done": the past as the reason for
# a test or a choice, not a statement that the condition is had now.
_REASON_BEFORE = re.compile(
    r"\b(?:due[ \t]+to|given|because[ \t]+of|in[ \t]+view[ \t]+of|in[ \t]+light[ \t]+of)[ \t]+"
    r"(?:his|her|their|the|a)[ \t]+(?:\w+[ \t]+)?$",
    re.IGNORECASE,
)
# "admitted with a history of rectal bleeding", "presents with history of sleep disruption": the
# complaint that brings the patient, current.
_PRESENTING_BEFORE = re.compile(
    r"\b(?:admitted|admission|presents?|presented|presenting|came|comes|referred)\b[^.;\n]{0,40}?"
    r"\bwith[ \t]+(?:a[ \t]+)?(?:known[ \t]+)?$",
    re.IGNORECASE,
)
# "rule out nephrosis as the cause of his anemia", "antidepressants may be causing some weight
# loss": what is to be explained is there.
_EXPLAINED_BETWEEN = re.compile(
    r"\bas[ \t]+(?:the|a|an)[ \t]+(?:\w+[ \t]+)?(?:cause|source|etiology|reason)[ \t]+(?:of|for)\b"
    r"|\b(?:causing|contributing[ \t]+to|responsible[ \t]+for|leading[ \t]+to|resulting[ \t]+in)\b",
    re.IGNORECASE,
)
# "status post EGD ... confirming diagnosis of X": a procedure's finding is current.
_FINDING_BETWEEN = re.compile(
    r"\b(?:confirm\w*|show\w*|reveal\w*|demonstrat\w*|found|diagnosis\s+of)\b", re.IGNORECASE
)
# Time words that place an event earlier ("earlier this year"): a chronic condition diagnosed
# then is had now.
_EARLIER_THIS_YEAR = re.compile(r"^earl(?:y|ier)\s+this\s+year$", re.IGNORECASE)


# Cues that mark one item as past, not a list ("status post CVA, and diabetic retinopathy"):
# their scope ends at the item's comma or semicolon.
_ONE_ITEM_PAST = frozenset({"status post", "s/p", "recent", "previous", "prior", "former", "remote"})
_LIST_BREAK = re.compile(r"[,;]")
# A list break, then a verb that starts a clause of its own: "has no fever, has a cough".
_NEW_VERB_CLAUSE = re.compile(
    r"[,;][ \t]*(?:and[ \t]+|but[ \t]+)?(?:(?:he|she|they|the[ \t]+patient)[ \t]+)?"
    r"(?:has|have|had|is|was|reports?|reported|notes?|noted|complains?|complained)\b",
    re.IGNORECASE,
)
# "status post CABG for coronary artery disease": the condition a procedure was for.
_FOR_BETWEEN = re.compile(r"\bfor\b", re.IGNORECASE)
# A "not" of doubt, not of denial: "is not sure if", "not certain whether", "not clear if".
_NOT_SURE = re.compile(r"[ \t]+(?:sure|certain|clear)\b", re.IGNORECASE)
# What starts another clause between a mention and a cue after it: a comma, a comparison, a
# relative clause ("heartburn that is occurring more often than it has in the past").
_OTHER_CLAUSE = re.compile(r"[,;]|\b(?:than|that|which|who|but|although|though)\b", re.IGNORECASE)
# A cue with the punctuation that ends a list item ("acute MI ruled out, UTI"): it negates that item.
_ITEM_END_CUE = re.compile(r"ruled\s+out\s*[,.;]$", re.IGNORECASE)
# A recent diagnosis is of a condition the patient has now, not a past one.
_NEW_DIAGNOSIS = re.compile(r"recent(?:ly)?\s+(?:diagnos\w*|found)\b", re.IGNORECASE)
_RESIDUAL = re.compile(r"\bresidual\b", re.IGNORECASE)
# ConText's history cue and its abbreviations: "history of", "Hx of", "h/o".
_HISTORY_CUE = re.compile(r"history|^(?:hx|hist|ho|h\s*/\s*o)$", re.IGNORECASE)
# A question mark just before the name queries it: "?HTN", "2. ? Atrial fibrillation" (not the
# end of a question: "Why? Pain." has a word right before the mark).
_QUERIED = re.compile(r"(?<![\w?])\?[ \t]{0,2}\Z")


def _aside(text: str, modifier: Any, ent: Any) -> bool:
    """Whether the cue sits in a parenthesis that the mention is outside of."""
    if modifier.end_char <= ent.start_char:  # cue first: its parenthesis closes before the mention
        return ")" in text[modifier.end_char : ent.start_char].split("(")[0]
    between = text[ent.end_char : modifier.start_char]  # mention first: a parenthesis opens between
    return between.count("(") > between.count(")")


def _counts(text: str, modifier: Any, ent: Any, chronic: bool = False, event: bool = False) -> bool:
    """Whether a ConText modifier means what its category says about ``ent`` here (``chronic``:
    the condition, once had, is had for good; ``event``: an acute event, over once told as
    history)."""
    doc = ent.doc
    start, end = modifier.modifier_span
    span = doc[start:end]
    if span.start_char >= ent.start_char and span.end_char <= ent.end_char:
        return False  # part of the name itself: "migraine without aura"
    if _aside(text, span, ent):
        return False
    if text[span.start_char - 1 : span.start_char] == "-" and text[span.end_char : span.end_char + 1] == "-":
        return False  # a word of a compound: "graft-versus-host reaction" is no "X versus Y"
    after = text[span.end_char : span.end_char + 40]
    before = text[max(0, span.start_char - 12) : span.start_char]
    if (
        modifier.category == "FAMILY"
        and span.end_char <= ent.start_char
        and _PATIENT_AGAIN.search(text, span.end_char, ent.start_char)
    ):
        return False  # "His mother has diabetes and he has hypertension": the patient's own
    if not_a_cue_here(text, modifier.category, span, ent, chronic):
        return False  # a visit, an obstetric count, a worsening ... (see ``assertion_cues``)
    if modifier.category == "FAMILY":
        if _COMPANION_BEFORE.search(text, max(0, span.start_char - 20), span.start_char):
            who = re.match(r"\s*,?\s*who\b", after)  # "with his wife, who states that ..."
            if not _RELATIVE_HAS_AFTER.match(after) or (who and _INFORMANT_AFTER.match(after[who.end() :])):
                return False
        return not (_INFORMANT_AFTER.match(after) or _PATIENT_BEFORE.search(before))
    if (
        modifier.category == "NEGATED_EXISTENCE"
        and span.start_char >= ent.end_char
        and _ITEM_END_CUE.match(span.text)
        and _LIST_BREAK.search(text, ent.end_char, span.start_char)
    ):
        return False  # "chest pain, acute MI ruled out, UTI": the cue ends its own list item
    if (
        modifier.category == "NEGATED_EXISTENCE"
        and span.end_char <= ent.start_char
        and _NEW_VERB_CLAUSE.search(text, span.end_char, ent.start_char)
    ):
        return False  # "The patient has no fever, has a cough": a clause with a verb of its own
    if (
        modifier.category == "HISTORICAL"
        and chronic
        and span.text.lower() in ("status post", "s/p")
        and _FOR_BETWEEN.search(text, span.end_char, ent.start_char)
    ):
        return False  # "status post CABG for coronary artery disease": the reason, still had
    if modifier.category == "NEGATED_EXISTENCE" and _NOT_SURE.match(text, span.end_char):
        return False  # "the patient is not sure if he had a stroke": a question, not a denial
    if modifier.category == "NEGATED_EXISTENCE" and span.text.lower().endswith("resolved"):
        return False  # "otitis media, now resolved", "resolved pneumonia": it was there (historical)
    if (
        modifier.category == "NEGATED_EXISTENCE"
        and span.start_char < ent.start_char
        and RESOLVED_AFTER.match(text, ent.end_char)
    ):
        return False  # "not started on antibiotics and his fever resolved": the fever was there
    if (
        modifier.category == "HISTORICAL"
        and span.end_char <= ent.start_char
        and (span.text.lower() in _ONE_ITEM_PAST and _LIST_BREAK.search(text, span.end_char, ent.start_char))
    ):
        return False  # "status post CVA, and diabetic retinopathy": the retinopathy is current
    if modifier.category == "POSSIBLE_EXISTENCE" and _REASON_BETWEEN.search(
        text, span.end_char, ent.start_char
    ):
        return False  # "likely iron deficiency given his history of malnutrition"
    if modifier.category in ("POSSIBLE_EXISTENCE", "NEGATED_EXISTENCE") and _EXPLAINED_BETWEEN.search(
        text, span.end_char, ent.start_char
    ):
        return False  # "rule out nephrosis as the cause of his anemia": the anemia is there
    if (
        modifier.category == "HISTORICAL"
        and span.start_char >= ent.end_char
        and span.text.lower().startswith("in the past")
        and _OTHER_CLAUSE.search(text, ent.end_char, span.start_char)
    ):
        return False  # "heartburn that is more frequent than it has in the past": of its clause only
    if modifier.category == "HISTORICAL" and _EARLIER_THIS_YEAR.match(span.text) and chronic:
        return False  # "diagnosed with diabetes earlier this year": has it now
    if (
        modifier.category == "HISTORICAL"
        and span.text.lower() in _ONE_ITEM_PAST
        and span.end_char <= ent.start_char
        and _FINDING_BETWEEN.search(text, span.end_char, ent.start_char)
    ):
        return False  # "status post EGD confirming ulcerative esophagitis": found, so current
    if modifier.category == "HISTORICAL" and _NEW_DIAGNOSIS.match(text, span.start_char):
        return False  # "a recent diagnosis of UTI", "recently diagnosed with diabetes": had now
    if modifier.category == "HISTORICAL" and _RESIDUAL.search(text, span.end_char, ent.start_char):
        return False  # "history of CVA with residual hemiparesis": a residual deficit is current
    if modifier.category == "HISTORICAL" and _HISTORY_CUE.search(span.text):
        if _DURATION_BEFORE.search(text, 0, span.start_char):
            return False  # "a 2-week history of X" is the present illness
        if _PRESENTING_BEFORE.search(text, max(0, span.start_char - 60), span.start_char):
            return False  # "admitted with a history of rectal bleeding": the complaint, current
        if _SURGICAL_BEFORE.search(text, max(0, span.start_char - 12), span.start_char):
            return True  # "past surgical history is significant for ... colon cancer surgery"
        if _SINCE_AFTER.match(text, ent.end_char) or _METASTATIC.search(
            text, max(0, span.end_char), ent.end_char
        ):
            return False  # "history of hyperthyroidism since 1992", "history of metastatic cancer"
        if _HISTORY_LIST_AFTER.match(after):
            return event  # "significant for hypertension" is current, "... for MI" past
        if chronic:
            return False  # "a history of hypertension / diabetes": had for good, so had now
        sentence = ent.sent
        # A drug named before the history cue treats something else ("consider iron ... given his
        # history of malnutrition"); one after it treats the condition ("history of lupus, on Plaquenil").
        current = _CURRENT.search(sentence.text) or any(
            e.label_ == "MEDICATION" and e.start_char >= span.start_char for e in sentence.ents
        )
        return not current
    return True


def _overridden(text: str, modifier: Any, counted: list[Any], ent: Any) -> bool:
    """Whether a denial before ``ent`` is cut off by a list break and a hedge or family cue nearer
    ``ent`` ("denies a history of recent surgery, recent stroke" still denies the stroke)."""
    start, end = modifier.modifier_span
    if modifier.category != "NEGATED_EXISTENCE" or ent.doc[start].idx >= ent.start_char:
        return False
    cue_end = ent.doc[end - 1].idx + len(ent.doc[end - 1])
    for other in counted:
        other_start = ent.doc[other.modifier_span[0]].idx
        if (
            other.category in ("POSSIBLE_EXISTENCE", "HYPOTHETICAL", "FAMILY")  # a past cue can be denied
            and cue_end < other_start < ent.start_char
            and _LIST_BREAK.search(text, cue_end, other_start)
        ):
            return True
    return False


# Sections that state what the patient has now: an impression, an assessment, a diagnosis list.
_ASSESSMENT_SECTIONS = frozenset({"observation_and_plan", "diagnoses", "problem_list"})


def _assessed_as_current(text: str, ent: Any) -> bool:
    """Whether the note's assessment names ``ent``'s condition again with no cue of its own
    ("history of urinary incontinence" in the history, "Incontinence." in the impression): the
    labels' convention makes such a "history of X" current."""
    hits = ent.doc.user_data.get(HITS, {})
    hit = hits.get(ent.start_char)
    if hit is None:
        return False
    for other in ent.doc.ents:
        if other.start_char == ent.start_char or other._.section_category not in _ASSESSMENT_SECTIONS:
            continue
        other_hit = hits.get(other.start_char)
        if other_hit is None or other_hit.concepts[:1] != hit.concepts[:1] or other.sent == ent.sent:
            continue
        line_start = text.rfind("\n", 0, other.start_char) + 1
        if not any(_counts(text, m, other) for m in other._.modifiers) and not (
            PAST_AFTER.match(text, other.end_char)
            or _PAST_BEFORE.search(text, line_start, other.start_char)
            or _QUERIED.search(text, max(0, other.start_char - 4), other.start_char)
        ):
            return True
    return False


def _history_now(text: str, counted: list[Any], ent: Any) -> bool:
    """Whether ``counted`` (all past cues) are "history of" cues the note's assessment overrides:
    the assessment names the condition with no cue of its own, and the history is not told as a
    reason ("due to his history of kidney stone, an ultrasound was done")."""
    for modifier in counted:
        cue = ent.doc[slice(*modifier.modifier_span)]
        if not _HISTORY_CUE.search(cue.text) or _REASON_BEFORE.search(
            text, max(0, cue.start_char - 40), cue.start_char
        ):
            return False
    return _assessed_as_current(text, ent)


def _coded(code: str | None, prefixes: list[str] | None) -> bool:
    return bool(code and prefixes and code.startswith(tuple(prefixes)))


def flags(text: str, ent: Any, context: dict[str, Any], code: str | None = None) -> Flags:
    """The flags of the medspaCy entity ``ent`` in ``text``; ``context`` is
    ``data/context_rules.yaml``, ``code`` the ICD-10-CM code of the mention's condition."""
    chronic = _coded(code, context.get("chronic_conditions"))
    event = _coded(code, context.get("past_events"))
    counted = [m for m in ent._.modifiers if _counts(text, m, ent, chronic, event)]
    # "no history of diabetes, questionable history of CAD": a later list item's own cue, not the
    # denial before it, says what the item is.
    counted = [m for m in counted if not _overridden(text, m, counted, ent)]
    categories = {m.category for m in counted}
    if categories == {"HISTORICAL"} and not event and _history_now(text, counted, ent):
        categories = set()  # "history of X" with X in the impression: current (see the labels)
    resolved = any(  # "resolved pneumonia": had, not absent
        m.category == "NEGATED_EXISTENCE"
        and ent.doc[slice(*m.modifier_span)].text.lower().endswith("resolved")
        for m in ent._.modifiers
    )
    found = {
        "negated": "NEGATED_EXISTENCE" in categories,
        "historical": "HISTORICAL" in categories,
        "family": "FAMILY" in categories,
        "hypothetical": "HYPOTHETICAL" in categories,
        "uncertain": "POSSIBLE_EXISTENCE" in categories,
    }
    attribute = context.get("section_attributes", {}).get(ent._.section_category or "")
    in_paragraph = in_header_paragraph(text, ent)
    if attribute and in_paragraph:
        found[attribute] = True
    if _QUERIED.search(text, max(0, ent.start_char - 4), ent.start_char):  # "?HTN", "2. ? Atrial fib"
        found["uncertain"] = True
    if ent.label_ == "CONDITION" and in_risk_list(text, ent):
        found["hypothetical"] = True
    line_start = text.rfind("\n", 0, ent.start_char) + 1
    if (
        not found["historical"]
        and ent.label_ == "CONDITION"
        and (
            resolved
            or PAST_AFTER.match(text, ent.end_char)
            or _PAST_BEFORE.search(text, line_start, ent.start_char)
            or _PAST_NAMED.match(ent.text)  # "old myocardial infarction" as one name
            or removed_before(text, ent, line_start, in_paragraph)
            or (not chronic and cured_by_own_operation(text, ent))
            or (not chronic and told_as_past(text, ent))
            # An event (a stroke, an MI, a GI bleed) listed under past medical history happened
            # before; the chronic conditions of that list are current.
            or (ent._.section_category == "past_medical_history" and in_paragraph and event)
            # A condition under a past *surgical* history header was operated on: "PAST SURGICAL
            # HISTORY:\nCholecystitis/cholecystectomy 22 years ago" (a chronic one stays current).
            or (
                ent._.section_category == "past_medical_history"
                and in_paragraph
                and not chronic
                and SURGICAL_TITLE.search(ent._.section_title.text)
            )
        )
    ):
        found["historical"] = True
    lead = _FAMILY_LEAD.search(text, line_start, ent.start_char)
    if (
        lead
        and not _PATIENT_AGAIN.search(text, lead.end("cue"), ent.start_char)
        and not PERSONAL_HISTORY.search(text, lead.end("cue"), ent.start_char)
    ):
        found["family"] = True
    return Flags(**found)
