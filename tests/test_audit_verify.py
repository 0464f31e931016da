"""``hub audit verify`` on the real secured broker: a transfer log written as a replicator writes it verifies on
both sides; a copy of it with one record altered, dropped or moved, or with a prefix deleted, fails with one line
naming the flow, the seq and what is wrong, and exit 1.

The session broker plays both clusters of the flow ``cn->hk``: the test topology points ``cn`` and ``hk`` at it.
Every topic here is this module's own (``t-audit-<hex>.*``); nothing is written to a shared session topic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from kafka import TopicPartition

from hub.errors import BrokerError, KafkaAuthError
from hub.jurisdictions import cluster_settings, default_topology_file, load_topology
from hub.kafka_admin import apply_topics
from hub.kafka_clients import new_admin, new_producer
from hub.settings import HubSettings, load_settings
from hub.topology import TopicSpec
from hub.transfers.chain import ChainHead, append
from hub.transfers.log import read_log, read_transfer_log
from hub.transfers.record import Transfer, decode, encode, payload_digest, record_key
from hub.transfers.signing import SigningKey, load_or_create, signing_key_path
from hub.transfers.verify import verify
from hub.wire import frame
from tests.factories import kafka_env

HUB = str(Path(sys.executable).with_name("hub"))
BATCHES = (2, 1, 3, 2)
SOURCE_SCHEMA_ID, TARGET_SCHEMA_ID = 11, 4


@dataclass(frozen=True)
class LogWorld:
    """A flow's log on the session broker, and the CLI's environment to verify it with."""

    kafka: HubSettings
    prefix: str
    log_topic: str
    source_topic: str
    target_topic: str
    key: SigningKey
    env: dict[str, str]
    cwd: Path

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"


def _create(kafka: HubSettings, *names: str) -> None:
    apply_topics(kafka, [TopicSpec(n, 1, 1) for n in names], timeout_s=60)


def _produce(kafka: HubSettings, topic: str, values: Sequence[bytes], key: bytes = b"cn->hk") -> None:
    producer = new_producer(kafka, client_id="test-audit-verify")
    try:
        for value in values:
            producer.send(topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def _write_flow(kafka: HubSettings, world: LogWorld) -> None:
    """Source data in transactions; then per transaction the target copy and its record in one transaction,
    with an aborted transaction on the target in between that no reader may see."""
    tx = new_producer(kafka, client_id="test-audit-verify-tx", transactional_id=f"{world.prefix}-tx")
    try:
        tx.init_transactions()
        sources: list[list[tuple[int, bytes]]] = []
        for seq, size in enumerate(BATCHES, start=1):
            tx.begin_transaction()
            bodies = [f"{world.prefix}|{seq}|{i}".encode() for i in range(size)]
            futures = [tx.send(world.source_topic, value=frame(SOURCE_SCHEMA_ID, b)) for b in bodies]
            tx.commit_transaction()
            sources.append(
                [(f.get(timeout=30).offset, frame(SOURCE_SCHEMA_ID, b)) for f, b in zip(futures, bodies, strict=True)]
            )
        head = ChainHead.start()
        for seq, batch in enumerate(sources, start=1):
            if seq == 2:
                tx.begin_transaction()
                tx.send(world.target_topic, value=frame(TARGET_SCHEMA_ID, b"aborted"))
                tx.flush()
                tx.abort_transaction()
            tx.begin_transaction()
            futures = [tx.send(world.target_topic, value=frame(TARGET_SCHEMA_ID, v[5:])) for _, v in batch]
            tx.flush()
            offsets = [f.get(timeout=30).offset for f in futures]
            transfer = Transfer(
                source="cn",
                target="hk",
                source_topic=world.source_topic,
                target_topic=world.target_topic,
                partition=0,
                source_first=batch[0][0],
                source_last=batch[-1][0],
                target_first=offsets[0],
                target_last=offsets[-1],
                count=len(batch),
                payload_sha256=payload_digest(v for _, v in batch),
                replicated_at_ms=1_767_225_600_000 + seq,
                transactional_id=f"{world.prefix}-tx",
            )
            record, head = append(head, transfer, world.key)
            tx.send(world.log_topic, key=record_key(record.flow), value=encode(record))
            tx.commit_transaction()
    finally:
        tx.close()


@pytest.fixture(scope="module")
def world(kafka: HubSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogWorld]:
    prefix = f"t-audit-{uuid.uuid4().hex[:8]}"
    home = tmp_path_factory.mktemp("audit-verify")
    doc = yaml.safe_load(default_topology_file().read_text(encoding="utf-8"))
    for name in ("cn", "hk"):
        doc["jurisdictions"][name]["bootstrap_servers"] = kafka.bootstrap_servers
    topology_file = home / "topology.yaml"
    topology_file.write_text(yaml.safe_dump(doc), encoding="utf-8")
    base = load_settings(env_file=None, data_dir=home / "data", topology_file=topology_file)
    cn = cluster_settings(base, load_topology(base), "cn")
    key = load_or_create(signing_key_path(cn))  # cn publishes its public key beside its data folder
    env = {**kafka_env(kafka), "HUB_DATA_DIR": str(base.data_dir), "HUB_TOPOLOGY_FILE": str(topology_file)}
    w = LogWorld(kafka, prefix, f"{prefix}.transfers", f"{prefix}.src", f"{prefix}.dst", key, env, home)
    _create(kafka, w.log_topic, w.source_topic, w.target_topic)
    _write_flow(kafka, w)
    yield w


def _hub(world: LogWorld, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(world.env)
    return subprocess.run([HUB, *args], capture_output=True, text=True, env=env, cwd=world.cwd, timeout=300)


def _copy(world: LogWorld, name: str, values: Sequence[bytes]) -> str:
    topic = world.topic(f"copy-{name}")
    _create(world.kafka, topic)
    _produce(world.kafka, topic, values)
    return topic


def _values(world: LogWorld) -> list[bytes]:
    values = [e.value for e in read_log(world.kafka, world.log_topic)]
    assert all(v is not None for v in values)
    return [v for v in values if v is not None]


def test_the_log_verifies_on_both_sides_read_committed(world: LogWorld) -> None:
    for cluster in ("hk", "cn"):
        log = read_transfer_log(world.kafka, cluster=cluster, topic=world.log_topic)
        assert [e.partition for e in log.entries] == [0] * len(BATCHES)
        report = verify(log.entries, {"cn": [world.key.public]}, cluster=cluster, landed=log.landed)
        assert report.ok, [p.message for p in report.problems]
        [flow] = report.flows
        assert (flow.flow, flow.records, flow.last_seq) == ("cn->hk", len(BATCHES), len(BATCHES))
        [landed] = log.landed
        side_topic = world.target_topic if cluster == "hk" else world.source_topic
        assert (landed.topic, len(landed.records)) == (side_topic, sum(BATCHES)), "the aborted record is not read"


def test_the_cli_verifies_with_the_public_key_the_topology_points_at(world: LogWorld) -> None:
    proc = _hub(world, "audit", "verify", "--cluster", "hk", "--topic", world.log_topic)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"cn->hk: {len(BATCHES)} records checked, OK (last seq {len(BATCHES)})" in proc.stdout.splitlines()
    assert proc.stdout.splitlines()[-1] == "OK"
    proc = _hub(world, "--cluster", "cn", "audit", "verify", "--topic", world.log_topic, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["cluster"], doc["ok"], doc["landed_checked"]) == ("cn", True, True)
    assert doc["flows"][0]["records"] == len(BATCHES)


def test_an_altered_record_is_tampered(world: LogWorld) -> None:
    values = _values(world)
    genuine = decode(values[1]).transfer
    doc = json.loads(values[1])
    doc["target_topic"] = world.topic("elsewhere")
    values[1] = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    topic = _copy(world, "tampered", values)
    proc = _hub(world, "audit", "verify", "--cluster", "hk", "--topic", topic)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert f"cn->hk seq 2: tampered: {topic}[0]@1: the signature of key {world.key.key_id} does not hold" in lines
    assert (
        f"cn->hk seq 1: count-mismatch: 1 committed record of target {world.target_topic}[0] "
        f"(offsets {genuine.target_first}) is covered by no transfer record"
    ) in lines, "the data a forged record claims is covered by no trusted record"


def test_a_dropped_last_record_is_caught_by_the_landed_count(world: LogWorld) -> None:
    topic = _copy(world, "dropped-last", _values(world)[:-1])
    proc = _hub(world, "audit", "verify", "--cluster", "hk", "--topic", topic)
    assert proc.returncode == 1
    problems = [line for line in proc.stdout.splitlines() if line.startswith("cn->hk ")]
    assert problems == [
        f"cn->hk seq 3: count-mismatch: {BATCHES[-1]} committed records of target {world.target_topic}[0] "
        f"(offsets {_last_range(world)}) are covered by no transfer record"
    ]


def _last_range(world: LogWorld) -> str:
    last = decode(_values(world)[-1]).transfer
    return f"{last.target_first}..{last.target_last}"


def test_a_dropped_middle_record_is_a_gap(world: LogWorld) -> None:
    values = _values(world)
    topic = _copy(world, "dropped-middle", values[:1] + values[2:])
    proc = _hub(world, "audit", "verify", "--cluster", "hk", "--topic", topic)
    assert proc.returncode == 1
    assert "cn->hk seq 3: gap: seq 2 missing (seq 1 is followed by seq 3)" in proc.stdout.splitlines()


def test_a_swapped_pair_is_a_reorder(world: LogWorld) -> None:
    values = _values(world)
    values[1], values[2] = values[2], values[1]
    topic = _copy(world, "reordered", values)
    proc = _hub(world, "audit", "verify", "--cluster", "hk", "--topic", topic, "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    [problem] = doc["flows"][0]["problems"]
    assert (problem["kind"], problem["flow"]) == ("reorder", "cn->hk")
    assert problem["message"].endswith("is out of seq order in the log")


def test_a_deleted_prefix_is_a_gap(world: LogWorld) -> None:
    topic = _copy(world, "truncated", _values(world))
    admin = new_admin(world.kafka)
    try:
        admin.delete_records({TopicPartition(topic, 0): 2})
    finally:
        admin.close()
    proc = _hub(world, "audit", "verify", "--cluster", "hk", "--topic", topic)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert "cn->hk seq 3: gap: seqs 1..2 missing (the chain starts here)" in lines
    assert sum(": count-mismatch: " in line for line in lines) == 1


def test_a_key_given_on_the_command_line_counts_and_a_wrong_one_is_unknown(world: LogWorld) -> None:
    other = world.cwd / "other.pub.pem"
    other.write_bytes(SigningKey.generate().public_pem())
    env = {**world.env, "HUB_DATA_DIR": str(world.cwd / "elsewhere")}
    w = replace(world, env=env)
    proc = _hub(w, "audit", "verify", "--cluster", "hk", "--topic", world.log_topic, "--public-key", f"cn={other}")
    assert proc.returncode == 1
    assert f"cn->hk seq 1: unknown-key: {world.log_topic}[0]@0 is signed by key {world.key.key_id}" in proc.stdout
    mine = world.cwd / "cn.pub.pem"
    mine.write_bytes(world.key.public_pem())
    proc = _hub(w, "audit", "verify", "--cluster", "hk", "--topic", world.log_topic, "--public-key", f"cn={mine}")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_principal_without_read_on_the_log_gets_one_line(
    world: LogWorld, login_as: Callable[[str], HubSettings]
) -> None:
    partner = login_as("partner.hk")
    with pytest.raises(KafkaAuthError) as info:
        read_log(partner, world.log_topic)
    assert "User:partner.hk" in str(info.value) and "\n" not in str(info.value)


def test_a_log_topic_that_is_not_there_is_named(world: LogWorld) -> None:
    missing = world.topic("nowhere")
    with pytest.raises(BrokerError, match=f"{missing}"):
        read_log(world.kafka, missing)


def test_the_cli_names_what_it_needs(world: LogWorld) -> None:
    proc = _hub(world, "audit", "verify", "--topic", world.log_topic)
    assert proc.returncode == 1
    assert "hub audit verify --cluster NAME" in proc.stderr
    proc = _hub(world, "audit", "verify", "--cluster", "hk", "--public-key", "cn")
    assert proc.returncode == 1
    assert "--public-key 'cn': expected NAME=PATH" in proc.stderr
