#!/usr/bin/env bash
# `make test`: install what the tests need, make sure Redis answers, run the whole suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$ROOT/scripts/ensure-redis.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh" --test

# Tests make their own database, storage and keys (tests/conftest.py); a developer's settings
# for a real deployment must not leak into them.
unset MEDUPLOAD_DATABASE_URL MEDUPLOAD_STORAGE_DIR MEDUPLOAD_SECRET_KEY MEDUPLOAD_REDIS_PREFIX

trap stop_started_redis EXIT
ensure_redis

say "Running the tests"
status=0
python -m pytest -q -p no:cacheprovider "$@" || status=$?
exit "$status"
