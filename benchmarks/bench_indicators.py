"""Time of an indicator refresh and of a report over the whole demo stream (~189k shared records), with a baseline.

Loads the demo stream (seed 42) through the gateway's crossing, the rules and
the store into a fresh database, then, ``--repeat`` rounds in a row, times:

- **baseline**: a plain ``SELECT zone, region, district, month, count(*) ...
  GROUP BY`` on each fact table (one scan of every fact table, grouped by the
  keys the refresh groups by), in one read transaction;
- reading every fact row (``SELECT *``, fetched into Python), for scale;
- ``measure_queries.measure`` alone (the refresh's GROUP BYs) and the pure
  ``indicator_computation.compute`` on its rows;
- ``refresh_indicators`` (all zones, one transaction);
- the suppressed 2026 year report of each zone (a fresh ``ReportService`` each
  round, so its suppression cache is cold).

Prints the best time of each over the rounds and its ratio to the baseline
of the same run, because the machine is noisy.

    .venv/bin/python benchmarks/bench_indicators.py              # SQLite in a temporary folder
    .venv/bin/python benchmarks/bench_indicators.py --postgres   # a throwaway PostgreSQL cluster on loopback
    .venv/bin/python benchmarks/bench_indicators.py --url postgresql+psycopg://...

Not a test: nothing is asserted, the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import Report
from benchmarks._stack import machine
from demo.stream import generate
from hub.sql import is_sqlite, make_engine
from projections import indicator_store, measure_queries, migrations
from projections.indicator_computation import compute
from projections.measures import MeasureRow
from projections.report_queries import ReportService
from projections.tables import FACT_TABLES, tables_for
from tests.indicator_stream import load

REPORT_ZONES = ("gba", "mainland")
REPORT_PERIOD = "2026"


def load_demo(engine: Engine) -> int:
    """The demo stream, crossed and projected into the read models; the number of shared records."""
    started = time.perf_counter()
    shared = load(engine, generate(42), seed=None, batch=5000)
    print(f"loaded {shared} shared records in {time.perf_counter() - started:.1f} s")
    return shared


def baseline(engine: Engine) -> int:
    """Plain ``count(*) GROUP BY zone, region, district, month`` on every fact table; the groups returned."""
    tables = tables_for("")
    groups = 0
    with engine.connect() as conn:
        for name in FACT_TABLES:
            t = tables[name]
            keys = (t.c.zone, t.c.region, t.c.district, t.c.month)
            groups += len(conn.execute(select(*keys, func.count()).group_by(*keys)).all())
    return groups


def read_facts(engine: Engine) -> int:
    """Every row of every fact table, fetched; the rows read."""
    tables = tables_for("")
    rows = 0
    with engine.connect() as conn:
        for name in FACT_TABLES:
            rows += len(conn.execute(select(tables[name])).all())
    return rows


def database_version(engine: Engine) -> str:
    if is_sqlite(engine):
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.connect() as conn:
        return f"PostgreSQL {conn.execute(text('SHOW server_version')).scalar_one()}"


def run(url: str, repeat: int, json_path: str | None = None) -> None:
    migrations.upgrade(url)
    engine = make_engine(url)
    engine_name = "PostgreSQL" if engine.dialect.name == "postgresql" else "SQLite"
    shared = load_demo(engine)
    zones = indicator_store.refresh_indicators(engine).zones  # the first refresh: the zones, and a warm start
    measured: list[MeasureRow] = []

    def measure() -> int:
        with engine.connect() as conn:
            measured[:] = measure_queries.measure(conn, zones)
        return len(measured)

    steps: list[tuple[str, Callable[[], int]]] = [
        ("baseline", functools.partial(baseline, engine)),
        ("read", functools.partial(read_facts, engine)),
        ("measure", measure),
        ("compute", lambda: len(compute(measured))),
        ("refresh", lambda: indicator_store.refresh_indicators(engine).rows),
        *((f"report {z}", functools.partial(_report, engine, z)) for z in REPORT_ZONES),
    ]
    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    for _round in range(repeat):
        for name, step in steps:
            started = time.perf_counter()
            counts[name] = step()
            seconds = time.perf_counter() - started
            best[name] = min(best.get(name, seconds), seconds)
    version = database_version(engine)
    engine.dispose()

    base = best["baseline"]
    print(f"{machine(kafka=False)}, {version}")
    print(f"data: {shared} shared records, {counts['read']} fact rows in {len(FACT_TABLES)} tables, zones {zones}")
    print(f"best of {repeat} rounds; each round runs every step once, in the order of the table")
    print("| step | seconds | vs baseline |")
    print("| --- | ---: | ---: |")
    labels = {
        "baseline": f"baseline: `count(*) GROUP BY zone, region, district, month` per fact table "
        f"({counts['baseline']} groups)",
        "read": f"read every fact row (`SELECT *`, {counts['read']} rows)",
        "measure": f"`measure` (the refresh's GROUP BYs; {counts['measure']} measure rows)",
        "compute": f"`compute` (pure Python, on those rows; {counts['compute']} values)",
        "refresh": f"`refresh_indicators` (all zones, one transaction; {counts['refresh']} rows)",
        **{f"report {z}": f"{z} {REPORT_PERIOD} report, suppression included" for z in REPORT_ZONES},
    }
    for key, label in labels.items():
        print(f"| {label} | {best[key]:.2f} | {best[key] / base:.2f} |")
    report = Report(f"indicators-{engine_name}")
    base_name = f"{engine_name}: count(*) GROUP BY per fact table (baseline)"
    report.add(base_name, base, "s", higher_is_better=False)
    short = {"measure": "measure (the refresh's GROUP BYs)", "refresh": "refresh_indicators, all zones"}
    for key in ("measure", "refresh", *(f"report {z}" for z in REPORT_ZONES)):
        report.add(f"{engine_name}: {short.get(key, key)}", best[key], "s", baseline=base_name, higher_is_better=False)
    report.emit(json_path)


def _report(engine: Engine, zone: str) -> int:
    """A fresh service each time, so the suppression is computed, not read from its cache; the rows."""
    return len(ReportService(engine).report(zone, REPORT_PERIOD).rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of measurements (the best is printed)")
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--json", default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1
    if args.postgres:
        from tests.fixtures.postgres import PostgresServer, _bin_dir, _Cluster

        cluster = _Cluster(_bin_dir())
        try:
            server = PostgresServer(cluster.start())
            run(server.create_database("hub_bench"), args.repeat, args.json)
        finally:
            cluster.stop()
        return
    if args.url:
        run(args.url, args.repeat, args.json)
        return
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{folder}/bench.db", args.repeat, args.json)


if __name__ == "__main__":
    main()
