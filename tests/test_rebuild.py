"""``hub projections rebuild``: replay into shadow tables and swap, while the worker runs and readers read."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from hub.errors import BrokerError, ProjectionError, SchemaRegistryError
from hub.registry.client import RegistryClient
from hub.settings import HubSettings
from hub.sql import make_engine
from projections import launcher, store
from projections.lag import wait_for_offsets
from projections.pipeline import Stopping
from projections.rebuild import Progress, rebuild, rebuild_lock
from projections.tables import READ_MODELS, SHADOW_SUFFIX, TABLES, tables_for
from tests.conftest import free_port
from tests.shared_stream import (
    SharedProducer,
    database_url,
    dump,
    make_stream,
    new_zone,
    reference_dump,
    sqlite_url,
    targets,
    worker_context,
)

pytestmark = pytest.mark.kafka
P = READ_MODELS
WAIT_S = 120.0


@pytest.fixture
def settings(
    topics: HubSettings, registry: str, tmp_path: Path, zone: str, dialect: str, request: pytest.FixtureRequest
) -> Iterator[HubSettings]:
    url = database_url(dialect, request, tmp_path, "live")
    s = topics.model_copy(update={"schema_registry_url": registry, "data_dir": tmp_path / "data", "database_url": url})
    yield s
    launcher.stop(s, [zone])


class _Reader(threading.Thread):
    """Queries the live tables in a loop, as an analyst would, and remembers what went wrong."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = make_engine(url)
        self.stop = threading.Event()
        self.queries = 0
        self.smallest: int | None = None
        self.errors: list[BaseException] = []

    def run(self) -> None:
        cases, visits = TABLES["cases"], TABLES["visits"]
        try:
            while not self.stop.is_set():
                try:
                    with self.engine.connect() as conn:
                        n = conn.execute(select(func.count()).select_from(cases)).scalar_one()
                        n = min(n, conn.execute(select(func.count()).select_from(visits)).scalar_one())
                except Exception as exc:  # noqa: BLE001 - every failure is what the test looks for
                    self.errors.append(exc)
                    continue
                self.queries += 1
                self.smallest = n if self.smallest is None else min(self.smallest, n)
        finally:
            self.engine.dispose()


def test_a_rebuild_while_the_worker_runs_gives_the_tables_of_a_clean_run_and_queries_keep_answering(
    settings: HubSettings, registry: str, zone: str, dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    events = make_stream(300, seed=3).events
    first, during, after = events[:800], events[800:1000], events[1000:]
    positions: list[tuple[str, int, int]] = []
    engine = make_engine(settings.database_url)
    reader = _Reader(settings.database_url)
    phases: list[str] = []
    try:
        with SharedProducer(settings, registry) as producer:
            positions += producer.publish(zone, first)
            launcher.start(settings, [zone], timeout_s=WAIT_S, batch_size=100)
            wait_for_offsets(engine, P, targets(positions), timeout_s=WAIT_S)
            reader.start()

            def trickle() -> None:  # the live worker keeps writing while the rebuild runs
                for start in range(0, len(during), 20):
                    positions.extend(producer.publish(zone, during[start : start + 20]))
                    time.sleep(0.05)

            writer = threading.Thread(target=trickle)
            writer.start()

            def progress(p: Progress) -> None:
                if not phases or phases[-1] != p.phase:
                    phases.append(p.phase)

            result = rebuild(settings, engine, P, zones=[zone], batch_size=100, on_progress=progress)
            writer.join()
            # After the swap the worker carries on with the swapped-in tables.
            positions += producer.publish(zone, after)
        wait_for_offsets(engine, P, targets(positions), timeout_s=WAIT_S)
    finally:
        reader.stop.set()
        reader.join(timeout=30)
        engine.dispose()
    assert not reader.errors, reader.errors[:3]
    assert reader.queries > 0 and reader.smallest is not None and reader.smallest > 0
    assert phases[0] == "replay" and phases[-1] == "swapped" and "catch-up" in phases
    assert result.records >= len(first) and result.zones == (zone,) and result.swap_attempts >= 1
    assert result.events_per_s > 0
    check = make_engine(settings.database_url)
    try:
        names = set(inspect(check).get_table_names())
        assert not {t.name for t in tables_for(SHADOW_SUFFIX).values()} & names
        assert store.stored_offsets(check, P, suffix=SHADOW_SUFFIX) == {}
    finally:
        check.dispose()
    reference = reference_dump(
        database_url(dialect, request, tmp_path, "reference"), zone, events, worker_context(settings)
    )
    assert dump(settings.database_url) == reference


class _StopOnRefusal:
    """A registry that nobody answers at; the first refused schema look-up sets ``stopping``."""

    def __init__(self, real: RegistryClient, stopping: threading.Event) -> None:
        self.real = real
        self.stopping = stopping
        self.refused = 0

    def register(self, subject: str, schema: str | dict[str, Any]) -> int:
        return self.real.register(subject, schema)

    def get_schema(self, schema_id: int) -> str:
        try:
            return self.real.get_schema(schema_id)
        except SchemaRegistryError:
            self.refused += 1
            self.stopping.set()
            raise


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_only_one_rebuild_at_a_time_and_a_stopped_one_leaves_the_live_tables_alone(
    settings: HubSettings, registry: str, zone: str, tmp_path: Path
) -> None:
    events = make_stream(10).events
    engine = make_engine(settings.database_url)
    try:
        with SharedProducer(settings, registry) as producer:
            positions = producer.publish(zone, events)
        rebuild(settings, engine, P, zones=[zone])  # no worker: the rebuild alone fills the tables
        assert store.stored_offsets(engine, P) == targets(positions)
        before = store.dump(engine)
        with rebuild_lock(settings, P), pytest.raises(ProjectionError, match="another rebuild"):
            rebuild(settings, engine, P, zones=[zone])
        # The registry is down: the rebuild waits it out until told to stop, then drops its shadow tables.
        # The stop comes once a look-up was refused (a state this test sees), not after a guessed delay.
        stopping = threading.Event()
        with RegistryClient(f"http://127.0.0.1:{free_port()}", timeout_s=1.0) as unreachable:
            down = _StopOnRefusal(unreachable, stopping)
            with pytest.raises(Stopping, match="decoding"):
                rebuild(settings, engine, P, zones=[zone], registry=down, stopping=stopping)
        assert down.refused >= 1
        assert store.dump(engine) == before
        assert store.stored_offsets(engine, P) == targets(positions)
        shadow = {t.name for t in tables_for(SHADOW_SUFFIX).values()}
        assert not shadow & set(inspect(engine).get_table_names())
        # Nothing to rebuild from (no topics, no offsets): refused, rather than swapping in empty tables.
        empty = make_engine(sqlite_url(tmp_path, "empty"))
        try:
            with pytest.raises(BrokerError, match="no shared topics"):
                rebuild(settings, empty, P, zones=[new_zone()])
        finally:
            empty.dispose()
    finally:
        engine.dispose()
