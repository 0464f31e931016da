"""The district SDK on the real broker and registry."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer, TopicPartition

from hub import naming
from hub.errors import PublishError, ValidationError
from hub.kafka_clients import connection_config
from hub.publishing.publisher import Ack, Publisher, Rejected
from hub.registry.client import RegistryClient
from hub.serde import AvroDeserializer
from hub.settings import HubSettings, load_settings
from hub.validation import validate_event
from tests.conftest import free_port
from tests.factories import valid_event_doc


@pytest.fixture(scope="module")
def settings(topics: HubSettings, registry: str) -> HubSettings:
    return topics.model_copy(update={"schema_registry_url": registry})


def _read(settings: HubSettings, ack: Ack) -> tuple[bytes, bytes]:
    consumer = KafkaConsumer(**connection_config(settings), enable_auto_commit=False)
    try:
        tp = TopicPartition(ack.topic, ack.partition)
        consumer.assign([tp])
        consumer.seek(tp, ack.offset)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    if rec.offset == ack.offset:
                        return rec.key, rec.value
        raise AssertionError(f"record {ack} not found")
    finally:
        consumer.close()


@pytest.mark.parametrize(
    ("event_type", "overrides", "topic"),
    [
        ("CaseOpened", {}, "raw.gd.shenzhen-nanshan.case-opened"),
        ("VisitMade", {}, "raw.gd.shenzhen-nanshan.visit-made"),
        (
            "DonationReceived",
            {"region": "HK", "district": "hk-sham-shui-po", "station": None, "currency": "HKD"},
            "raw.hk.hk-sham-shui-po.donation-received",
        ),
        (
            "ProjectFunded",
            {"region": "FJ", "district": "jinjiang", "station": None},
            "raw.fj.jinjiang.project-funded",
        ),
    ],
)
def test_event_lands_on_its_topic_with_its_key_in_wire_format(
    settings: HubSettings, registry_client: RegistryClient, event_type: str, overrides: dict[str, object], topic: str
) -> None:
    doc = valid_event_doc(event_type, **overrides)
    with Publisher(settings, registry_client) as pub:
        ack = pub.publish(doc)
    assert ack.topic == topic and ack.event_id == doc["event_id"]
    key, value = _read(settings, ack)
    validated = validate_event(doc)
    assert key == validated.key.encode()
    assert value[0] == 0
    schema_id = int.from_bytes(value[1:5], "big")
    latest = registry_client.get_latest(naming.subject_for(topic))
    assert latest.id == schema_id
    assert AvroDeserializer(registry_client)(value) == validated.record


def test_publish_many_keeps_valid_events_beside_invalid_ones(
    settings: HubSettings, registry_client: RegistryClient
) -> None:
    good = [valid_event_doc("CaseOpened"), valid_event_doc("TrainingHeld")]
    bad = valid_event_doc("DonationReceived", amount="-5.00")
    with Publisher(settings, registry_client) as pub:
        results = pub.publish_many([good[0], bad, good[1]])
    assert [type(r) for r in results] == [Ack, Rejected, Ack]
    rejected = results[1]
    assert isinstance(rejected, Rejected)
    assert rejected.phase == "validation" and rejected.index == 1
    assert any(field == "amount" for field, _ in rejected.errors)


def test_invalid_event_is_refused_before_sending(settings: HubSettings, registry_client: RegistryClient) -> None:
    with Publisher(settings, registry_client) as pub, pytest.raises(ValidationError) as info:
        pub.publish(valid_event_doc("VisitMade", duration_minutes=0))
    assert "duration_minutes" in str(info.value)


def test_unreachable_broker_fails_fast_with_a_clear_error(registry_client: RegistryClient, tmp_path: object) -> None:
    port = free_port()
    dead = load_settings(env_file=None, bootstrap_servers=f"127.0.0.1:{port}", request_timeout_s=2.0)
    with pytest.raises(PublishError) as info, Publisher(dead, registry_client) as pub:
        pub.publish(valid_event_doc("CaseOpened"))
    assert f"127.0.0.1:{port}" in str(info.value)


def test_sdk_rejects_the_whole_bad_corpus_naming_fields(settings: HubSettings, registry_client: RegistryClient) -> None:
    from tests.bad_inputs import BAD

    docs = [valid_event_doc(t, **o) for t, o, _, _ in BAD]
    with Publisher(settings, registry_client) as pub:
        results = pub.publish_many(docs)
    assert len(results) == len(BAD) >= 25
    for (_, _, field, rule), result in zip(BAD, results, strict=True):
        assert isinstance(result, Rejected), (field, result)
        assert result.phase == "validation"
        assert field in [f for f, _ in result.errors]
        assert any(rule in m for _, m in result.errors)
