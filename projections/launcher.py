"""Running the projection worker as a managed background process (tests, ``hub project start``, ``make demo``).

The process is ``python -m projections`` (:mod:`projections.__main__`, the
``hub project run`` command with the settings from the ``HUB_*``
environment), started detached through :class:`hub.process.ManagedModule`:
its pid file, status file and log live under
``<data_dir>/projections/<group id>``. :func:`start` returns once the worker
consumes (its status file says its partitions are positioned at the stored
offsets, and, with metrics asked for, names the metrics URL), :func:`stop`
sends SIGTERM, then SIGKILL. Starting a running worker is a no-op; a stale
pid file is cleaned up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.credentials import as_principal
from hub.errors import ProjectionError
from hub.jurisdictions import held_zones
from hub.principals import projection_principal
from hub.process import ManagedModule
from hub.settings import HubSettings, as_environment
from projections import status as status_file
from projections.status import check_projection, group_id, served_zones
from projections.tables import READ_MODELS

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class StartResult:
    pid: int
    started: bool  # False when this worker was already running
    group_id: str
    metrics_url: str | None


@dataclass(frozen=True)
class WorkerStatus:
    group_id: str
    pid: int | None
    status: status_file.Status | None


def _process(settings: HubSettings, projection: str, zones: Sequence[str] | None) -> tuple[str, ManagedModule]:
    group = group_id(check_projection(projection), served_zones(zones, held_zones(settings)))
    files = status_file.paths(settings, group)
    return group, ManagedModule(
        "projections", files, "the projection worker", "start consuming", error=ProjectionError,
        stop_timeout_s=STOP_TIMEOUT_S,
    )  # fmt: skip


def running_pid(settings: HubSettings, zones: Sequence[str] | None = None, projection: str = READ_MODELS) -> int | None:
    """Pid of the worker of this projection and zone set started from this data dir, or None."""
    return _process(settings, projection, zones)[1].running_pid()


def start(
    settings: HubSettings,
    zones: Sequence[str] | None = None,
    *,
    projection: str = READ_MODELS,
    metrics_port: int | None = None,
    batch_size: int | None = None,
    session_timeout_s: float | None = None,
    timeout_s: float = START_TIMEOUT_S,
    loglevel: str = "info",
    environ: Mapping[str, str] | None = None,
) -> StartResult:
    """Start ``python -m projections`` in the background; return once it consumes. A running one is a no-op."""
    group, proc = _process(settings, projection, zones)
    args = ["--log-level", loglevel, "--projection", projection]
    for zone in served_zones(zones, held_zones(settings)):
        args += ["--zone", zone]
    if metrics_port is not None:
        args += ["--metrics-port", str(metrics_port)]
    if batch_size is not None:
        args += ["--batch-size", str(batch_size)]
    if session_timeout_s is not None:
        args += ["--session-timeout", str(session_timeout_s)]

    def consuming(pid: int) -> status_file.Status | None:
        found = status_file.read_status(proc.files.status)
        if found is None or found.pid != pid or not found.ready:
            return None
        # the metrics server is a separate start-up task: with metrics asked for, wait for its URL too
        return found if metrics_port is None or found.metrics_url else None

    settings = as_principal(settings, projection_principal(served_zones(zones, held_zones(settings))))
    env = as_environment(settings, os.environ if environ is None else environ)
    pid, started, found = proc.start(args, env=env, ready=consuming, timeout_s=timeout_s)
    return StartResult(pid, started, group, found.metrics_url)


def stop(
    settings: HubSettings,
    zones: Sequence[str] | None = None,
    *,
    projection: str = READ_MODELS,
    timeout_s: float = STOP_TIMEOUT_S,
) -> bool | None:
    """SIGTERM the managed worker (SIGKILL after ``timeout_s``). None if none ran, else whether it stopped cleanly."""
    return _process(settings, projection, zones)[1].stop(timeout_s)


def kill(settings: HubSettings, zones: Sequence[str] | None = None, *, projection: str = READ_MODELS) -> int | None:
    """SIGKILL the managed worker at once (crash tests); returns the pid killed, or None."""
    return _process(settings, projection, zones)[1].kill()


def status(settings: HubSettings, zones: Sequence[str] | None = None, *, projection: str = READ_MODELS) -> WorkerStatus:
    """Pid and last status file of the worker of this projection and zone set."""
    group, proc = _process(settings, projection, zones)
    pid = proc.running_pid()
    return WorkerStatus(group, pid, status_file.read_status(proc.files.status) if pid is not None else None)


__all__ = ["StartResult", "WorkerStatus", "kill", "running_pid", "start", "status", "stop"]
