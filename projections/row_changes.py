"""Row changes in SQL: the upserts and refreshes the pure rules (:mod:`projections.rules`) return, executed.

:func:`apply_changes` runs inside the transaction of the tracking writer
(:mod:`hub.tracking`, called by :func:`projections.store.apply_batch`). Every
step is set-based, one statement per table (and column set) per batch, of a
constant shape whatever the batch size, so each is compiled once per process:

- upserts are grouped by table and column set and sent as one statement per
  group: ``INSERT .. ON CONFLICT DO UPDATE .. WHERE`` the incoming version
  beats the stored one (``executemany`` on SQLite, in process; one array per
  column on PostgreSQL, ``INSERT .. SELECT FROM unnest(..)``: one round trip),
  so the greatest (or, for "first seen" facts, the smallest) version wins
  whatever the order;
- refreshes recompute derived columns from the stored facts with the pure
  rule (:func:`projections.rules.derive_case`): one query reads the facts of
  every case of the batch, the rule computes, and one statement writes the
  cases whose values differ. The SQL states no rule of its own;
- a set of keys is bound as one parameter whatever its size: a JSON array
  read with ``json_each`` on SQLite, one array per key column read with
  ``unnest`` on PostgreSQL;
- on PostgreSQL, rows to refresh are serialised across concurrent
  transactions by advisory locks, taken before any write in key order (the
  second step of the lock order of :mod:`hub.tracking`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from hub.errors import ProjectionError
from projections.rules import (
    CASE_DERIVED_COLUMNS,
    CaseDerived,
    Keep,
    Refresh,
    RowChange,
    Upsert,
    VisitTally,
    derive_case,
)

#: Without it psycopg's cursor is closed before SQLAlchemy reads the count of an INSERT.
COUNT_ROWS: Final = {"preserve_rowcount": True}

Key = tuple[Any, ...]
#: What upserts share to go in one statement: table, version columns, keep, columns written on conflict, on insert.
_Signature = tuple[str, tuple[str, str], Keep, tuple[str, ...], tuple[str, ...]]


def apply_changes(conn: Connection, tables: Mapping[str, Table], changes: Sequence[RowChange]) -> int:
    """Apply ``changes`` inside ``conn``'s transaction; returns the number of rows inserted or updated.

    Upserts of one key collapse to the winning version first; then the
    PostgreSQL advisory locks of the rows to refresh are taken (sorted), the
    upserts run grouped by table and column set (tables in declaration
    order, keys sorted), and the refreshes last, so they see every fact.
    """
    upserts: dict[tuple[str, Key, tuple[str, str]], Upsert] = {}
    refreshes: dict[str, set[Key]] = {}
    for change in changes:
        if isinstance(change, Upsert):
            ident = (change.table, _key_tuple(table_of(tables, change.table), change.key), change.version_columns)
            held = upserts.get(ident)
            if held is None or _beats(change, held):
                upserts[ident] = change
        elif isinstance(change, Refresh):
            if change.table not in REFRESHERS:
                raise ProjectionError(f"refresh: no derived columns to recompute in table {change.table!r}")
            refreshes.setdefault(change.table, set()).add(_key_tuple(table_of(tables, change.table), change.key))
        else:
            raise ProjectionError(f"changes: unknown row change {type(change).__name__}")
    pg = _is_postgresql(conn)
    groups: dict[_Signature, list[tuple[Key, Upsert]]] = {}
    for (name, key, _), upsert in upserts.items():
        signature = (name, upsert.version_columns, upsert.keep, tuple(upsert.values), tuple(upsert.insert_values))
        groups.setdefault(signature, []).append((key, upsert))
    _refresh_repointed_visits(conn, tables, groups, refreshes)
    if pg:
        _advisory_locks(conn, tables, refreshes)
    changed = 0
    order = {name: i for i, name in enumerate(tables)}
    for signature in sorted(groups, key=lambda s: (order[s[0]], s[1:])):
        by_key = dict(groups[signature])
        items = [by_key[key] for key in _sorted_keys(by_key)]
        changed += _run_upserts(conn, tables[signature[0]], signature, items)
    for name in sorted(refreshes):
        changed += REFRESHERS[name](conn, tables, _sorted_keys(refreshes[name]))
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


@functools.cache
def _key_names(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)


@functools.cache
def _key_getter(table: Table) -> Callable[[Mapping[str, Any]], Key]:
    names = _key_names(table)
    getter = operator.itemgetter(*names)
    return getter if len(names) > 1 else lambda key: (getter(key),)


def _key_tuple(table: Table, key: Mapping[str, Any]) -> Key:
    try:
        if len(key) == len(_key_names(table)):
            return _key_getter(table)(key)
    except KeyError:
        pass
    names = _key_names(table)
    raise ProjectionError(f"key of {table.name}: expected columns {', '.join(names)}, got {', '.join(sorted(key))}")


def _sortable(key: Key) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in key)


def _sorted_keys(keys: Iterable[Key]) -> list[Key]:
    """Keys in lock order: as text, a NULL first (keys of strings, the usual case, sort as they are)."""
    keys = list(keys)
    if all(type(v) is str for k in keys for v in k):
        return sorted(keys)
    return sorted(keys, key=_sortable)


def _is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def rowcount(value: int) -> int:
    """A statement's row count; refuses the -1 of a driver that did not report it."""
    if value < 0:
        raise ProjectionError("the database driver did not report how many rows a statement changed")
    return value


