"""Rebuild a projection without downtime: replay its shared topics into shadow tables, then swap.

The protocol (safe while the live worker runs; docs/projections.md,
"Rebuild without downtime"):

1. take the rebuild lock of the projection (one rebuild at a time per data dir);
2. create empty shadow tables (``<table>__shadow``) and forget the shadow's
   offsets (stored as projection ``<name>__shadow`` in ``projection_offsets``);
3. replay every partition of the projection's shared topics from its oldest
   record, with a group-less kafka-python consumer (manual assignment), up to
   the end offsets taken at the start, through the very same decode →
   project → dead-letter → apply steps as the worker
   (:class:`projections.pipeline.Pipeline`, ``suffix="__shadow"``). The live
   tables keep answering queries, and the live worker keeps writing them;
4. catch up: read on until the shadow's offsets reach the live offsets
   (the live worker kept moving), then swap (:func:`projections.store.swap_shadow`:
   one transaction, refused with :class:`~projections.store.ShadowBehind` if
   the live worker got ahead again meanwhile; then catch up and retry).

The swap also replaces the live offsets by the shadow's, which are at or
beyond them. The live worker's next batch therefore lands on the swapped-in
tables, and its offset guard skips every record the shadow already holds: no
record is lost and none is applied twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine

from hub.dlq import DeadLetterProducer
from hub.errors import BrokerError, ProjectionError
from hub.kafka_reader import KafkaReader, TopicPartitionKey
from hub.registry.client import RegistryClient
from hub.serde import SchemaSource
from hub.settings import HubSettings
from projections import migrations, store
from projections.fx import load_rates
from projections.lag import covered_zones, topics_of
from projections.pipeline import Consumed, DeadLetterSink, Decoder, Outcome, Pipeline
from projections.rules import ProjectionContext
from projections.status import check_projection
from projections.store import ShadowBehind
from projections.tables import READ_MODELS, SHADOW_SUFFIX

log = logging.getLogger("hub.projections")
STALL_TIMEOUT_S: Final = 60.0
MAX_SWAP_ATTEMPTS: Final = 50


@dataclass(frozen=True)
class Progress:
    """Where a rebuild is, for a progress bar."""

    phase: str
    """``replay`` (up to the end offsets taken at the start), ``catch-up`` (up to the live offsets) or ``swapped``."""
    done: int
    """Records read so far (up to the current targets)."""
    total: int
    """Records to read up to the current targets."""
    applied: int
    dead: int
    elapsed_s: float

    @property
    def events_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild did."""

    projection: str
    zones: tuple[str, ...]
    topics: tuple[str, ...]
    records: int
    """Records replayed."""
    applied: int
    dead: Counter[str] = field(hash=False)
    """Dead letters per stage (consumer ``projection-rebuild:<name>``)."""
    seconds: float
    swap_attempts: int
    offsets: dict[TopicPartitionKey, int] = field(hash=False)
    """The live offsets after the swap."""

    @property
    def events_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


@contextlib.contextmanager
def rebuild_lock(settings: HubSettings, projection: str) -> Iterator[None]:
    """Hold the rebuild lock of ``projection`` (a file lock under ``<data_dir>/projections``)."""
    folder = settings.data_dir.resolve() / "projections"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rebuild-{projection}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ProjectionError(f"another rebuild of {projection} is running (lock {path})") from None
        yield
    finally:
        os.close(fd)


def rebuild(
    settings: HubSettings,
    engine: Engine,
    projection: str = READ_MODELS,
    *,
    zones: Sequence[str] | None = None,
    batch_size: int = 500,
    registry: SchemaSource | None = None,
    dead_letters: DeadLetterSink | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stopping: threading.Event | None = None,
) -> RebuildResult:
    """Replay ``projection`` from offset 0 into shadow tables and swap them in (see the module docstring).

    ``zones`` default to the zones the projection already covers. On failure
    the shadow tables are dropped and the live tables are left as they were.
    """
    check_projection(projection)
    with rebuild_lock(settings, projection):
        migrations.upgrade_engine(engine)
        chosen = tuple(sorted(set(zones))) if zones else covered_zones(engine, projection)
        topics = topics_of(settings, engine, projection, chosen)
        if not topics:
            raise BrokerError(
                f"no shared topics for zone(s) {', '.join(chosen)} at {settings.bootstrap_servers}: "
                "nothing to rebuild from (`hub topics apply`)"
            )
        source = registry or RegistryClient(settings.schema_registry_url, settings.request_timeout_s)
        ctx = ProjectionContext(reporting_currency=settings.reporting_currency, fx=load_rates())
        sink = dead_letters or DeadLetterProducer(settings, client_id=f"hub-rebuild-{projection}-dlq")
        pipeline = Pipeline(
            engine,
            projection,
            Decoder(source, ctx),
            sink,
            consumer=f"projection-rebuild:{projection}",
            suffix=SHADOW_SUFFIX,
            stopping=stopping,
        )
        store.create_shadow(engine, projection)
        try:
            with KafkaReader(settings, client_id=f"hub-rebuild-{projection}", max_poll_records=batch_size) as reader:
                run = _Run(reader, pipeline, on_progress)
                try:
                    result = run.rebuild(projection, chosen, tuple(topics))
                finally:
                    run.close()
        except BaseException:
            with contextlib.suppress(ProjectionError):
                store.drop_shadow(engine, projection)
            raise
        finally:
            if dead_letters is None and isinstance(sink, DeadLetterProducer):
                sink.close()
    log.info(
        "rebuilt %s from %d records in %.1fs (%.0f events/s)",
        projection,
        result.records,
        result.seconds,
        result.events_per_s,
    )
    return result


