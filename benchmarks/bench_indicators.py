"""Time of an indicator refresh and of a report over the whole demo stream (~189k shared records).

Loads the demo stream (seed 42) through the gateway's crossing, the rules and
the store into a fresh database, then times ``refresh_indicators`` (all zones,
one transaction) and the suppressed year report of each zone.

    .venv/bin/python benchmarks/bench_indicators.py              # SQLite in a temporary folder
    .venv/bin/python benchmarks/bench_indicators.py --postgres   # a throwaway PostgreSQL cluster on loopback
    .venv/bin/python benchmarks/bench_indicators.py --url postgresql+psycopg://...

Not a test: nothing is asserted, the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from hub.agreements import apply
from hub.demo_data import generate
from hub.validation import validate_event
from projections import indicator_store, migrations
from projections.engine import make_engine
from projections.reporting import ReportService
from projections.rules import project
from projections.store import SourceRecord, apply_batch
from tests.shared_events import TEST_KEY, agreements, context


def run(url: str) -> None:
    migrations.upgrade(url)
    engine = make_engine(url)
    ags, ctx = agreements(), context()
    started = time.perf_counter()
    batch: list[SourceRecord] = []
    offset = 0
    for raw in generate(42):
        event = validate_event(raw)
        crossing = apply(ags[event.region], TEST_KEY, event.event_type, event.record)
        for zone in crossing.zones:
            changes = project(zone, crossing.event_type, crossing.shared_record, ctx)
            batch.append(SourceRecord("shared.bench", 0, offset, changes))
            offset += 1
        if len(batch) >= 5000:
            apply_batch(engine, "read_models", batch)
            batch = []
    apply_batch(engine, "read_models", batch)
    print(f"loaded {offset} shared records in {time.perf_counter() - started:.1f} s")
    for attempt in (1, 2):
        summary = indicator_store.refresh_indicators(engine)
        print(
            f"refresh {attempt}: {summary.rows} indicator rows of {', '.join(summary.zones)} in {summary.seconds:.2f} s"
        )
    service = ReportService(engine)
    for zone in ("gba", "mainland"):
        started = time.perf_counter()
        service.report(zone, "2026")
        print(f"{zone} year report (suppression included): {time.perf_counter() - started:.2f} s")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster")
    args = parser.parse_args()
    if args.postgres:
        from tests.fixtures.postgres import PostgresServer, _bin_dir, _Cluster

        cluster = _Cluster(_bin_dir())
        try:
            server = PostgresServer(cluster.start())
            run(server.create_database("hub_bench"))
        finally:
            cluster.stop()
        return
    if args.url:
        run(args.url)
        return
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{folder}/bench.db")


if __name__ == "__main__":
    main()
