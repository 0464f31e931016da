"""The interface every partner sink implements, the values it takes and returns, and the sink of a URL.

One guarantee for every sink: a call to :meth:`Sink.write` stores the events
of a batch AND the offsets they reach in one atomic step, skips what an
earlier step already stored (records below the stored offsets), and ignores
an ``event_id`` it already holds. So a subscriber that crashes anywhere
resumes from the stored offsets and neither loses nor duplicates an event; a
duplicate re-sent by the gateway (same ``event_id``, new offset) changes
nothing. ``tests/tracking_contract.py`` checks it on every sink.

Errors: :class:`SinkUnavailable` is an outage (a
:class:`~hub.errors.TransientError`: retry the same batch),
:class:`hub.tracking.RecordsRejected` names the records to dead-letter
(nothing was stored), :class:`SinkError` is a fault to fix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from hub.errors import ConfigError, HubError, TransientError
from hub.tracking import Failures

TopicPartition = tuple[str, int]


# -- errors ---------------------------------------------------------------------------------------
class SinkError(HubError):
    """A sink cannot be opened or written as asked (a fault to fix, not an outage to wait out)."""


class SinkUnavailable(SinkError, TransientError):
    """The sink cannot be reached or written right now (database down, lock, disk full): retry later."""


#: The sinks' errors, for :class:`hub.tracking.TrackingWriter`.
SINK_FAILURES: Final = Failures(phase=SinkError, unavailable=SinkUnavailable)


# -- values in and out --------------------------------------------------------------------------
@dataclass(frozen=True)
class SinkRecord:
    """One consumed record: its coordinates and the decoded shared event (None if it was dead-lettered)."""

    topic: str
    partition: int
    offset: int
    zone: str
    event_type: str
    event: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)

    @property
    def event_id(self) -> str | None:
        return None if self.event is None else str(self.event["event_id"])


@dataclass(frozen=True)
class WriteResult:
    """What one :meth:`Sink.write` did."""

    written: int
    """Events stored by this write."""
    duplicates: int
    """Events not stored because their ``event_id`` was already held (or repeated in the batch)."""
    skipped: int
    """Records below the stored offsets: an earlier write already handled them."""
    offsets: dict[TopicPartition, int]
    """``next_offset`` stored per (topic, partition) of the batch after the write."""


class Sink(ABC):
    """Common interface of the sinks. Call :meth:`prepare` first; use as a context manager or :meth:`close`."""

    subscriber: str

    @property
    @abstractmethod
    def description(self) -> str:
        """Where the sink writes, for humans (no password)."""

    @abstractmethod
    def prepare(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        """Create what the event types of ``schemas`` (event type -> reader schema document) need; recover."""

    @abstractmethod
    def positions(self) -> dict[TopicPartition, int]:
        """The stored ``next_offset`` of every (topic, partition) this subscriber has written."""

    @abstractmethod
    def write(self, records: Sequence[SinkRecord]) -> WriteResult:
        """Store ``records`` and the offsets they reach in one atomic step (see the module docstring).

        Raises :class:`SinkUnavailable` (nothing or a consistent prefix was stored: retry the same
        batch), :class:`hub.tracking.RecordsRejected` (nothing stored) or :class:`SinkError`.
        """

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_sink(url: str, subscriber: str) -> Sink:
    """The sink of a ``--sink`` URL: ``sqlite:///path.db``, ``postgresql+psycopg://...`` or ``jsonl:///dir``.

    ``jsonl://`` is followed by the folder (``jsonl:///abs/dir`` or ``jsonl://relative/dir``).
    """
    if url.startswith("jsonl:"):
        if not url.startswith("jsonl://") or len(url) <= len("jsonl://"):
            raise ConfigError(f"--sink: expected jsonl:///path/to/dir, got {url!r}")
        from consumers.sinks.jsonl import JsonlSink

        return JsonlSink(Path(url[len("jsonl://") :]), subscriber)
    from consumers.sinks.sql import SqlSink

    return SqlSink(url, subscriber)


__all__ = [
    "SINK_FAILURES",
    "Sink",
    "SinkError",
    "SinkRecord",
    "SinkUnavailable",
    "TopicPartition",
    "WriteResult",
    "open_sink",
]
