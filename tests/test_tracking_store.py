"""The tracking writer under the projection store: the contract suite on SQLite and PostgreSQL, and the store's own
exactly-once, concurrency and refusal tests (moved here from test_read_models.py)."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from hub.agreements import Crossing
from hub.sql import make_engine, write_transaction
from hub.tracking import TrackingWriter
from projections import migrations, store
from projections.row_changes import apply_changes
from projections.rules import Upsert
from projections.store import RecordsRejected, SourceRecord
from projections.tables import TABLES
from tests.fixtures.postgres import wait_until_blocked_by
from tests.shared_events import (
    DIALECTS,
    case_story,
    changes,
    count,
    crossing,
    read_models_engine,
    records,
    row,
)
from tests.tracking_contract import Item, SqlTrackingContract, TopicPartition, Wrote

P = "read_models"


@pytest.fixture(params=DIALECTS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from read_models_engine(request, tmp_path)


# -- the contract adapter --------------------------------------------------------------------------
CONTRACT = "contract"
CASE = "NS-T"
PLACE = {"zone": "gba", "district": "shenzhen-nanshan"}


@cache
def _opened() -> Crossing:
    return crossing("CaseOpened", case_id=CASE, occurred_at="2026-03-01T09:00:00+08:00")


@cache
def _visit(ident: str) -> Crossing:
    """A visit of the contract's case: a home visit for about half the idents, on a day of March they pick."""
    spread = zlib.crc32(ident.encode())
    visit_type = "HOME" if spread % 2 else "PHONE"
    day = 2 + spread % 27
    return crossing(
        "VisitMade",
        case_id=CASE,
        visit_id=ident,
        visit_type=visit_type,
        occurred_at=f"2026-03-{day:02d}T10:00:00+08:00",
    )


def _record(item: Item) -> SourceRecord:
    if item.kind == "dead":
        return SourceRecord(item.topic, item.partition, item.offset, ())
    if item.kind == "refused":
        refused = Upsert(
            "visits",
            {**PLACE, "visit_id": item.ident},
            {"visit_type": None, "occurred_ms": 1, "event_id": "e"},  # NOT NULL columns left empty
            (1, "e"),
        )
        return SourceRecord(item.topic, item.partition, item.offset, [refused])
    return SourceRecord(item.topic, item.partition, item.offset, changes(_visit(item.ident)), timestamp_ms=item.offset)


