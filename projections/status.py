"""The projection worker's identity, counters and status file (``<data_dir>/projections/<group>/status.json``).

The running worker writes the status file: pid, projection, zones, readiness
(partitions assigned and positioned at the stored offsets) and counters.
``hub project status`` and the managed-process helper read it. No Kafka, no
faust, no SQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub import naming, process
from hub.errors import ConfigError
from hub.settings import HubSettings
from hub.zones import ZONES
from projections.tables import PROJECTION_TABLES, READ_MODELS


def served_zones(given: Sequence[str] | None) -> tuple[str, ...]:
    """Zones to project, sorted and unique; none given means every zone (:data:`hub.zones.ZONES`).

    A zone is any lower-case code (``gba``, ``mainland``, or a zone added
    later); its ``shared.<zone>.*`` topics must exist when the worker starts.
    """
    if not given:
        return tuple(sorted(ZONES))
    out: set[str] = set()
    for zone in given:
        name = zone.strip().lower()
        try:
            naming.shared_prefix(name)
        except ValueError as exc:
            raise ConfigError(f"--zone: {exc}; known zones: {', '.join(ZONES)}") from exc
        out.add(name)
    return tuple(sorted(out))


def check_projection(projection: str) -> str:
    """``projection`` if it is a known projection, else :class:`ConfigError` naming the known ones."""
    if projection not in PROJECTION_TABLES:
        raise ConfigError(f"projection: unknown projection {projection!r}; known: {', '.join(PROJECTION_TABLES)}")
    return projection


def group_id(projection: str, zones: Sequence[str]) -> str:
    """Consumer group (and faust app id) of a projection over a zone set, e.g. ``hub-projection-read-models-gba``."""
    return f"hub-projection-{projection.replace('_', '-')}-{'-'.join(sorted(zones))}"


@dataclass(frozen=True)
class WorkerPaths:
    """Files of one worker (one projection and zone set) under ``<data_dir>/projections/<group id>``."""

    root: Path

    @property
    def pid(self) -> Path:
        return self.root / "worker.pid"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def log(self) -> Path:
        return self.root / "worker.log"

    @property
    def faust_dir(self) -> Path:
        return self.root / "faust"


def paths(settings: HubSettings, group: str) -> WorkerPaths:
    return WorkerPaths(settings.data_dir.resolve() / "projections" / group)


@dataclass
class Stats:
    """What one worker process has done since it started (records re-read after a restart count again)."""

    records: int = 0
    """Records consumed."""
    applied: int = 0
    """Records applied (rows and offsets committed), dead-lettered ones included."""
    skipped: int = 0
    """Records below the stored offsets: applied before, nothing done."""
    changed: int = 0
    """Rows inserted or updated."""
    dead: Counter[str] = field(default_factory=Counter)
    """Dead letters, per stage."""
    batches: int = 0
    retries: int = 0
    """Outages (registry, broker, database) waited out."""
    busy_s: float = 0.0
    """Time spent decoding, projecting, dead-lettering and applying (the rest is waiting for records)."""
    last_batch_at: datetime | None = None

    def add(
        self,
        records: int,
        applied: int,
        skipped: int,
        changed: int,
        dead: Counter[str],
        retries: int,
        busy_s: float = 0.0,
    ) -> None:
        self.batches += 1
        self.busy_s += busy_s
        self.records += records
        self.applied += applied
        self.skipped += skipped
        self.changed += changed
        self.dead.update(dead)
        self.retries += retries
        self.last_batch_at = datetime.now(UTC)

    def summary(self) -> str:
        dead = ", ".join(f"{s}={n}" for s, n in sorted(self.dead.items())) or "0"
        return (
            f"{self.records} records in {self.batches} batches: {self.applied} applied, {self.skipped} skipped, "
            f"{self.changed} rows changed; dead letters: {dead}; outages waited out: {self.retries}; "
            f"{self.busy_s:.1f}s spent applying"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "applied": self.applied,
            "skipped": self.skipped,
            "changed": self.changed,
            "dead_letters": dict(sorted(self.dead.items())),
            "batches": self.batches,
            "retries": self.retries,
            "busy_s": round(self.busy_s, 3),
            "last_batch_at": self.last_batch_at.isoformat() if self.last_batch_at else None,
        }


@dataclass
class Status:
    """Content of the status file."""

    pid: int
    group_id: str
    projection: str
    zones: list[str]
    topics: int
    ready: bool = False
    assigned: int = 0
    metrics_url: str | None = None
    unserved_topics: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    updated_at: str = ""


def read_status(path: Path) -> Status | None:
    """The status file, or None if it is missing or unreadable."""
    doc = process.read_status(path)
    try:
        return None if doc is None else Status(**doc)
    except TypeError:  # written by another version
        return None


__all__ = [
    "READ_MODELS",
    "Stats",
    "Status",
    "WorkerPaths",
    "check_projection",
    "group_id",
    "paths",
    "read_status",
    "served_zones",
]
