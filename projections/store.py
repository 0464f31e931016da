"""The SQL adapter of the projections: apply row changes and offsets in one transaction.

:func:`apply_batch` is the exactly-once step. In ONE database transaction it

1. reads (and on PostgreSQL locks) the stored ``next_offset`` of every
   ``(projection, topic, partition)`` of the batch and skips the records below
   it: they were applied by an earlier transaction (the real guard);
2. applies the upserts, grouped by table and column set and sent with
   ``executemany``: ``INSERT .. ON CONFLICT DO UPDATE .. WHERE`` the incoming
   version beats the stored one, on SQLite and PostgreSQL alike;
3. recomputes the derived columns the batch touched (a case's visit counts,
   last visit and status) from the facts;
4. writes the offsets reached, and commits.

A crash anywhere before the commit leaves rows and offsets as they were.

Shadow tables (``<table>__shadow``) let a rebuild refill a projection while
the live tables answer queries; :func:`swap_shadow` replaces the live tables
by the shadow ones with renames in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    inspect,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import (
    TimeoutError as PoolTimeoutError,
)

from hub.errors import ProjectionError
from hub.sql import is_sqlite, write_transaction
from projections.rules import Refresh, RowChange, Upsert
from projections.tables import (
    PROJECTION_TABLES,
    READ_MODELS,
    SHADOW_SUFFIX,
    projection_offsets,
    tables_for,
)

TopicPartition = tuple[str, int]
_HOME: Final = "HOME"
#: Without it psycopg's cursor is closed before SQLAlchemy reads the count of an INSERT.
_COUNT_ROWS: Final = {"preserve_rowcount": True}


# -- values in and out ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceRecord:
    """One consumed record and the row changes it implies (none if it was dead-lettered)."""

    topic: str
    partition: int
    offset: int
    changes: Sequence[RowChange] = field(default=(), hash=False)
    timestamp_ms: int | None = None
    """The Kafka record timestamp, kept per partition for time lag."""

    @property
    def tp(self) -> TopicPartition:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class BatchSummary:
    """What :func:`apply_batch` did."""

    applied: int
    """Records applied in this transaction."""
    skipped: int
    """Records below the stored offsets (already applied before): nothing was done for them."""
    changed: int
    """Rows inserted or updated (fact upserts that won plus derived rows that changed)."""
    offsets: dict[TopicPartition, int]
    """``next_offset`` stored per (topic, partition) after the commit."""


@dataclass(frozen=True)
class Rejected:
    """A record whose changes the database refused."""

    topic: str
    partition: int
    offset: int
    reason: str


class StoreUnavailable(ProjectionError):
    """The database could not be reached or the transaction could not complete (lock, deadlock): retry later."""


class RecordsRejected(ProjectionError):
    """Some records of a batch cannot be applied; nothing was committed.

    Dead-letter them, then apply the batch again with their ``changes`` emptied
    (so that their offsets still advance).
    """

    def __init__(self, rejected: Sequence[Rejected]) -> None:
        self.rejected = list(rejected)
        detail = "; ".join(f"{r.topic}[{r.partition}]@{r.offset}: {r.reason}" for r in self.rejected[:5])
        more = f" (and {len(self.rejected) - 5} more)" if len(self.rejected) > 5 else ""
        super().__init__(f"{len(self.rejected)} record(s) cannot be applied: {detail}{more}")


class _RollBack(Exception):
    """Raised to leave a transaction without committing it."""


class ShadowBehind(ProjectionError):
    """The shadow tables have not yet reached the live offsets; apply more before swapping."""


@dataclass(frozen=True)
class OffsetRow:
    """One row of ``projection_offsets``."""

    projection: str
    topic: str
    partition: int
    next_offset: int
    last_record_ms: int | None
    updated_at: datetime


# -- apply --------------------------------------------------------------------------------------------
def apply_batch(engine: Engine, projection: str, records: Sequence[SourceRecord], *, suffix: str = "") -> BatchSummary:
    """Apply ``records`` and the offsets they reach in one transaction (see the module docstring).

    ``suffix`` selects the table set (``""`` live, ``"__shadow"`` a rebuild's)
    and stores the offsets under ``projection + suffix``.

    Raises :class:`RecordsRejected` (nothing committed) when the database
    refuses the changes of some records, :class:`StoreUnavailable` when it
    cannot be reached or the transaction must be retried, and
    :class:`ProjectionError` otherwise.
    """
    owner = _owner(projection, suffix)
    tables = tables_for(suffix)
    for record in records:
        if record.partition < 0 or record.offset < 0:
            raise ProjectionError(f"offset: {record.topic}[{record.partition}]@{record.offset} is not a valid position")
    try:
        return _apply(engine, owner, tables, records)
    except (IntegrityError, DataError) as exc:
        failure: SQLAlchemyError = exc
    except StatementError as exc:
        if isinstance(exc, DBAPIError):
            raise _translate(exc, f"applying a batch to {owner}") from exc
        failure = exc  # a value the column type refused before it reached the database
    except SQLAlchemyError as exc:
        raise _translate(exc, f"applying a batch to {owner}") from exc
    rejected = _find_rejected(engine, owner, tables, records)
    if not rejected:
        raise ProjectionError(f"applying a batch to {owner}: {_reason(failure)}") from failure
    raise RecordsRejected(rejected) from failure


def _apply(engine: Engine, owner: str, tables: Mapping[str, Table], records: Sequence[SourceRecord]) -> BatchSummary:
    with write_transaction(engine) as conn:
        stored = _lock_offsets(conn, owner, {r.tp for r in records})
        todo: list[SourceRecord] = []
        seen: set[tuple[str, int, int]] = set()
        skipped = 0
        for record in records:
            position = (record.topic, record.partition, record.offset)
            if record.offset < stored.get(record.tp, 0) or position in seen:
                skipped += 1
                continue
            seen.add(position)
            todo.append(record)
        changed = _apply_changes(conn, tables, [c for r in todo for c in r.changes])
        reached = _write_offsets(conn, owner, todo, stored)
    return BatchSummary(applied=len(todo), skipped=skipped, changed=changed, offsets={**stored, **reached})


def _find_rejected(
    engine: Engine, owner: str, tables: Mapping[str, Table], records: Sequence[SourceRecord]
) -> list[Rejected]:
    """Apply each record under its own savepoint to find the ones the database refuses; commit nothing."""
    rejected: list[Rejected] = []
    try:
        with write_transaction(engine) as conn:
            stored = _lock_offsets(conn, owner, {r.tp for r in records})
            for record in records:
                if record.offset < stored.get(record.tp, 0) or not record.changes:
                    continue
                savepoint = conn.begin_nested()
                try:
                    _apply_changes(conn, tables, list(record.changes))
                except (IntegrityError, DataError) as exc:
                    savepoint.rollback()
                    rejected.append(Rejected(record.topic, record.partition, record.offset, _reason(exc)))
                except StatementError as exc:
                    if isinstance(exc, DBAPIError):
                        raise
                    savepoint.rollback()
                    rejected.append(Rejected(record.topic, record.partition, record.offset, _reason(exc)))
                else:
                    savepoint.commit()
            raise _RollBack
    except _RollBack:
        pass
    except SQLAlchemyError as exc:
        raise _translate(exc, f"checking a batch of {owner} record by record") from exc
    return rejected


def _apply_changes(conn: Connection, tables: Mapping[str, Table], changes: Sequence[RowChange]) -> int:
    upserts: dict[tuple[str, tuple[Any, ...], tuple[str, str]], Upsert] = {}
    refreshes: dict[str, set[tuple[Any, ...]]] = {}
    for change in changes:
        if isinstance(change, Upsert):
            table = _table(tables, change.table)
            ident = (change.table, _key_tuple(table, change.key), change.version_columns)
            held = upserts.get(ident)
            if held is None or _beats(change, held):
                upserts[ident] = change
        elif isinstance(change, Refresh):
            if change.table not in _REFRESHERS:
                raise ProjectionError(f"refresh: no derived columns to recompute in table {change.table!r}")
            refreshes.setdefault(change.table, set()).add(_key_tuple(_table(tables, change.table), change.key))
        else:
            raise ProjectionError(f"changes: unknown row change {type(change).__name__}")
    _refresh_repointed_visits(conn, tables, upserts.values(), refreshes)
    if not is_sqlite(conn):
        _advisory_locks(conn, tables, refreshes)
    changed = 0
    groups: dict[tuple[Any, ...], list[Upsert]] = {}
    for upsert in upserts.values():
        signature = (
            upsert.table,
            upsert.version_columns,
            upsert.keep,
            tuple(sorted(upsert.values)),
            tuple(sorted(upsert.insert_values)),
        )
        groups.setdefault(signature, []).append(upsert)
    order = {name: i for i, name in enumerate(tables)}
    for signature in sorted(groups, key=lambda s: (order[s[0]], s[1:])):
        table = tables[signature[0]]
        items = sorted(groups[signature], key=lambda u: _sortable(_key_tuple(table, u.key)))
        changed += _run_upserts(conn, table, items)
    for name in sorted(refreshes):
        changed += _REFRESHERS[name](conn, tables, sorted(refreshes[name], key=_sortable))
    return changed


def _beats(challenger: Upsert, holder: Upsert) -> bool:
    if challenger.keep == "earliest":
        return challenger.version < holder.version
    return challenger.version > holder.version


def _table(tables: Mapping[str, Table], name: str) -> Table:
    try:
        return tables[name]
    except KeyError:
        raise ProjectionError(f"table: no read-model table {name!r}; known: {', '.join(tables)}") from None


def _key_tuple(table: Table, key: Mapping[str, Any]) -> tuple[Any, ...]:
    names = [c.name for c in table.primary_key.columns]
    if set(key) != set(names):
        raise ProjectionError(f"key of {table.name}: expected columns {', '.join(names)}, got {', '.join(sorted(key))}")
    return tuple(key[n] for n in names)


def _sortable(key: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in key)


def _upsert_statement(conn: Connection, table: Table, sample: Upsert, columns: Sequence[str] | None) -> Any:
    """``INSERT .. ON CONFLICT DO UPDATE .. WHERE`` the incoming version wins.

    With ``columns`` (PostgreSQL) the rows come as one array per column,
    ``INSERT .. SELECT * FROM unnest(...)``: one statement of constant shape
    (compiled and planned once) whatever the number of rows.
    """
    if columns is None:
        insert: Any = sqlite.insert(table)
    else:
        arrays = [bindparam(f"a_{name}", type_=ARRAY(_element_type(table.c[name].type))) for name in columns]
        rows = func.unnest(*arrays).table_valued(*columns).render_derived()
        insert = postgresql.insert(table).from_select(list(columns), select(*(rows.c[n] for n in columns)))
    excluded = insert.excluded
    ms, eid = sample.version_columns
    stored_ms, stored_eid, new_ms, new_eid = table.c[ms], table.c[eid], excluded[ms], excluded[eid]
    if sample.keep == "earliest":
        wins = or_(stored_ms.is_(None), new_ms < stored_ms, and_(new_ms == stored_ms, new_eid < stored_eid))
    else:
        wins = or_(stored_ms.is_(None), new_ms > stored_ms, and_(new_ms == stored_ms, new_eid > stored_eid))
    return insert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: excluded[name] for name in sorted(sample.values)},
        where=wins,
    )


def _element_type(column_type: Any) -> Any:
    """Type of the array elements bound for a column: a string type loses its length.

    An explicit cast to ``varchar(n)`` silently truncates a longer value; without
    the length, the INSERT's assignment cast refuses it ("value too long"), as a
    plain INSERT would.
    """
    if isinstance(column_type, String) and column_type.length is not None:
        return String()
    return column_type


def _run_upserts(conn: Connection, table: Table, items: Sequence[Upsert]) -> int:
    """One statement per group: executemany on SQLite (in-process), column arrays on PostgreSQL.

    Keys are unique within ``items`` (collapsed by the caller), so no row is affected twice by one statement.
    """
    rows = [{**u.insert_values, **u.values, **u.key} for u in items]
    if conn.dialect.name != "postgresql":
        statement = _upsert_statement(conn, table, items[0], None)
        return _rowcount(conn.execute(statement, rows, execution_options=_COUNT_ROWS).rowcount)
    columns = sorted(rows[0])
    statement = _upsert_statement(conn, table, items[0], columns)
    arrays = {f"a_{name}": [r[name] for r in rows] for name in columns}
    return _rowcount(conn.execute(statement, arrays, execution_options=_COUNT_ROWS).rowcount)


def _rowcount(value: int) -> int:
    if value < 0:
        raise ProjectionError("the database driver did not report how many rows a statement changed")
    return value


def _refresh_repointed_visits(
    conn: Connection,
    tables: Mapping[str, Table],
    upserts: Iterable[Upsert],
    refreshes: dict[str, set[tuple[Any, ...]]],
) -> None:
    """A visit that moves to another case must also refresh the case it leaves."""
    visits = tables["visits"]
    by_place: dict[tuple[str, str], list[str]] = {}
    for upsert in upserts:
        if upsert.table == "visits":
            by_place.setdefault((upsert.key["zone"], upsert.key["district"]), []).append(upsert.key["visit_id"])
    for (zone, district), visit_ids in sorted(by_place.items()):
        query = select(visits.c.case_ref).where(
            visits.c.zone == zone, visits.c.district == district, visits.c.visit_id.in_(sorted(set(visit_ids)))
        )
        for (case_ref,) in conn.execute(query):
            refreshes.setdefault("cases", set()).add((zone, district, case_ref))


def _advisory_locks(
    conn: Connection, tables: Mapping[str, Table], refreshes: Mapping[str, set[tuple[Any, ...]]]
) -> None:
    """PostgreSQL: serialise refreshes of the same row across concurrent transactions.

    Taken before any write, in key order, so that the refresh (a later
    statement, hence a fresh snapshot) sees every committed fact.
    """
    keys = sorted({_lock_id(tables[name].name, key) for name, members in refreshes.items() for key in members})
    if keys:
        statement = text("SELECT pg_advisory_xact_lock(k) FROM unnest(:keys) AS k ORDER BY k").bindparams(
            bindparam("keys", type_=ARRAY(BigInteger))
        )
        conn.execute(statement, {"keys": keys})


def _lock_id(table_name: str, key: tuple[Any, ...]) -> int:
    text_key = "\x1f".join([table_name, *("" if v is None else str(v) for v in key)])
    return int.from_bytes(hashlib.blake2b(text_key.encode(), digest_size=8).digest(), "big", signed=True)


# -- derived columns ------------------------------------------------------------------------------------
def _refresh_cases(conn: Connection, tables: Mapping[str, Table], keys: Sequence[tuple[Any, ...]]) -> int:
    """Recompute visit_count, home_visit_count, last_visit_at and status of the cases ``keys``.

    One aggregate query over the visits per (zone, district), then one
    executemany UPDATE that writes only rows whose derived values differ.
    """
    cases, visits = tables["cases"], tables["visits"]
    facts: dict[tuple[Any, ...], tuple[int, int, datetime | None]] = {}
    by_place: dict[tuple[str, str], list[str]] = {}
    for zone, district, case_ref in keys:
        by_place.setdefault((zone, district), []).append(case_ref)
    home = func.sum(case((visits.c.visit_type == _HOME, 1), else_=0))
    for (zone, district), refs in sorted(by_place.items()):
        query = (
            select(visits.c.case_ref, func.count(), home, func.max(visits.c.occurred_at))
            .where(visits.c.zone == zone, visits.c.district == district, visits.c.case_ref.in_(sorted(set(refs))))
            .group_by(visits.c.case_ref)
        )
        for case_ref, visit_count, home_count, last_visit in conn.execute(query):
            facts[(zone, district, case_ref)] = (int(visit_count), int(home_count or 0), last_visit)
    status: ColumnElement[Any] = case(
        (
            and_(
                cases.c.closed_ms.is_not(None),
                or_(cases.c.occurred_ms.is_(None), cases.c.closed_ms >= cases.c.occurred_ms),
            ),
            "closed",
        ),
        (cases.c.occurred_ms.is_not(None), "open"),
        else_="unknown",
    )
    new_count, new_home = bindparam("n_visits", type_=Integer), bindparam("n_home", type_=Integer)
    new_last = bindparam("last_visit", type_=cases.c.last_visit_at.type)
    statement = (
        update(cases)
        .where(
            cases.c.zone == bindparam("k_zone"),
            cases.c.district == bindparam("k_district"),
            cases.c.case_ref == bindparam("k_case_ref"),
            or_(
                cases.c.visit_count != new_count,
                cases.c.home_visit_count != new_home,
                cases.c.last_visit_at.is_distinct_from(new_last),
                cases.c.status != status,
            ),
        )
        .values(visit_count=new_count, home_visit_count=new_home, last_visit_at=new_last, status=status)
    )
    rows = []
    for key in keys:
        visit_count, home_count, last_visit = facts.get(key, (0, 0, None))
        zone, district, case_ref = key
        rows.append(
            {
                "k_zone": zone,
                "k_district": district,
                "k_case_ref": case_ref,
                "n_visits": visit_count,
                "n_home": home_count,
                "last_visit": last_visit,
            }
        )
    return _rowcount(conn.execute(statement, rows, execution_options=_COUNT_ROWS).rowcount)


_REFRESHERS: Final = {"cases": _refresh_cases}


# -- offsets --------------------------------------------------------------------------------------------
def _owner(projection: str, suffix: str) -> str:
    if not isinstance(projection, str) or not projection or len(projection + suffix) > 64:
        raise ProjectionError(f"projection: must be a name of 1..64 characters with its suffix, got {projection!r}")
    return projection + suffix


def _lock_offsets(conn: Connection, owner: str, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
    """The stored offsets of ``owner``; on PostgreSQL the rows of ``tps`` are created if needed and locked."""
    table = projection_offsets
    if tps and not is_sqlite(conn):
        now = datetime.now(UTC)
        seed = [
            {"projection": owner, "topic": t, "partition": p, "next_offset": 0, "updated_at": now}
            for t, p in sorted(tps)
        ]
        conn.execute(postgresql.insert(table).on_conflict_do_nothing(), seed)
        query = (
            select(table.c.topic, table.c.partition, table.c.next_offset)
            .where(table.c.projection == owner, tuple_(table.c.topic, table.c.partition).in_(sorted(tps)))
            .order_by(table.c.topic, table.c.partition)
            .with_for_update()
        )
        locked = {(t, p): int(n) for t, p, n in conn.execute(query)}
        return {**_read_offsets(conn, owner), **locked}
    return _read_offsets(conn, owner)


def _read_offsets(conn: Connection, owner: str) -> dict[TopicPartition, int]:
    table = projection_offsets
    query = select(table.c.topic, table.c.partition, table.c.next_offset).where(table.c.projection == owner)
    return {(t, p): int(n) for t, p, n in conn.execute(query)}


def _write_offsets(
    conn: Connection, owner: str, applied: Sequence[SourceRecord], stored: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    reached: dict[TopicPartition, int] = {}
    stamps: dict[TopicPartition, int] = {}
    for record in applied:
        reached[record.tp] = max(reached.get(record.tp, 0), record.offset + 1)
        if record.timestamp_ms is not None:
            stamps[record.tp] = max(stamps.get(record.tp, record.timestamp_ms), record.timestamp_ms)
    reached = {tp: n for tp, n in reached.items() if n > stored.get(tp, 0)}
    if not reached:
        return {}
    now = datetime.now(UTC)
    rows = [
        {
            "projection": owner,
            "topic": t,
            "partition": p,
            "next_offset": n,
            "last_record_ms": stamps.get((t, p)),
            "updated_at": now,
        }
        for (t, p), n in sorted(reached.items())
    ]
    table = projection_offsets
    insert = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    statement = insert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={
            "next_offset": insert.excluded.next_offset,
            "last_record_ms": func.coalesce(insert.excluded.last_record_ms, table.c.last_record_ms),
            "updated_at": insert.excluded.updated_at,
        },
        where=insert.excluded.next_offset > table.c.next_offset,
    )
    conn.execute(statement, rows)
    return reached


def stored_offsets(engine: Engine, projection: str, *, suffix: str = "") -> dict[TopicPartition, int]:
    """``next_offset`` per (topic, partition) stored for ``projection`` (+ ``suffix``)."""
    owner = _owner(projection, suffix)
    try:
        with engine.connect() as conn:
            return _read_offsets(conn, owner)
    except SQLAlchemyError as exc:
        raise _translate(exc, f"reading the offsets of {owner}") from exc


def offset_rows(engine: Engine, projection: str | None = None) -> list[OffsetRow]:
    """Rows of ``projection_offsets`` (all projections, or one), for lag and status."""
    table = projection_offsets
    query = select(table).order_by(table.c.projection, table.c.topic, table.c.partition)
    if projection is not None:
        query = query.where(table.c.projection == projection)
    try:
        with engine.connect() as conn:
            return [OffsetRow(**row._mapping) for row in conn.execute(query)]
    except SQLAlchemyError as exc:
        raise _translate(exc, "reading projection offsets") from exc


# -- shadow tables ----------------------------------------------------------------------------------------
def _projection_tables(projection: str) -> tuple[str, ...]:
    try:
        return PROJECTION_TABLES[projection]
    except KeyError:
        raise ProjectionError(
            f"projection: unknown projection {projection!r}; known: {', '.join(PROJECTION_TABLES)}"
        ) from None


def create_shadow(engine: Engine, projection: str = READ_MODELS, suffix: str = SHADOW_SUFFIX) -> None:
    """Create empty shadow tables for ``projection`` (dropping any left over) and forget their offsets."""
    names = _projection_tables(projection)
    shadow = tables_for(suffix)
    if not suffix:
        raise ProjectionError("suffix: a shadow needs a suffix such as __shadow")
    try:
        with write_transaction(engine) as conn:
            for name in names:
                shadow[name].drop(conn, checkfirst=True)
                shadow[name].create(conn)
            conn.execute(delete(projection_offsets).where(projection_offsets.c.projection == projection + suffix))
    except SQLAlchemyError as exc:
        raise _translate(exc, f"creating the shadow tables of {projection}") from exc


def drop_shadow(engine: Engine, projection: str = READ_MODELS, suffix: str = SHADOW_SUFFIX) -> None:
    """Drop the shadow tables of ``projection`` and their offsets (e.g. after an abandoned rebuild)."""
    names = _projection_tables(projection)
    shadow = tables_for(suffix)
    if not suffix:
        raise ProjectionError("suffix: a shadow needs a suffix such as __shadow")
    try:
        with write_transaction(engine) as conn:
            for name in names:
                shadow[name].drop(conn, checkfirst=True)
            conn.execute(delete(projection_offsets).where(projection_offsets.c.projection == projection + suffix))
    except SQLAlchemyError as exc:
        raise _translate(exc, f"dropping the shadow tables of {projection}") from exc


def swap_shadow(
    engine: Engine,
    projection: str = READ_MODELS,
    suffix: str = SHADOW_SUFFIX,
    *,
    require_caught_up: bool = True,
) -> dict[TopicPartition, int]:
    """Replace the live tables of ``projection`` by its shadow tables, atomically.

    In one transaction: drop each live table, rename its shadow to the live
    name, give its indexes the live names, and move the shadow's offsets to
    the live projection. Readers see either the old tables or the new ones.
    With ``require_caught_up`` the swap is refused (:class:`ShadowBehind`,
    nothing changed) while the shadow's offsets are behind the live ones for
    some partition, so no event the live tables hold is lost. Returns the
    offsets now stored for the live projection.
    """
    names = _projection_tables(projection)
    if not suffix:
        raise ProjectionError("suffix: a shadow needs a suffix such as __shadow")
    live, shadow = tables_for(""), tables_for(suffix)
    shadow_owner = projection + suffix
    try:
        with write_transaction(engine) as conn:
            existing = set(inspect(conn).get_table_names())
            missing = [shadow[n].name for n in names if shadow[n].name not in existing]
            if missing:
                raise ProjectionError(f"swap of {projection}: shadow tables missing: {', '.join(missing)}")
            if not is_sqlite(conn):
                relations = sorted(
                    {live[n].name for n in names if live[n].name in existing} | {shadow[n].name for n in names}
                )
                conn.execute(
                    text(f"LOCK TABLE {', '.join(_quote(conn, r) for r in relations)} IN ACCESS EXCLUSIVE MODE")
                )
            live_offsets = _offsets_for_update(conn, projection)
            shadow_offsets = _offsets_for_update(conn, shadow_owner)
            if require_caught_up:
                behind = sorted(
                    tp
                    for tp, row in live_offsets.items()
                    if shadow_offsets.get(tp, {}).get("next_offset", 0) < row["next_offset"]
                )
                if behind:
                    detail = ", ".join(
                        f"{t}[{p}] {shadow_offsets.get((t, p), {}).get('next_offset', 0)}"
                        f" < {live_offsets[(t, p)]['next_offset']}"
                        for t, p in behind[:5]
                    )
                    raise ShadowBehind(f"swap of {projection}: the shadow is behind the live offsets: {detail}")
            for name in names:
                _swap_table(conn, live[name], shadow[name], live[name].name in existing)
            _move_offsets(conn, projection, shadow_owner, live_offsets, shadow_offsets)
            return {tp: int(row["next_offset"]) for tp, row in shadow_offsets.items()}
    except ProjectionError:
        raise
    except SQLAlchemyError as exc:
        raise _translate(exc, f"swapping the shadow tables of {projection}") from exc


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _offsets_for_update(conn: Connection, owner: str) -> dict[TopicPartition, dict[str, Any]]:
    table = projection_offsets
    query = select(table).where(table.c.projection == owner).order_by(table.c.topic, table.c.partition)
    if not is_sqlite(conn):
        query = query.with_for_update()
    return {(row.topic, row.partition): dict(row._mapping) for row in conn.execute(query)}


def _swap_table(conn: Connection, live: Table, shadow: Table, live_exists: bool) -> None:
    quote = conn.dialect.identifier_preparer.quote
    inspector = inspect(conn)
    shadow_indexes = [ix["name"] for ix in inspector.get_indexes(shadow.name) if ix["name"]]
    shadow_pk = inspector.get_pk_constraint(shadow.name).get("name")
    if live_exists:
        conn.execute(text(f"DROP TABLE {quote(live.name)}"))
    conn.execute(text(f"ALTER TABLE {quote(shadow.name)} RENAME TO {quote(live.name)}"))
    if is_sqlite(conn):
        # SQLite cannot rename an index: recreate the live table's indexes under their live names.
        for index_name in shadow_indexes:
            conn.execute(text(f"DROP INDEX {quote(index_name)}"))
        for index in sorted(live.indexes, key=lambda ix: str(ix.name)):
            index.create(conn)
        return
    for index_name in [*shadow_indexes, *([shadow_pk] if shadow_pk else [])]:
        target = index_name.replace(shadow.name, live.name, 1)
        if target != index_name:
            conn.execute(text(f"ALTER INDEX {quote(index_name)} RENAME TO {quote(target)}"))


def _move_offsets(
    conn: Connection,
    live_owner: str,
    shadow_owner: str,
    live_offsets: Mapping[TopicPartition, Mapping[str, Any]],
    shadow_offsets: Mapping[TopicPartition, Mapping[str, Any]],
) -> None:
    table = projection_offsets
    gone = [tp for tp in live_offsets if tp not in shadow_offsets]
    if gone:
        conn.execute(
            delete(table).where(table.c.projection == live_owner, tuple_(table.c.topic, table.c.partition).in_(gone))
        )
    now = datetime.now(UTC)
    for (topic, partition), row in sorted(shadow_offsets.items()):
        values = {"next_offset": row["next_offset"], "last_record_ms": row["last_record_ms"], "updated_at": now}
        if (topic, partition) in live_offsets:
            conn.execute(
                update(table)
                .where(table.c.projection == live_owner, table.c.topic == topic, table.c.partition == partition)
                .values(**values)
            )
        else:
            conn.execute(table.insert().values(projection=live_owner, topic=topic, partition=partition, **values))
    conn.execute(delete(table).where(table.c.projection == shadow_owner))


# -- reading whole tables ---------------------------------------------------------------------------------
def dump(engine: Engine, *, suffix: str = "", names: Iterable[str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the data tables (or of ``names``), ordered by primary key: for comparing two runs."""
    tables = tables_for(suffix)
    out: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as conn:
            for name in names if names is not None else tables:
                table = _table(tables, name)
                query = select(table).order_by(*table.primary_key.columns)
                out[name] = [tuple(row) for row in conn.execute(query)]
    except SQLAlchemyError as exc:
        raise _translate(exc, "reading the read models") from exc
    return out


# -- errors -------------------------------------------------------------------------------------------------
def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None)
    text_of = str(original if original is not None else exc).strip().splitlines()
    return text_of[0] if text_of else type(exc).__name__


def _translate(exc: SQLAlchemyError, doing: str) -> ProjectionError:
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return StoreUnavailable(f"{doing}: the database is unavailable or busy: {_reason(exc)}")
    return ProjectionError(f"{doing}: {_reason(exc)}")


__all__ = [
    "BatchSummary",
    "OffsetRow",
    "RecordsRejected",
    "Rejected",
    "ShadowBehind",
    "SourceRecord",
    "StoreUnavailable",
    "apply_batch",
    "create_shadow",
    "drop_shadow",
    "dump",
    "offset_rows",
    "stored_offsets",
    "swap_shadow",
]
