"""Throughput of one gateway worker crossing a backlog, against baselines measured in the same run.

    .venv/bin/python benchmarks/bench_gateway.py [--quick] [--events 20000] [--seed 7] [--json PATH]

Starts its own broker and schema registry (``benchmarks/_stack.py``: temp dir,
free ports), publishes N raw demo events (``demo.stream``, round-robin over
the districts of all five regions), reads them back once, then moves the same
raw records four ways:

- **decode + encode** (baseline of the crossing): fastavro alone on the same
  records, in this process: each raw body decoded with its raw schema, and each
  event's shared record (as the crossing made it) encoded with its shared
  schema; just the Avro cost of a crossing, nothing of the hub's;
- **crossing**: ``Border.cross_batch`` in this process on the raw records held
  in memory, in batches of the gateway's size (decode, validate, apply the
  agreement, encode; no Kafka);
- **copier**: an aiokafka consumer on the same raw topics copying the bytes
  unchanged to a scratch topic, with the gateway's batching (up to 500 records
  or 0.5 s per batch), its producer settings (idempotent, ``acks=all``,
  ``linger_ms=5``), every delivery awaited and the offsets committed per batch;
- **gateway**: ``python -m hub.gateway`` (one faust worker, started by its launcher as
  ``hub gateway start`` does), timed
  from the moment it consumes until ``hub.audit`` and ``hub.dlq`` together hold
  one record per published event (polled every 0.2 s); its peak resident set
  (``VmHWM``) is read while it runs.

The two in-process figures are interleaved batch by batch, the best of three rounds each.

``--quick`` crosses 5,000 events instead of 20,000. Targets (issue 13): the
crossing at least 0.25 of decode + encode, the gateway at least 0.4 of the copier.
Ratios are against the baselines of the same run, because the machine is noisy.
Not a test: nothing is asserted, the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import Report, peak_rss_mib
from benchmarks._stack import local_stack
from demo import stream as demo_data
from hub import naming
from hub.agreements import default_agreements_dir, load_agreements
from hub.agreements.keys import write_demo_secrets
from hub.gateway import launcher
from hub.gateway.crossing import Border, Crossed, Outcome, RawRecord, Refused
from hub.gateway.worker import prepare
from hub.kafka_admin import apply_topics
from hub.kafka_clients import aiokafka_connection, aiokafka_producer_config, connection_config
from hub.publishing.publisher import Ack, Publisher
from hub.registry.client import RegistryClient
from hub.schemas import parsed_schema
from hub.serde import decode_body, encode_body
from hub.settings import HubSettings
from hub.stream_runner.tuning import Tuning
from hub.topology import TopicSpec

SCRATCH_TOPIC = "bench.gateway.copy"
STALL_S = 120.0
QUICK_EVENTS = 5000
IN_PROCESS_ROUNDS = 3
DECODE_ENCODE = "fastavro decode + encode, in process"
CROSSING = "crossing in process, `Border.cross_batch`"
COPIER = "pass-through copier, aiokafka"
GATEWAY = "gateway, one worker (`python -m hub.gateway`)"


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


def read_raw(settings: HubSettings, topics: tuple[str, ...]) -> list[RawRecord]:
    """Every record of ``topics``, as the gateway sees them (kafka-python, manual assignment)."""
    consumer = KafkaConsumer(**connection_config(settings), enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        total = sum(consumer.end_offsets(parts).values())
        out: list[RawRecord] = []
        deadline = time.monotonic() + STALL_S
        while len(out) < total:
            if time.monotonic() > deadline:
                raise SystemExit(f"read {len(out)} of {total} raw records within {STALL_S:.0f}s; giving up")
            for msgs in consumer.poll(timeout_ms=1000, max_records=5000).values():
                out.extend(RawRecord(m.topic, m.partition, m.offset, m.key, m.value) for m in msgs)
        return out
    finally:
        consumer.close()


def in_process(border: Border, records: list[RawRecord], batch: int) -> tuple[float, float, list[Outcome]]:
    """events/s of ``Border.cross_batch`` and of its baseline on the same records, and the crossing's outcomes.

    The baseline is fastavro alone: each raw body decoded with the raw schema of
    its topic's event type (the writer's), each shared record (decoded beforehand
    from the crossing's output, untimed) encoded with the shared schema: the Avro
    work a crossing cannot avoid. The two are interleaved batch by batch (the
    crossing of a batch, then the baseline of the same batch), so that a burst of
    load elsewhere slows both alike; each figure is the best of
    :data:`IN_PROCESS_ROUNDS` rounds.
    """
    outcomes = [o for i in range(0, len(records), batch) for o in border.cross_batch(records[i : i + batch])]
    work: list[tuple[memoryview, Any, Any, dict[str, Any]] | None] = []
    for src, outcome in zip(records, outcomes, strict=True):
        if not isinstance(outcome, Crossed) or not outcome.shared or src.value is None:
            work.append(None)  # withheld or refused: nothing to encode, not in the baseline's count
            continue
        shared_schema = parsed_schema("shared", outcome.event_type)
        shared = decode_body(memoryview(outcome.shared[0].value)[5:], shared_schema)
        work.append((memoryview(src.value)[5:], parsed_schema("raw", outcome.event_type), shared_schema, shared))
    crossing_s = baseline_s = float("inf")
    for _ in range(IN_PROCESS_ROUNDS):
        spent_crossing = spent_baseline = 0.0
        for i in range(0, len(records), batch):
            started = time.perf_counter()
            border.cross_batch(records[i : i + batch])
            crossed = time.perf_counter()
            for item in work[i : i + batch]:
                if item is not None:
                    body, raw_schema, shared_schema, shared = item
                    decode_body(body, raw_schema)
                    encode_body(shared_schema, shared)
            spent_crossing += crossed - started
            spent_baseline += time.perf_counter() - crossed
        crossing_s, baseline_s = min(crossing_s, spent_crossing), min(baseline_s, spent_baseline)
    return len(records) / crossing_s, sum(w is not None for w in work) / baseline_s, outcomes


async def _take(consumer: AIOKafkaConsumer, size: int, within_s: float) -> list[Any]:
    """Up to ``size`` records, or what arrived within ``within_s`` (as faust's ``take``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    out: list[Any] = []
    while len(out) < size:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        got = await consumer.getmany(timeout_ms=max(1, int(remaining * 1000)), max_records=size - len(out))
        out.extend(r for records in got.values() for r in records)
    return out


async def copy_raw(settings: HubSettings, topics: tuple[str, ...], expected: int, tuning: Tuning) -> float:
    """Baseline (b): events/s of a pass-through copier from ``topics`` to :data:`SCRATCH_TOPIC`."""
    consumer = AIOKafkaConsumer(
        *topics,
        **aiokafka_connection(settings),
        group_id="hub-bench-copier",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=tuning.batch_size,
    )
    # the gateway's own output producer settings
    producer = AIOKafkaProducer(**aiokafka_producer_config(settings, client_id="hub-bench-copier-out"))
    await producer.start()
    await consumer.start()
    try:
        deadline = time.monotonic() + STALL_S
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise SystemExit(f"the copier got no partitions within {STALL_S:.0f}s")
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        copied = 0
        last = time.monotonic()
        while copied < expected:
            batch = await _take(consumer, tuning.batch_size, tuning.batch_within_s)
            if not batch:
                if time.monotonic() - last > STALL_S:
                    raise SystemExit(f"the copier copied {copied} of {expected} records, then nothing")
                continue
            futures = [await producer.send(SCRATCH_TOPIC, r.value, key=r.key) for r in batch]
            await asyncio.gather(*futures)
            await consumer.commit()
            copied += len(batch)
            last = time.monotonic()
        return copied / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


def run_gateway(settings: HubSettings, expected: int) -> tuple[float, dict[str, Any], float | None]:
    """events/s of one managed gateway until ``hub.audit`` + ``hub.dlq`` hold ``expected`` records; its stats
    and its peak resident set in MiB (None if it could not be read)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    watcher = KafkaConsumer(**connection_config(settings))
    try:
        outputs = [
            TopicPartition(t, p)
            for t in (naming.AUDIT_TOPIC, naming.DLQ_TOPIC)
            for p in sorted(watcher.partitions_for_topic(t) or ())
        ]
        started = time.perf_counter()
        pid = launcher.start(settings, environ=environ, timeout_s=120, loglevel="warn").pid
        ready = time.perf_counter()
        peak: float | None = None
        print(f"gateway consuming after {ready - started:.1f}s")
        total, last_total, last_change = 0, -1, time.monotonic()
        while total < expected:
            time.sleep(0.2)
            total = int(sum(watcher.end_offsets(outputs).values()))
            peak = peak_rss_mib(pid) or peak
            if total != last_total:
                last_total, last_change = total, time.monotonic()
            elif time.monotonic() - last_change > STALL_S:
                raise SystemExit(f"the gateway wrote {total} of {expected} audit/DLQ records, then nothing")
        elapsed = time.perf_counter() - ready
        stats: dict[str, Any] = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the worker writes its status file every second
            found = launcher.status(settings).status
            stats = found.stats if found is not None else {}
            if stats.get("events", 0) >= expected:
                break
            time.sleep(0.3)
        peak = peak_rss_mib(pid) or peak
        return expected / elapsed, stats, peak
    finally:
        watcher.close()
        launcher.stop(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=None, help="raw events to publish and cross (default 20000)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS} events unless --events says otherwise")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON (benchmarks/_report.py)")
    args = parser.parse_args()
    events = args.events if args.events is not None else (QUICK_EVENTS if args.quick else 20000)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the copier logs transient group-join retries
    tuning = Tuning()
    report = Report("gateway")

    docs = sample(events, args.seed)
    with local_stack("hub-bench-gateway-", kafka_heap="768m") as base:
        secrets = base.data_dir / "secrets.env"
        write_demo_secrets(secrets, load_agreements(default_agreements_dir()).values())
        settings = base.model_copy(update={"secrets_file": secrets})
        apply_topics(
            settings,
            [TopicSpec(SCRATCH_TOPIC, settings.shared_partitions, settings.replication_factor)],
            timeout_s=60,
        )
        t = time.perf_counter()
        with RegistryClient(settings.schema_registry_url) as registry, Publisher(settings, registry) as pub:
            results = pub.publish_many(docs)
        published = sum(isinstance(r, Ack) for r in results)
        print(
            f"published {published} raw events in {time.perf_counter() - t:.1f}s ({len(results) - published} rejected)"
        )

        environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        plan = prepare(settings, None, environ)  # what the gateway resolves at start: its Border and raw topics
        topics = plan.topics
        records = read_raw(settings, topics)
        crossing, baseline, outcomes = in_process(plan.border, records, tuning.batch_size)
        copier = asyncio.run(copy_raw(settings, topics, len(records), tuning))
        gateway, stats, peak = run_gateway(settings, len(records))

    n = len(records)
    outputs = sum(len(o.outputs) for o in outcomes)
    refused = sum(isinstance(o, Refused) for o in outcomes)
    report.add(DECODE_ENCODE, baseline, "events/s", note="raw body decoded with its raw schema, shared record encoded")
    report.add(CROSSING, crossing, "events/s", baseline=DECODE_ENCODE, target=0.25)
    report.add(COPIER, copier, "events/s")
    report.add(GATEWAY, gateway, "events/s", baseline=COPIER, target=0.4)
    if peak is not None:
        report.add("gateway peak RSS", peak, "MiB", higher_is_better=False)
    report.notes.append(
        f"{n} raw events on {len(topics)} raw topics; the crossing writes {outputs} records "
        f"({outputs / n:.2f} per event: shared per zone + audit; {refused} dead letters); "
        f"batches of {tuning.batch_size} within {tuning.batch_within_s}s"
    )
    if stats:
        report.notes.append(
            f"gateway busy: {stats.get('cross_seconds', 0):.1f}s crossing, {stats.get('deliver_seconds', 0):.1f}s "
            f"delivering, of {n / gateway:.1f}s elapsed ({stats.get('batches', 0)} batches)"
        )
    report.emit(args.json)


if __name__ == "__main__":
    main()
