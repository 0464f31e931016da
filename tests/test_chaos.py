"""The chaos run: a stream with poison records through the whole single-cluster pipeline, under faults.

A secured broker of its own (SASL/SCRAM, ACLs; it is stopped and restarted
mid-run, so not the session's), its registry, the gateway and the projection
worker as managed processes, and ``hub subscribe --as hk`` into a JSON Lines
sink, each component logged in as its own principal. The stream
(:func:`tests.chaos_support.chaos_stream`, ``HUB_CHAOS_EVENTS`` events: a few
thousand by default, 100,000 for ``make test-chaos``) is published in chunks
by the district SDK, each district as itself, with poison records written raw
between them. Publishing waits (on offsets, never a fixed sleep) until no
stage is more than a few chunks behind, so each fault lands while the
pipeline is busy. After seeded chunks (``HUB_CHAOS_SEED``, printed; the same
seed gives the same stream, poison and plan) it SIGKILLs and restarts the
gateway, the projection worker and the subscriber (several times each in the
full run), stops and restarts the broker once and the registry once, and
re-publishes a slice of the stream with ``hub publish`` (the same event ids).

Then, once every stage has caught up:

- no component died other than by the test's hand;
- every indicator of both zones equals ``tests.indicator_stream.expected``,
  computed from the input documents by independent code (with the shipped rates);
- the partner's sink holds each event of ``gba`` exactly once, and nothing else;
- ``hub.dlq`` holds exactly the poison records (by source coordinates), each
  with the stage and reason its kind calls for; a re-crossed batch after a
  SIGKILL may write a dead letter twice (at least once, as every output of the
  gateway), and the copies must be the same letter.

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
from kafka.errors import KafkaError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from consumers.sinks.jsonl import OFFSETS_FILE, read_jsonl
from hub import credentials, local_kafka, naming, topology
from hub.agreements import default_agreements_dir, load_agreements
from hub.agreements.keys import generate_key
from hub.catalogue import EVENT_TYPES
from hub.dlq import DeadLetter, decode_dead_letter
from hub.errors import HubError
from hub.gateway import launcher as gateways
from hub.gateway.status import group_id
from hub.kafka_admin import apply_topics, group_lag, shared_topics
from hub.kafka_clients import new_producer
from hub.kafka_reader import KafkaReader, read_topic
from hub.orgunits import REGIONS, org_units
from hub.publishing.publisher import Ack, Publisher, Rejected
from hub.registry import launcher as registry
from hub.registry.client import RegistryClient
from hub.settings import ENV_PREFIX, HubSettings, as_environment
from hub.sql import make_engine
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
)
from tests.conftest import broker_settings, free_port
from tests.fixtures.postgres import PostgresServer
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


# -- the cluster of the run ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cluster:
    settings: HubSettings
    """No login of its own: each component logs in as its own principal from the broker's local logins."""
    admin: HubSettings
    """The test's own observations (offsets, topics) log in as the admin super user."""
    registry_port: int


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Iterator[Cluster]:
    """A secured broker of its own on free ports, the hub's topics, its registry, and a fresh read-model database."""
    port, registry_port = free_port(), free_port()
    home = broker_settings(
        tmp_path_factory.mktemp("hub-chaos"), kafka_port=port, bootstrap_servers=f"127.0.0.1:{port}", kafka_heap="512m"
    )
    database = postgres.create_database("hub_chaos")
    local_kafka.start(home)
    try:
        admin = local_kafka.admin_settings(home)
        apply_topics(admin, topology.expand(admin, org_units()), timeout_s=60)
        url = registry.start(home, port=registry_port, timeout_s=120).url
        try:
            update = {"schema_registry_url": url, "database_url": database}
            yield Cluster(home.model_copy(update=update), admin.model_copy(update=update), registry_port)
        finally:
            registry.stop(home)
    finally:
        local_kafka.stop(home)
        postgres.drop_database(database)


# -- the pipeline under test ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Behind:
    """What each stage still has to do, read fresh: raw records not committed by the gateway, shared records
    not applied by the projection worker, ``gba`` records not stored by the subscriber."""

    gateway: int
    worker: int
    subscriber: int

    def most(self) -> int:
        return max(self.gateway, self.worker, self.subscriber)

    def __str__(self) -> str:
        return f"gateway {self.gateway}, projection worker {self.worker}, subscriber {self.subscriber} behind"


