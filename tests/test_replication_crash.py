"""Exactly once through crashes: ``hub replicate run`` SIGKILLed at random points, the target broker restarted.

The flow ``cn -> hk`` runs as a real ``hub --cluster hk replicate run``
subprocess on the session's region stack, in small transactions, while events
keep arriving on ``cn``. It is killed three times (once while it starts,
twice while it copies, each after a random delay), and the ``hk`` broker is
stopped and started again under a running replicator. Counted afterwards on
``hk`` with ``read_committed``, every event is there exactly once, and the
transfer log is one unbroken chain, the same on both clusters.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from hub import local_kafka, naming
from hub.process import read_status
from hub.replication.flow import FlowSpec
from hub.replication.wiring import files
from tests.fixtures.clusters import RegionStack
from tests.fixtures.replication import (
    HUB,
    Sent,
    audit_verify,
    broker_warnings,
    event_ids,
    one_chain,
    produce,
    read_committed,
    stack_side,
)

TYPES = ("ServiceDelivered", "VolunteerRegistered", "ProjectEvaluated")
ROUND = 150  # events per type and round


def _spawn(stack: RegionStack, log: Path) -> subprocess.Popen[bytes]:
    cmd = [HUB, "--cluster", "hk", "replicate", "run", "--from", "cn", "--to", "hk", "--batch-records", "40"]
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd, env={**os.environ, **stack.env()}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_copying(status: Path, proc: subprocess.Popen[bytes], log: Path, *, after: int) -> None:
    """Until this process's status file says it committed more than ``after`` records in all."""
    deadline = time.monotonic() + 90
    while True:
        doc = read_status(status) or {}
        if doc.get("pid") == proc.pid and int(doc.get("records", 0)) > after:
            return
        assert proc.poll() is None, f"the replicator exited ({proc.returncode}):\n{log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"the replicator did not copy:\n{log.read_text()[-2000:]}"
        time.sleep(0.05)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _produce_round(stack: RegionStack) -> list[Sent]:
    cn = stack_side(stack, "cn")
    out: list[Sent] = []
    for t in TYPES:
        out += produce(cn, naming.shared_topic("gba", t), ROUND, event_type=t, place="HK")
    return out


def test_every_event_lands_exactly_once_through_three_sigkills_and_a_target_broker_restart(
    region_stack: RegionStack, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    hk = region_stack.clusters["hk"]
    status = files(hk, FlowSpec.of("cn", "hk", ".*")).status
    log = tmp_path / "replicator.log"
    sent: list[Sent] = []
    kills: list[str] = []

    # 1: killed while it starts (fencing, resuming, reconciling) or in its first transactions
    sent += _produce_round(region_stack)
    proc = _spawn(region_stack, log)
    delay = rng.uniform(0.5, 4.0)
    time.sleep(delay)
    _kill(proc)
    kills.append(f"{delay:.2f}s after start")

    # 2, 3: killed while it copies, a random moment after a commit
    for _ in range(2):
        sent += _produce_round(region_stack)
        proc = _spawn(region_stack, log)
        _wait_copying(status, proc, log, after=0)
        delay = rng.uniform(0.0, 0.6)
        time.sleep(delay)
        _kill(proc)
        kills.append(f"{delay:.2f}s into copying")

    # the target broker goes away and comes back under a running replicator
    sent += _produce_round(region_stack)
    proc = _spawn(region_stack, log)
    try:
        _wait_copying(status, proc, log, after=0)
        local_kafka.stop(hk)
        sent += _produce_round(region_stack)
        local_kafka.start(hk)
        wanted = {s.event_id for s in sent}
        topics = [f"cn.{naming.shared_topic('gba', t)}" for t in TYPES]
        admin = region_stack.admin("hk")
        deadline = time.monotonic() + 180
        while not wanted <= set(event_ids(read_committed(admin, topics), admin.schema_registry_url)):
            assert proc.poll() is None, (
                f"the replicator exited ({proc.returncode}):\n{log.read_text()[-3000:]}\n{broker_warnings(hk)}"
            )
            assert time.monotonic() < deadline, f"not every event arrived (seed {seed}):\n{log.read_text()[-3000:]}"
            time.sleep(1)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            _kill(proc)

    counts = Counter(event_ids(read_committed(admin, topics), admin.schema_registry_url))
    repeated = {i: n for i, n in counts.items() if i in wanted and n != 1}
    assert repeated == {}, f"events copied more than once (seed {seed}, kills {kills})"
    assert len(wanted) == 5 * ROUND * len(TYPES)

    on_target = one_chain(region_stack.admin("cn"), admin, "cn->hk")
    mine = [r for r in on_target if r.transfer.source_topic in {naming.shared_topic("gba", t) for t in TYPES}]
    assert sum(r.transfer.count for r in mine) == sum(
        n for (t, _), n in Counter((r.topic, r.partition) for r in read_committed(admin, topics)).items()
    ), "every committed copy is in exactly one transfer record"
    for cluster in ("hk", "cn"):  # the hub's own auditor finds both logs sound: signatures, chain, landed data
        audit_verify(cluster, {**os.environ, **region_stack.env()})
