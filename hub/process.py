"""Managed background processes: pid files, liveness, starting, stopping, log tails, status files.

One implementation for every process the hub starts and stops (the local
broker, the registry, the gateway, the projection worker). Guarantees:

- a managed process runs detached (its own session, no stdin), its output
  appended to its log; its pid file names it only while it runs: a pid file
  whose process is gone or is someone else's is removed when read;
- :meth:`ManagedModule.start` returns only once the process says it is ready
  (its probe answers), and a process that exits or never gets ready is
  stopped and reported with the tail of its log;
- a status file is replaced atomically: a reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from hub.errors import HubError

log = logging.getLogger(__name__)
T = TypeVar("T")
POLL_S: Final = 0.2


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


def spawn(cmd: Sequence[str], *, log: Path, env: Mapping[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` detached (its own session, stdin closed), stdout and stderr appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(env),
            close_fds=True,
            cwd=str(cwd),
        )


def wait_until(
    probe: Callable[[], T | None],
    *,
    alive: Callable[[], bool],
    timeout_s: float,
    label: str,
    state: str,
    log: Path,
    error: type[HubError] = HubError,
) -> T:
    """Poll ``probe`` until it returns a value, and return it.

    Raises ``error`` naming ``label`` (e.g. ``"the gateway"``) with the tail of
    ``log`` if the process dies first, or saying it did not ``state`` (e.g.
    ``"start consuming"``) once ``timeout_s`` passed.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        if not alive():
            raise error(f"{label} exited while starting:\n{tail(log)}")
        if time.monotonic() >= deadline:
            raise error(f"{label} did not {state} within {timeout_s:.0f}s; see {log}")
        time.sleep(POLL_S)


@dataclass(frozen=True)
class ProcessFiles:
    """The files of one managed process under ``root``: ``<name>.pid``, ``<name>.log`` and ``status.json``."""

    root: Path
    name: str

    @property
    def pid(self) -> Path:
        return self.root / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    @property
    def status(self) -> Path:
        return self.root / "status.json"


def instance_folder(group: str, instance: int) -> str:
    """Folder name of one instance of a worker: its group for instance 0, ``<group>.<n>`` for the others."""
    return group if instance == 0 else f"{group}.{instance}"


@dataclass(frozen=True)
class ManagedModule:
    """``python -m <module> ARGS`` as a managed background process with the files ``files``.

    ``label`` names it in errors (``"the gateway"``), ``ready_state`` says what
    :meth:`start` waits for (``"start consuming"``); both failures raise ``error``.
    """

    module: str
    files: ProcessFiles
    label: str
    ready_state: str = "get ready"
    error: type[HubError] = HubError
    stop_timeout_s: float = 20.0

    def is_ours(self, pid: int) -> bool:
        return cmdline_has(pid, "-m", self.module)

    def running_pid(self) -> int | None:
        """The pid in the pid file if that process is this module; a stale pid file is removed."""
        return read_pid_file(self.files.pid, self.is_ours)

    def start(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        ready: Callable[[int], T | None],
        timeout_s: float,
    ) -> tuple[int, bool, T]:
        """Start it unless it runs; return (pid, started, what ``ready(pid)`` answered) once it is ready.

        A running one is only waited for (``started`` is False). The status file
        is removed before a start, so ``ready`` never reads a previous run's.
        """
        pid = self.running_pid()
        if pid is not None:
            return pid, False, self._wait_ready(pid, lambda: alive(pid), ready, timeout_s)
        self.files.root.mkdir(parents=True, exist_ok=True)
        self.files.status.unlink(missing_ok=True)
        proc = spawn([sys.executable, "-m", self.module, *args], log=self.files.log, env=env, cwd=self.files.root)
        self.files.pid.write_text(str(proc.pid))
        try:
            found = self._wait_ready(proc.pid, lambda: proc.poll() is None, ready, timeout_s)
        except HubError:
            terminate(proc.pid, self.stop_timeout_s)
            self.files.pid.unlink(missing_ok=True)
            raise
        return proc.pid, True, found

    def _wait_ready(
        self, pid: int, running: Callable[[], bool], ready: Callable[[int], T | None], timeout_s: float
    ) -> T:
        return wait_until(
            lambda: ready(pid),
            alive=running,
            timeout_s=timeout_s,
            label=self.label,
            state=self.ready_state,
            log=self.files.log,
            error=self.error,
        )

    def stop(self, timeout_s: float | None = None) -> bool | None:
        """SIGTERM (SIGKILL after ``timeout_s``). None if it did not run, else whether it stopped gracefully."""
        pid = self.running_pid()
        if pid is None:
            return None
        graceful = terminate(pid, self.stop_timeout_s if timeout_s is None else timeout_s)
        self.files.pid.unlink(missing_ok=True)
        return graceful

    def kill(self) -> int | None:
        """SIGKILL at once (crash tests); the pid killed, or None if it did not run."""
        pid = self.running_pid()
        if pid is None:
            return None
        kill(pid, timeout_s=self.stop_timeout_s)
        self.files.pid.unlink(missing_ok=True)
        return pid


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
