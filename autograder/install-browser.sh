#!/bin/sh
# Install Debian's chromium, the browser the browser tests (pytest -m browser) drive through
# Playwright: Playwright's own browser download is not reachable from the course machines.
# Does nothing if chromium is already there. Needs apt-get and root or sudo; elsewhere it says what
# to do and exits 0, and the browser tests skip with that message.
set -eu

if command -v chromium >/dev/null 2>&1; then
    echo "chromium is installed: $(command -v chromium)"
    exit 0
fi
. "$(dirname "$0")/apt-helpers.sh"
require_apt "chromium is missing, so the browser tests are skipped until it is installed (as \`chromium\` on PATH);"
apt_install chromium fonts-dejavu-core
echo "chromium installed: $(command -v chromium) ($(chromium --version 2>/dev/null || true))"
