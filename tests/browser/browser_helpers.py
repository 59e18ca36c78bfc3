"""Helpers for the browser tests: the prod app subprocess, accounts made with the CLI, sign-in.

The server gets its own SQLite file, storage directory and Redis prefix, a migrated schema and
accounts made with the real CLI (``python -m medupload user add``). Screenshots go under
``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from support import RedisServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
BUN_BIN = ROOT / ".tools" / "node_modules" / ".bin"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
BUILD_TIMEOUT = float(os.environ.get("MEDUPLOAD_BROWSER_BUILD_TIMEOUT", "600"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base_url: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes]
    users: dict[str, str | None] = field(default_factory=dict)
    port: int = 0
    #: The session's own redis-server (tests stop and start it; nobody else uses it).
    redis: RedisServer | None = None

    def restart(self, **env: str) -> None:
        """Stop the app and start its backend again on the same port from the same build.

        ``env`` overrides settings for the new process only (no arguments: the session's). The
        frontend is not rebuilt: the backend serves the compiled bundle, as ``reflex run
        --env prod --single-port`` does once it has built it. SIGTERM, as a deploy sends: the old
        process finishes its in-flight inline pipeline runs before it exits (up to 20 s).
        """
        stop_server(self.process)
        self.process = start_backend({**self.env, **env}, self.port, self.log_path)
        try:
            _wait_http(f"{self.base_url}/api/v1/health", time.monotonic() + 60, self.process)
            _wait_http(f"{self.base_url}/login", time.monotonic() + 30, self.process)
        except Exception:
            raise RuntimeError("the app did not come back:\n" + self.log_tail()) from None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "medupload", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    def add_user(self, role: str, username: str, password: str, *programs: str) -> str | None:
        args = ["user", "add", "--role", role, "--username", username, "--password", password]
        for program in programs:
            args += ["--program", program]
        out = self.cli(*args)
        patient_id = out.split()[-1] if role == "patient" and out else None
        self.users[username] = patient_id
        return patient_id

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def _wait_http(url: str, deadline: float, process: subprocess.Popen[bytes]) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(url)


def start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    return subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "reflex"),
            "run",
            "--env",
            "prod",
            "--single-port",
            "--frontend-port",
            str(port),
            "--backend-port",
            str(port),
            "--loglevel",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


# What ``reflex run --env prod --single-port`` runs once the frontend is built: granian serving the
# app with the compiled bundle mounted on the same port (``reflex run`` itself always rebuilds).
_BACKEND_ONLY = """
import sys
from reflex_base import constants
from reflex_base.environment import environment
from reflex.utils import exec
environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
environment.REFLEX_COMPILE_CONTEXT.set(constants.CompileContext.RUN)
environment.REFLEX_SKIP_COMPILE.set(True)
environment.REFLEX_MOUNT_FRONTEND_COMPILED_APP.set(True)
exec.run_granian_backend_prod("0.0.0.0", int(sys.argv[1]), constants.LogLevel.INFO)
"""


def start_backend(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """The prod backend from the existing ``.web`` build (no compile, no frontend build)."""
    env = {**env, "REFLEX_FRONTEND_PORT": str(port), "REFLEX_BACKEND_PORT": str(port)}
    log = log_path.open("ab")
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", _BACKEND_ONLY, str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def login(page: object, base_url: str, username: str, password: str, expect_path: str) -> None:
    page.goto(f"{base_url}/login")  # type: ignore[attr-defined]
    page.get_by_test_id("login-username").fill(username)  # type: ignore[attr-defined]
    page.get_by_test_id("login-password").fill(password)  # type: ignore[attr-defined]
    page.get_by_test_id("login-submit").click()  # type: ignore[attr-defined]
    page.wait_for_url(at(expect_path), timeout=15_000)  # type: ignore[attr-defined]


def at(path: str) -> re.Pattern[str]:
    """A URL matcher for ``path`` (the static export may add a trailing slash)."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}/?(?:[?#].*)?$")


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


# Records every change of a step's data-state (per document) and of the upload progress value,
# with the browser's clock, from a MutationObserver: the test sees the sequence, not only the end.
OBSERVER_JS = """
() => {
  if (window.__mu) return;
  const mu = window.__mu = {log: [], last: {}};
  const push = (entry) => mu.log.push({t: performance.timeOrigin + performance.now(), ...entry});
  const snap = () => {
    document.querySelectorAll('[data-testid^="document-d_"]').forEach((card) => {
      const doc = card.dataset.testid.slice("document-".length);
      card.querySelectorAll('[data-testid^="step-"]').forEach((step) => {
        const name = step.dataset.testid.slice("step-".length);
        const key = doc + "|" + name;
        if (mu.last[key] !== step.dataset.state) {
          mu.last[key] = step.dataset.state;
          push({kind: "step", doc, step: name, state: step.dataset.state});
        }
      });
    });
    document.querySelectorAll('[data-testid^="requirement-"]').forEach((req) => {
      const key = "req|" + req.dataset.testid;
      if (mu.last[key] !== req.dataset.state) {
        mu.last[key] = req.dataset.state;
        push({kind: "requirement", id: req.dataset.testid, state: req.dataset.state});
      }
    });
  };
  new MutationObserver(snap).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-state", "data-value"],
  });
  snap();
}
"""


