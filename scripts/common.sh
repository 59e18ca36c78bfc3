# Sourced by the other scripts: the repo root, PATH and the environment every command shares.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
TOOLS="$ROOT/.tools"
PYTHON=${PYTHON:-python3.11}
BUN_VERSION=1.4.5

# Our own tools first: bun for Reflex's frontend build, the venv's python/reflex/alembic.
export PATH="$TOOLS/node_modules/.bin:$VENV/bin:$PATH"
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=false
# Reflex otherwise probes a second (unreachable here) registry before every frontend install.
export NPM_CONFIG_REGISTRY=${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
