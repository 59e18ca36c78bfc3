"""The prod-built app in a subprocess (ONE build per pytest session) and Debian's Chromium.

The server gets its own SQLite file, storage directory, redis-server (a private one on its own
port: the resilience tests stop and start it), a migrated schema and accounts made with the real
CLI (``python -m medupload user add``). Screenshots go under ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import RedisServer

from .browser_helpers import (
    ARTIFACTS,
    BUILD_TIMEOUT,
    BUN_BIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    Server,
    _wait_http,
    free_port,
    start_server,
    stop_server,
)


@pytest.fixture(scope="package")
def server() -> Iterator[Server]:
    run_dir = Path(tempfile.mkdtemp(prefix="medupload-browser-"))
    port = free_port()
    redis_server = RedisServer()
    redis_server.start()
    env = dict(os.environ)
    env.update(
        {
            "MEDUPLOAD_DATABASE_URL": f"sqlite:///{run_dir / 'app.db'}",
            "MEDUPLOAD_STORAGE_DIR": str(run_dir / "uploads"),
            "MEDUPLOAD_REDIS_URL": redis_server.url,
            "MEDUPLOAD_REDIS_PREFIX": f"tb{uuid.uuid4().hex[:8]}:",
            "MEDUPLOAD_SECRET_KEY": "browser-test-secret-" + uuid.uuid4().hex,
            "MEDUPLOAD_PIPELINE_MODE": "inline",
            "PATH": f"{BUN_BIN}:{env.get('PATH', '')}",
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "OMP_THREAD_LIMIT": "1",
            # Every test signs in from 127.0.0.1, dozens of times a minute: one address, like a
            # clinic behind NAT (the per-address limit is tested in tests/test_throttle.py).
            "MEDUPLOAD_SIGNIN_ADDRESS_ATTEMPTS": "100000",
        }
    )
    env.pop("REFLEX_REDIS_URL", None)
    log_path = ARTIFACTS / "browser-server.log"
    ARTIFACTS.mkdir(exist_ok=True)
    log_path.write_text("")
    srv = Server(
        base_url=f"http://127.0.0.1:{port}",
        env=env,
        log_path=log_path,
        process=None,  # type: ignore[arg-type]
        port=port,
        redis=redis_server,
    )
    try:
        srv.cli("migrate")
        srv.process = start_server(env, port, log_path)
        try:
            _wait_http(f"{srv.base_url}/login", time.monotonic() + BUILD_TIMEOUT, srv.process)
            _wait_http(f"{srv.base_url}/api/v1/health", time.monotonic() + 30, srv.process)
        except Exception:
            stop_server(srv.process)
            raise RuntimeError("the app did not start:\n" + srv.log_tail()) from None
        yield srv
        stop_server(srv.process)
    finally:
        redis_server.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: object) -> Iterator[object]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    yield ctx
    ctx.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests get one more try: a whole-suite run must not hinge on a slow machine or on
    headless Chromium's rare sign-in navigation that never leaves the browser (README, known limits)."""
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))
