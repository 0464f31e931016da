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

ENSURE=ensure-postgres
# shellcheck source=scripts/lib-apt.sh
. "$(dirname "$0")/lib-apt.sh"
apt_prepare "no initdb under /usr/lib/postgresql/*/bin and no apt-get: install the PostgreSQL server (initdb, pg_ctl) yourself"

# The tests start their own clusters: ask postgresql-common not to create (and start) a default one.
"${APT_RUN[@]}" mkdir -p /etc/postgresql-common/createcluster.d >>"$APT_LOG" 2>&1 || true
echo "create_main_cluster = false" | "${APT_RUN[@]}" tee /etc/postgresql-common/createcluster.d/hub-no-main-cluster.conf >>"$APT_LOG" 2>&1 || true

apt_install postgresql
have_initdb || fail "postgresql was installed but no /usr/lib/postgresql/*/bin/initdb was found"
