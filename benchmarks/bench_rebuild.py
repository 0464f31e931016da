"""A projection rebuild of 1,000,000 shared events (issue 13: under 2 minutes), with a raw read of the same records.

    .venv/bin/python benchmarks/bench_rebuild.py            # full: 1,000,000 shared records
    .venv/bin/python benchmarks/bench_rebuild.py --quick    # 100,000
    .venv/bin/python benchmarks/bench_rebuild.py --events 300000 --json out/rebuild.json

Starts its own broker and schema registry (``benchmarks/_stack.py``), crosses
demo events in process as the gateway does (``--base-events`` of them, one
shared record per zone each enters) and writes ``--events`` shared records to
``shared.<zone>.<event>``: the crossed records repeated, each copy with fresh
event ids and fresh natural ids and pseudonyms (``case_ref``, ``visit_id``,
``worker_ref``, ...; a copy's visits point at the same copy's cases), so every
copy is a set of distinct facts of the same shape as the demo's. Then:

- **raw read**: a group-less kafka-python consumer
  (``hub.kafka_reader.KafkaReader``, as the rebuild reads) reading every
  partition from its oldest record to its end, nothing decoded;
- **raw read + decode** (baseline of the rebuild's rate): the same read, each
  value decoded as the rebuild decodes it (fastavro, the pinned shared reader
  schema of its event type);
- **rebuild**: ``hub projections rebuild read_models --zone gba --zone mainland``
  as a separate process into an empty SQLite database (the embedded default),
  timed by the rebuild itself (replay, catch-up, swap) and as a process; its
  peak RSS is polled while it runs.

The budget of issue 13 is 1,000,000 events in 120 s; for another ``--events``
it is scaled (``--events`` / 1,000,000 × 120 s) and named as such.
Not a test: nothing is asserted, the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import Report, peak_rss_mib
from benchmarks._stack import local_stack
from benchmarks.bench_projection import Shared, shared_records
from hub import naming
from hub.kafka_clients import connection_config
from hub.kafka_reader import KafkaReader
from hub.registry.client import RegistryClient
from hub.schemas import schema_text
from hub.serde import AvroDeserializer, AvroSerializer
from hub.settings import HubSettings, as_environment

BUDGET_S = 120.0
BUDGET_EVENTS = 1_000_000
ZONES = ("gba", "mainland")
#: Fields that identify a fact or a person (ids and pseudonyms): a copy gets its own.
ID_FIELDS = (
    "event_id",
    "case_ref",
    "visit_id",
    "donation_id",
    "evaluation_id",
    "service_id",
    "training_id",
    "worker_ref",
    "volunteer_ref",
    "client_ref",
)


def copies(base: Sequence[Shared], total: int) -> Iterator[tuple[str, str, bytes, dict[str, Any]]]:
    """``total`` shared records: ``base`` repeated, copy ``n`` > 0 with ``~n`` appended to every id and pseudonym.

    Yields (topic, event type, key, record)."""
    n = 0
    made = 0
    while True:
        for s in base:
            if made == total:
                return
            record = dict(s.crossing.shared_record)
            key = s.crossing.key
            if n:
                for name in ID_FIELDS:
                    value = record.get(name)
                    if isinstance(value, str):
                        record[name] = f"{value}~{n}"
                key = f"{key}~{n}"
            et = s.crossing.event_type
            yield naming.shared_topic(s.zone, et), et, key.encode(), record
            made += 1
        n += 1


def produce(settings: HubSettings, base: Sequence[Shared], total: int) -> float:
    """Write ``total`` records (see :func:`copies`) as the gateway frames them; returns the seconds it took."""
    registry = RegistryClient(settings.schema_registry_url)
    serializers: dict[str, AvroSerializer] = {}
    producer = KafkaProducer(**connection_config(settings), acks="all", linger_ms=50, batch_size=1 << 20)
    t0 = time.perf_counter()
    try:
        for i, (topic, et, key, record) in enumerate(copies(base, total)):
            serializer = serializers.get(et)
            if serializer is None:
                serializer = serializers[et] = AvroSerializer(registry, schema_text("shared", et))
            producer.send(topic, key=key, value=serializer(record, naming.subject_for(topic)))
            if i and i % 100_000 == 0:
                print(f"  {i} records written ({time.perf_counter() - t0:.0f}s)", flush=True)
        producer.flush()
    finally:
        producer.close()
        registry.close()
    return time.perf_counter() - t0


def shared_topics(base: Sequence[Shared]) -> list[str]:
    return sorted({naming.shared_topic(s.zone, s.crossing.event_type) for s in base})


def raw_read(settings: HubSettings, topics: Sequence[str], batch: int, *, decode: bool = False) -> tuple[int, float]:
    """(records, seconds) of reading every partition of ``topics`` from its oldest record to its end; with
    ``decode``, each value decoded as the rebuild decodes it (fastavro, the pinned shared reader schema)."""
    registry = RegistryClient(settings.schema_registry_url)
    decoders = {
        t: AvroDeserializer(registry, schema_text("shared", naming.parse_shared_topic(t).event_type)) for t in topics
    }
    with KafkaReader(settings, client_id="bench-rebuild-raw", max_poll_records=batch) as reader:
        tps = reader.partitions(topics)
        begin, end = reader.beginning_offsets(tps), reader.end_offsets(tps)
        reader.assign(begin)
        t0 = time.perf_counter()
        count = 0
        while any(reader.position(tp) < end[tp] for tp in tps):
            records = reader.poll(timeout_s=0.5)
            if decode:
                for record in records:
                    decoders[record.topic].decode(record.value)
            count += len(records)
        return count, time.perf_counter() - t0


def rebuild(settings: HubSettings, batch: int, profile: str | None = None) -> tuple[float, float, float, float, str]:
    """Run ``hub projections rebuild`` as a process: (seconds it reports, seconds as a process, CPU seconds of the
    process, peak RSS MiB, its last line). With ``profile``, under ``py-spy record`` (collapsed stacks there)."""
    hub = Path(sys.executable).with_name("hub")
    command = [str(hub), "projections", "rebuild", "read_models", "--batch-size", str(batch)]
    for zone in ZONES:
        command += ["--zone", zone]
    if profile:
        spy = Path(sys.executable).with_name("py-spy")
        command = [str(spy), "record", "--format", "raw", "--rate", "50", "-o", profile, "--", *command]
    env = as_environment(settings, os.environ)
    env["COLUMNS"] = "200"
    log = settings.data_dir / "rebuild.log"
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, peak_rss_mib(proc.pid) or 0.0)
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = log.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"hub projections rebuild failed ({proc.returncode}):\n{text[-3000:]}")
    last = [line for line in text.splitlines() if line.startswith("rebuilt ")]
    found = re.search(r" in ([0-9.]+)s:", last[-1]) if last else None
    if found is None:
        raise SystemExit(f"hub projections rebuild: no result line in its output:\n{text[-3000:]}")
    return float(found.group(1)), wall, cpu, peak, last[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 shared records (full: 1,000,000)")
    parser.add_argument("--events", type=int, help="shared records to rebuild from")
    parser.add_argument("--base-events", type=int, default=40000, help="demo events crossed, then repeated")
    parser.add_argument("--batch", type=int, default=500, help="records per transaction (the command's default)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", help="write the report as JSON here (default: $HUB_BENCH_JSON/rebuild.json)")
    parser.add_argument("--profile", help="run the rebuild under py-spy, collapsed stacks to this file (slower)")
    args = parser.parse_args()
    total = args.events or (100_000 if args.quick else BUDGET_EVENTS)

    report = Report("rebuild")
    t0 = time.perf_counter()
    base = shared_records(args.base_events, args.seed)
    print(f"{len(base)} shared records from {args.base_events} demo events in {time.perf_counter() - t0:.1f}s")
    with tempfile.TemporaryDirectory(prefix="hub-bench-rebuild-db-") as tmp, local_stack("hub-bench-rebuild-") as stack:
        settings = stack.model_copy(update={"database_url": f"sqlite:///{tmp}/rebuild.db"})
        written = produce(settings, base, total)
        print(f"{total} records written in {written:.0f}s")
        count, read_s = raw_read(settings, shared_topics(base), args.batch)
        print(f"raw read: {count} records in {read_s:.1f}s")
        decoded, decode_s = raw_read(settings, shared_topics(base), args.batch, decode=True)
        print(f"raw read + decode: {decoded} records in {decode_s:.1f}s")
        seconds, wall, cpu, rss, line = rebuild(settings, args.batch, args.profile)
        print(line)
    budget = BUDGET_S * total / BUDGET_EVENTS
    raw = "raw read (KafkaReader, no decode)"
    report.add(raw, count / read_s, "events/s", note=f"{count} records")
    consumed = "raw read + fastavro decode (pinned shared reader schemas)"
    report.add(consumed, decoded / decode_s, "events/s", note=f"{decoded} records")
    report.add(f"rebuild of {total:,} events", total / seconds, "events/s", baseline=consumed)
    budget_name = "budget: 1,000,000 events in 120 s" + ("" if total == BUDGET_EVENTS else f", scaled to {total:,}")
    report.add(budget_name, budget, "s", higher_is_better=False)
    report.add(
        f"rebuild of {total:,} events, time",
        seconds,
        "s",
        baseline=budget_name,
        target=1.0,
        higher_is_better=False,
        note=f"{wall:.1f}s as a process (start-up and migration included)",
    )
    report.add(
        "rebuild process CPU time",
        cpu,
        "s",
        higher_is_better=False,
        note=f"user + system; {cpu / wall:.0%} of one core over the process's {wall:.0f}s (the rest: other load)",
    )
    if args.profile:
        report.notes.append("run under py-spy (--profile): slower, and the RSS and CPU read are py-spy's process's")
    else:
        report.add("rebuild process peak RSS", rss, "MiB", higher_is_better=False)
    report.notes.append(
        f"{total:,} shared records: {len(base):,} crossed from {args.base_events:,} demo events, repeated with "
        f"fresh ids; topics {', '.join(ZONES)} zones, {len(shared_topics(base))} topics; batches of {args.batch}; "
        "SQLite (WAL, synchronous=NORMAL)"
    )
    if total != BUDGET_EVENTS:
        report.notes.append(f"extrapolated to 1,000,000 at the same rate: {BUDGET_EVENTS * seconds / total:.0f}s")
    report.emit(args.json)


if __name__ == "__main__":
    main()
