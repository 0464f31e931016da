"""Row changes in SQL: the upserts and refreshes the pure rules (:mod:`projections.rules`) return, executed.

:func:`apply_changes` runs inside the transaction of the tracking writer
(:mod:`hub.tracking`, called by :func:`projections.store.apply_batch`):

- upserts are grouped by table and column set and sent as one statement per
  group: ``INSERT .. ON CONFLICT DO UPDATE .. WHERE`` the incoming version
  beats the stored one (``executemany`` on SQLite, one array per column on
  PostgreSQL), so the greatest (or, for "first seen" facts, the smallest)
  version wins whatever the order;
- refreshes recompute derived columns from the stored facts with the pure
  rule (:func:`projections.rules.derive_case`): the SQL reads the facts and
  writes the rule's result where it differs, and states no rule of its own;
- on PostgreSQL, rows to refresh are serialised across concurrent
  transactions by advisory locks, taken before any write in key order (the
  second step of the lock order of :mod:`hub.tracking`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    String,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from hub.errors import ProjectionError
from hub.sql import is_sqlite
from projections.rules import (
    CASE_DERIVED_COLUMNS,
    CaseDerived,
    Refresh,
    RowChange,
    Upsert,
    VisitTally,
    derive_case,
)

#: Without it psycopg's cursor is closed before SQLAlchemy reads the count of an INSERT.
COUNT_ROWS: Final = {"preserve_rowcount": True}


def apply_changes(conn: Connection, tables: Mapping[str, Table], changes: Sequence[RowChange]) -> int:
    """Apply ``changes`` inside ``conn``'s transaction; returns the number of rows inserted or updated.

    Upserts of one key collapse to the winning version first; then the
    PostgreSQL advisory locks of the rows to refresh are taken (sorted), the
    upserts run grouped by table and column set (tables in declaration
    order, keys sorted), and the refreshes last, so they see every fact.
    """
    upserts: dict[tuple[str, tuple[Any, ...], tuple[str, str]], Upsert] = {}
    refreshes: dict[str, set[tuple[Any, ...]]] = {}
    for change in changes:
        if isinstance(change, Upsert):
            table = table_of(tables, change.table)
            ident = (change.table, _key_tuple(table, change.key), change.version_columns)
            held = upserts.get(ident)
            if held is None or _beats(change, held):
                upserts[ident] = change
        elif isinstance(change, Refresh):
            if change.table not in REFRESHERS:
                raise ProjectionError(f"refresh: no derived columns to recompute in table {change.table!r}")
            refreshes.setdefault(change.table, set()).add(_key_tuple(table_of(tables, change.table), change.key))
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
        changed += REFRESHERS[name](conn, tables, sorted(refreshes[name], key=_sortable))
    return changed


def _beats(challenger: Upsert, holder: Upsert) -> bool:
    if challenger.keep == "earliest":
        return challenger.version < holder.version
    return challenger.version > holder.version


def table_of(tables: Mapping[str, Table], name: str) -> Table:
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
        return rowcount(conn.execute(statement, rows, execution_options=COUNT_ROWS).rowcount)
    columns = sorted(rows[0])
    statement = _upsert_statement(conn, table, items[0], columns)
    arrays = {f"a_{name}": [r[name] for r in rows] for name in columns}
    return rowcount(conn.execute(statement, arrays, execution_options=COUNT_ROWS).rowcount)


def rowcount(value: int) -> int:
    """A statement's row count; refuses the -1 of a driver that did not report it."""
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
@dataclass
class _CaseFacts:
    opened_ms: int | None
    closed_ms: int | None
    stored: CaseDerived
    visits: list[VisitTally] = field(default_factory=list)


def _refresh_cases(conn: Connection, tables: Mapping[str, Table], keys: Sequence[tuple[Any, ...]]) -> int:
    """Recompute the derived columns of the cases ``keys`` with :func:`projections.rules.derive_case`.

    One query per (zone, district) reads each case's opening and closing
    versions and its derived columns as stored, joined to its visits counted
    per visit type (an aggregate that uses the visits' case index); then one
    executemany UPDATE writes the cases whose values differ.
    A key without a case row is left alone: its opening or closing refreshes it.
    """
    cases, visits = tables["cases"], tables["visits"]
    by_place: dict[tuple[str, str], list[str]] = {}
    for zone, district, case_ref in keys:
        by_place.setdefault((zone, district), []).append(case_ref)
    stored = (cases.c.occurred_ms, cases.c.closed_ms, *(cases.c[name] for name in CASE_DERIVED_COLUMNS))
    facts: dict[tuple[Any, ...], _CaseFacts] = {}
    for (zone, district), refs in sorted(by_place.items()):
        wanted = sorted(set(refs))
        tallies = (
            select(
                visits.c.case_ref,
                visits.c.visit_type,
                func.count().label("n"),
                func.max(visits.c.occurred_at).label("last_at"),
            )
            .where(visits.c.zone == zone, visits.c.district == district, visits.c.case_ref.in_(wanted))
            .group_by(visits.c.case_ref, visits.c.visit_type)
            .subquery()
        )
        query = (
            select(cases.c.case_ref, *stored, tallies.c.visit_type, tallies.c.n, tallies.c.last_at)
            .select_from(cases.outerjoin(tallies, tallies.c.case_ref == cases.c.case_ref))
            .where(cases.c.zone == zone, cases.c.district == district, cases.c.case_ref.in_(wanted))
        )
        for row in conn.execute(query):
            case_ref, opened_ms, closed_ms, status, n_visits, n_home, last_visit, visit_type, count, last_at = row
            held = facts.get((zone, district, case_ref))
            if held is None:
                held = _CaseFacts(opened_ms, closed_ms, CaseDerived(status, n_visits, n_home, last_visit))
                facts[(zone, district, case_ref)] = held
            if visit_type is not None:
                held.visits.append(VisitTally(visit_type, int(count), last_at))
    rows = []
    for key in keys:
        held = facts.get(key)
        if held is None:
            continue
        derived = derive_case(held.opened_ms, held.closed_ms, held.visits)
        if derived != held.stored:
            zone, district, case_ref = key
            values = {f"v_{name}": getattr(derived, name) for name in CASE_DERIVED_COLUMNS}
            rows.append({"k_zone": zone, "k_district": district, "k_case_ref": case_ref, **values})
    if not rows:
        return 0
    statement = (
        update(cases)
        .where(
            cases.c.zone == bindparam("k_zone"),
            cases.c.district == bindparam("k_district"),
            cases.c.case_ref == bindparam("k_case_ref"),
        )
        .values({name: bindparam(f"v_{name}", type_=cases.c[name].type) for name in CASE_DERIVED_COLUMNS})
    )
    return rowcount(conn.execute(statement, rows, execution_options=COUNT_ROWS).rowcount)


REFRESHERS: Final = {"cases": _refresh_cases}


__all__ = ["COUNT_ROWS", "REFRESHERS", "apply_changes", "rowcount", "table_of"]
