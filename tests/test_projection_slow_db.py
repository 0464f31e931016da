"""A slow database: the worker's lag grows while its database is locked, then it catches up and loses nothing.

The projection worker (``hub project run``, the managed subprocess of
:mod:`projections.launcher`) projects a zone of its own on the session's
broker. Once it has caught up, another connection locks its database for
several seconds: on SQLite an exclusive transaction (``BEGIN EXCLUSIVE``: no
other writer, readers go on, as WAL mode allows); on PostgreSQL ``LOCK TABLE
.. IN EXCLUSIVE MODE`` on the offsets table and every read-model table (the
worker's writes wait, plain reads go on). Events are published meanwhile.

What is checked, each look in a fresh connection (a look inside one
transaction would see one snapshot): while the lock is held the stored
offsets do not move and the lag the hub reports (:func:`projections.lag.measure`)
is exactly what was published since, growing with every chunk; the worker
process stays up (the same pid) and dead-letters nothing; once the lock is
released it catches up (lag 0) and the tables are those of a clean run of
every event, each applied once. Held for several seconds, the lock only
slows the worker (its database calls wait, within SQLite's busy timeout or on
PostgreSQL's lock queue); held past SQLite's busy timeout
(:data:`hub.sql.BUSY_TIMEOUT_MS`), it is an outage: "database is locked" is a
transient error (:func:`hub.tracking.classify`), waited out by the one retry
policy (:mod:`hub.retry`) and counted in the worker's status, never a crash
or a dead letter. Nothing asserts on time.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from hub import naming
from hub.catalogue import EVENT_TYPES
from hub.settings import HubSettings
from hub.sql import BUSY_TIMEOUT_MS, make_engine
from projections import launcher, store
from projections import status as status_file
from projections.lag import measure, wait_for_offsets
from projections.status import group_id
from projections.tables import DATA_TABLES, PROJECTION_OFFSETS, READ_MODELS
from tests.fixtures.postgres import wait_until_blocked_by
from tests.shared_stream import (
    SharedProducer,
    database_url,
    dead_letters,
    dump,
    make_stream,
    reference_dump,
    targets,
    worker_context,
)

pytestmark = pytest.mark.kafka
P = READ_MODELS
WAIT_S = 120.0
#: How long the database stays locked at least (it is held longer while the test publishes and looks).
LOCKED_S = 5.0
CHUNKS = 3


@pytest.fixture
def worker(
    topics: HubSettings, registry: str, tmp_path: Path, zone: str, dialect: str, request: pytest.FixtureRequest
) -> Iterator[HubSettings]:
    """Settings of a worker projecting ``zone`` into a fresh database; stops the worker afterwards."""
    settings = topics.model_copy(
        update={
            "schema_registry_url": registry,
            "data_dir": tmp_path / "data",
            "database_url": database_url(dialect, request, tmp_path, "slow"),
        }
    )
    yield settings
    launcher.stop(settings, [zone])


@contextmanager
def _locked(url: str) -> Iterator[int | None]:
    """Hold the database of ``url`` locked against writers until the block ends; yields the PostgreSQL backend pid."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(u.database), timeout=WAIT_S, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")  # waits for a transaction of the worker's, then no one else writes
            yield None
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        return
    with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database) as pg:
        names = [PROJECTION_OFFSETS.name, *DATA_TABLES]
        pg.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.SQL(", ").join(map(sql.Identifier, names))))
        yield pg.info.backend_pid
        pg.rollback()


def _look(settings: HubSettings, zone: str) -> tuple[dict[tuple[str, int], int], int]:
    """The stored offsets and the offsets behind the hub reports, from a fresh engine (a fresh transaction each)."""
    engine = make_engine(settings.database_url)
    try:
        return store.stored_offsets(engine, P), measure(settings, engine, zones=[zone]).offsets_behind
    finally:
        engine.dispose()


def _wait(engine: Engine, positions: list[tuple[str, int, int]]) -> None:
    wait_for_offsets(engine, P, targets(positions), timeout_s=WAIT_S)


