#!/usr/bin/env bash
# Install Debian's chromium (headless browser for tests/analysis/test_report_browser.py) when it is missing.
# Needs root and apt-get; otherwise it says why and exits 0 (the browser test then skips, except with CI=true,
# where it fails).
set -euo pipefail
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        echo "[setup-browser] $name found: $(command -v "$name")"
        exit 0
    fi
done
if [ "$(id -u)" != 0 ]; then
    echo "[setup-browser] chromium missing and not root: install it with 'apt-get install chromium' (skipping)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "[setup-browser] chromium missing and no apt-get here: install Chromium by hand (skipping)"
    exit 0
fi
echo "[setup-browser] installing Debian's chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; }; then
    echo "[setup-browser] apt-get could not install chromium (see above); the browser test will skip"
fi
exit 0
