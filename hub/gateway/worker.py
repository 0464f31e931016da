"""The gateway worker: raw topics in, shared topics + ``hub.audit`` + ``hub.dlq`` out.

At start (:func:`prepare`): load the agreements and HMAC keys of the served
regions (a missing key stops the gateway with one line naming the variable),
register the shared and audit schemas once, and list the raw topics matching
:func:`hub.naming.raw_pattern` of each region (:func:`hub.kafka_admin.raw_topics`).
The pattern is resolved at start (no pattern subscription in faust-streaming
0.15, see :mod:`hub.stream_runner.runner`); a raw topic created later is
reported in the status file and served after a restart (``hub topics apply``
creates every district's topics up front).

The worker is a :class:`hub.stream_runner.runner.StreamRunner`: the runner
owns the faust app, the batch loop, readiness, the status file and the topic
checks. The gateway supplies only its per-batch function: cross every record
(pure, :class:`hub.gateway.crossing.Border`, in a worker thread), send every
output with an idempotent ``acks=all`` producer (one record batch per partition,
:func:`hub.stream_runner.delivery.deliver`) and await every delivery.
The runner acknowledges the batch's events only once that returned, so
faust's committed offsets never pass what the broker holds.

Two batches are in flight (``in_flight=2``): batch N+1 is crossed while batch
N's outputs are being delivered. Deliveries keep the batches' order: a batch
sends its first output only after every output of the batch before it was
acknowledged (or that batch ended), so a key's shared records stay in
consumption order in their partition, and the runner acknowledges in order. A registry or
broker outage is waited out (:mod:`hub.retry`); a bad record becomes a dead
letter. Delivery is at least once: a crash between delivery and the offset
commit re-crosses those events, and the copies are byte-identical (same key,
same value, same ``event_id``), which readers deduplicate (docs/gateway.md,
"Exactly once?").
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from hub.agreements import Agreement, agreements_dir, load_agreements
from hub.agreements.keys import load_key
from hub.credentials import as_principal
from hub.errors import BrokerError, PolicyError
from hub.gateway import status as status_file
from hub.gateway.crossing import Border, Outcome, OutputRecord, RawRecord, output_schemas
from hub.gateway.status import group_id, served_regions
from hub.jurisdictions import homed_regions
from hub.kafka_admin import raw_topics
from hub.kafka_auth import principal_of
from hub.kafka_clients import aiokafka_producer_config
from hub.principals import gateway_principal
from hub.registry.client import RegistryClient
from hub.retry import TRANSIENT, log_waits, retry_async
from hub.schemas import event_types, schema_text
from hub.serde import AvroDeserializer, SchemaSource
from hub.settings import HubSettings
from hub.stream_runner.batch import Consumed
from hub.stream_runner.delivery import deliver
from hub.stream_runner.runner import StreamRunner, WorkerSpec
from hub.stream_runner.tuning import Tuning

log = logging.getLogger("hub.gateway")
_report_wait = log_waits(log)


@dataclass(frozen=True)
class Prepared:
    """What start-up resolved: the served regions, their raw topics and a ready :class:`Border`."""

    regions: tuple[str, ...]
    group_id: str
    topics: tuple[str, ...]
    agreements: Mapping[str, Agreement]
    border: Border


# -- start-up (blocking I/O, before the worker runs) -------------------------------------------
def register_outputs(registry: SchemaSource, agreements: Mapping[str, Agreement]) -> dict[str, int]:
    """Register (or look up) every output subject once; subject -> schema id."""
    return {subject: registry.register(subject, text) for subject, text in output_schemas(agreements.values()).items()}


def prepare(
    settings: HubSettings,
    regions: Sequence[str] | None,
    environ: Mapping[str, str],
    *,
    registry: SchemaSource | None = None,
) -> Prepared:
    """Load agreements and keys, register output schemas, list raw topics. Raises a one-line HubError.

    ``environ`` is where agreement keys are looked up first (the CLI passes the
    process environment); ``settings.secrets_file`` second.
    """
    served = served_regions(regions, homed_regions(settings))
    folder = agreements_dir(settings.agreements_dir)
    every = load_agreements(folder)
    missing = [r for r in served if r not in every]
    if missing:
        raise PolicyError(f"no data-sharing agreement for {', '.join(missing)} in {folder}")
    agreements = {r: every[r] for r in served}
    keys = {r: load_key(a, environ, settings.secrets_file) for r, a in agreements.items()}
    source = (
        registry if registry is not None else RegistryClient(settings.schema_registry_url, settings.request_timeout_s)
    )
    ids = register_outputs(source, agreements)
    decoders = {et: AvroDeserializer(source, schema_text("raw", et)) for et in event_types("raw")}
    topics = raw_topics(settings, served)
    if not topics:
        raise BrokerError(
            f"no raw topics for {', '.join(served)} visible to {principal_of(settings)} at "
            f"{settings.bootstrap_servers} (create them: `hub topics apply`; grant the gateway its ACLs: "
            "`hub kafka acls apply`)"
        )
    return Prepared(served, group_id(served), tuple(topics), agreements, Border(agreements, keys, decoders, ids))


# -- the per-batch function ------------------------------------------------------------------------
class _Gateway:
    """Crossing and delivery of one batch, and the counters; one per worker."""

    def __init__(self, settings: HubSettings, plan: Prepared, tuning: Tuning) -> None:
        self.settings = settings
        self.plan = plan
        self.tuning = tuning
        self.stats = status_file.Stats()
        self._producer: AIOKafkaProducer | None = None
        self._delivered: asyncio.Future[None] | None = None  # the previous batch's delivery, done or not
        # one thread: the Border's caches are not shared between threads
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-gateway-cross")

    def spec(self) -> WorkerSpec:
        plan = self.plan
        return WorkerSpec(
            name="gateway",
            agent="hub.gateway.cross",
            topics=plan.topics,
            topic_kind="raw",
            files=status_file.paths(self.settings, plan.group_id),
            status=status_file.Status(
                pid=os.getpid(), group_id=plan.group_id, regions=list(plan.regions), topics=len(plan.topics)
            ),
            counters=self.stats,
            handle=self.cross,
            list_topics=functools.partial(raw_topics, self.settings, plan.regions),
            on_stop=self._stop_producer,
            detail=f"regions {', '.join(plan.regions)}",
            in_flight=2,
        )

    async def cross(self, batch: Sequence[Consumed]) -> None:
        """Cross every record, deliver every output once the batch before has been, and await every acknowledgement."""
        previous = self._delivered
        delivered = self._delivered = asyncio.get_running_loop().create_future()
        try:
            sources = [RawRecord(r.topic, r.partition, r.offset, r.key, r.value) for r in batch]
            outcomes, cross_s = await retry_async(
                functools.partial(self._cross_batch, sources),
                what="crossing a batch",
                backoff=self.tuning.backoff,
                on_wait=_report_wait,
            )
            if previous is not None:
                await asyncio.shield(previous)  # its turn first; being cancelled here leaves it running
            started = time.perf_counter()
            await self._deliver([o for oc in outcomes for o in oc.outputs])
            deliver_s = time.perf_counter() - started
        finally:
            delivered.set_result(None)  # the next batch's turn (it is cancelled too if this one failed)
        self.stats.add(outcomes, cross_s=cross_s, deliver_s=deliver_s)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "batch of %d: crossed in %.0f ms, delivered in %.0f ms; totals: %s",
                len(batch),
                cross_s * 1000,
                deliver_s * 1000,
                self.stats.summary(),
            )

    async def _cross_batch(self, sources: list[RawRecord]) -> tuple[list[Outcome], float]:
        """The batch's outcomes, crossed in the crossing thread, and the seconds the crossing took there."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _timed, self.plan.border.cross_batch, sources)

    async def _deliver(self, outputs: list[OutputRecord]) -> None:
        """Send every output and await every acknowledgement; on a broker error, start over with a new producer."""

        async def attempt() -> None:
            if self._producer is None:
                self._producer = await self._start_producer()
            try:  # one record batch per partition, as the producer's own partitioner would place them
                await deliver(self._producer, ((o.topic, o.key, o.value, o.headers) for o in outputs))
            except TRANSIENT:
                await self._stop_producer()
                raise

        await retry_async(
            attempt, what=f"delivering {len(outputs)} records", backoff=self.tuning.backoff, on_wait=_report_wait
        )

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(**aiokafka_producer_config(self.settings, client_id=f"{self.plan.group_id}-out"))
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _stop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except TRANSIENT as exc:
                log.warning("stopping the output producer: %s", exc)


