"""SQLAlchemy engines for the hub's SQL stores (read models, partner sinks): SQLite or PostgreSQL (psycopg 3).

A thin adapter, shared by ``projections/`` and ``consumers/``:

- :func:`normalise_url` is the one reading of a database URL (``postgres://``
  and ``postgresql://`` get psycopg 3; anything but SQLite and PostgreSQL is
  refused with an error naming the setting);
- :func:`make_engine` opens SQLite in WAL mode (readers never block the
  writer), with a busy timeout, foreign keys on, a 64 MiB page cache, and explicit ``BEGIN`` so
  that transactions and savepoints behave as on PostgreSQL; PostgreSQL with
  ``plan_cache_mode=force_custom_plan``, so that a statement whose parameter
  is a whole batch (an array of keys or of values) is planned for that batch
  and the tables' current size, never with a generic plan made once while
  the tables were nearly empty (a fresh worker's, a rebuild's shadow tables);
- :func:`write_transaction` begins with ``BEGIN IMMEDIATE`` on SQLite so that
  two writers queue instead of failing mid-way;
- :class:`UtcDateTime` is the one column type of an instant: aware UTC
  datetimes in, aware UTC datetimes out, on every dialect;
- :class:`GrowthStatistics` keeps PostgreSQL's planner statistics of tables
  that a process fills quickly (autovacuum analyzes them only once a minute).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, DateTime, Dialect, Engine, TypeDecorator, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from hub.errors import ConfigError

log = logging.getLogger("hub.sql")

BUSY_TIMEOUT_MS: Final = 30_000
#: SQLite's page cache per connection (KiB; its default is 2 MiB, which a table of a million rows outgrows).
CACHE_KIB: Final = 65_536
#: PostgreSQL plans every statement with its parameters (see the module docstring).
PLAN_CACHE_MODE: Final = "force_custom_plan"
_BEGIN_OPTION: Final = "hub_sqlite_begin"


DEFAULT_FORMS: Final = "sqlite:///path or postgresql+psycopg://"


def normalise_url(
    database_url: str,
    *,
    setting: str = "HUB_DATABASE_URL",
    forms: str = DEFAULT_FORMS,
    needs_file: bool = False,
) -> URL:
    """Parse ``database_url``; ``postgresql://`` and ``postgres://`` get the psycopg 3 driver.

    Raises :class:`ConfigError` naming ``setting`` (and the accepted ``forms``)
    for an unparsable URL, a backend other than SQLite and PostgreSQL, another
    driver, or, with ``needs_file``, an in-memory SQLite database (which keeps
    nothing once the process ends).
    """
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise ConfigError(f"{setting}: cannot parse {database_url!r} as a SQLAlchemy URL; use {forms}") from exc
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
        if needs_file and _in_memory(url):
            raise ConfigError(f"{setting}: an in-memory SQLite database keeps nothing; give a file, sqlite:///path.db")
        return url
    raise ConfigError(f"{setting}: unsupported database {backend!r}; use {forms}")


def _in_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or database.startswith("file::memory:")


def make_engine(
    database_url: str,
    *,
    setting: str = "HUB_DATABASE_URL",
    forms: str = DEFAULT_FORMS,
    needs_file: bool = False,
    synchronous: str = "NORMAL",
    begin: str = "DEFERRED",
    **kwargs: Any,
) -> Engine:
    """An engine for ``database_url`` (see the module docstring and :func:`normalise_url`).

    ``synchronous`` is SQLite's durability (``FULL`` survives a power cut);
    ``begin`` is how SQLite transactions begin unless a connection asks
    otherwise (``IMMEDIATE`` takes the write lock first).
    """
    url = normalise_url(database_url, setting=setting, forms=forms, needs_file=needs_file)
    if url.get_backend_name() == "postgresql":
        connect_args = dict(kwargs.pop("connect_args", {}))
        server = [connect_args.get("options"), f"-c plan_cache_mode={PLAN_CACHE_MODE}"]
        connect_args["options"] = " ".join(filter(None, server))
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    database = url.database or ""
    in_memory = _in_memory(url)
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
            cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
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
def write_transaction(engine: Engine, *, dry_run: bool = False) -> Iterator[Connection]:
    """A connection inside a transaction meant to write; commits on success, rolls back on error.

    On SQLite it begins with ``BEGIN IMMEDIATE`` (take the write lock first,
    waiting up to the busy timeout) so that a transaction that reads and
    then writes cannot fail on a lock upgrade. With ``dry_run`` it is rolled
    back even on success: nothing it wrote is ever seen by anyone else.
    """
    with engine.connect() as connection:
        if is_sqlite(engine):
            connection = connection.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with connection.begin() as transaction:
            yield connection
            if dry_run:
                transaction.rollback()


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: an aware datetime in, the same instant as an aware UTC datetime out, on every dialect.

    A naive datetime is refused (``ValueError``: which zone would it be in?).
    Stored as a naive UTC timestamp by default; with ``timezone=True`` as
    ``TIMESTAMPTZ`` on PostgreSQL (SQLite has no zoned type: naive UTC there
    too). The read models use the default, the partner sinks ``timezone=True``;
    both layouts are kept so that existing databases need no migration.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = False) -> None:
        super().__init__(timezone=timezone)
        self.timezone = timezone

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise ValueError(f"{value!r} is not a datetime: an instant is stored from an aware datetime")
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: only aware instants are stored (which zone would it be?)")
        utc = value.astimezone(UTC)
        if self.timezone and dialect.name == "postgresql":
            return utc
        return utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise ValueError(f"the database returned {value!r} for an instant column")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class GrowthStatistics:
    """ANALYZE a PostgreSQL table each time a process has written as many rows as the table had when last analyzed.

    The planner chooses between the indexes of a table from its statistics.
    A table filled from empty (a fresh database, a rebuild's shadow tables)
    has none until autovacuum's next round (every minute, and only past 10 %
    growth), and without them PostgreSQL may probe a batch's keys through the
    wrong index (tens of milliseconds per batch instead of one). Doubling
    thresholds (at least ``minimum`` rows) keep the work logarithmic in the
    rows written: a table that already holds millions is left to autovacuum.
    ANALYZE runs after the caller's commit, in its own transaction; row
    writers and readers never wait for it (a rebuild's swap, which locks the
    tables exclusively, waits until it ends), and a failure is only logged.
    SQLite is left alone (its planner needs no statistics for these lookups).
    """

    def __init__(self, minimum: int = 1000) -> None:
        self.minimum = minimum
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], int] = {}  # the table's rows as far as this process knows
        self._written: dict[tuple[str, str], int] = {}  # rows written since the last ANALYZE
        self._threshold: dict[tuple[str, str], int] = {}

    def wrote(self, engine: Engine, rows: Mapping[str, int]) -> None:
        """``rows`` were written (committed) per table name; analyze the tables that passed their threshold."""
        if is_sqlite(engine):
            return
        due: list[str] = []
        with self._lock:
            for table, n in rows.items():
                ident = (str(engine.url), table)
                if ident not in self._rows:
                    self._rows[ident] = _estimated_rows(engine, table)
                    self._threshold[ident] = max(self.minimum, self._rows[ident])
                self._rows[ident] += n
                written = self._written.get(ident, 0) + n
                if written >= self._threshold[ident]:
                    due.append(table)
                    self._threshold[ident] = max(self.minimum, self._rows[ident])
                    written = 0
                self._written[ident] = written
        for table in due:
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'ANALYZE "{table}"')
            except SQLAlchemyError as exc:
                log.warning("ANALYZE %s failed (left to autovacuum): %s", table, str(exc).splitlines()[0])


def _estimated_rows(engine: Engine, table: str) -> int:
    """The planner's row estimate of ``table`` (0 when never analyzed or unknown)."""
    try:
        with engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(name)s)", {"name": f'"{table}"'}
            ).scalar()
    except SQLAlchemyError:
        return 0
    return max(0, int(found or 0))
