"""The chaos run: a stream with poison records through the whole pipeline and on to a second cluster, under faults.

Two clusters of a topology of their own (:func:`chaos_topology`), each a
secured broker (SASL/SCRAM, ACLs) with its registry on free ports, started as
``hub stack up`` starts clusters, not the session's (both are restarted
mid-run). The chaos cluster homes every region the stream publishes in (as the
single-cluster hub does, regions of three jurisdictions); the target homes the
one left, FJ, so the flow between them, ``chaos -> target``, copies
``shared.mainland.*``. On the chaos cluster run the gateway and the projection
worker as managed processes, ``hub subscribe --as hk`` into a JSON Lines sink,
and ``hub replicate run --from chaos --to target``, each component logged in
as its own principal (the replicator as ``replicator.chaos-target`` on both
clusters). The stream (:func:`tests.chaos_support.chaos_stream`,
``HUB_CHAOS_EVENTS`` events: a few thousand by default, 100,000 for ``make
test-chaos``) is published in chunks by the district SDK, each district as
itself, with poison records written raw between them. Publishing waits (on
offsets, never a fixed sleep) until no stage is more than a few chunks behind,
so each fault lands while the pipeline is busy. After seeded chunks
(``HUB_CHAOS_SEED``, printed; the same seed gives the same stream, poison and
plan) it SIGKILLs and restarts the gateway, the projection worker, the
subscriber and the replicator (several times each in the full run; the
replicator a seeded moment after it has records to copy), stops and restarts
the chaos broker, the target broker (under the running replicator) and the
registry once each, and re-publishes a slice of the stream with ``hub publish``
(the same event ids).

Then, once every stage has caught up:

- no component died other than by the test's hand, and the replicator stops on SIGTERM with exit 0;
- every indicator of both zones equals ``tests.indicator_stream.expected``,
  computed from the input documents by independent code (with the shipped rates);
- the partner's sink holds each event of ``gba`` exactly once, and nothing else;
- ``hub.dlq`` holds exactly the poison records (by source coordinates), each
  with the stage and reason its kind calls for; a re-crossed batch after a
  SIGKILL may write a dead letter twice (at least once, as every output of the
  gateway), and the copies must be the same letter;
- the target, read with read_committed, holds each record of the flow's shared
  topics exactly once: per partition the source's records, in order, with key,
  body, headers and timestamp (a record the gateway re-crossed is two records
  on both sides), no other copy of the chaos cluster, and their events, decoded
  with the target's registry alone, are exactly the ``mainland`` events of the
  input;
- the flow's transfer log is one unbroken chain, the same in both clusters'
  ``hub.transfers``, counting every copy once, and ``hub audit verify`` passes
  on both.

Every wait polls fresh reads (a new consumer, connection or file read per
look) under a deadline and fails naming what was still behind.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from consumers.sinks.jsonl import OFFSETS_FILE, read_jsonl
from hub import credentials, local_kafka, naming
from hub.agreements import default_agreements_dir, load_agreements
from hub.agreements.keys import generate_key
from hub.catalogue import EVENT_TYPES
from hub.dlq import DeadLetter, decode_dead_letter
from hub.errors import HubError
from hub.gateway import launcher as gateways
from hub.gateway.status import group_id, served_regions
from hub.jurisdictions import Flow, all_cluster_settings, homed_regions, load_topology
from hub.kafka_admin import group_lag, shared_topics
from hub.kafka_clients import new_producer
from hub.kafka_reader import KafkaReader, read_topic
from hub.orgunits import org_units
from hub.publishing.publisher import Ack, Publisher, Rejected
from hub.registry import launcher as registry
from hub.registry.client import RegistryClient
from hub.settings import ENV_PREFIX, HubSettings, as_environment, load_settings
from hub.sql import make_engine
from hub.stack import start_clusters, stop_clusters
from hub.transfers.record import flow_of
from projections import indicator_store, store
from projections import launcher as workers
from projections import status as worker_files
from projections.tables import READ_MODELS
from tests import indicator_stream
from tests.chaos_support import (
    KINDS,
    PARTNER,
    PARTNER_ZONE,
    Fault,
    Poison,
    chaos_stream,
    entitled,
    fault_plan,
    poison_records,
    shipped_rates,
    spread,
    stream_regions,
)
from tests.fixtures.clusters import RegionStack, free_port_topology
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.replication import audit_verify, broker_warnings, event_ids, one_chain, read_committed
from tests.indicator_stream import PLACES, Doc, Key, expected
from tests.subscriber_support import HUB

# The run's own variables are read here and taken out of the environment: the hub's settings refuse a HUB_
# variable they do not know, and this process loads settings.
_EVENTS_VARIABLE, _SEED_VARIABLE = "HUB_CHAOS_EVENTS", "HUB_CHAOS_SEED"
_GIVEN: Final = {name: os.environ.pop(name, "") for name in (_EVENTS_VARIABLE, _SEED_VARIABLE)}
EVENTS: Final = int(_GIVEN[_EVENTS_VARIABLE] or 3000)
SEED: Final = int(_GIVEN[_SEED_VARIABLE] or random.SystemRandom().randrange(1, 1_000_000))
FULL: Final = EVENTS >= 50_000
#: SIGKILLs of each process: several in the full run, one in the short one.
KILLS: Final = 3 if FULL else 1
CHUNKS: Final = 40 if FULL else 12
POISON: Final = max(2 * len(KINDS), EVENTS // 700)
REPUBLISH: Final = max(50, EVENTS // 50)
#: Publishing pauses while a stage is more than this many chunks behind.
AHEAD: Final = 2
#: The bound of any one wait (a restart, a drain), generous for a loaded 2-core CI machine.
WAIT_S: Final = 600.0
POLL_S: Final = 0.5
ZONES: Final = ("gba", "mainland")
REPLAY: Final = f"{_SEED_VARIABLE}={SEED} {_EVENTS_VARIABLE}={EVENTS} replays this run"

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.chaos]


# -- the clusters of the run -----------------------------------------------------------------------------
#: The chaos cluster homes the regions the stream publishes in; the replication target the one left (FJ). Their
#: flow copies the zones with members on both sides: ``mainland``, as ``chaos.shared.mainland.*``.
SOURCE: Final = "chaos"
TARGET: Final = "target"


def chaos_topology(path: Path) -> Path:
    """The run's topology, written to ``path``: :data:`SOURCE` and :data:`TARGET` on free ports (those
    :func:`free_port_topology` picks). Neither declares a ``jurisdiction``: the chaos cluster homes regions of
    three, as the single-cluster hub does."""
    free = yaml.safe_load(free_port_topology(path).read_text(encoding="utf-8"))
    ports = [body["local"] for body in free["jurisdictions"].values()]
    homes = {SOURCE: stream_regions(), TARGET: frozenset(org_units().regions) - stream_regions()}
    doc = {
        "version": 1,
        "jurisdictions": {name: {"regions": sorted(homes[name]), "local": ports[i]} for i, name in enumerate(homes)},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Cluster:
    settings: HubSettings
    """No login of its own: each component logs in as its own principal from the broker's local logins."""
    admin: HubSettings
    """The test's own observations (offsets, topics) log in as the admin super user."""
    registry_port: int
    stack: RegionStack
    """Both clusters of the run's topology: the chaos cluster (:data:`SOURCE`, the one above) and the target."""
    flow: Flow
    """The replication flow from the chaos cluster to the target."""

    @property
    def target(self) -> HubSettings:
        return self.stack.clusters[TARGET]

    @property
    def target_admin(self) -> HubSettings:
        return self.stack.admin(TARGET)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Iterator[Cluster]:
    """The chaos cluster and the replication target as ``hub stack up`` starts a topology's clusters (in parallel,
    secured, each with its logins, ACL plan, topic layout and registry), on free ports; the chaos cluster projects
    into a fresh read-model database."""
    root = tmp_path_factory.mktemp("hub-chaos")
    base = load_settings(env_file=None, data_dir=root, topology_file=chaos_topology(root / "topology.yaml"))
    layout = load_topology(base)
    clusters = all_cluster_settings(base, layout)
    database = postgres.create_database("hub_chaos")
    clusters[SOURCE] = clusters[SOURCE].model_copy(update={"kafka_heap": "512m", "database_url": database})
    try:
        start_clusters(clusters, Console(quiet=True))
        try:
            home = clusters[SOURCE]
            yield Cluster(
                home,
                local_kafka.admin_settings(home),
                layout.get(SOURCE).local.registry_port,
                RegionStack(base, layout, clusters),
                layout.flow(SOURCE, TARGET),
            )
        finally:
            stop_clusters(clusters)
    finally:
        postgres.drop_database(database)


