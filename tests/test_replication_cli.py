"""``hub replicate start|status|stop|run`` as a user runs them, on the session's region stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from hub import naming
from tests.conftest import free_port
from tests.fixtures.clusters import RegionStack
from tests.fixtures.replication import event_ids, produce, read_committed, stack_side

HUB = str(Path(sys.executable).with_name("hub"))


def hub(stack: RegionStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HUB, "--cluster", "hk", "replicate", *args],
        env={**os.environ, **stack.env()},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_start_status_and_stop_a_flow_in_the_background(region_stack: RegionStack) -> None:
    topic = naming.shared_topic("gba", "TrainingHeld")
    sent = produce(stack_side(region_stack, "cn"), topic, 3, event_type="TrainingHeld")
    port = free_port()
    started = hub(region_stack, "start", "--from", "cn", "--to", "hk", "--metrics-port", str(port))
    try:
        assert started.returncode == 0, started.stderr
        assert "flow cn-hk started (pid" in started.stdout
        again = hub(region_stack, "start", "--from", "cn", "--to", "hk")
        assert again.returncode == 0 and "flow cn-hk already running" in again.stdout, again.stderr
        status = hub(region_stack, "status", "--from", "cn", "--to", "hk")
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith("flow cn-hk: ") and " records in " in status.stdout
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'hub_replication_up{flow="cn-hk"} 1.0' in metrics
    finally:
        stopped = hub(region_stack, "stop", "--from", "cn", "--to", "hk")
    assert stopped.returncode == 0 and stopped.stdout.strip() == "flow cn-hk stopped", stopped.stdout
    hk = region_stack.admin("hk")
    assert {s.event_id for s in sent} <= set(event_ids(read_committed(hk, [f"cn.{topic}"]), hk.schema_registry_url))
    gone = hub(region_stack, "status", "--from", "cn", "--to", "hk")
    assert gone.returncode == 1 and gone.stdout.strip() == "flow cn-hk: not running"


def test_run_once_copies_and_exits(region_stack: RegionStack) -> None:
    topic = naming.shared_topic("gba", "VolunteerRegistered")
    sent = produce(stack_side(region_stack, "cn"), topic, 2, event_type="VolunteerRegistered")
    done = hub(region_stack, "run", "--from", "cn", "--to", "hk", "--once", "--log-level", "warning")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == r"flow cn-hk: ^shared\.gba\.[a-z0-9-]+$ from cn to hk"
    hk = region_stack.admin("hk")
    assert {s.event_id for s in sent} <= set(event_ids(read_committed(hk, [f"cn.{topic}"]), hk.schema_registry_url))


def test_a_raw_matching_pattern_is_refused_in_one_line_and_a_flow_the_topology_lacks_too(
    region_stack: RegionStack,
) -> None:
    refused = hub(region_stack, "run", "--from", "cn", "--to", "hk", "--topics", r"raw\..*", "--once")
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: Kafka at ") and "denied User:replicator.cn-hk DESCRIBE on topic raw." in line
    unknown = hub(region_stack, "status", "--from", "hk", "--to", "hk")
    assert unknown.returncode == 1
    (line,) = unknown.stderr.strip().splitlines()
    assert line.startswith("error: no replication flow from hk to hk (the agreements give: cn->hk, ")
