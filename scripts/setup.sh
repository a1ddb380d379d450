#!/usr/bin/env bash
# Create ./.venv with the pinned dependencies (requirements.txt) and a plain (non-editable) install of harness.
# Safe to run again: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $($python --version)"
    "$python" -m venv .venv
fi
echo "[setup] installing pinned dependencies (requirements.txt)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
echo "[setup] installing harness (pip install .)"
git rev-parse HEAD > harness/GIT_COMMIT 2>/dev/null || echo unknown > harness/GIT_COMMIT
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall .
.venv/bin/harness --version
