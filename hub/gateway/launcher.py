"""Running the gateway as a managed background process (for tests, ``hub gateway start`` and ``make demo``).

The process is ``python -m hub.gateway`` (:mod:`hub.gateway.__main__`, the
``hub gateway run`` command with the settings from the ``HUB_*`` environment),
started detached through :class:`hub.process.ManagedModule`: its pid file,
status file and log live under ``<data_dir>/gateway/<group id>``.
:func:`start` returns once the worker consumes (its status file says it is
ready with partitions assigned), :func:`stop` sends SIGTERM, then SIGKILL.
Starting a running gateway is a no-op; a stale pid file is cleaned up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.agreements import agreements_dir, load_agreements
from hub.agreements.keys import load_key
from hub.credentials import as_principal
from hub.errors import BrokerError, PolicyError
from hub.gateway import status as status_file
from hub.gateway.status import group_id, served_regions
from hub.jurisdictions import homed_regions
from hub.principals import gateway_principal
from hub.process import ManagedModule, ProcessFiles
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


def _process(settings: HubSettings, regions: Sequence[str] | None) -> tuple[tuple[str, ...], ManagedModule]:
    served = served_regions(regions, homed_regions(settings))
    files = status_file.paths(settings, group_id(served))
    return served, ManagedModule(
        "hub.gateway", files, "the gateway", "start consuming", error=BrokerError, stop_timeout_s=STOP_TIMEOUT_S
    )


def paths_of(settings: HubSettings, regions: Sequence[str] | None = None) -> ProcessFiles:
    """Pid, status and log files of the gateway of this region set."""
    return _process(settings, regions)[1].files


def running_pid(settings: HubSettings, regions: Sequence[str] | None = None) -> int | None:
    """Pid of the gateway of this region set started from this data dir, or None. Removes a stale pid file."""
    return _process(settings, regions)[1].running_pid()


def _check_keys(settings: HubSettings, served: Sequence[str], environ: Mapping[str, str]) -> None:
    folder = agreements_dir(settings.agreements_dir)
    every = load_agreements(folder)
    for region in served:
        if region not in every:
            raise PolicyError(f"no data-sharing agreement for {region} in {folder}")
        load_key(every[region], environ, settings.secrets_file)


def start(
    settings: HubSettings,
    regions: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str],
    timeout_s: float = START_TIMEOUT_S,
    loglevel: str = "info",
) -> StartResult:
    """Start ``python -m hub.gateway`` in the background; return once it consumes. A running one is a no-op.

    Agreements and keys are checked here first, so a missing key fails at once
    with the :class:`PolicyError` naming the variable.
    """
    served, proc = _process(settings, regions)
    settings = as_principal(settings, gateway_principal(served))
    if proc.running_pid() is None:
        _check_keys(settings, served, environ)
    args = ["--log-level", loglevel]
    for region in served:
        args += ["--region", region]

    def consuming(pid: int) -> status_file.Status | None:
        found = status_file.read_status(proc.files.status)
        return found if found is not None and found.pid == pid and found.ready and found.assigned > 0 else None

    pid, started, _ = proc.start(args, env=as_environment(settings, environ), ready=consuming, timeout_s=timeout_s)
    return StartResult(pid, started, group_id(served))


def stop(
    settings: HubSettings, regions: Sequence[str] | None = None, *, timeout_s: float = STOP_TIMEOUT_S
) -> bool | None:
    """SIGTERM the managed gateway (SIGKILL after ``timeout_s``). None if none ran, else whether it stopped cleanly."""
    return _process(settings, regions)[1].stop(timeout_s)


def kill(settings: HubSettings, regions: Sequence[str] | None = None) -> int | None:
    """SIGKILL the managed gateway at once (crash tests); returns the pid killed, or None."""
    return _process(settings, regions)[1].kill()


def status(settings: HubSettings, regions: Sequence[str] | None = None) -> GatewayStatus:
    """Pid and last status file of the gateway of this region set."""
    served, proc = _process(settings, regions)
    pid = proc.running_pid()
    return GatewayStatus(group_id(served), pid, status_file.read_status(proc.files.status) if pid is not None else None)


__all__ = ["GatewayStatus", "StartResult", "kill", "paths_of", "running_pid", "start", "status", "stop"]
