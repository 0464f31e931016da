"""Scale-out on a real broker: two gateways and two projection workers on 6-partition topics.

A broker of its own (secured as in production; the session broker's topics
have the default partition counts and a gateway of their own), with
``HUB_RAW_PARTITIONS=6`` and ``HUB_SHARED_PARTITIONS=6``. The same published
events are crossed by two gateway instances of one consumer group, then
projected twice from the same shared topics into two databases: once by one
worker, once by two instances sharing the partitions. Each instance must have
done part of the work, and the two databases must hold identical tables:
nothing lost, nothing counted twice, whatever instance applied a partition.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo import stream as demo_data
from hub import credentials, local_kafka, topology
from hub.agreements import default_agreements_dir, load_agreements
from hub.agreements.keys import generate_key
from hub.gateway import launcher as gateways
from hub.gateway.status import group_id, read_status
from hub.kafka_admin import apply_topics, group_lag
from hub.orgunits import REGIONS, org_units
from hub.principals import REGISTRY
from hub.publishing.publisher import Ack, Publisher
from hub.registry import launcher as registry
from hub.registry.client import RegistryClient
from hub.settings import ENV_PREFIX, HubSettings
from hub.sql import make_engine
from projections import lag, store
from projections import launcher as workers
from tests.conftest import broker_settings, free_port

PARTITIONS = 6
EVENTS = 3000
WAIT_S = 240.0


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubSettings]:
    """A secured broker of its own with 6-partition raw and shared topics, and a registry on it (admin login)."""
    port = free_port()
    home = broker_settings(
        tmp_path_factory.mktemp("hub-wide"),
        kafka_port=port,
        bootstrap_servers=f"127.0.0.1:{port}",
        raw_partitions=PARTITIONS,
        shared_partitions=PARTITIONS,
        kafka_heap="512m",
    )
    local_kafka.start(home)
    try:
        admin = local_kafka.admin_settings(home)
        apply_topics(admin, topology.expand(admin, org_units()), timeout_s=60)
        logins = credentials.read(home)
        assert logins is not None
        own = credentials.login(admin, REGISTRY, logins.password(REGISTRY))
        url = registry.start(own, port=free_port(), timeout_s=120).url
        try:
            yield admin.model_copy(update={"schema_registry_url": url})
        finally:
            registry.stop(own)
    finally:
        local_kafka.stop(home)


def _events(n: int) -> list[dict[str, object]]:
    """``n`` demo events, round-robin over the districts so that every region and many partitions get some."""
    by_district: dict[str, list[dict[str, object]]] = {}
    for doc in demo_data.generate(11):
        by_district.setdefault(str(doc["district"]), []).append(doc)
    mixed = itertools.chain.from_iterable(itertools.zip_longest(*by_district.values()))
    return list(itertools.islice((d for d in mixed if d is not None), n))


def _instance(settings: HubSettings, n: int) -> HubSettings:
    return settings.model_copy(update={"worker_instance": n})


def _wait(what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"{what} within {WAIT_S:.0f}s"
        time.sleep(0.5)


def _database(settings: HubSettings, path: Path) -> HubSettings:
    return settings.model_copy(update={"database_url": f"sqlite:///{path}"})


def _applied(settings: HubSettings) -> int:
    found = workers.status(settings).status
    assert found is not None, "a projection instance has no status"
    return int(found.stats.get("applied", 0))


def _all_assigned(settings: list[HubSettings]) -> bool:
    found = [workers.status(one).status for one in settings]
    return all(f is not None and f.ready and f.assigned > 0 for f in found)


def _caught_up(settings: HubSettings) -> bool:
    engine = make_engine(settings.database_url)
    try:
        return lag.measure(settings, engine).caught_up
    finally:
        engine.dispose()


def _tables(settings: HubSettings) -> dict[str, list[tuple[object, ...]]]:
    engine = make_engine(settings.database_url)
    try:
        return store.dump(engine)
    finally:
        engine.dispose()


def test_two_gateways_and_two_projection_workers_share_the_load_and_give_the_tables_of_one(
    wide: HubSettings, tmp_path: Path
) -> None:
    keys = {a.key_variable: generate_key() for a in load_agreements(default_agreements_dir()).values()}
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)} | keys
    raw = [s.name for s in topology.expand(wide, org_units()) if s.kind == "raw"]
    gateway_pair = [_instance(wide, 0), _instance(wide, 1)]
    two = _database(wide, tmp_path / "two.sqlite3")
    worker_pair = [_instance(two, 0), _instance(two, 1)]
    try:
        # all four run and hold partitions before the load arrives, so that each must take a share of it
        for one in gateway_pair:
            gateways.start(one, environ=environ, timeout_s=120)
        for one in worker_pair:
            workers.start(one, timeout_s=120)
        _wait("both projection instances hold partitions", lambda: _all_assigned(worker_pair))
        with Publisher(wide, RegistryClient(wide.schema_registry_url)) as pub:
            results = pub.publish_many(_events(EVENTS))
        acks = [r for r in results if isinstance(r, Ack)]
        assert len(acks) == EVENTS, [r for r in results if not isinstance(r, Ack)][:3]
        assert len({(a.topic, a.partition) for a in acks}) > 100  # spread over many raw partitions
        _wait("both gateways cross every raw event", lambda: group_lag(wide, group_id(REGIONS), raw).behind == 0)
        _wait("two projection instances catch up", lambda: _caught_up(two))
        crossed = []
        for one in gateway_pair:
            found = read_status(gateways.paths_of(one).status)
            assert found is not None and found.ready
            crossed.append(int(found.stats.get("events", 0)))
        applied = [_applied(one) for one in worker_pair]
        pids = {gateways.status(one).pid for one in gateway_pair} | {workers.status(one).pid for one in worker_pair}
    finally:
        for one in worker_pair:
            workers.stop(one)
        for one in gateway_pair:
            gateways.stop(one)
    assert len(pids - {None}) == 4, f"four processes, one per instance: {pids}"
    assert all(n > 0 for n in crossed), f"each gateway instance crossed part of the events: {crossed}"
    assert sum(crossed) >= EVENTS  # a rebalance may re-cross a batch: byte-identical copies, deduplicated
    assert all(n > 0 for n in applied), f"each projection instance applied part of the records: {applied}"

    one = _database(wide, tmp_path / "one.sqlite3")
    try:
        workers.start(one, timeout_s=120)
        _wait("one projection worker catches up", lambda: _caught_up(one))
    finally:
        workers.stop(one)
    expected, got = _tables(one), _tables(two)
    assert sum(len(rows) for rows in expected.values()) > EVENTS // 2
    for name, rows in expected.items():
        assert got[name] == rows, f"table {name} differs between one worker and two"
