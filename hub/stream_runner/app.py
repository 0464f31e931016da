"""The faust app of a stream worker, built from the settings, and the quieting of the libraries' logs.

Every worker's app is configured alike (:func:`build_app`): at-least-once,
in-memory tables, no web server, no topic declaration (``hub topics apply``
creates the topics), offsets from the oldest record for a new group,
acknowledged offsets committed every ``commit_interval_s`` or
``batch_size`` events, no waiting for empty streams at shutdown, and
``read_committed`` consumers (a worker never sees an aborted or open
transaction's records, such as a replicator's). Where
to reach the cluster comes from :func:`hub.kafka_clients.faust_connection`
only.

Positioning: faust ends every partition assignment by seeking the stream
partitions "to the committed offsets" (``Consumer.perform_seek``, called by
its recovery service *after* the ``on_partitions_assigned`` signal, so a
seek from that signal would be overwritten; faust-streaming #216). The app's
consumer wraps that step: with a :data:`Positioner` (a worker whose offsets
live with its data, e.g. in its database) it seeks every partition
*currently assigned* (a rebalance may have taken some away meanwhile) to the
positions the positioner gives and commits them to the consumer group, so
the group's offsets follow the stored ones; without one it keeps faust's
seek. Either way :data:`OnPositioned` then hears which partitions flow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Set
from pathlib import Path
from typing import Any, Final, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from hub.kafka_clients import faust_connection
from hub.settings import HubSettings
from hub.stream_runner.tuning import Tuning

Positioner = Callable[[faust.types.ConsumerT, Set[TP]], Awaitable[Mapping[TP, int]]]
"""Where to resume each of the assigned partitions (it may leave some out: faust's position stays)."""
OnPositioned = Callable[[Set[TP]], Awaitable[None]]
"""Called with the assignment once every partition of it is positioned."""

#: The loggers of faust, mode and the Kafka and HTTP clients, quieted to ``library_loglevel``.
LIBRARIES: Final = ("faust", "mode", "aiokafka", "kafka", "httpx", "httpcore")


def build_app(
    settings: HubSettings,
    app_id: str,
    *,
    datadir: Path,
    tuning: Tuning,
    on_positioned: OnPositioned,
    positioner: Positioner | None = None,
) -> faust.App:
    """The faust app of a worker (see the module docstring); ``app_id`` is also its consumer group."""
    app = faust.App(
        app_id,
        **faust_connection(settings),
        store="memory://",
        datadir=str(datadir),
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
    transport.positioner = positioner
    transport.on_positioned = on_positioned
    app.transport = transport
    return app


READ_COMMITTED: Final = "read_committed"


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's consumer thread, reading only committed records.

    faust reads ``read_uncommitted`` unless it runs transactions itself, but a worker's input may be
    written in Kafka transactions (the replicator's copies): an aborted transaction's records must
    never reach it, nor may an open one's.
    """

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = READ_COMMITTED  # read by aiokafka when the consumer starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, positioned by the worker's :data:`Positioner` at the end of every assignment,
    reading committed records only (:class:`_ConsumerThread`)."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        transport = cast(_Transport, self.transport)
        assigned = self.assignment()
        if transport.positioner is not None and assigned:
            await self._seek_to(await transport.positioner(self, assigned))
        else:
            await super().perform_seek()
        if transport.on_positioned is not None:
            await transport.on_positioned(self.assignment())

    async def _seek_to(self, positions: Mapping[TP, int]) -> None:
        """Seek to ``positions`` (the partitions still assigned) and commit them to the group."""
        assigned_now = self.assignment()  # a rebalance may have taken some away meanwhile
        wanted = {tp: offset for tp, offset in positions.items() if tp in assigned_now}
        if not wanted:
            return
        await self.seek_wait(wanted)
        # faust's own bookkeeping (what to drop, what to commit) starts at these positions.
        self._read_offset.update({tp: offset or None for tp, offset in wanted.items()})
        self._committed_offset.update({tp: offset or None for tp, offset in wanted.items()})
        await self._commit(wanted)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    positioner: Positioner | None = None
    on_positioned: OnPositioned | None = None


def logging_config(library_loglevel: str) -> dict[str, Any]:
    """Merged into faust's logging set-up: :data:`LIBRARIES` log at ``library_loglevel`` (crit, warn, info...)."""
    level = {"crit": "CRITICAL", "warn": "WARNING"}.get(library_loglevel.lower(), library_loglevel.upper())
    return {"merge": True, "loggers": {name: {"level": level} for name in LIBRARIES}}


__all__ = ["LIBRARIES", "OnPositioned", "Positioner", "build_app", "logging_config"]
