"""Lab results from a FHIR (R4) JSON export: a ``Bundle`` of resources or a single ``Observation``.

FHIR JSON is structured data, so it is parsed (plain ``json``), never read as prose: each laboratory
``Observation`` gives the name (``code.text``, else its first ``coding.display``), the value
(``valueQuantity`` with its ``comparator``, ``valueString``, ``valueCodeableConcept``,
``valueInteger``) and the unit (``valueQuantity.unit``, else its UCUM ``code``). Numbers keep the
digits printed in the file. A reference range, an interpretation code, a date or an identifier is
never a value; an observation ``entered-in-error`` or ``cancelled``, or with a ``dataAbsentReason``,
has no value; vital signs, exam and survey observations are no labs; and a DiagnosticReport's
conclusion (prose repeating results, goals and previous values) is not read. The fact keeps its
span on the printed name.

One reason to change: how a FHIR Observation is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from medupload.pipeline.lab_observation_names import ObservationName, observation_name_mentions
from medupload.pipeline.mentions import Mention

#: The JSON starts a line (an export header may come before it) with a FHIR resource's type.
_JSON_START = re.compile(r'^[ \t]*\{\s*"(?:resourceType|id|meta|type|entry)"', re.MULTILINE)
#: Statuses of an observation that carry no result.
_NO_RESULT_STATUS = frozenset({"entered-in-error", "cancelled"})
#: Observation categories that are not laboratory results.
_NOT_LAB_CATEGORIES = frozenset(
    {"vital-signs", "exam", "survey", "social-history", "activity", "imaging", "procedure"}
)
_TRAILING_PARENTHESIS = re.compile(r"[ \t]*\([^()]*\)[ \t]*$")
_LOINC = "http://loinc.org"


@dataclass(frozen=True)
class FhirObservation:
    name: str  # code.text (else the display) as printed, without a trailing parenthetical
    display: str  # the first coding's display, a longer name of the same test
    name_start: int  # the printed name's span in the text
    name_end: int
    code: str | None  # the LOINC code when the coding has one
    value: str | None
    unit: str | None


def _printed(raw: str) -> str:
    """A JSON number as printed (parsed with ``parse_float=str``), a string as it is."""
    return raw.strip()


def _load_resource(text: str) -> tuple[dict[str, Any], int] | None:
    """The FHIR resource the text holds, and where its JSON starts (None when it holds none)."""
    start = _JSON_START.search(text)
    if start is None:
        return None
    begin = text.index("{", start.start())
    try:
        resource, _ = json.JSONDecoder(parse_float=str, parse_int=str).raw_decode(text, begin)
    except ValueError:
        return None
    if not isinstance(resource, dict) or "resourceType" not in resource:
        return None
    return resource, begin


def _resources(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The resource, then those of a Bundle's entries and of ``contained``, in the file's order."""
    yield resource
    for entry in resource.get("entry") or []:
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            yield from _resources(entry["resource"])
    for contained in resource.get("contained") or []:
        if isinstance(contained, dict):
            yield from _resources(contained)


def _category_codes(observation: dict[str, Any]) -> set[str]:
    codes = set()
    for category in observation.get("category") or []:
        for coding in (category or {}).get("coding") or []:
            codes.add(str((coding or {}).get("code", "")).lower())
    return codes


def _names(code: dict[str, Any]) -> tuple[str, str, str | None]:
    """(printed name, display, LOINC code) of a CodeableConcept."""
    codings = [c for c in code.get("coding") or [] if isinstance(c, dict)]
    display = next((str(c["display"]) for c in codings if c.get("display")), "")
    loinc = next((str(c.get("code")) for c in codings if c.get("system") == _LOINC), None)
    return str(code.get("text") or display), display, loinc


def _value(element: dict[str, Any]) -> tuple[str | None, str | None]:
    """(value, unit) of an Observation or a component, as a reader means it."""
    if element.get("dataAbsentReason"):
        return None, None
    quantity = element.get("valueQuantity")
    if isinstance(quantity, dict) and quantity.get("value") is not None:
        comparator = str(quantity.get("comparator") or "")
        unit = quantity.get("unit") or quantity.get("code")
        return comparator + _printed(str(quantity["value"])), str(unit) if unit else None
    for key in ("valueString", "valueInteger"):
        if element.get(key) not in (None, ""):
            return _printed(str(element[key])), None
    concept = element.get("valueCodeableConcept")
    if isinstance(concept, dict):
        name, _, _ = _names(concept)
        return (name or None), None
    return None, None


def _observations(resource: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bool]]:
    """Each laboratory observation (and lab component) with whether it carries a result."""
    for found in _resources(resource):
        if found.get("resourceType") != "Observation" or not isinstance(found.get("code"), dict):
            continue
        if _category_codes(found) & _NOT_LAB_CATEGORIES:
            continue
        done = str(found.get("status", "")).lower() not in _NO_RESULT_STATUS
        yield found, done
        for component in found.get("component") or []:
            if isinstance(component, dict) and isinstance(component.get("code"), dict):
                yield component, done


def is_fhir_json(text: str) -> bool:
    return _load_resource(text) is not None


def read_fhir_observations(text: str) -> list[FhirObservation]:
    """Every laboratory observation of the FHIR JSON in ``text`` (empty when it holds none)."""
    loaded = _load_resource(text)
    if loaded is None:
        return []
    resource, cursor = loaded
    out = []
    for element, done in _observations(resource):
        name, display, loinc = _names(element["code"])
        if not name.strip():
            continue
        # The printed name is the next JSON string equal to it: resources keep the file's order.
        quoted = json.dumps(name, ensure_ascii=False)
        at = text.find(quoted, cursor)
        if at < 0:
            continue
        cursor = at + len(quoted)
        shown = _TRAILING_PARENTHESIS.sub("", name) or name
        value, unit = _value(element) if done else (None, None)
        out.append(
            FhirObservation(
                name=shown,
                display=display,
                name_start=at + 1,
                name_end=at + 1 + len(shown),
                code=loinc,
                value=value,
                unit=unit,
            )
        )
    return out


def fhir_mentions(observations: Sequence[FhirObservation], with_base: bool) -> list[Mention]:
    """Each observation as a lab mention on its printed name, its lab the one its name (or else its
    display) names, with its LOINC code when the vocabulary has none."""
    names = [
        ObservationName(o.name, o.display, o.name_start, o.name_end, o.code, "LOINC" if o.code else None)
        for o in observations
    ]
    return observation_name_mentions(names, with_base)
