#!/usr/bin/env bash
# Install Debian's chromium for the headless browser test of the HTML report (tests/test_report_browser.py).
# Idempotent and quiet: does nothing when /usr/bin/chromium already exists.
# Never uses `playwright install`; Playwright drives this system chromium via executable_path.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
