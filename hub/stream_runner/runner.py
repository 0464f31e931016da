"""The stream-runner: one faust worker around a per-batch function.

A worker (the gateway, the projection worker) describes itself in a
:class:`WorkerSpec` - its topics, its per-batch function, its status and
counters, and optional hooks - and :class:`StreamRunner` does the rest, the
same way for every worker. Guarantees:

- **Acknowledge only what is durable.** Records are taken in batches with
  ``stream.noack_take(N, within=T)`` (faust's ``take`` would hand over values
  without their coordinates and acknowledge them in a ``finally``, i.e. even
  when the body fails). Each batch goes to the per-batch function, and its
  events are acknowledged only once that function returned; faust commits
  acknowledged offsets on its interval, so the committed offset never passes
  what the worker made durable. A restart may re-read a batch, never skip one.
- **Batches in flight, acknowledged in order.** A worker may let the runner take
  and start the next batch while the previous ones are still finishing
  (:attr:`WorkerSpec.in_flight`, e.g. the gateway crosses batch N+1 while batch
  N's outputs are being delivered). Batches are still acknowledged one after
  the other in consumption order, each only once its own call and the calls of
  every batch before it returned; when one raises, it and every batch after it
  stay unacknowledged. Acknowledging does not wait for the next batch: the
  last batch before a quiet spell is acknowledged (and committed) as soon as
  it is done, so an idle worker's committed offsets reach the end.
- **No exception acknowledges anything.** Outages are waited out inside the
  per-batch function (:mod:`hub.retry`); an exception that escapes it is a
  bug: it is logged, the app crashes and nothing of the batch is acknowledged.
  A :class:`hub.retry.Stopped` (asked to stop while waiting out an outage,
  at shutdown) ends the loop quietly, also without acknowledging.
- **Readiness.** ``ready`` is false from a revocation until every newly
  assigned partition is positioned (by faust at the committed offsets, or by
  the worker's :data:`~hub.stream_runner.app.Positioner`), and true once it is;
  an empty assignment is ready at once (nothing to position).
- **Status file.** Refreshed every ``status_interval_s`` and on every
  readiness change, rewritten only when its content changed
  (:class:`hub.process.StatusFile`).
- **Topic checks.** faust-streaming 0.15 cannot subscribe by pattern (#62: its
  aiokafka driver passes only topic names), so a worker resolves its pattern
  at start; every ``topic_check_interval_s`` the runner asks the worker's
  ``list_topics`` again and reports topics created since (log and
  ``unserved_topics``): they are served after a restart.
- **Refused is said, not waited out.** Before faust starts, the runner checks
  that its principal may use its consumer group (a denied group would leave
  faust's join retrying silently for ever); a refusal is one
  :class:`~hub.errors.KafkaAuthError` line and the worker does not start,
  while an outage (no coordinator yet, broker down) is waited out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence, Set
from dataclasses import asdict, dataclass
from typing import Any, Protocol, cast

import faust
from faust.types import TP

from hub.kafka_admin import check_group_access
from hub.process import ProcessFiles, StatusFile
from hub.retry import TRANSIENT, Stopped, retry
from hub.settings import HubSettings
from hub.stream_runner.app import Positioner, build_app, logging_config
from hub.stream_runner.batch import BatchFunction, Consumed
from hub.stream_runner.status import WorkerStatus, faust_dir
from hub.stream_runner.tuning import Tuning

log = logging.getLogger("hub.stream_runner")
Hook = Callable[[], Awaitable[None]]


class Counters(Protocol):
    """What a worker counts: a JSON form for the status file and one line for the log."""

    def to_json(self) -> dict[str, Any]: ...

    def summary(self) -> str: ...


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker supplies to the runner."""

    name: str
    """What it is, in log lines: ``gateway``, ``projection``."""
    agent: str
    """The faust agent's name, e.g. ``hub.gateway.cross``."""
    topics: tuple[str, ...]
    """The topics it consumes (resolved at start)."""
    topic_kind: str
    """Which topics they are, in log lines: ``raw``, ``shared``."""
    files: ProcessFiles
    status: WorkerStatus
    """Its status, written as the status file; the runner keeps the fields of :class:`WorkerStatus`."""
    counters: Counters
    handle: BatchFunction
    """The per-batch function (:mod:`hub.stream_runner.batch`)."""
    list_topics: Callable[[], Sequence[str]]
    """The topics it would consume if it started now (blocking; raises a transient error if it cannot tell)."""
    positioner: Positioner | None = None
    """Where to resume assigned partitions, for a worker whose offsets live with its data; None: faust's."""
    on_start: Hook | None = None
    """Run once as a faust task when the worker starts."""
    on_stop: Hook | None = None
    """Run when the batch loop ends (stop, crash or cancellation), e.g. to release an output producer."""
    detail: str = ""
    """Said when it starts consuming, e.g. ``regions GD, HK``."""
    in_flight: int = 1
    """Batches handed to ``handle`` before the oldest one returned: 1, one at a time; 2, the next batch is taken
    and started while the previous one finishes. Above 1, ``handle`` is called concurrently and keeps the order
    of its effects itself (the runner keeps the order of acknowledgements)."""


