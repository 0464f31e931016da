"""The replicator of one flow, in process, between real secured clusters with a registry each.

The flow ``cn -> hk`` runs on the session's region stack as its own principal
(``replicator.cn-hk``), so everything it does here its ACLs allow; tests that
must write records a flow refuses do so on the session's single broker under
aliases of their own. Fixtures: ``tests/fixtures/clusters.py``; helpers:
``tests/fixtures/replication.py``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from hub import kafka_acls, local_kafka, naming, topology
from hub.acl_plan import Operation
from hub.errors import KafkaAuthError, ReplicationError
from hub.kafka_admin import admin_client, apply_topics
from hub.orgunits import org_units
from hub.registry.client import RegistryClient
from hub.replication import engine, positions
from hub.replication.engine import Replicator, Tuning
from hub.replication.flow import FlowSpec
from hub.replication.metrics import serve
from hub.replication.progress import Progress
from hub.replication.transactions import TransactionalProducer
from hub.replication.wiring import setup
from hub.schemas import schema_text
from hub.settings import HubSettings
from hub.topology import TopicSpec
from hub.transfers.record import decode, record_key
from hub.transfers.signing import SigningKey
from tests.fixtures.clusters import RegionStack
from tests.fixtures.replication import (
    Side,
    event_ids,
    produce,
    read_committed,
    send_raw,
    single_broker_side,
    stack_side,
)


def stack_flow(stack: RegionStack, topics: str | None, **tuning: Any) -> Replicator:
    """The topology's flow cn -> hk (as replicator.cn-hk on both clusters), copying ``topics``."""
    found = setup(stack.base, "cn", "hk", topics)
    return found.replicator(
        tuning=Tuning(**tuning),
        stop=threading.Event(),
    )


def copy_all(stack: RegionStack, topics: str | None, **tuning: Any) -> Progress:
    return stack_flow(stack, topics, **tuning).run(until_caught_up=True)


def test_a_flow_copies_every_record_once_keeping_key_headers_timestamp_and_partition(
    region_stack: RegionStack,
) -> None:
    cn, hk = stack_side(region_stack, "cn"), stack_side(region_stack, "hk")
    topic = naming.shared_topic("gba", "CaseOpened")
    sent = produce(
        cn,
        topic,
        30,
        partition=lambda i: i % 3,
        timestamp_ms=lambda i: 1_780_000_000_000 + i,
        headers=lambda i: (("trace", f"t-{i}".encode()), ("empty", b"")),
    )
    done = copy_all(region_stack, r"shared\.gba\.case-opened", batch_records=7)
    assert done.records >= 30 and done.transactions >= 5
    copied = read_committed(hk.admin, [f"cn.{topic}"])
    ids = event_ids(copied, hk.registry_url)
    by_id = dict(zip(ids, copied, strict=True))
    for s in sent:
        r = by_id[s.event_id]
        assert (r.key, r.partition, r.timestamp, tuple(r.headers)) == (s.key, s.partition, s.timestamp_ms, s.headers)
    assert [i for i, n in Counter(ids).items() if n > 1] == []

    again = produce(cn, topic, 5)
    done = copy_all(region_stack, r"shared\.gba\.case-opened")
    assert done.records == 5, "a restarted flow resumes where it committed"
    counts = Counter(event_ids(read_committed(hk.admin, [f"cn.{topic}"]), hk.registry_url))
    assert {counts[s.event_id] for s in [*sent, *again]} == {1}


def test_the_copy_is_created_with_the_source_partitions_and_retention(region_stack: RegionStack) -> None:
    topic = naming.shared_topic("gba", "ProjectFunded")
    produce(stack_side(region_stack, "cn"), topic, 1, event_type="ProjectFunded")
    copy_all(region_stack, r"shared\.gba\.project-funded")
    admin = admin_client(region_stack.admin("hk"), 10)
    try:
        (meta,) = admin.describe_topics([f"cn.{topic}"])
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, f"cn.{topic}")])
    finally:
        admin.close()
    assert len(meta["partitions"]) == region_stack.clusters["cn"].shared_partitions
    assert configs["topic"][f"cn.{topic}"]["retention.ms"]["value"] == "-1"


