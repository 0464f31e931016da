from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from hub import naming, topology
from hub.catalogue import EVENT_TYPES
from hub.kafka_admin import apply_topics
from hub.kafka_clients import connection_config
from hub.orgunits import org_units
from hub.settings import HubSettings, load_settings
from hub.zones import ZONES


def test_expand_declares_every_family() -> None:
    settings = load_settings(env_file=None)
    specs = {s.name: s for s in topology.expand(settings, org_units())}
    n_districts = len(org_units().districts)
    assert len(specs) == n_districts * len(EVENT_TYPES) + len(ZONES) * len(EVENT_TYPES) + 3
    raw = specs["raw.gd.shenzhen-nanshan.case-opened"]
    assert raw.config["retention.ms"] == "-1"
    assert specs["shared.gba.visit-made"].partitions == settings.shared_partitions
    assert specs[naming.SCHEMAS_TOPIC].config["cleanup.policy"] == "compact"
    assert specs[naming.AUDIT_TOPIC].config["retention.ms"] == "-1"
    assert specs[naming.DLQ_TOPIC].config["retention.ms"] == "-1"


def test_drift_reports_partition_and_config_differences() -> None:
    spec = topology.TopicSpec("t", 3, 1, {"retention.ms": "-1"})
    found = topology.drift(spec, 1, {"retention.ms": "604800000"})
    assert [str(d) for d in found] == [
        "t: partitions is 1, declared 3",
        "t: retention.ms is 604800000, declared -1",
    ]
    assert topology.drift(spec, 3, {"retention.ms": "-1", "other": "x"}) == []


def test_apply_is_idempotent_and_reports_drift(kafka: HubSettings) -> None:
    specs = [
        topology.TopicSpec("it.apply.events", 2, 1, dict(topology.FOREVER)),
        topology.TopicSpec("it.apply.compacted", 1, 1, {"cleanup.policy": "compact"}),
    ]
    first = apply_topics(kafka, specs)
    second = apply_topics(kafka, specs)
    assert sorted(first.created + first.unchanged) == sorted(s.name for s in specs)
    assert second.created == [] and second.drifted == []
    assert sorted(second.unchanged) == sorted(s.name for s in specs)

    admin = KafkaAdminClient(**connection_config(kafka))
    try:
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "it.apply.events", configs={"retention.ms": "1000"})]
        )
    finally:
        admin.close()
    third = apply_topics(kafka, specs)
    assert [str(d) for d in third.drifted] == ["it.apply.events: retention.ms is 1000, declared -1"]
    assert third.created == []


def test_full_layout_applies_twice(topics: HubSettings) -> None:
    specs = topology.expand(topics, org_units())
    again = apply_topics(topics, specs, timeout_s=60)
    assert again.created == [] and again.drifted == []
    assert len(again.unchanged) == len(specs)
