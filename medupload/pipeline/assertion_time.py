"""When a condition mention happened, told by the story around it: a dated or resolved event
right after the name ("MI in 2015", "pneumonia, resolved"), a sentence set at an earlier time
("At that time, he was admitted with constipation"; an earlier stay, "after being admitted for X"),
the story that goes on at that time in the sentences after it, and a lesion removed at an earlier
operation. ``assertions`` reads these as the historical flag (a chronic condition excepted
there)."""

from __future__ import annotations

import re
from typing import Any

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_LIST_BREAK = re.compile(r"[,;]")


# A dated or "ago" event right after the mention: "Myocardial infarction in 2015", "a stroke
# three years ago", "appendicitis as a child", "pneumonia last year", "an obstruction which
# resolved", "her symptoms have resolved".
PAST_AFTER = re.compile(
    r"[ \t]*,?[ \t]*(?:(?:surgery|surgically\s+treated|resected|resection|removed|excised|repaired"
    r"|treated)[ \t]+)?"
    r"(?:in[ \t]+(?:19|20)\d\d\b|\((?:19|20)\d\d\)"
    r"|in[ \t]+[A-Z][a-z]+[ \t]+(?:of[ \t]+)?(?:19|20)\d\d\b"
    r"|(?:at[ \t]+\d+[ \t]+(?:weeks?|months?)[ \t]+)?"
    r"(?:(?:approximately|about|around|roughly|over|nearly|almost)[ \t]+)?"
    r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|several|many)[ \t]+(?:years?|months?)"
    r"[ \t]+ago\b|in[ \t]+the[ \t]+(?:(?:distant|remote|far)[ \t]+)?past\b"
    r"|as[ \t]+a[ \t]+child\b|\(?[ \t]*quit\b"
    r"|last[ \t]+(?:year|month|spring|summer|fall|autumn|winter)\b"
    r"|(?:and[ \t]+(?:\w+[ \t]+){1,3})?(?:(?:which|that)[ \t]+)?(?:has[ \t]+|had[ \t]+|have[ \t]+)?"
    r"(?:now[ \t]+|since[ \t]+)?(?:resolved|cleared)\b)",
    re.IGNORECASE,
)


# "Papillary carcinoma of the thyroid gland, status post total thyroidectomy in 1992", "Carotid
# artery stenosis, status post right carotid endarterectomy": the operation that took out or
# repaired the condition's own organ (a word of the item named again in it) ended it. A stent or
# an intervention does not ("coronary artery disease status post coronary intervention").
_OWN_OPERATION_AFTER = re.compile(
    r"(?P<rest>(?:[ \t]+(?:of|in|to)[ \t]+(?:the[ \t]+)?[\w ]{0,40}?)?)"
    r"[ \t]*,?[ \t]*(?:status[ \t]+post|s/p)[ \t]+"
    r"(?P<op>[^,.;\n]{0,60}?(?:\w+ectomy|repair|resection|excision|removal|replacement)\b)",
    re.IGNORECASE,
)


def cured_by_own_operation(text: str, ent: Any) -> bool:
    """Whether ``ent`` is followed by "status post" an operation on its own organ (see above)."""
    after = _OWN_OPERATION_AFTER.match(text, ent.end_char)
    if not after:
        return False
    item = ent.text + " " + after.group("rest")
    stems = {w.lower()[:5] for w in re.findall(r"[A-Za-z]{5,}", item)}
    return any(w.lower()[:5] in stems for w in re.findall(r"[A-Za-z]{5,}", after.group("op")))


# The mention's own clause says it is over: "his fever resolved", "the rash has since cleared".
RESOLVED_AFTER = re.compile(
    r"[ \t]+(?:has[ \t]+|had[ \t]+|have[ \t]+)?(?:now[ \t]+|since[ \t]+|completely[ \t]+)?"
    r"(?:resolved|cleared)\b",
    re.IGNORECASE,
)


