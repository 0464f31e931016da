"""Throughput of the replicator of one flow (cn -> hk) against a pass-through copy measured in the same run.

    .venv/bin/python benchmarks/bench_replication.py [--events 60000] [--seed 42]

In a temp dir, from a copy of the shipped topology on free ports, starts the
``cn`` and ``hk`` clusters only (``hub.stack.start_clusters``: secured, logins
and ACLs, topic layout, one schema registry each), then:

1. writes N real shared ``CaseOpened`` events to ``cn``'s
   ``shared.gba.case-opened`` (3 partitions) as the admin: the demo stream's
   ``CaseOpened`` events of ``cn``'s regions crossed in process by the real
   agreements (the records a gateway writes), repeated with fresh
   ``event_id``s up to N, Avro-framed with the ``cn`` registry under
   ``shared.gba.case-opened-value``;
2. **pass-through copy** (baseline): a kafka-python consumer on ``cn``
   (``read_committed``, every partition assigned from offset 0) and a producer
   on ``hk`` (``acks=all``, idempotent), both from ``hub.kafka_clients``,
   copying the bytes unchanged (same key, partition, headers, timestamp) to
   ``bench.copy.case-opened`` (3 partitions), timed from the first poll until
   every copy is acknowledged; no transactions, no schema ids rewritten;
3. **replicator**: the topology's flow ``cn -> hk`` in this process
   (``hub.replication.wiring.setup(...).replicator().run(until_caught_up=True)``,
   default tuning), timed overall and from the end of its start-up (fencing,
   reading the offsets topic and both transfer logs, assigning the source:
   the "copying" log line that ends ``open()``) to the commit that holds the
   last record;
4. the pass-through copy again, because the machine is noisy: both are quoted;
5. memory: the resident set (``VmRSS``) of each broker JVM and registry of
   ``cn`` and ``hk`` idle after start and after the runs, then ``mo`` is
   started too and the three-cluster stack's total reported idle.

Everything it started is stopped at the end, also on failure or Ctrl-C.
Not a test: nothing is asserted beyond every record arriving; the figures
depend on the machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kafka import TopicPartition
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import Report, rss_mib
from benchmarks._stack import free_port, machine
from demo import stream as demo_data
from hub import local_kafka, naming
from hub.agreements import apply, default_agreements_dir, load_agreements
from hub.jurisdictions import Topology, all_cluster_settings, default_topology_file, load_topology
from hub.kafka_admin import apply_topics
from hub.kafka_clients import new_consumer, new_producer
from hub.registry import launcher
from hub.registry.client import RegistryClient
from hub.replication import wiring
from hub.replication.engine import Tuning
from hub.schemas import schema_text
from hub.serde import AvroSerializer
from hub.settings import HubSettings, load_settings
from hub.stack import start_clusters, stop_clusters
from hub.topology import TopicSpec
from hub.validation import validate_event

SOURCE, TARGET, THIRD = "cn", "hk", "mo"
EVENT_TYPE = "CaseOpened"
TOPIC = naming.shared_topic("gba", EVENT_TYPE)
PATTERN = r"shared\.gba\.case-opened"  # the flow's own pattern narrowed to TOPIC (matched whole)
COPY_TOPIC = "bench.copy.case-opened"
KEY = b"benchmark-hmac-key-0123456789abcdef"
BATCH = 5000  # the replicator's default batch_records; the pass-through polls as much
STALL_S = 120.0
SETTLE_S = 5.0  # idle time before the memory is read


# -- the stack -------------------------------------------------------------------------------------------
def free_port_topology(path: Path) -> Path:
    """A copy of the shipped topology with free local ports, written to ``path`` (as tests/fixtures/clusters.py)."""
    doc = yaml.safe_load(default_topology_file().read_text(encoding="utf-8"))
    names = ("kafka_port", "controller_port", "internal_port", "registry_port")
    ports: set[int] = set()
    while len(ports) < len(names) * len(doc["jurisdictions"]):  # free_port may give a port twice
        ports.add(free_port())
    pool = sorted(ports)
    for body in doc["jurisdictions"].values():
        body["local"] = {k: pool.pop() for k in names}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def memory(clusters: Mapping[str, HubSettings]) -> dict[str, tuple[float, float]]:
    """Cluster name -> (broker JVM RSS, registry RSS) in MiB."""
    out: dict[str, tuple[float, float]] = {}
    for name, settings in clusters.items():
        broker = local_kafka.running_pid(settings)
        registry = launcher.running(settings)
        if broker is None or registry is None:
            raise SystemExit(f"cluster {name}: its broker or registry is not running")
        broker_mib, registry_mib = rss_mib(broker), rss_mib(registry.pid)
        if broker_mib is None or registry_mib is None:
            raise SystemExit(f"cluster {name}: its broker or registry exited")
        out[name] = (broker_mib, registry_mib)
    return out


# -- the events ------------------------------------------------------------------------------------------
def shared_events(topology: Topology, n: int, seed: int) -> list[tuple[bytes, dict[str, Any]]]:
    """``n`` (key, shared record) pairs of ``CaseOpened`` entering ``gba`` from ``cn``'s regions."""
    regions = topology.get(SOURCE).regions
    agreements = load_agreements(default_agreements_dir())
    crossed: list[tuple[bytes, dict[str, Any]]] = []
    for doc in demo_data.generate(seed):
        if doc.get("type") != EVENT_TYPE or str(doc["region"]) not in regions:
            continue
        event = validate_event(doc)
        c = apply(agreements[str(doc["region"])], KEY, event.event_type, event.record)
        if "gba" in c.zones:
            crossed.append((c.key.encode(), c.shared_record))
    if not crossed:
        raise SystemExit(f"the demo stream (seed {seed}) has no {EVENT_TYPE} of {SOURCE} entering gba")
    out: list[tuple[bytes, dict[str, Any]]] = []
    for i in range(n):
        key, record = crossed[i % len(crossed)]
        round_ = i // len(crossed)
        if round_:  # the same crossing again, as another event
            record = {**record, "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{record['event_id']}/{round_}"))}
        out.append((key, record))
    return out


