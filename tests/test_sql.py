"""Engines of the read models: SQLite set-up and URL handling (PostgreSQL is exercised by test_read_models)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.errors import ConfigError
from hub.sql import BUSY_TIMEOUT_MS, is_sqlite, make_engine, normalise_url, write_transaction


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
