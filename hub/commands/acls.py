"""``hub kafka acls plan|apply``: the ACLs derived from the org units and agreements, and making the cluster match.

``plan`` prints the table of :func:`hub.acl_plan.plan` (the same text as the reviewed
snapshot ``tests/snapshots/acl-plan.txt`` for the shipped declarations) or, with
``--json``, a list of entries. ``apply`` makes the cluster's ACLs equal to the plan
(:func:`hub.kafka_acls.apply`), prints one line per ACL added or removed and a
summary, and is safe to run any number of times; it logs in as the admin super user.
"""

from __future__ import annotations

import json

import typer

from hub import acl_plan, kafka_acls
from hub.commandline import make_console, settings_of
from hub.principals import ADMIN, SUPER_USERS

app = typer.Typer(help="Plan and apply the Kafka ACLs derived from the declarations.", no_args_is_help=True)
console = make_console()


@app.command()
def plan(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the entries as a JSON list."),
) -> None:
    """Print every ACL the org units and agreements call for (reads no cluster)."""
    entries = kafka_acls.declared_plan(settings_of(ctx))
    if as_json:
        typer.echo(json.dumps([e.to_json() for e in entries], indent=2))
        return
    typer.echo(acl_plan.render_table(entries), nl=False)
    principals = len({e.principal for e in entries})
    typer.echo(
        f"{len(entries)} entries for {principals} principals; the super users ({', '.join(SUPER_USERS)}) need none"
    )


@app.command()
def apply(ctx: typer.Context) -> None:
    """Make the cluster's ACLs equal the plan: add the missing ones, remove every other. Idempotent.

    Acts as the admin super user (HUB_KAFKA_SASL_USERNAME, else the local broker's admin login).
    """
    settings = settings_of(ctx, login=ADMIN)
    entries = kafka_acls.declared_plan(settings)
    with console.status(f"applying {len(entries)} ACLs to {settings.bootstrap_servers}…"):
        change = kafka_acls.apply(settings, entries)
    for entry in change.added:
        console.print(f"[green]added[/]   {entry}", highlight=False, soft_wrap=True)
    for entry in change.removed:
        console.print(f"[red]removed[/] {entry}", highlight=False, soft_wrap=True)
    console.print(f"ACLs: {change.summary()}; the cluster now holds the {len(entries)} planned", highlight=False)
