"""The compose stack's broker, started by its own entry script on the local broker's Kafka jars.

There is no Docker engine here, so the container is imitated, as little as possible:
deploy/compose/kafka/start.sh runs unchanged with its four paths moved (START_*), the image's
``kafka-storage.sh`` and ``kafka-server-start.sh`` are two lines that run the same classes on the
same 4.4 jars, and the committed server.properties is used with only its ports, addresses, data
folder and keystore path rewritten for this machine (each rewrite is checked to have happened).
The passwords and the certificate come from deploy/compose/make-secrets.sh, mounted the way
docker-compose.yml mounts them.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAuthorizationFailedError

from hub import local_kafka
from hub.errors import BrokerError, KafkaAuthError
from hub.kafka_admin import cluster_info, wait_for_metadata
from hub.kafka_clients import connection_config, new_admin
from hub.settings import HubSettings, load_settings
from tests.conftest import free_port
from tests.test_compose import BROKER_PROPERTIES, KAFKA_USERS, ROOT, compose, secret_targets, services
from tests.test_compose_secrets import make_secrets

START = ROOT / "deploy" / "compose" / "kafka" / "start.sh"
START_TIMEOUT_S = 90.0


@dataclass
class ComposeBroker:
    folder: Path
    secrets: Path
    users: Path
    work: Path
    client_port: int
    tls_port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def password_file(self, user: str) -> Path:
        return self.users / user

    def login(self, user: str, *, tls: bool = False, password_file: Path | None = None) -> HubSettings:
        """A login over the in-network CLIENT listener (``kafka:9092`` in the stack), or the host's TLS one; both
        are SASL_SSL, verified against the stack's CA."""
        port = self.tls_port if tls else self.client_port
        return load_settings(
            env_file=None,
            data_dir=self.folder / "client",
            bootstrap_servers=f"{'localhost' if tls else '127.0.0.1'}:{port}",
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_username=user,
            kafka_sasl_password_file=password_file or self.password_file(user),
            kafka_ssl_cafile=self.secrets / "tls" / "ca.pem",
            request_timeout_s=5.0,
        )

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(["bash", str(START)], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        process = self.process
        wait_for_metadata(self.login("admin"), START_TIMEOUT_S, alive=lambda: process.poll() is None)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)
        self.process = None


def _rewrite(text: str, old: str, new: str) -> str:
    assert old in text, f"server.properties no longer has {old!r}: update this test's rewrites"
    return text.replace(old, new)


def _fake_bin(folder: Path, java: str, classpath: str, log4j: Path) -> Path:
    """The two scripts of the image that start.sh calls, running the same classes."""
    folder.mkdir()
    run = f"exec {shlex.quote(java)} -Xmx384m -Dlog4j2.configurationFile={log4j} -cp {shlex.quote(classpath)}"
    for name, main in (("kafka-storage.sh", "kafka.tools.StorageTool"), ("kafka-server-start.sh", "kafka.Kafka")):
        script = folder / name
        script.write_text(f'#!/usr/bin/env bash\n{run} {main} "$@"\n')
        script.chmod(0o700)
    return folder


@pytest.fixture(scope="module")
def compose_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeBroker]:
    folder = tmp_path_factory.mktemp("compose-broker")
    secrets = folder / "secrets"
    proc = make_secrets(secrets)
    assert proc.returncode == 0, proc.stderr
    # mounted as docker-compose.yml mounts them: /run/secrets/kafka-users/<principal> <- ./secrets/...
    users = folder / "kafka-users"
    users.mkdir(mode=0o700)
    declared = compose()["secrets"]
    for source, target in secret_targets(services()["kafka"]):
        if target.startswith(KAFKA_USERS):
            path = secrets / declared[source]["file"].removeprefix("./secrets/")
            (users / target.removeprefix(KAFKA_USERS)).write_bytes(path.read_bytes())
    ports = {old: free_port() for old in (9092, 9093, 9094, 29092)}
    text = BROKER_PROPERTIES.read_text()
    text = _rewrite(text, "CLIENT://0.0.0.0:9092", f"CLIENT://127.0.0.1:{ports[9092]}")
    text = _rewrite(text, "TLS://0.0.0.0:29092", f"TLS://127.0.0.1:{ports[29092]}")
    text = _rewrite(text, "CLIENT://kafka:9092", f"CLIENT://127.0.0.1:{ports[9092]}")
    text = _rewrite(text, "TLS://localhost:29092", f"TLS://localhost:{ports[29092]}")
    for port in (9093, 9094):
        text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{ports[port]}")
    text = _rewrite(text, "/var/lib/kafka/data", str(folder / "data"))
    text = _rewrite(text, "/run/secrets/kafka-tls-keystore", str(secrets / "tls" / "broker.pem"))
    assert "0.0.0.0" not in text and ":9093" not in text and ":9094" not in text
    config = folder / "server.properties"
    config.write_text(text)
    log4j = folder / "log4j2.properties"
    log4j.write_text(  # as the image's: the broker logs at INFO, to the container's output
        "appender.out.type = Console\nappender.out.name = OUT\nappender.out.target = SYSTEM_ERR\n"
        "appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = OUT\n"
    )
    home = load_settings(env_file=None, data_dir=folder / "jars")
    bin_dir = _fake_bin(folder / "bin", local_kafka.check_java(), local_kafka.resolve_classpath(home), log4j)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "START_CONFIG": str(config),
        "START_USERS": str(users),
        "START_WORK": str(folder / "run" / "config"),
        "START_KAFKA_BIN": str(bin_dir),
        "START_CA": str(secrets / "tls" / "ca.pem"),
    }
    broker = ComposeBroker(
        folder, secrets, users, folder / "run" / "config", ports[9092], ports[29092], env, folder / "kafka.log"
    )
    (folder / "run").mkdir()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_every_user_of_the_compose_file_logs_in_and_sees_no_topic_without_an_acl(compose_broker: ComposeBroker) -> None:
    raw = "raw.gd.shenzhen-nanshan.case_opened"
    admin = KafkaAdminClient(**connection_config(compose_broker.login("admin")), request_timeout_ms=5000)
    try:
        admin.create_topics([NewTopic(raw, 1, 1)])
        assert raw in admin.list_topics()
    finally:
        admin.close()
    for path in sorted(compose_broker.users.iterdir()):
        if path.name in ("admin", "broker", "controller"):
            continue
        client = new_admin(compose_broker.login(path.name))
        try:
            assert client.list_topics() == [], f"{path.name} sees topics no ACL lets it describe"
        finally:
            client.close()