def test_transfer_records_chain_on_both_clusters_and_name_where_the_copies_landed(region_stack: RegionStack) -> None:
    cn, hk = stack_side(region_stack, "cn"), stack_side(region_stack, "hk")
    topic = naming.shared_topic("gba", "VisitMade")
    sent = produce(cn, topic, 12, event_type="VisitMade", partition=lambda i: i % 2)
    first = {p: min(s.offset for s in sent if s.partition == p) for p in {s.partition for s in sent}}
    copy_all(region_stack, r"shared\.gba\.visit-made", batch_records=5)
    key = record_key("cn->hk")
    on_target = [decode(r.value) for r in read_committed(hk.admin, [naming.TRANSFERS_TOPIC]) if r.key == key]
    on_source = [decode(r.value) for r in read_committed(cn.admin, [naming.TRANSFERS_TOPIC]) if r.key == key]
    assert [r.seq for r in on_target] == list(range(1, len(on_target) + 1))
    assert [r.digest for r in on_source] == [r.digest for r in on_target]
    # the stack is shared: earlier tests' records of the topic were copied by earlier transactions
    mine = [
        r
        for r in on_target
        if r.transfer.source_topic == topic and r.transfer.source_first >= first.get(r.transfer.partition, 1 << 62)
    ]
    assert sum(r.transfer.count for r in mine) == 12
    signer = setup(region_stack.base, "cn", "hk").signing_key()
    assert {r.key_id for r in on_target} == {signer.key_id}, "signed with the source jurisdiction's key"
    copies = {(c.partition, c.offset) for c in read_committed(hk.admin, [f"cn.{topic}"])}
    for r in mine:
        assert r.transfer.target_topic == f"cn.{topic}"
        assert {
            (r.transfer.partition, r.transfer.target_first),
            (r.transfer.partition, r.transfer.target_last),
        } <= copies


def test_schema_ids_are_rewritten_and_a_standard_consumer_decodes_with_the_target_registry_alone(
    region_stack: RegionStack,
) -> None:
    from confluent_kafka import DeserializingConsumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import StringDeserializer

    cn, hk = stack_side(region_stack, "cn"), stack_side(region_stack, "hk")
    # A writer schema of this test's own (the shared schema plus an optional field): every gateway registers
    # the shared schemas in the same order, so the clusters' ids for those coincide; this one's may not.
    topic = naming.shared_topic("gba", "DonationReceived")
    writer = json.loads(schema_text("shared", "DonationReceived"))
    writer["fields"].append({"name": f"test_{uuid.uuid4().hex}", "type": ["null", "string"], "default": None})
    sent = produce(cn, topic, 6, event_type="DonationReceived", place="MO", schema=json.dumps(writer))
    (source_id,) = {s.schema_id for s in sent}
    with RegistryClient(hk.registry_url) as target_registry:
        padded = 0
        while padded <= source_id:  # the target's next ids are past the source's: keeping the id would be wrong
            schema = {"type": "record", "name": f"Pad{uuid.uuid4().hex}", "fields": []}
            padded = target_registry.register(f"test-replication-pad-{uuid.uuid4().hex}-value", schema)
        copy_all(region_stack, r"shared\.gba\.donation-received")
        latest = target_registry.get_latest(naming.subject_for(f"cn.{topic}"))
    with RegistryClient(cn.registry_url) as source_registry:
        assert latest.schema == source_registry.get_schema(source_id)
    copied = read_committed(hk.admin, [f"cn.{topic}"])  # the stack is shared: other tests' copies too
    assert latest.id != source_id, "the padding pushed the target's ids past the source's"
    ours = sorted(
        bytes(r.value[5:]) for r in read_committed(cn.admin, [topic]) if r.value[1:5] == source_id.to_bytes(4, "big")
    )
    assert len(ours) == len(sent)
    landed = {bytes(r.value[5:]): bytes(r.value[:5]) for r in copied if bytes(r.value[5:]) in set(ours)}
    assert sorted(landed) == ours
    assert set(landed.values()) == {b"\x00" + latest.id.to_bytes(4, "big")}, "every copy framed with the target's id"

    admin = hk.admin
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
            "value.deserializer": AvroDeserializer(SchemaRegistryClient({"url": hk.registry_url})),
        }
    )
    got: list[str] = []
    try:
        partitions = region_stack.clusters["cn"].shared_partitions
        consumer.assign([TopicPartition(f"cn.{topic}", p, 0) for p in range(partitions)])
        while len(got) < len(copied):
            msg = consumer.poll(10)
            assert msg is not None, f"decoded {len(got)} of {len(copied)}"
            assert msg.error() is None, msg.error()
            value: Any = msg.value()  # the AvroDeserializer's dict
            got.append(value["event_id"])
    finally:
        consumer.close()
    assert {s.event_id for s in sent} <= set(got)


