#!/usr/bin/env bash
# `make audit`: known vulnerabilities in the pinned requirements.txt, with pip-audit (pinned here).
# Exit 0: none known. 1: some found (listed). 2: no vulnerability database could be asked; then
# nothing was checked, and saying "no vulnerabilities" would be a lie.
# AUDIT_SERVICE=osv asks OSV instead of PyPI's advisory data.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

PIP_AUDIT_VERSION=2.10.1
service=${AUDIT_SERVICE:-pypi}
[[ -x "$VENV/bin/python" ]] || die "no .venv yet: run 'make setup' first"
if ! "$VENV/bin/python" -m pip_audit --version 2>/dev/null | grep -qx "pip-audit $PIP_AUDIT_VERSION"; then
    say "Installing pip-audit $PIP_AUDIT_VERSION"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip-audit==$PIP_AUDIT_VERSION"
fi

say "Auditing requirements.txt against $service"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --no-deps/--disable-pip: requirements.txt pins every package, so nothing is resolved or installed.
# --strict: a package that could not be looked up fails the run instead of being skipped quietly.
status=0
"$VENV/bin/python" -m pip_audit --requirement requirements.txt --no-deps --disable-pip --strict \
    --vulnerability-service "$service" --progress-spinner off --desc on 2>"$log" || status=$?
if [[ $status -ne 0 ]] && grep -qE "could not be audited|ConnectionError|NameResolutionError|Max retries|HTTPError" "$log"; then
    grep -E "ERROR|Error" "$log" | tail -3 >&2
    printf 'error: make audit could not reach a vulnerability database (%s): nothing was checked.\n' "$service" >&2
    printf '       Run it on a machine that reaches it, or try AUDIT_SERVICE=osv make audit.\n' >&2
    exit 2
fi
grep -v "encouraged to fully hash\|pip-compile" "$log" >&2 || true
if [[ $status -eq 0 ]]; then
    say "No known vulnerabilities in the $(grep -cE '^[A-Za-z0-9]' requirements.txt) pinned packages"
fi
exit "$status"
