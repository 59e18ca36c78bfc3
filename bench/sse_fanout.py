"""SSE fan-out benchmark: N real SSE connections against one app process while a separate
process emits progress events; compares the hub design with the old per-connection polling.

    .venv/bin/python bench/sse_fanout.py                      # 1,000 clients, ours vs poll300
    .venv/bin/python bench/sse_fanout.py --clients 10000 --no-baseline --loop uvloop --http httptools

Processes: this orchestrator, a dedicated redis-server (so INFO commandstats counts only this
bench), the app server (one process: uvicorn, or --server granian as Reflex runs it in
production), client processes (raw sockets on uvloop, one per 5,000 connections unless
--client-processes; each staff account holds --per-account of them), and an emitter process calling the real
emit_progress() (SQLite + Redis). --diag adds event-loop lag and GC pause figures for the server
and client processes. Clients are spread over
clients/--per-patient patients; events go round-robin over those patients' documents, so each
event fans out to --per-patient connections. Latency = client receive time - event ``at``
(stamped by emit_progress before its DB transaction; same host clock). Not a test: it prints
figures and ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POLL_SECONDS = 0.3
#: The code of the emitter's events: a progress event with another code came from the app itself.
BENCH_CODE = "ocr.page"


class LoopDiag:
    """Event-loop lag (a 5 ms sleep's overshoot) and GC pauses, for --diag: where the tail goes."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.gcs: list[tuple[int, float]] = []
        self._gc_start: float | None = None

    def start(self) -> None:
        import gc

        gc.callbacks.append(self._gc)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def reset(self) -> None:
        self.lags.clear()
        self.gcs.clear()

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif self._gc_start is not None:
            self.gcs.append((info["generation"], time.perf_counter() - self._gc_start))
            self._gc_start = None

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            self.lags.append(time.perf_counter() - t - 0.005)

    def summary(self) -> dict[str, float]:
        lags = sorted(self.lags) or [0.0]
        gen2 = [d for g, d in self.gcs if g == 2]
        return {"lag_p50_ms": 1000 * lags[len(lags) // 2], "lag_p99_ms": 1000 * lags[int(len(lags) * 0.99)],
                "lag_max_ms": 1000 * lags[-1], "lag_over_20ms": sum(1 for x in lags if x > 0.02),
                "gc_count": len(self.gcs), "gc_total_ms": 1000 * sum(d for _, d in self.gcs),
                "gc_max_ms": 1000 * max((d for _, d in self.gcs), default=0.0),
                "gc2_count": len(gen2), "gc2_max_ms": 1000 * max(gen2, default=0.0)}


def diag_app(app: Any, path: str) -> Any:
    """Wrap the ASGI app: start a LoopDiag, dump its summary to ``path`` every second."""
    diag = LoopDiag()
    started = False

    async def dump() -> None:
        while True:
            await asyncio.sleep(1.0)
            Path(path).write_text(json.dumps({"at": time.time(), **diag.summary()}))

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        nonlocal started
        if not started:
            started = True
            diag.start()
            asyncio.get_running_loop().create_task(dump())
        if scope["type"] == "http" and scope["path"] == "/_diag_reset":
            diag.reset()
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["type"] == "http" and scope["path"] == "/_gc_freeze":  # --gc-freeze
            import gc

            gc.collect()
            gc.freeze()
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return wrapped


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- server (a child process)
def baseline_app() -> Any:
    """The old design, for comparison only: each connection polls XRANGE every 300 ms."""
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    from medupload.redis_client import async_redis
    from medupload.settings import get_settings

    app = FastAPI()

    @app.get("/api/v1/patients/{patient_id}/documents/stream")
    async def stream(patient_id: str) -> StreamingResponse:
        key = get_settings().redis_key(f"doc_progress:{patient_id}")

        async def events() -> Any:
            client = async_redis()
            yield "retry: 3000\n\n"
            yield "event: snapshot\ndata: []\n\n"
            last = "$"
            latest = await client.xrevrange(key, count=1)
            last = latest[0][0] if latest else "0-0"
            while True:
                for stream_id, fields in await client.xrange(key, f"({last}", "+"):
                    last = stream_id
                    yield f"event: {fields['kind']}\nid: {stream_id}\ndata: {fields['data']}\n\n"
                await asyncio.sleep(POLL_SECONDS)

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def make_app(mode: str) -> Any:
    from medupload.api import create_api

    app = create_api() if mode == "ours" else baseline_app()
    if os.environ.get("BENCH_DIAG"):
        app = diag_app(app, os.environ["BENCH_DIAG"])
    return app


def granian_app() -> Any:
    """Granian's factory target (it imports the app in its worker process)."""
    raise_nofile()
    return make_app(os.environ["BENCH_APP_MODE"])


def run_server(mode: str, port: int, server: str, loop: str, http: str, backpressure: int) -> None:
    raise_nofile()
    if server == "granian":
        # As Reflex's production backend runs it (reflex.utils.exec.run_granian_backend_prod):
        # ASGI, default backlog 1024 and backpressure backlog/workers unless --backpressure.
        from granian.constants import HTTPModes, Interfaces, Loops
        from granian.server import Server as Granian

        os.environ["BENCH_APP_MODE"] = mode
        Granian(target="bench.sse_fanout:granian_app", factory=True, address="127.0.0.1", port=port,
                interface=Interfaces.ASGI, workers=1, http=HTTPModes.http1,
                loop=Loops.uvloop if loop == "uvloop" else Loops.asyncio,
                backpressure=backpressure or None).serve()
        return
    import uvicorn

    uvicorn.run(make_app(mode), host="127.0.0.1", port=port, log_level="warning", backlog=8192,
                timeout_keep_alive=600, loop=loop, http=http)


# ---------------------------------------------------------------- clients (a child process)
async def run_clients(port: int, patients: list[str], clients: int, tokens: list[str],
                      connect_timeout: float) -> None:
    raise_nofile()
    latencies: list[float] = []
    fanout: list[float] = []  # from the XADD (the stream id's ms timestamp) to receipt
    received = 0
    connected = 0
    failed = 0
    all_connected = asyncio.Event()
    stop = asyncio.Event()
    diag = LoopDiag() if os.environ.get("BENCH_DIAG") else None
    if diag is not None:
        diag.start()
    slow_at: list[float] = []  # receipt times of deliveries over 50 ms (--diag)
    # Second since the first delivery -> [deliveries, worst latency]: when the tail happened.
    timeline: dict[int, list[float]] = {}
    timeline_start: dict[int, float] = {}
    # Per connection: the stream ids of its progress events and every other frame kind, so a
    # repeat (same connection, same id) is told apart from a miscount.
    seen: list[dict[bytes, int]] = [{} for _ in range(clients)]
    trail: list[list[str]] = [[] for _ in range(clients)]
    kinds: dict[str, int] = {}
    closed_early = 0
    counted = False  # the connections are counted (--connect-timeout passed or all are in)

    async def one(index: int, patient_id: str, token: str, gate: asyncio.Semaphore) -> None:
        nonlocal received, connected, failed, closed_early
        async with gate:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
                writer.write((f"GET /api/v1/patients/{patient_id}/documents/stream HTTP/1.1\r\n"
                              f"Host: bench\r\nAuthorization: Bearer {token}\r\n"
                              "Accept: text/event-stream\r\n\r\n").encode())
                while True:  # until the snapshot: the subscription is live after it
                    line = await reader.readline()
                    if not line:
                        raise ConnectionError
                    if line.startswith(b"event: snapshot"):
                        break
            except (OSError, ConnectionError):
                failed += 1
                return
        if counted:  # connected after --connect-timeout: not part of this run
            writer.close()
            return
        connected += 1
        if connected + failed == clients:
            all_connected.set()
        event, event_id = b"snapshot", b""  # its data line comes next
        ids, steps = seen[index], trail[index]
        try:
            while True:
                line = await reader.readline()
                if not line:
                    closed_early += 1
                    steps.append(f"eof@{time.time():.3f}")
                    return
                if line.startswith(b"event: "):
                    event = line[7:].strip()
                    event_id = b""
                elif line.startswith(b"id: "):
                    event_id = line[4:].strip()
                elif line.startswith(b"retry: "):
                    steps.append(line.strip().decode())
                elif line.startswith(b"data: ") and event != b"progress":
                    kind = event.decode()
                    kinds[kind] = kinds.get(kind, 0) + 1
                    if kind != "heartbeat":
                        steps.append(f"{kind}:{event_id.decode()}@{time.time():.3f}")
                elif line.startswith(b"data: ") and event == b"progress":
                    steps.append(f"progress:{event_id.decode()}@{time.time():.3f}")
                    now = time.time()
                    if diag is not None and not received:
                        diag.reset()
                    data = json.loads(line[6:])
                    if data.get("code") != BENCH_CODE:  # not the emitter's: the app's own event
                        kinds["progress (not the bench's)"] = kinds.get("progress (not the bench's)", 0) + 1
                        continue
                    ids[event_id] = ids.get(event_id, 0) + 1
                    latencies.append(now - datetime.fromisoformat(data["at"]).timestamp())
                    second = int(now - timeline_start.setdefault(0, now))
                    slot = timeline.setdefault(second, [0, 0.0])
                    slot[0] += 1
                    slot[1] = max(slot[1], latencies[-1])
                    if diag is not None and latencies[-1] > 0.05:
                        slow_at.append(now)
                    fanout.append(now - int(event_id.split(b"-")[0]) / 1000)
                    received += 1
        except (OSError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    gate = asyncio.Semaphore(200)
    per_account = -(-clients // len(tokens))
    tasks = [asyncio.create_task(one(i, patients[i % len(patients)], tokens[i // per_account], gate))
             for i in range(clients)]
    # A server that stops accepting streams (granian's backpressure) must not hang the bench.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_connected.wait(), connect_timeout)
    counted = True
    print(json.dumps({"ready": connected, "failed": clients - connected}), flush=True)
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), stop.set)
    await stop.wait()
    sys.stdin.readline()
    if latencies:
        ordered = sorted(latencies)
        result = {"received": received, "p50_ms": 1000 * ordered[len(ordered) // 2],
                  "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
                  "max_ms": 1000 * ordered[-1], "mean_ms": 1000 * statistics.fmean(ordered)}
        ordered = sorted(fanout)
        result.update(xadd_p50_ms=1000 * ordered[len(ordered) // 2],
                      xadd_p99_ms=1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))])
    else:
        result = {"received": 0}
    repeats = {i: {k.decode(): n for k, n in ids.items() if n > 1} for i, ids in enumerate(seen)}
    repeats = {i: r for i, r in repeats.items() if r}
    result.update(unique=sum(len(ids) for ids in seen), repeated=sum(n - 1 for r in repeats.values()
                                                                     for n in r.values()),
                  conns_with_repeats=len(repeats), closed_early=closed_early, other_frames=kinds)
    if os.environ.get("BENCH_TRAIL") and (repeats or closed_early):  # what those connections saw
        sample = sorted(repeats)[:50]
        Path(os.environ["BENCH_TRAIL"] + f".{os.getpid()}").write_text(json.dumps(
            {"repeats": {i: repeats[i] for i in sample}, "trails": {i: trail[i] for i in sample},
             "eof_trails": [t for t in trail if t and t[-1].startswith("eof")][:20]}))
    result["timeline"] = " ".join(f"{t}:{int(n)}/{1000 * worst:.0f}"
                                  for t, (n, worst) in sorted(timeline.items()))
    if os.environ.get("BENCH_RAW_LATENCIES"):  # merged over several client processes
        result.update(lat=latencies, fan=fanout)
    if diag is not None:
        result.update({f"client_{k}": v for k, v in diag.summary().items()})
        if slow_at:
            first = min(slow_at)
            seconds: dict[int, int] = {}
            for t in slow_at:
                seconds[int(t - first)] = seconds.get(int(t - first), 0) + 1
            result["slow_by_second"] = seconds
    print(json.dumps(result), flush=True)
    for task in tasks:
        task.cancel()


# ---------------------------------------------------------------- emitter (a child process)
def run_emitter(documents: list[str], rate: float, seconds: float) -> None:
    from medupload.progress.emitter import emit_progress
    from medupload.progress.stages import Stage

    total = int(rate * seconds)
    # Warm-up (engine, pool, script) on a document no client watches: documents[0].
    warm, documents = documents[0], documents[1:]
    emit_progress(warm, Stage.OCR_STARTED, "ocr.page")
    cpu0 = time.process_time()
    start = time.monotonic()
    late = 0
    durations: list[float] = []
    for i in range(total):
        target = start + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.005:  # more than 5 ms behind schedule
            late += 1
        t = time.perf_counter()
        emit_progress(documents[i % len(documents)], Stage.OCR_STARTED, BENCH_CODE,
                      numbers={"page": i, "pages": total})
        durations.append(time.perf_counter() - t)
    elapsed = time.monotonic() - start
    durations.sort()
    print(json.dumps({"emitted": total, "late": late, "elapsed": elapsed,
                      "emit_cpu": (time.process_time() - cpu0) / elapsed,
                      "emit_p50_ms": 1000 * durations[len(durations) // 2],
                      "emit_p99_ms": 1000 * durations[int(len(durations) * 0.99)],
                      "emit_max_ms": 1000 * durations[-1]}), flush=True)


# ---------------------------------------------------------------- orchestrator
def commandstats(client: Any) -> int:
    info = client.info("commandstats")
    return sum(v["calls"] for k, v in info.items() if k not in ("cmdstat_info",))


def cpu(proc: Any) -> float:
    times = proc.cpu_times()
    return times.user + times.system


class ProcTree:
    """The server process and its children (granian serves from a worker process)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.root = psutil.Process(pid)

    def _procs(self) -> list[Any]:
        return [self.root, *self.root.children(recursive=True)]

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self._procs())

    def cpu(self) -> float:
        return sum(cpu(p) for p in self._procs())

    def waited(self) -> float:
        return sum(run_queue_wait(p.pid) for p in self._procs())


def run_queue_wait(pid: int) -> float:
    """Seconds the process's threads have spent runnable but waiting for a CPU (Linux schedstat):
    what the other work on the machine cost it."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(task.read_text().split()[1])
    return total / 1e9


def wait_http(port: int) -> None:
    """Until the app answers an HTTP request (any status): its worker has imported the app."""
    import urllib.error
    import urllib.request

    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/nothing-here", timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("server did not start")


class ClientGroup:
    """The client processes as one: summed readiness and CPU, merged latencies."""

    def __init__(self, procs: list[subprocess.Popen[str]]) -> None:
        import psutil

        self.procs = procs
        self.ps = [psutil.Process(p.pid) for p in procs]

    def cpu_times(self) -> Any:
        from types import SimpleNamespace

        times = [p.cpu_times() for p in self.ps]
        return SimpleNamespace(user=sum(t.user for t in times), system=sum(t.system for t in times))

    def ready(self) -> dict[str, int]:
        lines = [json.loads(p.stdout.readline()) for p in self.procs]  # type: ignore[union-attr]
        return {"ready": sum(r["ready"] for r in lines), "failed": sum(r["failed"] for r in lines)}

    def stop(self) -> dict[str, Any]:
        for p in self.procs:
            p.stdin.write("stop\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        results = [json.loads(p.stdout.readline()) for p in self.procs]  # type: ignore[union-attr]
        for p in self.procs:
            p.wait(30)
        if len(results) == 1:
            return results[0]
        latencies = sorted(x for r in results for x in r.pop("lat", []))
        fanout = sorted(x for r in results for x in r.pop("fan", []))
        merged: dict[str, Any] = {key: sum(r.get(key, 0) for r in results)
                                  for key in ("received", "unique", "repeated", "conns_with_repeats",
                                              "closed_early")}
        merged["timeline"] = " | ".join(r.get("timeline", "") for r in results)
        merged["other_frames"] = {}
        for r in results:
            for kind, n in r.get("other_frames", {}).items():
                merged["other_frames"][kind] = merged["other_frames"].get(kind, 0) + n
        if latencies:
            merged.update(p50_ms=1000 * latencies[len(latencies) // 2],
                          p99_ms=1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
                          max_ms=1000 * latencies[-1], mean_ms=1000 * statistics.fmean(latencies),
                          xadd_p50_ms=1000 * fanout[len(fanout) // 2],
                          xadd_p99_ms=1000 * fanout[min(len(fanout) - 1, int(len(fanout) * 0.99))])
        return merged


def served_gc_pauses(port: int) -> dict[str, float]:
    """Full (gen-2) collections in the served app's processes since they started (GET /metrics)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    out = {"gc2_count": 0.0, "gc2_seconds": 0.0, "gc2_over_250ms": 0.0}
    for family in text_string_to_metric_families(text):
        if family.name != "medupload_gc_pause_seconds":
            continue
        for sample in family.samples:
            if sample.labels.get("generation") != "2":
                continue
            if sample.name.endswith("_count"):
                out["gc2_count"] = sample.value
            elif sample.name.endswith("_sum"):
                out["gc2_seconds"] = sample.value
            elif sample.name.endswith("_bucket") and sample.labels.get("le") == "0.25":
                out["gc2_over_250ms"] = -sample.value
    out["gc2_over_250ms"] += out["gc2_count"]
    return out


def run_mode(mode: str, args: argparse.Namespace, env: dict[str, str], redis_client: Any, redis_pid: int,
             patients: list[str], documents: list[str], tokens: list[str],
             workers: int = 1, tree: Path = ROOT) -> dict[str, Any]:
    import urllib.request

    import psutil

    redis_client.flushdb()
    port = free_port()
    me = [sys.executable, str(Path(__file__).resolve())]
    if args.server == "served":
        # The served app as `make run` starts it (python -m medupload.serve: Reflex app, Granian,
        # WEB_WORKERS processes on one port; the frontend build is mounted if there is one).
        metrics_dir = tempfile.mkdtemp(prefix="medupload-bench-metrics-")
        served_env = {**env, "REFLEX_REDIS_URL": env["MEDUPLOAD_REDIS_URL"], "PYTHONPATH": str(tree),
                      "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
                      "MEDUPLOAD_GC_FREEZE": "false" if args.no_gc_freeze else "true"}
        log = Path(env["BENCH_WORK"]) / f"server.{len(list(Path(env['BENCH_WORK']).glob('server.*')))}.log"
        server = subprocess.Popen(
            [sys.executable, "-m", "medupload.serve", "--no-build", "--workers", str(workers), "--port",
             str(port), "--backpressure", str(args.backpressure or 20_000), "--kill-timeout", "5"],
            env=served_env, cwd=tree, stdout=subprocess.DEVNULL,
            stderr=log.open("w"))  # the app's log, to read after
    else:
        server = subprocess.Popen([*me, "_server", mode, str(port), args.server, args.loop, args.http,
                                   str(args.backpressure)], env=env, cwd=ROOT)
    procs: list[subprocess.Popen[str]] = []
    try:
        wait_http(port)
        if args.gc_freeze == "startup":
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_gc_freeze", timeout=60).read()
        proc = ProcTree(server.pid)
        time.sleep(0.5)
        rss_before = proc.rss()
        # One client process per 10,000 connections at most (its open-file limit): K processes,
        # each with its own patients, so each event still reaches --per-patient connections.
        k = args.client_processes
        client_env = {**env, "BENCH_RAW_LATENCIES": "1"} if k > 1 else env
        token_files = []
        for i in range(k):  # each client process its own accounts, --per-account connections each
            token_files.append(Path(env["BENCH_WORK"]) / f"tokens.{i}")
            token_files[-1].write_text("\n".join(tokens[i::k]))
        procs += [subprocess.Popen(
            [*me, "_clients", str(port), str(args.clients // k), str(token_files[i]),
             ",".join(patients[i::k]), str(args.connect_timeout)],
            env=client_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for i in range(k)]
        clients = ClientGroup(procs)
        client_proc, redis_proc = clients, psutil.Process(redis_pid)
        t0 = time.monotonic()
        ready = clients.ready()
        connect_seconds = time.monotonic() - t0
        print(f"[bench] {mode}: {ready['ready']} connected in {connect_seconds:.0f} s; "
              f"idle for {args.idle_seconds:.0f} s, then the emitter", file=sys.stderr, flush=True)
        time.sleep(1.0)
        rss_open = proc.rss()
        if args.gc_freeze == "connected":
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_gc_freeze", timeout=60).read()

        c0, cpu0, w0 = commandstats(redis_client), proc.cpu(), time.monotonic()
        client_idle0 = cpu(client_proc)
        time.sleep(args.idle_seconds)
        c1, cpu1, w1 = commandstats(redis_client), proc.cpu(), time.monotonic()
        idle_cmds = (c1 - c0) / (w1 - w0)  # INFO itself is left out of the sum
        idle_cpu = (cpu1 - cpu0) / (w1 - w0)
        client_idle_cpu = (cpu(client_proc) - client_idle0) / (w1 - w0)

        gc_before = served_gc_pauses(port) if args.server == "served" else {}
        emitter = subprocess.Popen(
            [*me, "_emit", str(args.rate), str(args.seconds), ",".join(documents)],
            env=env, stdout=subprocess.PIPE, text=True)
        if args.diag:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_diag_reset", timeout=10).read()
        c2, cpu2, w2 = commandstats(redis_client), proc.cpu(), time.monotonic()
        others0 = cpu(client_proc), cpu(redis_proc)
        waited0 = proc.waited(), sum(run_queue_wait(child.pid) for child in procs)
        load0 = os.getloadavg()[0]
        emitted = json.loads(emitter.communicate()[0].strip().splitlines()[-1])
        c3, cpu3, w3 = commandstats(redis_client), proc.cpu(), time.monotonic()
        others1 = cpu(client_proc), cpu(redis_proc)
        waited1 = proc.waited(), sum(run_queue_wait(child.pid) for child in procs)
        server_diag = ({f"server_{k}": v for k, v in json.loads(Path(env["BENCH_DIAG"]).read_text()).items()
                        if k != "at"} if args.diag else {})
        time.sleep(args.drain_seconds)  # let the last events arrive
        result = clients.stop()
        if args.server == "served":
            result.update(served_gc_pauses(port))
            # Full collections while the events flowed (a multi-process figure is summed).
            result["gc2_in_window"] = result["gc2_count"] - gc_before["gc2_count"]
            result["gc2_in_window_s"] = result["gc2_seconds"] - gc_before["gc2_seconds"]
    finally:
        for child in procs:
            if child.poll() is None:  # interrupted
                child.kill()
        server.terminate()
        server.wait(30)
    per_patient = args.clients / len(patients)
    return {
        "mode": mode, "connected": ready["ready"], "connect_failed": ready["failed"],
        "connect_s": connect_seconds,
        "idle_redis_cmds_s": idle_cmds, "load_redis_cmds_s": (c3 - c2) / (w3 - w2),
        "idle_cpu": idle_cpu, "load_cpu": (cpu3 - cpu2) / (w3 - w2),
        "rss_per_conn_kb": (rss_open - rss_before) / max(1, ready["ready"]) / 1024,
        "client_cpu": (others1[0] - others0[0]) / (w3 - w2), "client_idle_cpu": client_idle_cpu,
        "client_processes": len(procs),
        "redis_cpu": (others1[1] - others0[1]) / (w3 - w2),
        # Waiting for a CPU while the events flowed, seconds per second (summed over processes).
        "server_cpu_wait": (waited1[0] - waited0[0]) / (w3 - w2),
        "client_cpu_wait": (waited1[1] - waited0[1]) / (w3 - w2),
        "loadavg": f"{load0:.1f} -> {os.getloadavg()[0]:.1f}",  # 1-min load average, window start -> end
        "emit_cpu": emitted["emit_cpu"], "emit_s": emitted["elapsed"], "emit_p50_ms": emitted["emit_p50_ms"],
        "emit_p99_ms": emitted["emit_p99_ms"], "emit_max_ms": emitted["emit_max_ms"],
        "rss_open_mb": rss_open / 2**20, "emitted": emitted["emitted"], "emit_late": emitted["late"],
        "expected_deliveries": int(emitted["emitted"] * per_patient), **result, **server_diag,
    }


def orchestrate(args: argparse.Namespace) -> None:
    import redis

    # Stopped (Ctrl-C, or SIGTERM when run in the background, where SIGINT is ignored): the
    # finally blocks still stop the app server and the bench's Redis.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="medupload-bench-"))
    redis_port = free_port()
    redis_proc = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--maxclients", "20000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ,
           "MEDUPLOAD_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
           "MEDUPLOAD_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "MEDUPLOAD_REDIS_PREFIX": f"bench{secrets.token_hex(3)}:",
           "MEDUPLOAD_STORAGE_DIR": str(work / "uploads"),
           "MEDUPLOAD_SECRET_KEY": secrets.token_urlsafe(32),
           "MEDUPLOAD_STREAM_MAX_SECONDS": "3600",
           # The bench's documents sit in "processing" with no job behind them: without this, the
           # served app's recovery watchdog re-queues them once they have been silent for the
           # document time limit + 60 s (a 20,000-client connect takes longer) and its pipeline
           # runs then fail them, which the watchers receive as extra progress events.
           "MEDUPLOAD_DOCUMENT_TIME_LIMIT_SECONDS": os.environ.get("MEDUPLOAD_DOCUMENT_TIME_LIMIT_SECONDS",
                                                                   "86400"),
           # Each account holds --per-account streams (default: the app's cap, 10).
           "MEDUPLOAD_MAX_STREAMS_PER_ACCOUNT": str(max(10, args.per_account)),
           "BENCH_WORK": str(work),
           "PYTHONPATH": str(ROOT)}
    env["BENCH_TRAIL"] = str(work / "repeats")  # written only by a client that saw a repeat
    if args.diag:
        env["BENCH_DIAG"] = str(work / "server-diag.json")
    os.environ.update(env)
    try:
        client = redis.Redis(port=redis_port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        accounts = args.client_processes * -(-args.clients // (args.client_processes * args.per_account))
        patients, documents, tokens = setup_db(max(1, args.clients // args.per_patient) + 1, accounts)
        patients = patients[1:]  # the first patient's document is the emitter's warm-up, unwatched
        # (mode, server processes, tree the app is served from)
        runs: list[tuple[str, int, Path]] = [("ours", 1, ROOT)] + (
            [] if args.no_baseline else [(args.baseline, 1, ROOT)])
        if args.server == "served" and args.before:  # the same run against an older commit first
            before = export_tree(args.before, work)
            runs = [(f"before ({Path(args.before).name[:9]})", args.workers[0], before),
                    ("this tree", args.workers[0], ROOT)]
        elif args.server == "served":  # one run per server-process count, compared with the first
            runs = [(f"{n} process{'es' if n > 1 else ''}", n, ROOT) for n in args.workers]
        results = []
        for mode, workers, tree in runs:
            results.append(run_mode(mode, args, env, client, redis_proc.pid, patients, documents, tokens,
                                    workers, tree))
            print(json.dumps(results[-1]), flush=True)  # in case a later mode is interrupted
    finally:
        redis_proc.terminate()
        redis_proc.wait()
    report(args, results)
    for trail in sorted(work.glob("repeats.*")):
        print(f"[bench] repeated or closed streams: {trail}", file=sys.stderr)
    print(f"[bench] work directory (server.log, tokens): {work}", file=sys.stderr)


def export_tree(commit: str, work: Path) -> Path:
    """The served app of another version, for --before: a directory as it is, or a ``git archive``
    of a commit of this repository."""
    if Path(commit).is_dir():
        return Path(commit).resolve()
    tree = work / "before"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def setup_db(count: int, accounts: int) -> tuple[list[str], list[str], list[str]]:
    """``count`` patients with one "processing" document each, and ``accounts`` staff accounts
    (a token each): every watcher signs in as a staff member who may follow any patient."""
    from sqlmodel import SQLModel

    import medupload.models  # noqa: F401
    from medupload.auth import create_access_token
    from medupload.db import get_engine, session_scope
    from medupload.models import Document, Patient, User

    SQLModel.metadata.create_all(get_engine())
    patients, documents = [], []
    with session_scope() as session:
        for i in range(count):
            patient = Patient(display_name=f"bench {i}")
            session.add(patient)
            session.flush()
            doc = Document(patient_id=patient.id, filename="b.pdf", content_type="application/pdf", size=1,
                           sha256=secrets.token_hex(32), storage_path="/dev/null", status="processing",
                           stage="ocr_started")
            session.add(doc)
            session.flush()
            patients.append(patient.id)
            documents.append(doc.id)
        staff = [User(username=f"bench-staff-{i}", password_hash="x", role="staff") for i in range(accounts)]
        session.add_all(staff)
        session.flush()
        tokens = [create_access_token(user)[0] for user in staff]
    return patients, documents, tokens


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    print(f"\nclients={args.clients} per_patient={args.per_patient} rate={args.rate}/s "
          f"seconds={args.seconds} server={args.server} loop={args.loop} "
          + (f"http={args.http}" if args.server == "uvicorn"
             else f"backpressure={args.backpressure or 'default'}"))
    keys = ["loadavg", "connected", "connect_failed", "connect_s", "idle_redis_cmds_s", "load_redis_cmds_s",
            "idle_cpu", "load_cpu", "client_processes", "client_idle_cpu", "client_cpu", "redis_cpu",
            "server_cpu_wait", "client_cpu_wait", "emit_cpu", "emit_s", "emit_p50_ms", "emit_p99_ms",
            "emit_max_ms", "rss_open_mb", "rss_per_conn_kb", "emitted", "emit_late", "expected_deliveries",
            "received", "unique", "repeated", "conns_with_repeats", "closed_early", "other_frames",
            "p50_ms", "p99_ms", "max_ms", "xadd_p50_ms", "xadd_p99_ms", "gc2_count",
            "gc2_seconds", "gc2_over_250ms", "gc2_in_window", "gc2_in_window_s", "timeline"]
    keys += [k for k in results[0] if k.startswith(("server_", "client_")) and k not in keys]
    print(f"{'metric':<22}" + "".join(f"{r['mode']:>14}" for r in results)
          + ("      ratio" if len(results) == 2 else ""))
    for key in keys:
        values = [r.get(key) for r in results]
        row = f"{key:<22}" + "".join(f"{v:>14.2f}" if isinstance(v, float) else f"{v!s:>14}" for v in values)
        if len(results) == 2 and all(isinstance(v, int | float) for v in values) and values[0]:
            row += f"   {values[1] / values[0]:>8.2f}x"
        print(row)
    ratio = "second / first column" if args.server == "served" else "baseline / ours"
    print(f"\n(ratio = {ratio}; cpu = server cores used; p50/p99 from the event's `at`, i.e.\n"
          " including emit_progress's DB commit; xadd_* from the Redis XADD (stream id, ms) to receipt;"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(json.dumps(results))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        mode, port, server, loop, http, backpressure = sys.argv[2:8]
        return run_server(mode, int(port), server, loop, http, int(backpressure))
    if len(sys.argv) > 1 and sys.argv[1] == "_clients":
        port, count, token_file, patients, connect_timeout = sys.argv[2:7]
        tokens = Path(token_file).read_text().split()
        import uvloop  # the cheaper loop: the clients share the 2 cores with the server

        return uvloop.run(run_clients(int(port), patients.split(","), int(count), tokens,
                                       float(connect_timeout)))
    if len(sys.argv) > 1 and sys.argv[1] == "_emit":
        return run_emitter(sys.argv[4].split(","), float(sys.argv[2]), float(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--per-patient", type=int, default=10, help="connections watching each patient")
    parser.add_argument("--per-account", type=int, default=10,
                        help="connections per staff account (10 is the app's per-account stream cap)")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--drain-seconds", type=float, default=5.0,
                        help="deliveries are counted until this long after the emitter's last event")
    parser.add_argument("--baseline", choices=["poll300"], default="poll300")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--connect-timeout", type=float, default=900.0,
                        help="go on with the connections open after this many seconds")
    parser.add_argument("--gc-freeze", choices=["startup", "connected"],
                        help="(implies --diag) gc.collect(); gc.freeze() in the server before the clients "
                             "connect or once they all are")
    parser.add_argument("--diag", action="store_true",
                        help="also measure event-loop lag and GC pauses in the server and client processes")
    parser.add_argument("--server", choices=["uvicorn", "granian", "served"], default="uvicorn",
                        help="granian: one ASGI worker configured as Reflex's production backend; "
                             "served: the whole app as make run serves it (python -m medupload.serve)")
    parser.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")], default=[1],
                        help="served: server processes on the port; 1,2 runs both, one after the other")
    parser.add_argument("--no-gc-freeze", action="store_true", help="served: MEDUPLOAD_GC_FREEZE=false")
    parser.add_argument("--before", metavar="COMMIT",
                        help="served: first serve a git archive of COMMIT (or a directory), then this tree "
                             "(ratios against it)")
    parser.add_argument("--client-processes", type=int, default=0,
                        help="client processes sharing --clients (each holds at most ~19,000 sockets; "
                             "default: one per 5,000, so no client loop holds a burst up)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio", help="server event loop")
    parser.add_argument("--http", choices=["h11", "httptools"], default="h11", help="uvicorn HTTP parser")
    parser.add_argument("--backpressure", type=int, default=0,
                        help="granian: concurrent requests per worker (0: granian's default, "
                             "backlog/workers = 1024)")
    args = parser.parse_args()
    args.client_processes = args.client_processes or -(-args.clients // 5000)
    args.diag = args.diag or args.gc_freeze is not None  # the freeze endpoint lives in the diag wrapper
    orchestrate(args)
    return None


if __name__ == "__main__":
    main()
