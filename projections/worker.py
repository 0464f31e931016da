"""The projection worker (faust): ``shared.<zone>.*`` in, read models out, exactly once in effect.

At start (:func:`prepare`): migrate the database (:func:`projections.migrations.upgrade`),
resolve the zones' ``shared.<zone>.*`` pattern against the broker's topics
(faust-streaming 0.15's aiokafka driver subscribes by topic names only, so
the pattern is resolved at start; ``hub topics apply`` creates every shared
topic up front, and a topic created later is reported and served after a
restart), and build the decoder (registry client, pinned shared reader
schemas, FX rates, reporting currency).

Per batch (``stream.noack_take(N, within=T)``; faust's ``take`` would hand
over values without their Kafka coordinates and acknowledge them in a
``finally``, i.e. even when the body fails): decode, project, dead-letter and
apply the batch in a worker thread (:class:`projections.pipeline.Pipeline`:
rows and offsets in ONE transaction), and only then acknowledge its events
and continue the loop. Faust's committed offsets therefore never pass what
the database holds. Outages (registry, broker, database) are waited out
inside the loop; a failure that is neither an outage nor attributable to a
record stops the worker without acknowledging the batch.

Positions come from the database, not from faust: faust ends every partition
assignment by seeking the stream partitions "to the committed offsets"
(``Consumer.perform_seek``, called by its recovery service after the
``on_partitions_assigned`` signal, which is why a seek from that signal would
be overwritten; faust-streaming #216). The worker's consumer overrides that
step: it seeks every partition *currently assigned* to the ``next_offset``
stored in ``projection_offsets`` (its oldest record when none is stored) and
commits those positions to the consumer group, so that the group's offsets
follow the database. The offset guard of :func:`projections.store.apply_batch`
stays the real protection against re-applying anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from sqlalchemy import Engine

from hub import process
from hub.errors import BrokerError
from hub.registry.client import RegistryClient
from hub.serde import SchemaSource
from hub.settings import HubSettings
from hub.sql import make_engine
from projections import migrations, store
from projections import status as status_file
from projections.fx import load_rates
from projections.kafka_io import DeadLetterProducer, shared_topics
from projections.lag import measure
from projections.metrics import LagCollector, MetricsServer, ProjectionMetrics, serve
from projections.pipeline import Backoff, Consumed, Decoder, Pipeline, Stopping
from projections.rules import ProjectionContext
from projections.status import Stats, Status, check_projection, group_id, served_zones
from projections.tables import READ_MODELS

log = logging.getLogger("hub.projections")
Positioner = Callable[[faust.types.ConsumerT, Set[TP]], Awaitable[dict[TP, int]]]


@dataclass(frozen=True)
class Tuning:
    """Knobs of the worker; the defaults suit one worker on a laptop."""

    batch_size: int = 500
    batch_within_s: float = 0.5
    commit_interval_s: float = 1.0
    session_timeout_s: float = 10.0
    heartbeat_interval_s: float = 2.0
    retry_first_s: float = 0.2
    retry_max_s: float = 5.0
    status_interval_s: float = 1.0
    log_interval_s: float = 30.0
    topic_check_interval_s: float = 60.0


@dataclass(frozen=True)
class WorkerOptions:
    """What to project and how."""

    projection: str = READ_MODELS
    zones: tuple[str, ...] | None = None
    """Zones whose ``shared.<zone>.*`` topics are projected; None: every zone."""
    metrics_port: int | None = None
    """Port of the ``/metrics`` endpoint; None: no endpoint, 0: any free port (see the status file)."""
    metrics_host: str = "127.0.0.1"
    tuning: Tuning = field(default_factory=Tuning)


@dataclass(frozen=True)
class Prepared:
    """What start-up resolved."""

    projection: str
    zones: tuple[str, ...]
    group_id: str
    topics: tuple[str, ...]
    engine: Engine
    decoder: Decoder


# -- start-up (blocking I/O, before the worker runs) -------------------------------------------
def prepare(settings: HubSettings, options: WorkerOptions, *, registry: SchemaSource | None = None) -> Prepared:
    """Migrate the database, list the shared topics, build the decoder. Raises a one-line HubError."""
    projection = check_projection(options.projection)
    zones = served_zones(options.zones)
    migrations.upgrade(settings.database_url)
    topics = shared_topics(settings, zones)
    if not topics:
        raise BrokerError(
            f"no shared topics for zone(s) {', '.join(zones)} at {settings.bootstrap_servers} "
            "(create them: `hub topics apply`)"
        )
    source = (
        registry if registry is not None else RegistryClient(settings.schema_registry_url, settings.request_timeout_s)
    )
    ctx = ProjectionContext(reporting_currency=settings.reporting_currency, fx=load_rates())
    engine = make_engine(settings.database_url)
    return Prepared(projection, zones, group_id(projection, zones), tuple(topics), engine, Decoder(source, ctx))


# -- positioning at the stored offsets -----------------------------------------------------------
class _Consumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, positioned from the database at the end of every assignment."""

    async def perform_seek(self) -> None:
        """Seek every assigned partition to the offset stored in the database and commit it to the group."""
        positioner = cast(_Transport, self.transport).positioner
        assigned = self.assignment()
        if positioner is None or not assigned:
            await super().perform_seek()
            return
        positions = await positioner(self, assigned)
        assigned_now = self.assignment()  # a rebalance may have taken some away meanwhile
        positions = {tp: offset for tp, offset in positions.items() if tp in assigned_now}
        if not positions:
            return
        await self.seek_wait(positions)
        # faust's own bookkeeping (what to drop, what to commit) starts at these positions.
        self._read_offset.update({tp: offset or None for tp, offset in positions.items()})
        self._committed_offset.update({tp: offset or None for tp, offset in positions.items()})
        await self._commit(positions)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    positioner: Positioner | None = None


