"""Applying the ACL plan to the real, secured session broker, and the broker enforcing it.

The first part is pure (conversions to kafka-python's ACL objects, error translation). The rest runs
against the session broker (SASL/SCRAM, ``StandardAuthorizer``, no access without an ACL): ``kafka`` is the
admin super user, ``login_as(name)`` any declared principal. Every test leaves the cluster's ACLs equal to
the plan, which the other tests of the session rely on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.admin import ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern
from kafka.admin import ResourceType as KafkaResourceType
from kafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    SecurityDisabledError,
)

from hub import kafka_acls, naming
from hub.acl_plan import AclEntry, Operation, PatternType, Permission, ResourceType, plan
from hub.agreements import default_agreements_dir, load_agreements
from hub.catalogue import EVENT_TYPES
from hub.dlq import DeadLetter
from hub.errors import BrokerError, ConfigError, KafkaAuthError
from hub.kafka_admin import topics_matching
from hub.kafka_auth import refusal
from hub.kafka_clients import connection_config
from hub.kafka_reader import KafkaReader
from hub.orgunits import org_units
from hub.principals import (
    district_principal,
    gateway_principal,
    kafka_principal,
    partner_principal,
    projection_principal,
)
from hub.settings import HubSettings, load_settings
from tests.factories import kafka_env

PLAN = plan(org_units(), load_agreements(default_agreements_dir()))
Login = Callable[[str], HubSettings]


def _stray(name: str = "raw.", host: str = "*", principal: str = "User:mallory") -> AclEntry:
    return AclEntry(principal, ResourceType.TOPIC, PatternType.PREFIXED, name, Operation.READ, Permission.ALLOW, host)


# -- pure: conversions and errors --------------------------------------------------------------------
def test_every_planned_entry_round_trips_through_kafka_python() -> None:
    for entry in PLAN:
        acl = kafka_acls.to_kafka(entry)
        assert kafka_acls.from_kafka(acl) == entry
    acl = kafka_acls.to_kafka(next(e for e in PLAN if e.permission is Permission.DENY))
    assert (acl.operation, acl.permission_type) == (ACLOperation.ALL, ACLPermissionType.DENY)
    assert acl.resource_pattern == ResourcePattern(KafkaResourceType.TOPIC, "raw.", ACLResourcePatternType.PREFIXED)


@pytest.mark.parametrize("operation", list(Operation))
@pytest.mark.parametrize("resource_type", list(ResourceType))
def test_any_acl_a_cluster_may_hold_has_a_hub_value(operation: Operation, resource_type: ResourceType) -> None:
    entry = AclEntry("User:x", resource_type, PatternType.LITERAL, "n", operation, Permission.DENY, "10.0.0.1")
    assert kafka_acls.from_kafka(kafka_acls.to_kafka(entry)) == entry


def _offline(user: str = "partner.hk") -> HubSettings:
    return load_settings(
        env_file=None,
        bootstrap_servers="127.0.0.1:1",
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username=user,
        kafka_sasl_password="x",
    )


def test_a_refusal_names_the_principal_the_cluster_and_the_operation() -> None:
    error = kafka_acls.error_for(ClusterAuthorizationFailedError(), _offline(), "ALTER", "creating 1 ACLs")
    assert isinstance(error, KafkaAuthError)
    assert (error.principal, error.resource, error.operation) == ("User:partner.hk", "cluster kafka-cluster", "ALTER")
    assert "\n" not in str(error) and "User:partner.hk" in str(error) and "ALTER" in str(error)


def test_a_broker_without_authorizer_is_a_config_error_and_an_outage_a_broker_error() -> None:
    disabled = kafka_acls.error_for(SecurityDisabledError(), _offline("admin"), "DESCRIBE", "describing the ACLs")
    assert isinstance(disabled, ConfigError) and "no authorizer" in str(disabled)
    down = kafka_acls.error_for(KafkaConnectionError("refused"), _offline("admin"), "ALTER", "creating 3 ACLs")
    assert isinstance(down, BrokerError) and "creating 3 ACLs as User:admin" in str(down)


# -- the session broker ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planned(topics: HubSettings) -> Iterator[HubSettings]:
    """The admin's settings, with the cluster's ACLs equal to the plan (also when the module ends)."""
    kafka_acls.apply(topics, PLAN)
    yield topics
    kafka_acls.apply(topics, PLAN)


@pytest.mark.kafka
def test_apply_adds_the_missing_removes_the_unplanned_and_then_has_nothing_to_do(planned: HubSettings) -> None:
    assert kafka_acls.current(planned) == PLAN
    js = kafka_principal(partner_principal("js"))
    of_js = tuple(e for e in PLAN if e.principal == js)
    assert of_js

    without_js = kafka_acls.apply(planned, [e for e in PLAN if e.principal != js])
    assert (without_js.added, without_js.removed) == ((), of_js)
    assert not [e for e in kafka_acls.current(planned) if e.principal == js]

    back = kafka_acls.apply(planned, PLAN)
    assert (back.added, back.removed) == (of_js, ())
    assert kafka_acls.apply(planned, PLAN).empty
    assert kafka_acls.current(planned) == PLAN


@pytest.mark.kafka
def test_an_acl_the_plan_does_not_hold_is_removed(planned: HubSettings) -> None:
    hk = kafka_principal(partner_principal("hk"))
    extra = (_stray(), _stray("shared.mainland.", principal=hk), _stray("shared.gba.", host="10.9.8.7", principal=hk))
    kafka_acls.create(planned, extra)
    assert set(extra) <= set(kafka_acls.current(planned))
    change = kafka_acls.apply(planned, PLAN)
    assert change.added == ()
    assert set(change.removed) == set(extra)
    assert kafka_acls.current(planned) == PLAN


@pytest.mark.kafka
def test_acls_apply_through_the_cli_prints_the_diff_and_is_idempotent(planned: HubSettings, tmp_path: Path) -> None:
    mo = kafka_principal(partner_principal("mo"))
    kafka_acls.apply(planned, [e for e in PLAN if e.principal != mo])
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env |= {**kafka_env(planned), "HUB_DATA_DIR": str(tmp_path)}
    hub = str(Path(sys.executable).with_name("hub"))
    outputs = []
    for _ in range(2):
        proc = subprocess.run(
            [hub, "kafka", "acls", "apply"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    of_mo = [e for e in PLAN if e.principal == mo]
    added = [line for line in outputs[0].splitlines() if line.startswith("added")]
    assert added == [f"added   {e}" for e in of_mo]
    assert f"{len(of_mo)} added, 0 removed" in outputs[0]
    assert "0 added, 0 removed" in outputs[1]
    assert kafka_acls.current(planned) == PLAN


# -- the broker enforces the plan ----------------------------------------------------------------------
def _raw(district: str) -> str:
    unit = org_units().district(district)
    assert unit is not None
    return naming.raw_topic(unit.region, unit.code, EVENT_TYPES[0])


def _send(settings: HubSettings, topic: str, value: bytes | None = None) -> None:
    """Write one record to partition 0 of ``topic`` as ``settings``' principal; a refusal as the one-line error."""
    producer = KafkaProducer(**connection_config(settings), acks="all", max_block_ms=15000)
    try:
        producer.send(topic, key=b"k", value=value or uuid.uuid4().bytes, partition=0).get(timeout=30)
    except KafkaError as exc:
        denied = refusal(exc, settings, resource=f"topic {topic}", operation="WRITE")
        if denied is not None:
            raise denied from exc
        raise
    finally:
        producer.close(timeout=5)