def observed(page: object) -> list[dict[str, object]]:
    return page.evaluate("() => window.__mu ? window.__mu.log : []")  # type: ignore[attr-defined,no-any-return]


def upload_response_start(page: object) -> float | None:
    """Epoch ms at which the server began answering the upload POST (all bytes received)."""
    return page.evaluate(  # type: ignore[attr-defined,no-any-return]
        """() => {
          const e = performance.getEntriesByType("resource").filter((r) => r.name.includes("_upload")).pop();
          return e ? performance.timeOrigin + e.responseStart : null;
        }"""
    )


STEP_ORDER = [
    "upload_received",
    "ocr_started",
    "ocr_complete",
    "analysis_started",
    "analysis_complete",
    "matching_complete",
]


def step_sequences(log: list[dict[str, object]], doc: str) -> dict[str, list[str]]:
    """The states each step of ``doc`` went through, in the order seen."""
    seq: dict[str, list[str]] = {name: [] for name in STEP_ORDER}
    for entry in log:
        if entry.get("kind") == "step" and entry.get("doc") == doc:
            states = seq[str(entry["step"])]
            if not states or states[-1] != entry["state"]:
                states.append(str(entry["state"]))
    return seq


def lab_report_text(days_ago: int = 5) -> str:
    from datetime import date, timedelta

    when = (date.today() - timedelta(days=days_ago)).isoformat()
    return (
        "CITY CLINIC LABORATORY\n"
        "LABORATORY REPORT\n\n"
        f"Report date: {when}\n"
        f"Collected: {when}\n\n"
        "Test                     Result     Units    Reference\n"
        "Hemoglobin A1c           7.1        %        4.0-5.6\n"
    )


def db_rows(server: Server, sql: str, *params: object) -> list[tuple[object, ...]]:
    import sqlite3

    path = server.env["MEDUPLOAD_DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return list(conn.execute(sql, params).fetchall())


def api_token(server: Server, username: str, password: str) -> str:
    import json

    request = urllib.request.Request(
        f"{server.base_url}/api/v1/auth/token",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["access_token"])


def live_counts(server: Server, token: str) -> dict[str, int]:
    import json

    request = urllib.request.Request(
        f"{server.base_url}/api/v1/ui/live", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def upload_file(page: object, path: Path) -> str:
    """Pick ``path`` in the drop zone, press Upload, return the new document's id.

    The new card is the one that was not there before AND shows this file's name: the page's
    snapshot may still be adding older cards while the upload runs.
    """
    cards = '[data-testid^="document-d_"]'
    before = page.locator(cards).evaluate_all("els => els.map(e => e.dataset.testid)")  # type: ignore[attr-defined]
    page.locator('[data-testid="upload-dropzone"] input[type=file]').set_input_files(str(path))  # type: ignore[attr-defined]
    page.get_by_test_id("upload-submit").click()  # type: ignore[attr-defined]
    find_new = """([before, name]) => [...document.querySelectorAll('[data-testid^="document-d_"]')]
        .filter(e => !before.includes(e.dataset.testid) && e.textContent.includes(name))
        .map(e => e.dataset.testid)"""
    page.wait_for_function(f"(args) => ({find_new})(args).length > 0", arg=[list(before), path.name],  # type: ignore[attr-defined]
                           timeout=20_000)
    (new,) = page.evaluate(find_new, [list(before), path.name])  # type: ignore[attr-defined]
    return str(new).removeprefix("document-")


def shown_steps(page: object, doc: str) -> dict[str, str]:
    """The data-state of each step of ``doc``'s card as the page shows it now ({} if no card)."""
    return page.evaluate(  # type: ignore[attr-defined,no-any-return]
        """(doc) => Object.fromEntries([...document.querySelectorAll(
             `[data-testid="document-${doc}"] [data-testid^="step-"]`)]
             .map((e) => [e.dataset.testid.slice(5), e.dataset.state]))""",
        doc,
    )


def db_steps(server: Server, doc: str) -> dict[str, str]:
    """What the indicator must show for ``doc`` given its stored events and row (the contract:
    ``progress.stages.steps()`` of the events; a processed row shows every step done)."""
    from datetime import datetime

    from medupload.progress.stages import ProgressEvent, steps

    columns = ("patient_id", "seq", "stage", "code", "detail", "fraction", "at", "elapsed_ms", "failed_stage")
    rows = db_rows(
        server, f"SELECT {', '.join(columns)} FROM progress_events WHERE document_id = ? ORDER BY seq", doc
    )
    events = []
    for row in rows:
        event: dict[str, Any] = dict(zip(columns, row, strict=True))
        event["at"] = datetime.fromisoformat(str(event["at"]))
        events.append(ProgressEvent(document_id=doc, **event))
    status = db_rows(server, "SELECT status FROM documents WHERE id = ?", doc)[0][0]
    shown = {step.stage.value: step.state for step in steps(events)}
    return dict.fromkeys(shown, "done") if status == "processed" else shown
