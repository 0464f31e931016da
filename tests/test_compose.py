"""docker-compose.yml: validated by ``docker compose config -q`` where Compose exists, and always by
its structure and its security (there is no Docker engine on the CI machine).

What is checked here is what the file and its support files say: the broker's configuration
(deploy/compose/kafka/server.properties), who logs in as whom, what is published, where secrets come
from. tests/test_compose_secrets.py runs deploy/compose/make-secrets.sh, and
tests/test_compose_broker.py runs the broker's entry script on the same Kafka jars as the local broker.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from hub import local_kafka, principals
from hub.orgunits import org_units
from hub.settings import DYNAMIC_PREFIXES, known_variables
from hub.zones import ZONES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
BROKER_PROPERTIES = ROOT / "deploy" / "compose" / "kafka" / "server.properties"
MAKE_SECRETS = ROOT / "deploy" / "compose" / "make-secrets.sh"
KAFKA_USERS = "/run/secrets/kafka-users/"
ONE_SHOTS = ("acls", "topics")
HUB_SERVICES = ("acls", "topics", "registry", "gateway", "projections", "ingest", "api")


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def broker_properties() -> dict[str, str]:
    props: dict[str, str] = {}
    for raw in BROKER_PROPERTIES.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"not key=value: {raw!r}"
            assert key not in props, f"{key} is set twice"
            props[key] = value
    return props


def listeners(props: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Listener name -> (bound host, port), from ``listeners``."""
    out: dict[str, tuple[str, int]] = {}
    for entry in props["listeners"].split(","):
        m = re.fullmatch(r"([A-Z_]+)://([^:]*):(\d+)", entry)
        assert m, entry
        out[m.group(1)] = (m.group(2), int(m.group(3)))
    return out


def protocol_map(props: dict[str, str]) -> dict[str, str]:
    return dict(entry.split(":") for entry in props["listener.security.protocol.map"].split(","))


def secret_targets(svc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, absolute target) of each secret a service mounts."""
    for entry in svc.get("secrets") or []:
        source = entry if isinstance(entry, str) else entry["source"]
        target = entry if isinstance(entry, str) else entry.get("target", source)
        yield source, target if target.startswith("/") else f"/run/secrets/{target}"


def published(svc: dict[str, Any]) -> Iterator[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port (short syntax only)."""
    for entry in svc.get("ports") or []:
        assert isinstance(entry, str), f"write ports as HOST_IP:HOST:CONTAINER, got {entry!r}"
        parts = entry.split(":")
        assert len(parts) == 3, f"a published port names its host address: {entry!r}"
        yield parts[0], int(parts[1]), int(parts[2])


def kafka_clients() -> dict[str, dict[str, Any]]:
    """The services that connect to Kafka (they name bootstrap servers)."""
    return {name: svc for name, svc in services().items() if "HUB_BOOTSTRAP_SERVERS" in (svc.get("environment") or {})}


def _compose_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0


# -- structure ------------------------------------------------------------------------------------


def test_compose_structure() -> None:
    doc = compose()
    kafka = doc["services"]["kafka"]
    image, _, tag = kafka["image"].partition(":")
    assert image == "apache/kafka"
    assert tag == local_kafka.kafka_version(), "compose and the local broker should run the same Kafka"
    assert broker_properties()["process.roles"] == "broker,controller"
    assert doc["services"]["postgres"]["image"].startswith("postgres:")
    for name in ("kafka", "postgres"):
        assert "healthcheck" in doc["services"][name], name
        mounts = doc["services"][name]["volumes"]
        assert any(m.split(":")[0] in doc["volumes"] for m in mounts), f"{name} needs a named volume"
    for name, svc in doc["services"].items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in doc["services"], f"{name} depends on unknown service {dep}"
            assert cond["condition"] in ("service_healthy", "service_completed_successfully", "service_started")
        for source, _ in secret_targets(svc):
            assert source in doc["secrets"], f"{name} mounts the undeclared secret {source}"
        for config in svc.get("configs") or []:
            assert (ROOT / doc["configs"][config["source"]]["file"]).is_file(), config


def test_compose_config_validates_where_compose_exists() -> None:
    if not _compose_available():
        # No Compose plugin here: the structural and security tests of this module are the check.
        return
    proc = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_compose_runs_the_hubs_services() -> None:
    found = services()
    assert set(HUB_SERVICES) <= set(found)
    for name in HUB_SERVICES:
        assert found[name]["command"][0] == "hub", name
    assert found["gateway"]["environment"]["HUB_SECRETS_FILE"].startswith("/run/secrets/")
    for name in ("projections", "api"):
        assert found[name]["environment"]["HUB_DATABASE_URL"].startswith("postgresql+psycopg://"), name


