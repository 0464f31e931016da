"""Publish rate: SDK and HTTP ingest against raw kafka-python and confluent-kafka baselines, in one run.

    .venv/bin/python benchmarks/bench_publish.py [--quick] [--events 20000] [--batch 500] [--json PATH]

Starts its own broker and registry (temp dir, free ports). The same Nanshan
demo events go through these paths; ratios are against the baselines measured
in the same run, because the machine is noisy:
- baseline: kafka-python producer (the hub's producer settings) sending pre-encoded bytes;
- baseline: confluent-kafka (librdkafka) producer sending the same bytes, acks=all, idempotent,
  the same SASL/SCRAM login (:func:`hub.kafka_clients.confluent_config`);
- SDK: ``Publisher.publish_many`` from JSON-form dicts (validate + encode + send), batches of ``--batch``;
- HTTP: ``POST /v1/events`` batches to ``hub ingest serve`` (a separate process), one client.
SDK and HTTP run twice: with the default kafka-python producer, and with the
librdkafka one (``Publisher(client="confluent")``, ``hub ingest serve --kafka-client confluent``).

Each path runs once per round, the rounds interleaved, and the best round counts
(``--rounds``, default 3). ``--quick`` sends 5,000 events instead of 20,000, one round.
Beside each rate the report gives the publishing process's CPU time per event
(user + system; the ingest server's for HTTP), which a busy neighbour blurs far
less than the clock does. Every delivery is checked
(an unacknowledged record fails the run), so a figure is never of lost records.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import Report
from benchmarks._stack import free_port, local_stack
from demo import stream as demo_data
from hub import tokens
from hub.kafka_clients import ProducerClient, confluent_config, new_producer
from hub.publishing.publisher import Ack, Publisher
from hub.registry.client import RegistryClient
from hub.settings import HubSettings
from hub.validation import validate_event

KAFKA_PYTHON = "kafka-python, pre-encoded"
CONFLUENT = "confluent-kafka, pre-encoded"


def _one_per_topic(encoded: list[tuple[str, bytes, bytes]]) -> list[tuple[str, bytes, bytes]]:
    """The first record of each topic: a warm-up, as the SDK and HTTP paths get one."""
    return list({topic: (topic, key, value) for topic, key, value in reversed(encoded)}.values())


class Measured(NamedTuple):
    """One timed pass: events/s on the clock, and CPU microseconds per event of the process that publishes."""

    rate: float
    cpu_us: float


def _server_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_kafka_python(settings: HubSettings, encoded: list[tuple[str, bytes, bytes]]) -> Measured:
    """events/s of the hub's kafka-python producer sending pre-encoded records (every one acknowledged)."""
    producer = new_producer(settings, client_id="hub-bench-baseline", timeout_s=30.0)
    try:
        for topic, key, value in _one_per_topic(encoded):  # metadata and connections before the clock starts
            producer.send(topic, key=key, value=value)
        producer.flush()
        t, cpu = time.perf_counter(), time.process_time()
        futures = [producer.send(topic, key=key, value=value) for topic, key, value in encoded]
        producer.flush()
        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        failed = [f for f in futures if not f.succeeded()]
        assert not failed, f"kafka-python: {len(failed)} records not acknowledged: {failed[0].exception}"
    finally:
        producer.close()
    return Measured(len(encoded) / elapsed, cpu / len(encoded) * 1e6)


def raw_confluent(settings: HubSettings, encoded: list[tuple[str, bytes, bytes]]) -> Measured:
    """events/s of a librdkafka producer (acks=all, idempotent, same login) sending the same records."""
    from confluent_kafka import Producer  # a dev dependency, only the baseline needs it

    producer = Producer(confluent_config(settings, client_id="hub-bench-confluent", timeout_s=30.0))
    errors: list[Any] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    for topic, key, value in _one_per_topic(encoded):  # connect, log in, metadata before the clock starts
        producer.produce(topic, value=value, key=key, on_delivery=delivered)
    producer.flush(30)
    t, cpu = time.perf_counter(), time.process_time()
    for topic, key, value in encoded:
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=delivered)
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                producer.poll(0.01)
        producer.poll(0)
    remaining = producer.flush(30)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    assert remaining == 0 and not errors, f"confluent-kafka: {remaining} undelivered, errors {errors[:1]}"
    return Measured(len(encoded) / elapsed, cpu / len(encoded) * 1e6)


def sdk(
    settings: HubSettings,
    registry: RegistryClient,
    docs: list[dict[str, Any]],
    batch: int,
    client: ProducerClient = "kafka-python",
) -> Measured:
    """events/s of ``Publisher.publish_many`` from JSON-form dicts, ``batch`` at a time."""
    with Publisher(settings, registry, client=client) as pub:
        pub.publish_many(docs[:batch])  # warm-up: connect, register subjects (these events are sent twice)
        t, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(docs), batch):
            results = pub.publish_many(docs[i : i + batch])
            bad = [r for r in results if not isinstance(r, Ack)]
            assert not bad, bad[0]
        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        return Measured(len(docs) / elapsed, cpu / len(docs) * 1e6)