def produce(admin: HubSettings, events: list[tuple[bytes, dict[str, Any]]]) -> tuple[float, int]:
    """Frame and write the events to :data:`TOPIC`; (seconds spent sending, bytes of values)."""
    with RegistryClient(admin.schema_registry_url) as registry:
        serializer = AvroSerializer(registry, schema_text("shared", EVENT_TYPE))
        subject = naming.subject_for(TOPIC)
        values = [(key, serializer(record, subject)) for key, record in events]
    producer = new_producer(admin, client_id="hub-bench-source", timeout_s=60.0)
    try:
        started = time.perf_counter()
        futures = [producer.send(TOPIC, value, key=key) for key, value in values]
        producer.flush(timeout=STALL_S)
        elapsed = time.perf_counter() - started
    finally:
        producer.close(timeout=10)
    failed = [f for f in futures if not f.succeeded()]
    if failed:
        raise SystemExit(f"{len(failed)} of {len(futures)} source events were not written: {failed[0].exception}")
    return elapsed, sum(len(v) for _, v in values)


# -- the baseline ----------------------------------------------------------------------------------------
def pass_through(source: HubSettings, target: HubSettings, n: int) -> float:
    """Seconds to copy :data:`TOPIC` unchanged to :data:`COPY_TOPIC`, from the first poll to the last ack."""
    consumer = new_consumer(source, client_id="hub-bench-copy-in", read_committed=True, max_poll_records=BATCH)
    try:
        producer = new_producer(target, client_id="hub-bench-copy-out")
        try:
            parts = [TopicPartition(TOPIC, p) for p in sorted(consumer.partitions_for_topic(TOPIC) or ())]
            consumer.assign(parts)
            for tp in parts:
                consumer.seek(tp, 0)
            total = sum(consumer.end_offsets(parts).values())
            if total != n:
                raise SystemExit(f"{TOPIC} on {SOURCE} holds {total} records, not {n}")
            futures: list[Any] = []
            started = time.perf_counter()
            last = time.monotonic()
            while len(futures) < n:
                got = consumer.poll(timeout_ms=500, max_records=BATCH)
                if not got:
                    if time.monotonic() - last > STALL_S:
                        raise SystemExit(f"the pass-through copy read {len(futures)} of {n} records, then nothing")
                    continue
                last = time.monotonic()
                for records in got.values():
                    futures.extend(
                        producer.send(
                            COPY_TOPIC,
                            r.value,
                            key=r.key,
                            partition=r.partition,
                            headers=list(r.headers or ()),
                            timestamp_ms=r.timestamp,
                        )
                        for r in records
                    )
            producer.flush(timeout=STALL_S)
            elapsed = time.perf_counter() - started
        finally:
            producer.close(timeout=10)
    finally:
        consumer.close()
    failed = [f for f in futures if not f.succeeded()]
    if failed or len(futures) != n:
        raise SystemExit(f"the pass-through copy: {len(futures)} sent, {len(failed)} not acknowledged")
    return elapsed


