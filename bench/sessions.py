"""Sessions that end, measured across processes (issue 8): how many tokens and open SSE streams are
refused or closed after sign-out and after ``user disable``, and how fast; guesses until 429.

Two API server processes (uvicorn, ``create_api``) share one SQLite file and one Redis; sign-out
goes to server A and the token is then tried on server B, ``user disable`` runs as the real CLI in
a third process. A control account's tokens are tried alongside: they must keep working (the
baseline that shows a refusal is revocation, not a broken server).

    .venv/bin/python bench/sessions.py [--sessions 20] [--streams 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "medupload.api:create_api", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "medupload", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


async def _sign_in(client: httpx.AsyncClient, base: str, username: str) -> str:
    response = await client.post(f"{base}/api/v1/auth/token",
                                 json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _until_refused(client: httpx.AsyncClient, url: str, tokens: list[str],
                         limit: float) -> float | None:
    """Seconds until every token gets 401 at ``url`` (None: some still accepted after ``limit``)."""
    start, pending = time.monotonic(), set(tokens)
    while pending and time.monotonic() - start < limit:
        for token in list(pending):
            if (await client.get(url, headers={"Authorization": f"Bearer {token}"})).status_code == 401:
                pending.discard(token)
        await asyncio.sleep(0.05)
    return None if pending else time.monotonic() - start


async def _accepted(client: httpx.AsyncClient, url: str, tokens: list[str]) -> int:
    codes = [(await client.get(url, headers={"Authorization": f"Bearer {t}"})).status_code for t in tokens]
    return codes.count(200)


async def _stream(base: str, patient_id: str, token: str, opened: asyncio.Event) -> float:
    """Hold an SSE stream open; returns the monotonic time the server ended it."""
    url = f"{base}/api/v1/patients/{patient_id}/documents/stream"
    async with httpx.AsyncClient(timeout=60) as client, client.stream(
            "GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status_code == 200
        opened.set()
        async for _ in response.aiter_lines():
            pass
    return time.monotonic()


async def _streams(base: str, patient_id: str, tokens: list[str]) -> list[asyncio.Task[float]]:
    tasks = []
    for token in tokens:
        opened = asyncio.Event()
        tasks.append(asyncio.create_task(_stream(base, patient_id, token, opened)))
        await asyncio.wait_for(opened.wait(), 10)
    return tasks


async def run(sessions: int, streams: int, env: dict[str, str], ids: dict[str, str]) -> None:
    server_a, base_a = _server(env)
    server_b, base_b = _server(env)
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            docs = {name: f"/api/v1/patients/{pid}/documents" for name, pid in ids.items()}
            # -- sign-out: each token signed out on A, then tried on B --------------------------
            tokens = [await _sign_in(client, base_a, "out") for _ in range(sessions)]
            control = [await _sign_in(client, base_a, "control") for _ in range(sessions)]
            open_streams = await _streams(base_b, ids["out"], tokens[:streams])
            delays, signed_out_at = [], []
            for token in tokens:
                await client.post(f"{base_a}/api/v1/auth/logout",
                                  headers={"Authorization": f"Bearer {token}"})
                signed_out_at.append(time.monotonic())
                delay = await _until_refused(client, base_b + docs["out"], [token], 10)
                delays.append(float("inf") if delay is None else time.monotonic() - signed_out_at[-1])
            ended = await asyncio.wait_for(asyncio.gather(*open_streams), 30)
            stream_close = max((end - out for end, out in zip(ended, signed_out_at, strict=False)),
                               default=0.0)
            kept = await _accepted(client, base_b + docs["control"], control)
            print(f"sign-out : {sessions} tokens signed out on A, tried on B: "
                  f"{sum(d != float('inf') for d in delays)}/{sessions} refused (401), slowest after "
                  f"{max(delays):.3f} s; {streams} open streams on B closed, slowest {stream_close:.2f} s "
                  f"after its sign-out; control account: {kept}/{sessions} still accepted")

            # -- user disable (the CLI in its own process) ---------------------------------------
            tokens = [await _sign_in(client, base_a, "gone") for _ in range(sessions)]
            open_streams = await _streams(base_b, ids["gone"], tokens[:streams])
            started = time.monotonic()
            _cli(env, "user", "disable", "--username", "gone")
            returned = time.monotonic()
            on_a = await _until_refused(client, base_a + docs["gone"], tokens, 10)
            on_b = await _until_refused(client, base_b + docs["gone"], tokens, 10)
            all_refused = time.monotonic() - returned
            ended = await asyncio.wait_for(asyncio.gather(*open_streams), 30)
            sign_in = await client.post(f"{base_a}/api/v1/auth/token",
                                        json={"username": "gone", "password": PASSWORD})
            kept = await _accepted(client, base_b + docs["control"], control)
            verdict = "all" if on_a is not None and on_b is not None else "NOT all"
            print(f"disable  : {sessions} tokens x 2 servers: {verdict} refused within {all_refused:.3f} s "
                  f"of the CLI returning (the CLI ran {returned - started:.2f} s); {streams} streams closed, "
                  f"last {max(ended) - returned:.2f} s after it returned; sign-in -> {sign_in.status_code}; "
                  f"control: {kept}/{sessions} accepted")

            # -- guesses until 429 (default settings) ---------------------------------------------
            codes, first_429, retry_after = [], None, None
            guess_start = time.monotonic()
            for n in range(40):
                response = await client.post(f"{base_a}/api/v1/auth/token",
                                             json={"username": "guessed", "password": f"wrong-{n}"})
                codes.append(response.status_code)
                if response.status_code == 429 and first_429 is None:
                    first_429, retry_after = n + 1, response.headers.get("retry-after")
            right = await client.post(f"{base_a}/api/v1/auth/token",
                                      json={"username": "guessed", "password": PASSWORD})
            print(f"throttle : 40 wrong passwords in {time.monotonic() - guess_start:.1f} s: "
                  f"{codes.count(401)} x 401, {codes.count(429)} x 429, first 429 at guess {first_429} "
                  f"(Retry-After {retry_after} s); right password straight after -> {right.status_code}")
    finally:
        for process in (server_a, server_b):
            process.terminate()
            process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--streams", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="medupload-bench-sessions-"))
    env = {**os.environ,
           "MEDUPLOAD_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
           "MEDUPLOAD_STORAGE_DIR": str(work / "uploads"),
           "MEDUPLOAD_REDIS_PREFIX": f"bench{uuid.uuid4().hex[:8]}:",
           "MEDUPLOAD_SECRET_KEY": "bench-secret-" + uuid.uuid4().hex,
           # More sign-ins than a person makes: the address limit must not be what is measured.
           "MEDUPLOAD_SIGNIN_ADDRESS_ATTEMPTS": str(10 * args.sessions + 100)}
    _cli(env, "migrate")
    ids = {name: _cli(env, "user", "add", "--role", "patient", "--username", name, "--password", PASSWORD)
           for name in ("out", "gone", "control", "guessed")}
    asyncio.run(run(args.sessions, args.streams, env, ids))


if __name__ == "__main__":
    main()
