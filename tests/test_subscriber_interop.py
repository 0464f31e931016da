"""Standard Kafka clients read the hub's shared topics through the hub's registry, as docs/subscribers.md shows.

A plain confluent-kafka consumer decodes the hub's messages, and each documented
snippet runs as its own process against the real broker and registry.
Fixtures: ``tests/fixtures/subscribers.py``.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.principals import partner_group_prefix, partner_principal
from hub.settings import HubSettings
from tests.partner_events import SharedProducer, as_decoded, event

DOCS = Path(__file__).resolve().parents[1] / "docs" / "subscribers.md"


def test_a_standard_client_decodes_the_hubs_messages_through_the_hubs_registry(
    subscriber_settings: HubSettings,
    registry: str,
    subscriber_producer: SharedProducer,
    login_as: Callable[[str], HubSettings],
) -> None:
    from confluent_kafka import DeserializingConsumer, TopicPartition
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import StringDeserializer

    crossings = [event("DonationReceived", "HK"), event("CaseOpened", "MO"), event("ProjectEvaluated", "SZ")]
    produced = subscriber_producer.send(crossings, zones=["gba"])
    by_coords = {(p.topic, p.partition, p.offset): c for p, c in zip(produced, crossings, strict=True)}
    hk = login_as(partner_principal("hk"))
    consumer = DeserializingConsumer(
        {
            "bootstrap.servers": hk.bootstrap_servers,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": hk.kafka_sasl_username,
            "sasl.password": hk.kafka_sasl_password.get_secret_value(),
            "group.id": f"{partner_group_prefix('hk')}standard-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "key.deserializer": StringDeserializer("utf_8"),
            "value.deserializer": AvroDeserializer(SchemaRegistryClient({"url": registry})),
        }
    )
    got: dict[tuple[str, int, int], Any] = {}
    try:
        consumer.assign([TopicPartition(p.topic, p.partition, p.offset) for p in produced])
        deadline = time.monotonic() + 60
        while len(got) < len(produced):
            assert time.monotonic() < deadline, f"read {len(got)} of {len(produced)}"
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            coords = (msg.topic(), msg.partition(), msg.offset())
            if coords in by_coords:
                got[coords] = msg
    finally:
        consumer.close()
    for coords, msg in got.items():
        c = by_coords[coords]
        assert msg.key() == c.key
        assert msg.value() == as_decoded(c.event_type, c.shared_record)


def _snippet(name: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"<!-- snippet: {re.escape(name)} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"docs/subscribers.md has no snippet {name}"
    return match.group(1)


@pytest.mark.parametrize("name", ["confluent-kafka", "kafka-python"])
def test_the_documented_snippets_read_a_shared_topic(
    name: str,
    subscriber_settings: HubSettings,
    registry: str,
    subscriber_producer: SharedProducer,
    tmp_path: Path,
    login_as: Callable[[str], HubSettings],
) -> None:
    produced = subscriber_producer.send([event("VisitMade", "HK"), event("CaseOpened", "MO")], zones=["gba"])
    wanted = {p.event_id for p in produced}
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    hk = login_as(partner_principal("hk"))  # the broker's ACLs, not the snippet, keep it to shared.gba.*
    env.update(
        KAFKA_BOOTSTRAP=hk.bootstrap_servers,
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_USERNAME=hk.kafka_sasl_username,
        KAFKA_PASSWORD=hk.kafka_sasl_password.get_secret_value(),
        SCHEMA_REGISTRY_URL=registry,
        GROUP_ID=f"{partner_group_prefix('hk')}doc-{uuid.uuid4().hex[:8]}",
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", _snippet(name)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None

    def _pump() -> None:
        for line in proc.stdout or ():
            lines.put(line)

    threading.Thread(target=_pump, daemon=True).start()
    seen: set[str] = set()
    try:
        deadline = time.monotonic() + 90
        while not wanted <= seen:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, f"the snippet printed {len(seen)} events, not ours"
            try:
                topic, _partition, _offset, event_id = lines.get(timeout=0.5).split()
            except queue.Empty:
                continue
            assert topic.startswith("shared.gba.")
            seen.add(event_id)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
