"""End to end: freshness at a steady offered load, sustained throughput, and memory of every process.

    .venv/bin/python benchmarks/bench_e2e.py [--quick] [--rate 5000] [--seconds 60] [--events 100000]
        [--memory-seconds 600] [--memory-rate 1000] [--json PATH]

Starts its own secured broker and registry (``benchmarks/_stack.py``), the
gateway and the projection worker as managed processes (each logged in as its
own principal, as ``make demo`` runs them; SQLite read models), then:

1. **baseline**: kafka-python sending the raw events pre-encoded (the same
   producer settings as the SDK), to a scratch topic: what the client alone
   reaches on this machine in this run;
2. **freshness**: the SDK offers ``--rate`` events/s for ``--seconds``
   (batches every 0.1 s). One event in ten is sampled: its freshness is the
   time from the broker's acknowledgement of its publish to the moment its
   fact row is committed in the read models (polled every 0.1 s by a reader
   of its own; a report reads it at its next query, whose indicator refresh
   is measured in ``bench_indicators.py``). p50, p95, p99 and the worst;
3. **sustained**: ``--events`` more published as fast as the SDK goes,
   timed from the first send until the read models caught up
   (:func:`projections.lag.measure`);
4. **memory** (not in ``--quick``): ``--memory-rate`` events/s for
   ``--memory-seconds``; the resident set of the gateway, the worker, the
   broker, the registry and this process is sampled every 5 s through all
   phases: start, peak, end, and the growth over the last half of the run.

Demo events are reused with fresh ``event_id``s and case numbers, so every
event is a new fact. Everything it started is stopped at the end. Not a test:
nothing is asserted beyond every event arriving.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr
from sqlalchemy import select

from benchmarks._report import Report, rss_mib
from benchmarks._stack import local_stack
from demo import stream as demo_data
from hub import local_kafka
from hub.agreements import default_agreements_dir, load_agreements
from hub.agreements.keys import generate_key
from hub.gateway import launcher as gateway
from hub.gateway.status import read_status
from hub.kafka_admin import apply_topics
from hub.kafka_clients import new_producer
from hub.publishing.publisher import Ack, Publisher
from hub.registry import launcher as registry_launcher
from hub.registry.client import RegistryClient
from hub.settings import ENV_PREFIX, HubSettings
from hub.sql import make_engine
from hub.topology import TopicSpec
from hub.validation import validate_event
from projections import lag
from projections import launcher as worker
from projections.tables import tables_for

SCRATCH = "bench.e2e.baseline"
SAMPLE_EVERY = 10
#: Event types whose fact row names them by ``event_id`` (a closure by ``closed_event_id``; a funding is keyed by
#: its project and period, not by an event, so it is not sampled).
UNSAMPLED = frozenset({"ProjectFunded"})
DRAIN_S = 300.0


# -- events ---------------------------------------------------------------------------------------
def fresh_events(seed: int) -> Iterator[dict[str, Any]]:
    """Demo events for ever, each round with fresh ids so that every event is a new fact."""
    base = list(demo_data.generate(seed))
    for round_no in itertools.count():
        suffix = f"r{round_no}"
        for doc in base:
            out = dict(doc)
            out["event_id"] = str(uuid.uuid4())
            for name in ("case_id", "visit_id", "donation_id", "evaluation_id", "project_id"):
                if isinstance(out.get(name), str) and round_no:
                    out[name] = f"{out[name]}-{suffix}"
            yield out


# -- sampling ---------------------------------------------------------------------------------------
@dataclass
class Freshness:
    """Sampled events: acknowledged at, and seen in the read models at (monotonic seconds)."""

    acked: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    error: Exception | None = None
    """Why the poller stopped, if it failed."""

    def pending(self) -> list[str]:
        with self.lock:
            return [e for e in self.acked if e not in self.seen]

    def delays(self) -> list[float]:
        with self.lock:
            return sorted(self.seen[e] - self.acked[e] for e in self.seen if e in self.acked)


def poll_visible(settings: HubSettings, fresh: Freshness, stop: threading.Event) -> None:
    """Mark sampled events as seen once their fact row is committed (a reader of its own, every 0.1 s)."""
    engine = make_engine(settings.database_url)
    tables = tables_for("")
    columns = [t.c.event_id for t in tables.values() if "event_id" in t.c and "zone" in t.c]
    columns.append(tables["cases"].c.closed_event_id)
    try:
        while not stop.is_set():
            if fresh.error is not None:
                return
            pending = fresh.pending()
            found: set[str] = set()
            if pending:
                with engine.connect() as conn:
                    for i in range(0, len(pending), 500):
                        chunk = pending[i : i + 500]
                        for column in columns:
                            found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
            now = time.monotonic()
            with fresh.lock:
                for event_id in found:
                    fresh.seen.setdefault(event_id, now)
            stop.wait(0.1)
    except Exception as exc:  # noqa: BLE001 - said by the main thread, which stops the run
        fresh.error = exc
    finally:
        engine.dispose()


@dataclass
class Memory:
    """RSS samples per process name: (monotonic s, MiB)."""

    pids: dict[str, int]
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def sample(self) -> None:
        now = time.monotonic()
        for name, pid in self.pids.items():
            value = rss_mib(pid)
            if value is not None:
                self.samples.setdefault(name, []).append((now, value))

    def run(self, stop: threading.Event, every_s: float = 5.0) -> None:
        while not stop.is_set():
            self.sample()
            stop.wait(every_s)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


# -- phases -----------------------------------------------------------------------------------------
def baseline(settings: HubSettings, registry: RegistryClient, events: list[dict[str, Any]]) -> float:
    """Events/s of kafka-python sending the same events pre-encoded (validation and encoding done before)."""
    with Publisher(settings, registry) as pub:
        encoded = [pub.encode(validate_event(doc)) for doc in events]
    producer = new_producer(settings, client_id="bench-e2e-baseline")
    try:
        started = time.perf_counter()
        futures = [producer.send(SCRATCH, key=k, value=v) for _, k, v in encoded]
        producer.flush()
        for f in futures:
            f.get(timeout=30)
        return len(encoded) / (time.perf_counter() - started)
    finally:
        producer.close()


def offer(
    pub: Publisher, events: Iterator[dict[str, Any]], rate: float, seconds: float, fresh: Freshness | None
) -> int:
    """Publish ``rate`` events/s for ``seconds`` in batches every 0.1 s; returns how many were acknowledged."""
    tick = 0.1
    per_tick = max(1, round(rate * tick))
    sent = 0
    started = time.monotonic()
    for n in itertools.count():
        due = started + n * tick
        if due - started >= seconds:
            break
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        batch = list(itertools.islice(events, per_tick))
        results = pub.publish_many(batch)
        now = time.monotonic()
        for i, result in enumerate(results):
            if not isinstance(result, Ack):
                raise SystemExit(f"publish failed: {result}")
            if fresh is not None and (sent + i) % SAMPLE_EVERY == 0 and batch[i]["type"] not in UNSAMPLED:
                with fresh.lock:
                    fresh.acked[result.event_id] = now
        sent += len(results)
    return sent


def wait_caught_up(
    settings: HubSettings, crossed: Callable[[], int], published: int, timeout_s: float = DRAIN_S
) -> float:
    """Seconds until the gateway crossed ``published`` events (its own count) and the read models caught up.

    The gateway's status file counts what it crossed, not its committed offsets, which faust commits on
    its own schedule."""
    engine = make_engine(settings.database_url)
    started = time.monotonic()
    try:
        while crossed() < published or not lag.measure(settings, engine).caught_up:
            if time.monotonic() - started > timeout_s:
                projected = lag.measure(settings, engine)
                raise SystemExit(
                    f"not caught up within {timeout_s:.0f}s: the gateway crossed {crossed():,} of {published:,} "
                    f"events, the read models are {projected.offsets_behind:,} shared records behind"
                )
            time.sleep(0.25)
        return time.monotonic() - started
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short phases, no memory run")
    parser.add_argument("--rate", type=float, default=5000.0, help="offered events/s of the freshness phase")
    parser.add_argument("--seconds", type=float, default=None, help="length of the freshness phase (30; quick 15)")
    parser.add_argument("--events", type=int, default=None, help="events of the sustained phase (100000; quick 20000)")
    parser.add_argument("--memory-seconds", type=float, default=600.0, help="length of the memory run (not quick)")
    parser.add_argument("--memory-rate", type=float, default=1000.0, help="offered events/s of the memory run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    seconds = args.seconds if args.seconds is not None else (15.0 if args.quick else 30.0)
    sustained_n = args.events if args.events is not None else (20_000 if args.quick else 100_000)

    report = Report("e2e")
    events = fresh_events(args.seed)
    keys = {a.key_variable: generate_key() for a in load_agreements(default_agreements_dir()).values()}
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)} | keys
    with local_stack("hub-bench-e2e-") as settings:
        apply_topics(settings, [TopicSpec(SCRATCH, settings.raw_partitions, settings.replication_factor)])
        registry = RegistryClient(settings.schema_registry_url)
        base = baseline(settings, registry, list(itertools.islice(fresh_events(args.seed + 1), 20_000)))
        report.add("kafka-python produce, pre-encoded (baseline)", base, "events/s")
        # each component logs in as its own principal, as in make demo (the stack's settings are the admin's)
        own = settings.model_copy(update={"kafka_sasl_username": "", "kafka_sasl_password": SecretStr("")})
        started_gw = gateway.start(own, environ=environ, timeout_s=180)
        started_pw = worker.start(own, timeout_s=180)
        pids = {"gateway": started_gw.pid, "projection worker": started_pw.pid, "bench (publisher)": os.getpid()}
        broker_pid, reg = local_kafka.running_pid(settings), registry_launcher.running(settings)
        if broker_pid is not None:
            pids["broker (JVM)"] = broker_pid
        if reg is not None:
            pids["registry"] = reg.pid
        memory = Memory(pids)

        def crossed() -> int:
            found = read_status(gateway.paths_of(own).status)
            return 0 if found is None else int(found.stats.get("events", 0))

        stop = threading.Event()
        fresh = Freshness()
        threads = [
            threading.Thread(target=memory.run, args=(stop,), daemon=True),
            threading.Thread(target=poll_visible, args=(settings, fresh, stop), daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            with Publisher(settings, registry) as pub:
                print(f"freshness: offering {args.rate:,.0f} events/s for {seconds:.0f}s")
                offered = offer(pub, events, args.rate, seconds, fresh)
                published = offered
                drain = time.monotonic() + DRAIN_S
                while fresh.pending() and time.monotonic() < drain and fresh.error is None:
                    time.sleep(0.2)
                if fresh.error is not None:
                    raise SystemExit(f"the freshness poller failed: {fresh.error!r}")
                delays, missing = fresh.delays(), len(fresh.pending())
                print(f"  {offered:,} published, {len(delays):,} sampled seen, {missing} not seen in {DRAIN_S:.0f}s")
                for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0)):
                    report.add(
                        f"freshness {name} at {args.rate:,.0f} events/s offered", percentile(delays, q), "s",
                        target=2.0 if name == "p95" else None, higher_is_better=False,
                    )  # fmt: skip
                wait_caught_up(settings, crossed, published)
                print(f"sustained: {sustained_n:,} events as fast as the SDK goes")
                t0 = time.monotonic()
                with_sdk = pub.publish_many(list(itertools.islice(events, sustained_n)))
                published_s = time.monotonic() - t0
                assert all(isinstance(r, Ack) for r in with_sdk)
                published += len(with_sdk)
                wait_caught_up(settings, crossed, published)
                total_s = time.monotonic() - t0
                rate = sustained_n / total_s
                report.add("sustained, publish to read models", rate, "events/s", target=10_000)
                report.notes.append(
                    f"sustained: {sustained_n:,} events published in {published_s:.1f}s, in the read models "
                    f"{total_s:.1f}s after the first send: {rate / base:.2f} of the raw produce baseline"
                )
                if not args.quick:
                    print(f"memory: {args.memory_rate:,.0f} events/s for {args.memory_seconds:.0f}s")
                    mem_start = time.monotonic()
                    published += offer(pub, events, args.memory_rate, args.memory_seconds, None)
                    wait_caught_up(settings, crossed, published)
                    memory.sample()
                    for name, samples in memory.samples.items():
                        run = [(t, v) for t, v in samples if t >= mem_start]
                        half = [(t, v) for t, v in run if t >= mem_start + args.memory_seconds / 2]
                        if not run:
                            continue
                        growth = (half[-1][1] - half[0][1]) if len(half) > 1 else 0.0
                        report.add(
                            f"RSS growth of {name} over the memory run's second half",
                            growth,
                            "MiB",
                            higher_is_better=False,
                        )
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
            worker.stop(own)
            gateway.stop(own)
        for name, samples in memory.samples.items():
            values = [v for _, v in samples]
            report.add(f"peak RSS of {name}", max(values), "MiB", higher_is_better=False)
            report.notes.append(
                f"RSS of {name}: start {values[0]:,.0f} MiB, peak {max(values):,.0f}, end {values[-1]:,.0f}"
            )
    report.emit(args.json)


if __name__ == "__main__":
    main()
