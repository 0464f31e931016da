"""hub.tracking on its own: the one classification of database errors, and the writer's edges, on real databases.

The guarantees every backend keeps are in the contract suite (tracking_contract.py); here is what only the
writer itself decides: which failure is which, a batch refused as a whole, invalid positions, lock scope.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, Column, Connection, Engine, Integer, MetaData, String, Table, insert, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from hub.errors import HubError, TransientError
from hub.sql import UtcDateTime, make_engine, write_transaction
from hub.tracking import Failure, Failures, OffsetsTable, RecordsRejected, TrackingWriter, classify, reason
from tests.fixtures.postgres import wait_until_blocked_by


class Fault(HubError):
    """The test's phase error."""


class Down(Fault, TransientError):
    """The test's outage."""


FAILURES = Failures(phase=Fault, unavailable=Down)
LAYOUT = OffsetsTable("test_offsets", owner_column="owner", record_time=True)


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    value: str | None = "v"


@dataclass
class Store:
    engine: Engine
    url: str
    offsets: Table
    rows: Table

    def writer(self, owner: str = "me") -> TrackingWriter:
        return TrackingWriter(self.engine, self.offsets, owner_column="owner", owner=owner, failures=FAILURES)

    def write(self, conn: Connection, fresh: Sequence[Rec]) -> int:
        """One row per record; ``value`` is NOT NULL and at most 8 characters."""
        if fresh:
            conn.execute(
                insert(self.rows),
                [{"position": f"{r.topic}/{r.partition}/{r.offset}", "value": r.value} for r in fresh],
            )
        return len(fresh)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"sqlite:///{tmp_path / 't.db'}" if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    )
    engine = make_engine(url)
    metadata = MetaData()
    offsets = LAYOUT.build(metadata)
    rows = Table(
        "rows",
        metadata,
        Column("position", String(64), primary_key=True),
        Column("value", String(8), nullable=False),
        Column("batch", Integer, CheckConstraint("batch IS NULL OR batch < 2", name="one_at_a_time")),
    )
    metadata.create_all(engine)
    try:
        yield Store(engine, url, offsets, rows)
    finally:
        engine.dispose()


# -- classification -----------------------------------------------------------------------------------------
def _error_of(engine: Engine, statement: str, params: dict[str, object] | None = None) -> SQLAlchemyError:
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params or {})
    except SQLAlchemyError as exc:
        return exc
    raise AssertionError(f"{statement} did not fail")


def test_a_refused_value_a_bug_and_an_outage_are_told_apart(db: Store) -> None:
    not_null = _error_of(db.engine, "INSERT INTO rows (position, value) VALUES ('a', NULL)")
    assert classify(not_null) is Failure.REFUSED
    missing = _error_of(db.engine, "INSERT INTO rows (nope) VALUES (1)")  # a schema that does not match the code
    # PostgreSQL: a ProgrammingError. SQLite says OperationalError, as for a locked database: waited out (the
    # worker's migration may be creating the table), so the SQLite store behaves as it always has.
    expected = Failure.TRANSIENT if db.engine.dialect.name == "sqlite" else Failure.FAULT
    assert classify(missing) is expected
    locked = OperationalError("SELECT 1", {}, Exception("database is locked"))
    assert classify(locked) is Failure.TRANSIENT
    if db.engine.dialect.name == "postgresql":
        too_long = _error_of(db.engine, "INSERT INTO rows (position, value) VALUES ('b', 'ninechars')")
        assert classify(too_long) is Failure.REFUSED and "too long" in reason(too_long)


def test_a_value_the_driver_cannot_adapt_is_a_fault_not_a_refusal(db: Store) -> None:
    """A ProgrammingError means the code built the row wrong: the same for every record, so never dead-lettered."""
    with pytest.raises(SQLAlchemyError) as caught, db.engine.begin() as conn:
        conn.execute(insert(db.rows), [{"position": "p", "value": {"a": 1}}])
    assert classify(caught.value) is Failure.FAULT
    with pytest.raises(Fault, match="sink x") as translated:
        db.writer().apply(
            [Rec("t", 0, 0)],
            lambda conn, fresh: conn.execute(insert(db.rows), [{"position": "p", "value": {"a": 1}}]),
            doing="sink x",
        )
    assert not isinstance(translated.value, TransientError | RecordsRejected)


def test_a_value_a_column_type_refuses_before_the_database_sees_it_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'u.db'}")
    table = Table("t", MetaData(), Column("at", UtcDateTime()))
    table.create(engine)
    try:
        with pytest.raises(SQLAlchemyError) as caught, engine.begin() as conn:
            conn.execute(insert(table), [{"at": datetime(2026, 1, 1)}])  # naive: which zone?
        assert classify(caught.value) is Failure.REFUSED
        assert "naive datetime" in reason(caught.value)
    finally:
        engine.dispose()


