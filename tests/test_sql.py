"""hub.sql: SQLite set-up, URL handling and the UTC instant type (the stores on PostgreSQL: test_read_models)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from datetime import timezone as timezone_of
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, insert, inspect, select, text
from sqlalchemy.exc import StatementError

from hub.errors import ConfigError
from hub.sql import BUSY_TIMEOUT_MS, UtcDateTime, is_sqlite, make_engine, normalise_url, write_transaction


def test_sqlite_gets_wal_busy_timeout_foreign_keys_and_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "hub.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == BUSY_TIMEOUT_MS
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert path.parent.is_dir() and is_sqlite(engine)
    finally:
        engine.dispose()


def test_a_write_transaction_takes_the_sqlite_write_lock_at_begin(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (a INTEGER)"))
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with write_transaction(engine), pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.execute("BEGIN IMMEDIATE")  # released at the end of the transaction
            other.execute("ROLLBACK")
        finally:
            other.close()
    finally:
        engine.dispose()


def test_a_failed_write_transaction_commits_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (a INTEGER)"))
        with pytest.raises(RuntimeError), write_transaction(engine) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("boom")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        engine.dispose()


def test_savepoints_work_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (a INTEGER)"))
        with write_transaction(engine) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            nested = conn.begin_nested()
            conn.execute(text("INSERT INTO t VALUES (2)"))
            nested.rollback()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT a FROM t")).scalars().all() == [1]
    finally:
        engine.dispose()


def test_in_memory_sqlite_shares_one_database() -> None:
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (a INTEGER)"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u:p@db:5432/hub", "postgresql+psycopg"),
        ("postgres://u@db/hub", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db/hub", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
        ("sqlite+pysqlite:///x.db", "sqlite+pysqlite"),
    ],
)
def test_urls_are_normalised_to_the_supported_drivers(given: str, driver: str) -> None:
    assert normalise_url(given).drivername == driver


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://u@db/hub", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@db/hub", "through psycopg 3"),
        ("sqlite+aiosqlite:///x.db", "standard library driver"),
        ("not a url", "cannot parse"),
    ],
)
def test_unsupported_urls_name_the_setting(given: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"HUB_DATABASE_URL: .*{message}"):
        normalise_url(given)


def test_an_unusable_sqlite_folder_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create the folder"):
        make_engine(f"sqlite:///{blocker}/sub/hub.db")


def test_a_file_is_required_where_an_in_memory_database_would_keep_nothing() -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(ConfigError, match="--sink: an in-memory SQLite database keeps nothing"):
            normalise_url(url, setting="--sink", needs_file=True)
    assert normalise_url("sqlite://", needs_file=False).drivername == "sqlite"
    with pytest.raises(ConfigError, match=r"--sink: unsupported database 'mysql'; use sqlite:///a\.db or jsonl"):
        normalise_url("mysql://u@db/hub", setting="--sink", forms="sqlite:///a.db or jsonl:///dir")


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("timezone", [False, True])
def test_utc_datetime_keeps_the_instant_and_reads_it_back_in_utc(
    dialect: str, timezone: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}" if dialect == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    engine = make_engine(url)
    table = Table("instants", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime(timezone)))
    shanghai = datetime(2026, 3, 2, 9, 30, tzinfo=timezone_of(timedelta(hours=8)))
    try:
        table.create(engine)
        with engine.begin() as conn:
            conn.execute(insert(table), [{"id": 1, "at": shanghai}, {"id": 2, "at": None}])
        with engine.connect() as conn:
            stored = dict(conn.execute(select(table.c.id, table.c.at)).all())
        assert stored == {1: shanghai, 2: None}
        assert stored[1].tzinfo == UTC and stored[1].hour == 1
        [column] = [c for c in inspect(engine).get_columns("instants") if c["name"] == "at"]
        if dialect == "postgresql":  # both layouts exist: the read models' (naive UTC) and the sinks' (zoned)
            assert isinstance(column["type"], DateTime) and column["type"].timezone is timezone
        with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
            conn.execute(insert(table), [{"id": 3, "at": datetime(2026, 3, 2, 9, 30)}])
    finally:
        engine.dispose()


def test_a_dry_run_transaction_is_rolled_back_even_on_success(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (a INTEGER)"))
        with write_transaction(engine, dry_run=True) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        engine.dispose()
