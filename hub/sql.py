"""SQLAlchemy engines for the hub's SQL stores (read models, partner sinks): SQLite or PostgreSQL (psycopg 3).

A thin adapter, shared by ``projections/`` and ``consumers/``. SQLite is
opened in WAL mode (readers never block the writer), with a busy timeout,
foreign keys on, and explicit ``BEGIN`` so that transactions and savepoints
behave as on PostgreSQL; :func:`write_transaction` begins with ``BEGIN
IMMEDIATE`` so that two writers queue instead of failing mid-way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from hub.errors import ConfigError

BUSY_TIMEOUT_MS: Final = 30_000
_BEGIN_OPTION: Final = "hub_sqlite_begin"


def normalise_url(database_url: str, *, setting: str = "HUB_DATABASE_URL") -> URL:
    """Parse ``database_url``; ``postgresql://`` and ``postgres://`` get the psycopg 3 driver.

    Raises :class:`ConfigError` naming ``setting`` for an unparsable URL or a
    backend other than SQLite and PostgreSQL.
    """
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise ConfigError(f"{setting}: cannot parse {database_url!r} as a SQLAlchemy URL") from exc
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend == "postgresql":
        if driver not in ("", "psycopg"):
            raise ConfigError(f"{setting}: PostgreSQL is used through psycopg 3 (postgresql+psycopg://), not {driver}")
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ConfigError(f"{setting}: SQLite is used through the standard library driver, not {driver}")
        return url
    raise ConfigError(f"{setting}: unsupported database {backend!r}; use sqlite:///path or postgresql+psycopg://")


def make_engine(
    database_url: str,
    *,
    setting: str = "HUB_DATABASE_URL",
    synchronous: str = "NORMAL",
    begin: str = "DEFERRED",
    **kwargs: Any,
) -> Engine:
    """An engine for ``database_url`` (see the module docstring).

    ``synchronous`` is SQLite's durability (``FULL`` survives a power cut);
    ``begin`` is how SQLite transactions begin unless a connection asks
    otherwise (``IMMEDIATE`` takes the write lock first).
    """
    url = normalise_url(database_url, setting=setting)
    if url.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{setting}: cannot create the folder of {database}: {exc}") from exc
    options: dict[str, Any] = {"connect_args": {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}}
    if in_memory:
        options["poolclass"] = StaticPool
    options.update(kwargs)
    engine = create_engine(url, **options)
    _set_up_sqlite(engine, synchronous, begin)
    return engine


def _set_up_sqlite(engine: Engine, synchronous: str, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, begin)
        connection.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine: Engine | Connection) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction meant to write; commits on success, rolls back on error.

    On SQLite it begins with ``BEGIN IMMEDIATE`` (take the write lock first,
    waiting up to the busy timeout) so that a transaction that reads and
    then writes cannot fail on a lock upgrade.
    """
    with engine.connect() as connection:
        if is_sqlite(engine):
            connection = connection.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin():
            yield connection
