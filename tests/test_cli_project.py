"""``hub project``, ``hub projections`` and ``hub status``, run as a user runs them, on the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.settings import HubSettings
from hub.sql import make_engine
from projections import migrations
from projections.store import dump, stored_offsets
from projections.tables import READ_MODELS
from tests.conftest import free_port
from tests.factories import kafka_env
from tests.shared_stream import (
    SharedProducer,
    create_zone_topics,
    make_stream,
    new_zone,
    reference_dump,
    sqlite_url,
    targets,
    worker_context,
)

pytestmark = pytest.mark.kafka
HUB = str(Path(sys.executable).with_name("hub"))


def _hub(args: list[str], settings: HubSettings, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(
        {
            **kafka_env(settings),
            "HUB_SCHEMA_REGISTRY_URL": settings.schema_registry_url,
            "HUB_DATABASE_URL": settings.database_url,
            "HUB_DATA_DIR": str(settings.data_dir),
        }
    )
    return subprocess.run([HUB, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture
def settings(topics: HubSettings, registry: str, tmp_path: Path) -> HubSettings:
    url = sqlite_url(tmp_path, "cli")
    migrations.upgrade(url)
    update = {"schema_registry_url": registry, "data_dir": tmp_path / "data", "database_url": url}
    return topics.model_copy(update=update)


def test_rebuild_wait_and_status_from_the_command_line(settings: HubSettings, registry: str, tmp_path: Path) -> None:
    zone = new_zone()
    create_zone_topics(settings, zone)
    events = make_stream(15).events
    with SharedProducer(settings, registry) as producer:
        positions = producer.publish(zone, events)

    waited = _hub(["projections", "wait", "--zone", zone, "--timeout", "1"], settings, tmp_path)
    assert waited.returncode == 1
    assert len(waited.stderr.strip().splitlines()) == 1, waited.stderr
    assert "did not reach the target offsets within 1s" in waited.stderr

    rebuilt = _hub(["projections", "rebuild", "read_models", "--zone", zone, "--batch-size", "20"], settings, tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt read_models ({zone}) from {len(events)} records of 10 topics" in rebuilt.stdout
    assert "events/s" in rebuilt.stdout
    engine = make_engine(settings.database_url)
    try:
        assert stored_offsets(engine, READ_MODELS) == targets(positions)
        reference = reference_dump(sqlite_url(tmp_path, "reference"), zone, events, worker_context(settings))
        assert dump(engine) == reference
    finally:
        engine.dispose()

    waited = _hub(["projections", "wait", "--zone", zone, "--timeout", "5"], settings, tmp_path)
    assert waited.returncode == 0, waited.stderr
    assert f"read_models has caught up ({len(events)} records over" in waited.stdout

    status = _hub(["status", "--partitions"], settings, tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"Kafka at {settings.bootstrap_servers}" in status.stdout
    assert f"schema registry at {settings.schema_registry_url}" in status.stdout
    assert f"projection read_models ({zone}): worker hub-projection-read-models-{zone} not running" in status.stdout
    assert zone in status.stdout  # the partitions of the zone the projection covers

    not_running = _hub(["project", "status", "--zone", zone], settings, tmp_path)
    assert not_running.returncode == 1
    assert "is not running" in not_running.stdout


def test_status_says_what_is_down_and_exits_1(settings: HubSettings, tmp_path: Path) -> None:
    down = settings.model_copy(update={"schema_registry_url": f"http://127.0.0.1:{free_port()}"})
    status = _hub(["status"], down, tmp_path)
    assert status.returncode == 1
    assert f"schema registry at {down.schema_registry_url} does not answer" in status.stdout


def test_a_bad_zone_is_a_one_line_error(settings: HubSettings, tmp_path: Path) -> None:
    proc = _hub(["project", "run", "--zone", "Not A Zone"], settings, tmp_path)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--zone" in proc.stderr
