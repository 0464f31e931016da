"""hub.sql.GrowthStatistics: a table filled from empty gets PostgreSQL planner statistics at doubling sizes.

Without statistics PostgreSQL probed a batch's keys through the wrong index of
``visits``; the store therefore analyzes the tables it fills. These tests
check when ANALYZE runs (``pg_class.reltuples`` is -1 until a table is first
analyzed, then the row count ANALYZE saw), never how long anything takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from hub.sql import GrowthStatistics, make_engine


@pytest.fixture
def engine(fresh_postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_postgres_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE facts (id integer PRIMARY KEY)"))
    yield engine
    engine.dispose()


def _add(engine: Engine, first: int, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO facts SELECT generate_series(CAST(:a AS integer), CAST(:b AS integer))"),
            {"a": first, "b": first + count - 1},
        )


def _reltuples(engine: Engine) -> float:
    with engine.connect() as conn:
        return float(conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'facts'")).scalar_one())


def test_a_table_is_analyzed_each_time_the_process_wrote_as_many_rows_as_it_held(engine: Engine) -> None:
    stats = GrowthStatistics(minimum=100)
    _add(engine, 1, 99)
    stats.wrote(engine, {"facts": 99})
    assert _reltuples(engine) == -1  # below the minimum: never analyzed
    _add(engine, 100, 1)
    stats.wrote(engine, {"facts": 1})
    assert _reltuples(engine) == 100
    _add(engine, 101, 99)
    stats.wrote(engine, {"facts": 99})
    assert _reltuples(engine) == 100  # 99 written since, the table held 100
    _add(engine, 200, 1)
    stats.wrote(engine, {"facts": 1})
    assert _reltuples(engine) == 200


def test_a_missing_table_is_only_logged(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    stats = GrowthStatistics(minimum=1)
    stats.wrote(engine, {"no_such_table": 5})
    assert "ANALYZE no_such_table failed" in caplog.text


def test_sqlite_is_left_alone(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/hub.db")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE facts (id integer PRIMARY KEY)"))
        GrowthStatistics(minimum=1).wrote(engine, {"facts": 10})
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")).all() == []
    finally:
        engine.dispose()
