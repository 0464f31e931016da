"""The gateway's identity, counters and status file (``<data_dir>/gateway/<group>/status.json``).

The running worker writes the status file (:mod:`hub.stream_runner.status`:
pid, readiness, assigned partitions, unserved topics) with the served regions
and the counters. ``hub gateway status`` and the launcher read it. No Kafka,
no faust.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub import principals
from hub.errors import ConfigError
from hub.gateway.crossing import Crossed, Outcome, Refused
from hub.orgunits import REGIONS
from hub.process import ProcessFiles, instance_folder
from hub.settings import HubSettings
from hub.stream_runner import status as worker_status


def served_regions(given: Sequence[str] | None, home: Collection[str] | None = None) -> tuple[str, ...]:
    """Regions to serve, upper-cased, in :data:`hub.orgunits.REGIONS` order.

    ``home``: the regions the gateway's cluster homes (a cluster of the topology); a gateway never
    serves a region homed elsewhere, whose raw events are not on its cluster. None given means all
    of ``home`` (all five for the single-cluster hub).
    """
    homed = set(REGIONS) if home is None else {r.upper() for r in home}
    if not given:
        return tuple(r for r in REGIONS if r in homed)
    wanted = {r.strip().upper() for r in given}
    unknown = sorted(wanted - set(REGIONS))
    if unknown:
        raise ConfigError(f"--region: unknown region {', '.join(unknown)}; expected some of {', '.join(REGIONS)}")
    elsewhere = sorted(wanted - homed)
    if elsewhere:
        raise ConfigError(
            f"--region: {', '.join(elsewhere)} is not homed in this cluster (it homes {', '.join(sorted(homed))}): "
            "its gateway runs in its own jurisdiction"
        )
    return tuple(r for r in REGIONS if r in wanted)


def group_id(regions: Sequence[str]) -> str:
    """Consumer group (and faust app id) of a served-region set: stable, e.g. ``hub-gateway-fj-gd-hk-js-mo``."""
    return principals.gateway_group_id(regions)


def paths(settings: HubSettings, group_id: str) -> ProcessFiles:
    """Files of one gateway (one served-region set) under ``<data_dir>/gateway/<group id>``.

    Instance ``n > 0`` of a scaled-out gateway (``settings.worker_instance``) keeps its own under
    ``<group id>.<n>``: the instances share the consumer group, never a status file."""
    folder = instance_folder(group_id, settings.worker_instance)
    return ProcessFiles(settings.data_dir.resolve() / "gateway" / folder, "gateway")


@dataclass
class Stats:
    """What one worker process has done since it started (duplicates after a restart count again)."""

    crossed: Counter[str] = field(default_factory=Counter)
    """Shared records written, per zone."""
    withheld: int = 0
    """Events the agreement let into no zone (audit record only)."""
    dead: Counter[str] = field(default_factory=Counter)
    """Dead letters, per stage."""
    dead_by_region: Counter[str] = field(default_factory=Counter)
    events: int = 0
    batches: int = 0
    cross_s: float = 0.0
    """Time spent decoding, validating, applying agreements and encoding."""
    deliver_s: float = 0.0
    """Time spent sending outputs and awaiting their acknowledgements."""
    last_batch_at: datetime | None = None

    def add(self, outcomes: Iterable[Outcome], *, cross_s: float = 0.0, deliver_s: float = 0.0) -> None:
        """Count one delivered batch."""
        self.batches += 1
        self.cross_s += cross_s
        self.deliver_s += deliver_s
        self.last_batch_at = datetime.now(UTC)
        for outcome in outcomes:
            self.events += 1
            if isinstance(outcome, Crossed):
                self.crossed.update(outcome.zones)
                if not outcome.zones:
                    self.withheld += 1
            elif isinstance(outcome, Refused):
                self.dead[outcome.stage] += 1
                region = outcome.source.topic.split(".")[1].upper() if outcome.source.topic.count(".") == 3 else "?"
                self.dead_by_region[region] += 1

    def summary(self) -> str:
        zones = ", ".join(f"{z}={n}" for z, n in sorted(self.crossed.items())) or "none"
        dead = ", ".join(f"{s}={n}" for s, n in sorted(self.dead.items())) or "0"
        return (
            f"{self.events} events in {self.batches} batches; crossed: {zones}; "
            f"withheld {self.withheld}; dead letters: {dead}; "
            f"busy {self.cross_s:.1f}s crossing, {self.deliver_s:.1f}s delivering"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "batches": self.batches,
            "crossed": dict(sorted(self.crossed.items())),
            "withheld": self.withheld,
            "dead_letters": dict(sorted(self.dead.items())),
            "dead_letters_by_region": dict(sorted(self.dead_by_region.items())),
            "cross_seconds": round(self.cross_s, 3),
            "deliver_seconds": round(self.deliver_s, 3),
            "last_batch_at": self.last_batch_at.isoformat() if self.last_batch_at else None,
        }


@dataclass(kw_only=True)
class Status(worker_status.WorkerStatus):
    """Content of the status file: the runner's part and the served regions."""

    regions: list[str]


def read_status(path: Path) -> Status | None:
    """The status file, or None if it is missing or unreadable."""
    return worker_status.read_status(path, Status)
