"""Per-key token buckets: whether a caller may make a request now, and if not, when it may try again.

Pure: no I/O and no sleeping. Time comes from an injected clock (a monotonic
count of seconds, :func:`time.monotonic` by default), so tests move time by
hand. The HTTP APIs key the buckets by token id (:func:`hub.http_api.admit`).

Guarantees:

- a key seen for the first time has a full bucket: ``burst`` requests may
  follow each other at once;
- each admitted request takes one request's worth; the bucket refills
  continuously at ``per_second``, never above ``burst``;
- a refused request takes nothing, and its :attr:`Decision.retry_after_s` is
  the time until one request's worth is back (so a client that waits
  that long is admitted, if no other request of its key came first);
- keys never share a bucket; a clock that goes backwards refills nothing;
- memory stays bounded by the keys in use: when a new key would make more
  than :data:`PRUNE_ABOVE` buckets, those that have refilled to full are
  forgotten first (a full bucket and no bucket mean the same).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from hub.errors import ConfigError

PRUNE_ABOVE: Final = 1024
"""How many buckets are held before the full ones are forgotten."""

Clock = Callable[[], float]
"""Seconds on a monotonic scale (:func:`time.monotonic`)."""


@dataclass(frozen=True)
class RateLimit:
    """``per_second`` requests sustained, with bursts of up to ``burst`` requests."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not self.per_second > 0 or not math.isfinite(self.per_second):
            raise ConfigError(f"a rate limit needs a positive, finite rate per second, got {self.per_second!r}")
        if self.burst < 1:
            raise ConfigError(f"a rate limit needs a burst of at least 1 request, got {self.burst!r}")

    def __str__(self) -> str:
        return f"{self.per_second:g} requests per second (bursts of {self.burst})"


@dataclass(frozen=True)
class Decision:
    """The answer for one request: admitted or not, and how long to wait if not."""

    allowed: bool
    retry_after_s: float = 0.0

    @property
    def retry_after_header(self) -> int:
        """Whole seconds for a ``Retry-After`` header: the wait rounded up, at least 1."""
        return max(1, math.ceil(self.retry_after_s))


@dataclass
class _Bucket:
    level: float
    at: float


class RateLimiter:
    """Token buckets of one :class:`RateLimit`, one per key; safe to share between threads."""

    def __init__(self, limit: RateLimit, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _level(self, bucket: _Bucket, now: float) -> float:
        elapsed = max(0.0, now - bucket.at)
        return min(float(self.limit.burst), bucket.level + elapsed * self.limit.per_second)

    def take(self, key: str) -> Decision:
        """Admit one request of ``key`` (taking one request's worth) or say how long until one is back."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= PRUNE_ABOVE:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(float(self.limit.burst), now)
            bucket.level, bucket.at = self._level(bucket, now), max(bucket.at, now)
            if bucket.level >= 1.0:
                bucket.level -= 1.0
                return Decision(True)
            return Decision(False, (1.0 - bucket.level) / self.limit.per_second)

    def _prune(self, now: float) -> None:
        full = float(self.limit.burst)
        for key in [k for k, b in self._buckets.items() if self._level(b, now) >= full]:
            del self._buckets[key]

    @property
    def held(self) -> int:
        """How many buckets are held (full ones may be among them until the next pruning)."""
        return len(self._buckets)


__all__ = ["PRUNE_ABOVE", "Clock", "Decision", "RateLimit", "RateLimiter"]
