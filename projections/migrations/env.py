"""Alembic environment of the read models: the target is ``projections.tables.metadata``.

The hub passes an open connection (``config.attributes["connection"]``, see
:func:`projections.migrations.upgrade`); the alembic CLI passes a URL with
``-x url=...``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from hub.sql import make_engine
from projections.migrations import VERSION_TABLE
from projections.tables import metadata

config = context.config


def _configure(**kwargs: object) -> None:
    context.configure(target_metadata=metadata, version_table=VERSION_TABLE, compare_type=True, **kwargs)  # type: ignore[arg-type]


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database with -x url=sqlite:///path or postgresql+psycopg://...")
    return url


if context.is_offline_mode():
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
    else:
        engine = make_engine(_url())
        try:
            with engine.connect() as connection:
                _run(connection)
                connection.commit()
        finally:
            engine.dispose()
