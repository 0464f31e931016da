"""``hub agreements check|show``: the data-sharing agreements and what they let cross."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from hub.agreements.keys import load_key
from hub.agreements.loading import agreements_dir, load_agreements
from hub.agreements.model import Agreement, FieldRule
from hub.agreements.problems import AgreementError
from hub.commandline import make_console, settings_of
from hub.errors import HubError
from hub.schemas import event_types

app = typer.Typer(help="Check and show the data-sharing agreements.", no_args_is_help=True)
console = make_console()
err_console = make_console(stderr=True)

_DIR_OPTION = typer.Option(None, "--dir", help="Agreements directory (default: HUB_AGREEMENTS_DIR or the shipped one).")


def _directory(ctx: typer.Context, directory: Path | None) -> Path:
    return directory if directory is not None else agreements_dir(settings_of(ctx).agreements_dir)


def _load(directory: Path) -> dict[str, Agreement]:
    try:
        return load_agreements(directory)
    except AgreementError as exc:
        for problem in exc.problems:
            err_console.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
        err_console.print(f"{len(exc.problems)} problem(s) in {directory}", highlight=False)
        raise typer.Exit(1) from exc


@app.command()
def check(
    ctx: typer.Context,
    directory: Path | None = _DIR_OPTION,
    keys: bool = typer.Option(False, "--keys", help="Also check every agreement's HMAC key can be loaded."),
) -> None:
    """Validate every agreement against the schemas; exit 1 on any broken rule.

    Lists, per agreement and event, the raw fields no rule names (dropped by
    default: shown, not an error) and the event types an agreement does not share.
    """
    path = _directory(ctx, directory)
    agreements = _load(path)
    key_problems = 0
    for region, agreement in agreements.items():
        console.print(
            f"[green]✓[/] {agreement.origin}: {agreement.id} v{agreement.version} ({region}) "
            f"zones {', '.join(agreement.zones)}, key {agreement.key_variable}",
            highlight=False,
        )
        for event_type, plan in agreement.plans.items():
            if plan.unnamed:
                console.print(f"    {event_type}: dropped by default (no rule): {', '.join(plan.unnamed)}")
        not_shared = [t for t in event_types("raw") if t not in agreement.plans]
        if not_shared:
            console.print(f"    not shared (no rules): {', '.join(not_shared)}")
        if keys:
            try:
                load_key(agreement, os.environ, settings_of(ctx).secrets_file)
            except HubError as exc:
                key_problems += 1
                err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    console.print(f"{len(agreements)} agreement(s) in {path}: ok", highlight=False)
    if key_problems:
        raise typer.Exit(1)


def _describe(rule: FieldRule) -> tuple[str, str]:
    if rule.action == "pseudonymise":
        return rule.target or "", f"HMAC kind={rule.kind}"
    if rule.action == "generalise":
        return rule.target or "", f"rule={rule.rule}"
    if rule.action == "keep_if":
        return rule.target or "", f"if {rule.condition}, else null"
    if rule.action == "keep":
        return rule.target or "", ""
    return "", ""


@app.command()
def show(
    ctx: typer.Context,
    region: str = typer.Argument(..., help="Source region: GD, HK, MO, JS or FJ."),
    directory: Path | None = _DIR_OPTION,
) -> None:
    """Print one region's agreement as a table of field rules."""
    agreements = _load(_directory(ctx, directory))
    agreement = agreements.get(region.upper())
    if agreement is None:
        err_console.print(f"[bold red]error:[/] no agreement for region {region!r}; have {', '.join(agreements)}")
        raise typer.Exit(1)
    partners = ", ".join(agreement.partners) if agreement.partners is not None else "any region of its zones"
    console.print(
        f"{agreement.id} v{agreement.version}: {agreement.title or agreement.source_region}\n"
        f"file {agreement.origin}\nzones {', '.join(agreement.zones)}; partners {partners}; "
        f"key {agreement.key_variable}",
        highlight=False,
    )
    table = Table("event", "raw field", "action", "shared field", "detail")
    for event_type, plan in agreement.plans.items():
        for rule in plan.rules:
            target, detail = _describe(rule)
            table.add_row(event_type, rule.source, rule.action, target, detail)
        for name in plan.unnamed:
            table.add_row(event_type, name, "drop", "", "by default: no rule names it")
        table.add_section()
    console.print(table)
