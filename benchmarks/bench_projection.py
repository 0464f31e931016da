"""Apply rate of the projections in events/s, on SQLite and PostgreSQL, with a baseline measured in the same run.

1. **baseline**: plain ``executemany`` INSERTs of the rows the records end up
   as (each natural key inserted once, with the values it gets in its first
   batch; no version guard, no derived columns, no offsets), in the same
   batches, one transaction per batch;
2. **store**: ``store.apply_batch`` on the same pre-built shared records (the
   demo stream, crossed in-process as the gateway crosses it, one record per
   zone it enters), in batches of ``--batch`` records, into empty tables; then
   the same records again at new offsets (re-published: every upsert loses its
   version check, nothing changes). Baseline and store alternate ``--repeat``
   times, each into a fresh database, and the best run of each is kept (the
   machine is shared: the best run is the least disturbed one);
3. **worker** (end to end, unless ``--no-worker``): a throwaway Kafka broker and
   schema registry, the records written to ``shared.<zone>.<event>``, then one
   ``hub project run`` timed from the moment it consumes until its stored
   offsets reach the end offsets, compared with the store alone; its peak RSS
   is read just before it is stopped.

PostgreSQL: ``--postgres-url`` of a server whose user may create databases,
or by default a throwaway cluster started here with the server's default
durability (``fsync=on``, ``synchronous_commit=on``; unlike the test
cluster, tests/fixtures/postgres.py, which runs with ``fsync=off``). The
settings in force are read back from the server and printed.

    .venv/bin/python benchmarks/bench_projection.py            # full: 20,000 demo events, 3 rounds
    .venv/bin/python benchmarks/bench_projection.py --quick    # 4,000 demo events, 1 round
    .venv/bin/python benchmarks/bench_projection.py --json out/projection.json

Not a test: nothing is asserted, the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaProducer
from sqlalchemy import insert
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import Report, peak_rss_mib
from benchmarks._stack import free_port, local_stack
from demo import stream as demo_data
from hub import naming
from hub.agreements import Crossing, apply, default_agreements_dir, load_agreements
from hub.kafka_clients import connection_config
from hub.registry.client import RegistryClient
from hub.schemas import schema_text
from hub.serde import AvroSerializer
from hub.settings import HubSettings
from hub.sql import make_engine, write_transaction
from hub.validation import validate_event
from projections import launcher, migrations, store
from projections.fx import load_rates
from projections.lag import end_targets, wait_for_offsets
from projections.rules import ProjectionContext, Upsert, project
from projections.store import SourceRecord
from projections.tables import READ_MODELS, tables_for

KEY = b"benchmark-hmac-key-0123456789abcdef"


@dataclass(frozen=True)
class Shared:
    zone: str
    crossing: Crossing


def sample(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` demo events, round-robin over districts (as benchmarks/bench_gateway.py samples them)."""
    by_district: dict[str, list[dict[str, Any]]] = {}
    for doc in demo_data.generate(seed):
        by_district.setdefault(str(doc["district"]), []).append(doc)
    out: list[dict[str, Any]] = []
    for doc in itertools.chain.from_iterable(itertools.zip_longest(*by_district.values())):
        if doc is not None:
            out.append(doc)
            if len(out) == n:
                break
    return out


def shared_records(n: int, seed: int) -> list[Shared]:
    """The shared records of ``n`` demo events: one per zone each event enters."""
    agreements = load_agreements(default_agreements_dir())
    out: list[Shared] = []
    for doc in sample(n, seed):
        event = validate_event(doc)
        c = apply(agreements[str(doc["region"])], KEY, event.event_type, event.record)
        out.extend(Shared(z, c) for z in c.zones)
    return out


def source_records(items: Sequence[Shared], ctx: ProjectionContext, first_offset: int = 0) -> list[SourceRecord]:
    return [
        SourceRecord(
            "bench", 0, first_offset + i, project(s.zone, s.crossing.event_type, s.crossing.shared_record, ctx)
        )
        for i, s in enumerate(items)
    ]


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- the three measurements ----------------------------------------------------------------------
def time_store(url: str, records: list[SourceRecord], size: int) -> tuple[float, float]:
    """(events/s into empty tables, events/s of the same records re-published)."""
    migrations.upgrade(url)
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        for batch in batches(records, size):
            store.apply_batch(engine, READ_MODELS, batch)
        first = time.perf_counter() - t0
        again = [SourceRecord(r.topic, r.partition, r.offset + len(records), r.changes) for r in records]
        t0 = time.perf_counter()
        for batch in batches(again, size):
            store.apply_batch(engine, READ_MODELS, batch)
        second = time.perf_counter() - t0
    finally:
        engine.dispose()
    return len(records) / first, len(records) / second


