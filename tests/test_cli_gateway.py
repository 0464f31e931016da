"""``hub gateway``, run as an operator runs it: start-up errors are one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port

HUB = str(Path(sys.executable).with_name("hub"))


def _run(args: list[str], env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(env_extra)
    return subprocess.run([HUB, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_a_missing_agreement_key_stops_the_gateway_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    env = {"HUB_DATA_DIR": str(tmp_path), "HUB_KAFKA_PORT": str(free_port())}
    proc = _run(["gateway", "run", "--region", "JS"], env, tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "HUB_AGREEMENT_KEY_JS_EXCHANGE" in lines[0] and "Traceback" not in proc.stderr


def test_a_short_key_in_the_secrets_file_is_refused_without_showing_it(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("HUB_AGREEMENT_KEY_FJ_EXCHANGE=too-short-to-be-a-key\n")
    secrets.chmod(0o600)
    env = {"HUB_DATA_DIR": str(tmp_path), "HUB_SECRETS_FILE": str(secrets)}
    proc = _run(["gateway", "run", "--region", "fj"], env, tmp_path)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "HUB_AGREEMENT_KEY_FJ_EXCHANGE" in proc.stderr and "too-short-to-be-a-key" not in proc.stderr


def test_an_unknown_region_is_one_line(tmp_path: Path) -> None:
    proc = _run(["gateway", "run", "--region", "TW"], {"HUB_DATA_DIR": str(tmp_path)}, tmp_path)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "TW" in proc.stderr and "GD, HK, MO, JS, FJ" in proc.stderr


def test_status_of_a_gateway_that_is_not_running_exits_1(tmp_path: Path) -> None:
    proc = _run(["gateway", "status"], {"HUB_DATA_DIR": str(tmp_path)}, tmp_path)
    assert proc.returncode == 1
    assert "hub-gateway-fj-gd-hk-js-mo is not running" in proc.stdout
