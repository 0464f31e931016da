"""A flow's replicator as a managed background process (``hub replicate start|stop|status``).

The process is ``python -m hub.replication`` (the ``hub replicate run``
command with the settings from the ``HUB_*`` environment), started detached
through :class:`hub.process.ManagedModule`, its pid file, status file and log
under ``<target data dir>/replication/<flow>/``. :func:`start` returns once
the flow has resumed and copies (its status file says so); :func:`stop` sends
SIGTERM (the flow finishes its transaction), then SIGKILL, which exactly once
survives too. Starting a running flow is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.errors import ReplicationError
from hub.process import ManagedModule, read_status
from hub.replication.wiring import FlowSetup, files
from hub.settings import HubSettings, as_environment

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 40.0
READY_STATES = frozenset({"copying", "caught up"})


@dataclass(frozen=True)
class StartResult:
    pid: int
    started: bool  # False when the flow's replicator was already running
    flow: str


@dataclass(frozen=True)
class FlowStatus:
    flow: str
    pid: int | None
    status: dict[str, Any] | None


def process(found: FlowSetup) -> ManagedModule:
    return ManagedModule(
        "hub.replication",
        files(found.target, found.flow),
        f"the replicator of flow {found.flow.name}",
        "resume copying",
        error=ReplicationError,
        stop_timeout_s=STOP_TIMEOUT_S,
    )


def start(
    settings: HubSettings,
    found: FlowSetup,
    *,
    environ: Mapping[str, str],
    topics: str | None = None,
    metrics_port: int | None = None,
    batch_records: int | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> StartResult:
    """Start the flow's replicator in the background; return once it copies. A running one is a no-op."""
    proc = process(found)
    args = ["--from", found.flow.source, "--to", found.flow.target]
    if topics:
        args += ["--topics", topics]
    if metrics_port is not None:
        args += ["--metrics-port", str(metrics_port)]
    if batch_records is not None:
        args += ["--batch-records", str(batch_records)]

    def copying(pid: int) -> dict[str, Any] | None:
        doc = read_status(proc.files.status)
        return doc if doc is not None and doc.get("pid") == pid and doc.get("state") in READY_STATES else None

    pid, started, _ = proc.start(args, env=as_environment(settings, environ), ready=copying, timeout_s=timeout_s)
    return StartResult(pid, started, found.flow.name)


def stop(found: FlowSetup, *, timeout_s: float = STOP_TIMEOUT_S) -> bool | None:
    """SIGTERM the flow's replicator (SIGKILL after ``timeout_s``); None if none ran, else whether it stopped."""
    return process(found).stop(timeout_s)


def kill(found: FlowSetup) -> int | None:
    """SIGKILL the flow's replicator at once (crash tests); the pid killed, or None."""
    return process(found).kill()


def status(found: FlowSetup) -> FlowStatus:
    proc = process(found)
    pid = proc.running_pid()
    return FlowStatus(found.flow.name, pid, read_status(proc.files.status) if pid is not None else None)


__all__ = ["READY_STATES", "FlowStatus", "StartResult", "kill", "process", "start", "status", "stop"]
