"""A throwaway broker and registry for benchmarks: temp data dir, free ports, stopped at exit."""

from __future__ import annotations

import os
import platform
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub import local_kafka, topology
from hub.kafka_admin import apply_topics
from hub.orgunits import org_units
from hub.registry import launcher
from hub.settings import HubSettings, load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine(*, kafka: bool = True) -> str:
    """One line naming the machine: host, cores, memory, Python (and the Kafka version the hub runs)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    line = f"machine: {platform.node()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"
    return f"{line}, Kafka {local_kafka.kafka_version()}" if kafka else line


@contextmanager
def local_stack(prefix: str, **overrides: object) -> Iterator[HubSettings]:
    """Broker + registry on free ports in a temp dir, the topic layout applied; ``overrides`` go to load_settings."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        port = free_port()
        settings = load_settings(
            env_file=None,
            **{
                "data_dir": Path(tmp),
                "kafka_port": port,
                "kafka_controller_port": free_port(),
                "kafka_internal_port": free_port(),
                "bootstrap_servers": f"127.0.0.1:{port}",
                "schema_registry_url": f"http://127.0.0.1:{free_port()}",
                **overrides,
            },
        )
        local_kafka.start(settings)
        settings = local_kafka.admin_settings(settings)
        try:
            apply_topics(settings, topology.expand(settings, org_units()), timeout_s=60)
            launcher.start(settings)
            try:
                yield settings
            finally:
                launcher.stop(settings)
        finally:
            local_kafka.stop(settings)
