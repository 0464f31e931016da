"""Schema migrations of the read models (Alembic), callable from the hub.

``upgrade(url)`` brings a database to the newest revision; the projection
worker runs it at start and ``hub db upgrade`` runs it on demand. It is safe
to run concurrently: the whole upgrade is one transaction, serialised by
``BEGIN IMMEDIATE`` on SQLite and an advisory lock on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import ConfigError, ProjectionError

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent
ALEMBIC_INI: Final = MIGRATIONS_DIR.parent / "alembic.ini"
VERSION_TABLE: Final = "read_models_alembic_version"
_PG_LOCK: Final = 0x6875625F6462  # "hub_db": one advisory lock for every hub migration


def _config(connection: Connection | None = None) -> object:
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.is_file() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision shipped with the hub."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())  # type: ignore[arg-type]
    revision = script.get_current_head()
    if revision is None:
        raise ConfigError(f"no Alembic revisions under {MIGRATIONS_DIR / 'versions'}")
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    except SQLAlchemyError as exc:
        raise ProjectionError(f"reading the schema revision: {exc}") from exc


def upgrade_engine(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the database of ``engine`` to ``revision``; returns the revision it is now at."""
    from alembic import command
    from alembic.util import CommandError

    from hub.sql import write_transaction

    try:
        with write_transaction(engine) as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            command.upgrade(_config(connection), revision)  # type: ignore[arg-type]
    except CommandError as exc:
        raise ConfigError(f"migrating the read models to {revision}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise ProjectionError(f"migrating the read models to {revision}: {exc}") from exc
    return current(engine)


def upgrade(engine_url: str, revision: str = "head") -> str | None:
    """Upgrade the database at ``engine_url`` (e.g. ``settings.database_url``) to ``revision``."""
    from hub.sql import make_engine

    engine = make_engine(engine_url)
    try:
        return upgrade_engine(engine, revision)
    finally:
        engine.dispose()