def test_outages_and_invalidated_connections_are_transient() -> None:
    assert classify(OperationalError("SELECT 1", {}, Exception("database is locked"))) is Failure.TRANSIENT
    dropped = DBAPIError("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True)
    assert classify(dropped) is Failure.TRANSIENT
    error = FAILURES.translate(OperationalError("SELECT 1", {}, Exception("database is locked")), "writing")
    assert isinstance(error, Down) and isinstance(error, TransientError)
    assert str(error) == "writing: the database is unavailable or busy: database is locked"


def test_an_unreachable_database_is_transient() -> None:
    from tests.conftest import free_port

    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=2")
    writer = TrackingWriter(engine, LAYOUT.build(MetaData()), owner_column="owner", owner="me", failures=FAILURES)
    try:
        with pytest.raises(Down, match="reading: the database is unavailable or busy"):
            writer.stored(doing="reading")
        with pytest.raises(Down):
            writer.apply([Rec("t", 0, 0)], lambda conn, fresh: 0, doing="writing")
    finally:
        engine.dispose()


# -- the writer's edges -----------------------------------------------------------------------------------------
def test_a_batch_refused_as_a_whole_but_by_no_record_alone_is_a_fault(db: Store) -> None:
    """Nothing to dead-letter, and retrying cannot help: the caller's phase error, nothing committed."""

    def write(conn: Connection, fresh: Sequence[Rec]) -> int:
        conn.execute(insert(db.rows), [{"position": f"{r.offset}", "value": "v", "batch": len(fresh)} for r in fresh])
        return len(fresh)

    with pytest.raises(Fault, match="no record is refused on its own") as caught:
        db.writer().apply([Rec("t", 0, 0), Rec("t", 0, 1)], write, doing="writing")
    assert not isinstance(caught.value, TransientError)
    assert db.writer().stored(doing="reading") == {}
    assert db.writer().apply([Rec("t", 0, 0)], write, doing="writing").offsets == {("t", 0): 1}


def test_invalid_positions_are_refused_before_anything_is_written(db: Store) -> None:
    with pytest.raises(Fault, match=r"offset: t\[0\]@-1 is not a valid position"):
        db.writer().apply([Rec("t", 0, -1)], db.write, doing="writing")
    assert db.writer().stored(doing="reading") == {}


def test_offsets_are_kept_per_owner_with_the_newest_record_time(db: Store) -> None:
    stamps = {0: 1_770_000_000_500, 1: 1_770_000_000_100}
    done = db.writer("a").apply(
        [Rec("t", 0, 0), Rec("t", 0, 1)], db.write, doing="writing", timestamp=lambda r: stamps[r.offset]
    )
    assert (done.rows, done.offsets, done.skipped) == (2, {("t", 0): 2}, 0)
    assert db.writer("b").stored(doing="reading") == {}
    assert db.writer("a").stored(doing="reading") == {("t", 0): 2}
    with db.engine.connect() as conn:
        [stored] = conn.execute(db.offsets.select()).mappings().all()
    assert (stored["owner"], stored["next_offset"], stored["last_record_ms"]) == ("a", 2, 1_770_000_000_500)
    assert stored["updated_at"].tzinfo == UTC


def test_a_dead_lettered_record_advances_its_offset_without_rows(db: Store) -> None:
    done = db.writer().apply(
        [Rec("t", 3, 7, None)], lambda conn, fresh: db.write(conn, [r for r in fresh if r.value]), doing="w"
    )
    assert (done.rows, done.offsets, done.skipped) == (0, {("t", 3): 8}, 0)


@pytest.mark.postgres
def test_writers_of_other_partitions_do_not_wait_for_held_offsets(fresh_postgres_url: str) -> None:
    """PostgreSQL: only the batch's own offset rows are locked; a writer of p1 commits while p0 is held."""
    engine = make_engine(fresh_postgres_url)
    offsets = LAYOUT.build(MetaData())
    offsets.create(engine)
    writer = TrackingWriter(engine, offsets, owner_column="owner", owner="me", failures=FAILURES)
    errors: list[BaseException] = []

    def apply(partition: int) -> None:
        try:
            writer.apply([Rec("t", partition, 0)], lambda conn, fresh: 0, doing="writing")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    try:
        with write_transaction(engine, dry_run=True) as holder:
            pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()
            writer.lock(holder, [("t", 0)])
            other = threading.Thread(target=apply, args=(1,))
            other.start()
            other.join(60)
            assert not other.is_alive(), "the writer of partition 1 waited for partition 0"
            blocked = threading.Thread(target=apply, args=(0,))
            blocked.start()
            wait_until_blocked_by(fresh_postgres_url, pid)  # ... and a writer of partition 0 does wait
        blocked.join(60)
        assert not blocked.is_alive()
        assert errors == []
        assert writer.stored(doing="reading") == {("t", 0): 1, ("t", 1): 1}
    finally:
        engine.dispose()
