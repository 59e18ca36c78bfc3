#!/usr/bin/env bash
# `make run`: set up what is missing, make sure Redis answers, migrate, seed the demo accounts
# (embedded set-up only), then serve page, events and /api/v1 on one port. Ctrl-C stops it all.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$ROOT/scripts/ensure-redis.sh"
cd "$ROOT"

port=${PORT:-3000}
[[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
# Loopback by default: the demo accounts have printed passwords. HOST=0.0.0.0 opens it up.
host=${HOST:-127.0.0.1}

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

say "Starting MedUpload on port $port (builds the frontend first)"
reflex run --env prod --single-port --frontend-port "$port" --backend-port "$port" --backend-host "$host" &
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