def _timed(
    cross_batch: Callable[[list[RawRecord]], list[Outcome]], sources: list[RawRecord]
) -> tuple[list[Outcome], float]:
    """``cross_batch(sources)`` and the seconds it took (in the crossing thread, not waiting for it)."""
    started = time.perf_counter()
    outcomes = cross_batch(sources)
    return outcomes, time.perf_counter() - started


# -- the worker ------------------------------------------------------------------------------------
def runner(settings: HubSettings, plan: Prepared, tuning: Tuning = Tuning()) -> StreamRunner:
    """The gateway of ``plan`` as a stream-runner (not started: call ``run()``)."""
    return StreamRunner(settings, _Gateway(settings, plan, tuning).spec(), tuning)


def run(
    settings: HubSettings,
    regions: Sequence[str] | None,
    environ: Mapping[str, str],
    *,
    loglevel: str = "info",
    library_loglevel: str = "warn",
    tuning: Tuning = Tuning(),
    prepared: Prepared | None = None,
) -> None:
    """Run the gateway in the foreground until SIGINT/SIGTERM (blocking; raises SystemExit at the end).

    It logs in as its own principal (``gateway.<regions>``) unless the settings name a user."""
    settings = as_principal(settings, gateway_principal(served_regions(regions, homed_regions(settings))))
    plan = prepared if prepared is not None else prepare(settings, regions, environ)
    runner(settings, plan, tuning).run(loglevel=loglevel, library_loglevel=library_loglevel)


__all__ = ["Prepared", "prepare", "register_outputs", "run", "runner"]
