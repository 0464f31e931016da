#!/usr/bin/env bash
# Make sure Debian's Chromium is installed, for the dashboard's browser test
# (tests/test_dashboard_browser.py drives it headless through Playwright, which
# never downloads a browser of its own), with the Noto CJK fonts its screenshots
# draw Chinese in. Installs the `chromium` and `fonts-noto-cjk` packages with
# apt-get when missing. Idempotent and quiet; exits non-zero with the reason
# when it cannot install.
set -euo pipefail

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
compgen -G "/usr/share/fonts/opentype/noto/NotoSansCJK*" >/dev/null || packages+=(fonts-noto-cjk)
if [ "${#packages[@]}" -eq 0 ]; then
    exit 0
fi

fail() {
    echo "ensure-chromium: $*" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 ||
    fail "no /usr/bin/chromium and no apt-get: install Chromium yourself, or set HUB_CHROMIUM to its path"

run=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "installing chromium needs root (or sudo); neither is available"
    run=(sudo -n)
fi

log="$(mktemp "${TMPDIR:-/tmp}/ensure-chromium.XXXXXX")"
trap 'rm -f "$log"' EXIT

echo "ensure-chromium: installing Debian's ${packages[*]} (apt-get)..." >&2
if ! "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get update failed (see above)"
fi
if ! "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get install ${packages[*]} failed (see above)"
fi
[ -x /usr/bin/chromium ] || fail "chromium was installed but /usr/bin/chromium is missing"
