"""How far a projection is behind its shared topics, and read-your-writes waits.

Per (topic, partition) of the projection's shared topics:

- **offsets behind** = the offset after the partition's last committed record
  (its end offset, unless transaction markers or aborted records follow it:
  the replicator's copies are written in transactions) − the ``next_offset``
  the projection stored (its beginning offset when it stored none yet);
- **seconds behind** (time lag) = now − the Kafka timestamp of the oldest
  record not applied yet, i.e. the record at ``next_offset``; 0 when caught up.
  If that record cannot be read in time, the bound now − ``last_record_ms``
  (the last applied record's timestamp) is reported instead, marked inexact.

:func:`wait_for_offsets` waits until stored offsets reach given targets (the
exact read-your-writes check: a producer knows where its records landed),
:func:`wait_caught_up` until they reach the end offsets taken when it is
called, :func:`wait_for_event` until an event's id shows in a fact row.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import Engine, Select, literal, select
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import HubError, ProjectionError
from hub.jurisdictions import held_zones
from hub.kafka_admin import shared_topics
from hub.kafka_reader import KafkaReader, TopicPartitionKey, data_ends
from hub.naming import parse_shared_topic
from hub.settings import HubSettings
from projections import store
from projections.status import served_zones
from projections.store_errors import translate
from projections.tables import FACT_TABLES, READ_MODELS, TABLES

log = logging.getLogger("hub.projections.lag")

POLL_S: Final = 0.2


@dataclass(frozen=True)
class PartitionLag:
    """Lag of one projection on one partition."""

    topic: str
    partition: int
    end_offset: int
    next_offset: int
    offsets_behind: int
    seconds_behind: float
    oldest_unapplied_ms: int | None
    """Timestamp of the record at ``next_offset`` (None when caught up)."""
    last_record_ms: int | None
    """Timestamp of the last applied record, as stored with the offsets."""
    exact: bool = True
    """False when ``seconds_behind`` is the bound from ``last_record_ms``."""


@dataclass(frozen=True)
class ProjectionLag:
    """Lag of one projection on every partition of its shared topics."""

    projection: str
    measured_at: datetime
    partitions: tuple[PartitionLag, ...]

    @property
    def offsets_behind(self) -> int:
        return sum(p.offsets_behind for p in self.partitions)

    @property
    def seconds_behind(self) -> float:
        return max((p.seconds_behind for p in self.partitions), default=0.0)

    @property
    def caught_up(self) -> bool:
        return self.offsets_behind == 0


class LagTimeout(ProjectionError):
    """A wait ended before the projection reached its targets."""

    def __init__(self, message: str, behind: Mapping[TopicPartitionKey, tuple[int, int]] | None = None) -> None:
        self.behind = dict(behind or {})
        """(topic, partition) -> (stored next_offset, target) of the partitions still behind."""
        super().__init__(message)


def covered_zones(engine: Engine, projection: str) -> tuple[str, ...]:
    """The zones ``projection`` holds offsets for (what its worker projects); every zone if none yet."""
    zones: set[str] = set()
    for row in store.offset_rows(engine, projection):
        with contextlib.suppress(ValueError):
            zones.add(parse_shared_topic(row.topic).zone)
    return tuple(sorted(zones)) if zones else served_zones(None)


def topics_of(settings: HubSettings, engine: Engine, projection: str, zones: Sequence[str] | None) -> list[str]:
    """The shared topics of ``zones`` on the broker plus every topic the projection stored offsets for."""
    stored = {row.topic for row in store.offset_rows(engine, projection)}
    return sorted(set(shared_topics(settings, served_zones(zones, held_zones(settings)))) | stored)


def measure(
    settings: HubSettings,
    engine: Engine,
    projection: str = READ_MODELS,
    *,
    zones: Sequence[str] | None = None,
    timestamp_timeout_s: float = 5.0,
) -> ProjectionLag:
    """Offsets and seconds behind of ``projection`` on every partition of its topics (see the module docstring)."""
    rows = {(r.topic, r.partition): r for r in store.offset_rows(engine, projection)}
    topics = topics_of(settings, engine, projection, zones)
    with KafkaReader(settings, client_id=f"hub-lag-{projection}") as reader:
        tps = reader.partitions(topics, missing_ok=True)  # a topic deleted since it was projected
        ends = reader.end_offsets(tps)
        beginnings = reader.beginning_offsets(tps)
        nexts = {
            tp: rows[tp].next_offset if tp in rows else beginnings.get(tp, 0)
            for tp in tps  # a partition never applied starts at its oldest record
        }
        behind = {tp: max(0, ends.get(tp, 0) - nexts[tp]) for tp in tps}
        # past the last committed record there may be only transaction markers or aborted records
        data_end = data_ends(settings, [tp for tp in tps if behind[tp] > 0], client_id=f"hub-lag-{projection}")
        behind = {tp: max(0, data_end.get(tp, 0) - nexts[tp]) if behind[tp] else 0 for tp in tps}
        stamps = reader.timestamps_at({tp: nexts[tp] for tp in tps if behind[tp] > 0}, timeout_s=timestamp_timeout_s)
    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    out: list[PartitionLag] = []
    for tp in tps:
        last = rows[tp].last_record_ms if tp in rows else None
        oldest = stamps.get(tp) if behind[tp] else None
        exact = True
        if not behind[tp]:
            seconds = 0.0
        elif oldest is not None:
            seconds = max(0.0, (now_ms - oldest) / 1000)
        elif last is not None:
            seconds, exact = max(0.0, (now_ms - last) / 1000), False
        else:
            seconds, exact = float("nan"), False
        out.append(PartitionLag(tp[0], tp[1], ends.get(tp, 0), nexts[tp], behind[tp], seconds, oldest, last, exact))
    return ProjectionLag(projection, now, tuple(out))


class LagSampler:
    """The lag as last measured, measuring again at most every ``min_interval_s``.

    A failed measurement (:class:`HubError`: Kafka or the database did not answer) is logged and gives
    None until the next attempt: a metrics scrape or a dashboard request never fails for it.
    """

    def __init__(self, measure: Callable[[], ProjectionLag], *, min_interval_s: float = 2.0) -> None:
        self._measure = measure
        self._min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._last: tuple[float, ProjectionLag | None] | None = None

    def current(self) -> ProjectionLag | None:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self._min_interval_s:
                return self._last[1]
            try:
                lag: ProjectionLag | None = self._measure()
            except HubError as exc:
                log.warning("measuring the lag failed: %s", exc)
                lag = None
            self._last = (now, lag)
            return lag

    def fields(self) -> dict[tuple[str, str, int], dict[str, float | int]]:
        """``offsets_behind`` and ``seconds_behind`` per (projection, topic, partition); empty when unmeasured."""
        lag = self.current()
        if lag is None:
            return {}
        return {
            (lag.projection, p.topic, p.partition): {
                "offsets_behind": p.offsets_behind,
                "seconds_behind": p.seconds_behind,
            }
            for p in lag.partitions
        }


# -- read-your-writes ------------------------------------------------------------------------------
def wait_for_offsets(
    engine: Engine,
    projection: str,
    targets: Mapping[TopicPartitionKey, int],
    *,
    timeout_s: float,
    poll_s: float = POLL_S,
) -> dict[TopicPartitionKey, int]:
    """Wait until ``projection`` stored ``next_offset >= target`` for every (topic, partition) of ``targets``.

    A target is a ``next_offset``: to see a record at offset ``n``, wait for
    ``n + 1``. Returns the stored offsets; raises :class:`LagTimeout` naming
    the partitions still behind after ``timeout_s``. A database that is
    briefly unavailable is polled again, not reported.
    """
    deadline = time.monotonic() + timeout_s
    stored: dict[TopicPartitionKey, int] = {}
    while True:
        with contextlib.suppress(store.StoreUnavailable):
            stored = store.stored_offsets(engine, projection)
        behind = {tp: (stored.get(tp, 0), target) for tp, target in targets.items() if stored.get(tp, 0) < target}
        if not behind:
            return stored
        if time.monotonic() >= deadline:
            detail = ", ".join(f"{t}[{p}] at {at} < {want}" for (t, p), (at, want) in sorted(behind.items())[:5])
            more = f" (and {len(behind) - 5} more)" if len(behind) > 5 else ""
            raise LagTimeout(
                f"projection {projection} did not reach the target offsets within {timeout_s:g}s: "
                f"{len(behind)} partition(s) behind: {detail}{more} (is `hub project run` running?)",
                behind,
            )
        time.sleep(poll_s)


def end_targets(settings: HubSettings, topics: Iterable[str]) -> dict[TopicPartitionKey, int]:
    """What "caught up" means now: per partition of ``topics`` holding committed records, the offset after
    its last one (:func:`hub.kafka_reader.data_ends`: a transaction's marker is never applied, so a
    partition written in transactions is caught up below its end offset)."""
    with KafkaReader(settings, client_id="hub-wait") as reader:
        tps = reader.partitions(topics)
    return data_ends(settings, tps, client_id="hub-wait")


def wait_caught_up(
    settings: HubSettings,
    engine: Engine,
    projection: str = READ_MODELS,
    *,
    zones: Sequence[str] | None = None,
    timeout_s: float,
    poll_s: float = POLL_S,
) -> dict[TopicPartitionKey, int]:
    """Wait until ``projection`` has applied every record its shared topics held when this was called."""
    targets = end_targets(settings, topics_of(settings, engine, projection, zones))
    return wait_for_offsets(engine, projection, targets, timeout_s=timeout_s, poll_s=poll_s)


def _event_queries(event_id: str) -> list[Select[str]]:
    queries: list[Select[str]] = []
    for name in FACT_TABLES:
        table = TABLES[name]
        queries.append(select(literal(name)).where(table.c.event_id == event_id).limit(1))
    cases = TABLES["cases"]
    queries.append(select(literal("cases")).where(cases.c.closed_event_id == event_id).limit(1))
    return queries


def find_event(engine: Engine, event_id: str) -> str | None:
    """The fact table holding a row written by event ``event_id`` (as ``event_id`` or ``closed_event_id``), or None."""
    try:
        with engine.connect() as conn:
            for query in _event_queries(event_id):
                found = conn.execute(query).scalar()
                if found is not None:
                    return str(found)
    except SQLAlchemyError as exc:
        raise translate(exc, f"looking for event {event_id}") from exc
    return None


def wait_for_event(engine: Engine, event_id: str, *, timeout_s: float, poll_s: float = POLL_S) -> str:
    """Wait until a fact row carries ``event_id``; returns the table's name.

    An event shows in the tables when it is the version a row keeps: a newer
    event of the same natural id (or, for "first seen" facts such as
    certifications, an older one) leaves no trace of it, and a dead-lettered
    event never shows. For those, wait for its offsets (:func:`wait_for_offsets`).
    Raises :class:`LagTimeout` after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = find_event(engine, event_id)
        except store.StoreUnavailable:
            found = None
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise LagTimeout(
                f"event {event_id} did not appear in the read models within {timeout_s:g}s "
                "(not applied yet, dead-lettered, or superseded by another version of the same fact)"
            )
        time.sleep(poll_s)


__all__ = [
    "LagTimeout",
    "PartitionLag",
    "ProjectionLag",
    "covered_zones",
    "end_targets",
    "find_event",
    "measure",
    "topics_of",
    "wait_caught_up",
    "wait_for_event",
    "wait_for_offsets",
]
