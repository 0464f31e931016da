"""``hub demo``: the main job, end to end, stopping whatever it started."""

from __future__ import annotations

import json
import time
import uuid

import typer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from rich.console import Console

from hub import topology
from hub.cli.main import settings_of
from hub.kafka_admin import apply_topics
from hub.orgunits import org_units
from hub.stack import LocalStack

console = Console()


def demo(ctx: typer.Context) -> None:
    """Run the demo: start Kafka, apply topics, move a few events, stop what was started."""
    settings = settings_of(ctx)
    t0 = time.monotonic()
    with LocalStack(settings, console) as stack:
        stack.ensure_kafka()
        specs = topology.expand(settings, org_units())
        with console.status(f"applying {len(specs)} topics…"):
            report = apply_topics(settings.bootstrap_list, specs)
        console.print(
            f"[green]✓[/] topics: {len(report.created)} created, {len(report.unchanged)} unchanged, "
            f"{len({d.topic for d in report.drifted})} drifted"
        )
        _round_trip(settings.bootstrap_list)
    console.print(f"demo finished in {time.monotonic() - t0:.1f}s")


def _round_trip(bootstrap: list[str]) -> None:
    run = uuid.uuid4().hex[:8]
    topic = f"_hub.smoke-{run}"  # throwaway: the declared topics only ever hold real events
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    try:
        _produce_consume(bootstrap, topic, run)
    finally:
        admin.delete_topics([topic])
        admin.close()


def _produce_consume(bootstrap: list[str], topic: str, run: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    try:
        sent = []
        for i in range(3):
            value = json.dumps({"demo_run": run, "n": i, "note": "demo smoke record"}).encode()
            meta = producer.send(topic, key=run.encode(), value=value).get(timeout=10)
            sent.append(meta)
        producer.flush()
    finally:
        producer.close()
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000
    )
    try:
        tp = TopicPartition(topic, sent[0].partition)
        consumer.assign([tp])
        consumer.seek(tp, sent[0].offset)
        got = [m for m, _ in zip(consumer, range(len(sent)), strict=False)]
    finally:
        consumer.close()
    console.print(
        f"[green]✓[/] produced {len(sent)} records to {topic} (offsets {sent[0].offset}..{sent[-1].offset}), "
        f"consumed {len(got)} back"
    )