def _read(settings: HubSettings, topic: str) -> int:
    """Records the hub's group-less reader gets from partition 0 of ``topic`` (stops at the first batch).

    kafka-python never fetches a partition whose leader the broker's metadata withholds: without DESCRIBE
    the reader just gets nothing.
    """
    with KafkaReader(settings, client_id="acl-test") as reader:
        reader.assign({(topic, 0): 0})
        for _ in range(20):
            records = reader.poll(timeout_s=0.5)
            if records:
                return len(records)
    return 0


def _refused_offsets(settings: HubSettings, topic: str) -> KafkaAuthError:
    """The refusal of the offset look-up every read of ``topic`` starts with."""
    with KafkaReader(settings, client_id="acl-test") as reader, pytest.raises(KafkaAuthError) as caught:
        reader.end_offsets([(topic, 0)])
    return caught.value


@pytest.mark.kafka
def test_a_district_writes_its_own_raw_topics_and_not_another_districts(planned: HubSettings, login_as: Login) -> None:
    nanshan = login_as(district_principal("GD", "shenzhen-nanshan"))
    _send(nanshan, _raw("shenzhen-nanshan"))
    topic = _raw("guangzhou-tianhe")
    with pytest.raises(KafkaAuthError) as caught:
        _send(nanshan, topic)
    message = str(caught.value)
    assert "\n" not in message
    assert "User:district.gd.shenzhen-nanshan" in message and topic in message and "WRITE" in message


