"""Kafka's own security on the real, secured session broker: logins, TLS, and what the hub says when refused.

The broker of the session is the one ``hub kafka start`` makes (SASL/SCRAM-SHA-512, PLAIN between
controllers, the StandardAuthorizer with no ACL-less access, a SASL_SSL listener signed by the development
CA). The first tests are pure (the broker's configuration, the local logins file, the retry policy); the
rest log in, or fail to, against the real broker. What a principal may do once logged in is
``tests/test_kafka_acls.py``.
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from kafka import errors as kafka_errors
from pydantic import SecretStr

from hub import credentials, dev_ca, local_kafka, naming
from hub.credentials import Credentials
from hub.errors import BrokerError, ConfigError, KafkaAuthError
from hub.kafka_admin import cluster_info
from hub.kafka_clients import aiokafka_connection, faust_connection, new_admin
from hub.principals import ADMIN, BROKER, CONTROLLER, district_principal, partner_principal
from hub.retry import Backoff, retry
from hub.settings import HubSettings, load_settings
from tests.conftest import broker_settings
from tests.factories import DROP, kafka_env, valid_event_doc
from tests.partner_events import SharedProducer, event
from tests.subscriber_support import sql_rows, subscribe

Login = Callable[[str], HubSettings]
LOGINS = Credentials({ADMIN: "admin-pw-0123456789", BROKER: "broker-pw-0123456789", CONTROLLER: "ctrl-pw-0123456789"})


def _settings(tmp_path: Path, **over: object) -> HubSettings:
    ports = {"kafka_port": 19100, "kafka_controller_port": 19101, "kafka_internal_port": 19102}
    return load_settings(env_file=None, data_dir=tmp_path, **{**ports, **over})  # type: ignore[arg-type]


# -- pure: the broker's configuration ----------------------------------------------------------------
def test_the_secured_broker_has_no_unauthenticated_listener_and_no_anonymous_super_user(tmp_path: Path) -> None:
    settings = _settings(tmp_path, kafka_tls_port=19103)
    ca = dev_ca.DevCa(tmp_path / "ca")
    props = local_kafka.server_properties(settings, local_kafka.paths(settings), LOGINS, ca)
    protocols = dict(pair.split(":") for pair in props["listener.security.protocol.map"].split(","))
    assert protocols == {"CONTROLLER": "SASL_PLAINTEXT", "CLIENT": "SASL_PLAINTEXT", "INTERNAL": "SASL_PLAINTEXT",
                         "TLS": "SASL_SSL"}  # fmt: skip
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"].split(";") == ["User:admin", "User:controller", "User:broker"]
    assert "ANONYMOUS" not in props["super.users"]
    # SCRAM does not work between KRaft controllers: PLAIN there, SCRAM between brokers
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["inter.broker.listener.name"] == "INTERNAL"
    assert 'username="broker"' in props["listener.name.internal.scram-sha-512.sasl.jaas.config"]
    assert props["listener.name.tls.ssl.keystore.location"] == str(ca.broker_keystore)
    assert all("127.0.0.1:" in listener for listener in props["listeners"].split(","))


def test_the_insecure_broker_is_plaintext_without_authorizer(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    props = local_kafka.server_properties(settings, local_kafka.paths(settings), None, None)
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert "authorizer.class.name" not in props and "super.users" not in props


def test_the_broker_config_file_holding_passwords_is_private(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    p = local_kafka.paths(settings)
    p.root.mkdir(parents=True)
    local_kafka._write_config(settings, p, LOGINS, None)
    assert stat.S_IMODE(p.config.stat().st_mode) == 0o600
    assert "ctrl-pw-0123456789" in p.config.read_text()


# -- pure: the local logins ----------------------------------------------------------------------------
def test_the_local_logins_file_is_private_and_refused_when_others_may_read_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert credentials.read(settings) is None
    path = credentials.write(settings, LOGINS.with_users(["partner.hk"]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    found = credentials.read(settings)
    assert found is not None and found.password(ADMIN) == "admin-pw-0123456789"
    assert len(found.password("partner.hk")) >= 32
    path.chmod(0o644)
    with pytest.raises(ConfigError, match=r"may be read by others \(mode 644\).*chmod 600"):
        credentials.read(settings)


def test_a_missing_local_login_names_the_principal_and_the_command(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    credentials.write(settings, LOGINS)
    with pytest.raises(ConfigError, match=r"principal 'partner.hk'.*hub kafka users add partner.hk"):
        credentials.as_principal(settings, "partner.hk")


def test_a_user_named_by_the_environment_wins_over_the_local_logins(tmp_path: Path) -> None:
    settings = _settings(tmp_path, kafka_sasl_username="district.hk.hk-north", kafka_sasl_password="given")
    credentials.write(settings, LOGINS)
    assert credentials.as_principal(settings, ADMIN) is settings
    local = credentials.as_principal(_settings(tmp_path), ADMIN)
    assert (local.kafka_sasl_username, local.kafka_security_protocol) == (ADMIN, "SASL_PLAINTEXT")
    assert local.kafka_sasl_password.get_secret_value() == "admin-pw-0123456789"
    assert "admin-pw" not in repr(local), "settings never show a password"


def test_a_password_file_wins_and_stays_out_of_a_childs_environment(tmp_path: Path) -> None:
    from hub.settings import as_environment

    secret = tmp_path / "kafka.password"
    secret.write_text("from-the-file\n")
    settings = _settings(
        tmp_path, kafka_sasl_username="x", kafka_sasl_password="ignored", kafka_sasl_password_file=secret
    )
    assert settings.kafka_sasl_password.get_secret_value() == "from-the-file"
    env = as_environment(settings, {})
    assert env["HUB_KAFKA_SASL_PASSWORD_FILE"] == str(secret) and "HUB_KAFKA_SASL_PASSWORD" not in env
    secret.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        _settings(tmp_path, kafka_sasl_password_file=secret)


def test_the_retry_policy_never_waits_out_a_refusal() -> None:
    attempts: list[int] = []

    def denied() -> None:
        attempts.append(1)
        raise kafka_errors.TopicAuthorizationFailedError("raw.gd.shenzhen-nanshan.case-opened")

    with pytest.raises(kafka_errors.TopicAuthorizationFailedError):
        retry(denied, what="writing", backoff=Backoff(0.01, 0.01))
    assert attempts == [1]


# -- against the secured session broker ----------------------------------------------------------------
@pytest.mark.kafka
def test_a_client_without_a_login_is_refused_in_one_line(kafka: HubSettings) -> None:
    nobody = kafka.model_copy(update={"kafka_security_protocol": "PLAINTEXT", "kafka_sasl_username": ""})
    with pytest.raises(KafkaAuthError) as info:
        cluster_info(nobody, timeout_s=3.0)
    message = str(info.value)
    assert "\n" not in message and "requires SASL" in message and "HUB_KAFKA_SASL_USERNAME" in message
    assert info.value.principal == "User:ANONYMOUS"


@pytest.mark.kafka
def test_a_wrong_password_is_refused_naming_the_principal(kafka: HubSettings, login_as: Login) -> None:
    wrong = login_as("partner.hk").model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})
    with pytest.raises(KafkaAuthError) as info:
        new_admin(wrong, 4.0)
    assert info.value.principal == "User:partner.hk"
    assert "\n" not in str(info.value) and "User:partner.hk" in str(info.value)
    assert "not-the-password" not in str(info.value)


@pytest.mark.kafka
def test_the_cli_says_so_in_one_line_when_the_login_is_wrong(kafka: HubSettings, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= kafka_env(kafka) | {"HUB_KAFKA_SASL_PASSWORD": "wrong-password", "HUB_DATA_DIR": str(tmp_path)}
    hub = str(Path(sys.executable).with_name("hub"))
    proc = subprocess.run([hub, "topics", "apply"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "refused" in proc.stdout + proc.stderr and "User:admin" in proc.stdout + proc.stderr
    assert "wrong-password" not in proc.stdout + proc.stderr


@pytest.mark.kafka
def test_the_tls_listener_is_verified_against_the_development_ca(broker_home: HubSettings, kafka: HubSettings) -> None:
    if broker_home.kafka_tls_port is None:
        pytest.fail("the session broker has no TLS listener")
    ca = credentials.secrets_dir(broker_home) / "ca" / "ca.pem"
    over_tls = kafka.model_copy(
        update={
            "kafka_security_protocol": "SASL_SSL",
            "bootstrap_servers": f"localhost:{broker_home.kafka_tls_port}",
            "kafka_ssl_cafile": ca,
        }
    )
    assert cluster_info(over_tls, timeout_s=10.0)["cluster_id"] == cluster_info(kafka)["cluster_id"]
    untrusted = over_tls.model_copy(update={"kafka_ssl_cafile": None})  # the system's CAs never signed it
    with pytest.raises(BrokerError, match=r"TLS to Kafka at localhost:\d+ failed: .*CERTIFICATE_VERIFY_FAILED"):
        cluster_info(untrusted, timeout_s=3.0)
    key = credentials.secrets_dir(broker_home) / "ca" / "broker.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


@pytest.mark.kafka
def test_aiokafka_and_faust_get_the_same_login(topics: HubSettings, login_as: Login) -> None:
    nanshan = login_as(district_principal("GD", "shenzhen-nanshan"))
    assert faust_connection(nanshan)["broker_credentials"].username == "district.gd.shenzhen-nanshan"
    topic = naming.raw_topic("GD", "shenzhen-nanshan", "CaseOpened")

    async def send() -> int:
        producer = AIOKafkaProducer(**aiokafka_connection(nanshan), acks="all")
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, b"security-test", key=uuid.uuid4().bytes)
            return int(meta.offset)
        finally:
            await producer.stop()

    assert asyncio.run(send()) >= 0


@pytest.mark.kafka
def test_a_confluent_kafka_client_logs_in_with_scram_and_is_held_to_its_acls(
    topics: HubSettings, login_as: Login
) -> None:
    from confluent_kafka import KafkaError, Producer

    nanshan = login_as(district_principal("GD", "shenzhen-nanshan"))
    config = {
        "bootstrap.servers": nanshan.bootstrap_servers,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": nanshan.kafka_sasl_username,
        "sasl.password": nanshan.kafka_sasl_password.get_secret_value(),
        "enable.idempotence": True,
    }
    outcomes: dict[str, object] = {}
    producer = Producer(config)
    own = naming.raw_topic("GD", "shenzhen-nanshan", "CaseOpened")
    other = naming.raw_topic("GD", "guangzhou-tianhe", "CaseOpened")
    for topic in (own, other):

        def delivered(err: object, msg: object, topic: str = topic) -> None:
            outcomes[topic] = err

        producer.produce(topic, b"x", key=b"k", on_delivery=delivered)
    assert producer.flush(30) == 0
    assert outcomes[own] is None
    refused = outcomes[other]
    assert isinstance(refused, KafkaError) and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


@pytest.mark.kafka
def test_a_data_folder_keeps_the_security_mode_it_was_formatted_with(tmp_path: Path) -> None:
    settings = broker_settings(tmp_path)
    assert local_kafka.format_storage(settings) is True
    assert local_kafka.stored_mode(settings) == local_kafka.SECURED
    assert list(credentials.secrets_dir(settings).glob("*.args")) == [], "the format's argument file is gone"
    logins = credentials.read(settings)
    assert logins is not None and set(logins.passwords) >= {ADMIN, BROKER, CONTROLLER, "partner.hk"}
    with pytest.raises(ConfigError, match="formatted sasl-scram, not plaintext: drop --insecure"):
        local_kafka.start(settings, insecure=True)


@pytest.mark.kafka
def test_a_worker_whose_group_no_acl_allows_says_so_instead_of_waiting_to_join(
    topics: HubSettings, registry: str, gateway_keys: dict[str, str], login_as: Login, tmp_path: Path
) -> None:
    """gateway.hk may use only group hub-gateway-hk: as the all-regions gateway it must stop at once, in one line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")} | gateway_keys
    env |= kafka_env(login_as("gateway.hk")) | {"HUB_SCHEMA_REGISTRY_URL": registry, "HUB_DATA_DIR": str(tmp_path)}
    hub = str(Path(sys.executable).with_name("hub"))
    proc = subprocess.run([hub, "gateway", "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "denied User:gateway.hk READ on group hub-gateway-fj-gd-hk-js-mo" in out
    assert "Traceback" not in out


@pytest.mark.kafka
def test_the_partner_subscriber_works_logged_in_as_its_partner(
    subscriber_settings: HubSettings, subscriber_producer: SharedProducer, login_as: Login, tmp_path: Path
) -> None:
    """The hub's own subscriber, as ``partner.hk`` (not admin): it copies what its ACLs let it read (a refusal
    would raise KafkaAuthError out of ``run``)."""
    from consumers.sinks import SqlSink

    produced = subscriber_producer.send([event("CaseOpened", "HK"), event("VisitMade", "MO")], zones=["gba"])
    hk = login_as(partner_principal("hk")).model_copy(
        update={"schema_registry_url": subscriber_settings.schema_registry_url}
    )
    url = f"sqlite:///{tmp_path / 'hk.db'}"
    with SqlSink(url, "hk-as-partner") as sink:
        progress = subscribe(hk, sink, topics=sorted({p.topic for p in produced}))
    # the session's topics also hold other tests' records (some deliberately undecodable): look at ours only
    assert progress.state == "caught up"
    assert {p.event_id for p in produced} <= {r["event_id"] for r in sql_rows(url)}


@pytest.mark.kafka
def test_one_districts_refused_login_loses_no_other_districts_events(
    topics: HubSettings, registry: str, login_as: Login
) -> None:
    """A batch over two districts whose first login is refused: the other district's events are still published."""
    from hub.publishing.publisher import Ack, Publisher, Rejected
    from hub.registry.client import RegistryClient

    def logins(region: str, district: str) -> HubSettings:
        own = login_as(district_principal(region, district))
        if district == "guangzhou-tianhe":  # its producer cannot even log in
            return own.model_copy(update={"kafka_sasl_password": SecretStr("not-the-password")})
        return own

    tianhe = {"district": "guangzhou-tianhe", "station": DROP}
    docs = [valid_event_doc("VisitMade", **tianhe), valid_event_doc("VisitMade")]
    docs.append(valid_event_doc("VisitMade", **tianhe))
    settings = topics.model_copy(update={"schema_registry_url": registry})
    with RegistryClient(registry) as reg, Publisher(settings, reg, timeout_s=5.0, logins=logins) as pub:
        first, nanshan, second = pub.publish_many(docs)
    assert isinstance(nanshan, Ack) and nanshan.topic == "raw.gd.shenzhen-nanshan.visit-made"
    for refused in (first, second):
        assert isinstance(refused, Rejected) and refused.phase == "publish"
        # the login failure, named (kafka-python may report it as "refused the login" or as "no session")
        assert "User:district.gd.guangzhou-tianhe" in refused.message and "not-the-password" not in refused.message
