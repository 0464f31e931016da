#!/usr/bin/env bash
# Entry point of the compose stack's Kafka container (apache/kafka image, run as uid 1000).
#
# Why not the image's own entry point: it formats the storage itself, without SCRAM credentials,
# and takes no extra format arguments. This script does what it does, with the logins added:
#
#   1. reads the committed configuration, /etc/hub-kafka/server.properties (no password in it);
#   2. reads one password per user from /run/secrets/kafka-users/<principal> (compose secrets;
#      `controller` logs in with PLAIN on the controller listener, every other user with SCRAM);
#   3. writes the effective server.properties, with the listeners' logins, and admin.properties
#      (the healthcheck's login) into /run/hub-kafka/config: on a tmpfs, mode 700, files mode 600;
#   4. formats the storage once, when log.dirs holds no meta.properties, with
#      --add-scram=SCRAM-SHA-512=[name=<user>,password=<password>] for every user but controller,
#      passed in an argument file (kafka-storage's @file) so that no password is on a command line;
#   5. replaces itself with the broker.
#
# A user added to docker-compose.yml after the first start is not in the formatted storage: create
# its credential with `hub kafka users add` (docs/security.md). Errors name the file, never a password.
# The five paths can be moved with START_CONFIG, START_USERS, START_WORK, START_KAFKA_BIN and START_CA
# (the tests run this script on the local broker's jars); the container uses the defaults.
set -euo pipefail
umask 077

readonly template=${START_CONFIG:-/etc/hub-kafka/server.properties}
readonly users_dir=${START_USERS:-/run/secrets/kafka-users}
readonly work=${START_WORK:-/run/hub-kafka/config}
readonly kafka=${START_KAFKA_BIN:-/opt/kafka/bin}
readonly ca=${START_CA:-/run/secrets/kafka-ca}

fail() {
    echo "hub-kafka: $*" >&2
    exit 1
}

# A password is used inside JAAS quotes and inside --add-scram's [name=...,password=...]:
# only characters that need no escaping in either are accepted.
read_password() {
    local file=$1 value
    [ -r "$file" ] || fail "cannot read $file as uid $(id -u): the secrets must be owned by uid 1000, mode 600 (deploy/compose/make-secrets.sh)"
    value=$(tr -d '\r\n' <"$file")
    [[ $value =~ ^[A-Za-z0-9._~-]{12,}$ ]] || fail "$file: a password is at least 12 characters of A-Z a-z 0-9 . _ ~ -"
    printf '%s' "$value"
}

[ -r "$template" ] || fail "no configuration at $template (mount deploy/compose/kafka/server.properties there)"
[ -d "$users_dir" ] || fail "no users at $users_dir (mount the kafka-* compose secrets there)"

declare -A passwords=()
for file in "$users_dir"/*; do
    [ -f "$file" ] || continue
    password=$(read_password "$file") || exit 1
    passwords[$(basename "$file")]=$password
done
for required in controller broker admin; do
    [ -n "${passwords[$required]:-}" ] || fail "no password for the super user $required in $users_dir/$required"
done

scram() {
    printf 'org.apache.kafka.common.security.scram.ScramLoginModule required%s;' "$1"
}

mkdir -p -m 700 "$work"
config=$work/server.properties
{
    cat "$template"
    echo
    echo "# Logins, added by start.sh from $users_dir"
    printf 'listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="%s" user_controller="%s";\n' \
        "${passwords[controller]}" "${passwords[controller]}"
    printf 'listener.name.internal.scram-sha-512.sasl.jaas.config=%s\n' "$(scram " username=\"broker\" password=\"${passwords[broker]}\"")"
    printf 'listener.name.client.scram-sha-512.sasl.jaas.config=%s\n' "$(scram "")"
    printf 'listener.name.tls.scram-sha-512.sasl.jaas.config=%s\n' "$(scram "")"
} >"$config"

{
    echo "security.protocol=SASL_SSL"
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$ca"
    echo "sasl.mechanism=SCRAM-SHA-512"
    printf 'sasl.jaas.config=%s\n' "$(scram " username=\"admin\" password=\"${passwords[admin]}\"")"
} >"$work/admin.properties"

log_dirs=$(sed -n 's/^log\.dirs=//p' "$template")
[ -n "$log_dirs" ] || fail "$template sets no log.dirs"

if [ ! -f "$log_dirs/meta.properties" ]; then
    cluster_id=$("$kafka/kafka-storage.sh" random-uuid | tail -n 1)
    [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || fail "kafka-storage random-uuid gave no cluster id"
    args=$work/format.args
    {
        echo format
        # one argument with '=': an id that starts with '-' is never read as an option
        echo "--cluster-id=$cluster_id"
        echo "--config=$config"
        for user in "${!passwords[@]}"; do
            [ "$user" = controller ] || echo "--add-scram=SCRAM-SHA-512=[name=$user,password=${passwords[$user]}]"
        done
    } >"$args"
    users=$(printf '%s\n' "${!passwords[@]}" | grep -vx controller | sort | tr '\n' ' ')
    echo "hub-kafka: formatting $log_dirs (cluster $cluster_id) with the SCRAM users ${users% }"
    status=0
    # its standard output lists the bootstrap records, SCRAM salts and keys among them: not for the log
    "$kafka/kafka-storage.sh" "@$args" >/dev/null || status=$?
    rm -f "$args"
    [ "$status" -eq 0 ] || fail "kafka-storage format failed (exit $status)"
fi

exec "$kafka/kafka-server-start.sh" "$config"