@pytest.mark.kafka
def test_a_partner_neither_sees_nor_reads_raw_topics(planned: HubSettings, login_as: Login) -> None:
    hk = login_as(partner_principal("hk"))
    assert topics_matching(planned, [r"raw\..*"]), "the admin sees the raw topics"
    assert topics_matching(hk, [r"raw\..*"]) == []
    assert topics_matching(hk, [r"shared\.gba\..*"]), "hk sees the shared topics it may read"
    topic = _raw("hk-sham-shui-po")
    _send(login_as(district_principal("HK", "hk-sham-shui-po")), topic)
    assert _read(planned, topic) > 0
    assert _read(hk, topic) == 0
    with KafkaReader(hk, client_id="acl-test") as reader, pytest.raises(BrokerError, match="does not exist"):
        reader.partitions([topic])
    denied = _refused_offsets(hk, topic)
    assert denied.principal == "User:partner.hk" and topic in str(denied) and "\n" not in str(denied)


@pytest.mark.kafka
def test_hong_kong_reads_shared_gba_but_not_shared_mainland(planned: HubSettings, login_as: Login) -> None:
    hk = login_as(partner_principal("hk"))
    gba, mainland = (naming.shared_topic(zone, EVENT_TYPES[0]) for zone in ("gba", "mainland"))
    _send(planned, gba)
    _send(planned, mainland)
    assert _read(hk, gba) > 0
    assert topics_matching(hk, [r"shared\.mainland\..*"]) == []
    assert _read(hk, mainland) == 0
    denied = _refused_offsets(hk, mainland)
    assert denied.principal == "User:partner.hk" and mainland in str(denied)


@pytest.mark.kafka
def test_a_projection_worker_cannot_write_shared_topics(planned: HubSettings, login_as: Login) -> None:
    projection = login_as(projection_principal(["gba"]))
    topic = naming.shared_topic("gba", EVENT_TYPES[0])
    with pytest.raises(KafkaAuthError) as caught:
        _send(projection, topic)
    message = str(caught.value)
    assert "User:projection.gba" in message and topic in message and "WRITE" in message
    letter = DeadLetter.now(
        consumer="acl-test", stage="apply", reason="allowed", source_topic=topic, source_partition=0,
        source_offset=0, original_key=None, original_value=None,
    )  # fmt: skip
    _send(projection, naming.DLQ_TOPIC, letter.value())  # what it may write (a real dead letter: others read hub.dlq)


@pytest.mark.kafka
def test_the_hong_kong_gateway_cannot_write_shared_mainland(planned: HubSettings, login_as: Login) -> None:
    gateway = login_as(gateway_principal(["HK"]))
    _send(gateway, naming.shared_topic("gba", EVENT_TYPES[0]))
    mainland = naming.shared_topic("mainland", EVENT_TYPES[0])
    with pytest.raises(KafkaAuthError) as caught:
        _send(gateway, mainland)
    assert "User:gateway.hk" in str(caught.value) and mainland in str(caught.value)


@pytest.mark.kafka
def test_a_partner_cannot_read_or_change_the_acls(planned: HubSettings, login_as: Login) -> None:
    hk = login_as(partner_principal("hk"))
    with pytest.raises(KafkaAuthError) as created:
        kafka_acls.create(hk, [_stray()])
    assert (created.value.principal, created.value.resource, created.value.operation) == (
        "User:partner.hk",
        "cluster kafka-cluster",
        "ALTER",
    )
    assert "\n" not in str(created.value)
    with pytest.raises(KafkaAuthError) as applied:
        kafka_acls.apply(hk, PLAN)
    assert applied.value.operation == "DESCRIBE"
    assert kafka_acls.current(planned) == PLAN
