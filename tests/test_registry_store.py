"""The registry's persistence in a compacted topic, on the real broker."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition

from hub.errors import IncompatibleSchemaError
from hub.kafka_admin import apply_topics
from hub.kafka_clients import connection_config
from hub.registry.compat import Level
from hub.registry.state import LATEST
from hub.registry.store import SchemaStore, schemas_topic_spec
from hub.settings import HubSettings

pytestmark = pytest.mark.kafka


def schema(*fields: str, name: str = "A") -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": n, "type": "string"} for n in fields]})


def with_optional(base: str, field: str) -> str:
    doc = json.loads(base)
    doc["fields"].append({"name": field, "type": ["null", "string"], "default": None})
    return json.dumps(doc)


@pytest.fixture
def topic() -> str:
    return f"_schemas-test-{uuid.uuid4().hex[:8]}"


def store_on(kafka: HubSettings, topic: str) -> SchemaStore:
    return SchemaStore.from_settings(kafka, topic)


def read_topic(kafka: HubSettings, topic: str) -> list[tuple[dict[str, object], dict[str, object] | None]]:
    consumer = KafkaConsumer(**connection_config(kafka), enable_auto_commit=False, group_id=None)
    tp = TopicPartition(topic, 0)
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        out: list[tuple[dict[str, object], dict[str, object] | None]] = []
        deadline = time.monotonic() + 60
        while consumer.position(tp) < end:
            assert time.monotonic() < deadline, f"read {topic} to {consumer.position(tp)} of {end}"
            for records in consumer.poll(timeout_ms=1000).values():
                out.extend((json.loads(r.key), json.loads(r.value) if r.value is not None else None) for r in records)
        return out
    finally:
        consumer.close()


def test_the_store_creates_its_compacted_topic_and_writes_confluent_records(kafka: HubSettings, topic: str) -> None:
    with store_on(kafka, topic) as store:
        sv = store.register("case-value", schema("case_id"))
        store.set_level(Level.FULL, "case-value")
    report = apply_topics(kafka, [schemas_topic_spec(kafka, topic)])
    assert report.created == [] and report.drifted == [] and report.unchanged == [topic]
    assert read_topic(kafka, topic) == [
        (
            {"keytype": "SCHEMA", "subject": "case-value", "version": 1, "magic": 1},
            {"subject": "case-value", "version": 1, "id": sv.id, "schema": sv.schema, "deleted": False},
        ),
        ({"keytype": "CONFIG", "subject": "case-value", "magic": 0}, {"compatibilityLevel": "FULL"}),
    ]


def test_a_restarted_store_serves_the_same_ids_versions_levels_and_deletes(kafka: HubSettings, topic: str) -> None:
    with store_on(kafka, topic) as store:
        a1 = store.register("a-value", schema("x"))
        a2 = store.register("a-value", with_optional(schema("x"), "y"))
        b1 = store.register("b-value", schema("z", name="B"))
        shared = store.register("c-value", schema("x"))
        store.set_level(Level.NONE, "b-value")
        store.set_level(Level.FORWARD)
        store.delete_subject("c-value")
    with store_on(kafka, topic) as again:
        assert again.get_version("a-value", 1) == a1
        assert again.get_version("a-value", LATEST) == a2
        assert again.get_version("b-value", 1) == b1
        assert shared.id == a1.id
        assert again.subjects() == ["a-value", "b-value"]
        assert again.subject_level("b-value") is Level.NONE and again.global_level() is Level.FORWARD
        assert again.register("d-value", schema("q", name="D")).id == b1.id + 1
        assert again.register("a-value", schema("x")) == a1  # known: no new version


def test_a_refused_schema_writes_nothing(kafka: HubSettings, topic: str) -> None:
    with store_on(kafka, topic) as store:
        store.register("a-value", schema("x"))
        with pytest.raises(IncompatibleSchemaError) as info:
            store.register("a-value", schema("x", "beneficiaries"))
        assert "'beneficiaries'" in str(info.value)
    assert len(read_topic(kafka, topic)) == 1


def test_a_store_reads_what_another_writer_appended_before_it_writes(kafka: HubSettings, topic: str) -> None:
    with store_on(kafka, topic) as first:
        one = first.register("a-value", schema("x"))
        with store_on(kafka, topic) as second:
            two = second.register("b-value", schema("y", name="B"))
        three = first.register("c-value", schema("z", name="C"))
        assert (one.id, two.id, three.id) == (1, 2, 3)
        assert first.subjects() == ["a-value", "b-value", "c-value"]