def _lock_while_publishing(
    worker: HubSettings, registry: str, zone: str, events: list[Any], locked_s: float
) -> tuple[list[int], list[int]]:
    """Project a third of ``events``, then lock the database for at least ``locked_s`` while the rest is published
    in chunks; return the offsets behind seen after each chunk and the records published by then. Asserts that
    nothing is written through the lock, that the worker stays the same process, and that it catches up."""
    first, during = events[: len(events) // 3], events[len(events) // 3 :]
    chunk = -(-len(during) // CHUNKS)
    lags: list[int] = []
    published: list[int] = []
    engine = make_engine(worker.database_url)
    try:
        with SharedProducer(worker, registry) as producer:
            positions = producer.publish(zone, first)
            launcher.start(worker, [zone], timeout_s=WAIT_S, batch_size=25)
            _wait(engine, positions)
            pid = launcher.status(worker, [zone]).pid
            assert pid is not None
            stored_before, behind = _look(worker, zone)
            assert behind == 0
            with _locked(worker.database_url) as backend:
                locked_at = time.monotonic()
                for start in range(0, len(during), chunk):
                    part = producer.publish(zone, during[start : start + chunk])
                    positions += part
                    published.append(len(part) + (published[-1] if published else 0))
                    if backend is not None and not lags:
                        wait_until_blocked_by(worker.database_url, backend)  # the worker waits for our lock
                    stored, behind = _look(worker, zone)
                    assert stored == stored_before, "the worker wrote through the lock"
                    lags.append(behind)
                time.sleep(max(0.0, locked_s - (time.monotonic() - locked_at)))
                stored, behind = _look(worker, zone)
                assert (stored, behind) == (stored_before, len(during))
                assert launcher.status(worker, [zone]).pid == pid, "the worker stopped while the database was locked"
            # Released: the worker catches up by itself, the same process.
            _wait(engine, positions)
        _, behind = _look(worker, zone)
        assert behind == 0
        assert launcher.status(worker, [zone]).pid == pid
    finally:
        engine.dispose()
    return lags, published


def _assert_every_event_once(
    worker: HubSettings, zone: str, dialect: str, request: pytest.FixtureRequest, tmp_path: Path, events: list[Any]
) -> None:
    assert dead_letters(worker, [naming.shared_topic(zone, et) for et in EVENT_TYPES]) == []
    reference = reference_dump(
        database_url(dialect, request, tmp_path, "reference"), zone, events, worker_context(worker)
    )
    assert dump(worker.database_url) == reference  # every event, applied once


def test_a_locked_database_makes_the_lag_grow_then_the_worker_catches_up_with_every_event_once(
    worker: HubSettings, registry: str, zone: str, dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    events = make_stream(90, seed=23).events
    lags, published = _lock_while_publishing(worker, registry, zone, events, LOCKED_S)
    print(f"{dialect}: offsets behind while locked {lags}, then 0")
    # The lag grew with every chunk published while the database was locked: exactly the records published.
    assert lags == published and lags == sorted(set(lags))
    _assert_every_event_once(worker, zone, dialect, request, tmp_path, events)


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_a_database_locked_past_its_busy_timeout_is_an_outage_the_worker_waits_out(
    worker: HubSettings, registry: str, zone: str, dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """SQLite gives up waiting for a lock after its busy timeout ("database is locked"): the one retry policy
    waits that out like any outage (:mod:`hub.retry`, via :func:`hub.tracking.classify`) and the batch is
    applied again once the lock is gone."""
    events = make_stream(40, seed=29).events
    lags, published = _lock_while_publishing(worker, registry, zone, events, BUSY_TIMEOUT_MS / 1000 + 5)
    assert lags == published
    deadline = time.monotonic() + WAIT_S
    while (retries := _retries(worker, zone)) < 1:
        assert time.monotonic() < deadline, "the worker's status reports no outage waited out"
        time.sleep(0.2)
    log = status_file.paths(worker, group_id(P, (zone,))).log.read_text(errors="replace")
    print(f"sqlite past its busy timeout: offsets behind {lags}, {retries} outage(s) waited out, then 0")
    assert "database is locked" in log
    _assert_every_event_once(worker, zone, dialect, request, tmp_path, events)


def _retries(worker: HubSettings, zone: str) -> int:
    status = launcher.status(worker, [zone]).status
    return int(status.stats.get("retries", 0)) if status is not None else 0
