"""Session fixtures: one real, secured Kafka broker for the whole test run.

If ``HUB_BOOTSTRAP_SERVERS`` is set, tests use that cluster (with the
``HUB_KAFKA_*`` login the environment gives); otherwise the session starts the
local KRaft broker as production runs it - SASL/SCRAM, the StandardAuthorizer,
no ACL-less access, and a SASL_SSL listener signed by the development CA - on
free ports in a temporary data directory, and stops it at the end.

``kafka`` logs in as the admin super user; ``login_as(name)`` gives the
settings of any declared principal, whose ACLs the broker enforces.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub import credentials, local_kafka, topology
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
    "tests.fixtures.clusters",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_settings(data_dir: Path, **overrides: object) -> HubSettings:
    """Settings of a local broker in ``data_dir`` on free ports (client, controller, inter-broker)."""
    ports = {"kafka_port": free_port(), "kafka_controller_port": free_port(), "kafka_internal_port": free_port()}
    return load_settings(env_file=None, data_dir=data_dir, **{**ports, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def broker_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSettings]:
    """The settings the session's broker was started with (its data folder holds the local logins)."""
    data_dir: Path = tmp_path_factory.mktemp("hub-data")
    if os.environ.get("HUB_BOOTSTRAP_SERVERS"):
        yield load_settings(env_file=None, data_dir=data_dir)
        return
    port = free_port()
    settings = broker_settings(
        data_dir, kafka_port=port, kafka_tls_port=free_port(), bootstrap_servers=f"127.0.0.1:{port}", kafka_heap="768m"
    )
    local_kafka.start(settings)
    try:
        yield settings
    finally:
        local_kafka.stop(settings)


@pytest.fixture(scope="session")
def kafka(broker_home: HubSettings) -> HubSettings:
    """Settings pointing at a real, running Kafka broker, logged in as the admin super user."""
    if os.environ.get("HUB_BOOTSTRAP_SERVERS"):
        return broker_home
    return local_kafka.admin_settings(broker_home)


@pytest.fixture(scope="session")
def login_as(broker_home: HubSettings, kafka: HubSettings) -> Callable[[str], HubSettings]:
    """``login_as(name)``: ``kafka``'s settings, logged in as the declared principal ``name`` instead."""
    logins = credentials.read(broker_home)
    if logins is None:
        pytest.fail("the session's broker has no local logins (HUB_BOOTSTRAP_SERVERS given without them?)")

    def settings_of(name: str) -> HubSettings:
        return credentials.login(kafka, name, logins.password(name))

    return settings_of


@pytest.fixture(scope="session")
def topics(kafka: HubSettings) -> HubSettings:
    """The broker with the hub's whole topic layout applied."""
    apply_topics(kafka, topology.expand(kafka, org_units()), timeout_s=60)
    return kafka
