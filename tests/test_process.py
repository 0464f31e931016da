"""hub/process.py on real processes and files (no broker needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.errors import ConfigError, HubError
from hub.process import (
    ManagedModule,
    ProcessFiles,
    StatusFile,
    alive,
    cmdline_has,
    read_pid_file,
    read_status,
    terminate,
)


def test_status_file_is_rewritten_only_when_its_content_changes(tmp_path: Path) -> None:
    path = tmp_path / "w" / "status.json"
    status = StatusFile(path)
    status.write({"ready": False, "assigned": 0})
    first = json.loads(path.read_text())
    assert first["ready"] is False and first["updated_at"]
    path.write_text(json.dumps({**first, "updated_at": "sentinel"}))
    status.write({"ready": False, "assigned": 0, "updated_at": "ignored"})
    assert json.loads(path.read_text())["updated_at"] == "sentinel"  # unchanged content: not rewritten
    status.write({"ready": True, "assigned": 3})
    doc = read_status(path)
    assert doc is not None and doc["ready"] is True and doc["assigned"] == 3
    assert [p.name for p in path.parent.iterdir()] == ["status.json"]  # no temp file left behind


def test_pid_file_of_a_live_process_and_a_stale_one(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "hub-test-marker"])
    pid_file = tmp_path / "x.pid"
    try:
        deadline = time.monotonic() + 10
        while not cmdline_has(proc.pid, "hub-test-marker") and time.monotonic() < deadline:
            time.sleep(0.05)  # between fork and exec the child still shows the parent's arguments
        pid_file.write_text(str(proc.pid))
        assert read_pid_file(pid_file, lambda pid: cmdline_has(pid, "hub-test-marker")) == proc.pid
        assert read_pid_file(pid_file, lambda pid: cmdline_has(pid, "something-else")) is None
        assert not pid_file.exists()  # stale for that owner: removed
    finally:
        assert terminate(proc.pid, timeout_s=10) is True
    assert not alive(proc.pid)


def _http_server(tmp_path: Path) -> ManagedModule:
    return ManagedModule("http.server", ProcessFiles(tmp_path / "srv", "srv"), "the test server", "start serving")


def _serving(pid: int) -> int | None:
    """Ready once the child runs the module (not the parent's arguments any more, between fork and exec)."""
    return pid if cmdline_has(pid, "-m", "http.server") else None


def test_a_managed_module_starts_once_and_stops(tmp_path: Path) -> None:
    server = _http_server(tmp_path)
    args = ["0", "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    env = dict(os.environ)
    pid, started, ready = server.start(args, env=env, ready=_serving, timeout_s=30)
    try:
        assert started and ready == pid and server.running_pid() == pid
        assert server.files.pid.read_text() == str(pid) and server.files.log.exists()
        again = server.start(args, env=env, ready=_serving, timeout_s=30)
        assert again == (pid, False, pid)  # a running one is left as is
    finally:
        assert server.stop(timeout_s=10) is True
    assert not alive(pid) and server.running_pid() is None and not server.files.pid.exists()
    assert server.stop(timeout_s=10) is None and server.kill() is None


def test_a_managed_module_that_exits_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    broken = ManagedModule(
        "json.tool", ProcessFiles(tmp_path / "bad", "bad"), "the test tool", "get ready", error=ConfigError
    )
    with pytest.raises(ConfigError, match=r"the test tool exited while starting:\n(.|\n)*No such file"):
        broken.start([str(tmp_path / "missing.json")], env=dict(os.environ), ready=lambda pid: None, timeout_s=30)
    assert broken.running_pid() is None and not broken.files.pid.exists()


def test_a_managed_module_that_never_gets_ready_is_stopped(tmp_path: Path) -> None:
    server = _http_server(tmp_path)
    with pytest.raises(HubError, match=r"the test server did not start serving within 1s; see .*srv\.log"):
        server.start(["0", "--bind", "127.0.0.1"], env=dict(os.environ), ready=lambda pid: None, timeout_s=1)
    assert server.running_pid() is None and not server.files.pid.exists()