class StoreWriter:
    """The projection store of projection ``contract`` on its own engine."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def write(self, items: Sequence[Item]) -> Wrote:
        summary = store.apply_batch(self.engine, CONTRACT, [_record(i) for i in items])
        return Wrote(summary.applied, summary.skipped)

    def positions(self) -> dict[TopicPartition, int]:
        return store.stored_offsets(self.engine, CONTRACT)

    def contents(self) -> list[str]:
        """The visits of the case; its derived counts must agree with them (nothing counted twice)."""
        visits = TABLES["visits"]
        case_ref = _opened().key
        with self.engine.connect() as conn:
            held = conn.execute(
                select(visits.c.visit_id, visits.c.visit_type).where(
                    visits.c.zone == PLACE["zone"],
                    visits.c.district == PLACE["district"],
                    visits.c.case_ref == case_ref,
                )
            ).all()
        case = row(self.engine, "cases", **PLACE, case_ref=case_ref)
        assert (case["visit_count"], case["home_visit_count"]) == (len(held), sum(t == "HOME" for _, t in held))
        return sorted(visit_id for visit_id, _ in held)

    def close(self) -> None:
        self.engine.dispose()


def open_store_writer(location: str) -> StoreWriter:
    return StoreWriter(location)


class _StoreContract(SqlTrackingContract):
    writer_factory = "tests.test_tracking_store:open_store_writer"

    def make_storage(self, request: pytest.FixtureRequest, tmp_path: Path) -> str:
        url = self.database_url(request, tmp_path)
        migrations.upgrade(url)
        engine = make_engine(url)
        try:  # the case the visits belong to, applied by another projection so the contract's offsets start empty
            store.apply_batch(engine, "contract-setup", [SourceRecord("setup", 0, 0, changes(_opened()))])
        finally:
            engine.dispose()
        return url

    def offsets_writer(self) -> tuple[TrackingWriter, Callable[[], None]]:
        engine = make_engine(self.location)
        return store.tracking_writer(engine, CONTRACT), engine.dispose


class TestStoreOnSqlite(_StoreContract):
    dialect = "sqlite"


@pytest.mark.postgres
class TestStoreOnPostgres(_StoreContract):
    dialect = "postgresql"


# -- exactly once ----------------------------------------------------------------------------------
def test_reapplying_the_same_events_at_new_offsets_changes_nothing(engine: Engine) -> None:
    story = case_story()
    first = store.apply_batch(engine, P, records(story))
    assert first.changed > 0
    before = store.dump(engine)
    again = store.apply_batch(engine, P, records(story, first_offset=len(story)))
    assert (again.applied, again.skipped, again.changed) == (len(story), 0, 0)
    assert store.dump(engine) == before


def test_the_offset_guard_skips_records_already_applied(engine: Engine) -> None:
    story = case_story()
    store.apply_batch(engine, P, records(story))
    before = store.dump(engine)
    # Same positions, different content (a later version of every visit): the offsets alone must skip them.
    later = [
        crossing(
            "VisitMade",
            case_id="NS-A",
            visit_id=f"V-A{i}",
            visit_type="OFFICE",
            occurred_at="2026-06-01T10:00:00+08:00",
        )
        for i in range(len(story))
    ]
    replay = store.apply_batch(engine, P, records(later))
    assert (replay.applied, replay.skipped, replay.changed) == (0, len(story), 0)
    assert store.dump(engine) == before
    assert store.stored_offsets(engine, P) == {("shared.gba.test", 0): len(story)}
    # A batch that straddles the stored offset applies only its new part.
    mixed = store.apply_batch(engine, P, records(later[:2], first_offset=len(story) - 1))
    assert (mixed.applied, mixed.skipped) == (1, 1)
    assert store.stored_offsets(engine, P) == {("shared.gba.test", 0): len(story) + 1}


def test_a_republished_event_changes_nothing(engine: Engine) -> None:
    story = case_story()
    store.apply_batch(engine, P, records(story))
    before = store.dump(engine)
    # The gateway published the closing and a visit again: same event_id, new offsets, another partition.
    summary = store.apply_batch(engine, P, records([story[3], story[1]], partition=2, first_offset=40))
    assert (summary.applied, summary.changed) == (2, 0)
    assert store.dump(engine) == before
    assert store.stored_offsets(engine, P) == {("shared.gba.test", 0): len(story), ("shared.gba.test", 2): 42}


def test_concurrent_batches_on_one_case_count_every_visit(engine: Engine) -> None:
    """Two workers (partitions of different topics) write visits of one case at the same time."""
    opened = crossing("CaseOpened", case_id="NS-X")
    visits = [
        crossing("VisitMade", case_id="NS-X", visit_id=f"V-{i}", occurred_at=f"2026-03-{1 + i % 28:02d}T10:00:00+08:00")
        for i in range(40)
    ]
    streams = [[opened, *visits[:20]], visits[20:]]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for offset, c in enumerate(streams[index]):
                store.apply_batch(engine, P, records([c], topic=f"shared.gba.t{index}", first_offset=offset))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    case = row(engine, "cases", zone="gba", district="shenzhen-nanshan", case_ref=opened.key)
    assert (case["visit_count"], case["home_visit_count"]) == (40, 40)


@pytest.mark.postgres
def test_postgres_refresh_waits_for_a_concurrent_writer_of_the_same_case(fresh_postgres_url: str) -> None:
    """READ COMMITTED: a refresh must not count from a snapshot older than a concurrent visit's commit.

    (SQLite needs no such test: BEGIN IMMEDIATE serialises every writer.)
    """
    migrations.upgrade(fresh_postgres_url)
    engine = make_engine(fresh_postgres_url)
    opened = crossing("CaseOpened", case_id="NS-Y")
    first, second = (crossing("VisitMade", case_id="NS-Y", visit_id=f"V-Y{i}") for i in (1, 2))
    store.apply_batch(engine, P, records([opened], topic="shared.gba.case-opened"))
    a_wrote, a_may_commit = threading.Event(), threading.Event()
    a_pid: list[int] = []
    errors: list[BaseException] = []

    def writer_a() -> None:  # holds its transaction open after writing a visit and refreshing the case
        try:
            with write_transaction(engine) as conn:
                a_pid.append(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                apply_changes(conn, TABLES, changes(first))
                a_wrote.set()
                assert a_may_commit.wait(120)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            a_wrote.set()

    def writer_b() -> None:
        try:
            store.apply_batch(engine, P, records([second], topic="shared.gba.visit-made", partition=1))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    a, b = threading.Thread(target=writer_a), threading.Thread(target=writer_b)
    try:
        a.start()
        assert a_wrote.wait(120)
        assert errors == [] and a_pid
        b.start()
        # Until B waits for a lock A holds (bounded: a B that never waits fails instead of blocking the suite).
        wait_until_blocked_by(fresh_postgres_url, a_pid[0])
    finally:
        a_may_commit.set()
        a.join()
        b.join()
    assert errors == []
    case = row(engine, "cases", zone="gba", district="shenzhen-nanshan", case_ref=opened.key)
    engine.dispose()
    assert case["visit_count"] == 2


# -- failures --------------------------------------------------------------------------------------
def test_a_record_the_database_refuses_is_reported_and_nothing_is_committed(engine: Engine) -> None:
    good = records(case_story())
    bad = Upsert(
        "visits",
        {"zone": "gba", "district": "shenzhen-nanshan", "visit_id": "V-BAD"},
        {"visit_type": None, "occurred_ms": 1, "event_id": "e"},  # NOT NULL columns left empty
        (1, "e"),
    )
    batch = [*good[:3], SourceRecord("shared.gba.test", 0, 3, [bad]), *records(case_story()[3:], first_offset=4)]
    with pytest.raises(RecordsRejected) as caught:
        store.apply_batch(engine, P, batch)
    assert [(r.topic, r.partition, r.offset) for r in caught.value.rejected] == [("shared.gba.test", 0, 3)]
    assert caught.value.rejected[0].reason
    assert store.stored_offsets(engine, P) == {}
    assert all(rows == [] for rows in store.dump(engine).values())
    # Dead-lettered by the caller, the record is applied as "no changes" so its offset still advances.
    batch[3] = SourceRecord("shared.gba.test", 0, 3, [])
    summary = store.apply_batch(engine, P, batch)
    assert summary.applied == len(batch)
    assert store.stored_offsets(engine, P) == {("shared.gba.test", 0): len(batch)}
    assert count(engine, "visits") == 3


def test_a_value_longer_than_its_column_is_never_cut_to_fit(engine: Engine) -> None:
    """PostgreSQL refuses it (a cast of the bound arrays to varchar(n) used to truncate it); SQLite keeps it whole."""
    opened = crossing("CaseOpened")
    long_zone = "z" * 40  # the zone column is String(32)
    batch = [SourceRecord("t", 0, 0, changes(opened, "gba")), SourceRecord("t", 0, 1, changes(opened, long_zone))]
    if engine.dialect.name == "postgresql":
        with pytest.raises(RecordsRejected) as caught:
            store.apply_batch(engine, P, batch)
        assert [r.offset for r in caught.value.rejected] == [1]
        assert "too long" in caught.value.rejected[0].reason
        batch[1] = SourceRecord("t", 0, 1, [])
        store.apply_batch(engine, P, batch)
        assert [r[0] for r in store.dump(engine)["cases"]] == ["gba"]
    else:
        store.apply_batch(engine, P, batch)
        assert sorted(r[0] for r in store.dump(engine)["cases"]) == ["gba", long_zone]