def test_the_tls_listener_takes_scram_logins_and_the_certificate_verifies(compose_broker: ComposeBroker) -> None:
    assert cluster_info(compose_broker.login("admin", tls=True))["cluster_id"]


def test_a_wrong_password_is_refused_naming_the_principal(compose_broker: ComposeBroker, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password-of-admin\n")
    wrong.chmod(0o600)
    with pytest.raises(KafkaAuthError, match="User:admin"):
        new_admin(compose_broker.login("admin", password_file=wrong)).close()


def test_the_controller_has_no_scram_login(compose_broker: ComposeBroker) -> None:
    with pytest.raises(KafkaAuthError, match="User:controller"):
        new_admin(compose_broker.login("controller")).close()


def test_a_client_without_credentials_is_refused(compose_broker: ComposeBroker) -> None:
    anonymous = load_settings(
        env_file=None,
        data_dir=compose_broker.folder / "client",
        bootstrap_servers=f"127.0.0.1:{compose_broker.client_port}",
        kafka_security_protocol="PLAINTEXT",
        request_timeout_s=3.0,
    )
    with pytest.raises((KafkaAuthError, BrokerError)):  # a plaintext client gets no session from a TLS listener
        cluster_info(anonymous, timeout_s=3.0)


def test_a_service_may_not_create_topics(compose_broker: ComposeBroker) -> None:
    client = KafkaAdminClient(**connection_config(compose_broker.login("registry")), request_timeout_ms=5000)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            client.create_topics([NewTopic("_schemas", 1, 1)])
    finally:
        client.close()


def test_the_logins_live_in_private_files_and_no_password_reaches_the_log(compose_broker: ComposeBroker) -> None:
    work = compose_broker.work
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    assert sorted(p.name for p in work.iterdir()) == ["admin.properties", "server.properties"]
    for path in work.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    log = compose_broker.log.read_text(errors="replace")
    assert "formatting" in log and "Kafka Server started" in log
    for path in compose_broker.users.iterdir():
        assert path.read_text().strip() not in log, f"the password of {path.name} is in the log"


def test_a_restart_keeps_the_formatted_storage_and_its_logins(compose_broker: ComposeBroker) -> None:
    compose_broker.stop()
    before = compose_broker.log.read_text(errors="replace").count("hub-kafka: formatting")
    compose_broker.start()
    assert compose_broker.log.read_text(errors="replace").count("hub-kafka: formatting") == before == 1
    assert cluster_info(compose_broker.login("ingest"))["cluster_id"]


def _start_without_broker(tmp_path: Path, users: dict[str, str]) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "kafka-users"
    folder.mkdir()
    for name, password in users.items():
        (folder / name).write_text(password + "\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "START_CONFIG": str(BROKER_PROPERTIES),
        "START_USERS": str(folder),
        "START_WORK": str(tmp_path / "work"),
        "START_KAFKA_BIN": str(tmp_path / "no-kafka-here"),
    }
    return subprocess.run(["bash", str(START)], env=env, capture_output=True, text=True, check=False)


def test_a_password_the_logins_cannot_quote_is_refused_naming_the_file_not_the_password(tmp_path: Path) -> None:
    bad = 'with"quote-and,comma'
    proc = _start_without_broker(tmp_path, {"controller": "c" * 24, "broker": "b" * 24, "admin": bad})
    assert proc.returncode == 1
    assert "kafka-users/admin: a password is at least 12 characters" in proc.stderr
    assert bad not in proc.stdout + proc.stderr
    assert not (tmp_path / "work").exists(), "nothing is written before every password is read"


def test_a_missing_super_user_is_refused(tmp_path: Path) -> None:
    proc = _start_without_broker(tmp_path, {"controller": "c" * 24, "admin": "a" * 24})
    assert proc.returncode == 1
    assert "no password for the super user broker" in proc.stderr
