"""Idle Redis traffic of the served app: N open SSE streams of signed-in patients, nothing
happening, Redis commands counted over a window (INFO commandstats on a redis-server of the
bench's own, so nothing else is counted). The same run serves the code of a baseline commit
first (default: main before revocation notices and per-process slot leases, where every open
stream read its revocation keys every 2 s and renewed its slot every 10 s), then this tree.

    .venv/bin/python bench/idle_redis.py                          # 1,000 streams, 1 process
    .venv/bin/python bench/idle_redis.py --workers 2 --streams 2000 --window 30
    .venv/bin/python bench/idle_redis.py --before none            # this tree only
    .venv/bin/python bench/idle_redis.py --pages 20               # + 20 live patient pages (Chromium)

Server: ``python -m medupload.serve --no-build`` (Granian, as ``make run`` serves; the API and
the Reflex socket, without pages), from a ``git archive`` of the baseline commit and from this
tree, on one SQLite file. Each stream has its own token (one sign-in per tab or device), so
the baseline's 1 s revocation cache is not shared between streams; patients hold
--per-patient streams each (the per-account cap is 10). --pages N also opens N patient pages
in Chromium (Playwright; each its own browser context with its patient's session cookie) and
waits until each shows "Live updates": it needs the frontend build in ``.web`` (``make run`` or
the browser tests make it), which the baseline tree borrows (its UI code is the same), and
serves on the port baked into that build. Not a
test: it prints figures and the ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "7cd69d2"  # main before this change (revocation polled per stream, slots renewed per stream)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    import redis

    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(work), "--maxclients", "20000"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return process, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def calls(client: Any) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()
            if name != "cmdstat_info"}


def make_streams(count: int, per_patient: int) -> tuple[int, list[tuple[str, str]]]:
    """Patient accounts for ``count`` streams, ``per_patient`` each; (patients, [(patient id,
    token)]) with one token per stream, as the sign-in route issues them."""
    from sqlmodel import Session

    from medupload.__main__ import add_user
    from medupload.auth import create_access_token
    from medupload.db import get_engine
    from medupload.models import User

    streams: list[tuple[str, str]] = []
    patients = (count + per_patient - 1) // per_patient
    with Session(get_engine()) as session:
        for n in range(patients):
            user_id, patient_id = add_user(session, username=f"idle{n}", password="idle-bench-password",
                                           role="patient")
            session.commit()
            user = session.get(User, user_id)
            assert user is not None and patient_id is not None
            for _ in range(min(per_patient, count - len(streams))):
                streams.append((patient_id, create_access_token(user)[0]))
    return patients, streams


async def open_streams(port: int, streams: list[tuple[str, str]], timeout: float) -> tuple[list[Any], int]:
    """Open one SSE stream per (patient id, token); returns the open writers and the failures."""
    gate = asyncio.Semaphore(100)
    writers: list[Any] = []
    failed = 0
    readers: list[asyncio.Task[None]] = []

    async def drain(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while await reader.read(65536):
                pass

    async def one(patient_id: str, token: str) -> None:
        nonlocal failed
        async with gate:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write((f"GET /api/v1/patients/{patient_id}/documents/stream HTTP/1.1\r\n"
                              f"Host: bench\r\nAuthorization: Bearer {token}\r\n"
                              "Accept: text/event-stream\r\n\r\n").encode())
                status = await asyncio.wait_for(reader.readline(), timeout)
                if b" 200 " not in status:
                    raise ConnectionError(status.decode(errors="replace").strip())
                while True:  # until the snapshot: the stream is following from then on
                    line = await asyncio.wait_for(reader.readline(), timeout)
                    if not line:
                        raise ConnectionError("closed")
                    if line.startswith(b"event: snapshot"):
                        break
            except (OSError, ConnectionError, TimeoutError) as exc:
                failed += 1
                if failed <= 3:
                    print(f"  stream failed: {exc!r}", file=sys.stderr)
                return
        writers.append(writer)
        readers.append(asyncio.create_task(drain(reader)))

    await asyncio.gather(*(one(p, t) for p, t in streams))
    return writers, failed


def serve(tree: Path, port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    import httpx

    process = subprocess.Popen([sys.executable, "-m", "medupload.serve", "--no-build",
                                "--workers", str(workers), "--port", str(port), "--kill-timeout", "5"],
                               cwd=tree, env={**env, "PYTHONPATH": str(tree), "PORT": str(port)},
                               stdout=log.open("ab"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                time.sleep(2.0 * workers)  # every worker up, not just the first
                return process
        if process.poll() is not None:
            break
        time.sleep(0.3)
    stop(process)
    raise RuntimeError(f"server from {tree} did not start; see {log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def build_port() -> int:
    """The port the frontend build talks to (Reflex bakes the backend's port into it)."""
    import json
    from urllib.parse import urlsplit

    port = urlsplit(json.loads((ROOT / ".web" / "env.json").read_text())["EVENT"]).port
    assert port is not None
    return port


def open_pages(port: int, streams: list[tuple[str, str]], count: int) -> Any:
    """``count`` live patient pages (one per patient, its own context and cookie), each showing
    "Live updates"; returns a close() for them."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--no-sandbox", "--headless", "--disable-gpu",
                                               "--disable-dev-shm-usage"])
    seen: set[str] = set()
    for patient_id, token in streams:
        if len(seen) == count:
            break
        if patient_id in seen:
            continue
        seen.add(patient_id)
        context = browser.new_context()
        context.add_cookies([{"name": "medupload_session", "value": token, "url": f"http://127.0.0.1:{port}"}])
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/patient")
        page.wait_for_selector('[data-testid="connection"][data-state="live"]', timeout=60_000)

    def close() -> None:
        browser.close()
        playwright.stop()

    return close


async def measure(name: str, tree: Path, args: argparse.Namespace, env: dict[str, str],
                  streams: list[tuple[str, str]], redis_port: int, work: Path) -> dict[str, Any]:
    import redis

    stats = redis.Redis(port=redis_port)
    stats.flushall()
    port = build_port() if args.pages else free_port()
    server = serve(tree, port, args.workers, env, work / f"server-{name}.log")
    close_pages = None
    try:
        started = time.monotonic()
        writers, failed = await open_streams(port, streams, timeout=60)
        if args.pages:
            close_pages = await asyncio.to_thread(open_pages, port, streams, args.pages)
        connect_s = time.monotonic() - started
        await asyncio.sleep(args.settle)  # first checks and the connect burst are over
        before, t0 = calls(stats), time.monotonic()
        await asyncio.sleep(args.window)
        after, t1 = calls(stats), time.monotonic()
        for writer in writers:
            writer.close()
    finally:
        if close_pages is not None:
            await asyncio.to_thread(close_pages)
        stop(server)
    seconds = t1 - t0
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta = {k: v for k, v in sorted(delta.items(), key=lambda kv: -kv[1]) if v}
    total = sum(delta.values())
    return {"name": name, "open": len(writers), "failed": failed, "connect_s": connect_s,
            "per_s": total / seconds, "by_command": {k: round(v / seconds, 2) for k, v in delta.items()},
            "seconds": seconds}


def archive(rev: str, work: Path, pages: bool) -> Path:
    tree = work / f"tree-{rev}"
    tree.mkdir()
    data = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=data, check=True)
    if pages:
        (tree / ".web").symlink_to(ROOT / ".web")  # the same pages: borrow this tree's build
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--per-patient", type=int, default=10, help="streams per patient (cap is 10)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (WEB_WORKERS)")
    parser.add_argument("--window", type=float, default=20.0, help="idle seconds counted")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds between connecting and counting")
    parser.add_argument("--before", default=BASELINE, help="baseline commit, or 'none'")
    parser.add_argument("--pages", type=int, default=0, help="live patient pages to open as well")
    args = parser.parse_args()
    if args.pages and not (ROOT / ".web" / "build").is_dir():
        sys.exit("--pages needs the frontend build in .web (make run, or the browser tests, make it)")
    raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="medupload-bench-idle-"))
    redis_process, redis_port = start_redis(work)
    env = {**os.environ,
           "MEDUPLOAD_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
           "MEDUPLOAD_STORAGE_DIR": str(work / "uploads"),
           "MEDUPLOAD_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "MEDUPLOAD_REDIS_PREFIX": f"idle{uuid.uuid4().hex[:6]}:",
           "MEDUPLOAD_SECRET_KEY": "bench-secret-" + uuid.uuid4().hex,
           "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false"}
    if args.workers > 1:
        env["REFLEX_REDIS_URL"] = env["MEDUPLOAD_REDIS_URL"]
    os.environ.update(env)  # this process makes the accounts and tokens with the same settings
    sys.path.insert(0, str(ROOT))
    subprocess.run([sys.executable, "-m", "medupload", "migrate"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    patients, streams = make_streams(args.streams, args.per_patient)
    runs = []
    try:
        if args.before != "none":
            tree = archive(args.before, work, bool(args.pages))
            runs.append(asyncio.run(measure(f"before ({args.before})", tree, args, env, streams, redis_port,
                                            work)))
        runs.append(asyncio.run(measure("after (this tree)", ROOT, args, env, streams, redis_port, work)))
    finally:
        redis_process.kill()
        redis_process.wait()
    pages = f" and {args.pages} live patient pages" if args.pages else ""
    print(f"\n{args.streams} idle SSE streams ({patients} patients x {args.per_patient}, one token each)"
          f"{pages}, "
          f"{args.workers} server process(es), {args.window:.0f} s window, Redis INFO commandstats "
          "(commands run inside Lua scripts are counted too):")
    print(f"{'run':<22} {'open':>6} {'failed':>6} {'connect s':>9} {'commands/s':>11}  by command (/s)")
    for run in runs:
        print(f"{run['name']:<22} {run['open']:>6} {run['failed']:>6} {run['connect_s']:>9.1f} "
              f"{run['per_s']:>11.1f}  {run['by_command']}")
    if len(runs) == 2 and runs[1]["per_s"] > 0:
        print(f"idle commands/s, before / after: {runs[0]['per_s'] / runs[1]['per_s']:.0f}x fewer")
    elif len(runs) == 2:
        print("idle commands/s after: 0")


if __name__ == "__main__":
    main()
