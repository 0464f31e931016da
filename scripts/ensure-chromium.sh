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

ENSURE=ensure-chromium
# shellcheck source=scripts/lib-apt.sh
. "$(dirname "$0")/lib-apt.sh"
apt_prepare "no /usr/bin/chromium and no apt-get: install Chromium yourself, or set HUB_CHROMIUM to its path"
apt_install "${packages[@]}"
[ -x /usr/bin/chromium ] || fail "chromium was installed but /usr/bin/chromium is missing"
