"""``hub db upgrade|current``: schema migrations of the read-model database (HUB_DATABASE_URL)."""

from __future__ import annotations

import typer

from hub.commandline import make_console, settings_of

app = typer.Typer(help="Migrate the read-model database (SQLite or PostgreSQL).", no_args_is_help=True)
console = make_console()


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def upgrade(
    ctx: typer.Context,
    revision: str = typer.Option("head", "--revision", help="Target revision (default: the newest)."),
) -> None:
    """Create or upgrade the read-model tables. Safe to run any number of times."""
    from projections import migrations  # lazily: hub's core never imports projections

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
