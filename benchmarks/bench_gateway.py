"""Throughput of one gateway worker: events/s crossing a backlog of raw events.

Starts a throwaway Kafka broker and schema registry on free ports in a
temporary data directory, applies the topic layout, publishes N raw events
(the demo stream of ``hub.demo_data``, all five regions), then starts one
gateway (``hub gateway run`` as a managed process) and times from the moment
it consumes until ``hub.audit`` holds N records. Prints the rate.

    .venv/bin/python benchmarks/bench_gateway.py --events 20000

Not a test: nothing is asserted, the figure depends on the machine.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import tempfile
import time
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from hub import broker, demo_data, naming, topology
from hub.agreement_keys import write_demo_secrets
from hub.agreements import default_agreements_dir, load_agreements
from hub.gateway import service
from hub.kafka_admin import apply_topics
from hub.orgunits import org_units
from hub.publisher import Ack, Publisher
from hub.registry import service as registry_service
from hub.registry.client import RegistryClient
from hub.settings import HubSettings, load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sample(n: int, seed: int) -> list[dict[str, object]]:
    """``n`` demo events, round-robin over districts so every region is represented."""
    by_district: dict[str, list[dict[str, object]]] = {}
    for doc in demo_data.generate(seed):
        by_district.setdefault(str(doc["district"]), []).append(doc)
    streams = [iter(v) for v in by_district.values()]
    out: list[dict[str, object]] = []
    for doc in itertools.chain.from_iterable(itertools.zip_longest(*streams)):
        if doc is not None:
            out.append(doc)
            if len(out) == n:
                break
    return out


def audit_total(settings: HubSettings) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_list)
    try:
        parts = consumer.partitions_for_topic(naming.AUDIT_TOPIC) or set()
        ends = consumer.end_offsets([TopicPartition(naming.AUDIT_TOPIC, p) for p in parts])
        return int(sum(ends.values()))
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="raw events to publish and cross")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hub-bench-gateway-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        base = load_settings(
            env_file=None,
            data_dir=data_dir,
            kafka_port=port,
            kafka_controller_port=free_port(),
            bootstrap_servers=f"127.0.0.1:{port}",
            kafka_heap="768m",
            secrets_file=data_dir / "secrets.env",
        )
        broker.start(base)
        try:
            apply_topics(base.bootstrap_list, topology.expand(base, org_units()), timeout_s=60)
            reg = registry_service.start(base, port=free_port(), timeout_s=120)
            settings = base.model_copy(update={"schema_registry_url": reg.url})
            write_demo_secrets(data_dir / "secrets.env", load_agreements(default_agreements_dir()).values())
            docs = sample(args.events, args.seed)
            t0 = time.perf_counter()
            with RegistryClient(reg.url) as registry, Publisher(settings, registry) as pub:
                results = pub.publish_many(docs)
            rejected = [r for r in results if not isinstance(r, Ack)]
            published = len(results) - len(rejected)
            print(f"published {published} raw events in {time.perf_counter() - t0:.1f}s ({len(rejected)} rejected)")
            environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
            started = time.perf_counter()
            service.start(settings, environ=environ, timeout_s=120, loglevel="warn")
            ready = time.perf_counter()
            print(f"gateway consuming after {ready - started:.1f}s")
            total = 0
            while total < published:
                time.sleep(0.2)
                total = audit_total(settings)
            elapsed = time.perf_counter() - ready
            print(f"crossed {published} events in {elapsed:.1f}s: {published / elapsed:.0f} events/s (one worker)")
            service.stop(settings)
            registry_service.stop(settings)
        finally:
            broker.stop(base)


if __name__ == "__main__":
    main()
