#!/usr/bin/env bash
# System packages for the report, installed when missing: Debian's chromium (the headless browser of
# tests/analysis/test_report_browser.py) and the Vulkan loader with Mesa's CPU driver (OVITO 3.17 renders its
# snapshots through Vulkan, even with its Tachyon CPU renderer). Needs root and apt-get; otherwise it says why and
# exits 0 (the browser test then skips and analyze writes no snapshots, except with CI=true, where the test fails).
set -euo pipefail
have_browser=""
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        have_browser="$(command -v "$name")"
        break
    fi
done
have_vulkan=""
if ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' && ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    have_vulkan=yes
fi
if [ -n "$have_browser" ] && [ -n "$have_vulkan" ]; then
    echo "[setup-browser] found $have_browser and the Vulkan CPU driver"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "[setup-browser] not root: install 'chromium libvulkan1 mesa-vulkan-drivers' with apt-get (skipping)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "[setup-browser] no apt-get here: install Chromium and a Vulkan CPU driver by hand (skipping)"
    exit 0
fi
echo "[setup-browser] installing chromium, libvulkan1, mesa-vulkan-drivers (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core \
        libvulkan1 mesa-vulkan-drivers; }; then
    echo "[setup-browser] apt-get could not install them (see above); the browser test will skip"
fi
exit 0