@pytest.mark.parametrize("pattern", [r".*", r"raw\..*|shared\.gba\..*"])
def test_a_pattern_that_matches_raw_topics_gets_the_brokers_refusal_and_nothing_raw_lands(
    region_stack: RegionStack, pattern: str
) -> None:
    with pytest.raises(KafkaAuthError, match=r"denied User:replicator\.cn-hk DESCRIBE on topic raw\.") as caught:
        copy_all(region_stack, pattern)
    assert "\n" not in str(caught.value)
    admin = admin_client(region_stack.admin("hk"), 10)
    try:
        landed = [t for t in admin.list_topics() if t.startswith("cn.") and not t.startswith("cn.shared.gba.")]
    finally:
        admin.close()
    assert landed == []


def test_metrics_show_what_the_flow_copied_and_its_lag(region_stack: RegionStack) -> None:
    import httpx

    topic = naming.shared_topic("gba", "WorkerCertified")
    produce(stack_side(region_stack, "cn"), topic, 4, event_type="WorkerCertified")
    flow = stack_flow(region_stack, r"shared\.gba\.worker-certified")
    server = serve(flow.progress)
    try:
        done = flow.run(until_caught_up=True)
        text = httpx.get(server.url, timeout=10).text
    finally:
        server.close()
    assert done.records >= 4
    assert f'hub_replication_records_total{{flow="cn-hk"}} {float(done.records)}' in text
    lags = [line for line in text.splitlines() if line.startswith("hub_replication_lag_records{") and topic in line]
    assert len(lags) == region_stack.clusters["cn"].shared_partitions
    assert {float(line.rsplit(" ", 1)[1]) for line in lags} == {0.0}


def test_a_source_log_left_short_by_a_failure_after_the_commit_catches_up_at_the_next_start(
    region_stack: RegionStack,
) -> None:
    cn, hk = stack_side(region_stack, "cn"), stack_side(region_stack, "hk")
    topic = naming.shared_topic("gba", "CaseOpened")
    copy_all(region_stack, None)  # whatever earlier tests left: both logs equal from here on
    produce(cn, topic, 9, partition=lambda i: i % 3)
    granted = kafka_acls.current(cn.admin)
    write = [
        e
        for e in granted
        if e.principal == "User:replicator.cn-hk"
        and e.name == naming.TRANSFERS_TOPIC
        and e.operation == Operation.WRITE
    ]
    assert len(write) == 1
    kafka_acls.apply(cn.admin, [e for e in granted if e not in write])
    try:  # the target commits, then appending to the source's log is refused
        refused = r"denied User:replicator\.cn-hk WRITE on topic hub\.transfers: no ACL allows it"
        with pytest.raises(KafkaAuthError, match=refused):
            copy_all(region_stack, r"shared\.gba\.case-opened")
    finally:
        kafka_acls.apply(cn.admin, granted)
    key = record_key("cn->hk")

    def log(side: Side) -> list[str]:
        return [decode(r.value).digest for r in read_committed(side.admin, [naming.TRANSFERS_TOPIC]) if r.key == key]

    short, full = log(cn), log(hk)
    assert len(short) < len(full) and full[: len(short)] == short
    copy_all(region_stack, r"shared\.gba\.case-opened")
    assert log(cn) == log(hk) == full, "the next start appended exactly what the source lacked"


