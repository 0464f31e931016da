"""The gateway as a faust worker: raw topics in, shared topics + ``hub.audit`` + ``hub.dlq`` out.

At start (:func:`prepare`): load the agreements and HMAC keys of the served
regions (a missing key stops the gateway with one line naming the variable),
register the shared and audit schemas once, and list the raw topics matching
:func:`hub.naming.raw_pattern` of each region. faust-streaming 0.15 cannot
subscribe by pattern (faust-streaming #62: the aiokafka driver passes only topic
names), so the pattern is resolved against the broker's topics at start; a raw
topic created later is reported and served after a restart (``hub topics apply``
creates every district's topics up front).

Per batch (``stream.noack_take(N, within=T)``): cross every record (pure,
:class:`hub.gateway.crossing.Border`, in a worker thread), send every output
with an idempotent ``acks=all`` producer, await every delivery, and only then
acknowledge the batch's events, whose offsets faust commits on its interval.
A registry or broker outage is waited out inside the loop; a bad record
becomes a dead letter. Delivery is at least once: a crash between delivery
and the offset commit re-crosses those events, and the copies are byte-identical
(same key, same value, same ``event_id``), which readers deduplicate
(docs/gateway.md, "Exactly once?").
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError as AIOKafkaError
from kafka.errors import KafkaError

from hub import naming, process
from hub.agreement_keys import load_key
from hub.agreements import Agreement, agreements_dir, load_agreements
from hub.errors import BrokerError, PolicyError, SchemaRegistryError
from hub.gateway import status as status_file
from hub.gateway.crossing import Border, Outcome, OutputRecord, RawRecord, output_schemas
from hub.gateway.status import group_id, served_regions
from hub.kafka_admin import admin_client
from hub.registry.client import RegistryClient
from hub.schemas import event_types, schema_text
from hub.serde import AvroDeserializer, SchemaSource
from hub.settings import HubSettings

log = logging.getLogger("hub.gateway")
T = TypeVar("T")


@dataclass(frozen=True)
class Tuning:
    """Knobs of the worker; the defaults suit one worker on a laptop."""

    batch_size: int = 500
    batch_within_s: float = 0.5
    commit_interval_s: float = 1.0
    session_timeout_s: float = 10.0
    heartbeat_interval_s: float = 2.0
    retry_max_s: float = 5.0
    status_interval_s: float = 1.0
    log_interval_s: float = 30.0
    topic_check_interval_s: float = 60.0


@dataclass(frozen=True)
class Prepared:
    """What start-up resolved: the served regions, their raw topics and a ready :class:`Border`."""

    regions: tuple[str, ...]
    group_id: str
    topics: tuple[str, ...]
    agreements: Mapping[str, Agreement]
    border: Border


# -- start-up (blocking I/O, before the worker runs) -------------------------------------------
def raw_topics(settings: HubSettings, regions: Sequence[str]) -> list[str]:
    """Raw topics on the broker matching :func:`hub.naming.raw_pattern` of any of ``regions``, sorted."""
    patterns = [re.compile(naming.raw_pattern(r)) for r in regions]
    admin = admin_client(settings.bootstrap_list, settings.request_timeout_s)
    try:
        names = admin.list_topics()
    except KafkaError as exc:
        raise BrokerError(f"cannot list topics at {settings.bootstrap_servers}: {exc}") from exc
    finally:
        admin.close()
    return sorted(n for n in names if any(p.fullmatch(n) for p in patterns))


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
    """Load agreements and keys, register output schemas, list raw topics. Raises a one-line HubError."""
    served = served_regions(regions)
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
            f"no raw topics for {', '.join(served)} at {settings.bootstrap_servers} (create them: `hub topics apply`)"
        )
    return Prepared(served, group_id(served), tuple(topics), agreements, Border(agreements, keys, decoders, ids))


# -- the worker ------------------------------------------------------------------------------------
def create_app(
    settings: HubSettings,
    regions: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str],
    tuning: Tuning = Tuning(),
    prepared: Prepared | None = None,
) -> faust.App:
    """A faust app carrying the raw events of ``regions`` (default: all) across the boundary.

    ``environ`` is where agreement keys are looked up first (the CLI passes the
    process environment); ``settings.secrets_file`` second.
    """
    plan = prepared if prepared is not None else prepare(settings, regions, environ)
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
    worker = _Worker(app, settings, plan, tuning, files)
    source = app.topic(*plan.topics, key_serializer="raw", value_serializer="raw")
    app.agent(source, name="hub.gateway.cross")(worker.cross)
    # mode's stubs type receivers as a union of callables that mypy cannot match
    app.on_partitions_assigned.connect(worker.on_assigned)  # type: ignore[arg-type]
    app.on_rebalance_complete.connect(worker.on_rebalance_complete)  # type: ignore[arg-type]
    app.timer(tuning.status_interval_s)(worker.write_status)
    app.timer(tuning.log_interval_s)(worker.log_totals)
    app.timer(tuning.topic_check_interval_s)(worker.check_topics)
    return app


class _Worker:
    """The agent body and its bookkeeping; one per app."""

    def __init__(
        self, app: faust.App, settings: HubSettings, plan: Prepared, tuning: Tuning, files: status_file.GatewayPaths
    ) -> None:
        self.app = app
        self.settings = settings
        self.plan = plan
        self.tuning = tuning
        self.files = files
        self.stats = status_file.Stats()
        self.status = status_file.Status(os.getpid(), plan.group_id, list(plan.regions), len(plan.topics))
        self._logged_events = -1
        self._status_file = process.StatusFile(files.status)
        self._producer: AIOKafkaProducer | None = None
        # one thread: the Border's caches are not shared between threads
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-gateway-cross")

    # -- the agent ---------------------------------------------------------------------------
    async def cross(self, channel: faust.StreamT[Any]) -> None:
        """Consume batches; cross, deliver, await delivery, then acknowledge."""
        stream = cast(faust.Stream[Any], channel)  # noack_take is on the implementation, not the interface
        try:
            async for events in stream.noack_take(self.tuning.batch_size, within=self.tuning.batch_within_s):
                started = time.perf_counter()
                sources = [
                    RawRecord(e.message.topic, e.message.partition, e.message.offset, e.message.key, e.message.value)
                    for e in events
                ]
                outcomes = await self._retry("crossing a batch", functools.partial(self._cross_batch, sources))
                crossed = time.perf_counter()
                await self._deliver([o for oc in outcomes for o in oc.outputs])
                for event in events:
                    await stream.ack(event)
                done = time.perf_counter()
                self.stats.add(outcomes, cross_s=crossed - started, deliver_s=done - crossed)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug(
                        "batch of %d: crossed in %.0f ms, delivered in %.0f ms; totals: %s",
                        len(events),
                        (crossed - started) * 1000,
                        (done - crossed) * 1000,
                        self.stats.summary(),
                    )
        except Exception as exc:
            # a bug, not a bad record: stop the worker; nothing of this batch was acknowledged
            log.exception("gateway %s crashed", self.plan.group_id)
            await self.app.crash(exc)
            raise
        finally:
            await self._stop_producer()

    async def _cross_batch(self, sources: list[RawRecord]) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.plan.border.cross_batch, sources)

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_list,
            client_id=f"{self.plan.group_id}-out",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=int(self.settings.request_timeout_s * 1000),
        )
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
            except (AIOKafkaError, OSError) as exc:
                log.warning("stopping the output producer: %s", exc)

    async def _deliver(self, outputs: list[OutputRecord]) -> None:
        """Send every output and await every acknowledgement; on a broker error, start over with a new producer."""
        delay = 0.2
        while True:
            if self._producer is None:
                self._producer = await self._retry("starting the output producer", self._start_producer)
            producer: AIOKafkaProducer = self._producer
            try:
                futures = [
                    await producer.send(o.topic, o.value, key=o.key, headers=list(o.headers) or None) for o in outputs
                ]
                await asyncio.gather(*futures)
                return
            except (AIOKafkaError, OSError) as exc:
                log.warning("delivering %d records failed (%s); retrying in %.1fs", len(outputs), exc, delay)
                await self._stop_producer()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.tuning.retry_max_s)

    async def _retry(self, what: str, step: Callable[[], Awaitable[T]]) -> T:
        """Run ``step`` until it succeeds; registry and broker outages are waited out, never dead-lettered."""
        delay = 0.2
        while True:
            try:
                return await step()
            except (SchemaRegistryError, AIOKafkaError, OSError) as exc:
                log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.tuning.retry_max_s)

    # -- readiness, status, logs --------------------------------------------------------------
    async def on_assigned(self, sender: Any, *args: Any, **_: Any) -> None:
        assigned = args[0] if args else set()
        self.status.assigned = len(assigned)

    async def on_rebalance_complete(self, sender: Any, *args: Any, **_: Any) -> None:
        self.status.ready = self.status.assigned > 0
        self._write()
        log.info(
            "gateway %s consuming %d partitions of %d raw topics (regions %s)",
            self.plan.group_id,
            self.status.assigned,
            len(self.plan.topics),
            ", ".join(self.plan.regions),
        )

    async def write_status(self) -> None:
        self._write()

    def _write(self) -> None:
        self.status.stats = self.stats.to_json()
        self._status_file.write(self.status.__dict__)

    async def log_totals(self) -> None:
        if self.stats.events != self._logged_events:
            self._logged_events = self.stats.events
            log.info("gateway %s: %s", self.plan.group_id, self.stats.summary())

    async def check_topics(self) -> None:
        """Report raw topics created after start: serving them needs a restart (no pattern subscription)."""
        loop = asyncio.get_running_loop()
        try:
            current = await loop.run_in_executor(None, raw_topics, self.settings, self.plan.regions)
        except BrokerError as exc:
            log.warning("cannot list raw topics: %s", exc)
            return
        new = sorted(set(current) - set(self.plan.topics))
        if new and new != self.status.unserved_topics:
            log.warning("raw topics created after start are not served until a restart: %s", ", ".join(new))
        self.status.unserved_topics = new


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
    """Run the gateway in the foreground until SIGINT/SIGTERM (blocking; raises SystemExit at the end)."""
    plan = prepared if prepared is not None else prepare(settings, regions, environ)
    app = create_app(settings, plan.regions, environ=environ, tuning=tuning, prepared=plan)
    files = status_file.paths(settings, plan.group_id)
    files.status.unlink(missing_ok=True)
    config = logging_config(library_loglevel)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, logging_config=config)
    worker.execute_from_commandline()


def logging_config(library_loglevel: str) -> dict[str, Any]:
    """Merged into faust's logging set-up: faust, mode, the Kafka and HTTP clients log at ``library_loglevel``."""
    level = {"crit": "CRITICAL", "warn": "WARNING"}.get(library_loglevel.lower(), library_loglevel.upper())
    libraries = ("faust", "mode", "aiokafka", "kafka", "httpx", "httpcore")
    return {"merge": True, "loggers": {name: {"level": level} for name in libraries}}


__all__ = [
    "Prepared",
    "Tuning",
    "create_app",
    "group_id",
    "prepare",
    "raw_topics",
    "register_outputs",
    "run",
    "served_regions",
]