# -- the pipeline under test ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Behind:
    """What each stage still has to do, read fresh: raw records not committed by the gateway, shared records
    not applied by the projection worker, ``gba`` records not stored by the subscriber, records of the flow's
    shared topics not copied to the target (committed) by the replicator."""

    gateway: int
    worker: int
    subscriber: int
    replicator: int

    def most(self) -> int:
        return max(self.gateway, self.worker, self.subscriber, self.replicator)

    def __str__(self) -> str:
        return (
            f"gateway {self.gateway}, projection worker {self.worker}, subscriber {self.subscriber}, "
            f"replicator {self.replicator} behind"
        )


@dataclass
class FlowPositions:
    """The source positions a flow reached, as the target's ``hub.replication.offsets`` holds them committed.

    Each look is a fresh reader that reads on from where the last look stopped, up to the last stable offset
    (so never ahead of what the target has committed), and folds the flow's position records (canonical JSON,
    docs/replication.md) itself.
    """

    settings: HubSettings
    flow: str
    read_to: dict[tuple[str, int], int] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)

    def look(self) -> dict[tuple[str, int], int]:
        with KafkaReader(self.settings, client_id="chaos-probe.positions", read_committed=True) as reader:
            tps = reader.partitions([naming.REPLICATION_OFFSETS_TOPIC])
            stable = reader.end_offsets(tps)
            windows = {tp: (self.read_to.get(tp, 0), end) for tp, end in stable.items()}
            for r in reader.read(windows):
                key = json.loads(r.key)
                if key.get("flow") == self.flow and key.get("kind") == "position":
                    self.positions[(key["topic"], key["partition"])] = json.loads(r.value)["next_offset"]
        self.read_to.update(stable)
        return dict(self.positions)


