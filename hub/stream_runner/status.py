"""What the status file of every stream worker holds, and how it is read (pure: files only).

The runner writes the common part, :class:`WorkerStatus`: ``pid``,
``group_id``, ``topics`` (served), ``ready`` (the rebalance is complete and
every assigned partition is positioned: records flow), ``assigned``
(partitions), ``unserved_topics`` (matching topics created after start:
served after a restart) and ``stats`` (the worker's counters). A worker's
status class adds its identity (the gateway's regions; the projection, its
zones and metrics URL). The file lives in the worker's
:class:`hub.process.ProcessFiles` and is rewritten only on change
(:class:`hub.process.StatusFile`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hub import process


@dataclass(kw_only=True)
class WorkerStatus:
    """The part of a worker's status file the runner keeps."""

    pid: int
    group_id: str
    topics: int
    ready: bool = False
    assigned: int = 0
    unserved_topics: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    updated_at: str = ""


S = TypeVar("S", bound=WorkerStatus)


def read_status(path: Path, kind: type[S]) -> S | None:
    """The status file at ``path`` as ``kind``, or None if it is missing, unreadable or of another version."""
    doc = process.read_status(path)
    try:
        return None if doc is None else kind(**doc)
    except TypeError:  # written by another version
        return None


def state_line(label: str, group_id: str, pid: int | None, status: WorkerStatus | None) -> str:
    """Whether a worker runs and consumes, in one line (``hub gateway status``, ``hub project status``)."""
    if pid is None:
        return f"{label} {group_id} is not running"
    if status is None:
        return f"{label} {group_id} running (pid {pid}), not consuming yet"
    state = "consuming" if status.ready else "not consuming yet"
    return f"{label} {group_id} running (pid {pid}), {state}: {status.assigned} partitions"


def faust_dir(files: process.ProcessFiles) -> Path:
    """faust's data directory of a worker, beside its pid, log and status files."""
    return files.root / "faust"


__all__ = ["WorkerStatus", "faust_dir", "read_status", "state_line"]
