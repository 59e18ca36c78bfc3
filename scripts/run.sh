#!/usr/bin/env bash
# `make run`: set up what is missing, make sure Redis answers, migrate, seed the demo accounts
# (embedded set-up only), then serve page, events and /api/v1 on one port from WEB_WORKERS server
# processes (default 1; python -m medupload.serve, see docs/deploy.md). Ctrl-C stops it all.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$ROOT/scripts/ensure-redis.sh"
cd "$ROOT"

port=${PORT:-3000}
[[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
# Loopback by default: the demo accounts have printed passwords. HOST=0.0.0.0 opens it up.
host=${HOST:-127.0.0.1}
workers=${WEB_WORKERS:-1}
[[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "WEB_WORKERS must be a positive number, got '$workers'"
export WEB_WORKERS=$workers
if (( workers > 1 )); then
    # Several processes share page state through Reflex's Redis state manager (and its token
    # manager, so a tab's socket is known to every process).
    export REFLEX_REDIS_URL=${REFLEX_REDIS_URL:-${MEDUPLOAD_REDIS_URL:-redis://127.0.0.1:6379/0}}
fi
# Metrics of all the server processes (and of workers started with the same variable) are summed
# at each scrape of GET /metrics: prometheus-client's multiprocess mode, fresh files per run.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$ROOT/data/metrics}
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -name '*.db' -delete
# Every open stream or tab socket is a file descriptor: up to the hard limit (docs/deploy.md).
hard=$(ulimit -Hn)
if [[ "$hard" == unlimited ]]; then hard=1048576; fi
ulimit -n "$hard" 2>/dev/null || true
backpressure=${WEB_BACKPRESSURE:-12000}
if (( $(ulimit -n) < backpressure + 256 )); then
    say "Open-file limit $(ulimit -n) is below WEB_BACKPRESSURE ($backpressure) + 256: raise the hard limit (docs/deploy.md)"
fi

"$ROOT/scripts/setup.sh"

app_pid=""
waiter_pid=""
cleanup() {
    if [[ -n "$waiter_pid" ]]; then kill "$waiter_pid" 2>/dev/null || true; fi
    if [[ -n "$app_pid" ]] && kill -0 "$app_pid" 2>/dev/null; then
        kill -TERM "$app_pid" 2>/dev/null || true
        wait "$app_pid" 2>/dev/null || true
    fi
    stop_started_redis
}
trap cleanup EXIT
# The app runs in the background so the script can pass Ctrl-C/SIGTERM on and then clean up.
trap 'if [[ -n "$app_pid" ]]; then kill -TERM "$app_pid" 2>/dev/null || true; else exit 130; fi' INT TERM

ensure_redis
say "Migrating the database"
python -m medupload migrate

logins=""
if [[ -z "${MEDUPLOAD_DATABASE_URL:-}" ]]; then
    # Demo accounts only on the zero-configuration SQLite database, never on a real one.
    logins=$(python -m medupload seed-demo)
    printf '%s\n' "$logins"
fi

say "Starting MedUpload on port $port with $workers server process(es) (builds the frontend first)"
python -m medupload.serve --host "$host" --port "$port" --workers "$workers" &
app_pid=$!

# Say so once the app answers (the build output above is long); the logins again for convenience.
(
    for _ in $(seq 1 600); do
        kill -0 "$app_pid" 2>/dev/null || exit 0
        if python - "$port" 2>/dev/null <<'PY'
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/v1/health", timeout=2)
PY
        then
            say "MedUpload is ready: http://localhost:$port/login  (API: http://localhost:$port/api/v1/docs)"
            [[ -n "$logins" ]] && printf '%s\n' "$logins" >&2
            exit 0
        fi
        sleep 1
    done
) &
waiter_pid=$!

status=0
while kill -0 "$app_pid" 2>/dev/null; do
    wait "$app_pid" || status=$?
done
exit "$status"
