"""Several local clusters side by side (real brokers): a stack that cannot start leaves nothing running."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from rich.console import Console

from hub import local_kafka
from hub.errors import BrokerError
from hub.jurisdictions import all_cluster_settings, load_topology
from hub.registry import launcher
from hub.settings import load_settings
from hub.stack import start_clusters
from tests.fixtures.clusters import free_port_topology


def test_a_cluster_that_cannot_start_fails_the_stack_and_what_started_is_stopped_again(tmp_path: Path) -> None:
    base = load_settings(env_file=None, data_dir=tmp_path, topology_file=free_port_topology(tmp_path / "t.yaml"))
    clusters = {n: s for n, s in all_cluster_settings(base, load_topology(base)).items() if n in ("cn", "hk")}
    with socket.socket() as taken:  # something else already listens on hk's client port
        taken.bind(("127.0.0.1", clusters["hk"].kafka_port))
        taken.listen()
        with pytest.raises(BrokerError, match="cluster hk did not start"):
            start_clusters(clusters, Console(quiet=True))
    assert local_kafka.stored_cluster_id(clusters["cn"]) is not None, "cn was formatted and started meanwhile"
    for settings in clusters.values():
        assert local_kafka.running_pid(settings) is None
        assert launcher.running(settings) is None