def _array(column_type: Any) -> ARRAY[Any]:
    """The array type bound for a column's values on PostgreSQL: a string type loses its length.

    An explicit cast to ``varchar(n)`` silently truncates a longer value; without
    the length, the INSERT's assignment cast refuses it ("value too long"), as a
    plain INSERT would.
    """
    if isinstance(column_type, String) and column_type.length is not None:
        return ARRAY(String())
    return ARRAY(column_type)


# -- upserts ------------------------------------------------------------------------------------------
@functools.cache
def _upsert_statement(table: Table, pg: bool, signature: _Signature) -> tuple[Any, tuple[str, ...]]:
    """``INSERT .. ON CONFLICT DO UPDATE .. WHERE`` the incoming version wins, and its columns (cached).

    On PostgreSQL the rows come as one array per column, ``INSERT .. SELECT *
    FROM unnest(...)``: one statement of constant shape (compiled and planned
    once) whatever the number of rows; on SQLite one row per executemany item.
    """
    _, (ms, eid), keep, values, insert_values = signature
    columns = tuple(sorted({*_key_names(table), *values, *insert_values}))
    if pg:
        arrays = [bindparam(f"a_{name}", type_=_array(table.c[name].type)) for name in columns]
        rows = func.unnest(*arrays).table_valued(*columns).render_derived()
        insert: Any = postgresql.insert(table).from_select(list(columns), select(*(rows.c[n] for n in columns)))
    else:
        insert = sqlite.insert(table)
    excluded = insert.excluded
    stored_ms, stored_eid, new_ms, new_eid = table.c[ms], table.c[eid], excluded[ms], excluded[eid]
    if keep == "earliest":
        wins = or_(stored_ms.is_(None), new_ms < stored_ms, and_(new_ms == stored_ms, new_eid < stored_eid))
    else:
        wins = or_(stored_ms.is_(None), new_ms > stored_ms, and_(new_ms == stored_ms, new_eid > stored_eid))
    statement = insert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: excluded[name] for name in sorted(values)},
        where=wins,
    )
    return statement, columns


def _run_upserts(conn: Connection, table: Table, signature: _Signature, items: Sequence[Upsert]) -> int:
    """One statement per group. Keys are unique within ``items`` (collapsed by the caller), so no row is
    affected twice by one statement."""
    pg = _is_postgresql(conn)
    statement, columns = _upsert_statement(table, pg, signature)
    rows = [{**u.insert_values, **u.values, **u.key} for u in items]
    if pg:
        params: Any = {f"a_{name}": [r[name] for r in rows] for name in columns}
    else:
        params = rows
    return rowcount(conn.execute(statement, params, execution_options=COUNT_ROWS).rowcount)


