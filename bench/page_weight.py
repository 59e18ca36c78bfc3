"""Page weight: what a returning patient's /patient page pulls over the Reflex websocket.

    .venv/bin/python bench/page_weight.py                       # 40 documents, this tree only
    .venv/bin/python bench/page_weight.py --baseline 67ea98c    # also the given commit, and ratios

For each tree (a ``git worktree`` of --baseline in a temporary directory, then this one): its own
SQLite file, storage directory and redis-server; ``migrate``; a patient account made with the CLI;
--docs processed documents seeded with the real ``emit_progress`` (six events each, so the
patient's Redis stream holds the whole history, as after real uploads); the prod app on one port
(``reflex run --env prod --single-port``, which builds the frontend). Debian's Chromium (Playwright)
signs in, then reloads /patient; every websocket frame the page receives is counted
(``page.on("websocket")`` -> ``framereceived``) until all cards are visible and the socket has
been quiet for --quiet seconds. Printed: bytes and frames for sign-in -> /patient and for a
reload of /patient, time until all cards show, and the ratios baseline / this tree.
Not a test: tests/browser/test_page_weight.py asserts the byte budget.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from browser.browser_helpers import (  # noqa: E402
    BUN_BIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    _wait_http,
    free_port,
    login,
    stop_server,
)
from browser.returning_patient import FrameCounter, seed_processed_documents  # noqa: E402
from support import RedisServer  # noqa: E402


@dataclass
class Weight:
    bytes: int
    frames: int
    cards_ms: float


def measure_tree(tree: Path, docs: int, quiet: float) -> tuple[Weight, Weight]:
    run_dir = Path(tempfile.mkdtemp(prefix="medupload-pageweight-"))
    redis_server = RedisServer()
    redis_server.start()
    port = free_port()
    python = str(ROOT / ".venv" / "bin" / "python")
    env = {
        **os.environ,
        "MEDUPLOAD_DATABASE_URL": f"sqlite:///{run_dir / 'app.db'}",
        "MEDUPLOAD_STORAGE_DIR": str(run_dir / "uploads"),
        "MEDUPLOAD_REDIS_URL": redis_server.url,
        "MEDUPLOAD_REDIS_PREFIX": f"pw{uuid.uuid4().hex[:8]}:",
        "MEDUPLOAD_SECRET_KEY": "page-weight-secret-" + uuid.uuid4().hex,
        "PATH": f"{BUN_BIN}:{os.environ.get('PATH', '')}",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    env.pop("REFLEX_REDIS_URL", None)

    def cli(*args: str) -> str:
        done = subprocess.run([python, "-m", "medupload", *args], cwd=tree, env=env, capture_output=True,
                              text=True, timeout=120, check=True)
        return done.stdout.strip()

    process = None
    try:
        cli("migrate")
        password = "page-weight-" + uuid.uuid4().hex[:8]
        patient_id = cli("user", "add", "--role", "patient", "--username", "returning", "--password",
                         password).split()[-1]
        seed_processed_documents(python, tree, env, patient_id, docs)
        log = (run_dir / "server.log").open("ab")
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "reflex"), "run", "--env", "prod", "--single-port",
             "--frontend-port", str(port), "--backend-port", str(port)],
            cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/login", time.monotonic() + 900, process)
        _wait_http(f"{base}/api/v1/health", time.monotonic() + 60, process)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            counter = FrameCounter(page)
            page.goto(f"{base}/login")
            counter.reset()
            started = time.monotonic()
            login(page, base, "returning", password, "/patient")
            sign_in = Weight(0, 0, counter.wait_for_cards(page, docs, quiet, started))
            sign_in.bytes, sign_in.frames = counter.bytes, counter.frames
            counter.reset()
            started = time.monotonic()
            page.reload()
            reload = Weight(0, 0, counter.wait_for_cards(page, docs, quiet, started))
            reload.bytes, reload.frames = counter.bytes, counter.frames
            browser.close()
        return sign_in, reload
    finally:
        if process is not None:
            stop_server(process)
        redis_server.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def baseline_tree(ref: str) -> Path:
    tree = Path(tempfile.mkdtemp(prefix="medupload-baseline-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=ROOT, check=True,
                   capture_output=True)
    for link in (".venv", ".tools"):
        (tree / link).symlink_to((ROOT / link).resolve())
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--baseline", help="a commit to measure first (built in a temporary git worktree)")
    parser.add_argument("--quiet", type=float, default=3.0,
                        help="seconds without frames that end a page load")
    args = parser.parse_args()
    results: dict[str, tuple[Weight, Weight]] = {}
    if args.baseline:
        tree = baseline_tree(args.baseline)
        try:
            results[f"baseline {args.baseline}"] = measure_tree(tree, args.docs, args.quiet)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    results["this tree"] = measure_tree(ROOT, args.docs, args.quiet)

    print(f"\n{args.docs} processed documents, /patient over the Reflex websocket")
    print(f"{'':22} {'sign-in -> /patient':>32} {'reload /patient':>32}")
    for name, (sign_in, reload) in results.items():
        cells = [f"{w.bytes / 1024:,.0f} KB / {w.frames} fr / {w.cards_ms:,.0f} ms"
                 for w in (sign_in, reload)]
        print(f"{name:22} {cells[0]:>32} {cells[1]:>32}")
    if len(results) == 2:
        (b_in, b_re), (n_in, n_re) = results.values()
        ratio_in, ratio_re = b_in.bytes / max(1, n_in.bytes), b_re.bytes / max(1, n_re.bytes)
        print(f"{'ratio baseline/this':22} {ratio_in:>31.1f}x {ratio_re:>31.1f}x"
              f"   (time to all cards: {b_re.cards_ms / max(1.0, n_re.cards_ms):.2f}x)")


if __name__ == "__main__":
    main()