def test_a_commit_the_target_acknowledged_but_lost_is_copied_again_and_never_reaches_the_source_log(
    region_stack: RegionStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cn, hk = stack_side(region_stack, "cn"), stack_side(region_stack, "hk")
    topic = naming.shared_topic("gba", "CaseOpened")
    copy_all(region_stack, None)  # both logs equal from here on
    sent = produce(cn, topic, 20, partition=lambda i: i % 2)
    flow = stack_flow(region_stack, r"shared\.gba\.case-opened", batch_records=5)
    lost: list[int] = []

    class LosesItsSecondCommit(engine.TransactionalProducer):
        """A target broker that answers the flow's second commit as done, then holds it aborted."""

        commits = 0

        def commit(self) -> None:
            if self.transactional_id == flow.flow.transactional_id:
                LosesItsSecondCommit.commits += 1
                if LosesItsSecondCommit.commits == 2:
                    lost.append(1)
                    self._finish(commit=False)
                    return
            super().commit()

    monkeypatch.setattr(engine, "TransactionalProducer", LosesItsSecondCommit)
    with caplog.at_level(logging.WARNING, logger="hub.replication"):
        done = flow.run(until_caught_up=True)
    assert lost == [1] and done.restarts >= 1
    assert "the target acknowledged the commit of seq" in caplog.text
    counts = Counter(event_ids(read_committed(hk.admin, [f"cn.{topic}"]), hk.registry_url))
    assert {counts[s.event_id] for s in sent} == {1}, "the lost transaction's records were copied again, once"
    key = record_key("cn->hk")
    on_target = [decode(r.value) for r in read_committed(hk.admin, [naming.TRANSFERS_TOPIC]) if r.key == key]
    on_source = [decode(r.value) for r in read_committed(cn.admin, [naming.TRANSFERS_TOPIC]) if r.key == key]
    assert [r.seq for r in on_target] == list(range(1, len(on_target) + 1)), "no gap where the lost commit was"
    assert [r.digest for r in on_source] == [r.digest for r in on_target]


def test_closing_a_producer_whose_broker_does_not_answer_leaves_no_sender_behind(region_stack: RegionStack) -> None:
    hk = region_stack.admin("hk")
    topic = f"t-close-{uuid.uuid4().hex[:8]}"
    apply_topics(hk, [TopicSpec(topic, 1, 1, {})])
    producer = TransactionalProducer(hk, transactional_id=f"test.{topic}", client_id=topic, timeout_s=2.0)
    pid = local_kafka.running_pid(hk)
    assert pid is not None
    producer.begin()
    producer.offsets([producer.send(topic, b"written")])  # the topic's metadata is known from here on
    os.kill(pid, signal.SIGSTOP)
    try:
        producer.send(topic, b"pending")
        producer.close(0)  # kafka-python's own close raises here, its sender left running
        sender = producer._producer._sender
        assert not sender.is_alive(), "a zombie with the flow's transactional id would go on retrying"
    finally:
        os.kill(pid, signal.SIGCONT)


# -- on the single-cluster session broker: records a flow must refuse ------------------------------------
def single_flow(side: Side, alias: str, topics: str) -> Replicator:
    flow = FlowSpec.of(alias, "hk", topics)
    declared = {s.name: dict(s.config) for s in topology.expand(side.admin, org_units())}
    return Replicator(
        flow,
        side.admin,
        side.admin,
        declared=declared,
        aliases={"cn", "hk", "mo", alias},
        signing_key=SigningKey.generate(),
        stop=threading.Event(),
    )


def test_an_unframed_record_stops_the_flow_naming_where_it_is_and_nothing_of_its_batch_lands(
    kafka: HubSettings, registry: str
) -> None:
    side = single_broker_side(kafka, registry)
    # a zone of its own: an unframed record in the session's gba or mainland topics would reach other tests
    topic = naming.shared_topic(f"t{uuid.uuid4().hex[:8]}", "CaseClosed")
    apply_topics(kafka, [TopicSpec(topic, 3, 1, dict(topology.FOREVER))])
    produce(side, topic, 2, event_type="CaseClosed", partition=lambda i: 1)
    send_raw(side, topic, b"not avro", partition=1)
    with pytest.raises(ReplicationError) as caught:
        single_flow(side, "rd", re.escape(topic)).run(until_caught_up=True)
    found = re.search(rf"{re.escape(topic)} partition (\d+) offset (\d+): ", str(caught.value))
    assert found, str(caught.value)
    partition, offset = int(found[1]), int(found[2])
    reached = positions.fold(
        "rd-hk", ((r.key, r.value) for r in read_committed(kafka, [naming.REPLICATION_OFFSETS_TOPIC]))
    )
    assert reached.positions.get((topic, partition), 0) <= offset, "nothing at or past the refused record committed"


def test_a_target_topic_with_another_partition_count_is_refused(kafka: HubSettings, registry: str) -> None:
    side = single_broker_side(kafka, registry)
    # a zone of its own: a copy of a gba topic on the session broker would be read by its gba subscribers
    topic = naming.shared_topic(f"t{uuid.uuid4().hex[:8]}", "TrainingHeld")
    apply_topics(
        kafka, [TopicSpec(topic, 3, 1, dict(topology.FOREVER)), TopicSpec(f"re.{topic}", 1, 1, dict(topology.FOREVER))]
    )
    with pytest.raises(ReplicationError, match=rf"re\.{re.escape(topic)} has 1 partitions on the target, its source 3"):
        single_flow(side, "re", re.escape(topic)).run(until_caught_up=True)