# -- key sets bound as one parameter -------------------------------------------------------------------
def _key_rows(pg: bool, names: Sequence[str], prefix: str) -> Select[Any]:
    """``SELECT`` of the key tuples bound by :func:`_key_params`: one parameter whatever their number."""
    if pg:
        arrays = [bindparam(f"{prefix}_{name}", type_=ARRAY(String())) for name in names]
        rows = func.unnest(*arrays).table_valued(*names).render_derived()
        return select(*(rows.c[name] for name in names))
    each = func.json_each(bindparam(f"{prefix}_json", type_=String())).table_valued("value")
    return select(*(func.json_extract(each.c.value, f"$[{i}]") for i in range(len(names))))


def _key_params(pg: bool, names: Sequence[str], prefix: str, keys: Iterable[Key]) -> dict[str, Any]:
    keys = list(keys)
    if pg:
        return {f"{prefix}_{name}": [k[i] for k in keys] for i, name in enumerate(names)}
    return {f"{prefix}_json": json.dumps([list(k) for k in keys])}


# -- a visit that moves to another case ------------------------------------------------------------------
@functools.cache
def _visits_cases_query(visits: Table, pg: bool) -> Select[Any]:
    c = visits.c
    return select(c.zone, c.district, c.case_ref).where(
        tuple_(c.zone, c.district, c.visit_id).in_(_key_rows(pg, ("zone", "district", "visit_id"), "k"))
    )


def _refresh_repointed_visits(
    conn: Connection,
    tables: Mapping[str, Table],
    groups: Mapping[_Signature, Sequence[tuple[Key, Upsert]]],
    refreshes: dict[str, set[Key]],
) -> None:
    """A visit that moves to another case must also refresh the case it leaves: one query reads the
    stored case of every visit the batch upserts."""
    keys = _sorted_keys({key for signature, items in groups.items() if signature[0] == "visits" for key, _ in items})
    if not keys:
        return
    pg = _is_postgresql(conn)
    query = _visits_cases_query(tables["visits"], pg)
    for zone, district, case_ref in conn.execute(query, _key_params(pg, ("zone", "district", "visit_id"), "k", keys)):
        refreshes.setdefault("cases", set()).add((zone, district, case_ref))


def _advisory_locks(conn: Connection, tables: Mapping[str, Table], refreshes: Mapping[str, set[Key]]) -> None:
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


def _lock_id(table_name: str, key: Key) -> int:
    text_key = "\x1f".join([table_name, *("" if v is None else str(v) for v in key)])
    return int.from_bytes(hashlib.blake2b(text_key.encode(), digest_size=8).digest(), "big", signed=True)


# -- derived columns ------------------------------------------------------------------------------------
_CASE_KEY: Final = ("zone", "district", "case_ref")


@dataclass
class _CaseFacts:
    opened_ms: int | None
    closed_ms: int | None
    stored: CaseDerived
    visits: list[VisitTally] = field(default_factory=list)


@functools.cache
def _case_facts_query(cases: Table, visits: Table, pg: bool) -> Select[Any]:
    """Each case's opening and closing versions and derived columns as stored, joined to its visits
    counted per visit type (an aggregate that uses the visits' case index), for a set of cases."""
    wanted = _key_rows(pg, _CASE_KEY, "k")
    v = visits.c
    tallies = (
        select(
            v.zone,
            v.district,
            v.case_ref,
            v.visit_type,
            func.count().label("n"),
            func.max(v.occurred_at).label("last_at"),
        )
        .where(tuple_(v.zone, v.district, v.case_ref).in_(wanted))
        .group_by(v.zone, v.district, v.case_ref, v.visit_type)
        .subquery()
    )
    c = cases.c
    stored = (c.occurred_ms, c.closed_ms, *(c[name] for name in CASE_DERIVED_COLUMNS))
    joined = and_(tallies.c.zone == c.zone, tallies.c.district == c.district, tallies.c.case_ref == c.case_ref)
    return (
        select(c.zone, c.district, c.case_ref, *stored, tallies.c.visit_type, tallies.c.n, tallies.c.last_at)
        .select_from(cases.outerjoin(tallies, joined))
        .where(tuple_(c.zone, c.district, c.case_ref).in_(wanted))
    )


