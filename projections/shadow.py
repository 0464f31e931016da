"""Shadow tables of a projection: a rebuild refills ``<table>__shadow`` while the live tables answer queries.

:func:`create_shadow` makes empty shadow tables (and forgets their offsets),
the rebuild applies the stream to them with
:func:`projections.store.apply_batch` (``suffix="__shadow"``, offsets stored
under ``<projection>__shadow``), and :func:`swap_shadow` replaces the live
tables by the shadow ones in ONE transaction: readers see either the old
tables or the new ones, and a shadow still behind the live offsets is
refused (:class:`ShadowBehind`, nothing changed). :func:`drop_shadow`
abandons a rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, inspect, select, text, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import ProjectionError
from hub.sql import is_sqlite, write_transaction
from projections.store_errors import translate
from projections.tables import PROJECTION_TABLES, READ_MODELS, SHADOW_SUFFIX, projection_offsets, tables_for

TopicPartition = tuple[str, int]


class ShadowBehind(ProjectionError):
    """The shadow tables have not yet reached the live offsets; apply more before swapping."""


def _projection_tables(projection: str) -> tuple[str, ...]:
    try:
        return PROJECTION_TABLES[projection]
    except KeyError:
        raise ProjectionError(
            f"projection: unknown projection {projection!r}; known: {', '.join(PROJECTION_TABLES)}"
        ) from None


def create_shadow(engine: Engine, projection: str = READ_MODELS, suffix: str = SHADOW_SUFFIX) -> None:
    """Create empty shadow tables for ``projection`` (dropping any left over) and forget their offsets."""
    _reset_shadow(engine, projection, suffix, recreate=True)


def drop_shadow(engine: Engine, projection: str = READ_MODELS, suffix: str = SHADOW_SUFFIX) -> None:
    """Drop the shadow tables of ``projection`` and their offsets (e.g. after an abandoned rebuild)."""
    _reset_shadow(engine, projection, suffix, recreate=False)


def _reset_shadow(engine: Engine, projection: str, suffix: str, *, recreate: bool) -> None:
    """In one transaction: drop the shadow tables (and create them empty again), forget their offsets."""
    names = _projection_tables(projection)
    if not suffix:
        raise ProjectionError("suffix: a shadow needs a suffix such as __shadow")
    shadow = tables_for(suffix)
    try:
        with write_transaction(engine) as conn:
            for name in names:
                shadow[name].drop(conn, checkfirst=True)
                if recreate:
                    shadow[name].create(conn)
            conn.execute(delete(projection_offsets).where(projection_offsets.c.projection == projection + suffix))
    except SQLAlchemyError as exc:
        doing = "creating" if recreate else "dropping"
        raise translate(exc, f"{doing} the shadow tables of {projection}") from exc


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
        raise translate(exc, f"swapping the shadow tables of {projection}") from exc


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


__all__ = ["ShadowBehind", "create_shadow", "drop_shadow", "swap_shadow"]
