"""The ``hub`` console script, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hub.settings import HubSettings
from tests.factories import kafka_env

HUB = str(Path(sys.executable).with_name("hub"))


def _run(args: list[str], env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(env_extra)
    return subprocess.run([HUB, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_wrong_hub_variable_is_a_one_line_error(tmp_path: Path) -> None:
    proc = _run(["kafka", "status"], {"HUB_KAFKA_PROT": "9092"}, tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "HUB_KAFKA_PROT" in lines[0] and "HUB_KAFKA_PORT" in lines[0]


def test_topics_apply_twice_through_the_cli(topics: HubSettings, tmp_path: Path) -> None:
    env = {**kafka_env(topics), "HUB_DATA_DIR": str(topics.data_dir)}
    for _ in range(2):
        proc = _run(["topics", "apply", "--fail-on-drift"], env, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "0 created" in proc.stdout and "0 drifted" in proc.stdout


def test_status_of_a_broker_that_is_not_there_exits_1(tmp_path: Path) -> None:
    from tests.conftest import free_port

    proc = _run(["kafka", "status"], {"HUB_KAFKA_PORT": str(free_port()), "HUB_DATA_DIR": str(tmp_path)}, tmp_path)
    assert proc.returncode == 1
    assert "not answering" in proc.stdout


def test_every_stop_command_says_the_same_three_things() -> None:
    from hub.commandline import stopped_line

    assert stopped_line("gateway", None) == "gateway is not running"
    assert stopped_line("schema registry", True) == "schema registry stopped"
    assert stopped_line("Kafka", False) == "Kafka did not stop in time and was killed"
