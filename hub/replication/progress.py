"""Where a flow stands: what it copied, how far behind each partition is, how fast it goes. Pure.

Time comes in as arguments (seconds, monotonic), so the arithmetic is
testable without a clock. Guarantees:

- the lag of a partition is the source's end offset (the last stable offset,
  under ``read_committed``) minus the flow's position, never below 0;
- throughput is records committed per second over the last
  :data:`WINDOW_S` seconds (0 before the second commit);
- :meth:`Progress.doc` is plain JSON (what the status file and ``hub replicate
  status`` show).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

WINDOW_S: Final = 30.0

TopicPartitionKey = tuple[str, int]


def lag(end: int, position: int) -> int:
    """Records the flow has not copied yet: ``end - position``, at least 0."""
    return max(0, end - position)


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    position: int
    end: int

    @property
    def lag(self) -> int:
        return lag(self.end, self.position)


@dataclass
class Progress:
    """The counters of one flow process."""

    flow: str
    source: str
    target: str
    started_s: float
    state: str = "starting"
    records: int = 0
    transactions: int = 0
    restarts: int = 0
    last_error: str = ""
    partitions: dict[TopicPartitionKey, PartitionLag] = field(default_factory=dict)
    _window: deque[tuple[float, int]] = field(default_factory=deque)

    def committed(self, records: int, now_s: float) -> None:
        """Count one committed transaction of ``records`` copies."""
        self.records += records
        self.transactions += 1
        self._window.append((now_s, self.records))
        while len(self._window) > 2 and now_s - self._window[0][0] > WINDOW_S:
            self._window.popleft()

    def throughput(self, now_s: float) -> float:
        """Records per second over the window (since the oldest commit still in it)."""
        if len(self._window) < 2:
            return 0.0
        first_s, first = self._window[0]
        elapsed = now_s - first_s
        return (self.records - first) / elapsed if elapsed > 0 else 0.0

    def measured(self, positions: Mapping[TopicPartitionKey, int], ends: Mapping[TopicPartitionKey, int]) -> None:
        """The lag of every partition from the flow's positions and the source's end offsets."""
        self.partitions = {
            key: PartitionLag(key[0], key[1], positions.get(key, 0), end) for key, end in sorted(ends.items())
        }

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions.values())

    def doc(self, *, pid: int, now_s: float) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "source": self.source,
            "target": self.target,
            "pid": pid,
            "state": self.state,
            "ready": self.state not in ("starting",),
            "records": self.records,
            "transactions": self.transactions,
            "restarts": self.restarts,
            "records_per_s": round(self.throughput(now_s), 1),
            "uptime_s": round(now_s - self.started_s, 1),
            "lag": self.total_lag,
            "partitions": [
                {"topic": p.topic, "partition": p.partition, "position": p.position, "end": p.end, "lag": p.lag}
                for p in self.partitions.values()
            ],
            "last_error": self.last_error,
        }


__all__ = ["WINDOW_S", "PartitionLag", "Progress", "lag"]
