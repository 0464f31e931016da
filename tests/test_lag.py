"""Lag (offsets and seconds behind), the worker's ``/metrics`` and the read-your-writes waits, on the real broker."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from hub.settings import HubSettings
from hub.sql import make_engine
from projections import launcher, migrations
from projections.lag import LagTimeout, measure, wait_caught_up, wait_for_event, wait_for_offsets
from projections.metrics import LagCollector
from projections.tables import READ_MODELS
from tests.shared_events import crossing
from tests.shared_stream import SharedProducer, make_stream, sqlite_url, targets

pytestmark = pytest.mark.kafka
P = READ_MODELS
WAIT_S = 120.0


@pytest.fixture
def settings(topics: HubSettings, registry: str, tmp_path: Path, zone: str) -> Iterator[HubSettings]:
    url = sqlite_url(tmp_path, "lag")
    migrations.upgrade(url)
    s = topics.model_copy(update={"schema_registry_url": registry, "data_dir": tmp_path / "data", "database_url": url})
    yield s
    launcher.stop(s, [zone])


@pytest.fixture
def engine(settings: HubSettings) -> Iterator[Engine]:
    e = make_engine(settings.database_url)
    yield e
    e.dispose()


def _grouped(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_lag_is_the_backlog_before_the_worker_runs_and_nothing_once_it_has_caught_up(
    settings: HubSettings, engine: Engine, registry: str, zone: str
) -> None:
    events = make_stream(40).events
    published_after = time.time()
    with SharedProducer(settings, registry) as producer:
        positions = producer.publish(zone, events)
    before = measure(settings, engine, P, zones=[zone])
    assert before.offsets_behind == len(events) and not before.caught_up
    assert len(before.partitions) == 10 * settings.shared_partitions
    assert {(p.topic, p.partition, p.end_offset) for p in before.partitions if p.end_offset} == {
        (t, p, n) for (t, p), n in targets(positions).items()
    }
    # Time lag: the age of the oldest record not applied, measured on each partition behind.
    age = time.time() - published_after
    for p in before.partitions:
        if p.offsets_behind:
            assert p.exact and p.oldest_unapplied_ms is not None
            assert 0 <= p.seconds_behind <= age + 1.0
        else:
            assert p.seconds_behind == 0.0
    assert before.seconds_behind == max(p.seconds_behind for p in before.partitions)

    started = launcher.start(settings, [zone], metrics_port=0, timeout_s=WAIT_S)
    assert started.metrics_url is not None
    wait_caught_up(settings, engine, P, zones=[zone], timeout_s=WAIT_S)
    after = measure(settings, engine, P, zones=[zone])
    assert after.caught_up and after.offsets_behind == 0 and after.seconds_behind == 0.0
    assert {(p.topic, p.partition): p.next_offset for p in after.partitions if p.end_offset} == targets(positions)

    # The counters move right after the commit that wait_caught_up saw: scrape until they show it.
    deadline = time.monotonic() + WAIT_S
    metrics = _grouped(httpx.get(started.metrics_url, timeout=30).text)
    while metrics.get("hub_projection_records_applied_total") != [({"projection": P}, float(len(events)))]:
        assert time.monotonic() < deadline, metrics.get("hub_projection_records_applied_total")
        time.sleep(0.2)
        metrics = _grouped(httpx.get(started.metrics_url, timeout=30).text)
    behind = metrics["hub_projection_offsets_behind"]
    assert len(behind) == 10 * settings.shared_partitions
    assert all(labels["projection"] == P and value == 0 for labels, value in behind)
    assert {labels["topic"] for labels, _ in behind} == {p.topic for p in after.partitions}
    assert all(value == 0 for _, value in metrics["hub_projection_seconds_behind"])
    assert metrics["hub_projection_lag_measured"] == [({"projection": P}, 1.0)]
    assert metrics["hub_projection_records_applied_total"] == [({"projection": P}, float(len(events)))]
    assert metrics["hub_projection_records_total"] == [({"projection": P}, float(len(events)))]


def test_the_lag_gauges_of_a_projection_behind_its_topics(
    settings: HubSettings, engine: Engine, registry: str, zone: str, tmp_path: Path
) -> None:
    with SharedProducer(settings, registry) as producer:
        positions = producer.publish(zone, make_stream(5).events)
    collector = LagCollector(P, lambda: measure(settings, engine, P, zones=[zone]))
    families = {f.name: f for f in collector.collect()}
    offsets = {(s.labels["topic"], int(s.labels["partition"])): s.value
               for s in families["hub_projection_offsets_behind"].samples}  # fmt: skip
    assert {tp: int(v) for tp, v in offsets.items() if v} == targets(positions)
    seconds = {(s.labels["topic"], int(s.labels["partition"])): s.value
               for s in families["hub_projection_seconds_behind"].samples}  # fmt: skip
    assert all(not math.isnan(v) and v >= 0 for v in seconds.values())
    assert {tp for tp, v in seconds.items() if v > 0} <= set(targets(positions))
    assert {tp for tp, v in seconds.items() if v == 0} >= set(offsets) - set(targets(positions))
    # When the lag cannot be measured (here: a database without the read models), the endpoint says so.
    broken = make_engine(sqlite_url(tmp_path, "not-migrated"))
    try:
        failing = LagCollector(P, lambda: measure(settings, broken, P, zones=[zone]))
        samples = {f.name: f.samples for f in failing.collect()}
    finally:
        broken.dispose()
    assert set(samples) == {"hub_projection_lag_measured"}
    assert samples["hub_projection_lag_measured"][0].value == 0.0


def test_read_your_writes_waits_return_when_applied_and_time_out_clearly_otherwise(
    settings: HubSettings, engine: Engine, registry: str, zone: str
) -> None:
    opened = crossing("CaseOpened", case_id="RYW-1")
    with SharedProducer(settings, registry) as producer:
        positions = producer.publish(zone, [opened])
    with pytest.raises(
        LagTimeout, match=r"1 partition\(s\) behind: shared\.[a-z0-9]+\.case-opened\[\d\] at 0 < 1"
    ) as caught:
        wait_for_offsets(engine, P, targets(positions), timeout_s=0.5)
    assert caught.value.behind == {tp: (0, n) for tp, n in targets(positions).items()}
    with pytest.raises(LagTimeout, match=f"event {opened.event_id} did not appear"):
        wait_for_event(engine, opened.event_id, timeout_s=0.5)
    with pytest.raises(LagTimeout, match="did not reach the target offsets"):
        wait_caught_up(settings, engine, P, zones=[zone], timeout_s=0.5)

    launcher.start(settings, [zone], timeout_s=WAIT_S)
    assert wait_for_event(engine, opened.event_id, timeout_s=WAIT_S) == "cases"
    assert wait_for_offsets(engine, P, targets(positions), timeout_s=WAIT_S) == targets(positions)
    with SharedProducer(settings, registry) as producer:
        closed = crossing("CaseClosed", case_id="RYW-1", occurred_at="2026-03-20T16:00:00+08:00")
        producer.publish(zone, [closed])
    assert wait_for_event(engine, closed.event_id, timeout_s=WAIT_S) == "cases"  # as the case's closing
    reached = wait_caught_up(settings, engine, P, zones=[zone], timeout_s=WAIT_S)
    assert sum(reached.values()) == 2
