# Sourced by the install-*.sh scripts: how they reach apt-get, or say what to do without it.
# Both scripts exit 0 when they cannot install, because the course still runs without the tool
# (each says what is lost); `make install` must not fail on a machine without root.

# require_apt WHAT_IS_MISSING: exit 0 with that message unless apt-get exists and we are root or
# have password-less sudo; otherwise set SUDO to the prefix apt-get needs.
require_apt() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$1 apt-get is not available here: install the package with your OS package manager." >&2
        exit 0
    fi
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo"
    else
        echo "$1 run this script as root (or with password-less sudo) to install it." >&2
        exit 0
    fi
}

apt_install() {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