def http(
    settings: HubSettings, docs: list[dict[str, Any]], batch: int, client: ProducerClient = "kafka-python"
) -> Measured:
    """events/s of ``POST /v1/events`` batches to ``hub ingest serve`` in its own process."""
    token, entry = tokens.issue("publisher", district="shenzhen-nanshan", name="bench")
    tokens_file = settings.data_dir / "tokens.json"
    tokens.add_token(tokens_file, entry)
    port = free_port()
    # no login given: the server logs in as each district's principal from the stack's local logins
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
        HUB_SCHEMA_REGISTRY_URL=settings.schema_registry_url,
        HUB_DATA_DIR=str(settings.data_dir),
    )
    hub = str(Path(sys.executable).with_name("hub"))
    server = subprocess.Popen(
        [
            *(hub, "ingest", "serve", "--port", str(port), "--tokens-file", str(tokens_file)),
            *("--log-level", "warning", "--requests-per-second", "100000", "--burst", "100000"),
            *("--kafka-client", client),
        ],
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for _ in range(150):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            bodies = [json.dumps(docs[i : i + batch]).encode() for i in range(0, len(docs), batch)]
            warm = client.post("/v1/events", content=bodies[0])  # connect, register subjects
            assert warm.status_code == 202, warm.text[:300]
            t, cpu = time.perf_counter(), _server_cpu_s(server.pid)
            for body in bodies:
                resp = client.post("/v1/events", content=body)
                assert resp.status_code == 202, resp.text[:300]
            elapsed, cpu = time.perf_counter() - t, _server_cpu_s(server.pid) - cpu
            return Measured(len(docs) / elapsed, cpu / len(docs) * 1e6)
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=None, help="events per path (default 20000; --quick 5000)")
    parser.add_argument("--quick", action="store_true", help="fewer events (5000), for a smoke run")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--skip-http", action="store_true", help="leave out the HTTP ingest path")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per path, best kept (default 3; --quick 1)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the report as JSON here")
    args = parser.parse_args()
    wanted = args.events or (5000 if args.quick else 20000)
    args.rounds = max(1, args.rounds or (1 if args.quick else 3))

    report = Report("publish")
    nanshan = (d for d in demo_data.generate(7) if d["district"] == "shenzhen-nanshan")
    docs = list(itertools.islice(nanshan, wanted))
    n = len(docs)
    with local_stack("hub-bench-publish-") as settings:
        registry = RegistryClient(settings.schema_registry_url)
        with Publisher(settings, registry) as pub:
            encoded = [pub.encode(validate_event(d)) for d in docs]  # also registers every subject once
        report.notes.append(
            f"{n} Nanshan demo events ({sum(len(v) for _, _, v in encoded) / n:.0f} bytes framed Avro on average), "
            f"SDK and HTTP in batches of {args.batch}; acks=all, idempotent, SASL_PLAINTEXT SCRAM on loopback"
        )
        # every path once per round, interleaved, and the best round kept: a noisy neighbour then slows one
        # round of every path rather than one path of the run
        best: dict[str, float] = {}
        cpu: dict[str, float] = {}
        clients: tuple[tuple[ProducerClient, str], ...] = (("kafka-python", ""), ("confluent", ", librdkafka producer"))
        for _ in range(args.rounds):
            paths: list[tuple[str, Callable[[], Measured]]] = [
                (KAFKA_PYTHON, lambda: raw_kafka_python(settings, encoded)),
                (CONFLUENT, lambda: raw_confluent(settings, encoded)),
            ]
            for client, label in clients:
                paths.append(
                    (f"SDK publish_many{label}", lambda c=client: sdk(settings, registry, docs, args.batch, c))
                )
            if not args.skip_http:
                for client, label in clients:
                    paths.append((f"HTTP POST /v1/events{label}", lambda c=client: http(settings, docs, args.batch, c)))
            for name, measure in paths:
                got = measure()
                best[name] = max(best.get(name, 0.0), got.rate)
                cpu[name] = min(cpu.get(name, float("inf")), got.cpu_us)
    report.add(KAFKA_PYTHON, best[KAFKA_PYTHON], "events/s")
    report.add(CONFLUENT, best[CONFLUENT], "events/s")
    for name in list(best)[2:]:
        sdk_path = name.startswith("SDK")
        report.add(name, best[name], "events/s", baseline=KAFKA_PYTHON, target=0.7 if sdk_path else None)
        report.add(
            f"{name} (vs librdkafka)", best[name], "events/s", baseline=CONFLUENT, target=0.15 if sdk_path else None
        )
    # CPU per event of the publishing process (the server's, for HTTP): what the load of neighbours blurs least
    for name in cpu:
        base = None if name in (KAFKA_PYTHON, CONFLUENT) else f"{KAFKA_PYTHON}, CPU"
        report.add(f"{name}, CPU", cpu[name], "µs CPU/event", baseline=base, higher_is_better=False)
    report.notes.append(
        f"best of {args.rounds} interleaved round(s) per path; CPU: user+system time of the publishing process "
        "per event (the ingest server's for HTTP; librdkafka's threads included), lowest round"
    )
    report.emit(args.json)


if __name__ == "__main__":
    main()
