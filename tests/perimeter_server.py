"""The whole Reflex app (pages' backend, socket, /_upload, /api/v1) served by uvicorn in a subprocess.

No frontend build: Reflex compiles the pages (a few seconds) and serves the backend as in prod, so
the tests see the perimeter exactly as a browser would, minus the static bundle (the browser tests
cover that).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from support import free_port

ROOT = Path(__file__).resolve().parents[1]

_SERVE = """
import sys
import uvicorn
from reflex_base import constants
from reflex_base.environment import environment
environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
from reflex.utils import prerequisites
app = prerequisites.get_and_validate_app().app
uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@dataclass
class AppServer:
    base_url: str
    origin: str
    env: dict[str, str]
    run_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "medupload", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_app_server(**settings: str) -> AppServer:
    run_dir = Path(tempfile.mkdtemp(prefix="medupload-perimeter-"))
    port = free_port()
    env = dict(os.environ)
    env.pop("MEDUPLOAD_ALLOWED_ORIGINS", None)
    env.pop("REFLEX_REDIS_URL", None)
    env.update({
        "MEDUPLOAD_DATABASE_URL": f"sqlite:///{run_dir / 'data' / 'app.db'}",
        "MEDUPLOAD_STORAGE_DIR": str(run_dir / "data" / "uploads"),
        "MEDUPLOAD_REDIS_PREFIX": f"tp{uuid.uuid4().hex[:8]}:",
        "MEDUPLOAD_SECRET_KEY": "perimeter-test-secret-" + uuid.uuid4().hex,
        "MEDUPLOAD_PIPELINE_MODE": "inline",
        # What `reflex run --frontend-port` exports to its server: the default allowed origins follow it.
        "REFLEX_FRONTEND_PORT": str(port),
        "REFLEX_BACKEND_PORT": str(port),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "PATH": f"{ROOT / '.tools' / 'node_modules' / '.bin'}:{os.environ.get('PATH', '')}",
        "TMPDIR": str(run_dir / "tmp"),
        **settings,
    })
    (run_dir / "tmp").mkdir()
    log_path = run_dir / "server.log"
    subprocess.run([sys.executable, "-m", "medupload", "migrate"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    process = subprocess.Popen([sys.executable, "-c", _SERVE, str(port)], cwd=ROOT, env=env,
                               stdout=log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    server = AppServer(base_url=f"http://127.0.0.1:{port}", origin=f"http://127.0.0.1:{port}", env=env,
                       run_dir=run_dir, process=process, log_path=log_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the app exited:\n" + server.log()[-4000:])
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{server.base_url}/api/v1/health",
                                                                  timeout=2) as response:
            if response.status == 200:
                return server
        time.sleep(0.3)
    server.stop()
    raise RuntimeError("the app did not start:\n" + server.log()[-4000:])
