"""Langfuse spans for progress events: one trace per document (deterministic trace id), one
span per event. Only ids, stage names, codes and numbers go in — never filenames or text."""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from medupload.settings import get_settings

if TYPE_CHECKING:
    from langfuse import Langfuse

    from medupload.progress.stages import ProgressEvent

log = logging.getLogger(__name__)

_lock = threading.Lock()
_client: Langfuse | None = None
_configured = False


#: What may leave the process in span data: opaque ids (``d_…``, ``p_…``), stage names and codes.
_SAFE_TEXT = re.compile(r"^(?:[a-z]_[0-9a-f]{8,32}|[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*)$")
MASKED = "[masked]"


def mask_phi(*, data: Any, **_: Any) -> Any:
    """Langfuse's ``mask`` hook, a safety net behind what ``trace_progress`` puts in: numbers,
    booleans and id/code-shaped strings pass; any other text is replaced."""
    if isinstance(data, dict):
        return {key: mask_phi(data=value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [mask_phi(data=value) for value in data]
    if data is None or isinstance(data, bool | int | float):
        return data
    if isinstance(data, str) and _SAFE_TEXT.match(data):
        return data
    return MASKED


def make_langfuse(public_key: str, secret_key: str, host: str | None, **options: Any) -> Langfuse:
    """A Langfuse client with the PHI mask (tests add ``span_exporter=`` an in-memory one)."""
    from langfuse import Langfuse

    return Langfuse(public_key=public_key, secret_key=secret_key, host=host, mask=mask_phi, **options)


def get_langfuse() -> Langfuse | None:
    """The process's Langfuse client, or None when no keys are configured (tracing off)."""
    global _client, _configured
    if _configured:
        return _client
    with _lock:
        if not _configured:
            settings = get_settings()
            if settings.langfuse_public_key and settings.langfuse_secret_key:
                _client = make_langfuse(settings.langfuse_public_key,
                                        settings.langfuse_secret_key.get_secret_value(),
                                        settings.langfuse_host)
            _configured = True
    return _client


def set_langfuse(client: Langfuse | None) -> None:
    """Install a client (tests pass one with an in-memory exporter); None turns tracing off."""
    global _client, _configured
    with _lock:
        _client, _configured = client, True


def reset_langfuse() -> None:
    """Forget the client so the next call reads the settings again."""
    global _client, _configured
    with _lock:
        _client, _configured = None, False


def document_trace_id(document_id: str) -> str:
    from langfuse import Langfuse

    return Langfuse.create_trace_id(seed=document_id)


def trace_progress(event: ProgressEvent, *, start: datetime | None = None) -> None:
    """Record one span ``progress.<stage>`` in the document's trace. The span is ended here and
    exported by Langfuse's background batch processor: no flush() on the caller's path."""
    client = get_langfuse()
    if client is None:
        return
    metadata: dict[str, Any] = {
        "document_id": event.document_id,
        "stage": event.stage.value,
        "code": event.code,
        "seq": event.seq,
        "elapsed_ms": event.elapsed_ms,
    }
    if event.failed_stage is not None:
        metadata["failed_stage"] = event.failed_stage.value
    span = client.start_observation(
        trace_context={"trace_id": document_trace_id(event.document_id)},
        name=f"progress.{event.stage.value}",
        metadata=metadata,
        level="ERROR" if event.stage.value == "failed" else None,
        status_message=event.code if event.stage.value == "failed" else None,
    )
    # Plain attributes as well, so any OpenTelemetry backend can filter on them.
    otel_span = getattr(span, "_otel_span", None)
    if otel_span is not None:
        for key, value in metadata.items():
            otel_span.set_attribute(f"medupload.{key}", value)
    span.end()
