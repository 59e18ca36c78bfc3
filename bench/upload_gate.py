"""What a 300 MB body to Reflex's ``POST /_upload`` costs the server, with and without the perimeter
(not a test: prints figures and ratios; the baseline is the same app without the middleware).

    .venv/bin/python bench/upload_gate.py [--mb 300]

Each case runs the whole app (uvicorn, as in tests/perimeter_server.py) with its own SQLite file,
storage and temp dir. The client sends the body 1 MB at a time and stops when the server answers.
"Temp" counts the server's spooled upload files, including unlinked ones it holds open.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("MEDUPLOAD_REDIS_URL", "redis://127.0.0.1:6379/15")

import httpx  # noqa: E402
from perimeter_server import MB, AppServer, Watch, raw_upload, spooled_bytes, start_app_server  # noqa: E402


def signed_in_token(server: AppServer) -> str:
    username = f"bench{uuid.uuid4().hex[:6]}"
    server.cli("user", "add", "--role", "patient", "--username", username, "--password", "bench-pass-1",
               "--name", "Bench Patient", "--program", "diabetes-annual")
    response = httpx.post(server.base_url + "/api/v1/auth/token",
                          json={"username": username, "password": "bench-pass-1"})
    return str(response.json()["access_token"])


def measure(server: AppServer, cookie: str | None, total: int) -> dict[str, float]:
    # The previous case's spooled files must be gone first, or they hide this case's growth.
    deadline = time.monotonic() + 30
    while spooled_bytes(server.process.pid, Path(server.env["TMPDIR"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    watch = Watch(server)
    status, sent = raw_upload(server, cookie, chunked=True, total=total)
    rss_mb, tmp_mb = watch.done()
    return {"status": status, "sent_mb": sent / MB, "rss_mb": rss_mb, "tmp_mb": tmp_mb}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300, help="body size in MB")
    total = parser.parse_args().mb * MB
    results: dict[tuple[str, str], dict[str, float]] = {}
    for label, perimeter in (("baseline", False), ("perimeter", True)):
        server = start_app_server(perimeter=perimeter)
        try:
            token = signed_in_token(server)
            for case, cookie in (("no session", None), ("signed in", token)):
                results[(label, case)] = measure(server, cookie, total)
        finally:
            server.stop()
    print(f"POST /_upload, chunked {total // MB} MB body (defaults: 5 files of 25 MB per upload)")
    heading = ("server", "case", "status", "sent MB", "peak temp MB", "peak RSS MB")
    print("{:<10} {:<11} {:>6} {:>8} {:>13} {:>12}".format(*heading))
    for (label, case), row in results.items():
        print(f"{label:<10} {case:<11} {row['status']:>6.0f} {row['sent_mb']:>8.1f} {row['tmp_mb']:>13.1f} "
              f"{row['rss_mb']:>12.1f}")
    for case in ("no session", "signed in"):
        base, ours = results[("baseline", case)], results[("perimeter", case)]
        print(f"{case}: body read {ours['sent_mb'] / base['sent_mb']:.3f}x, "
              f"temp {ours['tmp_mb'] / max(base['tmp_mb'], 0.1):.3f}x of baseline")


if __name__ == "__main__":
    main()
