"""``hub schemas list|register|check``: the working tree's Avro schemas against the schema registry."""

from __future__ import annotations

import typer
from rich.table import Table

from hub import schemas as catalogue
from hub.commandline import make_console, settings_of
from hub.errors import IncompatibleSchemaError
from hub.orgunits import org_units
from hub.registry.client import RegistryClient
from hub.registry.subjects import CatalogueSubject, catalogue_subjects
from hub.settings import HubSettings

app = typer.Typer(help="Register and check the catalogue's Avro schemas in the schema registry.", no_args_is_help=True)
console = make_console()

ZONE_OPTION = typer.Option([], "--zone", help="Only this zone's shared subjects and its districts' raw ones.")
ALL_OPTION = typer.Option(False, "--all", help="Every district and every zone (the default).")
EVENT_OPTION = typer.Option([], "--event", help="Only this event type (e.g. CaseOpened); repeatable.")


def _client(settings: HubSettings) -> RegistryClient:
    return RegistryClient(settings.schema_registry_url, timeout_s=settings.request_timeout_s)


def _selection(zones: list[str], all_: bool, events: list[str]) -> list[CatalogueSubject]:
    if zones and all_:
        raise typer.BadParameter("give --zone or --all, not both")
    raw, shared = catalogue.event_types("raw"), catalogue.event_types("shared")
    unknown = [e for e in events if e not in raw and e not in shared]
    if unknown:
        raise typer.BadParameter(f"unknown event type {unknown[0]!r}; expected one of {', '.join(raw)}")
    if events:
        raw, shared = tuple(e for e in raw if e in events), tuple(e for e in shared if e in events)
    return catalogue_subjects(org_units(), raw, shared, None if all_ or not zones else zones)


def _text(item: CatalogueSubject) -> str:
    return catalogue.schema_text("raw" if item.form == "raw" else "shared", item.event_type)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Subjects in the registry with their latest version and schema id."""
    settings = settings_of(ctx)
    with _client(settings) as client:
        subjects = client.subjects()
        table = Table("subject", "latest version", "schema id")
        for subject in subjects:
            latest = client.get_latest(subject)
            table.add_row(subject, str(latest.version), str(latest.id))
        level = client.get_config()
    console.print(table)
    console.print(f"{len(subjects)} subjects at {settings.schema_registry_url} (compatibility {level})")


@app.command()
def register(
    ctx: typer.Context, zone: list[str] = ZONE_OPTION, all_: bool = ALL_OPTION, event: list[str] = EVENT_OPTION
) -> None:
    """Register the working tree's schemas under their subjects; exit 1 if the registry refuses any."""
    settings = settings_of(ctx)
    planned = _selection(zone, all_, event)
    added = unchanged = 0
    refused: list[tuple[str, str]] = []
    with _client(settings) as client, console.status(f"registering {len(planned)} subjects…"):
        existing = set(client.subjects())
        for item in planned:
            text = _text(item)
            if item.subject in existing and client.lookup(item.subject, text) is not None:
                unchanged += 1
                continue
            try:
                client.register(item.subject, text)
                added += 1
            except IncompatibleSchemaError as exc:
                refused.append((item.subject, str(exc)))
    console.print(
        f"schemas: {added} registered, {unchanged} unchanged, {len(refused)} refused "
        f"({len(planned)} subjects at {settings.schema_registry_url})"
    )
    for subject, why in refused:
        console.print(f"  [red]refused[/] {subject}: {why}", soft_wrap=True)
    if refused:
        raise typer.Exit(1)


@app.command()
def check(
    ctx: typer.Context, zone: list[str] = ZONE_OPTION, all_: bool = ALL_OPTION, event: list[str] = EVENT_OPTION
) -> None:
    """Check the working tree's schemas against the registry under each subject's compatibility level.

    Exit 1 naming the field and rule of every incompatibility; exit 0 saying "compatible" otherwise.
    """
    settings = settings_of(ctx)
    planned = _selection(zone, all_, event)
    problems: list[tuple[str, str, list[str]]] = []
    new = 0
    with _client(settings) as client, console.status(f"checking {len(planned)} subjects…"):
        registered = set(client.subjects())
        for item in planned:
            if item.subject not in registered:
                new += 1
                continue
            level = client.get_config(item.subject)
            versions: list[int | str] = list(client.versions(item.subject)) if "TRANSITIVE" in level else ["latest"]
            messages: list[str] = []
            text = _text(item)
            for version in versions:
                for message in client.check_compatibility(item.subject, text, version):
                    if message not in messages:
                        messages.append(message)
            if messages:
                problems.append((item.subject, level, messages))
    for subject, level, messages in problems:
        console.print(f"[red]incompatible[/] {subject} ({level}):", soft_wrap=True)
        for message in messages:
            console.print(f"  - {message}", soft_wrap=True, highlight=False)
    checked = len(planned) - new
    if problems:
        console.print(f"{len(problems)} of {checked} registered subjects are incompatible")
        raise typer.Exit(1)
    console.print(f"compatible: {checked} registered subjects checked, {new} not registered yet")