class _Run:
    """One rebuild's replay loop and counters."""

    def __init__(self, reader: KafkaReader, pipeline: Pipeline, on_progress: Callable[[Progress], None] | None) -> None:
        self.reader = reader
        self.pipeline = pipeline
        self.on_progress = on_progress
        self.started = time.monotonic()
        self.records = 0
        self.applied = 0
        self.dead: Counter[str] = Counter()
        self.begin: dict[TopicPartitionKey, int] = {}
        self.positions: dict[TopicPartitionKey, int] = {}
        """Where the replay is, at most: the offset after the last record applied (see :meth:`_read_until`)."""
        self._applier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-rebuild-apply")
        self._pending: Future[Outcome] | None = None

    def rebuild(self, projection: str, zones: tuple[str, ...], topics: tuple[str, ...]) -> RebuildResult:
        engine = self.pipeline.engine
        tps = self.reader.partitions(topics)
        self.begin = self.reader.beginning_offsets(tps)
        targets = self.reader.end_offsets(tps)
        self.reader.assign(self.begin)
        self._read_until("replay", targets)
        for attempt in range(1, MAX_SWAP_ATTEMPTS + 1):
            live = store.stored_offsets(engine, projection)
            targets = {tp: max(targets.get(tp, 0), live.get(tp, 0)) for tp in tps}
            self._read_until("catch-up", targets)
            try:
                offsets = store.swap_shadow(engine, projection)
            except ShadowBehind as exc:
                log.info("swap attempt %d: %s; catching up", attempt, exc)
                continue
            except store.StoreUnavailable as exc:  # a lock timeout or a deadlock with the live worker
                log.warning("swap attempt %d: %s; retrying", attempt, exc)
                time.sleep(min(0.2 * attempt, 5.0))
                continue
            self._report("swapped", targets)
            return RebuildResult(
                projection,
                zones,
                topics,
                self.records,
                self.applied,
                self.dead,
                time.monotonic() - self.started,
                attempt,
                offsets,
            )
        raise ProjectionError(
            f"rebuild of {projection}: the live worker kept getting ahead of the shadow tables "
            f"in {MAX_SWAP_ATTEMPTS} swap attempts; the live tables are unchanged"
        )

    def _read_until(self, phase: str, targets: Mapping[TopicPartitionKey, int]) -> None:
        """Read and apply (to the shadow) until every partition's position reaches its target.

        Each batch is decoded and projected (:meth:`Pipeline.prepare`) while the previous one is being
        applied in the apply thread (:meth:`Pipeline.apply`, one batch at a time, in order): the
        database's own work (SQLite's, PostgreSQL's round trips) runs without the GIL, so the two overlap.

        The positions are known from the records applied (the next offset after each partition's last
        record) and asked of the consumer only for the partitions still short of their target when a poll
        brings nothing or every second, once the batch in flight is applied: kafka-python's ``position``
        costs about as much as decoding a record, and was asked for every partition on every poll."""
        last_progress = time.monotonic()
        self._refresh_positions(targets)
        refreshed = time.monotonic()
        while True:
            remaining = {tp: t for tp, t in targets.items() if self.positions.get(tp, 0) < t}
            self._report(phase, targets)
            if not remaining:
                self._finish()
                return
            records = self.reader.poll(timeout_s=0.5)
            now = time.monotonic()
            if not records or now - refreshed > 1.0:
                self._refresh_positions(remaining)
                refreshed = now
            if not records:
                if now - last_progress > STALL_TIMEOUT_S:
                    stuck = ", ".join(
                        f"{t}[{p}] at {self.positions.get((t, p), 0)} < {n}" for (t, p), n in sorted(remaining.items())
                    )
                    raise BrokerError(f"the replay stalled for {STALL_TIMEOUT_S:.0f}s: {stuck}")
                continue
            last_progress = now
            batch = [Consumed(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value) for r in records]
            prepared = self.pipeline.prepare(batch)
            self._finish()
            self._pending = self._applier.submit(self.pipeline.apply, prepared)

    def _finish(self) -> None:
        """Wait for the batch in flight (raising what its apply raised) and count it."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        outcome = pending.result()
        for r in outcome.records:
            if r.offset + 1 > self.positions.get(r.tp, 0):
                self.positions[r.tp] = r.offset + 1
        self.records += len(outcome.records)
        self.applied += outcome.summary.applied
        self.dead.update(outcome.dead)

    def close(self) -> None:
        """Wait for the batch in flight, if any (its error is left to the caller's), and stop the apply thread."""
        pending, self._pending = self._pending, None
        if pending is not None:
            with contextlib.suppress(BaseException):
                pending.result()
        self._applier.shutdown(wait=True)

    def _refresh_positions(self, tps: Iterable[TopicPartitionKey]) -> None:
        """The consumer's positions of ``tps``, once every record it returned is applied."""
        self._finish()
        for tp in tps:
            self.positions[tp] = self.reader.position(tp)

    def _report(self, phase: str, targets: Mapping[TopicPartitionKey, int]) -> None:
        if self.on_progress is None:
            return
        total = sum(max(0, t - self.begin.get(tp, 0)) for tp, t in targets.items())
        done = sum(max(0, min(self.positions.get(tp, 0), t) - self.begin.get(tp, 0)) for tp, t in targets.items())
        self.on_progress(
            Progress(phase, done, total, self.applied, sum(self.dead.values()), time.monotonic() - self.started)
        )


__all__ = ["MAX_SWAP_ATTEMPTS", "Progress", "RebuildResult", "rebuild", "rebuild_lock"]
