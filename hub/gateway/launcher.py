"""Running the gateway as a managed background process (for tests and ``make demo``).

Mirrors :mod:`hub.local_kafka` and :mod:`hub.registry.launcher`: ``hub gateway run``
started detached, its pid file, status file and log under
``<data_dir>/gateway/<group id>``; :func:`start` returns once the worker
consumes (its status file says partitions are assigned), :func:`stop` sends
SIGTERM, then SIGKILL. Starting a running gateway is a no-op; a stale pid file
is cleaned up.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from hub.agreement_keys import load_key
from hub.agreements import agreements_dir, load_agreements
from hub.errors import BrokerError, PolicyError
from hub.gateway import status as status_file
from hub.gateway.status import group_id, served_regions
from hub.process import alive, cmdline_has, read_pid_file, tail, terminate
from hub.process import kill as kill_pid
from hub.settings import HubSettings, as_environment

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class StartResult:
    pid: int
    started: bool  # False when this gateway was already running
    group_id: str


@dataclass(frozen=True)
class GatewayStatus:
    group_id: str
    pid: int | None
    status: status_file.Status | None


def _files(settings: HubSettings, regions: Sequence[str] | None) -> tuple[tuple[str, ...], status_file.GatewayPaths]:
    served = served_regions(regions)
    return served, status_file.paths(settings, group_id(served))


def paths_of(settings: HubSettings, regions: Sequence[str] | None = None) -> status_file.GatewayPaths:
    """Pid, status and log files of the gateway of this region set."""
    return _files(settings, regions)[1]


def _is_our_gateway(pid: int) -> bool:
    return cmdline_has(pid, "-m", "hub.gateway")


def running_pid(settings: HubSettings, regions: Sequence[str] | None = None) -> int | None:
    """Pid of the gateway of this region set started from this data dir, or None. Removes a stale pid file."""
    _, files = _files(settings, regions)
    return read_pid_file(files.pid, _is_our_gateway)


def start(
    settings: HubSettings,
    regions: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str],
    timeout_s: float = START_TIMEOUT_S,
    loglevel: str = "info",
) -> StartResult:
    """Start ``hub gateway run`` in the background; return once it consumes. A running one is a no-op.

    Agreements and keys are checked here first, so a missing key fails at once
    with the :class:`PolicyError` naming the variable.
    """
    served, files = _files(settings, regions)
    gid = group_id(served)
    pid = running_pid(settings, served)
    if pid is not None:
        _wait_ready(files, pid, timeout_s, lambda: alive(pid))
        return StartResult(pid, False, gid)
    every = load_agreements(agreements_dir(settings.agreements_dir))
    for region in served:
        if region not in every:
            raise PolicyError(f"no data-sharing agreement for {region} in {agreements_dir(settings.agreements_dir)}")
        load_key(every[region], environ, settings.secrets_file)
    files.root.mkdir(parents=True, exist_ok=True)
    files.status.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "hub.gateway", "--log-level", loglevel]
    for region in served:
        cmd += ["--region", region]
    with files.log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=as_environment(settings, environ),
            close_fds=True,
            cwd=str(files.root),
        )
    files.pid.write_text(str(proc.pid))
    try:
        _wait_ready(files, proc.pid, timeout_s, lambda: proc.poll() is None)
    except BrokerError:
        terminate(proc.pid, STOP_TIMEOUT_S)
        files.pid.unlink(missing_ok=True)
        raise
    return StartResult(proc.pid, True, gid)


def _wait_ready(files: status_file.GatewayPaths, pid: int, timeout_s: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = status_file.read_status(files.status)
        if found is not None and found.pid == pid and found.ready:
            return
        if not alive():
            raise BrokerError(f"the gateway exited while starting:\n{tail(files.log)}")
        time.sleep(0.2)
    raise BrokerError(f"the gateway did not start consuming within {timeout_s:.0f}s; see {files.log}")


def stop(
    settings: HubSettings, regions: Sequence[str] | None = None, *, timeout_s: float = STOP_TIMEOUT_S
) -> bool | None:
    """SIGTERM the managed gateway (SIGKILL after ``timeout_s``). None if none ran, else whether it stopped cleanly."""
    _, files = _files(settings, regions)
    pid = running_pid(settings, regions)
    if pid is None:
        return None
    graceful = terminate(pid, timeout_s)
    files.pid.unlink(missing_ok=True)
    return graceful


def kill(settings: HubSettings, regions: Sequence[str] | None = None) -> int | None:
    """SIGKILL the managed gateway at once (crash tests); returns the pid killed, or None."""
    _, files = _files(settings, regions)
    pid = running_pid(settings, regions)
    if pid is None:
        return None
    kill_pid(pid, timeout_s=STOP_TIMEOUT_S)
    files.pid.unlink(missing_ok=True)
    return pid


def status(settings: HubSettings, regions: Sequence[str] | None = None) -> GatewayStatus:
    """Pid and last status file of the gateway of this region set."""
    served, files = _files(settings, regions)
    pid = running_pid(settings, served)
    return GatewayStatus(group_id(served), pid, status_file.read_status(files.status) if pid is not None else None)


__all__ = ["GatewayStatus", "StartResult", "kill", "paths_of", "running_pid", "start", "status", "stop"]
