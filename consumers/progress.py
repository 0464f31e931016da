"""Where a partner subscriber's run stands, and the one place that reports it.

:class:`Progress` is a plain value (counters, positions, lag, what the run
waits for). :class:`Reporter` owns it during a run: the subscriber hands its
``on_wait``/``on_recovered`` to :func:`hub.retry.retry`, so every outage shows
as ``waiting`` (and one "waiting ..." log line per distinct outage) without a
retry loop of its own, and every change reaches the caller's ``on_progress``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from consumers.sinks import TopicPartition

log = logging.getLogger("consumers.subscriber")

#: What ``waiting`` starts with while the lag refresh finds Kafka silent.
KAFKA: str = "Kafka"


@dataclass
class Progress:
    """Where a run stands; handed to ``on_progress`` after every step."""

    partner: str
    subscriber: str
    zones: tuple[str, ...]
    sink: str
    topics: tuple[str, ...] = ()
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    """Next offset to store per partition (what the sink holds, or past it by markers only)."""
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    """Latest end offsets seen."""
    targets: dict[TopicPartition, int] | None = None
    """End offsets at start (``until_caught_up`` runs only)."""
    written: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_letters: int = 0
    batches: int = 0
    waiting: str | None = None
    """What the run waits for (an outage), or None."""
    state: str = "starting"
    """starting | reading | caught up | stopped"""
    started_at: float = field(default_factory=time.monotonic)

    def behind(self) -> int:
        """Records behind the latest end offsets, over every partition."""
        return sum(max(0, self.ends.get(tp, 0) - pos) for tp, pos in self.positions.items())

    def behind_by_topic(self) -> dict[str, int]:
        out: dict[str, int] = {t: 0 for t in self.topics}
        for tp, pos in self.positions.items():
            out[tp[0]] = out.get(tp[0], 0) + max(0, self.ends.get(tp, 0) - pos)
        return out

    def position_by_topic(self) -> dict[str, tuple[int, int]]:
        """Topic -> (records stored or passed, end offsets summed over its partitions)."""
        out: dict[str, tuple[int, int]] = {t: (0, 0) for t in self.topics}
        for tp, pos in self.positions.items():
            done, end = out.get(tp[0], (0, 0))
            out[tp[0]] = (done + pos, end + self.ends.get(tp, 0))
        return out

    @property
    def caught_up(self) -> bool:
        if self.targets is None:
            return False
        return all(self.positions.get(tp, 0) >= n for tp, n in self.targets.items())


class Reporter:
    """Keeps a run's :class:`Progress` and tells ``on_progress`` of every change."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.on_progress: Callable[[Progress], None] | None = None

    def notify(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)

    # -- the retry policy's callbacks (hub.retry.OnWait and on_recovered) ---------------------------
    def on_wait(self, what: str, exc: BaseException, delay_s: float) -> None:
        """A step failed with an outage: say what is waited for (logged once per distinct outage)."""
        message = f"{what}: {exc}"
        if self.progress.waiting != message:
            log.warning("waiting (retry in %.1fs) - %s", delay_s, message)
        self.progress.waiting = message
        self.notify()

    def on_recovered(self, what: str) -> None:
        """The step that failed succeeded: nothing is waited for any more."""
        if self.progress.waiting is not None:
            log.info("%s: available again", what)
            self.progress.waiting = None
            self.notify()

    # -- the lag refresh, which does not retry (the poll loop reconnects) -----------------------------
    def kafka_silent(self, exc: BaseException) -> None:
        if self.progress.waiting is None:
            log.warning("Kafka does not answer: %s", exc)
        self.progress.waiting = f"{KAFKA}: {exc}"

    def kafka_answered(self) -> None:
        if self.progress.waiting is not None and self.progress.waiting.startswith(f"{KAFKA}:"):
            self.progress.waiting = None


__all__ = ["KAFKA", "Progress", "Reporter"]
