"""``hub db upgrade|current``: schema migrations of the read-model database (HUB_DATABASE_URL).

Also :func:`read_model_engine`, the one check every command that reads the read
models makes first (``hub report``, ``hub api serve``): the database is at the
newest revision, or the command stops with a one-line error saying to run
``hub db upgrade``. Heavy modules (SQLAlchemy, Alembic) are imported when a
command runs, so that ``hub --help`` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from hub.commandline import make_console, settings_of
from hub.errors import ConfigError
from hub.settings import HubSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(help="Migrate the read-model database (SQLite or PostgreSQL).", no_args_is_help=True)
console = make_console()


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def read_model_engine(settings: HubSettings) -> Engine:
    """An engine on ``settings.database_url``; ConfigError (and no engine) unless it is at the newest revision."""
    from hub.sql import make_engine
    from projections import migrations

    engine = make_engine(settings.database_url)
    at, newest = migrations.current(engine), migrations.head()
    if at != newest:
        engine.dispose()
        raise ConfigError(
            f"HUB_DATABASE_URL: the read-model database is at revision {at or 'none'}, not {newest}; "
            "run `hub db upgrade` (or start the projections with `hub project run`)"
        )
    return engine


@app.command()
def upgrade(
    ctx: typer.Context,
    revision: str = typer.Option("head", "--revision", help="Target revision (default: the newest)."),
) -> None:
    """Create or upgrade the read-model tables. Safe to run any number of times."""
    from projections import migrations

    settings = settings_of(ctx)
    reached = migrations.upgrade(settings.database_url, revision)
    console.print(
        f"read models at revision {reached} in {_shown(settings.database_url)}", highlight=False, soft_wrap=True
    )


@app.command()
def current(ctx: typer.Context) -> None:
    """Show the revision the database is at and the newest one shipped."""
    from hub.sql import make_engine
    from projections import migrations

    settings = settings_of(ctx)
    engine = make_engine(settings.database_url)
    try:
        at = migrations.current(engine)
    finally:
        engine.dispose()
    newest = migrations.head()
    state = "up to date" if at == newest else f"behind (newest {newest}; run `hub db upgrade`)"
    console.print(f"{_shown(settings.database_url)}: revision {at or 'none'}, {state}", highlight=False, soft_wrap=True)
