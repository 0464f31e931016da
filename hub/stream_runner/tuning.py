"""The knobs of a stream worker (pure).

One :class:`Tuning` for every worker the stream-runner runs; the defaults suit
one worker on a laptop. Commit, session and heartbeat intervals go to faust;
the retry bounds go to :class:`hub.retry.Backoff`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.retry import Backoff


@dataclass(frozen=True)
class Tuning:
    """Knobs of a worker; the defaults suit one worker on a laptop."""

    batch_size: int = 500
    """Records per batch at most (``noack_take``), also faust's ``broker_commit_every``."""
    batch_within_s: float = 0.5
    """A batch is handed over once this long passed since its first record, full or not."""
    commit_interval_s: float = 1.0
    """How often faust commits the acknowledged offsets to the consumer group."""
    session_timeout_s: float = 10.0
    heartbeat_interval_s: float = 2.0
    retry_first_s: float = 0.2
    retry_max_s: float = 5.0
    status_interval_s: float = 1.0
    """How often the status file is refreshed (it is rewritten only when its content changed)."""
    log_interval_s: float = 30.0
    """How often the totals are logged (only when they changed)."""
    topic_check_interval_s: float = 60.0
    """How often the broker is asked for topics created after start."""

    @property
    def backoff(self) -> Backoff:
        """The waits between attempts while an outage is waited out."""
        return Backoff(self.retry_first_s, self.retry_max_s)


__all__ = ["Tuning"]
