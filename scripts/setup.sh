#!/usr/bin/env bash
# Idempotent set-up for `make run` (and, with --test, `make test`): Debian packages, .venv,
# Python packages, bun. Each step is skipped when already done, so warm runs take a second or two.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

with_test=false
[[ "${1:-}" == "--test" ]] && with_test=true

# --- Debian packages -------------------------------------------------------------------------
apt_packages=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd redis-server fonts-dejavu-core libtesseract-dev pkg-config)
$with_test && apt_packages+=(chromium)
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt_packages+=(python3.11 python3.11-venv)
elif [[ ! -x "$VENV/bin/python" ]] && ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
    # Debian ships ensurepip (needed by `python3.11 -m venv`) in its own package.
    apt_packages+=(python3.11-venv)
fi

installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

if command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for package in "${apt_packages[@]}"; do
        installed "$package" || missing+=("$package")
    done
    if ((${#missing[@]})); then
        if [[ $(id -u) -ne 0 ]]; then
            echo "Some system packages are missing. Install them as root, then run this again:" >&2
            echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
            exit 1
        fi
        say "Installing ${missing[*]} (apt)"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
else
    echo "warning: not a Debian system; make sure these are installed: ${apt_packages[*]}" >&2
fi

# --- Python virtualenv -----------------------------------------------------------------------
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON=/path/to/python3.11)"
    say "Creating .venv with $PYTHON"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.requirements-installed"
if [[ ! "$stamp" -nt requirements.txt ]]; then
    say "Installing Python packages (requirements.txt)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r requirements.txt
    touch "$stamp"
fi

# --- bun (Reflex builds the frontend with it) ------------------------------------------------
# Fetched from the npm registry with Python, so neither npm nor curl is needed.
if ! "$TOOLS/node_modules/.bin/bun" --version >/dev/null 2>&1; then
    say "Installing bun $BUN_VERSION into .tools/ (npm registry)"
    "$VENV/bin/python" - "$TOOLS" "$BUN_VERSION" <<'PY'
import base64
import hashlib
import io
import json
import os
import platform
import sys
import tarfile
import urllib.request
from pathlib import Path

tools, version = Path(sys.argv[1]), sys.argv[2]
arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "aarch64", "arm64": "aarch64"}[platform.machine().lower()]
name = f"bun-linux-{arch}"
if arch == "x64" and "avx2" not in Path("/proc/cpuinfo").read_text():
    name += "-baseline"  # the default build needs AVX2
registry = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
with urllib.request.urlopen(f"{registry}/@oven/{name}/{version}", timeout=60) as response:
    dist = json.load(response)["dist"]
with urllib.request.urlopen(dist["tarball"], timeout=600) as response:
    data = response.read()
algorithm, _, expected = dist["integrity"].partition("-")
if base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != expected:
    sys.exit(f"the downloaded @oven/{name} does not match the registry's integrity hash")
target = tools / "node_modules" / "@oven" / name / "bin" / "bun"
target.parent.mkdir(parents=True, exist_ok=True)
with tarfile.open(fileobj=io.BytesIO(data)) as tar:
    source = tar.extractfile("package/bin/bun")
    assert source is not None
    target.write_bytes(source.read())
target.chmod(0o755)
bin_dir = tools / "node_modules" / ".bin"
bin_dir.mkdir(parents=True, exist_ok=True)
for link in ("bun", "bunx"):  # bun acts as bunx when called by that name
    path = bin_dir / link
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(os.path.relpath(target, bin_dir))
PY
    "$TOOLS/node_modules/.bin/bun" --version >/dev/null || die "bun does not run after installing it"
fi
