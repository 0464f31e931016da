"""``hub db upgrade|current``, run as a user runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from hub.sql import make_engine
from projections import migrations
from projections.tables import metadata

HUB = str(Path(sys.executable).with_name("hub"))


def _hub(args: list[str], env_extra: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    env.update(env_extra)
    return subprocess.run([HUB, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/hub.db"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


def test_db_upgrade_creates_the_read_models_and_is_repeatable(database_url: str, tmp_path: Path) -> None:
    env = {"HUB_DATABASE_URL": database_url}
    before = _hub(["db", "current"], env, tmp_path)
    assert before.returncode == 0, before.stderr
    assert "revision none" in before.stdout and "behind" in before.stdout
    for _ in range(2):
        proc = _hub(["db", "upgrade"], env, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert f"revision {migrations.head()}" in proc.stdout
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) == set(metadata.tables) | {migrations.VERSION_TABLE}
    finally:
        engine.dispose()
    after = _hub(["db", "current"], env, tmp_path)
    assert "up to date" in after.stdout


def test_db_upgrade_to_an_unknown_revision_is_a_one_line_error(tmp_path: Path) -> None:
    proc = _hub(["db", "upgrade", "--revision", "nope"], {"HUB_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db"}, tmp_path)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "nope" in proc.stderr


def test_db_upgrade_without_a_setting_uses_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    proc = _hub(["db", "upgrade"], {"HUB_DATA_DIR": str(tmp_path / "state")}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "state" / "hub.db").is_file()