# -- the replicator --------------------------------------------------------------------------------------
class _Opened(logging.Handler):
    """Notes when the flow's session logs that it copies: the end of its start-up (``open()``)."""

    def __init__(self, flow: str) -> None:
        super().__init__(logging.INFO)
        self.prefix = f"flow {flow}: copying "
        self.at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.at is None and record.getMessage().startswith(self.prefix):
            self.at = time.perf_counter()


@dataclass(frozen=True)
class Replicated:
    total_s: float
    open_s: float
    first_commit_s: float
    last_commit_s: float
    records: int
    transactions: int
    restarts: int


def replicate(base: HubSettings, n: int) -> Replicated:
    """Run the topology's flow cn -> hk on :data:`TOPIC` until caught up, with a stop-watch on its steps."""
    flow = wiring.setup(base, SOURCE, TARGET, PATTERN)
    stop = threading.Event()
    replicator = flow.replicator(tuning=Tuning(batch_records=BATCH), stop=stop)
    progress = replicator.progress
    opened = _Opened(flow.flow.name)
    logger = logging.getLogger("hub.replication")
    level = logger.level
    logger.setLevel(logging.INFO)  # the handler only notes the time; the root's last resort prints warnings only
    logger.addHandler(opened)
    commits: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:  # progress.records grows by one transaction at a time
        while not done.is_set():
            now, records = time.perf_counter(), progress.records
            if records and "first" not in commits:
                commits["first"] = now
            if records >= n:
                commits["last"] = now
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, name="bench-watch", daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        result = replicator.run(until_caught_up=True)
    finally:
        total = time.perf_counter() - started
        stop.set()
        done.set()
        watcher.join(timeout=5)
        logger.removeHandler(opened)
        logger.setLevel(level)
    if result.records != n or "last" not in commits:
        raise SystemExit(f"the replicator committed {result.records} of {n} records")
    open_at = opened.at if opened.at is not None else commits["first"]
    return Replicated(
        total_s=total,
        open_s=open_at - started,
        first_commit_s=commits["first"] - started,
        last_commit_s=commits["last"] - started,
        records=result.records,
        transactions=result.transactions,
        restarts=result.restarts,
    )


