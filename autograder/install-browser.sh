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
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is missing and apt-get is not available: install Chromium with your OS package" \
         "manager and put it on PATH as \`chromium\`. Until then the browser tests are skipped." >&2
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "chromium is missing; as root run: apt-get install -y chromium" \
         "(until then the browser tests are skipped)" >&2
    exit 0
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium \
    fonts-dejavu-core >/dev/null
echo "chromium installed: $(command -v chromium) ($(chromium --version 2>/dev/null || true))"
