"""``hub registry`` and ``hub schemas`` as a user runs them, on a registry of the module's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import schemas as catalogue
from hub.registry.client import RegistryClient
from hub.settings import HubSettings
from tests.conftest import free_port
from tests.factories import kafka_env

pytestmark = pytest.mark.kafka

HUB = str(Path(sys.executable).with_name("hub"))


class Cli:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.url = env["HUB_SCHEMA_REGISTRY_URL"]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
        env.update(self.env)
        env["COLUMNS"] = "250"  # keep rich from wrapping messages
        return subprocess.run([HUB, *args], capture_output=True, text=True, env=env, cwd=self.cwd, timeout=300)


@pytest.fixture(scope="module")
def cli(kafka: HubSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """A registry on its own topic, started and stopped through ``hub registry``."""
    data_dir = tmp_path_factory.mktemp("cli-registry")
    run = Cli(
        {
            **kafka_env(kafka),
            "HUB_DATA_DIR": str(data_dir),
            "HUB_SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{free_port()}",
        },
        data_dir,
    )
    topic = f"_schemas-cli-{uuid.uuid4().hex[:8]}"
    started = run("registry", "start", "--topic", topic)
    assert started.returncode == 0, started.stderr
    assert "started" in started.stdout
    try:
        yield run
    finally:
        stopped = run("registry", "stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stdout + stopped.stderr


def test_registry_status(cli: Cli) -> None:
    proc = cli("registry", "status")
    assert proc.returncode == 0 and f"answering at {cli.url}" in proc.stdout


def test_register_then_check_then_an_incompatible_registry_fails_the_check(cli: Cli) -> None:
    only = ("--zone", "gba", "--event", "CaseOpened")  # 29 districts' raw subjects and the zone's shared one
    before = cli("schemas", "check", *only)
    assert before.returncode == 0, before.stdout + before.stderr
    assert "compatible: 0 registered subjects checked, 30 not registered yet" in before.stdout

    first = cli("schemas", "register", *only)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "30 registered, 0 unchanged, 0 refused" in first.stdout
    again = cli("schemas", "register", *only)
    assert "0 registered, 30 unchanged, 0 refused" in again.stdout

    ok = cli("schemas", "check", *only)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "compatible: 30 registered subjects checked, 0 not registered yet" in ok.stdout

    # The registry moves on without the working tree: `district` becomes an int in a version 2.
    subject = "shared.gba.case-opened-value"
    doc = catalogue.load_schema("shared", "CaseOpened")
    doc["fields"] = [{**f, "type": "int"} if f["name"] == "district" else f for f in doc["fields"]]
    with RegistryClient(cli.url) as client:
        client.set_config("NONE", subject)
        client.register(subject, json.dumps(doc))
        client.set_config("BACKWARD_TRANSITIVE", subject)

    bad = cli("schemas", "check", *only)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"incompatible {subject} (BACKWARD_TRANSITIVE)" in bad.stdout
    assert "field 'district': type changed from int to string (BACKWARD: type mismatch" in bad.stdout
    assert "1 of 30 registered subjects are incompatible" in bad.stdout

    listed = cli("schemas", "list")
    assert listed.returncode == 0
    line = next(x for x in listed.stdout.splitlines() if f" {subject} " in x)
    assert line.split("│")[2].strip() == "2"


def test_bad_selections_are_one_line_errors(cli: Cli) -> None:
    unknown = cli("schemas", "check", "--zone", "atlantis")
    assert unknown.returncode == 1 and "unknown zone 'atlantis'" in unknown.stderr
    both = cli("schemas", "register", "--zone", "gba", "--all")
    assert both.returncode == 2 and "not both" in both.stderr
    event = cli("schemas", "register", "--event", "CaseOpend")
    assert event.returncode == 2 and "unknown event type 'CaseOpend'" in event.stderr


def test_an_unreachable_registry_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    env = {**cli.env, "HUB_SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{free_port()}", "HUB_DATA_DIR": str(tmp_path)}
    elsewhere = Cli(env, tmp_path)
    proc = elsewhere("schemas", "check")
    assert proc.returncode == 1 and "hub registry serve" in proc.stderr
    status = elsewhere("registry", "status")
    assert status.returncode == 1 and "not answering" in status.stdout
