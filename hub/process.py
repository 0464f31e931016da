"""Managed background processes: pid files, liveness, stopping, log tails.

One implementation for every process the hub starts and stops (the local
broker, the registry, the gateway, the projection worker).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie child of ours counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def terminate(pid: int, timeout_s: float) -> bool:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL. Returns True if it stopped gracefully."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            reap(pid)
            return True
        time.sleep(0.2)
    kill(pid, timeout_s=timeout_s)
    return False


def kill(pid: int, *, timeout_s: float) -> None:
    """SIGKILL at once (crash tests, or after a graceful stop timed out) and wait until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        reap(pid)
        time.sleep(0.05)
    reap(pid)


def cmdline_has(pid: int, *needles: str) -> bool:
    """Whether the live process ``pid`` has every one of ``needles`` among its arguments."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return all(n.encode() in args for n in needles) and alive(pid)


def read_pid_file(path: Path, is_ours: Callable[[int], bool]) -> int | None:
    """The pid in ``path`` if that process is ours; otherwise remove the stale file and return None."""
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None
    if is_ours(pid):
        return pid
    path.unlink(missing_ok=True)
    return None


def tail(log: Path, lines: int = 15) -> str:
    """The last ``lines`` of a log file, for error messages."""
    try:
        return "\n".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return f"(no log at {log})"


def write_status(path: Path, doc: dict[str, Any]) -> None:
    """Replace a process's JSON status file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def read_status(path: Path) -> dict[str, Any] | None:
    """A JSON status file, or None if it is missing or unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


class StatusFile:
    """A running process's status file, rewritten only when its content changes (``updated_at`` aside).

    A status that cannot be written is logged, never raised: it must not stop the work it describes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last: str | None = None

    def write(self, doc: dict[str, Any]) -> None:
        content = {k: v for k, v in doc.items() if k != "updated_at"}
        key = json.dumps(content, sort_keys=True, default=str)
        if key == self._last:
            return
        try:
            write_status(self.path, {**content, "updated_at": datetime.now(UTC).isoformat()})
        except OSError as exc:
            log.warning("cannot write %s: %s", self.path, exc)
            return
        self._last = key