# -- the worker ------------------------------------------------------------------------------------
def create_app(
    settings: HubSettings,
    options: WorkerOptions = WorkerOptions(),
    *,
    prepared: Prepared | None = None,
) -> faust.App:
    """A faust app projecting ``options.zones`` into ``options.projection`` (see the module docstring)."""
    plan = prepared if prepared is not None else prepare(settings, options)
    tuning = options.tuning
    files = status_file.paths(settings, plan.group_id)
    files.root.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        plan.group_id,
        broker=[f"kafka://{b}" for b in settings.bootstrap_list],
        store="memory://",
        datadir=str(files.faust_dir),
        autodiscover=False,
        web_enabled=False,
        processing_guarantee="at_least_once",
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=tuning.batch_size,
        broker_commit_interval=tuning.commit_interval_s,
        broker_session_timeout=tuning.session_timeout_s,
        broker_heartbeat_interval=tuning.heartbeat_interval_s,
        stream_wait_empty=False,
    )
    # Before anything touches app.topics (which builds the transport): our consumer class.
    transport = _Transport(app.conf.broker_consumer, app)
    app.transport = transport
    worker = _Worker(app, settings, options, plan, files)
    transport.positioner = worker.positions
    source = app.topic(*plan.topics, key_serializer="raw", value_serializer="raw")
    app.agent(source, name=f"hub.projections.{plan.projection}")(worker.project)
    # mode's stubs type receivers as a union of callables that mypy cannot match
    app.on_partitions_revoked.connect(worker.on_revoked)  # type: ignore[arg-type]
    app.on_partitions_assigned.connect(worker.on_assigned)  # type: ignore[arg-type]
    app.on_rebalance_complete.connect(worker.on_rebalance_complete)  # type: ignore[arg-type]
    app.task(worker.start_metrics)
    app.timer(tuning.status_interval_s)(worker.write_status)
    app.timer(tuning.log_interval_s)(worker.log_totals)
    app.timer(tuning.topic_check_interval_s)(worker.check_topics)
    return app


