#!/usr/bin/env bash
# Headless Chromium for the report's browser test (tests/hub/test_report_browser.py), from Debian's
# own package: nothing is downloaded outside the distribution's archive. Idempotent: does nothing
# when /usr/bin/chromium is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
