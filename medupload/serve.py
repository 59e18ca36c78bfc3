"""``python -m medupload.serve``: the app (page, events, API) from N processes on one port.

``make run`` calls this. Granian's supervisor holds the port and forks WEB_WORKERS worker
processes that share it (the kernel spreads connections); a worker that dies (OOM, kill -9) is
respawned. Per process, WEB_BACKPRESSURE caps concurrent requests — open SSE streams, Reflex
websockets, uploads and API calls together (Reflex alone would leave it at backlog/workers,
1,024) — and each needs a file descriptor: run.sh raises ``ulimit -n`` to the hard limit.
SIGTERM drains (medupload.shutdown): streams get ``retry`` and close, tabs reconnect elsewhere;
WEB_KILL_TIMEOUT later a worker still busy is killed (its leased documents are re-queued by the
watchdog). With more than one process Reflex's state must live in Redis (REFLEX_REDIS_URL).
"""

from __future__ import annotations

import argparse
import os
import sys

from medupload.ui.reflex_compat import configure_granian, serve


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m medupload.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=_env_int("PORT", 3000))
    parser.add_argument("--workers", type=int, default=_env_int("WEB_WORKERS", 1))
    parser.add_argument("--backpressure", type=int, default=_env_int("WEB_BACKPRESSURE", 12_000),
                        help="concurrent requests per process (SSE streams and websockets count)")
    parser.add_argument("--backlog", type=int, default=_env_int("WEB_BACKLOG", 4096))
    parser.add_argument("--kill-timeout", type=int, default=_env_int("WEB_KILL_TIMEOUT", 60),
                        help="seconds a stopping process may take before it is killed")
    parser.add_argument("--no-build", action="store_true", help="serve the existing frontend build")
    args = parser.parse_args(argv)
    if args.workers > 1 and not os.environ.get("REFLEX_REDIS_URL"):
        sys.exit("WEB_WORKERS > 1 needs Reflex's state in Redis: set REFLEX_REDIS_URL (make run does)")
    configure_granian(backpressure=args.backpressure, backlog=args.backlog, respawn_failed_workers=True,
                      workers_kill_timeout=args.kill_timeout)
    serve(args.host, args.port, args.workers, build=not args.no_build)


if __name__ == "__main__":
    main()