@functools.cache
def _case_update(cases: Table, pg: bool) -> Any:
    """UPDATE of the derived columns of a set of cases: one array per column on PostgreSQL
    (``UPDATE .. FROM unnest(..)``), executemany on SQLite."""
    if pg:
        names = (*_CASE_KEY, *CASE_DERIVED_COLUMNS)
        arrays = [bindparam(f"u_{name}", type_=_array(cases.c[name].type)) for name in names]
        rows = func.unnest(*arrays).table_valued(*names).render_derived()
        return (
            update(cases)
            .where(*(cases.c[name] == rows.c[name] for name in _CASE_KEY))
            .values({name: rows.c[name] for name in CASE_DERIVED_COLUMNS})
        )
    return (
        update(cases)
        .where(*(cases.c[name] == bindparam(f"k_{name}") for name in _CASE_KEY))
        .values({name: bindparam(f"v_{name}", type_=cases.c[name].type) for name in CASE_DERIVED_COLUMNS})
    )


def _refresh_cases(conn: Connection, tables: Mapping[str, Table], keys: Sequence[Key]) -> int:
    """Recompute the derived columns of the cases ``keys`` with :func:`projections.rules.derive_case`.

    One query reads the facts of every case of ``keys`` (:func:`_case_facts_query`),
    then one statement writes the cases whose values differ, in key order.
    A key without a case row is left alone: its opening or closing refreshes it.
    """
    if not keys:
        return 0
    cases, visits = tables["cases"], tables["visits"]
    pg = _is_postgresql(conn)
    facts: dict[Key, _CaseFacts] = {}
    result = conn.execute(_case_facts_query(cases, visits, pg), _key_params(pg, _CASE_KEY, "k", keys))
    for row in result:
        zone, district, case_ref, opened_ms, closed_ms, status, n_visits, n_home, last_visit, visit_type, n, at = row
        held = facts.get((zone, district, case_ref))
        if held is None:
            held = _CaseFacts(opened_ms, closed_ms, CaseDerived(status, n_visits, n_home, last_visit))
            facts[(zone, district, case_ref)] = held
        if visit_type is not None:
            held.visits.append(VisitTally(visit_type, int(n), at))
    changed: list[tuple[Key, CaseDerived]] = []
    for key in keys:
        held = facts.get(key)
        if held is None:
            continue
        derived = derive_case(held.opened_ms, held.closed_ms, held.visits)
        if derived != held.stored:
            changed.append((key, derived))
    if not changed:
        return 0
    statement = _case_update(cases, pg)
    if pg:
        params: Any = {f"u_{name}": [k[i] for k, _ in changed] for i, name in enumerate(_CASE_KEY)}
        params.update({f"u_{name}": [getattr(d, name) for _, d in changed] for name in CASE_DERIVED_COLUMNS})
    else:
        params = [
            {
                **{f"k_{name}": k[i] for i, name in enumerate(_CASE_KEY)},
                **{f"v_{name}": getattr(d, name) for name in CASE_DERIVED_COLUMNS},
            }
            for k, d in changed
        ]
    return rowcount(conn.execute(statement, params, execution_options=COUNT_ROWS).rowcount)


REFRESHERS: Final = {"cases": _refresh_cases}


__all__ = ["COUNT_ROWS", "REFRESHERS", "apply_changes", "rowcount", "table_of"]
