"""The Redis message format of progress, in one place: keys, the emit script, and decoding.

Per patient there is one stream ``<prefix>doc_progress:<patient_id>`` (the durable, replayable
log, capped and expiring) and a pub/sub channel of the same name. One Lua script XADDs the
entries of one emit and PUBLISHes them as a JSON array of ``[stream_id, kind, data]``, so the
published order is the stream order and live listeners never read the stream. A stream entry
has the fields ``kind`` and ``data`` (JSON). Kinds: ``progress``, ``document_update``,
``done`` and any later kind (e.g. ``requirements_update``): subscribers pass unknown kinds on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from medupload.settings import get_settings

#: Stream entries kept per patient (approximate trim) — enough for a returning patient's history.
STREAM_MAXLEN = 1000
CHANNEL_NAME = "doc_progress:"
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

# KEYS[1] = stream, KEYS[2] = channel; ARGV = maxlen, ttl, then (kind, data) pairs.
# Running XADD and PUBLISH in one script keeps the published order identical to the stream
# order, and lets the PUBLISH carry the stream ids, so live listeners never read the stream.
EMIT_SCRIPT = """
local parts = {}
for i = 3, #ARGV, 2 do
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'kind', ARGV[i], 'data', ARGV[i + 1])
  parts[#parts + 1] = '["' .. id .. '","' .. ARGV[i] .. '",' .. ARGV[i + 1] .. ']'
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], '[' .. table.concat(parts, ',') .. ']')
return #parts
"""


@dataclass(frozen=True)
class HubMessage:
    kind: str  # "progress" | "document_update" | "done" | "reset" | "redis_down" | "redis_up" | ...
    id: str | None  # Redis stream id (entries from the stream); None for the hub's own notices
    data: dict[str, Any]  # shared between subscribers: treat as read-only
    raw: str = field(default="{}", compare=False, repr=False)  # ``data`` as JSON, encoded once
    patient_id: str | None = field(default=None, compare=False)


def channel_prefix() -> str:
    return get_settings().redis_key(CHANNEL_NAME)


def stream_name(patient_id: str) -> str:
    """The per-patient stream key, which is also the pub/sub channel (both prefixed)."""
    return channel_prefix() + patient_id


def emit_args(entries: Iterable[tuple[str, str]], ttl_seconds: int) -> list[Any]:
    """ARGV for EMIT_SCRIPT: (kind, JSON data) pairs, in stream order."""
    argv: list[Any] = [STREAM_MAXLEN, ttl_seconds]
    for kind, data in entries:
        argv.extend((kind, data))
    return argv


def parse_id(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq)


def valid_id(stream_id: str | None) -> bool:
    return stream_id is not None and bool(_STREAM_ID.match(stream_id))


def decode_published(payload: str, patient_id: str) -> list[HubMessage]:
    """One PUBLISH payload -> its messages. Raises ValueError on a malformed payload."""
    return [
        HubMessage(kind, stream_id, data, json.dumps(data, separators=(",", ":")), patient_id)
        for stream_id, kind, data in json.loads(payload)
    ]


def decode_entry(entry: tuple[str, dict[str, str]], patient_id: str) -> HubMessage:
    """One XRANGE entry -> its message."""
    stream_id, fields = entry
    raw = fields.get("data", "{}")
    return HubMessage(fields.get("kind", "progress"), stream_id, json.loads(raw), raw, patient_id)


def notice(kind: str, patient_id: str | None = None, **data: str) -> HubMessage:
    """A hub notice (``reset``, ``redis_down``, ``redis_up``): no stream id."""
    return HubMessage(kind, None, dict(data), json.dumps(data, separators=(",", ":")), patient_id)
