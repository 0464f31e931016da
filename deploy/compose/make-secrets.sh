#!/usr/bin/env bash
# Create the secrets docker-compose.yml reads, under secrets/ (git-ignored). Run it once before
# `docker compose up`; it is safe to run again: an existing file is kept, never replaced (a new
# agreement's key is appended), so it also fills in what a newer docker-compose.yml needs.
#
#   deploy/compose/make-secrets.sh [--owner UID:GID] [DIR]
#
# DIR defaults to secrets/ beside docker-compose.yml. It gets mode 700 and every file in it mode
# 600, owned by --owner, default 1000:1000: the user both images run as (the hub image's `hub`,
# apache/kafka's `appuser`). Compose mounts each file into the containers as it is on the host, so
# that user must be able to read it, and the hub refuses a secrets file others may read. Run the
# script as that user, or as root (sudo), which hands the files over to it.
#
# What it writes (needs openssl):
#   kafka/<principal>   a password per Kafka user: the super users controller (PLAIN, controller
#                       listener), broker (inter-broker) and admin (the acls and topics services,
#                       `hub kafka users`), then one per service: registry, ingest, the all-regions
#                       gateway and the all-zones projection worker
#   agreement-keys.env  HUB_AGREEMENT_KEY_<ID>=... for every agreements/*.yaml (64 hex characters)
#   postgres-password   the PostgreSQL password of user hub, and pgpass, the same as a libpq
#                       password file for the hub's services (PGPASSFILE)
#   tls/ca.pem          a development CA (ca-key.pem is its key) and tls/broker.pem, the broker's
#                       PEM keystore: its private key (PKCS#8), its certificate for localhost,
#                       127.0.0.1 and kafka, and the CA's. A real CA instead: docs/security.md
# Nothing it writes is printed.
set -euo pipefail
umask 077

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
owner=1000:1000
dir=$root/secrets

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
        --owner) [ $# -ge 2 ] || usage; owner=$2; shift 2 ;;
        --owner=*) owner=${1#--owner=}; shift ;;
        -h | --help) usage ;;
        -*) usage ;;
        *) dir=$1; shift ;;
    esac
done

fail() {
    echo "make-secrets: $*" >&2
    exit 1
}

[[ $owner =~ ^[0-9]+:[0-9]+$ ]] || fail "--owner is UID:GID in numbers, got '$owner'"
command -v openssl >/dev/null || fail "openssl is needed"
if [ "$(id -u)" -ne 0 ] && [ "$(id -u):$(id -g)" != "$owner" ]; then
    fail "the files must belong to $owner (the containers' user) and you are $(id -u):$(id -g): run as root (sudo), or pass --owner"
fi

# The Kafka users of docker-compose.yml: super users first, then the services' principals
# (hub.principals: gateway_principal(all regions), projection_principal(all zones)).
users=(controller broker admin registry ingest gateway.fj-gd-hk-js-mo projection.gba-mainland)
days=825

mkdir -p "$dir/kafka" "$dir/tls"
chmod 700 "$dir" "$dir/kafka" "$dir/tls"

new_file() { # new_file PATH: succeeds (and creates PATH, empty, mode 600) only if PATH does not exist yet
    [ -e "$1" ] && return 1
    : >"$1"
}

for user in "${users[@]}"; do
    file=$dir/kafka/$user
    if new_file "$file"; then openssl rand -hex 24 >"$file"; fi
done

keys=$dir/agreement-keys.env
if new_file "$keys"; then
    echo "# Agreement HMAC keys (HUB_SECRETS_FILE of the gateway). Never commit, never replace a key." >"$keys"
fi
for agreement in "$root"/agreements/*.yaml; do
    name=$(sed -n 's/^key:[[:space:]]*\([A-Z0-9_]*\)[[:space:]]*$/\1/p' "$agreement")
    [ -n "$name" ] || fail "$agreement names no key variable"
    grep -q "^$name=" "$keys" || echo "$name=$(openssl rand -hex 32)" >>"$keys"
done

if new_file "$dir/postgres-password"; then openssl rand -hex 24 >"$dir/postgres-password"; fi
# host:port:database:user:password, as libpq reads it; kept in step with postgres-password
echo "postgres:5432:hub:hub:$(cat "$dir/postgres-password")" >"$dir/pgpass.new"
if [ -f "$dir/pgpass" ] && cmp -s "$dir/pgpass" "$dir/pgpass.new"; then rm "$dir/pgpass.new"; else mv "$dir/pgpass.new" "$dir/pgpass"; fi

tls=$dir/tls
if [ ! -f "$tls/ca.pem" ] || [ ! -f "$tls/ca-key.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days "$days" \
        -subj "/CN=socialwork-hub development CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
    rm -f "$tls/broker.pem"
fi
if [ ! -f "$tls/broker.pem" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$work/key.pem" 2>/dev/null
    openssl req -new -key "$work/key.pem" -subj "/CN=kafka" -out "$work/broker.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:kafka" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$work/ext.cnf"
    openssl x509 -req -in "$work/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial \
        -CAserial "$work/ca.srl" -days "$days" -sha256 -extfile "$work/ext.cnf" -out "$work/cert.pem" 2>/dev/null
    cat "$work/key.pem" "$work/cert.pem" "$tls/ca.pem" >"$tls/broker.pem"
fi

chmod 600 "$dir"/kafka/* "$dir"/tls/* "$keys" "$dir/postgres-password" "$dir/pgpass"
if [ "$(id -u):$(id -g)" != "$owner" ]; then
    chown -R "$owner" "$dir"
fi
echo "make-secrets: $dir is ready (owner $owner, files mode 600)"