@dataclass
class Pipeline:
    cluster: Cluster
    folder: Path
    engine: Engine
    started_at: float = field(default_factory=time.monotonic)
    log: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    subscriber: subprocess.Popen[bytes] | None = None
    replicator: subprocess.Popen[bytes] | None = None
    replicator_exit: int | None = None
    """How the last replicator ended when the run stopped it (SIGTERM: 0 once it finished its transaction)."""

    def __post_init__(self) -> None:
        keys = {a.key_variable: generate_key() for a in load_agreements(default_agreements_dir()).values()}
        self.environ = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)}
        self.gateway_environ = self.environ | keys
        self.sink = self.folder / f"{PARTNER}-sink"
        self.raw_topics = sorted({naming.raw_topic(r, d, t) for d, (r, *_) in PLACES.items() for t in EVENT_TYPES})
        # the gateway serves what the chaos cluster homes
        self.gateway_group = group_id(served_regions(None, homed_regions(self.settings)))
        flow = self.cluster.flow
        self.flow_topics = {naming.shared_topic(z, t) for z in flow.zones for t in EVENT_TYPES}
        self.positions = FlowPositions(self.cluster.target_admin, flow.name)

    @property
    def settings(self) -> HubSettings:
        return self.cluster.settings

    def note(self, what: str) -> None:
        line = f"{time.monotonic() - self.started_at:7.1f}s  {what}"
        self.log.append(line)
        print(line, flush=True)

    # -- the processes
    def start_gateway(self) -> None:
        self.pids["gateway"] = gateways.start(self.settings, environ=self.gateway_environ, timeout_s=WAIT_S).pid

    def start_worker(self) -> None:
        self.pids["projection worker"] = workers.start(self.settings, environ=self.environ, timeout_s=WAIT_S).pid

    def start_subscriber(self) -> None:
        args = [HUB, "subscribe", "--as", PARTNER, "--sink", f"jsonl://{self.sink}", "--no-progress"]
        log = self.folder / "subscriber.log"
        with log.open("ab") as out:
            self.subscriber = subprocess.Popen(
                args,
                env=self.child_env(),
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pids["subscriber"] = self.subscriber.pid

    def start_replicator(self) -> None:
        """``hub replicate run`` of the flow, as its own process group: it logs in on both clusters as the
        flow's principal, from the topology's local logins."""
        flow = self.cluster.flow
        args = [HUB, "replicate", "run", "--from", flow.source, "--to", flow.target]
        with (self.folder / "replicator.log").open("ab") as out:
            self.replicator = subprocess.Popen(
                args,
                env=self.environ | self.cluster.stack.env(),
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pids["replicator"] = self.replicator.pid

    def child_env(self) -> dict[str, str]:
        return as_environment(self.settings, self.environ)

    def kill(self, component: str) -> int:
        """SIGKILL ``component``; returns the pid killed."""
        if component == "gateway":
            pid = gateways.kill(self.settings)
        elif component == "projection worker":
            pid = workers.kill(self.settings)
        else:
            proc = self.subscriber if component == "subscriber" else self.replicator
            assert proc is not None
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            assert proc.returncode == -signal.SIGKILL, f"the {component} exited {proc.returncode}"
            pid = proc.pid
        assert pid == self.pids[component], f"the {component} ran as {pid}, not as the {self.pids[component]} started"
        return pid

    def start(self, component: str) -> None:
        {
            "gateway": self.start_gateway,
            "projection worker": self.start_worker,
            "subscriber": self.start_subscriber,
            "replicator": self.start_replicator,
        }[component]()

    def crashed(self) -> list[str]:
        """The components that are not running as the test last started them, each with the tail of its log."""
        out = []
        running = {
            "gateway": gateways.running_pid(self.settings),
            "projection worker": workers.running_pid(self.settings),
            "subscriber": _alive(self.subscriber),
            "replicator": _alive(self.replicator),
        }
        for component, pid in running.items():
            if component in self.pids and pid != self.pids[component]:
                out.append(f"the {component} (pid {self.pids[component]}) is gone:\n{_tail(self.log_of(component))}")
        return out

    def log_of(self, component: str) -> Path:
        if component == "gateway":
            return gateways.paths_of(self.settings).log
        if component == "projection worker":
            return worker_files.paths(self.settings, workers.status(self.settings).group_id).log
        return self.folder / f"{component}.log"

    def stop_all(self) -> None:
        if self.replicator is not None and self.replicator.poll() is None:
            self.replicator_exit = _terminate(self.replicator)
        if self.subscriber is not None and self.subscriber.poll() is None:
            _terminate(self.subscriber)
        workers.stop(self.settings)
        gateways.stop(self.settings)

    # -- what is behind
    def behind(self) -> Behind | None:
        """Each stage's backlog, or None when the broker or database does not answer this time (just restarted)."""
        admin = self.cluster.admin
        try:
            # the flow's positions before the ends they are compared with: the backlog is never under-read
            copied = self.positions.look()
            gateway = group_lag(admin, self.gateway_group, self.raw_topics).behind
            applied = {(r.topic, r.partition): r.next_offset for r in store.offset_rows(self.engine, READ_MODELS)}
            with KafkaReader(admin, client_id="chaos-probe") as reader:
                ends = reader.end_offsets(reader.partitions(shared_topics(admin, ZONES)))
        except (HubError, KafkaError, SQLAlchemyError):
            return None
        # the shared topics are written without transactions: their end offsets are their last records'
        worker = sum(max(0, end - applied.get(tp, 0)) for tp, end in ends.items())
        partner = sum(end for tp, end in ends.items() if naming.parse_shared_topic(tp[0]).zone == PARTNER_ZONE)
        replicator = sum(max(0, end - copied.get(tp, 0)) for tp, end in ends.items() if tp[0] in self.flow_topics)
        return Behind(gateway, worker, max(0, partner - self.stored_by_subscriber()), replicator)

    def stored_by_subscriber(self) -> int:
        try:
            doc = json.loads((self.sink / OFFSETS_FILE).read_text())
        except FileNotFoundError:
            return 0
        return sum(n for partitions in doc["offsets"].values() for n in partitions.values())

    def wait(self, what: str, done: Callable[[Behind], bool], *, timeout_s: float = WAIT_S) -> Behind:
        """Poll :meth:`behind` until ``done``; fail with the backlog (and any crash) after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        last: Behind | None = None
        while True:
            crashed = self.crashed()
            assert not crashed, "\n".join([f"while waiting until {what}:", *crashed, *self.log, REPLAY])
            found = self.behind()
            if found is not None:
                last = found
                if done(found):
                    return found
            assert time.monotonic() < deadline, (
                f"not {what} within {timeout_s:.0f}s: {last or 'the broker never answered'}\n"
                + "\n".join([*self.log, REPLAY])
            )
            time.sleep(POLL_S)

    def busy(self, component: str, timeout_s: float = 30.0) -> Behind | None:
        """Wait (briefly; no failure) until ``component`` has records to do, so that a kill lands mid-stream."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.behind()
            if found is not None and getattr(found, _FIELD[component]) > 0:
                return found
            time.sleep(POLL_S / 5)
        return None


_FIELD: Final = {
    "gateway": "gateway",
    "projection worker": "worker",
    "subscriber": "subscriber",
    "replicator": "replicator",
}


def _alive(proc: subprocess.Popen[bytes] | None) -> int | None:
    return proc.pid if proc is not None and proc.poll() is None else None


def _terminate(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM ``proc`` and wait for it (SIGKILL after a minute); its exit code."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=60)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


# -- publishing ------------------------------------------------------------------------------------------------
@dataclass
class Published:
    acks: int = 0
    retried: int = 0
    poison: dict[str, tuple[Poison, int, int]] = field(default_factory=dict)
    """dead-letter key (``topic:partition:offset``) -> the poison record written there, partition, offset."""


def publish(pub: Publisher, docs: list[Doc], out: Published) -> None:
    """Publish ``docs``, re-sending those the broker did not acknowledge (after a restart) until all are."""
    pending = docs
    deadline = time.monotonic() + WAIT_S
    while pending:
        results = pub.publish_many(pending)
        refused = [r for r in results if isinstance(r, Rejected)]
        assert all(r.phase in ("publish", "registry") for r in refused), refused[:3]  # never a bad document
        out.acks += sum(1 for r in results if isinstance(r, Ack))
        assert time.monotonic() < deadline or not refused, f"{len(refused)} events unpublished: {refused[:3]}"
        out.retried += len(refused)
        pending = [pending[r.index] for r in refused]


def write_poison(
    producers: dict[tuple[str, str], Any], settings: HubSettings, poison: list[Poison], out: Published
) -> None:
    logins = credentials.district_logins(settings)
    assert logins is not None
    for p in poison:
        producer = producers.get((p.region, p.district))
        if producer is None:
            own = logins(p.region, p.district)  # a district writes only its own topics: its own login
            producer = producers[(p.region, p.district)] = new_producer(own, client_id="chaos-poison", timeout_s=60)
        meta = producer.send(p.topic, key=p.key, value=p.value).get(timeout=120)
        out.poison[f"{meta.topic}:{meta.partition}:{meta.offset}"] = (p, meta.partition, meta.offset)


def republish(pipeline: Pipeline, docs: list[Doc]) -> None:
    """``hub publish FILE`` of ``docs`` (already published once): the same event ids again."""
    path = pipeline.folder / f"republish-{time.monotonic_ns()}.jsonl"
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    done = subprocess.run(
        [HUB, "publish", str(path)],
        env=pipeline.child_env(),
        cwd=pipeline.folder,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 0, f"hub publish exited {done.returncode}: {done.stderr[-3000:]}\n{REPLAY}"


# -- the faults ------------------------------------------------------------------------------------------------
@dataclass
class Injected:
    counts: Counter[str] = field(default_factory=Counter)
    republished: int = 0


def inject(fault: Fault, pipeline: Pipeline, docs_so_far: list[Doc], rng: random.Random, done: Injected) -> None:
    what = fault.what
    began = time.monotonic()
    if what.startswith("kill "):
        component = what.removeprefix("kill ")
        found = pipeline.busy(component)
        time.sleep(fault.delay_s)  # seeded: the replicator's kills land anywhere in its cycle
        delayed = f", then {fault.delay_s:.2f}s" if fault.delay_s else ""
        pid = pipeline.kill(component)
        pipeline.start(component)
        pipeline.note(
            f"SIGKILL {component} (pid {pid}, {found or 'idle'}{delayed}) {_when(fault)}; "
            f"restarted as {pipeline.pids[component]} in {time.monotonic() - began:.1f}s"
        )
    elif what == "restart broker":
        home = pipeline.settings
        local_kafka.stop(home)
        stopped = time.monotonic()
        local_kafka.start(home, timeout_s=WAIT_S)
        pipeline.note(
            f"broker stopped in {stopped - began:.1f}s and restarted in {time.monotonic() - stopped:.1f}s "
            f"{_when(fault)}"
        )
    elif what == "restart target broker":
        # under the running replicator, while it has records to copy
        found = pipeline.busy("replicator")
        target = pipeline.cluster.target
        began = time.monotonic()
        local_kafka.stop(target)
        stopped = time.monotonic()
        local_kafka.start(target, timeout_s=WAIT_S)
        pipeline.note(
            f"target broker stopped in {stopped - began:.1f}s ({found or 'idle'}) and restarted in "
            f"{time.monotonic() - stopped:.1f}s {_when(fault)}"
        )
    elif what == "restart registry":
        registry.stop(pipeline.settings)
        registry.start(pipeline.settings, port=pipeline.cluster.registry_port, timeout_s=WAIT_S)
        pipeline.note(f"registry down and back in {time.monotonic() - began:.1f}s {_when(fault)}")
    else:
        assert what == "republish", what
        size = min(REPUBLISH, len(docs_so_far))
        first = rng.randrange(len(docs_so_far) - size + 1)
        republish(pipeline, docs_so_far[first : first + size])
        done.republished += size
        pipeline.note(
            f"re-published events {first}..{first + size - 1} ({size}) with hub publish in "
            f"{time.monotonic() - began:.1f}s {_when(fault)}"
        )
    done.counts[what] += 1


def _when(fault: Fault) -> str:
    return f"{'halfway through' if fault.mid_chunk else 'after'} chunk {fault.after_chunk}"


# -- reading the results ---------------------------------------------------------------------------------------
def dead_letters(settings: HubSettings) -> list[tuple[bytes | None, DeadLetter]]:
    out = []
    for r in read_topic(settings, naming.DLQ_TOPIC, timeout_s=120):
        out.append((r.key, decode_dead_letter(r.value)))
    return out


def indicator_values(engine: Engine, zone: str) -> dict[Key, Decimal]:
    return {
        (v.region, v.district, v.period_kind, v.period, v.indicator): v.value
        for v in indicator_store.read_values(engine, zone)
    }


def differences(want: dict[Key, Decimal], got: dict[Key, Decimal]) -> str:
    """The indicators missing, extra or wrong in ``got`` (a few of each and how many), or ``""``."""
    missing = {k: v for k, v in want.items() if k not in got}
    extra = {k: v for k, v in got.items() if k not in want}
    wrong = {k: (got[k], v) for k, v in want.items() if k in got and got[k] != v}
    parts = [
        f"{len(found)} {name}, e.g. {list(found.items())[:5]}"
        for name, found in (("missing", missing), ("extra", extra), ("wrong (got, want)", wrong))
        if found
    ]
    return "; ".join(parts)


Copy = tuple[bytes | None, bytes, tuple[tuple[str, bytes], ...], int]
"""What a copy keeps of its source record: key, Avro body (after the 5-byte frame), headers, timestamp."""


def by_partition(records: list[ConsumerRecord], alias: str | None = None) -> dict[tuple[str, int], list[Copy]]:
    """Each partition's records in offset order, as :data:`Copy`; ``alias``: the records are copies
    ``<alias>.<topic>``, filed under their source topic."""
    out: dict[tuple[str, int], list[Copy]] = defaultdict(list)
    for r in records:
        topic = r.topic.removeprefix(f"{alias}.") if alias else r.topic
        headers = tuple((k, bytes(v)) for k, v in r.headers)
        out[(topic, r.partition)].append((r.key, bytes(r.value[5:]), headers, r.timestamp))
    return dict(out)


def partition_differences(want: dict[tuple[str, int], list[Copy]], got: dict[tuple[str, int], list[Copy]]) -> str:
    """The partitions whose copies are not their source's records one for one (a few, and how many), or ``""``."""
    found = []
    for tp in sorted(set(want) | set(got)):
        w, g = want.get(tp, []), got.get(tp, [])
        if w != g:
            first = next((i for i, (a, b) in enumerate(zip(w, g, strict=False)) if a != b), min(len(w), len(g)))
            found.append(f"{tp[0]}[{tp[1]}]: {len(w)} records, {len(g)} copies, first difference at {first}")
    return f"{len(found)} partitions differ: " + "; ".join(found[:6]) if found else ""


def check_replication(cluster: Cluster, pipeline: Pipeline, docs: list[Doc]) -> str:
    """The target, read with read_committed, holds each record of the flow's shared topics once (the same
    records in the same order per partition, their events decoding with the target's registry alone) and no
    other copy; the transfer log is one unbroken chain, the same on both clusters, that counts every copy; the
    hub's auditor passes both. Returns the summary line."""
    flow, target = cluster.flow, cluster.target_admin
    topics = sorted(pipeline.flow_topics)
    copy_topics = [naming.remote_topic(flow.source, t) for t in topics]
    with KafkaReader(target, client_id="chaos-check") as reader:
        landed = sorted(t for t in reader.topics() if t.startswith(f"{flow.source}."))
    assert landed == copy_topics, f"copies on the target: {landed}, the flow's: {copy_topics}"

    source_records = read_committed(cluster.admin, topics, timeout_s=WAIT_S)
    copies = read_committed(target, copy_topics, timeout_s=WAIT_S)
    wrong = partition_differences(by_partition(source_records), by_partition(copies, flow.source))
    assert not wrong, f"the target's copies are not the source's records once each: {wrong}"
    copied = Counter(event_ids(copies, target.schema_registry_url))
    want = set().union(*(entitled(docs, zone) for zone in flow.zones))
    assert set(copied) == want, (
        f"{len(want - set(copied))} events of {', '.join(flow.zones)} not on the target, "
        f"{len(set(copied) - want)} there that are not"
    )

    chain = one_chain(cluster.admin, target, flow_of(flow.source, flow.target))
    assert {r.transfer.source_topic for r in chain} <= set(topics), "a transfer record of another topic"
    assert sum(r.transfer.count for r in chain) == len(copies), "every committed copy is in exactly one transfer"
    for name in (flow.target, flow.source):  # the hub's own auditor: signatures, chain, landed data
        audit_verify(name, pipeline.environ | cluster.stack.env())
    return (
        f"target holds the {len(copies)} records of {len(topics)} {'/'.join(flow.zones)} topics once each "
        f"({len(copied)} events, {len(copies) - len(copied)} gateway re-crossings copied as such); "
        f"{len(chain)} transfer records, one chain on both clusters"
    )


# -- the run ------------------------------------------------------------------------------------------------------
@pytest.mark.timeout(int(1200 + EVENTS * 0.03))
def test_the_pipeline_loses_and_doubles_nothing_through_kills_restarts_republishing_and_poison(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    print(f"\nchaos run: {EVENTS} events, seed {SEED} ({REPLAY})", flush=True)
    generated = time.monotonic()
    docs = chaos_stream(EVENTS, SEED)
    generated = time.monotonic() - generated
    with RegistryClient(cluster.settings.schema_registry_url) as client:
        poison = poison_records(POISON, SEED, client)
    chunk = -(-len(docs) // CHUNKS)
    chunks = [docs[i : i + chunk] for i in range(0, len(docs), chunk)]
    poison_of = spread(poison, len(chunks), SEED)
    plan = fault_plan(SEED, KILLS, len(chunks))
    rng = random.Random(f"chaos republish {SEED}")

    engine = make_engine(cluster.settings.database_url)
    pipeline = Pipeline(cluster, tmp_path, engine)
    pipeline.note(
        f"{len(docs)} events generated in {generated:.1f}s; {len(poison)} poison records; {len(chunks)} chunks; "
        f"plan: " + ", ".join(str(f) for f in plan)
    )
    published = Published()
    injected = Injected()
    producers: dict[tuple[str, str], Any] = {}
    logins = credentials.district_logins(cluster.settings)
    try:
        pipeline.start_gateway()
        pipeline.start_worker()
        pipeline.start_subscriber()
        pipeline.start_replicator()
        pipeline.note(f"gateway, projection worker, subscriber and replicator (flow {cluster.flow.name}) running")
        with (
            RegistryClient(cluster.settings.schema_registry_url) as client,
            Publisher(cluster.settings, client, logins=logins, timeout_s=60) as pub,
        ):
            pending = list(plan)
            for n, part in enumerate(chunks, start=1):
                pipeline.wait(
                    f"every stage is within {AHEAD} chunks of the stream", lambda b: b.most() <= AHEAD * chunk * 2
                )
                due = [f for f in pending if f.after_chunk == n]
                del pending[: len(due)]
                halfway = len(part) // 2 if any(f.mid_chunk for f in due) else len(part)
                publish(pub, part[:halfway], published)
                for fault in (f for f in due if f.mid_chunk):
                    inject(fault, pipeline, docs[: (n - 1) * chunk + halfway], rng, injected)
                publish(pub, part[halfway:], published)
                write_poison(producers, cluster.settings, poison_of[n - 1], published)
                for fault in (f for f in due if not f.mid_chunk):
                    inject(fault, pipeline, docs[: n * chunk], rng, injected)
            assert not pending, pending
        pipeline.note(f"all {len(chunks)} chunks published ({published.retried} re-sent after a refusal)")
        final = pipeline.wait("every stage has caught up", lambda b: b.most() == 0)
        pipeline.note(f"caught up: {final}")
        crashed = pipeline.crashed()
    finally:
        for producer in producers.values():
            producer.close(timeout=10)
        pipeline.stop_all()
    elapsed = time.monotonic() - pipeline.started_at
    assert len(published.poison) == len(poison)
    assert not crashed, "\n".join([*crashed, REPLAY])
    assert injected.counts == Counter(f.what for f in plan), injected.counts
    assert pipeline.replicator_exit == 0, (
        f"the replicator exited {pipeline.replicator_exit} on SIGTERM:\n"
        f"{_tail(pipeline.log_of('replicator'))}\n{REPLAY}"
    )

    # the partner's sink: each entitled event exactly once, nothing else
    stored = Counter(line["event"]["event_id"] for line in read_jsonl(pipeline.sink))
    doubled = {e: n for e, n in stored.items() if n > 1}
    want = entitled(docs)
    assert not doubled, f"{len(doubled)} events stored more than once, e.g. {list(doubled.items())[:5]}; {REPLAY}"
    assert set(stored) == want, (
        f"{len(want - set(stored))} entitled events missing from the sink, {len(set(stored) - want)} not entitled "
        f"ones in it; {REPLAY}"
    )

    # hub.dlq: exactly the poison records, each with its reason
    letters = dead_letters(cluster.admin)
    by_key: dict[str, list[DeadLetter]] = defaultdict(list)
    for key, letter in letters:
        by_key[(key or b"").decode()].append(letter)
    assert set(by_key) == set(published.poison), (
        f"dead letters of no poison record: {sorted(set(by_key) - set(published.poison))[:5]} "
        f"{[by_key[k][0].reason for k in sorted(set(by_key) - set(published.poison))[:3]]}; "
        f"poison records without a dead letter: {sorted(set(published.poison) - set(by_key))[:5]}; {REPLAY}"
    )
    for coordinates, copies in by_key.items():
        p, partition, offset = published.poison[coordinates]
        for letter in copies:
            assert (letter.source_topic, letter.source_partition, letter.source_offset) == (p.topic, partition, offset)
            assert (letter.consumer, letter.stage) == ("gateway", p.stage), (p.label, letter)
            assert p.reason in letter.reason and letter.reason, (p.label, letter.reason)
            assert (letter.original_key, letter.original_value) == (p.key, p.value), p.label
        assert len({(c.stage, c.reason, c.event_id) for c in copies}) == 1, (
            f"copies of one dead letter differ: {copies}"
        )
    doubled_letters = len(letters) - len(by_key)

    # every indicator of both zones, recomputed from the input documents
    monkeypatch.setattr(indicator_stream, "RATES", shipped_rates())
    refreshed = indicator_store.refresh_indicators(engine)
    assert set(refreshed.zones) == set(ZONES)
    checked = 0
    for zone in ZONES:
        want_values = expected(docs, zone)
        wrong = differences(want_values, indicator_values(engine, zone))
        assert not wrong, f"indicators of {zone}: {wrong}; {REPLAY}"
        checked += len(want_values)
    engine.dispose()

    # the target: each record of the flow's shared topics exactly once, in order, nothing else; one transfer chain
    try:
        replicated = check_replication(cluster, pipeline, docs)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{broker_warnings(cluster.target)}\n{REPLAY}") from exc
    verified = time.monotonic() - pipeline.started_at - elapsed

    summary = [
        f"chaos run of {len(docs)} events (seed {SEED}) passed: the pipeline ran {elapsed:.0f}s, the checks took "
        f"{verified:.0f}s",
        f"  {sum(injected.counts.values())} faults: "
        + ", ".join(f"{what} x{n}" for what, n in sorted(injected.counts.items())),
        f"  {len(published.poison)} poison records, all dead-lettered with their reasons "
        f"({doubled_letters} dead letters written twice after a kill)",
        f"  {published.acks} events acknowledged, {published.retried} of them re-sent after a refusal; "
        f"{injected.republished} re-published with hub publish",
        f"  sink holds the {len(want)} gba events once each; {checked} indicator values exact in {', '.join(ZONES)}",
        f"  {replicated}",
    ]
    if _GIVEN[_EVENTS_VARIABLE]:  # make test-chaos: the figures on the terminal, with the run's timeline
        with capsys.disabled():
            print("\n" + "\n".join([*summary, *pipeline.log]))
    else:
        print("\n".join(summary))