class _Worker:
    """The agent body, the positioning step and the bookkeeping; one per app."""

    def __init__(
        self,
        app: faust.App,
        settings: HubSettings,
        options: WorkerOptions,
        plan: Prepared,
        files: status_file.WorkerPaths,
    ) -> None:
        self.app = app
        self.settings = settings
        self.options = options
        self.tuning = options.tuning
        self.plan = plan
        self.files = files
        self.topic_set = frozenset(plan.topics)
        self.stats = Stats()
        self.metrics = ProjectionMetrics(plan.projection)
        self.status = Status(os.getpid(), plan.group_id, plan.projection, list(plan.zones), len(plan.topics))
        self.pipeline = Pipeline(
            plan.engine,
            plan.projection,
            plan.decoder,
            DeadLetterProducer(settings, client_id=f"{plan.group_id}-dlq"),
            consumer=f"projection:{plan.projection}",
            backoff=Backoff(self.tuning.retry_first_s, self.tuning.retry_max_s),
        )
        self._metrics_server: MetricsServer | None = None
        self._logged_batches = -1
        self._status_file = process.StatusFile(files.status)
        # one thread: batches are applied one after the other, in consumption order
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-projection-apply")

    # -- the agent ---------------------------------------------------------------------------
    async def project(self, channel: faust.StreamT[Any]) -> None:
        """Consume batches; apply each (rows + offsets in one transaction), then acknowledge it."""
        stream = cast(faust.Stream[Any], channel)  # noack_take is on the implementation, not the interface
        loop = asyncio.get_running_loop()
        try:
            async for events in stream.noack_take(self.tuning.batch_size, within=self.tuning.batch_within_s):
                batch = [_consumed(e.message) for e in events]
                started = time.perf_counter()
                outcome = await loop.run_in_executor(self._executor, self.pipeline.process, batch)
                for event in events:
                    await stream.ack(event)
                self._count(len(batch), outcome.summary, outcome.dead, outcome.retries, time.perf_counter() - started)
        except Stopping as exc:
            log.info("%s", exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # a bug, not a bad record: stop the worker; nothing of this batch was acknowledged
            log.exception("projection worker %s crashed", self.plan.group_id)
            await self.app.crash(exc)
            raise
        finally:
            self.pipeline.stopping.set()

    def _count(
        self, records: int, summary: store.BatchSummary, dead: Mapping[str, int], retries: int, busy_s: float
    ) -> None:
        self.stats.add(records, summary.applied, summary.skipped, summary.changed, Counter(dead), retries, busy_s)
        self.metrics.observe(
            records=records, applied=summary.applied, skipped=summary.skipped, dead=dead, retries=retries
        )

    # -- positions -----------------------------------------------------------------------------
    async def positions(self, consumer: faust.types.ConsumerT, assigned: Set[TP]) -> dict[TP, int]:
        """Where to resume each assigned partition of our topics: its stored ``next_offset``, or its oldest record."""
        ours = {tp for tp in assigned if tp.topic in self.topic_set}
        stored = await self._stored_offsets()
        missing = [tp for tp in ours if (tp.topic, tp.partition) not in stored]
        earliest = await consumer.earliest_offsets(*missing) if missing else {}
        out = {tp: stored.get((tp.topic, tp.partition), int(earliest.get(tp, 0) or 0)) for tp in ours}
        log.info(
            "resuming %d partition(s) at the stored offsets (%d never applied, from their oldest record)",
            len(out),
            len(missing),
        )
        self.status.assigned = len(assigned)
        self.status.ready = True
        self._write()
        return out

    async def _stored_offsets(self) -> dict[tuple[str, int], int]:
        """The projection's stored offsets; a database outage is waited out (cancellable)."""
        loop = asyncio.get_running_loop()
        delay = self.tuning.retry_first_s
        while True:
            try:
                return await loop.run_in_executor(None, store.stored_offsets, self.plan.engine, self.plan.projection)
            except store.StoreUnavailable as exc:
                log.warning("reading the stored offsets failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.tuning.retry_max_s)

    async def on_revoked(self, sender: Any, *args: Any, **_: Any) -> None:
        self.status.ready = False

    async def on_assigned(self, sender: Any, *args: Any, **_: Any) -> None:
        assigned = args[0] if args else set()
        self.status.assigned = len(assigned)

    async def on_rebalance_complete(self, sender: Any, *args: Any, **_: Any) -> None:
        if not self.app.consumer.assignment():  # nothing to position: ready at once
            self.status.assigned = 0
            self.status.ready = True
            self._write()

    # -- metrics, status, logs -----------------------------------------------------------------
    async def start_metrics(self) -> None:
        if self.options.metrics_port is None:
            return
        registry = self.metrics.registry

        def lag() -> Any:
            return measure(self.settings, self.plan.engine, self.plan.projection, zones=self.plan.zones)

        registry.register(LagCollector(self.plan.projection, lag))  # type: ignore[arg-type]
        self._metrics_server = serve(registry, host=self.options.metrics_host, port=self.options.metrics_port)
        self.status.metrics_url = self._metrics_server.url
        log.info("metrics at %s", self._metrics_server.url)
        self._write()

    async def write_status(self) -> None:
        self._write()

    def _write(self) -> None:
        self.status.stats = self.stats.to_json()
        self._status_file.write(self.status.__dict__)

    async def log_totals(self) -> None:
        if self.stats.batches != self._logged_batches:
            self._logged_batches = self.stats.batches
            log.info("projection %s: %s", self.plan.group_id, self.stats.summary())

    async def check_topics(self) -> None:
        """Report shared topics created after start: serving them needs a restart (no pattern subscription)."""
        loop = asyncio.get_running_loop()
        try:
            current = await loop.run_in_executor(None, shared_topics, self.settings, self.plan.zones)
        except BrokerError as exc:
            log.warning("cannot list shared topics: %s", exc)
            return
        new = sorted(set(current) - self.topic_set)
        if new and new != self.status.unserved_topics:
            log.warning("shared topics created after start are not served until a restart: %s", ", ".join(new))
        self.status.unserved_topics = new


def _consumed(message: Any) -> Consumed:
    stamp = message.timestamp
    return Consumed(
        message.topic,
        message.partition,
        message.offset,
        None if stamp is None else round(stamp * 1000),
        message.key,
        message.value,
    )


def run(settings: HubSettings, options: WorkerOptions = WorkerOptions(), *, loglevel: str = "info") -> None:
    """Run the worker in the foreground until SIGINT/SIGTERM (blocking; raises SystemExit at the end)."""
    plan = prepare(settings, options)
    app = create_app(settings, options, prepared=plan)
    status_file.paths(settings, plan.group_id).status.unlink(missing_ok=True)
    app.task(_quiet_libraries(loglevel))
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    try:
        worker.execute_from_commandline()
    finally:
        plan.engine.dispose()


def _quiet_libraries(loglevel: str) -> Callable[[], Awaitable[None]]:
    async def quiet() -> None:
        if loglevel.lower() != "debug":
            for name in ("faust", "mode", "aiokafka", "kafka", "httpx"):
                logging.getLogger(name).setLevel(logging.WARNING)

    return quiet


__all__ = ["Prepared", "Tuning", "WorkerOptions", "create_app", "prepare", "run"]
