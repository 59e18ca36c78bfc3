"""The whole Reflex app (pages' backend, socket, /_upload, /api/v1) served by uvicorn in a subprocess.

No frontend build: Reflex compiles the pages (a few seconds) and serves the backend as in prod, so
the tests see the perimeter exactly as a browser would, minus the static bundle (the browser tests
cover that).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
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
if sys.argv[2:] == ["--without-perimeter"]:  # the bench's baseline: the app as it was before
    from medupload.web.perimeter import Perimeter
    app.api_transformer = [t for t in app.api_transformer if t is not Perimeter]
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


def start_app_server(*, perimeter: bool = True, **settings: str) -> AppServer:
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
    args = [sys.executable, "-c", _SERVE, str(port), *([] if perimeter else ["--without-perimeter"])]
    process = subprocess.Popen(args, cwd=ROOT, env=env,
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


MB = 1024 * 1024
ATTACK_BYTES = 300 * MB
# PatientState.handle_upload by its Reflex name, as the page's upload posts it.
UPLOAD_HANDLER = ("reflex___state____state.medupload___ui___state___auth____auth_state"
                  ".medupload___ui___state___patient____patient_state.handle_upload")


def tree_bytes(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def spooled_bytes(pid: int, tmp: Path) -> int:
    """Bytes in files under ``tmp``, counting those the process holds open after unlinking them
    (Python's TemporaryFile on Linux is O_TMPFILE: never listed in the directory)."""
    total = tree_bytes(tmp)
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith(str(tmp)) and target.endswith("(deleted)"):
                total += fd.stat().st_size
    return total


class Watch:
    """Peak RSS of the server process and peak size of its temp dir while a request runs."""

    def __init__(self, server: AppServer) -> None:
        self.process = psutil.Process(server.process.pid)
        self.tmp = Path(server.env["TMPDIR"])
        self.rss0, self.tmp0 = self.process.memory_info().rss, spooled_bytes(self.process.pid, self.tmp)
        self.rss_peak, self.tmp_peak = self.rss0, self.tmp0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.wait(0.05):
            self.rss_peak = max(self.rss_peak, self.process.memory_info().rss)
            with contextlib.suppress(OSError):
                self.tmp_peak = max(self.tmp_peak, spooled_bytes(self.process.pid, self.tmp))

    def done(self) -> tuple[float, float]:
        """(RSS growth, temp-dir growth) in MB."""
        self.stop.set()
        self.thread.join()
        return (self.rss_peak - self.rss0) / MB, (self.tmp_peak - self.tmp0) / MB


def raw_upload(server: AppServer, cookie: str | None, *, chunked: bool, total: int = ATTACK_BYTES,
               ) -> tuple[int, int]:
    """POST /_upload with a ``total``-byte multipart body sent 1 MB at a time, stopping as soon as
    the server answers. Returns (status, body bytes sent before the answer)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    boundary = "perimeterboundary"
    lines = ["POST /_upload HTTP/1.1", f"Host: {host}:{port}", f"Origin: {server.origin}",
             f"Reflex-Client-Token: {uuid.uuid4()}", f"Reflex-Event-Handler: {UPLOAD_HANDLER}",
             f"Content-Type: multipart/form-data; boundary={boundary}"]
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + total + len(tail)
    lines += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {length}"]
    if cookie is not None:
        lines.append(f"Cookie: medupload_session={cookie}")
    chunk = b"\0" * MB
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        pieces = iter([head, *[chunk] * (total // MB), tail])
        while True:
            readable, _, _ = select.select([sock], [], [], 0.2 if sent == 0 else 0)
            if readable:
                break
            piece = next(pieces, None)
            try:
                if piece is None:
                    sock.sendall(b"0\r\n\r\n" if chunked else b"")
                    break
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        sock.settimeout(30)
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), sent
