"""hub/process.py on real processes and files (no broker needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from hub.process import StatusFile, alive, cmdline_has, read_pid_file, read_status, terminate


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
