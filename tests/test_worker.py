"""The projection worker (``hub project run``) on the real broker and registry, on SQLite and PostgreSQL.

Every test projects a zone of its own (``tests.shared_stream.new_zone``) and
runs the worker as the managed subprocess (:mod:`projections.launcher`), as
``make demo`` does. The yardstick is always the same: the tables equal
``store.dump`` of a clean in-process application of the same shared records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from hub import naming
from hub.errors import ConfigError
from hub.settings import HubSettings
from hub.sql import make_engine
from hub.wire import frame
from projections import launcher, store
from projections.lag import wait_for_offsets
from projections.status import group_id, served_zones
from projections.tables import READ_MODELS
from tests.byte_fuzz import PAYLOADS, Payload, materialise
from tests.shared_events import crossing
from tests.shared_stream import (
    SharedProducer,
    create_zone_topics,
    database_url,
    dead_letters,
    dump,
    make_stream,
    reference_dump,
    sqlite_url,
    targets,
    worker_context,
)

pytestmark = pytest.mark.kafka
P = READ_MODELS
WAIT_S = 120.0


def _settings(topics: HubSettings, registry: str, tmp_path: Path, database_url: str) -> HubSettings:
    return topics.model_copy(
        update={"schema_registry_url": registry, "data_dir": tmp_path / "data", "database_url": database_url}
    )


@pytest.fixture
def worker(
    topics: HubSettings, registry: str, tmp_path: Path, zone: str, dialect: str, request: pytest.FixtureRequest
) -> Iterator[HubSettings]:
    """Settings of a worker projecting ``zone`` into a fresh database; stops the worker afterwards."""
    settings = _settings(topics, registry, tmp_path, database_url(dialect, request, tmp_path, "worker"))
    yield settings
    launcher.stop(settings, [zone])


def _reference(settings: HubSettings, dialect: str, request: pytest.FixtureRequest, tmp_path: Path, zone: str,
               events: list[Any]) -> dict[str, list[tuple[Any, ...]]]:  # fmt: skip
    return reference_dump(database_url(dialect, request, tmp_path, "reference"), zone, events, worker_context(settings))


def _wait(settings: HubSettings, positions: list[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
    engine = make_engine(settings.database_url)
    try:
        return wait_for_offsets(engine, P, targets(positions), timeout_s=WAIT_S)
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_worker(topics: HubSettings, registry: str, tmp_path: Path, zone: str) -> Iterator[HubSettings]:
    """Like ``worker``, on SQLite only."""
    settings = _settings(topics, registry, tmp_path, sqlite_url(tmp_path, "worker"))
    yield settings
    launcher.stop(settings, [zone])


# -- the identity of a worker ------------------------------------------------------------------------
def test_zones_default_to_every_zone_and_are_checked() -> None:
    assert served_zones(None) == ("gba", "mainland")
    assert served_zones(["mainland", "GBA", "gba"]) == ("gba", "mainland")
    with pytest.raises(ConfigError, match="--zone"):
        served_zones(["Not A Zone"])
    assert group_id(P, ("mainland", "gba")) == "hub-projection-read-models-gba-mainland"


# -- projecting ------------------------------------------------------------------------------------------
def test_the_worker_projects_a_stream_like_a_clean_run_and_republished_events_change_nothing(
    worker: HubSettings, registry: str, zone: str, dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    stream = make_stream(60)
    with SharedProducer(worker, registry) as producer:
        positions = producer.publish(zone, stream.events)
        started = launcher.start(worker, [zone], timeout_s=WAIT_S)
        assert started.started and started.group_id == group_id(P, (zone,))
        _wait(worker, positions)
        reference = _reference(worker, dialect, request, tmp_path, zone, stream.events)
        assert dump(worker.database_url) == reference
        # The gateway re-publishes part of the stream (same event ids, new offsets): nothing changes.
        again = producer.publish(zone, stream.events[10:70])
        stored = _wait(worker, again)
    assert dump(worker.database_url) == reference
    assert stored == targets(positions + again)
    st = launcher.status(worker, [zone])
    assert st.pid is not None and st.status is not None and st.status.ready


def test_an_out_of_order_stream_gives_the_tables_of_the_ordered_one(
    sqlite_worker: HubSettings, registry: str, zone: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    worker, dialect = sqlite_worker, "sqlite"
    stream = make_stream(60)
    shuffled = stream.out_of_order()
    assert shuffled[0].event_type != "CaseOpened"  # closings and visits come before their cases
    with SharedProducer(worker, registry) as producer:
        launcher.start(worker, [zone], timeout_s=WAIT_S, batch_size=7)
        positions = producer.publish(zone, shuffled)
    _wait(worker, positions)
    assert dump(worker.database_url) == _reference(worker, dialect, request, tmp_path, zone, stream.events)


# -- failures ------------------------------------------------------------------------------------------
def test_poison_records_go_to_the_dead_letter_queue_and_the_rest_of_the_batch_proceeds(
    worker: HubSettings, registry: str, zone: str, dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    opened = [crossing("CaseOpened", case_id=f"POISON-{i}") for i in range(4)]
    donation = crossing("DonationReceived", donation_id="POISON-D")
    zero = {**donation.shared_record, "amount": Decimal("0.00")}
    topic = naming.shared_topic(zone, "CaseOpened")
    # PostgreSQL refuses a zone longer than its column (32): the database rejects those records.
    long_zone = f"{zone}-{'x' * 30}"
    zones = [zone, long_zone] if dialect == "postgresql" else [zone]
    if dialect == "postgresql":
        create_zone_topics(worker, long_zone)
    with SharedProducer(worker, registry) as producer:
        good = producer.publish(zone, opened[:1])
        key = opened[0].key.encode()  # one key: one partition, one batch
        garbage = producer.publish_raw(topic, key, b"this is not Avro")
        good += producer.publish(zone, opened[1:2])
        _, body = producer.encode(zone, opened[2])
        unknown_id = producer.publish_raw(topic, key, frame(987_654_321, body[5:]))
        good += producer.publish(zone, opened[3:])
        zero_topic, zero_value = producer.encode(zone, replace(donation, shared_record=zero))
        zero_amount = producer.publish_raw(zero_topic, key, zero_value)
        rejected = producer.publish(long_zone, opened[:2]) if dialect == "postgresql" else []
    launcher.start(worker, zones, timeout_s=WAIT_S)
    try:
        _wait(worker, [*good, garbage, unknown_id, zero_amount, *rejected])
    finally:
        launcher.stop(worker, zones)
    letters = {(d.source_topic, d.source_partition, d.source_offset): d for d in dead_letters(worker, [
        *(naming.shared_topic(z, et) for z in zones for et in ("CaseOpened", "DonationReceived"))])}  # fmt: skip
    expected = {garbage: "decode", unknown_id: "decode", zero_amount: "project", **dict.fromkeys(rejected, "apply")}
    assert {position: letter.stage for position, letter in letters.items()} == expected
    assert "magic byte" in letters[garbage].reason
    assert letters[garbage].original_value == b"this is not Avro"
    assert "987654321" in letters[unknown_id].reason and "unknown to the registry" in letters[unknown_id].reason
    assert "DonationReceived.amount" in letters[zero_amount].reason
    assert letters[zero_amount].event_id == donation.event_id
    for position in rejected:
        assert "too long" in letters[position].reason
        assert letters[position].consumer == f"projection:{P}"
    # Everything else landed, exactly as a clean run of the good records.
    landed = [opened[0], opened[1], opened[3]]
    assert dump(worker.database_url) == _reference(worker, dialect, request, tmp_path, zone, landed)


def _wait_applied(engine: Engine, records: int) -> None:
    """Wait until the stored offsets account for ``records`` records (each read is a transaction of its own)."""
    deadline = time.monotonic() + WAIT_S
    while (applied := sum(store.stored_offsets(engine, P).values())) < records:
        assert time.monotonic() < deadline, f"the worker applied {applied} of {records} records within {WAIT_S:.0f}s"
        time.sleep(0.05)


def test_a_worker_killed_mid_batch_three_times_gives_the_tables_of_a_clean_run(
    sqlite_worker: HubSettings, registry: str, zone: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    worker, dialect = sqlite_worker, "sqlite"
    stream = make_stream(700, seed=11)
    n = len(stream.events)
    positions: list[tuple[str, int, int]] = []
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with SharedProducer(worker, registry) as producer:
                for start in range(0, n, 150):
                    positions.extend(producer.publish(zone, stream.events[start : start + 150]))
                    time.sleep(0.2)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    engine = make_engine(worker.database_url)
    tuning = {"batch_size": 40, "session_timeout_s": 6.0, "timeout_s": WAIT_S}
    try:
        thread = threading.Thread(target=produce)
        thread.start()
        launcher.start(worker, [zone], **tuning)  # type: ignore[arg-type]
        applied_at_kill: list[int] = []
        for _ in range(3):
            _wait_applied(engine, (applied_at_kill[-1] if applied_at_kill else 0) + 300)
            assert launcher.kill(worker, [zone]) is not None
            applied_at_kill.append(sum(store.stored_offsets(engine, P).values()))
            launcher.start(worker, [zone], **tuning)  # type: ignore[arg-type]
        thread.join()
        assert not errors, errors
        assert len(positions) == n
        # Every kill hit a worker in the middle of the stream.
        assert all(300 <= a < n for a in applied_at_kill), applied_at_kill
        wait_for_offsets(engine, P, targets(positions), timeout_s=WAIT_S)
    finally:
        engine.dispose()
    assert dump(worker.database_url) == _reference(worker, dialect, request, tmp_path, zone, stream.events)


def test_the_worker_resumes_from_the_database_offsets_not_from_the_group_offsets(
    sqlite_worker: HubSettings, registry: str, zone: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A second database behind the same consumer group gets every record: positions come from the database."""
    worker, dialect = sqlite_worker, "sqlite"
    stream = make_stream(30)
    with SharedProducer(worker, registry) as producer:
        positions = producer.publish(zone, stream.events)
    launcher.start(worker, [zone], timeout_s=WAIT_S)
    _wait(worker, positions)
    assert launcher.stop(worker, [zone]) is not None  # a clean stop: faust commits the group's offsets
    second = worker.model_copy(update={"database_url": database_url(dialect, request, tmp_path, "second")})
    assert group_id(P, (zone,)) == launcher.status(second, [zone]).group_id
    launcher.start(second, [zone], timeout_s=WAIT_S)
    try:
        _wait(second, positions)
    finally:
        launcher.stop(second, [zone])
    assert dump(second.database_url) == dump(worker.database_url)
    assert dump(second.database_url) == _reference(worker, dialect, request, tmp_path, zone, stream.events)


