"""Session fixtures: one real Kafka broker for the whole test run.

If ``HUB_BOOTSTRAP_SERVERS`` is set, tests use that cluster; otherwise the
session starts the local KRaft broker on free ports in a temporary data
directory and stops it at the end.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import local_kafka, topology
from hub.kafka_admin import apply_topics
from hub.orgunits import org_units
from hub.settings import HubSettings, load_settings

# The contract suites are plain modules: their assertions report values as a test module's do.
pytest.register_assert_rewrite("tests.tracking_contract")

# Fixture modules of later capabilities register here (one line each).
pytest_plugins: list[str] = [
    "tests.fixtures.registry",
    "tests.fixtures.postgres",
    "tests.fixtures.gateway",
    "tests.fixtures.streams",
    "tests.fixtures.subscribers",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSettings]:
    """Settings pointing at a real, running Kafka broker."""
    data_dir: Path = tmp_path_factory.mktemp("hub-data")
    if os.environ.get("HUB_BOOTSTRAP_SERVERS"):
        yield load_settings(env_file=None, data_dir=data_dir)
        return
    port = free_port()
    settings = load_settings(
        env_file=None,
        data_dir=data_dir,
        kafka_port=port,
        kafka_controller_port=free_port(),
        bootstrap_servers=f"127.0.0.1:{port}",
        kafka_heap="768m",
    )
    local_kafka.start(settings)
    try:
        yield settings
    finally:
        local_kafka.stop(settings)


@pytest.fixture(scope="session")
def topics(kafka: HubSettings) -> HubSettings:
    """The broker with the hub's whole topic layout applied."""
    apply_topics(kafka, topology.expand(kafka, org_units()), timeout_s=60)
    return kafka
