"""The projection worker's identity, counters and status file (``<data_dir>/projections/<group>/status.json``).

The running worker writes the status file (:mod:`hub.stream_runner.status`:
pid, readiness - partitions assigned and positioned at the stored offsets -,
assigned partitions, unserved topics) with the projection, its zones, the
metrics URL and the counters. ``hub project status`` and the launcher read
it. No Kafka, no faust, no SQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub import naming, principals
from hub.errors import ConfigError
from hub.process import ProcessFiles, instance_folder
from hub.settings import HubSettings
from hub.stream_runner import status as worker_status
from hub.zones import ZONES
from projections.tables import PROJECTION_TABLES, READ_MODELS


def served_zones(given: Sequence[str] | None, held: Sequence[str] | None = None) -> tuple[str, ...]:
    """Zones to project, sorted and unique; none given means every zone the cluster holds (``held``,
    :func:`hub.jurisdictions.held_zones`; every zone of :data:`hub.zones.ZONES` for a single cluster).

    A zone is any lower-case code (``gba``, ``mainland``, or a zone added
    later); its ``shared.<zone>.*`` topics must exist when the worker starts.
    """
    if not given:
        return tuple(sorted(ZONES if held is None else held))
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
    return principals.projection_group_id(projection, zones)


def paths(settings: HubSettings, group: str) -> ProcessFiles:
    """Files of one worker (one projection and zone set) under ``<data_dir>/projections/<group id>``.

    Instance ``n > 0`` of a scaled-out worker (``settings.worker_instance``) keeps its own under
    ``<group id>.<n>``: the instances share the consumer group and the database, never a status file."""
    folder = instance_folder(group, settings.worker_instance)
    return ProcessFiles(settings.data_dir.resolve() / "projections" / folder, "worker")


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


@dataclass(kw_only=True)
class Status(worker_status.WorkerStatus):
    """Content of the status file: the runner's part, the projection, its zones and the metrics URL."""

    projection: str
    zones: list[str]
    metrics_url: str | None = None


def read_status(path: Path) -> Status | None:
    """The status file, or None if it is missing or unreadable."""
    return worker_status.read_status(path, Status)


__all__ = [
    "READ_MODELS",
    "Stats",
    "Status",
    "check_projection",
    "group_id",
    "paths",
    "read_status",
    "served_zones",
]
