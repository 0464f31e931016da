#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) are installed, for the
# read-model tests (tests/fixtures/postgres.py starts a throwaway cluster).
# Installs Debian's `postgresql` package with apt-get when no
# /usr/lib/postgresql/*/bin/initdb exists. Idempotent and quiet; exits non-zero
# with the reason when it cannot install.
set -euo pipefail

have_initdb() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_initdb; then
    exit 0
fi

fail() {
    echo "ensure-postgres: $*" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 ||
    fail "no initdb under /usr/lib/postgresql/*/bin and no apt-get: install the PostgreSQL server (initdb, pg_ctl) yourself"

run=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "installing postgresql needs root (or sudo); neither is available"
    run=(sudo -n)
fi

log="$(mktemp "${TMPDIR:-/tmp}/ensure-postgres.XXXXXX")"
trap 'rm -f "$log"' EXIT

# The tests start their own clusters: ask postgresql-common not to create (and start) a default one.
"${run[@]}" mkdir -p /etc/postgresql-common/createcluster.d >>"$log" 2>&1 || true
echo "create_main_cluster = false" | "${run[@]}" tee /etc/postgresql-common/createcluster.d/hub-no-main-cluster.conf >>"$log" 2>&1 || true

echo "ensure-postgres: installing Debian's postgresql (apt-get)..." >&2
if ! "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get update failed (see above)"
fi
if ! "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get install postgresql failed (see above)"
fi
have_initdb || fail "postgresql was installed but no /usr/lib/postgresql/*/bin/initdb was found"
