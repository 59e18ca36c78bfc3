"""Lab results from a raw HL7 v2 message (ORU^R01 printed from an interface engine).

An HL7 message is structured data, so it is parsed (python-hl7), never read as prose: each OBX
segment gives the name (OBX-3's second component, the display name after the code), the value
(OBX-5), the unit (OBX-6) and the status (OBX-11). Codes, set IDs, timestamps, the reference range
(OBX-7) and the flag (OBX-8) are never values, and an observation not done (status X/D/W, or a
"TNP"/"QNS" placeholder) has no value. The fact keeps its span on the printed name.

One reason to change: how an HL7 v2 observation is read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import hl7

from medupload.pipeline.lab_observation_names import ObservationName, observation_name_mentions
from medupload.pipeline.mentions import Mention

#: A message starts with its header segment; the field separator is the character after "MSH".
_MESSAGE_START = re.compile(r"\A\s*MSH(?P<sep>[|^~\\&])")
#: OBX-11 statuses that carry no result: not done, deleted, wrong patient/withdrawn.
_NO_RESULT_STATUS = frozenset({"X", "D", "W"})
#: Placeholders a lab writes instead of a result.
_NO_RESULT_WORDS = frozenset({"TNP", "QNS", "CANCELLED", "CANCELED", "NOT DONE", "PENDING", "SEE NOTE"})
_TRAILING_PARENTHESIS = re.compile(r"[ \t]*\([^()]*\)[ \t]*$")


@dataclass(frozen=True)
class Hl7Observation:
    name: str  # the display name as printed, without a trailing parenthetical
    alternate: str  # OBX-3.5, the local alternative name ("Alk Phos", "eAG")
    name_start: int  # the display name's span in the text (without a trailing parenthetical)
    name_end: int
    code: str | None  # OBX-3.1 (LOINC when OBX-3.3 is "LN")
    system: str | None
    value: str | None
    unit: str | None


def is_hl7_message(text: str) -> bool:
    return _MESSAGE_START.match(text) is not None


def _component(field: object, index: int) -> str:
    """The ``index``-th component (0-based) of a field, "" when absent."""
    if isinstance(field, hl7.Field) and field and isinstance(field[0], hl7.Repetition):
        field = field[0]
    if isinstance(field, (hl7.Field, hl7.Repetition)) and len(field) and not isinstance(field, str):
        parts = list(field)
        if parts and all(isinstance(p, str) for p in parts):  # a plain field: one component
            return str(field) if index == 0 else ""
        return str(parts[index]) if index < len(parts) else ""
    return str(field) if index == 0 else ""


def _value(value_type: str, field: object) -> str | None:
    """OBX-5 as a reader means it: a structured numeric "<^0.2" is "<0.2", "1^:^128" is "1:128"."""
    if value_type == "SN":
        comparator, first, separator, second = (_component(field, i) for i in range(4))
        value = f"{comparator}{first}{separator}{second}".strip()
    elif value_type in {"CWE", "CE", "CNE"}:
        value = _component(field, 1) or _component(field, 0)
    else:
        value = str(field).strip()
    if not value or value.upper() in _NO_RESULT_WORDS:
        return None
    return value


def _field_offsets(line: str, separator: str) -> list[int]:
    """The start of every field of a segment line (index 0 is the segment's name)."""
    starts = [0]
    starts += [i + 1 for i, char in enumerate(line) if char == separator]
    return starts


def read_hl7_observations(text: str) -> list[Hl7Observation]:
    """Every OBX of the message in ``text`` (empty when ``text`` is no HL7 v2 message)."""
    start = _MESSAGE_START.match(text)
    if start is None:
        return []
    separator = start.group("sep")
    # The library wants carriage returns between segments: same length, so offsets stay.
    message = hl7.parse(text.replace("\n", "\r").strip("\r\t "))
    segments = iter(message.segments("OBX")) if _has_obx(message) else iter(())
    observations = []
    offset = 0
    for line in text.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        if not line.lstrip().startswith("OBX" + separator):
            continue
        segment = next(segments, None)
        if segment is None:
            break
        observation = _observation(
            text, line, line_start + len(line) - len(line.lstrip()), segment, separator
        )
        if observation is not None:
            observations.append(observation)
    return observations


def _has_obx(message: hl7.Message) -> bool:
    try:
        message.segments("OBX")
    except KeyError:
        return False
    return True


def _observation(
    text: str, line: str, line_start: int, segment: hl7.Segment, separator: str
) -> Hl7Observation | None:
    raw = line.lstrip()
    fields = _field_offsets(raw, separator)
    if len(fields) <= 5 or len(segment) <= 5:
        return None
    identifier = segment[3]
    name = _component(identifier, 1)
    if not name.strip():
        return None
    field_start = line_start + fields[3]
    name_start = text.find(name, field_start)
    shown = _TRAILING_PARENTHESIS.sub("", name) or name
    alternate = _component(identifier, 4)
    status = _component(segment[11], 0).upper() if len(segment) > 11 else ""
    value_type = _component(segment[2], 0).upper()
    value = None if status in _NO_RESULT_STATUS else _value(value_type, segment[5])
    unit = _component(segment[6], 0).strip() if len(segment) > 6 else ""
    code = _component(identifier, 0) or None
    system = _component(identifier, 2) or None
    return Hl7Observation(
        name=shown,
        alternate=alternate,
        name_start=name_start,
        name_end=name_start + len(shown),
        code=code,
        system="LOINC" if system == "LN" else system,
        value=value,
        unit=unit or None,
    )


def observation_mentions(observations: Sequence[Hl7Observation], with_base: bool) -> list[Mention]:
    """Each observation as a lab mention on its printed name, its lab the one its display name (or
    else its local alternative name) names."""
    names = [
        ObservationName(o.name, o.alternate, o.name_start, o.name_end, o.code, o.system) for o in observations
    ]
    return observation_name_mentions(names, with_base)
