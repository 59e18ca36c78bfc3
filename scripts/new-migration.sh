#!/usr/bin/env bash
# `make migration m="what changed"`: autogenerate the next numbered Alembic revision from
# medupload.models, diffing against a scratch SQLite database brought to the current head.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

message=${1:?usage: scripts/new-migration.sh "what changed"}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export MEDUPLOAD_DATABASE_URL="sqlite:///$scratch/head.db"

last=$(find alembic/versions -name '[0-9][0-9][0-9][0-9]_*.py' -printf '%f\n' | sort | tail -n 1)
next=$(printf '%04d' $((10#${last:0:4} + 1)))
python -m medupload migrate
alembic revision --autogenerate --rev-id "$next" -m "$message"
echo "Review alembic/versions/${next}_*.py (names, server defaults, data moves), then run make test." >&2
