"""Prometheus metrics: the process-side instruments, and the text every scrape gets.

Several server processes share one port (WEB_WORKERS), and a scrape reaches one of them. So
counters and gauges kept in processes are written in prometheus-client's multiprocess mode
when PROMETHEUS_MULTIPROC_DIR is set (``make run`` sets it: a fresh directory per run, shared
by the server processes and the workers on the host), and a scrape sums every process's files;
without it (tests, one process) the default per-process registry is used. Gauges count only
live processes: files of processes that died (kill -9) are dropped at the next scrape.
What the database or Redis knows (documents by status, queue depth) is read at scrape time by
collectors the API registers (``api/metrics.py``), so every process answers alike.

For other rooms: ``LOGIN_THROTTLED.inc()`` (auth), ``EMIT_FAILURES.labels(kind).inc()`` and
``STAGE_SECONDS.labels(stage).observe()`` (emitter), ``OPEN_STREAMS`` (SSE), ``HUB_SUBSCRIBERS``
(hub), ``GC_PAUSES`` (gctune).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.registry import Collector

from medupload.processes import pid_exists

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

LOGIN_THROTTLED = Counter("medupload_login_throttled", "Sign-ins refused by throttling (auth.throttled)")
EMIT_FAILURES = Counter("medupload_emit_failures", "Progress publishes or spans that failed (swallowed)",
                        ["kind"])
OPEN_STREAMS = Gauge("medupload_open_streams", "Open SSE streams", multiprocess_mode="livesum")
GC_PAUSES = Histogram("medupload_gc_pause_seconds", "Garbage-collection pauses of server processes",
                      ["generation"], buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0))
#: Observed by the emitter (in whichever process runs the pipeline) as each step is reached: the
#: seconds since the step before it was reached (``ocr_started`` is the wait for a worker,
#: ``ocr_complete`` the OCR), and ``total`` from upload to matched. Labelled by stage only.
STAGE_SECONDS = Histogram("medupload_stage_duration_seconds",
                          "Seconds to reach a stage from the one before (total: upload to matched)",
                          ["stage"], buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0,
                                              120.0, 300.0))
HUB_SUBSCRIBERS = Gauge("medupload_hub_subscribers", "Hub subscriptions (SSE streams and page tabs)",
                        multiprocess_mode="livesum")

CONTENT_TYPE = CONTENT_TYPE_LATEST


def render(collectors: Iterable[Collector] = ()) -> bytes:
    """The Prometheus text for a scrape: every process's instruments plus ``collectors``."""
    if MULTIPROC_DIR:
        _forget_dead_processes(Path(MULTIPROC_DIR))
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for instrument in (LOGIN_THROTTLED, EMIT_FAILURES, OPEN_STREAMS, HUB_SUBSCRIBERS, GC_PAUSES,
                           STAGE_SECONDS):
            registry.register(instrument)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


def _forget_dead_processes(directory: Path, alive: Callable[[int], bool] | None = None) -> None:
    """Drop the live-gauge files of processes that are gone (respawned after a crash)."""
    alive = alive or pid_exists
    pids = set()
    for path in directory.glob("gauge_live*_*.db"):
        with contextlib.suppress(ValueError):
            pids.add(int(path.stem.rsplit("_", 1)[1]))
    for pid in pids:
        if not alive(pid):
            _multiprocess.mark_process_dead(pid, str(directory))