def time_baseline(url: str, records: list[SourceRecord], size: int) -> float:
    """events/s of plain executemany INSERTs of the rows the records end up as, batch by batch."""
    migrations.upgrade(url)
    engine = make_engine(url)
    tables = tables_for("")
    seen: set[tuple[str, tuple[Any, ...]]] = set()
    plans: list[dict[str, list[dict[str, Any]]]] = []
    for batch in batches(records, size):
        rows: dict[tuple[str, tuple[Any, ...]], dict[str, Any]] = {}
        for record in batch:
            for change in record.changes:
                if isinstance(change, Upsert):
                    ident = (change.table, tuple(sorted(change.key.items())))
                    if ident in seen:
                        continue
                    rows.setdefault(ident, {}).update({**change.insert_values, **change.values, **change.key})
        seen.update(rows)
        plan: dict[str, list[dict[str, Any]]] = {}
        for (table, _), row in rows.items():
            plan.setdefault(table, []).append(row)
        plans.append(plan)
    try:
        t0 = time.perf_counter()
        for plan in plans:
            with write_transaction(engine) as conn:
                for name, rows_of in plan.items():
                    # rows of one table may carry different column sets (a case's opening vs its closing)
                    for _columns, group in itertools.groupby(
                        sorted(rows_of, key=lambda r: tuple(sorted(r))), key=lambda r: tuple(sorted(r))
                    ):
                        conn.execute(insert(tables[name]), list(group))
        elapsed = time.perf_counter() - t0
    finally:
        engine.dispose()
    return len(records) / elapsed


def produce(settings: HubSettings, items: Sequence[Shared]) -> dict[tuple[str, int], int]:
    """Write the records to their shared topics as the gateway does; returns the end offsets reached."""
    registry = RegistryClient(settings.schema_registry_url)
    serializers: dict[str, AvroSerializer] = {}
    producer = KafkaProducer(**connection_config(settings), acks="all", linger_ms=20)
    try:
        for s in items:
            et = s.crossing.event_type
            serializer = serializers.setdefault(et, AvroSerializer(registry, schema_text("shared", et)))
            topic = naming.shared_topic(s.zone, et)
            value = serializer(s.crossing.shared_record, naming.subject_for(topic))
            producer.send(topic, key=s.crossing.key.encode(), value=value)
        producer.flush()
    finally:
        producer.close()
        registry.close()
    return end_targets(settings, sorted({naming.shared_topic(s.zone, s.crossing.event_type) for s in items}))


def time_worker(settings: HubSettings, wanted: dict[tuple[str, int], int], size: int) -> tuple[float, float, float]:
    """(events/s of one ``hub project run`` into an empty database from consuming to caught up, busy share,
    peak RSS in MiB)."""
    migrations.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        started = launcher.start(settings, batch_size=size, timeout_s=120, loglevel="warn")
        t0 = time.perf_counter()
        wait_for_offsets(engine, READ_MODELS, wanted, timeout_s=3600, poll_s=0.05)
        elapsed = time.perf_counter() - t0
        time.sleep(1.5)  # the status file is rewritten every second
        found = launcher.status(settings).status
        busy = float(found.stats.get("busy_s", 0.0)) if found is not None else 0.0
        rss = peak_rss_mib(started.pid) or 0.0
        launcher.stop(settings)
    finally:
        engine.dispose()
    return sum(wanted.values()) / elapsed, busy / elapsed, rss


