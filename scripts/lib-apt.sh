# Shared by scripts/ensure-*.sh: install Debian packages with apt-get, as root or through `sudo -n`.
# Set ENSURE (the script's name, for messages) and source this file; then call
#   apt_prepare "what to do where there is no apt-get"
# run any preparatory command through "${APT_RUN[@]}" (output to "$APT_LOG"), and
#   apt_install PACKAGE...
# Every failure is one line naming the script, after the tail of apt-get's log.

fail() {
    echo "$ENSURE: $*" >&2
    exit 1
}

apt_prepare() {
    command -v apt-get >/dev/null 2>&1 || fail "$1"
    APT_RUN=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || fail "installing packages needs root (or sudo); neither is available"
        APT_RUN=(sudo -n)
    fi
    APT_LOG="$(mktemp "${TMPDIR:-/tmp}/$ENSURE.XXXXXX")"
    trap 'rm -f "$APT_LOG"' EXIT
}

apt_install() {
    echo "$ENSURE: installing Debian's $* (apt-get)..." >&2
    if ! "${APT_RUN[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$APT_LOG" 2>&1; then
        tail -n 20 "$APT_LOG" >&2
        fail "apt-get update failed (see above)"
    fi
    if ! "${APT_RUN[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$APT_LOG" 2>&1; then
        tail -n 20 "$APT_LOG" >&2
        fail "apt-get install $* failed (see above)"
    fi
}