# A time told earlier in the story: "At that time, he was admitted with constipation"; "on his
# last visit with me ... He was admitted and found to have an acute MI" ("since his last visit"
# counts from then to now, so it is not one).
_PAST_ANCHOR = (
    r"(?<!since\s)\b(?:at\s+that\s+time|(?:on|at|during|from)\s+(?:his|her|their|the|my)\s+(?:last|previous|prior)"
    r"\s+(?:visit|admission|hospitali[sz]ation|stay|appointment))\b"
)
# The anchor opens the sentence (after its subject at most).
_ANCHOR_OPENS = re.compile(r"\s*(?:(?:he|she|they|the\s+patient)\s+)?" + _PAST_ANCHOR, re.IGNORECASE)
_ANCHOR_IN = re.compile(_PAST_ANCHOR, re.IGNORECASE)
# An anchor that sets the sentences after it at an earlier time too: "He had an episode similar to
# this a year ago", "when this started".
_STORY_ANCHOR = re.compile(
    _PAST_ANCHOR + r"|\b(?:a|one|two|three|four|five|\d+)\s+years?\s+ago\b", re.IGNORECASE
)
# The next sentence goes on with the admission then: "He was admitted to hospital and found ..."
_ADMITTED_THEN = re.compile(r"\s*(?:he|she|they|the\s+patient)\s+was\s+(?:then\s+)?admitted\b", re.IGNORECASE)


# An earlier stay named anywhere in the sentence: "pneumonia during his last admission", "after
# being admitted for altered mental status" ("at that time" only opening it: "UA at that time
# showed RBCs, ultrasound revealed a stone" may be of now).
_EARLIER_STAY = re.compile(
    r"(?<!since\s)\b(?:(?:on|at|during)\s+(?:his|her|their|the|my)\s+(?:last|previous|prior)\s+"
    r"(?:admission|hospitali[sz]ation|stay)|after\s+being\s+admitted\s+(?:for|with))\b"
    # A stay with its end date: "She was admitted to the hospital from 07/11/10 to 07/14/10 with X".
    r"|\b(?:admitted|hospitali[sz]ed)\s+(?:to\s+(?:the\s+)?\w+\s+)?from\s+\S+\s+(?:to|through|until)\s+\d",
    re.IGNORECASE,
)


# The next sentence says it is over: "... skin rash as well as hives. Since then, this had resolved."
_RESOLVED_NEXT = re.compile(
    r"\s*(?:since\s+then,?\s+)?(?:this|these|it|they|both|all\s+of\s+(?:this|these|them))\s+"
    r"(?:has|have|had)\s+(?:since\s+|now\s+|completely\s+|all\s+)?resolved\b",
    re.IGNORECASE,
)


# A sentence dated in its opening words: "In 1990, his CT scan showed retroperitoneal
# lymphadenopathy" (a diagnosis made then lasts: "In 1988 he was diagnosed with lymphoma").
_DATED_OPENING = re.compile(
    r"\s*(?:[Ii]n|[Dd]uring|[Bb]y)\s+(?:(?:[Ee]arly|[Ll]ate|[Mm]id)[ -])?"
    r"(?:[A-Z][a-z]+\s+(?:of\s+)?)?(?:19|20)\d\d\s*,",
)
_DIAGNOSED = re.compile(r"\bdiagnos\w*|\bfound\s+to\s+have\b", re.IGNORECASE)
# The time a complaint began, told in the past: "She says when this started she had significant
# joint pains" (now she has none).
_WHEN_STARTED = re.compile(
    r"\bwhen\s+(?:this|it|that|these|they|the\s+\w+)\s+(?:first\s+)?(?:started|began)\b[^,;]{0,30}?"
    r"\b(?:had|was|were)\b",
    re.IGNORECASE,
)


def told_as_past(text: str, ent: Any) -> bool:
    """Whether ``ent``'s sentence tells of an earlier time (see ``_PAST_ANCHOR``), or the next
    sentence says it is over."""
    sentence = ent.sent
    if (
        sentence.end < len(ent.doc)
        and not _LIST_BREAK.search(text, ent.end_char, sentence.end_char)  # of the last clause only
        and _RESOLVED_NEXT.match(text, ent.doc[sentence.end].sent.start_char)
    ):
        return True
    if _ANCHOR_OPENS.match(text, sentence.start_char, ent.start_char):
        return True
    if _EARLIER_STAY.search(text, sentence.start_char, sentence.end_char):
        return True
    if (
        _DATED_OPENING.match(text, sentence.start_char)
        and not _DIAGNOSED.search(text, sentence.start_char, ent.start_char)
        and not ent.text.lower().startswith("chronic")  # "In 2001, biopsy showed chronic prostatitis"
    ):
        return True
    if _WHEN_STARTED.search(text, sentence.start_char, ent.start_char):
        return True
    if _ADMITTED_THEN.match(text, sentence.start_char, ent.start_char) and sentence.start > 0:
        previous = ent.doc[sentence.start - 1].sent
        if _ANCHOR_IN.search(text, previous.start_char, previous.end_char):
            return True
    return _story_goes_on(text, ent)