# -- PostgreSQL with the server's default durability --------------------------------------------------
@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback with fsync on; yields its maintenance URL."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL server binaries not found: run scripts/ensure-postgres.sh or pass --postgres-url")
    bin_dir = found[-1].parent
    base = Path(tempfile.mkdtemp(prefix="hub-bench-pg-"))
    as_root = os.geteuid() == 0
    if as_root:
        entry = pwd.getpwnam("postgres")
        os.chown(base, entry.pw_uid, entry.pw_gid)

    def run(*args: str) -> None:
        command = [str(bin_dir / args[0]), *args[1:]]
        if as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=base, timeout=120)

    port = free_port()
    data = base / "data"
    try:
        run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base}"
        run("pg_ctl", "-D", str(data), "-l", str(base / "log"), "-o", options, "-w", "start")
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def durability(url: str) -> str:
    """The durability settings the server runs with, as one line."""
    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database) as conn:
        found = [
            f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
            for name in ("fsync", "synchronous_commit", "full_page_writes", "wal_level")
        ]
    return ", ".join(found)


def new_database(admin_url: str) -> str:
    url = make_url(admin_url)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database, autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


# -- main ------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4,000 demo events and one round (full: 20,000, 3)")
    parser.add_argument("--events", type=int, help="demo events to cross (each gives 1-2 shared records)")
    parser.add_argument("--repeat", type=int, help="rounds of baseline + store; the best of each is kept")
    parser.add_argument("--batch", type=int, default=500, help="records per transaction")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres-url", help="admin URL of a PostgreSQL server (default: a throwaway, fsync on)")
    parser.add_argument("--no-worker", action="store_true", help="skip the end-to-end run through Kafka")
    parser.add_argument("--json", help="write the report as JSON here (default: $HUB_BENCH_JSON/projection.json)")
    args = parser.parse_args()
    events = args.events or (4000 if args.quick else 20000)
    repeat = args.repeat or (1 if args.quick else 3)

    report = Report("projection")
    t0 = time.perf_counter()
    items = shared_records(events, args.seed)
    ctx = ProjectionContext(fx=load_rates())
    records = source_records(items, ctx)
    print(f"{len(records)} shared records from {events} demo events, projected in {time.perf_counter() - t0:.1f}s")
    report.notes.append(
        f"{len(records)} shared records from {events} demo events; batches of {args.batch} records, "
        f"one transaction each; best of {repeat} alternating rounds of baseline and store, each into a fresh database"
    )

    with tempfile.TemporaryDirectory(prefix="hub-bench-projection-") as tmp, postgres_admin(args) as pg:
        folder = Path(tmp)
        counter = itertools.count()
        urls: dict[str, Callable[[str], str]] = {
            "SQLite": lambda name: f"sqlite:///{folder}/{name}-{next(counter)}.db",
            "PostgreSQL": lambda _name: new_database(pg),
        }
        for label, url_of in urls.items():
            best: dict[str, float] = {"baseline": 0.0, "store": 0.0, "again": 0.0}
            for _ in range(repeat):
                best["baseline"] = max(best["baseline"], time_baseline(url_of("baseline"), records, args.batch))
                store_rate, again_rate = time_store(url_of("store"), records, args.batch)
                best["store"] = max(best["store"], store_rate)
                best["again"] = max(best["again"], again_rate)
            print(f"{label}: {best}")
            base = f"{label} executemany INSERT"
            report.add(base, best["baseline"], "rows/s", note="same rows, no guard, no offsets")
            report.add(f"{label} apply_batch", best["store"], "events/s", baseline=base, target=0.6)
            report.add(f"{label} apply_batch, re-published", best["again"], "events/s", baseline=base)
        if not args.no_worker:
            # One broker; each database starts empty, so the worker reads every record from offset 0.
            with local_stack("hub-bench-projection-kafka-") as settings:
                wanted = produce(settings, items)
                for label, url_of in urls.items():
                    run = settings.model_copy(update={"database_url": url_of("worker")})
                    rate, busy, rss = time_worker(run, wanted, args.batch)
                    report.add(
                        f"{label} worker end to end",
                        rate,
                        "events/s",
                        baseline=f"{label} apply_batch",
                        target=0.5,
                        note=f"applying {busy:.0%} of the time",
                    )
                    report.add(f"{label} worker peak RSS", rss, "MiB", higher_is_better=False)
        server = "as configured" if args.postgres_url else "a throwaway cluster with the server defaults"
        report.notes.append(f"PostgreSQL: {server}: {durability(pg)}; SQLite: WAL, synchronous=NORMAL")
    report.emit(args.json)


@contextmanager
def postgres_admin(args: argparse.Namespace) -> Iterator[str]:
    if args.postgres_url:
        yield args.postgres_url
        return
    with postgres_cluster() as url:
        yield url


if __name__ == "__main__":
    main()
