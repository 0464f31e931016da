"""Root of the ``hub`` CLI: builds the settings once and wires sub-commands."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from hub.cli.output import make_console
from hub.errors import HubError
from hub.settings import HubSettings, load_settings

app = typer.Typer(
    name="hub",
    help="Event-sourced data exchange hub for social work (GBA cross-region reporting).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = make_console(stderr=True)


@app.callback()
def _root(
    ctx: typer.Context,
    env_file: Path = typer.Option(Path(".env"), "--env-file", help="Optional file of HUB_* settings."),
) -> None:
    ctx.obj = load_settings(env_file=env_file)


def settings_of(ctx: typer.Context) -> HubSettings:
    obj = ctx.find_root().obj
    assert isinstance(obj, HubSettings)
    return obj


def _register() -> None:
    from hub.cli import (
        agreements,
        db,
        demo,
        demo_data,
        gateway,
        ingest,
        kafka,
        project,
        projections,
        publish,
        registry,
        report,
        schemas,
        status,
        subscribe,
        tokens,
        topics,
    )

    # the pipeline, in the order data flows
    app.add_typer(kafka.app, name="kafka")
    app.add_typer(topics.app, name="topics")
    app.add_typer(registry.app, name="registry")
    app.add_typer(schemas.app, name="schemas")
    app.command("demo-data")(demo_data.demo_data)
    app.command("publish")(publish.publish)
    app.add_typer(tokens.app, name="tokens")
    app.add_typer(ingest.app, name="ingest")
    app.add_typer(agreements.app, name="agreements")
    app.add_typer(gateway.app, name="gateway")
    app.add_typer(db.app, name="db")
    app.add_typer(project.app, name="project")
    app.add_typer(projections.app, name="projections")
    app.command("report")(report.report)
    app.add_typer(report.api_app, name="api")
    app.command("subscribe")(subscribe.subscribe)
    app.command("status")(status.status)
    app.command("demo")(demo.demo)


_register()


def main() -> None:
    try:
        app()
    except HubError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