class StreamRunner:
    """One faust worker around a :class:`WorkerSpec` (see the module docstring)."""

    def __init__(self, settings: HubSettings, spec: WorkerSpec, tuning: Tuning = Tuning()) -> None:
        self.spec = spec
        self.settings = settings
        self.tuning = tuning
        self.status = spec.status
        self._served = frozenset(spec.topics)
        self._status_file = StatusFile(spec.files.status)
        self._logged = ""
        self._crashing = False
        self._crash: asyncio.Future[None] | None = None
        spec.files.root.mkdir(parents=True, exist_ok=True)
        self.app = build_app(
            settings,
            spec.status.group_id,
            datadir=faust_dir(spec.files),
            tuning=tuning,
            on_positioned=self._positioned,
            positioner=spec.positioner,
        )
        source = self.app.topic(*spec.topics, key_serializer="raw", value_serializer="raw")
        self.app.agent(source, name=spec.agent)(self._consume)
        # mode's stubs type receivers as a union of callables that mypy cannot match
        self.app.on_partitions_revoked.connect(self._revoked)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._assigned)  # type: ignore[arg-type]
        self.app.on_rebalance_complete.connect(self._rebalance_complete)  # type: ignore[arg-type]
        self.app.timer(tuning.status_interval_s)(self._refresh_status)
        self.app.timer(tuning.log_interval_s)(self.log_totals)
        self.app.timer(tuning.topic_check_interval_s)(self.check_topics)
        if spec.on_start is not None:
            self.app.task(spec.on_start)

    # -- the batch loop ----------------------------------------------------------------------------
    async def _consume(self, channel: faust.StreamT[Any]) -> None:
        stream = cast(faust.Stream[Any], channel)  # noack_take is on the implementation, not the interface
        depth = max(1, self.spec.in_flight)
        # one future per batch: its call, then its acknowledgement, each after the batch before it (in order)
        acks: deque[asyncio.Future[None]] = deque()
        calls: list[asyncio.Future[None]] = []
        try:
            async for events in stream.noack_take(self.tuning.batch_size, within=self.tuning.batch_within_s):
                call = asyncio.ensure_future(self.spec.handle([_consumed(e.message) for e in events]))
                calls = [c for c in calls if not c.done()] + [call]
                acked = asyncio.ensure_future(self._acknowledge(stream, acks[-1] if acks else None, call, list(events)))
                acked.add_done_callback(self._watch)  # a batch that fails while no other arrives still stops us
                acks.append(acked)
                while acks and acks[0].done():
                    acks.popleft().result()  # its exception, if any, ends the loop
                while len(acks) >= depth:  # at most `depth` batches in flight
                    await acks.popleft()
            while acks:  # the stream ended: finish what was started, in order
                await acks.popleft()
        except Stopped as exc:
            log.info("%s %s: %s", self.spec.name, self.status.group_id, exc)
        except Exception as exc:
            # a bug, not a bad record: stop the worker; nothing of this batch or the later ones was acknowledged
            if not self._crashing:
                self._crashing = True
                log.exception("%s %s crashed", self.spec.name, self.status.group_id)
                await self.app.crash(exc)
            raise
        finally:
            await _cancel([*acks, *calls])  # never acknowledged: read again after a restart
            if self.spec.on_stop is not None:
                await self.spec.on_stop()

    @staticmethod
    async def _acknowledge(
        stream: faust.Stream[Any],
        previous: asyncio.Future[None] | None,
        call: asyncio.Future[None],
        events: Sequence[Any],
    ) -> None:
        """Once the batch before returned and was acknowledged, and this batch's call returned (an exception of
        either propagates), acknowledge its events. Runs on its own, so that the last batch is acknowledged
        while no further batch arrives."""
        if previous is not None:
            await previous
        await call
        for event in events:
            await stream.ack(event)

    def _watch(self, acked: asyncio.Future[None]) -> None:
        """A batch failed while the loop waited for records: crash now rather than at the next batch."""
        if acked.cancelled() or self._crashing:
            return
        exc = acked.exception()
        if exc is None or isinstance(exc, Stopped):
            return
        self._crashing = True
        log.error("%s %s crashed", self.spec.name, self.status.group_id, exc_info=exc)
        self._crash = asyncio.ensure_future(self.app.crash(exc))

    # -- assignment and readiness ------------------------------------------------------------------
    async def _revoked(self, sender: Any, *args: Any, **_: Any) -> None:
        self.status.ready = False
        self.write_status()

    async def _assigned(self, sender: Any, *args: Any, **_: Any) -> None:
        assigned = args[0] if args else set()
        self.status.assigned = len(assigned)

    async def _rebalance_complete(self, sender: Any, *args: Any, **_: Any) -> None:
        if not self.app.consumer.assignment():  # nothing to position: ready at once
            await self._positioned(set())

    async def _positioned(self, assigned: Set[TP]) -> None:
        self.status.assigned = len(assigned)
        self.status.ready = True
        self.write_status()
        detail = f" ({self.spec.detail})" if self.spec.detail else ""
        log.info(
            "%s %s consuming %d partitions of %d %s topics%s",
            self.spec.name,
            self.status.group_id,
            len(assigned),
            len(self.spec.topics),
            self.spec.topic_kind,
            detail,
        )

    # -- status, logs, topic checks ----------------------------------------------------------------
    def write_status(self) -> None:
        """Write the status file now (if its content changed), with the current counters."""
        self.status.stats = self.spec.counters.to_json()
        self._status_file.write(asdict(self.status))

    async def _refresh_status(self) -> None:
        self.write_status()

    async def log_totals(self) -> None:
        """Log the counters' summary if it changed since the last time."""
        summary = self.spec.counters.summary()
        if summary != self._logged:
            self._logged = summary
            log.info("%s %s: %s", self.spec.name, self.status.group_id, summary)

    async def check_topics(self) -> None:
        """Report matching topics created after start: serving them needs a restart (no pattern subscription)."""
        kind = self.spec.topic_kind
        try:
            current = await asyncio.get_running_loop().run_in_executor(None, self.spec.list_topics)
        except TRANSIENT as exc:
            log.warning("cannot list %s topics: %s", kind, exc)
            return
        new = sorted(set(current) - self._served)
        if new and new != self.status.unserved_topics:
            log.warning("%s topics created after start are not served until a restart: %s", kind, ", ".join(new))
        self.status.unserved_topics = new

    # -- running -----------------------------------------------------------------------------------
    def run(self, *, loglevel: str = "info", library_loglevel: str | None = None) -> None:
        """Run in the foreground until SIGINT/SIGTERM (blocking; raises SystemExit at the end).

        ``library_loglevel`` is the level of faust and the Kafka and HTTP
        clients (:data:`hub.stream_runner.app.LIBRARIES`); None: ``warn``, or
        ``debug`` when ``loglevel`` is.
        """
        if library_loglevel is None:
            library_loglevel = "debug" if loglevel.lower() == "debug" else "warn"
        self.spec.files.status.unlink(missing_ok=True)
        group = self.status.group_id  # a denied group would hang faust's join silently: ask first
        retry(lambda: check_group_access(self.settings, group), what=f"looking up consumer group {group}")
        worker = faust.Worker(self.app, loglevel=loglevel, quiet=True, logging_config=logging_config(library_loglevel))
        worker.execute_from_commandline()


async def _cancel(calls: Iterable[asyncio.Future[None]]) -> None:
    """Cancel the calls still running and wait until they have ended (their outcome is dropped)."""
    running = list(calls)
    for call in running:
        call.cancel()
    if running:
        await asyncio.gather(*running, return_exceptions=True)


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


__all__ = ["Counters", "Hook", "StreamRunner", "WorkerSpec"]