# -- fuzzing a shared topic ---------------------------------------------------------------------------------
_FUZZ_ID = iter(range(1_000_000))


@fuzz_settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example runs a worker on a real broker
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payloads=st.lists(PAYLOADS, min_size=4, max_size=14))
def test_random_and_truncated_bytes_on_a_shared_topic_are_dead_letters_and_the_partition_moves_on(
    sqlite_worker: HubSettings, zone: str, registry: str, payloads: list[Payload]
) -> None:
    worker = sqlite_worker
    run = next(_FUZZ_ID)
    topic = naming.shared_topic(zone, "CaseOpened")
    before, valid = crossing("CaseOpened", case_id=f"FUZZ-{run}-A"), crossing("CaseOpened", case_id=f"FUZZ-{run}-B")
    key = before.key.encode()  # one key: one partition, the fuzz between two valid records
    fuzz: list[tuple[str, int, int]] = []
    with SharedProducer(worker, registry) as producer:
        good = producer.publish(zone, [before])
        _, whole = producer.encode(zone, valid)
        for payload in payloads:
            fuzz.append(producer.publish_raw(topic, key, materialise(payload, whole)))
        good += producer.publish(zone, [valid])
    launcher.start(worker, [zone], timeout_s=WAIT_S)
    try:
        _wait(worker, [*good, *fuzz])  # the partition moved past every fuzz record to the valid one after it
    finally:
        launcher.stop(worker, [zone])
    letters = {(d.source_topic, d.source_partition, d.source_offset): d for d in dead_letters(worker, [topic])}
    assert set(fuzz) <= set(letters), "every fuzz record is a dead letter"
    assert all(letters[p].reason and letters[p].stage == "decode" for p in fuzz)
    cases = dump(worker.database_url)["cases"]
    for c in (before, valid):  # the valid records on either side of the fuzz landed
        assert any(c.shared_record["case_ref"] in row for row in cases), c.shared_record["case_ref"]