@dataclass
class Pipeline:
    cluster: Cluster
    folder: Path
    engine: Engine
    started_at: float = field(default_factory=time.monotonic)
    log: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)
    subscriber: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        keys = {a.key_variable: generate_key() for a in load_agreements(default_agreements_dir()).values()}
        self.environ = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)}
        self.gateway_environ = self.environ | keys
        self.sink = self.folder / f"{PARTNER}-sink"
        self.raw_topics = sorted({naming.raw_topic(r, d, t) for d, (r, *_) in PLACES.items() for t in EVENT_TYPES})
        self.gateway_group = group_id(REGIONS)

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

    def child_env(self) -> dict[str, str]:
        return as_environment(self.settings, self.environ)

    def kill(self, component: str) -> int:
        """SIGKILL ``component``; returns the pid killed."""
        if component == "gateway":
            pid = gateways.kill(self.settings)
        elif component == "projection worker":
            pid = workers.kill(self.settings)
        else:
            assert self.subscriber is not None
            os.kill(self.subscriber.pid, signal.SIGKILL)
            self.subscriber.wait(timeout=60)
            assert self.subscriber.returncode == -signal.SIGKILL, f"the subscriber exited {self.subscriber.returncode}"
            pid = self.subscriber.pid
        assert pid == self.pids[component], f"the {component} ran as {pid}, not as the {self.pids[component]} started"
        return pid

    def start(self, component: str) -> None:
        {"gateway": self.start_gateway, "projection worker": self.start_worker, "subscriber": self.start_subscriber}[
            component
        ]()

    def crashed(self) -> list[str]:
        """The components that are not running as the test last started them, each with the tail of its log."""
        out = []
        running = {
            "gateway": gateways.running_pid(self.settings),
            "projection worker": workers.running_pid(self.settings),
            "subscriber": self.subscriber.pid
            if self.subscriber is not None and self.subscriber.poll() is None
            else None,
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
        return self.folder / "subscriber.log"

    def stop_all(self) -> None:
        if self.subscriber is not None and self.subscriber.poll() is None:
            self.subscriber.send_signal(signal.SIGTERM)
            try:
                self.subscriber.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.subscriber.kill()
                self.subscriber.wait(timeout=60)
        workers.stop(self.settings)
        gateways.stop(self.settings)

    # -- what is behind
    def behind(self) -> Behind | None:
        """Each stage's backlog, or None when the broker or database does not answer this time (just restarted)."""
        admin = self.cluster.admin
        try:
            gateway = group_lag(admin, self.gateway_group, self.raw_topics).behind
            applied = {(r.topic, r.partition): r.next_offset for r in store.offset_rows(self.engine, READ_MODELS)}
            with KafkaReader(admin, client_id="chaos-probe") as reader:
                ends = reader.end_offsets(reader.partitions(shared_topics(admin, ZONES)))
        except (HubError, KafkaError, SQLAlchemyError):
            return None
        # the shared topics are written without transactions: their end offsets are their last records'
        worker = sum(max(0, end - applied.get(tp, 0)) for tp, end in ends.items())
        partner = sum(end for tp, end in ends.items() if naming.parse_shared_topic(tp[0]).zone == PARTNER_ZONE)
        return Behind(gateway, worker, max(0, partner - self.stored_by_subscriber()))

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


_FIELD: Final = {"gateway": "gateway", "projection worker": "worker", "subscriber": "subscriber"}


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
        pid = pipeline.kill(component)
        pipeline.start(component)
        pipeline.note(
            f"SIGKILL {component} (pid {pid}, {found or 'idle'}) after chunk {fault.after_chunk}; "
            f"restarted as {pipeline.pids[component]} in {time.monotonic() - began:.1f}s"
        )
    elif what == "restart broker":
        home = pipeline.settings
        local_kafka.stop(home)
        stopped = time.monotonic()
        local_kafka.start(home, timeout_s=WAIT_S)
        pipeline.note(
            f"broker stopped in {stopped - began:.1f}s and restarted in {time.monotonic() - stopped:.1f}s "
            f"after chunk {fault.after_chunk}"
        )
    elif what == "restart registry":
        registry.stop(pipeline.settings)
        registry.start(pipeline.settings, port=pipeline.cluster.registry_port, timeout_s=WAIT_S)
        pipeline.note(f"registry down and back in {time.monotonic() - began:.1f}s after chunk {fault.after_chunk}")
    else:
        assert what == "republish", what
        size = min(REPUBLISH, len(docs_so_far))
        first = rng.randrange(len(docs_so_far) - size + 1)
        republish(pipeline, docs_so_far[first : first + size])
        done.republished += size
        pipeline.note(
            f"re-published events {first}..{first + size - 1} ({size}) with hub publish in "
            f"{time.monotonic() - began:.1f}s after chunk {fault.after_chunk}"
        )
    done.counts[what] += 1


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
        f"plan: " + ", ".join(f"{f.what} after {f.after_chunk}" for f in plan)
    )
    published = Published()
    injected = Injected()
    producers: dict[tuple[str, str], Any] = {}
    logins = credentials.district_logins(cluster.settings)
    try:
        pipeline.start_gateway()
        pipeline.start_worker()
        pipeline.start_subscriber()
        pipeline.note("gateway, projection worker and subscriber running")
        with (
            RegistryClient(cluster.settings.schema_registry_url) as client,
            Publisher(cluster.settings, client, logins=logins, timeout_s=60) as pub,
        ):
            pending = list(plan)
            for n, part in enumerate(chunks, start=1):
                pipeline.wait(
                    f"every stage is within {AHEAD} chunks of the stream", lambda b: b.most() <= AHEAD * chunk * 2
                )
                publish(pub, part, published)
                write_poison(producers, cluster.settings, poison_of[n - 1], published)
                while pending and pending[0].after_chunk == n:
                    inject(pending.pop(0), pipeline, docs[: n * chunk], rng, injected)
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
    ]
    if _GIVEN[_EVENTS_VARIABLE]:  # make test-chaos: the figures on the terminal, with the run's timeline
        with capsys.disabled():
            print("\n" + "\n".join([*summary, *pipeline.log]))
    else:
        print("\n".join(summary))
