"""Root of the ``hub`` command: builds the settings once and mounts every package's commands.

This is the composition root. Each package owns its commands; the table
below only says where they are mounted, in the order data flows. Nothing
below this package imports it (``lint-imports`` checks that).
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli import status
from consumers import commands as consumer_commands
from demo import commands as demo_commands
from demo import job as demo_job
from hub.commandline import run_app
from hub.commands import agreements, audit, kafka, registry, schemas, stack, tokens, topics
from hub.gateway import commands as gateway_commands
from hub.ingest import commands as ingest_commands
from hub.jurisdictions import cluster_settings, load_topology
from hub.publishing import commands as publishing_commands
from hub.replication import commands as replication_commands
from hub.settings import load_settings
from projections.commands import api, db, project, projections, report

app = typer.Typer(
    name="hub",
    help="Event-sourced data exchange hub for social work (GBA cross-region reporting).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    env_file: Path = typer.Option(Path(".env"), "--env-file", help="Optional file of HUB_* settings."),
    cluster: str | None = typer.Option(
        None, "--cluster", help="Act on this jurisdiction's cluster of the topology (cn, hk, mo); default: one cluster."
    ),
) -> None:
    settings = load_settings(env_file=env_file)
    ctx.obj = settings if cluster is None else cluster_settings(settings, load_topology(settings), cluster)


# the pipeline, in the order data flows
app.add_typer(kafka.app, name="kafka")
app.add_typer(stack.app, name="stack")
app.add_typer(topics.app, name="topics")
app.add_typer(registry.app, name="registry")
app.add_typer(schemas.app, name="schemas")
app.command("demo-data")(demo_commands.demo_data)
app.command("publish")(publishing_commands.publish)
app.add_typer(tokens.app, name="tokens")
app.add_typer(ingest_commands.app, name="ingest")
app.add_typer(agreements.app, name="agreements")
app.add_typer(gateway_commands.app, name="gateway")
app.add_typer(replication_commands.app, name="replicate")
app.add_typer(audit.app, name="audit")
app.add_typer(db.app, name="db")
app.add_typer(project.app, name="project")
app.add_typer(projections.app, name="projections")
app.command("report")(report.report)
app.add_typer(api.app, name="api")
app.command("subscribe")(consumer_commands.subscribe)
app.command("status")(status.status)
app.command("demo")(demo_job.demo)


def main() -> None:
    run_app(app)
