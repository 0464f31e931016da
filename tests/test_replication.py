"""The replicator of one flow, in process, between two real secured clusters with a registry each.

Source: a second broker of the session (its shared topics hold only these
tests' records); target: the session's broker and registry. Each test copies
under a source alias of its own, so the copies it reads are its own.
Fixtures: ``tests/fixtures/replication.py``.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import pytest

from hub import naming, topology
from hub.errors import ReplicationError
from hub.kafka_admin import apply_topics
from hub.orgunits import org_units
from hub.registry.client import RegistryClient
from hub.replication.engine import Replicator, Tuning
from hub.replication.flow import FlowSpec
from hub.replication.progress import Progress
from hub.topology import TopicSpec
from hub.transfers.record import decode, record_key
from hub.transfers.signing import SigningKey
from tests.fixtures.replication import (  # noqa: F401 - fixtures
    Pair,
    Side,
    event_ids,
    produce,
    read_committed,
    replica_source,
    replication_pair,
    send_raw,
)

KEY = SigningKey.generate()


def replicator(pair: Pair, alias: str, topics: str, **tuning: object) -> Replicator:
    flow = FlowSpec.of(alias, "hk", topics)
    declared = {s.name: dict(s.config) for s in topology.expand(pair.source.admin, org_units())}
    return Replicator(
        flow,
        pair.source.admin,
        pair.target.admin,
        declared=declared,
        aliases={"cn", "hk", "mo", alias},
        signing_key=KEY,
        tuning=Tuning(**tuning),  # type: ignore[arg-type]
        stop=threading.Event(),
    )


def copy_all(pair: Pair, alias: str, topics: str, **tuning: object) -> Progress:
    return replicator(pair, alias, topics, **tuning).run(until_caught_up=True)


def test_a_flow_copies_every_record_once_keeping_key_headers_timestamp_and_partition(
    replication_pair: Pair,  # noqa: F811 - the fixture imported above
) -> None:
    pair, topic = replication_pair, naming.shared_topic("gba", "CaseOpened")
    sent = produce(
        pair.source,
        topic,
        30,
        partition=lambda i: i % 3,
        timestamp_ms=lambda i: 1_780_000_000_000 + i,
        headers=lambda i: (("trace", f"t-{i}".encode()), ("empty", b"")),
    )
    done = copy_all(pair, "ra", r"shared\.gba\.case-opened", batch_records=7)
    assert done.records >= 30 and done.transactions >= 5
    copied = read_committed(pair.target.admin, [f"ra.{topic}"])
    mine = {s.event_id: s for s in sent}
    by_id = dict(zip(event_ids(copied, pair.target.registry_url), copied, strict=True))
    assert set(mine) <= set(by_id)
    for event_id, s in mine.items():
        r = by_id[event_id]
        assert (r.key, r.partition, r.timestamp, tuple(r.headers)) == (s.key, s.partition, s.timestamp_ms, s.headers)
    assert not [i for i, n in Counter(event_ids(copied, pair.target.registry_url)).items() if n > 1]

    again = produce(pair.source, topic, 5)
    done = copy_all(pair, "ra", r"shared\.gba\.case-opened")
    assert done.records == 5, "a restarted flow resumes where it committed"
    ids = Counter(event_ids(read_committed(pair.target.admin, [f"ra.{topic}"]), pair.target.registry_url))
    assert all(ids[s.event_id] == 1 for s in [*sent, *again])


def test_transfer_records_chain_on_both_clusters_and_match_the_copies(replication_pair: Pair) -> None:  # noqa: F811
    pair, topic = replication_pair, naming.shared_topic("gba", "VisitMade")
    produce(pair.source, topic, 12, event_type="VisitMade", partition=lambda i: i % 2)
    copy_all(pair, "rb", r"shared\.gba\.visit-made", batch_records=5)
    key = record_key("rb->hk")
    on_target = [decode(r.value) for r in read_committed(pair.target.admin, [naming.TRANSFERS_TOPIC]) if r.key == key]
    on_source = [decode(r.value) for r in read_committed(pair.source.admin, [naming.TRANSFERS_TOPIC]) if r.key == key]
    assert [r.seq for r in on_target] == list(range(1, len(on_target) + 1))
    assert [r.digest for r in on_source] == [r.digest for r in on_target]
    assert sum(r.transfer.count for r in on_target) == 12
    for r in on_target:
        assert r.transfer.target_topic == f"rb.{topic}" and r.transfer.source_topic == topic
        assert r.key_id == KEY.key_id
    copies = read_committed(pair.target.admin, [f"rb.{topic}"])
    where = {(c.partition, c.offset) for c in copies}
    for r in on_target:
        assert (r.transfer.partition, r.transfer.target_first) in where
        assert (r.transfer.partition, r.transfer.target_last) in where


def test_schema_ids_are_rewritten_and_a_standard_consumer_decodes_with_the_target_registry_alone(
    replication_pair: Pair,  # noqa: F811 - the fixture imported above
) -> None:
    from confluent_kafka import DeserializingConsumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import StringDeserializer

    pair, topic = replication_pair, naming.shared_topic("gba", "DonationReceived")
    sent = produce(pair.source, topic, 6, event_type="DonationReceived", place="MO")
    (source_id,) = {s.schema_id for s in sent}
    with RegistryClient(pair.target.registry_url) as target_registry:
        padded = 0
        while padded <= source_id:  # the target's next id is past the source's: the same id would be wrong
            schema = {"type": "record", "name": f"Pad{uuid.uuid4().hex}", "fields": []}
            padded = target_registry.register(f"test-replication-pad-{uuid.uuid4().hex}-value", schema)
        copy_all(pair, "rc", r"shared\.gba\.donation-received")
        latest = target_registry.get_latest(naming.subject_for(f"rc.{topic}"))
    with RegistryClient(pair.source.registry_url) as source_registry:
        assert latest.schema == source_registry.get_schema(source_id)
    copied = read_committed(pair.target.admin, [f"rc.{topic}"])
    assert {r.value[:5] for r in copied if r.value} == {b"\x00" + latest.id.to_bytes(4, "big")}
    assert latest.id != source_id
    bodies = sorted(bytes(r.value[5:]) for r in copied if r.value)
    assert bodies == sorted(bytes(r.value[5:]) for r in read_committed(pair.source.admin, [topic]) if r.value)

    admin = pair.target.admin
    consumer = DeserializingConsumer(
        {
            "bootstrap.servers": admin.bootstrap_servers,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": admin.kafka_sasl_username,
            "sasl.password": admin.kafka_sasl_password.get_secret_value(),
            "group.id": "test-replication-standard",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "key.deserializer": StringDeserializer("utf_8"),
            "value.deserializer": AvroDeserializer(SchemaRegistryClient({"url": pair.target.registry_url})),
        }
    )
    got: list[str] = []
    try:
        consumer.assign([TopicPartition(f"rc.{topic}", p, 0) for p in range(3)])
        while len(got) < len(copied):
            msg = consumer.poll(10)
            assert msg is not None, f"decoded {len(got)} of {len(copied)}"
            assert msg.error() is None, msg.error()
            value: Any = msg.value()  # the AvroDeserializer's dict
            got.append(value["event_id"])
    finally:
        consumer.close()
    assert sorted(got) == sorted(s.event_id for s in sent)


def test_an_unframed_record_stops_the_flow_naming_where_it_is(replication_pair: Pair) -> None:  # noqa: F811
    pair, topic = replication_pair, naming.shared_topic("gba", "CaseClosed")
    produce(pair.source, topic, 2, event_type="CaseClosed", partition=lambda i: 1)
    offset = send_raw(pair.source, topic, b"not avro", partition=1)
    with pytest.raises(ReplicationError, match=rf"{topic} partition 1 offset {offset}: .*magic byte"):
        copy_all(pair, "rd", r"shared\.gba\.case-closed")
    assert read_committed(pair.target.admin, [f"rd.{topic}"]) == [], "nothing of the failed batch landed"


def test_a_target_topic_with_another_partition_count_is_refused(replication_pair: Pair) -> None:  # noqa: F811
    pair, topic = replication_pair, naming.shared_topic("gba", "TrainingHeld")
    produce(pair.source, topic, 1, event_type="TrainingHeld")
    apply_topics(pair.target.admin, [TopicSpec(f"re.{topic}", 1, 1, dict(topology.FOREVER))])
    with pytest.raises(ReplicationError, match=rf"re\.{topic} has 1 partitions on the target, its source 3"):
        copy_all(pair, "re", r"shared\.gba\.training-held")