def test_the_one_shot_services_apply_the_acls_then_the_topics_before_anything_uses_kafka() -> None:
    found = services()
    assert found["acls"]["command"] == ["hub", "kafka", "acls", "apply"]
    assert found["topics"]["command"] == ["hub", "topics", "apply"]
    assert found["acls"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert found["topics"]["depends_on"] == {"acls": {"condition": "service_completed_successfully"}}
    assert found["registry"]["depends_on"] == {"topics": {"condition": "service_completed_successfully"}}
    for name in ONE_SHOTS:
        assert found[name]["restart"] == "no", name


def test_the_image_copies_every_package_and_data_folder_the_wheel_needs() -> None:
    """A package missing from the image makes ``hub`` (``cli:main``) fail in every service."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        wheel = tomllib.load(f)["tool"]["hatch"]["build"]["targets"]["wheel"]
    copied = {m.group(1) for m in re.finditer(r"^COPY\s+(\S+)\s+\./", (ROOT / "Dockerfile").read_text(), re.M)}
    needed = set(wheel["packages"]) | set(wheel["force-include"])
    assert needed <= copied, f"the Dockerfile does not copy {sorted(needed - copied)}"
    assert "cli" in wheel["packages"]


def test_every_service_command_is_a_command_of_the_hub() -> None:
    """The services start ``hub <command>``: each must parse (``--help`` stops before anything runs)."""
    from typer.testing import CliRunner

    from cli.main import app

    for name, svc in services().items():
        command = svc.get("command")
        if not command or command[0] != "hub":
            continue
        result = CliRunner().invoke(app, [*command[1:], "--help"])
        assert result.exit_code == 0, f"{name}: {' '.join(command)}: {result.output}"
        assert "Usage:" in result.output, name


# -- the broker -----------------------------------------------------------------------------------


def test_every_listener_of_the_broker_authenticates() -> None:
    props = broker_properties()
    protocols = protocol_map(props)
    bound = listeners(props)
    assert set(bound) == set(protocols), "every listener has a protocol, and only listeners do"
    plain = {name: proto for name, proto in protocols.items() if not proto.startswith("SASL_")}
    assert not plain, f"listeners without authentication: {plain}"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["controller.listener.names"] == "CONTROLLER"
    # SCRAM does not work between KRaft controllers: the controller listener takes PLAIN, and only it
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert props["inter.broker.listener.name"] == "INTERNAL", "a listener of its own, not the clients'"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert protocols["TLS"] == "SASL_SSL"
    assert props["listener.name.tls.ssl.keystore.type"] == "PEM"


def test_the_controller_and_inter_broker_listeners_stay_on_the_containers_loopback() -> None:
    props = broker_properties()
    bound = listeners(props)
    assert bound["CONTROLLER"][0] == bound["INTERNAL"][0] == "127.0.0.1"
    assert props["controller.quorum.voters"] == f"1@127.0.0.1:{bound['CONTROLLER'][1]}"
    advertised = props["advertised.listeners"].split(",")
    assert f"CLIENT://kafka:{bound['CLIENT'][1]}" in advertised
    assert all(not a.startswith("CONTROLLER://") for a in advertised)


def test_the_broker_allows_only_what_an_acl_grants_and_anonymous_is_never_a_super_user() -> None:
    props = broker_properties()
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    supers = props["super.users"].split(";")
    assert "User:ANONYMOUS" not in supers
    assert sorted(supers) == sorted(principals.kafka_principal(n) for n in principals.SUPER_USERS)
    assert props["auto.create.topics.enable"] == "false"


def test_the_committed_broker_configuration_holds_no_password() -> None:
    text = BROKER_PROPERTIES.read_text()
    assert "jaas.config" not in text and "password=" not in text.lower()
    heap = services()["kafka"]["environment"]["KAFKA_HEAP_OPTS"]
    assert re.fullmatch(r"-Xmx\d+m", heap), heap
    # the cleaner's buffer is taken from the heap: keep it a small part of it
    heap_bytes = int(heap[4:-1]) * 1024 * 1024
    assert int(broker_properties()["log.cleaner.dedupe.buffer.size"]) <= heap_bytes // 16


def test_the_broker_has_a_login_for_every_principal_the_services_use() -> None:
    """Every SCRAM user comes from /run/secrets/kafka-users/<principal> (formatted in by start.sh)."""
    found = services()
    kafka_users = {
        target.removeprefix(KAFKA_USERS): source
        for source, target in secret_targets(found["kafka"])
        if target.startswith(KAFKA_USERS)
    }
    assert set(principals.SUPER_USERS) <= set(kafka_users)
    for name, svc in kafka_clients().items():
        user = svc["environment"]["HUB_KAFKA_SASL_USERNAME"]
        assert user in kafka_users, f"{name} logs in as {user}, a user the broker is not given"
        own = dict((target, source) for source, target in secret_targets(svc))
        password = svc["environment"]["HUB_KAFKA_SASL_PASSWORD_FILE"]
        assert own.get(password) == kafka_users.get(user), f"{name}: logs in as {user} with another password"
    assert found["kafka"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "--command-config" in found["kafka"]["healthcheck"]["test"][1], "the healthcheck logs in too"


# -- the services ---------------------------------------------------------------------------------


def test_each_service_logs_in_to_kafka_as_its_own_principal() -> None:
    clients = kafka_clients()
    expected = {
        "acls": principals.ADMIN,
        "topics": principals.ADMIN,
        "registry": principals.REGISTRY,
        "ingest": principals.INGEST,
        "gateway": principals.gateway_principal(org_units().regions),
        "projections": principals.projection_principal(ZONES),
    }
    assert {name: svc["environment"]["HUB_KAFKA_SASL_USERNAME"] for name, svc in clients.items()} == expected
    for name, svc in clients.items():
        env = svc["environment"]
        assert env["HUB_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env["HUB_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", f"{name}: the compose network is a network"
        assert env["HUB_KAFKA_SSL_CAFILE"] in {t for _, t in secret_targets(svc)}, name
        assert env["HUB_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert env["HUB_KAFKA_SASL_PASSWORD_FILE"] in {t for _, t in secret_targets(svc)}, name
    assert "HUB_BOOTSTRAP_SERVERS" not in services()["api"]["environment"], "the query API needs no Kafka login"
    bound = listeners(broker_properties())
    assert bound["CLIENT"][1] == 9092 and protocol_map(broker_properties())["CLIENT"] == "SASL_SSL"


def test_every_published_port_is_on_the_hosts_loopback_and_kafkas_is_authenticated() -> None:
    found = services()
    for name, svc in found.items():
        for host, _, _ in published(svc):
            assert host == "127.0.0.1", f"{name} publishes a port on {host}"
    props = broker_properties()
    by_port = {port: name for name, (_, port) in listeners(props).items()}
    for _, _, container in published(found["kafka"]):
        listener = by_port[container]
        assert protocol_map(props)[listener] == "SASL_SSL", f"Kafka publishes {listener}"
        assert f"{listener}://localhost:{container}" in props["advertised.listeners"].split(",")
    assert not any(published(found["postgres"])), "PostgreSQL is reached only from the compose network"


def test_the_metrics_endpoint_listens_beyond_the_containers_loopback() -> None:
    command = services()["projections"]["command"]
    port = int(command[command.index("--metrics-port") + 1])
    assert command[command.index("--metrics-host") + 1] == "0.0.0.0"
    assert [c for _, _, c in published(services()["projections"])] == [port]


def test_no_secret_is_inline_and_every_secret_is_a_git_ignored_file() -> None:
    text = COMPOSE.read_text()
    assert "${" not in text, "no interpolation: a variable would carry a secret, and .env is the hub's too"
    for name, svc in services().items():
        for key, value in (svc.get("environment") or {}).items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), f"{name}: {key} holds a secret inline"
            assert not re.search(r"://[^/@:]+:[^/@]+@", str(value)), f"{name}: {key} has a password in a URL"
    declared = compose()["secrets"]
    for name, secret in declared.items():
        assert set(secret) == {"file"}, name
        assert secret["file"].startswith("./secrets/"), name
    for ignore in (".gitignore", ".dockerignore"):
        assert "secrets/" in (ROOT / ignore).read_text().split(), f"{ignore} must list secrets/"
    tracked = subprocess.run(["git", "ls-files", "secrets"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert not tracked.stdout.strip(), f"committed secrets: {tracked.stdout}"


def test_every_hub_variable_is_a_setting_of_the_hub() -> None:
    """The hub refuses unknown ``HUB_*`` variables: none may reach a container."""
    known = set(known_variables())
    for name, svc in services().items():
        for key in svc.get("environment") or {}:
            if key.startswith("HUB_"):
                assert key in known or key.startswith(DYNAMIC_PREFIXES), f"{name}: {key} is not a hub setting"


def test_services_that_read_secrets_run_as_the_user_that_owns_them() -> None:
    """Compose mounts secrets with the host file's owner and mode (600): the reader must be that user."""
    owner = re.search(r"^owner=(\d+:\d+)$", MAKE_SECRETS.read_text(), re.M)
    assert owner, "make-secrets.sh sets a default owner"
    uid = owner.group(1).split(":")[0]
    assert re.search(rf"useradd --uid {uid}\b", (ROOT / "Dockerfile").read_text()), "the image's user has that uid"
    for name, svc in services().items():
        if name == "postgres":
            continue  # its entry point reads the secret as root, then drops to the postgres user
        if any(secret_targets(svc)):
            assert svc["user"] == owner.group(1), f"{name} runs as {svc.get('user')}, the secrets belong to {owner}"
