"""The projection worker: ``shared.<zone>.*`` in, read models out, exactly once in effect.

At start (:func:`prepare`): migrate the database (:func:`projections.migrations.upgrade`),
resolve the zones' ``shared.<zone>.*`` pattern against the broker's topics
(:func:`hub.kafka_admin.shared_topics`; no pattern subscription in
faust-streaming 0.15, see :mod:`hub.stream_runner.runner`: ``hub topics
apply`` creates every shared topic up front, and a topic created later is
reported in the status file and served after a restart), and build the
decoder (registry client, pinned shared reader schemas, FX rates, reporting
currency).

The worker is a :class:`hub.stream_runner.runner.StreamRunner`: the runner
owns the faust app, the batch loop, readiness, the status file and the topic
checks. The projection supplies:

- its per-batch function: decode, project, dead-letter and apply the batch in
  a worker thread (:class:`projections.pipeline.Pipeline`: rows and offsets in
  ONE transaction). The runner acknowledges the batch's events only once it
  returned, so faust's committed offsets never pass what the database holds.
  Outages (registry, broker, database) are waited out inside it; a failure
  that is neither an outage nor attributable to a record stops the worker
  without acknowledging the batch;
- its positions: at the end of every assignment the runner's consumer seeks
  every partition currently assigned to the ``next_offset`` stored in
  ``projection_offsets`` (its oldest record when none is stored) and commits
  those positions to the consumer group, so that the group's offsets follow
  the database (faust-streaming #216, see :mod:`hub.stream_runner.app`). The
  offset guard of :func:`projections.store.apply_batch` stays the real
  protection against re-applying anything;
- its ``/metrics`` endpoint, started with the worker when asked for.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP
from sqlalchemy import Engine

from hub.credentials import as_principal
from hub.dlq import DeadLetterProducer
from hub.errors import BrokerError, ProjectionError
from hub.jurisdictions import held_zones
from hub.kafka_admin import shared_topics
from hub.kafka_auth import principal_of
from hub.metrics_server import MetricsServer, serve
from hub.principals import projection_principal
from hub.registry.client import RegistryClient
from hub.retry import log_waits, retry_async
from hub.serde import SchemaSource
from hub.settings import HubSettings
from hub.sql import make_engine
from hub.stream_runner.batch import Consumed
from hub.stream_runner.runner import StreamRunner, WorkerSpec
from hub.stream_runner.tuning import Tuning
from projections import migrations, store
from projections import status as status_file
from projections.fx import load_rates
from projections.lag import measure
from projections.metrics import LagCollector, ProjectionMetrics
from projections.pipeline import Decoder, Outcome, Pipeline
from projections.rules import ProjectionContext
from projections.status import Stats, Status, check_projection, group_id, served_zones
from projections.tables import READ_MODELS

log = logging.getLogger("hub.projections")

#: Batches handed to the apply thread at a time: the runner takes (and faust delivers) the next batch while
#: one is applied; the one apply thread applies them in consumption order (see :meth:`_Projection._process`).
IN_FLIGHT = 2


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
    zones = served_zones(options.zones, held_zones(settings))
    migrations.upgrade(settings.database_url)
    topics = shared_topics(settings, zones)
    if not topics:
        raise BrokerError(
            f"no shared topics for zone(s) {', '.join(zones)} visible to {principal_of(settings)} at "
            f"{settings.bootstrap_servers} (create them: `hub topics apply`; grant the worker its ACLs: "
            "`hub kafka acls apply`)"
        )
    source = (
        registry if registry is not None else RegistryClient(settings.schema_registry_url, settings.request_timeout_s)
    )
    ctx = ProjectionContext(reporting_currency=settings.reporting_currency, fx=load_rates())
    engine = make_engine(settings.database_url)
    return Prepared(projection, zones, group_id(projection, zones), tuple(topics), engine, Decoder(source, ctx))


# -- what the projection supplies to the runner ------------------------------------------------------
class _Projection:
    """The per-batch function, the positions and the metrics of one worker."""

    def __init__(self, settings: HubSettings, options: WorkerOptions, plan: Prepared) -> None:
        self.settings = settings
        self.options = options
        self.tuning = options.tuning
        self.plan = plan
        self.topic_set = frozenset(plan.topics)
        self.stats = Stats()
        self.metrics = ProjectionMetrics(plan.projection)
        self.status = Status(
            pid=os.getpid(),
            group_id=plan.group_id,
            projection=plan.projection,
            zones=list(plan.zones),
            topics=len(plan.topics),
        )
        self.pipeline = Pipeline(
            plan.engine,
            plan.projection,
            plan.decoder,
            DeadLetterProducer(settings, client_id=f"{plan.group_id}-dlq"),
            consumer=f"projection:{plan.projection}",
            backoff=self.tuning.backoff,
        )
        self.runner: StreamRunner | None = None
        self._metrics_server: MetricsServer | None = None
        # one thread: batches are applied one after the other, in consumption order
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-projection-apply")
        self._failed: BaseException | None = None

    def spec(self) -> WorkerSpec:
        plan = self.plan
        return WorkerSpec(
            name="projection",
            agent=f"hub.projections.{plan.projection}",
            topics=plan.topics,
            topic_kind="shared",
            files=status_file.paths(self.settings, plan.group_id),
            status=self.status,
            counters=self.stats,
            handle=self.project,
            list_topics=functools.partial(shared_topics, self.settings, plan.zones),
            positioner=self.positions,
            on_start=self.start_metrics,
            on_stop=self.stop,
            detail=f"{plan.projection}, zones {', '.join(plan.zones)}",
            in_flight=IN_FLIGHT,
        )

    async def project(self, batch: Sequence[Consumed]) -> None:
        """Apply the batch (rows + offsets in one transaction), dead-lettering what fails."""
        outcome, busy_s = await asyncio.get_running_loop().run_in_executor(self._executor, self._process, batch)
        done, dead, retries = outcome.summary, outcome.dead, outcome.retries
        self.stats.add(len(batch), done.applied, done.skipped, done.changed, Counter(dead), retries, busy_s)
        self.metrics.observe(records=len(batch), applied=done.applied, skipped=done.skipped, dead=dead, retries=retries)

    def _process(self, batch: Sequence[Consumed]) -> tuple[Outcome, float]:
        """The pipeline on one batch, in the apply thread, and the seconds it took. Once a batch failed, no
        later batch is applied: its offsets would pass the failed batch's records, never applied then."""
        if self._failed is not None:
            raise ProjectionError(f"an earlier batch failed, this one is not applied: {self._failed}")
        try:
            started = time.perf_counter()
            return self.pipeline.process(batch), time.perf_counter() - started
        except BaseException as exc:
            self._failed = exc
            raise

    async def stop(self) -> None:
        """The batch loop ended: a pipeline still waiting out an outage stops (nothing of its batch is acknowledged)."""
        self.pipeline.stopping.set()

    async def positions(self, consumer: faust.types.ConsumerT, assigned: Set[TP]) -> Mapping[TP, int]:
        """Where to resume each assigned partition of our topics: its stored ``next_offset``, or its oldest record."""
        ours = {tp for tp in assigned if tp.topic in self.topic_set}
        stored = await retry_async(
            self._stored_offsets, what="reading the stored offsets", backoff=self.tuning.backoff, on_wait=log_waits(log)
        )
        missing = [tp for tp in ours if (tp.topic, tp.partition) not in stored]
        earliest = await consumer.earliest_offsets(*missing) if missing else {}
        out = {tp: stored.get((tp.topic, tp.partition), int(earliest.get(tp, 0) or 0)) for tp in ours}
        log.info(
            "resuming %d partition(s) at the stored offsets (%d never applied, from their oldest record)",
            len(out),
            len(missing),
        )
        return out

    async def _stored_offsets(self) -> dict[tuple[str, int], int]:
        read = functools.partial(store.stored_offsets, self.plan.engine, self.plan.projection)
        return await asyncio.get_running_loop().run_in_executor(None, read)

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
        if self.runner is not None:
            self.runner.write_status()


# -- the worker ------------------------------------------------------------------------------------
def runner(settings: HubSettings, options: WorkerOptions, plan: Prepared) -> StreamRunner:
    """The projection worker of ``plan`` as a stream-runner (not started: call ``run()``)."""
    projection = _Projection(settings, options, plan)
    projection.runner = StreamRunner(settings, projection.spec(), options.tuning)
    return projection.runner


def run(settings: HubSettings, options: WorkerOptions = WorkerOptions(), *, loglevel: str = "info") -> None:
    """Run the worker in the foreground until SIGINT/SIGTERM (blocking; raises SystemExit at the end).

    It logs in as its own principal (``projection.<zones>``) unless the settings name a user."""
    settings = as_principal(settings, projection_principal(served_zones(options.zones, held_zones(settings))))
    plan = prepare(settings, options)
    try:
        runner(settings, options, plan).run(loglevel=loglevel)
    finally:
        plan.engine.dispose()


__all__ = ["Prepared", "WorkerOptions", "prepare", "run", "runner"]
