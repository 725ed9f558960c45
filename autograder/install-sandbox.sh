#!/bin/sh
# Install bubblewrap (bwrap), the sandbox `flowlab grade` runs student kernels in.
# Does nothing if bwrap is already there. Needs apt-get (Debian/Ubuntu) and root or sudo;
# elsewhere it says what to do and exits 0, and `flowlab grade` runs unsandboxed with a warning.
set -eu

if command -v bwrap >/dev/null 2>&1; then
    echo "bubblewrap is installed: $(command -v bwrap)"
    exit 0
fi
. "$(dirname "$0")/apt-helpers.sh"
require_apt "bubblewrap is missing, so \`flowlab grade\` runs WITHOUT a sandbox until it is installed;"
apt_install bubblewrap
if bwrap --unshare-user --cap-drop ALL --ro-bind / / --unshare-net --unshare-pid --die-with-parent true; then
    echo "bubblewrap installed and working: $(command -v bwrap)"
else
    echo "bubblewrap installed but cannot create namespaces here (containers may forbid it);" \
         "\`flowlab grade\` will run WITHOUT a sandbox and say so." >&2
fi
