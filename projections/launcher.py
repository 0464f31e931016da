"""Running the projection worker as a managed background process (for tests and ``make demo``).

Mirrors :mod:`hub.local_kafka` and :mod:`hub.registry.launcher`: ``hub project run``
started detached, its pid file, status file and log under
``<data_dir>/projections/<group id>``; :func:`start` returns once the worker
consumes (its status file says its partitions are positioned at the stored
offsets), :func:`stop` sends SIGTERM, then SIGKILL. Starting a running worker
is a no-op; a stale pid file is cleaned up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from hub.errors import ProjectionError
from hub.process import alive, cmdline_has, read_pid_file, tail, terminate
from hub.process import kill as kill_pid
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


def _files(settings: HubSettings, projection: str, zones: Sequence[str] | None) -> tuple[str, status_file.WorkerPaths]:
    group = group_id(check_projection(projection), served_zones(zones))
    return group, status_file.paths(settings, group)


def _is_our_worker(pid: int) -> bool:
    return cmdline_has(pid, "-m", "projections")


def running_pid(settings: HubSettings, zones: Sequence[str] | None = None, projection: str = READ_MODELS) -> int | None:
    """Pid of the worker of this projection and zone set started from this data dir, or None."""
    _, files = _files(settings, projection, zones)
    return read_pid_file(files.pid, _is_our_worker)


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
    """Start ``hub project run`` in the background; return once it consumes. A running one is a no-op."""
    group, files = _files(settings, projection, zones)
    pid = running_pid(settings, zones, projection)
    if pid is not None:
        found = _wait_ready(files, pid, timeout_s, lambda: alive(pid))
        return StartResult(pid, False, group, found.metrics_url)
    files.root.mkdir(parents=True, exist_ok=True)
    files.status.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "projections", "--log-level", loglevel]
    cmd += ["--projection", projection]
    for zone in served_zones(zones):
        cmd += ["--zone", zone]
    if metrics_port is not None:
        cmd += ["--metrics-port", str(metrics_port)]
    if batch_size is not None:
        cmd += ["--batch-size", str(batch_size)]
    if session_timeout_s is not None:
        cmd += ["--session-timeout", str(session_timeout_s)]
    with files.log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=as_environment(settings, os.environ if environ is None else environ),
            close_fds=True,
            cwd=str(files.root),
        )
    files.pid.write_text(str(proc.pid))
    try:
        found = _wait_ready(files, proc.pid, timeout_s, lambda: proc.poll() is None, metrics=metrics_port is not None)
    except ProjectionError:
        terminate(proc.pid, STOP_TIMEOUT_S)
        files.pid.unlink(missing_ok=True)
        raise
    return StartResult(proc.pid, True, group, found.metrics_url)


def _wait_ready(
    files: status_file.WorkerPaths, pid: int, timeout_s: float, alive: Callable[[], bool], *, metrics: bool = False
) -> status_file.Status:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = status_file.read_status(files.status)
        # the metrics server is a separate start-up task: with metrics asked for, wait for its URL too
        if found is not None and found.pid == pid and found.ready and (not metrics or found.metrics_url):
            return found
        if not alive():
            raise ProjectionError(f"the projection worker exited while starting:\n{tail(files.log)}")
        time.sleep(0.2)
    raise ProjectionError(f"the projection worker did not start consuming within {timeout_s:.0f}s; see {files.log}")


def stop(
    settings: HubSettings,
    zones: Sequence[str] | None = None,
    *,
    projection: str = READ_MODELS,
    timeout_s: float = STOP_TIMEOUT_S,
) -> bool | None:
    """SIGTERM the managed worker (SIGKILL after ``timeout_s``). None if none ran, else whether it stopped cleanly."""
    _, files = _files(settings, projection, zones)
    pid = running_pid(settings, zones, projection)
    if pid is None:
        return None
    graceful = terminate(pid, timeout_s)
    files.pid.unlink(missing_ok=True)
    return graceful


def kill(settings: HubSettings, zones: Sequence[str] | None = None, *, projection: str = READ_MODELS) -> int | None:
    """SIGKILL the managed worker at once (crash tests); returns the pid killed, or None."""
    _, files = _files(settings, projection, zones)
    pid = running_pid(settings, zones, projection)
    if pid is None:
        return None
    kill_pid(pid, timeout_s=STOP_TIMEOUT_S)
    files.pid.unlink(missing_ok=True)
    return pid


def status(settings: HubSettings, zones: Sequence[str] | None = None, *, projection: str = READ_MODELS) -> WorkerStatus:
    """Pid and last status file of the worker of this projection and zone set."""
    group, files = _files(settings, projection, zones)
    pid = running_pid(settings, zones, projection)
    return WorkerStatus(group, pid, status_file.read_status(files.status) if pid is not None else None)


__all__ = ["StartResult", "WorkerStatus", "kill", "running_pid", "start", "status", "stop"]
