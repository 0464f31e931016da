"""What the hub's own replicator writes verifies: the flow ``cn->hk`` runs on the region stack (three secured
clusters, ``tests/fixtures/clusters.py``) as ``replicator.cn-hk``, and ``hub audit verify`` then finds every
transfer record of every flow in order, signed with cn's key, and every copy on hk and every replicated
source record on cn covered - through the function the demo calls and through the command."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from hub import naming
from hub.replication.engine import Tuning
from hub.replication.wiring import setup
from hub.transfers.log import verify_cluster
from tests.fixtures.clusters import RegionStack
from tests.fixtures.replication import produce, stack_side

HUB = str(Path(sys.executable).with_name("hub"))


def _replicate(stack: RegionStack, pattern: str) -> None:
    found = setup(stack.base, "cn", "hk", pattern)
    found.replicator(tuning=Tuning(batch_records=4), stop=threading.Event()).run(until_caught_up=True)


def test_the_replicators_transfer_log_verifies_on_both_clusters(region_stack: RegionStack, tmp_path: Path) -> None:
    topic = naming.shared_topic("gba", "ProjectEvaluated")
    produce(stack_side(region_stack, "cn"), topic, 10, event_type="ProjectEvaluated", partition=lambda i: i % 2)
    _replicate(region_stack, r"shared\.gba\.project-evaluated")

    for cluster in ("hk", "cn"):
        report = verify_cluster(region_stack.base, region_stack.topology, cluster)
        assert report.ok, [str(p) for p in report.problems]
        assert report.landed_checked
        flows = {f.flow: f for f in report.flows}
        assert flows["cn->hk"].records >= 1 and flows["cn->hk"].last_seq == flows["cn->hk"].records

    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")} | region_stack.env()
    proc = subprocess.run(
        [HUB, "--cluster", "hk", "audit", "verify"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any(line.startswith("cn->hk: ") and ", OK (last seq " in line for line in proc.stdout.splitlines())