# -- the report ------------------------------------------------------------------------------------------
def report_memory(
    heap: str, idle: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], third: tuple[float, float]
) -> None:
    print(f"| process (broker heap -Xmx{heap}) | RSS idle after start, MiB | RSS after the runs, MiB |")
    print("| --- | ---: | ---: |")
    for name in (SOURCE, TARGET):
        print(f"| {name} broker (JVM) | {idle[name][0]:,.0f} | {after[name][0]:,.0f} |")
        print(f"| {name} registry (Python) | {idle[name][1]:,.0f} | {after[name][1]:,.0f} |")
    two_idle = sum(sum(v) for v in idle.values())
    two_after = sum(sum(v) for v in after.values())
    print(f"| {THIRD} broker (JVM), started after the runs | {third[0]:,.0f} | |")
    print(f"| {THIRD} registry (Python), started after the runs | {third[1]:,.0f} | |")
    print(f"| **{SOURCE} + {TARGET}** (2 brokers + 2 registries) | {two_idle:,.0f} | {two_after:,.0f} |")
    print(
        f"| **{SOURCE} + {TARGET} + {THIRD}**, idle (3 brokers + 3 registries) | {two_idle + sum(third):,.0f} "
        f"(all fresh) | {two_after + sum(third):,.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60000, help="shared events to write and copy")
    parser.add_argument("--seed", type=int, default=42, help="seed of the demo stream the events come from")
    parser.add_argument("--quick", action="store_true", help="10,000 events unless --events says otherwise")
    parser.add_argument("--json", default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    n: int = 10_000 if args.quick and args.events == parser.get_default("events") else args.events
    report = Report("replication")
    console = Console(highlight=False)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="hub-bench-replication-") as tmp:
        root = Path(tmp)
        base = load_settings(env_file=None, data_dir=root, topology_file=free_port_topology(root / "topology.yaml"))
        topology = load_topology(base)
        clusters = all_cluster_settings(base, topology)
        started: dict[str, HubSettings] = {}
        try:
            started.update({k: clusters[k] for k in (SOURCE, TARGET)})  # start_clusters may fail half-way
            t = time.perf_counter()
            start_clusters({k: clusters[k] for k in (SOURCE, TARGET)}, console)
            print(f"{SOURCE} and {TARGET} started in {time.perf_counter() - t:.1f}s")
            time.sleep(SETTLE_S)
            idle = memory({k: clusters[k] for k in (SOURCE, TARGET)})

            source, target = local_kafka.admin_settings(clusters[SOURCE]), local_kafka.admin_settings(clusters[TARGET])
            apply_topics(target, [TopicSpec(COPY_TOPIC, source.shared_partitions, target.replication_factor)], 60)
            t = time.perf_counter()
            events = shared_events(topology, n, args.seed)
            print(f"crossed and repeated {len(events)} {EVENT_TYPE} events in {time.perf_counter() - t:.1f}s")
            sent_s, size = produce(source, events)
            print(
                f"wrote {n} framed events ({size / n:.0f} bytes each on average) to {TOPIC} on {SOURCE} "
                f"in {sent_s:.1f}s ({n / sent_s:,.0f}/s)"
            )

            before = pass_through(source, target, n)
            print(f"pass-through copy (before): {before:.2f}s")
            rep = replicate(base, n)
            print(
                f"replicator: {rep.total_s:.2f}s overall, start-up {rep.open_s:.2f}s, first commit at "
                f"{rep.first_commit_s:.2f}s, last at {rep.last_commit_s:.2f}s; {rep.transactions} transactions, "
                f"{rep.restarts} restarts"
            )
            after = pass_through(source, target, n)
            print(f"pass-through copy (after): {after:.2f}s")

            time.sleep(SETTLE_S)
            loaded = memory({k: clusters[k] for k in (SOURCE, TARGET)})
            started[THIRD] = clusters[THIRD]
            t = time.perf_counter()
            start_clusters({THIRD: clusters[THIRD]}, console)
            print(f"{THIRD} started in {time.perf_counter() - t:.1f}s")
            time.sleep(SETTLE_S)
            third = memory({THIRD: clusters[THIRD]})[THIRD]
        finally:
            t = time.perf_counter()
            stop_clusters(started)
            print(f"stopped {', '.join(started)} in {time.perf_counter() - t:.1f}s")

    print(machine())
    print(f"load average (1 min): {load_before[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    print(
        f"records: {n} {EVENT_TYPE} on {TOPIC} ({source.shared_partitions} partitions); replicator: batches of "
        f"{BATCH}, {rep.transactions} transactions, {rep.restarts} restarts; start-up {rep.open_s:.2f}s"
    )
    rate_before, rate_after = n / before, n / after
    two_idle = sum(sum(v) for v in idle.values())
    copying_s = rep.last_commit_s - rep.open_s
    rows = (
        ("pass-through copy, before (baseline)", before, rate_before),
        ("replicator `cn -> hk`, overall (start-up included)", rep.total_s, n / rep.total_s),
        ("replicator `cn -> hk`, once copying (start-up to last commit)", copying_s, n / copying_s),
        ("pass-through copy, after (baseline)", after, rate_after),
    )
    print("| path | s | records/s | vs pass-through before | vs pass-through after |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, seconds, rate in rows:
        print(f"| {name} | {seconds:.2f} | {rate:,.0f} | {rate / rate_before:.2f} | {rate / rate_after:.2f} |")
    print()
    report_memory(clusters[SOURCE].kafka_heap, idle, loaded, third)
    base_name = "pass-through copy, kafka-python, no transactions (baseline, best of before and after)"
    report.add(base_name, max(rate_before, rate_after), "records/s")
    report.add("replicator, overall (start-up included)", n / rep.total_s, "records/s", baseline=base_name)
    report.add("replicator, once copying", n / copying_s, "records/s", baseline=base_name)
    stack_idle = two_idle + sum(third)
    report.add("three-cluster stack idle (3 brokers + 3 registries)", stack_idle, "MiB", higher_is_better=False)
    report.notes.append(f"{n:,} records; pass-through before {rate_before:,.0f}/s, after {rate_after:,.0f}/s")
    report.emit(args.json)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; everything it started was stopped", file=sys.stderr)
        sys.exit(130)