# A sentence that is back in the present: a present-tense verb or a word for now.
_NOW = re.compile(
    r"\b(?:is|are|has|have|does|do|presents?|comes?|continues?|remains?|appears?|seems?|now|today|currently|presently"
    r"|since|this\s+(?:morning|admission|visit|time)|worsen\w*|progress\w*|increas\w*|persist\w*"
    r"|(?:for|over|in)\s+the\s+(?:last|past)\s+(?:\d+|few|several|two|three|four|five|six)\b)\b",
    re.IGNORECASE,
)
# A verb in the past tense: the sentence tells of then.
_PAST_VERB = re.compile(r"\b(?:was|were|had|did|went|got|became|\w{3,}ed)\b", re.IGNORECASE)
# A diagnosis made then, or a test's finding, names a condition that lasts unless told over ("At
# that time the patient had polyps removed ... The patient also was diagnosed with lymphocytic
# colitis"; "IVP same day revealed a calcification").
_DIAGNOSED_BEFORE = re.compile(
    r"\b(?:diagnos\w*|found\s+to\s+have|reveal\w*|show\w*|demonstrat\w*|confirm\w*)\b", re.IGNORECASE
)
# The sections that tell the history, not the stay or the operation of the note itself.
_STORY_SECTIONS = frozenset({"history_of_present_illness", "past_medical_history"})
# At most this many sentences after the anchor still tell of that time.
_STORY_SENTENCES = 3


def _story_goes_on(text: str, ent: Any) -> bool:
    """Whether ``ent``'s sentence goes on with a story that an earlier sentence of its paragraph set
    at an earlier time ("At that time, she was admitted ... Initial V/Q scan was negative. She was
    anticoagulated with Coumadin resulting in severe GI bleed."), with nothing back in the present
    in between."""
    sentence = ent.sent
    if (
        ent._.section_category not in _STORY_SECTIONS
        or _NOW.search(text, sentence.start_char, sentence.end_char)
        or not _PAST_VERB.search(text, sentence.start_char, sentence.end_char)
        or _DIAGNOSED_BEFORE.search(text, sentence.start_char, ent.start_char)
    ):
        return False
    doc = ent.doc
    start = sentence.start
    for _ in range(_STORY_SENTENCES):
        if start == 0:
            return False
        previous = doc[start - 1].sent
        if "\n" in text[previous.end_char - 1 : sentence.start_char] or _BLANK_LINE.search(
            text, previous.start_char, sentence.start_char
        ):
            return False  # a new paragraph or line starts a new story
        if _ANCHOR_OPENS.match(text, previous.start_char, previous.end_char) or _STORY_ANCHOR.search(
            text, previous.start_char, previous.end_char
        ):
            return True
        if _NOW.search(text, previous.start_char, previous.end_char) or not _PAST_VERB.search(
            text, previous.start_char, previous.end_char
        ):
            return False
        start, sentence = previous.start, previous
    return False


# A lesion taken out before is gone: "removal of the melanoma from the right thigh in 1984", "had
# one-third of her lung removed for carcinoma" in a past history (the operation of the note itself,
# "Excision of dorsal wrist ganglion", treats a current one: see ``removed_before``).
_REMOVED_BEFORE = re.compile(
    r"\b(?:removal|resection|excision|excised|removed|resected)[ \t]+(?:of[ \t]+)?"
    r"(?:(?:the|a|an|his|her)[ \t]+)?(?:[\w-]+[ \t]+){0,2}$",
    re.IGNORECASE,
)
_REMOVED_AFTER = re.compile(
    r"[ \t]+(?:(?:was|were|had[ \t]+been)[ \t]+)?(?:removed|resected|excised)\b", re.IGNORECASE
)

# A date or time ago in the sentence: "in 1984", "on 10/15/2007", "22 years ago".
_DATED = re.compile(r"\b(?:19|20)\d\d\b|\b(?:years?|months?)\s+ago\b", re.IGNORECASE)


def removed_before(text: str, ent: Any, line_start: int, in_paragraph: bool) -> bool:
    """Whether ``ent`` names a lesion taken out at an earlier operation: under past history, or
    in a dated sentence."""
    removed = _REMOVED_BEFORE.search(text, line_start, ent.start_char) or _REMOVED_AFTER.match(
        text, ent.end_char
    )
    if not removed:
        return False
    if ent._.section_category == "past_medical_history" and in_paragraph:
        return True
    return bool(_DATED.search(ent.sent.text))
